"""Query budgets for every page of the site.

The URLconf is walked as Django resolves it. Every GET page has an entry in ``PAGES``
(who opens it, and which of the world's objects it is opened on) and a budget in
``BUDGETS``; a URL that is not a page (POST only, a redirect) is listed in ``EXCLUDED``
with the reason. Adding a URL without classifying it here fails the inventory test.

Each page is opened in a clinic with one of everything (``world.build_few``), then again
after ``world.grow`` has added many rows to everything a page lists (appointments,
courses, sessions, check-ins, messages, record accesses, patients on today's list,
admin rows). The test asserts:

- the page answers as expected in both worlds;
- it runs as many queries with many rows as with one (no N+1);
- django-zeal saw no N+1 while it was opened;
- and its count stays within its budget below.

A page is counted as it is usually opened: a first visit that writes (the access log's
first row for a member of staff) is repeated and the repeat counted. The clinic's clock
stands still while the worlds exist (``world.NOW``). Staff are measured as in production:
signed in and past the second factor (django-otp reads the device on each request), so
each staff page pays one query more than with the test settings'
``STAFF_TWO_FACTOR_REQUIRED = False``.

    .venv/bin/python -m pytest -p no:cacheprovider -n 0 tests/perf -s

``-s`` prints the table of counts; ``PERF_SHOW=patients:dashboard,...`` adds those pages'
queries. A failure shows the queries (over budget) or the difference between the two
worlds (growth). When a page gets cheaper, lower its budget here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from difflib import unified_diff
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from bookings.availability import BookingWindow, free_slots
from bookings.forms_patient import format_instant

from .sweep import Measurement, Page, Route, clients_for, measure, walk
from .world import NOW, TODAY, PerfWorld, build_few, grow

# Every page of the sweep runs in one pytest-xdist worker, so the two worlds are built once.
# (The database mark makes pytest-django set up the test database; the worlds themselves
# live in the module fixture's own transaction.)
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("query-budgets")]

ADMIN = "admin:"


# --- how to open each page --------------------------------------------------------------------


def _reviewed_course(w: PerfWorld) -> dict[str, Any]:
    return {"pk": w.reviewed_course.pk}


def _next_appointment(w: PerfWorld) -> dict[str, Any]:
    return {"pk": w.next_session.appointment.pk}


def _first_free_start(w: PerfWorld) -> datetime:
    """The first time P may book the next session of their course (the confirm page offers
    it); read once a phase."""
    key = ("first free start", w.phase)
    if key not in w.cache:
        window = BookingWindow()
        slots = free_slots(
            treatment=w.course.treatment,
            minutes=30,
            first_day=TODAY,
            last_day=TODAY + timedelta(days=90),
            patient=w.patient,
            course=w.course,
            window=window,
        )
        w.cache[key] = slots[min(slots)][0].start
    return w.cache[key]


def _first_free_day(w: PerfWorld) -> str:
    return timezone.localtime(_first_free_start(w)).date().isoformat()


def _reset_link(w: PerfWorld) -> dict[str, Any]:
    user = w.patient.user
    return {
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
    }


PAGES: dict[str, Page] = {
    # The public site.
    "home": Page("visitor"),
    "treatments": Page("visitor"),
    "public_treatment": Page("visitor", lambda w: {"slug": w.course.treatment.slug}),
    "aftercare_advice": Page("visitor"),
    "faqs": Page("visitor"),
    "contact": Page("visitor"),
    "pricing": Page("visitor"),
    "insurance": Page("visitor"),
    "healthz": Page("visitor"),
    # Accounts.
    "login": Page("visitor"),
    "signup": Page("visitor"),
    "password_reset": Page("visitor"),
    "password_reset_done": Page("visitor"),
    # A real link stores the token in the session and sends the browser on (302).
    "password_reset_confirm": Page("visitor", _reset_link, status=302),
    "password_reset_complete": Page("visitor"),
    "password_change": Page("patient"),
    "password_change_done": Page("patient"),
    "two_factor_setup": Page("patient"),
    "two_factor_manage": Page("patient"),
    "sessions_list": Page("patient"),
    # The patient's booking pages.
    "booking:start": Page("patient"),
    "booking:calendar": Page("patient", lambda w: {"key": w.booking_key}),
    "booking:day": Page(
        "patient",
        lambda w: {"key": w.booking_key, "day": _first_free_day(w)},
    ),
    "booking:confirm": Page(
        "patient",
        lambda w: {"key": w.booking_key},
        query=lambda w: {"start": format_instant(_first_free_start(w)), "minutes": 30},
    ),
    "booking:appointments": Page("patient"),
    "booking:appointment": Page("patient", _next_appointment),
    "booking:reschedule": Page("patient", _next_appointment),
    "booking:appointment_ics": Page("patient", _next_appointment),
    "booking:feed_settings": Page("patient"),
    "booking:feed": Page("visitor", lambda w: {"token": w.feed.token}),
    # The patient's portal.
    "patients:dashboard": Page("patient"),
    "patients:screening": Page("patient"),
    "patients:consent_sign": Page("patient", lambda w: {"course_id": w.course.pk}),
    "patients:consent_detail": Page("patient", lambda w: {"pk": w.consent.pk}),
    "patients:profile": Page("patient"),
    "patients:record": Page("patient"),
    "patients:access_log": Page("patient"),
    "patients:export_json": Page("patient"),
    "patients:export_print": Page("patient"),
    "patients:close_account": Page("patient"),
    "patients:retention": Page("patient"),
    # Aftercare: the patient's, the nurses' list, and the pages opened from reminders.
    "aftercare:today": Page("patient"),
    "aftercare:preferences": Page("patient"),
    "aftercare:staff_list": Page("nurse"),
    "aftercare:check_in_link": Page("visitor", lambda w: {"token": w.check_in_token()}),
    "aftercare:unsubscribe": Page("visitor", lambda w: {"token": w.unsubscribe_token()}),
    # The staff diary.
    "bookings:diary": Page("nurse"),
    "bookings:week": Page("nurse"),
    "bookings:book_for_patient": Page(
        "nurse",
        query=lambda w: {
            "patient": w.patient.pk,
            "option": w.booking_key,
            "minutes": 30,
            "day": _first_free_day(w),
        },
    ),
    "bookings:consultation_new": Page("nurse"),
    "bookings:session_new": Page("nurse", lambda w: {"course_id": w.course.pk}),
    "bookings:reschedule": Page(
        "nurse",
        _next_appointment,
        query=lambda w: {"day": (TODAY + timedelta(days=36)).isoformat()},
    ),
    "bookings:cancel": Page("nurse", _next_appointment),
    "bookings:staff_feed_settings": Page("nurse"),
    "bookings:staff_feed": Page("visitor", lambda w: {"token": w.staff_feed.token}),
    # The clinical screens.
    "treatments:day_list": Page("nurse"),
    "treatments:session_detail": Page("nurse", lambda w: {"pk": w.done_session.pk}),
    "treatments:session_take_consent": Page("nurse", lambda w: {"pk": w.unsigned_session.pk}),
    "treatments:consultant_home": Page("consultant"),
    "treatments:course_plan": Page("consultant", lambda w: {"pk": w.consultation_to_plan.pk}),
    "treatments:course_review": Page("consultant", _reviewed_course),
    "treatments:screening_review": Page("consultant", lambda w: {"pk": w.patient.pk}),
    # The admin site's own pages.
    "admin:index": Page("admin"),
    "admin:login": Page("visitor"),
    "admin:password_change": Page("admin"),
    "admin:password_change_done": Page("admin"),
    "admin:auth_user_password_change": Page("superuser", lambda w: {"id": w.patient.user.pk}),
    "admin:jsi18n": Page("admin"),
    "admin:app_list": Page("admin", lambda w: {"app_label": "treatments"}),
    "admin:autocomplete": Page(
        "admin",
        query=lambda w: {
            "app_label": "patients",
            "model_name": "patient",
            "field_name": "user",
            "term": "person",
        },
    ),
    "admin:treatments_price_changes": Page("admin"),
    "admin:patients_accountclosurerequest_complete": Page(
        "admin", lambda w: {"pk": w.admin_rows["patients.accountclosurerequest"].pk}
    ),
    "admin:otp_totp_totpdevice_config": Page(
        "superuser", lambda w: {"pk": w.admin_rows["otp_totp.totpdevice"].pk}
    ),
}

# Admin pages of models a clinic admin's role does not open (third-party tables): the
# superuser opens them.
SUPERUSER_APPS = {"auth", "qsessions", "otp_totp", "otp_static", "axes"}


def _first_version(world: PerfWorld, label: str) -> list[Any]:
    """The object and its first historical version (simple_history's version page)."""
    row = world.admin_rows[label]
    return [row.pk, row.history.order_by("history_id").first().history_id]  # type: ignore[attr-defined]


def _admin_pages() -> dict[str, Page]:
    """For every model registered with the admin: its changelist, the change page of one
    row and (with django-simple-history) the page of one of its past versions."""
    names = {route.name for route in walk()}
    pages: dict[str, Page] = {}
    for model in admin.site._registry:
        meta = model._meta
        role = "superuser" if meta.app_label in SUPERUSER_APPS else "admin"
        prefix = f"{ADMIN}{meta.app_label}_{meta.model_name}"
        label = meta.label_lower
        pages[f"{prefix}_changelist"] = Page(role)
        pages[f"{prefix}_change"] = Page(
            role, lambda w, label=label: {"object_id": w.admin_rows[label].pk}
        )
        if f"{prefix}_simple_history" in names:
            pages[f"{prefix}_simple_history"] = Page(
                role, args=lambda w, label=label: _first_version(w, label)
            )
    return pages


PAGES.update(_admin_pages())


# --- the budgets ------------------------------------------------------------------------------

# Page -> the most queries it may run (measured with many rows; the same as with one).
# A signed-in page starts with the session, the user and the user's roles (3 queries); a
# member of staff's adds the second-factor device (4); most then read the acting patient or
# staff record.
BUDGETS: dict[str, int] = {
    # The public site: one query at most (the FAQs, the price list...); none for static text.
    "aftercare_advice": 1,
    "contact": 3,
    "faqs": 1,
    "healthz": 1,
    "home": 1,
    "insurance": 0,
    "pricing": 1,
    "public_treatment": 3,
    "treatments": 1,
    # Accounts.
    "login": 0,
    "password_change": 3,
    "password_change_done": 3,
    "password_reset": 0,
    "password_reset_complete": 0,
    "password_reset_confirm": 6,  # saves the link's token in the session
    "password_reset_done": 0,
    "sessions_list": 4,
    "signup": 0,
    "two_factor_manage": 5,
    "two_factor_setup": 5,
    # The patient's booking pages.
    "booking:appointment": 5,
    "booking:appointment_ics": 6,
    "booking:appointments": 5,
    # The slot search: 7 queries, and 1 for the patient's own appointments; with the
    # clinic's free times already cached (tests/bookings/test_slot_cache.py) only that 1.
    "booking:calendar": 17,  # slot search of a month
    "booking:confirm": 19,  # slot search (still free?), the team, the price
    "booking:day": 16,  # slot search of a day
    "booking:feed": 3,
    "booking:feed_settings": 5,
    "booking:reschedule": 14,  # slot search of a day, this one left out
    "booking:start": 10,
    # The patient's portal.
    "patients:access_log": 6,
    "patients:close_account": 6,
    "patients:consent_detail": 5,
    "patients:consent_sign": 7,
    "patients:dashboard": 9,  # the target: at most 10
    "patients:export_json": 23,  # one query a section (20 sections)
    "patients:export_print": 23,  # the JSON file's data, as a page
    "patients:profile": 4,
    "patients:record": 13,  # every kind of record the patient has
    "patients:retention": 5,
    "patients:screening": 4,
    # Aftercare.
    "aftercare:check_in_link": 2,
    "aftercare:preferences": 5,
    "aftercare:staff_list": 6,
    "aftercare:today": 7,
    "aftercare:unsubscribe": 1,
    # The staff diary.
    "bookings:book_for_patient": 22,  # options, slot search, all patients
    "bookings:cancel": 6,
    "bookings:consultation_new": 10,
    "bookings:diary": 6,
    "bookings:reschedule": 15,  # slot search of a day, this one left out
    "bookings:session_new": 11,
    "bookings:staff_feed": 2,
    "bookings:staff_feed_settings": 6,
    "bookings:week": 8,
    # The clinical screens.
    "treatments:consultant_home": 6,
    "treatments:course_plan": 10,
    "treatments:course_review": 12,  # the target: at most 12
    "treatments:day_list": 7,  # the target: at most 10
    "treatments:screening_review": 7,
    "treatments:session_detail": 10,
    "treatments:session_take_consent": 11,
    # The admin site: 4 for the signed-in admin and 2 for their model permissions, then the
    # page. A past version's page (``_simple_history``) is a whole form: one query for each
    # choice list.
    "admin:aftercare_aftercareplan_change": 9,
    "admin:aftercare_aftercareplan_changelist": 11,
    "admin:aftercare_aftercareplan_simple_history": 20,
    "admin:aftercare_checkin_change": 9,
    "admin:aftercare_checkin_changelist": 11,
    "admin:aftercare_checkin_simple_history": 13,
    "admin:aftercare_courseflag_change": 9,
    "admin:aftercare_courseflag_changelist": 9,
    "admin:aftercare_courseflag_simple_history": 19,
    "admin:aftercare_reminder_change": 7,
    "admin:aftercare_reminder_changelist": 12,
    "admin:aftercare_reminderpreference_change": 9,
    "admin:aftercare_reminderpreference_changelist": 9,
    "admin:app_list": 6,
    "admin:auth_group_change": 7,
    "admin:auth_group_changelist": 7,
    "admin:auth_user_password_change": 5,
    "admin:autocomplete": 8,
    "admin:axes_accessattempt_change": 6,
    "admin:axes_accessattempt_changelist": 10,
    "admin:axes_accessfailurelog_change": 5,
    "admin:axes_accessfailurelog_changelist": 10,
    "admin:axes_accesslog_change": 5,
    "admin:axes_accesslog_changelist": 10,
    "admin:bookings_appointment_change": 9,
    "admin:bookings_appointment_changelist": 12,
    "admin:bookings_appointment_simple_history": 16,
    "admin:clinic_closure_change": 8,
    "admin:clinic_closure_changelist": 12,
    "admin:clinic_location_change": 9,
    "admin:clinic_location_changelist": 9,
    "admin:clinic_openinghours_change": 9,
    "admin:clinic_openinghours_changelist": 10,
    "admin:clinic_room_change": 9,
    "admin:clinic_room_changelist": 10,
    "admin:clinic_staffexception_change": 11,
    "admin:clinic_staffexception_changelist": 13,
    "admin:clinic_staffmember_change": 11,
    "admin:clinic_staffmember_changelist": 10,
    "admin:clinic_user_change": 11,
    "admin:clinic_user_changelist": 10,
    "admin:clinic_workingpattern_change": 11,
    "admin:clinic_workingpattern_changelist": 11,
    "admin:index": 7,
    "admin:jsi18n": 4,
    "admin:login": 0,
    "admin:otp_static_staticdevice_change": 8,
    "admin:otp_static_staticdevice_changelist": 7,
    "admin:otp_totp_totpdevice_change": 6,
    "admin:otp_totp_totpdevice_changelist": 7,
    "admin:otp_totp_totpdevice_config": 6,
    "admin:password_change": 6,
    "admin:password_change_done": 6,
    "admin:patients_accountclosurerequest_change": 7,
    "admin:patients_accountclosurerequest_changelist": 11,
    "admin:patients_accountclosurerequest_complete": 8,
    "admin:patients_accountclosurerequest_simple_history": 9,
    "admin:patients_patient_change": 9,
    "admin:patients_patient_changelist": 9,
    "admin:patients_patient_simple_history": 9,
    "admin:patients_recordaccess_change": 7,
    "admin:patients_recordaccess_changelist": 12,
    "admin:qsessions_session_change": 6,
    "admin:qsessions_session_changelist": 7,
    "admin:treatments_adverseevent_change": 9,
    "admin:treatments_adverseevent_changelist": 9,
    "admin:treatments_adverseevent_simple_history": 9,
    "admin:treatments_consentform_change": 8,
    "admin:treatments_consentform_changelist": 10,
    "admin:treatments_course_change": 10,
    "admin:treatments_course_changelist": 12,
    "admin:treatments_course_simple_history": 14,
    "admin:treatments_courseextension_change": 7,
    "admin:treatments_courseextension_changelist": 9,
    "admin:treatments_faq_change": 8,
    "admin:treatments_faq_changelist": 10,
    "admin:treatments_faq_simple_history": 8,
    "admin:treatments_price_change": 8,
    "admin:treatments_price_changelist": 12,
    "admin:treatments_price_changes": 9,
    "admin:treatments_price_simple_history": 8,
    "admin:treatments_sessionrecord_change": 9,
    "admin:treatments_sessionrecord_changelist": 10,
    "admin:treatments_sessionrecord_simple_history": 16,
    "admin:treatments_signedconsent_change": 9,
    "admin:treatments_signedconsent_changelist": 10,
    "admin:treatments_signedconsent_simple_history": 12,
    "admin:treatments_stockingfitting_change": 9,
    "admin:treatments_stockingfitting_changelist": 9,
    "admin:treatments_stockingfitting_simple_history": 9,
    "admin:treatments_treatment_change": 7,
    "admin:treatments_treatment_changelist": 9,
    "admin:treatments_treatment_simple_history": 7,
}


# --- URLs that are not pages ------------------------------------------------------------------

POST_ONLY = "POST only: a GET answers 405 before anything is read"

EXCLUDED: dict[str, str] = {
    "logout": POST_ONLY,
    "sessions_end": POST_ONLY,
    "two_factor_verify": "only reached half-way through a log-in, with a device to verify",
    "booking:waiting_list": POST_ONLY,
    "booking:cancel": POST_ONLY,
    "patients:close_account_withdraw": POST_ONLY,
    "aftercare:tick": POST_ONLY,
    "aftercare:side_effects": POST_ONLY,
    "aftercare:preferences_sms": POST_ONLY,
    "aftercare:resubscribe": POST_ONLY,
    "aftercare:flag_resolve": POST_ONLY,
    "bookings:appointment_status": POST_ONLY,
    "treatments:session_confirm_consent": POST_ONLY,
    "treatments:session_start": POST_ONLY,
    "treatments:session_record": POST_ONLY,
    "treatments:session_stockings": POST_ONLY,
    "treatments:session_adverse_event": POST_ONLY,
    "treatments:session_complete": POST_ONLY,
    "treatments:session_abandon": POST_ONLY,
    "treatments:course_extend": POST_ONLY,
    "treatments:course_close": POST_ONLY,
    "admin:logout": POST_ONLY,
    "admin:treatments_consentform_publish": POST_ONLY,
    "admin:treatments_consentform_new_version": POST_ONLY,
    "admin:view_on_site": "a redirect to the object's page on the site",
    "admin:otp_totp_totpdevice_qrcode": "an image of the device's key, no list",
}


def _session_today(w: PerfWorld) -> dict[str, Any]:
    return {"pk": w.session_today.pk}


# How to reach each POST-only URL, to show that a GET is refused (405) and reads nothing.
POST_ONLY_PROBES: dict[str, Page] = {
    "logout": Page("patient", status=405),
    "sessions_end": Page("patient", status=405),
    "booking:waiting_list": Page("patient", status=405),
    "booking:cancel": Page("patient", _next_appointment, status=405),
    "patients:close_account_withdraw": Page("patient", status=405),
    "aftercare:tick": Page("patient", status=405),
    "aftercare:side_effects": Page("patient", status=405),
    "aftercare:preferences_sms": Page("patient", status=405),
    "aftercare:resubscribe": Page("patient", status=405),
    "aftercare:flag_resolve": Page("nurse", lambda w: {"pk": w.flag.pk}, status=405),
    "bookings:appointment_status": Page("nurse", _next_appointment, status=405),
    "treatments:session_confirm_consent": Page("nurse", _session_today, status=405),
    "treatments:session_start": Page("nurse", _session_today, status=405),
    "treatments:session_record": Page("nurse", _session_today, status=405),
    "treatments:session_stockings": Page("nurse", _session_today, status=405),
    "treatments:session_adverse_event": Page("nurse", _session_today, status=405),
    "treatments:session_complete": Page("nurse", _session_today, status=405),
    "treatments:session_abandon": Page("nurse", _session_today, status=405),
    "treatments:course_extend": Page("consultant", _reviewed_course, status=405),
    "treatments:course_close": Page("consultant", _reviewed_course, status=405),
    "admin:logout": Page("admin", status=405),
    "admin:treatments_consentform_publish": Page(
        "admin", lambda w: {"pk": w.consent.form_id}, status=405
    ),
    "admin:treatments_consentform_new_version": Page(
        "admin", lambda w: {"pk": w.consent.form_id}, status=405
    ),
}

# The rest of each registered model's admin pages, by the end of their URL name.
ADMIN_SUFFIXES_EXCLUDED: dict[str, str] = {
    "_add": "an empty form: no rows to list (its choice lists are one query each)",
    "_delete": "a confirmation that lists what the delete takes with it, by design",
    # Each row of simple_history's list names the object as it was in that version, which
    # reads that version's related rows: a few queries a version, bounded by one record's
    # versions (paged by 100). See the report of issue 8 for the way to fold them.
    "_history": "one record's versions, each named as it was",
}

# Unnamed admin patterns, by route.
UNNAMED_EXCLUDED: dict[str, str] = {
    "<path:object_id>/": "redirects an old-style change address to the change page",
    "(?P<url>.*)$": "the admin's catch-all: a redirect or a 404",
}


def excluded(route: Route) -> str:
    """Why this URL is no page of the sweep ("" when it must be one)."""
    if not route.name:
        return next((why for end, why in UNNAMED_EXCLUDED.items() if route.route.endswith(end)), "")
    if route.name in EXCLUDED:
        return EXCLUDED[route.name]
    if route.name.startswith(ADMIN) and route.name not in PAGES:
        return next(
            (why for end, why in ADMIN_SUFFIXES_EXCLUDED.items() if route.name.endswith(end)), ""
        )
    return ""


# --- measuring both worlds once ---------------------------------------------------------------


@dataclass
class Result:
    few: Measurement
    many: Measurement


@dataclass
class Sweep:
    pages: dict[str, Result]
    refused: dict[str, int]  # POST-only URL -> the status of a GET


@pytest.fixture(scope="module")
def sweep(django_db_setup: None, django_db_blocker: Any) -> Sweep:
    """Every page measured in the few world, then in the many world. Built once for the
    module inside one transaction that is rolled back at the end."""
    few: dict[str, Measurement] = {}
    many: dict[str, Measurement] = {}
    refused: dict[str, int] = {}
    with (
        django_db_blocker.unblock(),
        time_machine.travel(NOW, tick=False),
        override_settings(STAFF_TWO_FACTOR_REQUIRED=True),
        transaction.atomic(),
    ):
        # Content types are cached for the process: read them all before the first page,
        # so that whichever page comes first pays no more than the others.
        ContentType.objects.get_for_models(*apps.get_models())
        world = build_few()
        clients = clients_for(world)
        _measure_all(world, clients, few)
        for name, probe in POST_ONLY_PROBES.items():
            refused[name] = clients[probe.role].get(probe.url(name, world)).status_code
        grow(world)
        _measure_all(world, clients, many)
        transaction.set_rollback(True)
    return Sweep({name: Result(few[name], many[name]) for name in PAGES}, refused)


@pytest.fixture(scope="module")
def results(sweep: Sweep) -> dict[str, Result]:
    return sweep.pages


def _measure_all(world: PerfWorld, clients: dict[str, Any], into: dict[str, Measurement]) -> None:
    for name, page in PAGES.items():
        try:
            url = page.url(name, world)
        except Exception as error:
            into[name] = Measurement(url="", status=0, nplusone=f"no URL: {error!r}")
            continue
        # A visitor is a new browser each time: no session left by an earlier page.
        client = Client() if page.role == "visitor" else clients[page.role]
        try:
            into[name] = measure(client, url)
        except Exception as error:
            into[name] = Measurement(url=url, status=500, nplusone=f"raised {error!r}")


# --- the inventory ----------------------------------------------------------------------------


def test_every_get_url_has_a_budget_or_a_reason():
    routes = list(walk())
    names = {r.name for r in routes if r.name}
    unclassified = sorted(
        r.name or r.route for r in routes if r.name not in PAGES and not excluded(r)
    )
    assert unclassified == [], "add these URLs to PAGES and BUDGETS (or EXCLUDED, with why)"
    stale = sorted((set(PAGES) | set(EXCLUDED) | set(BUDGETS)) - names)
    assert stale == [], "these URLs are gone: remove them here"
    assert not set(PAGES) & set(EXCLUDED)


def test_post_only_urls_refuse_a_get(sweep):
    post_only = {name for name, why in EXCLUDED.items() if why == POST_ONLY}
    assert set(POST_ONLY_PROBES) == post_only, "say how to reach each POST-only URL"
    wrong = {name: status for name, status in sweep.refused.items() if status != 405}
    assert wrong == {}, "these answer a GET: give them a budget instead"


def test_every_page_has_a_budget():
    assert sorted(set(PAGES) - set(BUDGETS)) == []


def test_every_admin_model_has_its_changelist_and_change_page_budgeted():
    for model in admin.site._registry:
        prefix = f"{ADMIN}{model._meta.app_label}_{model._meta.model_name}"
        for page in ("changelist", "change"):
            assert f"{prefix}_{page}" in BUDGETS, model


# --- the budgets, page by page ----------------------------------------------------------------


def _diff(result: Result) -> str:
    return "\n".join(
        unified_diff(result.few.queries, result.many.queries, "one row", "many rows", lineterm="")
    )


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_stays_within_its_budget(results, name):
    result = results[name]
    expected = PAGES[name].status
    for label, measured in (("few", result.few), ("many", result.many)):
        assert measured.status == expected, (
            f"{name} ({label}) {measured.url}: {measured.status} {measured.nplusone}"
        )
    assert not result.many.nplusone, f"{name}: {result.many.nplusone}"
    assert not result.few.nplusone, f"{name}: {result.few.nplusone}"
    assert result.many.count == result.few.count, (
        f"{name}: {result.few.count} queries with one row, {result.many.count} with many\n"
        + _diff(result)
    )
    budget = BUDGETS.get(name)
    assert budget is not None, f"{name}: no budget"
    assert result.many.count <= budget, (
        f"{name}: {result.many.count} queries, budget {budget}\n" + "\n".join(result.many.queries)
    )


def test_summary(results, capsys):
    """The table of counts (printed with -s). ``PERF_SHOW=name,name`` prints those pages'
    queries too (many rows)."""
    lines = ["", f"{'page':<52} {'few':>4} {'many':>5} {'budget':>7}"]
    for name in sorted(results):
        r = results[name]
        lines.append(f"{name:<52} {r.few.count:>4} {r.many.count:>5} {BUDGETS.get(name, '-')!s:>7}")
    with capsys.disabled():
        print("\n".join(lines))
        for name in filter(None, os.environ.get("PERF_SHOW", "").split(",")):
            print(f"\n{name} ({results[name].many.url}):")
            print("\n".join(f"  {q}" for q in results[name].many.queries))
