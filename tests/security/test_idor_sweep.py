"""The IDOR sweep: every URL of the site, requested by someone it does not belong to.

The URLconf is walked as Django resolves it. Every pattern that takes a parameter (an id,
a key, a token, a slug) must have an entry in ``PARAMETERISED`` saying how to build the
parameters for *patient B's* objects, or be listed in ``PUBLIC_BY_DESIGN``; every pattern
without one must be classified in ``PARAMETERLESS``. Adding a URL without covering it here
fails the coverage tests below. The admin site (everything under /admin/) is left out as
a group; its own test checks that it wants a clinic admin.

With B's real objects in the database:
- patient A gets 404 for B's objects (GET and POST) and nothing in the database changes;
- a visitor is sent to the login page (nothing changes);
- a staff-only URL refuses patient A with 403 (nothing changes);
- a URL opened by a secret token refuses a wrong, forged or reset token;
- and, so that the 404s prove something, the owner (or the right member of staff, or the
  real token) does reach the object.
Requests that would change something run inside a savepoint that is rolled back.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from aftercare.services import CHECK_IN_SALT
from bookings.feeds import calendar_feed_reset
from bookings.forms_patient import format_instant

from .conftest import World, database_fingerprint

pytestmark = pytest.mark.django_db

ADMIN_PREFIX = "admin/"


# --- walking the URLconf ---------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # with namespaces: "booking:appointment"
    route: str  # the full pattern: "my/appointments/<int:pk>/"
    params: tuple[str, ...]


def _params(pattern: Any) -> tuple[str, ...]:
    if isinstance(pattern, RoutePattern):
        return tuple(pattern.converters)
    if isinstance(pattern, RegexPattern):
        named = tuple(pattern.regex.groupindex)
        unnamed = pattern.regex.groups - len(named)
        return named + tuple(f"<positional {n}>" for n in range(unnamed))
    return ()


def walk(
    resolver: URLResolver | None = None,
    prefix: str = "",
    namespaces: tuple[str, ...] = (),
    params: tuple[str, ...] = (),
) -> Iterator[Route]:
    """Every URL pattern of the site with its full route, namespaced name and parameters."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        found = params + _params(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = (*namespaces, entry.namespace) if entry.namespace else namespaces
            yield from walk(entry, route, inner, found)
        elif isinstance(entry, URLPattern):
            name = ":".join((*namespaces, entry.name)) if entry.name else ""
            yield Route(name=name, route=route, params=found)


def site_routes() -> list[Route]:
    return [r for r in walk() if not r.route.startswith(ADMIN_PREFIX)]


# --- the registry: how to name B's objects ---------------------------------------------------


class Kind(enum.Enum):
    PATIENT = "a patient's own object"
    STAFF = "staff only"
    TOKEN = "opened by a secret token"


Builder = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    kind: Kind
    kwargs: Builder  # B's object (for TOKEN: the real token, the control)
    data: Builder = field(default=lambda w: {})  # what someone would POST
    staff: str = "nurse"  # STAFF: the role that may open it (the control)
    bad: Callable[[World], list[dict[str, Any]]] | None = None  # TOKEN: tokens to refuse
    refused: frozenset[int] = frozenset({404})  # TOKEN: the status of a refused token
    good: frozenset[int] = frozenset({200})  # TOKEN: the status of the real token


def _b_appointment(w: World) -> dict[str, Any]:
    return {"pk": w.b.appointment.pk}


def _b_session(w: World) -> dict[str, Any]:
    return {"pk": w.b.next_session.pk}


def _b_course(w: World) -> dict[str, Any]:
    return {"pk": w.b.course.pk}


def _later_start(w: World) -> str:
    """A start an hour after B's booked session (what a reschedule would post)."""
    return format_instant(w.b.appointment.start + timedelta(hours=1))


def _forged(data: dict[str, Any], salt: str) -> str:
    """A token with the right shape and payload, signed with a key that is not the site's."""
    return signing.dumps(data, key="not-the-site-secret-key", salt=salt)


def _swap_payload(token: str, data: dict[str, Any]) -> str:
    """A real token (``payload:timestamp:signature``) carrying another payload."""
    payload = signing.dumps(data, salt=CHECK_IN_SALT).split(":", 1)[0]
    return payload + token[token.index(":") :]


def _bad_check_in_tokens(w: World) -> list[dict[str, Any]]:
    today = timezone.localdate().isoformat()
    own = w.a.check_in_token
    return [
        # B's id in a token signed without the site's key.
        {"token": _forged({"p": w.b.patient.pk, "d": today, "a": "walked"}, CHECK_IN_SALT)},
        # A's own token with B's payload swapped in (the signature no longer matches).
        {"token": _swap_payload(own, {"p": w.b.patient.pk, "d": today, "a": "walked"})},
        # A token made for another purpose (unsubscribing) is no check-in.
        {"token": w.b.unsubscribe_token},
        {"token": "not-a-token"},
    ]


def _bad_unsubscribe_tokens(w: World) -> list[dict[str, Any]]:
    return [
        {"token": _forged({"p": w.b.patient.pk, "k": "daily_walk"}, "aftercare.unsubscribe")},
        {"token": w.b.check_in_token},
        {"token": "not-a-token"},
    ]


def _bad_patient_feeds(w: World) -> list[dict[str, Any]]:
    return [
        {"token": "x" * 43},
        {"token": w.b.feed.token[:-1] + ("A" if w.b.feed.token[-1] != "A" else "B")},
        {"token": w.staff_feed.token},  # a member of staff's address is no patient's feed
        {"token": "y" * 65},  # longer than any token
    ]


def _bad_staff_feeds(w: World) -> list[dict[str, Any]]:
    return [
        {"token": "x" * 43},
        {"token": w.b.feed.token},  # a patient's address is no diary
        {"token": w.staff_feed.token[:-1] + ("A" if w.staff_feed.token[-1] != "A" else "B")},
    ]


def _b_uid(w: World) -> str:
    return urlsafe_base64_encode(force_bytes(w.b.patient.user.pk))


PARAMETERISED: dict[str, Case] = {
    # The patient's booking pages: a key naming B's course, B's appointments.
    "booking:calendar": Case(Kind.PATIENT, lambda w: {"key": w.b.booking_key}),
    "booking:day": Case(
        Kind.PATIENT,
        lambda w: {"key": w.b.booking_key, "day": w.b.appointment.start.date().isoformat()},
    ),
    "booking:confirm": Case(
        Kind.PATIENT,
        lambda w: {"key": w.b.booking_key},
        data=lambda w: {"start": _later_start(w), "minutes": 30, "payer": "self_funded"},
    ),
    "booking:appointment": Case(Kind.PATIENT, _b_appointment),
    "booking:cancel": Case(Kind.PATIENT, _b_appointment, data=lambda w: {"reason": "Busy"}),
    "booking:reschedule": Case(
        Kind.PATIENT, _b_appointment, data=lambda w: {"start": _later_start(w)}
    ),
    "booking:appointment_ics": Case(Kind.PATIENT, _b_appointment),
    # The patient's portal: B's course (to sign its consent) and B's signed consent.
    "patients:consent_sign": Case(
        Kind.PATIENT,
        lambda w: {"course_id": w.b.course.pk},
        data=lambda w: {
            "form_id": w.b.consent.form_id,
            "statements": list(range(len(w.b.consent.form.statements))),
            "typed_name": w.b.patient.full_name,
        },
    ),
    "patients:consent_detail": Case(Kind.PATIENT, lambda w: {"pk": w.b.consent.pk}),
    # Staff: the diary.
    "bookings:session_new": Case(Kind.STAFF, lambda w: {"course_id": w.b.course.pk}),
    "bookings:appointment_status": Case(
        Kind.STAFF, _b_appointment, data=lambda w: {"status": "cancelled"}
    ),
    "bookings:reschedule": Case(
        Kind.STAFF, _b_appointment, data=lambda w: {"start": _later_start(w)}
    ),
    "bookings:cancel": Case(Kind.STAFF, _b_appointment, data=lambda w: {"reason": "Unwell"}),
    # Staff: the session screen and its actions.
    "treatments:session_detail": Case(Kind.STAFF, _b_session),
    "treatments:session_confirm_consent": Case(Kind.STAFF, _b_session),
    "treatments:session_take_consent": Case(
        Kind.STAFF,
        _b_session,
        data=lambda w: {"consent_form": w.b.consent.form_id, "typed_name": "Someone"},
    ),
    "treatments:session_start": Case(Kind.STAFF, _b_session),
    "treatments:session_record": Case(
        Kind.STAFF,
        _b_session,
        data=lambda w: {"legs_treated": "both", "sclerosant": "STS", "notes": "Changed"},
    ),
    "treatments:session_stockings": Case(
        Kind.STAFF,
        _b_session,
        data=lambda w: {"leg": "left", "compression_class": "2", "length": "thigh"},
    ),
    "treatments:session_adverse_event": Case(
        Kind.STAFF,
        _b_session,
        data=lambda w: {"kind": "bruising", "severity": "mild", "action_taken": "None"},
    ),
    "treatments:session_complete": Case(Kind.STAFF, _b_session),
    "treatments:session_abandon": Case(
        Kind.STAFF, _b_session, data=lambda w: {"reason": "Patient unwell"}
    ),
    # Staff: the consultant's screens.
    "treatments:course_plan": Case(
        Kind.STAFF,
        lambda w: {"pk": w.b.consultation.pk},
        data=lambda w: {"treatment": w.b.course.treatment_id, "planned_sessions": 2},
        staff="consultant",
    ),
    "treatments:course_review": Case(Kind.STAFF, _b_course),
    "treatments:course_extend": Case(
        Kind.STAFF,
        _b_course,
        data=lambda w: {"to_sessions": 4, "reason": "More veins"},
        staff="consultant",
    ),
    "treatments:course_close": Case(
        Kind.STAFF,
        _b_course,
        data=lambda w: {"status": "discontinued", "reason": "Stopped"},
        staff="consultant",
    ),
    "treatments:screening_review": Case(
        Kind.STAFF,
        lambda w: {"pk": w.b.patient.pk},
        data=lambda w: {"notes": "Reviewed"},
        staff="consultant",
    ),
    # Staff: aftercare flags.
    "aftercare:flag_resolve": Case(
        Kind.STAFF, lambda w: {"pk": w.b.flag.pk}, data=lambda w: {"resolution": "Called"}
    ),
    # Opened by a secret token, without logging in.
    "booking:feed": Case(Kind.TOKEN, lambda w: {"token": w.b.feed.token}, bad=_bad_patient_feeds),
    "bookings:staff_feed": Case(
        Kind.TOKEN, lambda w: {"token": w.staff_feed.token}, bad=_bad_staff_feeds
    ),
    # Signed reminder links answer a bad signature with a page that says the link is not
    # valid (400), the same page for every bad link, so it tells nothing about anyone.
    "aftercare:check_in_link": Case(
        Kind.TOKEN,
        lambda w: {"token": w.b.check_in_token},
        bad=_bad_check_in_tokens,
        refused=frozenset({400, 404}),
    ),
    "aftercare:unsubscribe": Case(
        Kind.TOKEN,
        lambda w: {"token": w.b.unsubscribe_token},
        bad=_bad_unsubscribe_tokens,
        refused=frozenset({400, 404}),
    ),
    # Django's password reset: a wrong token shows "this link is no longer valid" (200)
    # and sets nothing; the real one moves on to the set-password page (302).
    "password_reset_confirm": Case(
        Kind.TOKEN,
        lambda w: {
            "uidb64": _b_uid(w),
            "token": default_token_generator.make_token(w.b.patient.user),
        },
        data=lambda w: {"new_password1": "Taken-over-93!", "new_password2": "Taken-over-93!"},
        bad=lambda w: [
            {"uidb64": _b_uid(w), "token": "set-password"},
            {"uidb64": _b_uid(w), "token": default_token_generator.make_token(w.a.patient.user)},
            {"uidb64": _b_uid(w), "token": "cxyz12-0123456789abcdef0123456789abcdef"},
        ],
        refused=frozenset({200}),
        good=frozenset({302}),
    ),
}

# Parameterised URLs anyone may open: the parameter names public content, not a person's.
PUBLIC_BY_DESIGN: dict[str, str] = {
    "public_treatment": "a treatment's public page, by its slug",
}


class Access(enum.Enum):
    PUBLIC = "anyone"
    SIGNED_IN = "anyone signed in"
    PATIENT = "patients only"
    STAFF = "staff only"


PARAMETERLESS: dict[str, tuple[Access, str]] = {
    # The public site and signing in. The second item is who can open it, for the control.
    "home": (Access.PUBLIC, ""),
    "treatments": (Access.PUBLIC, ""),
    "aftercare_advice": (Access.PUBLIC, ""),
    "faqs": (Access.PUBLIC, ""),
    "contact": (Access.PUBLIC, ""),
    "pricing": (Access.PUBLIC, ""),
    "insurance": (Access.PUBLIC, ""),
    "healthz": (Access.PUBLIC, ""),
    "login": (Access.PUBLIC, ""),
    "logout": (Access.PUBLIC, ""),
    "signup": (Access.PUBLIC, ""),
    "password_reset": (Access.PUBLIC, ""),
    "password_reset_done": (Access.PUBLIC, ""),
    "password_reset_complete": (Access.PUBLIC, ""),
    # Any signed-in person's own account.
    "password_change": (Access.SIGNED_IN, "patient"),
    "password_change_done": (Access.SIGNED_IN, "patient"),
    "two_factor_verify": (Access.SIGNED_IN, ""),
    "two_factor_setup": (Access.SIGNED_IN, ""),
    "two_factor_manage": (Access.SIGNED_IN, ""),
    "sessions_list": (Access.SIGNED_IN, "patient"),
    "sessions_end": (Access.SIGNED_IN, ""),
    # The patient's own pages.
    "booking:start": (Access.PATIENT, "patient"),
    "booking:waiting_list": (Access.PATIENT, "patient"),
    "booking:appointments": (Access.PATIENT, "patient"),
    "booking:feed_settings": (Access.PATIENT, "patient"),
    "patients:dashboard": (Access.PATIENT, "patient"),
    "patients:screening": (Access.PATIENT, "patient"),
    "patients:profile": (Access.PATIENT, "patient"),
    "patients:record": (Access.PATIENT, "patient"),
    "patients:access_log": (Access.PATIENT, "patient"),
    "patients:export_json": (Access.PATIENT, "patient"),
    "patients:export_print": (Access.PATIENT, "patient"),
    "patients:close_account": (Access.PATIENT, "patient"),
    "patients:close_account_withdraw": (Access.PATIENT, "patient"),
    "patients:retention": (Access.PATIENT, "patient"),
    "aftercare:today": (Access.PATIENT, "patient"),
    "aftercare:tick": (Access.PATIENT, "patient"),
    "aftercare:side_effects": (Access.PATIENT, "patient"),
    "aftercare:preferences": (Access.PATIENT, "patient"),
    "aftercare:preferences_sms": (Access.PATIENT, "patient"),
    "aftercare:resubscribe": (Access.PATIENT, "patient"),
    # Staff pages.
    "aftercare:staff_list": (Access.STAFF, "nurse"),
    "bookings:diary": (Access.STAFF, "nurse"),
    "bookings:week": (Access.STAFF, "nurse"),
    "bookings:book_for_patient": (Access.STAFF, "nurse"),
    "bookings:consultation_new": (Access.STAFF, "nurse"),
    "bookings:staff_feed_settings": (Access.STAFF, "nurse"),
    "treatments:day_list": (Access.STAFF, "nurse"),
    "treatments:consultant_home": (Access.STAFF, "consultant"),
}


# --- helpers ------------------------------------------------------------------------------------


def is_login_redirect(response: Any) -> bool:
    return response.status_code == 302 and urlsplit(response.url).path == reverse("login")


def describe(response: Any) -> str:
    if response.status_code in (301, 302):
        return f"{response.status_code} → {response.url}"
    return str(response.status_code)


def request(client: Client, method: str, url: str, data: dict[str, Any]) -> Any:
    return client.get(url) if method == "GET" else client.post(url, data)


def rolled_back(client: Client, method: str, url: str, data: dict[str, Any]) -> Any:
    """Make the request and undo whatever it wrote (a control must not spoil the world)."""
    with transaction.atomic():
        response = request(client, method, url, data)
        transaction.set_rollback(True)
    return response


def signed_in(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def staff_of(world: World, role: str) -> Any:
    return {"nurse": world.nurse, "consultant": world.consultant}[role].user


METHODS = ("GET", "POST")


def refused_everywhere(
    client: Client,
    url: str,
    data: dict[str, Any],
    expected: Callable[[Any], bool],
    label: str,
) -> None:
    """GET and POST are each refused as ``expected`` says (405 where the view does not take
    the method: it stops before any object is read); at least one method reaches the
    check; and the database is the same afterwards."""
    before = database_fingerprint()
    reached = []
    for method in METHODS:
        response = request(client, method, url, data)
        if response.status_code == 405:
            continue
        assert expected(response), f"{label} {method} {url}: got {describe(response)}"
        reached.append(method)
    assert reached, f"{url} answered 405 to both GET and POST"
    assert database_fingerprint() == before, f"{label} {'/'.join(reached)} {url} changed data"


def reached(client: Client, url: str, data: dict[str, Any], refused: set[int]) -> int:
    """The control: the first method the view takes, rolled back; its status."""
    for method in METHODS:
        response = rolled_back(client, method, url, data)
        if response.status_code != 405:
            assert response.status_code not in refused, (
                f"control {method} {url}: {describe(response)}"
            )
            assert not is_login_redirect(response), f"control {method} {url}: login"
            return response.status_code
    raise AssertionError(f"{url} answered 405 to both GET and POST")


# --- coverage -----------------------------------------------------------------------------------


def test_every_url_outside_the_admin_has_a_name():
    unnamed = [r.route for r in site_routes() if not r.name]
    assert unnamed == [], "name these URLs so the sweep can list them"


def test_every_parameterised_url_is_covered():
    parameterised = {r.name for r in site_routes() if r.params}
    covered = set(PARAMETERISED) | set(PUBLIC_BY_DESIGN)
    assert not set(PARAMETERISED) & set(PUBLIC_BY_DESIGN)
    assert parameterised - covered == set(), "add these URLs to PARAMETERISED in this file"
    assert covered - parameterised == set(), "these URLs are gone: remove them here"


def test_every_parameterless_url_is_classified():
    parameterless = {r.name for r in site_routes() if not r.params}
    assert parameterless - set(PARAMETERLESS) == set(), "classify these URLs in PARAMETERLESS"
    assert set(PARAMETERLESS) - parameterless == set(), "these URLs are gone: remove them here"


def test_summary_of_the_sweep(capsys):
    """Prints the coverage table (shown in the test output whatever the flags)."""
    routes = site_routes()
    admin = [r for r in walk() if r.route.startswith(ADMIN_PREFIX)]
    with_params = sorted({r.name for r in routes if r.params})
    without = sorted({r.name for r in routes if not r.params})
    covered = [n for n in with_params if n in PARAMETERISED or n in PUBLIC_BY_DESIGN]
    lines = [
        "",
        "IDOR sweep coverage",
        f"  URL patterns outside /admin/: {len(routes)} ({len(admin)} admin patterns checked "
        "as a group)",
        f"  with a parameter: {len(with_params)}, covered {len(covered)} "
        f"({100 * len(covered) // max(len(with_params), 1)}%)",
    ]
    for kind in Kind:
        names = [n for n, c in PARAMETERISED.items() if c.kind is kind]
        lines.append(f"    {kind.value:<28} {len(names):>3}")
    lines.append(f"    {'public by design':<28} {len(PUBLIC_BY_DESIGN):>3}")
    classified = [n for n in without if n in PARAMETERLESS]
    lines.append(
        f"  without a parameter: {len(without)}, classified {len(classified)} "
        f"({100 * len(classified) // max(len(without), 1)}%)"
    )
    for access in Access:
        names = [n for n, (a, _) in PARAMETERLESS.items() if a is access]
        lines.append(f"    {access.value:<28} {len(names):>3}")
    lines.append("")
    lines.append(f"  {'URL name':<38} {'kind':<26} route")
    by_name = {r.name: r for r in routes}
    for name in with_params:
        kind = PARAMETERISED[name].kind.value if name in PARAMETERISED else "public by design"
        lines.append(f"  {name:<38} {kind:<26} /{by_name[name].route}")
    with capsys.disabled():
        print("\n".join(lines))
    assert len(covered) == len(with_params)
    assert len(classified) == len(without)


# --- B's objects, requested by A, by a visitor, and by the owner ------------------------------


PATIENT_CASES = sorted(n for n, c in PARAMETERISED.items() if c.kind is Kind.PATIENT)
STAFF_CASES = sorted(n for n, c in PARAMETERISED.items() if c.kind is Kind.STAFF)
TOKEN_CASES = sorted(n for n, c in PARAMETERISED.items() if c.kind is Kind.TOKEN)


@pytest.mark.parametrize("name", PATIENT_CASES)
def test_another_patients_object_is_not_found(world, name):
    case = PARAMETERISED[name]
    url = reverse(name, kwargs=case.kwargs(world))
    data = case.data(world)
    # Patient A: B's object does not exist for them, whatever the method.
    refused_everywhere(
        signed_in(world.a.patient.user), url, data, lambda r: r.status_code == 404, "patient A"
    )
    # A visitor: the login page, before anything is looked up.
    refused_everywhere(signed_in(None), url, data, is_login_redirect, "visitor")
    # Staff have no business on a patient's own pages either.
    refused_everywhere(
        signed_in(world.nurse.user), url, data, lambda r: r.status_code == 403, "nurse"
    )
    # The control: B reaches the same URL, so the 404 above was not an accident.
    reached(signed_in(world.b.patient.user), url, data, refused={403, 404})


@pytest.mark.parametrize("name", STAFF_CASES)
def test_staff_urls_refuse_patients_and_visitors(world, name):
    case = PARAMETERISED[name]
    url = reverse(name, kwargs=case.kwargs(world))
    data = case.data(world)
    refused_everywhere(
        signed_in(world.a.patient.user),
        url,
        data,
        lambda r: r.status_code in (403, 404),
        "patient A",
    )
    # Not even the patient the object belongs to may use a staff page on it.
    refused_everywhere(
        signed_in(world.b.patient.user), url, data, lambda r: r.status_code == 403, "patient B"
    )
    refused_everywhere(signed_in(None), url, data, is_login_redirect, "visitor")
    reached(signed_in(staff_of(world, case.staff)), url, data, refused={403, 404})


@pytest.mark.parametrize("name", TOKEN_CASES)
def test_urls_opened_by_a_token_refuse_a_token_that_is_not_the_real_one(world, name):
    case = PARAMETERISED[name]
    assert case.bad is not None
    data = case.data(world)
    for kwargs in case.bad(world):
        url = reverse(name, kwargs=kwargs)
        for who, user in (("visitor", None), ("patient A", world.a.patient.user)):
            refused_everywhere(
                signed_in(user), url, data, lambda r: r.status_code in case.refused, who
            )
    # The real token works (rolled back), so the refusals above were about the token.
    url = reverse(name, kwargs=case.kwargs(world))
    status = reached(signed_in(None), url, data, refused={403, 404} - case.good)
    assert status in case.good


def test_a_calendar_address_stops_working_once_it_is_reset(world):
    old = world.b.feed.token
    assert signed_in(None).get(reverse("booking:feed", args=[old])).status_code == 200
    calendar_feed_reset(user=world.b.patient.user)
    assert signed_in(None).get(reverse("booking:feed", args=[old])).status_code == 404


def test_a_patients_feed_holds_only_their_own_appointments(world):
    body = signed_in(None).get(reverse("booking:feed", args=[world.a.feed.token])).content
    assert f"appointment-{world.a.appointment.pk}@".encode() in body
    assert f"appointment-{world.b.appointment.pk}@".encode() not in body


def test_a_public_treatment_page_needs_no_login_and_an_unknown_slug_is_404(world):
    visitor = signed_in(None)
    slug = world.b.course.treatment.slug
    assert visitor.get(reverse("public_treatment", args=[slug])).status_code == 200
    assert visitor.get(reverse("public_treatment", args=["no-such-treatment"])).status_code == 404


def test_a_course_key_in_the_waiting_list_form_is_scoped_too(world):
    """The waiting list takes its key in the form, not the URL: B's course is still 404."""
    client = signed_in(world.a.patient.user)
    before = database_fingerprint()
    today = timezone.localdate()
    response = client.post(
        reverse("booking:waiting_list"),
        {
            "key": world.b.booking_key,
            "earliest_date": (today + timedelta(days=40)).isoformat(),
            "latest_date": (today + timedelta(days=60)).isoformat(),
        },
    )
    assert response.status_code == 404
    assert database_fingerprint() == before


# --- URLs without a parameter ---------------------------------------------------------------------


def _parameterless(access: Access) -> list[str]:
    return sorted(n for n, (a, _) in PARAMETERLESS.items() if a is access)


@pytest.mark.parametrize("name", _parameterless(Access.PUBLIC))
def test_public_pages_need_no_login(db, name):
    response = signed_in(None).get(reverse(name))
    assert not is_login_redirect(response), name
    assert response.status_code in (200, 302, 405, 503), describe(response)


@pytest.mark.parametrize("name", _parameterless(Access.SIGNED_IN))
def test_account_pages_send_visitors_to_log_in(db, name):
    refused_everywhere(signed_in(None), reverse(name), {}, is_login_redirect, "visitor")


@pytest.mark.parametrize("name", _parameterless(Access.PATIENT))
def test_patient_pages_refuse_visitors_and_staff(name, patient, nurse, consultant, clinic_admin):
    url = reverse(name)
    refused_everywhere(signed_in(None), url, {}, is_login_redirect, "visitor")
    for staff in (nurse, consultant, clinic_admin):
        refused_everywhere(
            signed_in(staff.user), url, {}, lambda r: r.status_code == 403, staff.role
        )
    reached(signed_in(patient.user), url, {}, refused={403, 404})


@pytest.mark.parametrize("name", _parameterless(Access.STAFF))
def test_staff_pages_refuse_visitors_and_patients(name, patient, nurse, consultant):
    url = reverse(name)
    refused_everywhere(signed_in(None), url, {}, is_login_redirect, "visitor")
    refused_everywhere(signed_in(patient.user), url, {}, lambda r: r.status_code == 403, "patient")
    control = {"nurse": nurse, "consultant": consultant}[PARAMETERLESS[name][1]]
    reached(signed_in(control.user), url, {}, refused={403, 404})


# --- the admin site, as a group -------------------------------------------------------------------


def test_the_admin_wants_a_clinic_admin(world):
    """Every admin page sits behind the admin site's own login: patients, nurses and
    consultants are sent to it (they have no access to the admin), a clinic admin gets in."""
    urls = [
        reverse("admin:index"),
        reverse("admin:patients_patient_change", args=[world.b.patient.pk]),
        reverse("admin:treatments_sessionrecord_change", args=[world.b.done_session.pk]),
        reverse("admin:patients_recordaccess_changelist"),
        reverse("admin:treatments_price_changelist"),
    ]
    admin_login = reverse("admin:login")
    for user in (None, world.a.patient.user, world.nurse.user, world.consultant.user):
        client = signed_in(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302, (user, url, describe(response))
            assert urlsplit(response.url).path == admin_login, (user, url, response.url)
    client = signed_in(world.clinic_admin.user)
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_reset_tokens_are_the_users_own(world):
    """A's reset token does not open B's account (checked above as a refused token); and
    B's real one does, as the control of that case shows. This pins the uid half too."""
    uid_a = urlsafe_base64_encode(force_bytes(world.a.patient.user.pk))
    token_b = default_token_generator.make_token(world.b.patient.user)
    response = signed_in(None).get(
        reverse("password_reset_confirm", kwargs={"uidb64": uid_a, "token": token_b})
    )
    assert response.status_code == 200
    assert response.context["validlink"] is False


def test_a_deactivated_accounts_calendar_address_stops_working(world):
    """An account switched off (not yet closed, which deletes the feed) reads no diary."""
    user = world.b.patient.user
    user.is_active = False
    user.save(update_fields=["is_active"])
    response = signed_in(None).get(reverse("booking:feed", args=[world.b.feed.token]))
    assert response.status_code == 404
