"""Hostile input: every form that takes a POST is fuzzed with random and malicious values.

For each endpoint (the table ``TARGETS`` below, which must cover every URL that accepts a
POST; the admin is left out as a group) hypothesis posts data built on the real form's
fields: very long strings, unicode that hides or turns text, NUL bytes, markup and
script, SQL, numbers negative, huge and not-a-number, dates far off or impossible, wrong
types, lists where one value is expected, missing and extra fields, valid values with a
hidden character slipped in, and bodies a browser never sends. Whatever comes:

- the answer is never a 500 (an exception in the view counts as one);
- a refused request (4xx) changes nothing in the database;
- an accepted one (2xx/3xx) changes only the tables the endpoint is for, never another
  patient's rows, and leaves data that passes every model's validation, holds no hidden
  control characters, and keeps the clinic's rules (nobody in two places at once, the
  gap between sessions, no session beyond the plan, every consent statement accepted).

Before the random examples each field gets, one at a time, a NUL byte and a 10,000-character
string (the two values PostgreSQL refuses where SQLite takes them), and each hostile
address (an id too big for the database, a forged token) is posted to once.

Then: pages that read a path part or a query string get hostile ones (never a 500);
hidden characters (a right-to-left override, an escape) in each typed field are refused;
and ``<script>alert("x")</script>`` saved in every text a person types (and in the
admin's public texts) is escaped on each page that shows it.

Each example runs in a savepoint that is rolled back, so every example starts from the
same data. Time is frozen on Wednesday 10 June 2026, 12:00 in London.
"""

from __future__ import annotations

import copy
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from django.core import mail, signing
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from aftercare import services as aftercare_services
from aftercare.models import WARNING_SYMPTOMS, CourseFlag, Reminder
from bookings.availability import BookingWindow, free_slots
from bookings.models import Appointment
from clinic.models import Room, StaffMember
from patients.models import Patient
from tests.factories import (
    PASSWORD,
    AppointmentFactory,
    CourseFactory,
    PatientFactory,
    ScreeningFactory,
    local,
    treatment,
)
from tests.security.fuzz_support import (
    ALWAYS_ALLOWED,
    BODY_KINDS,
    RAW_BODIES,
    Case,
    Tables,
    base_label,
    check_domain_rules,
    check_saved_rows,
    diff,
    encode_body,
    form_data,
    model_by_label,
    post_endpoints,
    take_snapshot,
)
from treatments import services as treatment_services
from treatments.models import (
    AdverseEvent,
    ConsentForm,
    Course,
    Legs,
    SessionRecord,
    SignedConsent,
    StockingFitting,
    Treatment,
)

pytestmark = pytest.mark.django_db

NOW = local(2026, 6, 10, 12)  # a Wednesday
HUGE_ID = "9" * 20
# FUZZ_EXAMPLES=500 for a deeper run by hand; FUZZ_NO_SHRINK=1 to list failures quickly.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
PHASES = [p for p in Phase if not (os.environ.get("FUZZ_NO_SHRINK") and p == Phase.shrink)]

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    phases=PHASES,
    deadline=None,
    database=None,  # no example database written into the project
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


# --- the world every example starts from ---------------------------------------------------


@dataclass
class World:
    """The people and records in place: a patient mid-course (session 1 done on Monday,
    aftercare running, a flag raised, session 2 booked), a patient with a session today,
    and a bystander whose rows must never change."""

    patient: Patient
    course: Course
    session_two: SessionRecord
    flag: CourseFlag
    ward: Patient  # the patient of today's session
    today_session: SessionRecord
    bystander: Patient
    bystander_rows: set[tuple[str, Any]]
    nurse: StaffMember
    consultant: StaffMember
    consulting_room: Room
    treatment_room: Room

    def foreign_ids(self) -> list[Any]:
        """Ids of the bystander's records: offered as values of every field."""
        return sorted({pk for _, pk in self.bystander_rows if isinstance(pk, int)})


def _complete(session: SessionRecord, nurse: StaffMember) -> SessionRecord:
    treatment_services.session_confirm_consent(session=session, nurse=nurse)
    treatment_services.session_start(session=session, by=nurse)
    treatment_services.session_record(session=session, by=nurse, discharge_walk_minutes=10)
    for leg in Legs.sides(session.legs_treated):
        treatment_services.session_fit_stocking(
            session=session, by=nurse, leg=leg, compression_class="2", length="thigh"
        )
    return treatment_services.session_complete(session=session, by=nurse)


def _sign(course: Course) -> SignedConsent:
    form = treatment_services.consent_current_form(course.treatment)
    assert form is not None
    return treatment_services.consent_sign(
        course=course,
        form=form,
        typed_name=course.patient.full_name,
        statements_accepted=list(form.statements),
        method=SignedConsent.Method.ONLINE,
    )


@pytest.fixture
def fuzz_world(open_clinic, nurse, consultant) -> World:
    """(Named apart from the ``world`` of tests/security/conftest.py, a different one.)"""
    ConsentForm.objects.update(effective_from=local(2025, 1, 1))
    consulting_room = open_clinic.rooms.get(kind=Room.Kind.CONSULTING)
    treatment_room = open_clinic.rooms.get(kind=Room.Kind.TREATMENT)

    def schedule(course: Course, start: datetime) -> SessionRecord:
        return treatment_services.session_schedule(
            course=course,
            start=start,
            minutes=30,
            consultant=consultant,
            nurse=nurse,
            room=treatment_room,
        )

    patient = PatientFactory(user__first_name="Alice", user__last_name="Main", phone="07700 900123")
    ScreeningFactory(patient=patient)
    course = CourseFactory(patient=patient, consultant=consultant)
    _sign(course)
    with time_machine.travel(local(2026, 6, 8, 12), tick=False):
        _complete(schedule(course, local(2026, 6, 8, 10)), nurse)
    with time_machine.travel(NOW, tick=False):
        session_two = schedule(course, local(2026, 7, 8, 10))
        aftercare_services.check_in_record(
            patient=patient, day=date(2026, 6, 9), warning_symptoms=[next(iter(WARNING_SYMPTOMS))]
        )
        flag = CourseFlag.objects.get(course=course)

        ward = PatientFactory(user__first_name="Wendy", user__last_name="Ward")
        ScreeningFactory(patient=ward)
        ward_course = CourseFactory(patient=ward, consultant=consultant)
        today_session = schedule(ward_course, local(2026, 6, 10, 10))

        bystander = PatientFactory(user__first_name="Betty", user__last_name="Bystander")
        ScreeningFactory(patient=bystander)
        bystander_course = CourseFactory(patient=bystander, consultant=consultant)
        _sign(bystander_course)
        schedule(bystander_course, local(2026, 6, 24, 14))
    tables = take_snapshot()
    bystander_rows = {
        (name, pk)
        for name, rows in tables.items()
        for pk, row in rows.items()
        if _belongs_to(name, row, bystander)
    }
    return World(
        patient=patient,
        course=course,
        session_two=session_two,
        flag=flag,
        ward=ward,
        today_session=today_session,
        bystander=bystander,
        bystander_rows=bystander_rows,
        nurse=nurse,
        consultant=consultant,
        consulting_room=consulting_room,
        treatment_room=treatment_room,
    )


def _belongs_to(name: str, row: dict[str, Any], patient: Patient) -> bool:
    if name.endswith(("clinic.User", ".HistoricalUser")) and row.get("id") == patient.user_id:
        return True
    if name in ("patients.Patient", "patients.HistoricalPatient") and row.get("id") == patient.pk:
        return True
    return row.get("patient_id") == patient.pk or row.get("user_id") == patient.user_id


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


# --- the endpoints and how each is made ready ----------------------------------------------

TARGETS: dict[str, Callable[[World], Case]] = {}


def target(name: str) -> Callable[[Callable[[World], Case]], Callable[[World], Case]]:
    def register(build: Callable[[World], Case]) -> Callable[[World], Case]:
        TARGETS[name] = build
        return build

    return register


def _path(name: str, *args: Any) -> str:
    return reverse(name, args=args)


def _with_ids(name: str, pk: Any) -> list[str]:
    """The same address with ids that name nothing: a huge one and zero."""
    return [_path(name, HUGE_ID), _path(name, 0)]


def _hostile_tokens(name: str, good: str) -> list[str]:
    """The address with forged tokens: bits changed, cut, script, a traversal."""
    forged = [good[:-3] + "abc", good + "x", "<script>", "..", "a" * 1000, "%00", "' OR 1=1 --"]
    return [_path(name, token) for token in forged]


def _newcomer(**names: str) -> Patient:
    patient = PatientFactory(**{f"user__{k}": v for k, v in names.items()})
    ScreeningFactory(patient=patient)
    return patient


def _first_free(treatment_slug: str, patient: Patient, day: date, **kwargs: Any) -> datetime:
    found = free_slots(
        treatment=treatment(treatment_slug),
        minutes=kwargs.pop("minutes", 30),
        first_day=day,
        last_day=day,
        patient=patient,
        **kwargs,
    ).get(day, [])
    assert found, f"no free time on {day} to start from"
    return found[0].start


def _z(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# The patient's own pages ----------------------------------------------------------------------


@target("patients:screening")
def _screening(w: World) -> Case:
    from patients.models import Screening

    baseline: dict[str, Any] = dict.fromkeys(Screening.FLAG_QUESTIONS, "no")
    baseline |= {"other_conditions": "Asthma", "medicines": "Inhaler"}
    return Case(
        url=_path("patients:screening"),
        baseline=baseline,
        user=w.patient.user,
        writes=frozenset({"patients.Screening"}),
    )


@target("patients:consent_sign")
def _consent_sign(w: World) -> Case:
    patient = _newcomer(first_name="Carla", last_name="Consent")
    course = CourseFactory(patient=patient, consultant=w.consultant)
    form = treatment_services.consent_current_form(course.treatment)
    assert form is not None
    return Case(
        url=_path("patients:consent_sign", course.pk),
        baseline={
            "form_id": str(form.pk),
            "statements": [str(i) for i in range(len(form.statements))],
            "typed_name": "Carla Consent",
        },
        user=patient.user,
        writes=frozenset({"treatments.SignedConsent"}),
        hostile_urls=_with_ids("patients:consent_sign", course.pk),
    )


@target("patients:profile")
def _profile(w: World) -> Case:
    return Case(
        url=_path("patients:profile"),
        baseline={
            "first_name": "Alice",
            "last_name": "Main",
            "date_of_birth": "1980-04-02",
            "phone": "07700 900123",
            "address": "1 High Street\nLeeds",
            "gp_practice": "Park Surgery, Leeds",
            "payer": "insured",
            "insurer": "Acme Health",
            "policy_number": "P-123",
            "preauthorisation_code": "PA-9",
            "contact_by_email": "on",
            "contact_by_sms": "on",
        },
        user=w.patient.user,
        writes=frozenset({"patients.Patient", "clinic.User"}),
    )


@target("patients:close_account")
def _close_account(w: World) -> Case:
    return Case(
        url=_path("patients:close_account"),
        baseline={"reason": "Moving abroad", "confirm": "on"},
        user=w.patient.user,
        writes=frozenset({"patients.AccountClosureRequest"}),
    )


@target("patients:close_account_withdraw")
def _close_account_withdraw(w: World) -> Case:
    from patients.services import account_closure_request

    account_closure_request(patient=w.patient, reason="Changed my mind later")
    return Case(
        url=_path("patients:close_account_withdraw"),
        baseline={},
        user=w.patient.user,
        writes=frozenset({"patients.AccountClosureRequest"}),
    )


# The patient's booking pages --------------------------------------------------------------------

BOOKING_WRITES = frozenset(
    {
        "aftercare.ReminderPreference",  # made with the first reminder
        "bookings.Appointment",
        "bookings.WaitingListEntry",
        "aftercare.Reminder",
        "treatments.SessionRecord",
    }
)


@target("booking:confirm")
def _confirm(w: World) -> Case:
    patient = _newcomer(first_name="Nina", last_name="New")
    start = _first_free("initial-consultation", patient, date(2026, 6, 16), window=BookingWindow())
    return Case(
        url=_path("booking:confirm", "initial-consultation"),
        baseline={
            "start": _z(start),
            "minutes": "30",
            "payer": "self",
            "preauthorisation_code": "",
            "music_request": "Some jazz, please",
        },
        user=patient.user,
        writes=BOOKING_WRITES,
        hostile_urls=[
            _path("booking:confirm", "microsclerotherapy:" + HUGE_ID),
            _path("booking:confirm", "<script>"),
            _path("booking:confirm", "a" * 500),
        ],
    )


@target("booking:cancel")
def _patient_cancel(w: World) -> Case:
    pk = w.session_two.appointment_id
    return Case(
        url=_path("booking:cancel", pk),
        baseline={"reason": "I am away that week"},
        user=w.patient.user,
        writes=BOOKING_WRITES,
        hostile_urls=_with_ids("booking:cancel", pk),
    )


@target("booking:reschedule")
def _patient_reschedule(w: World) -> Case:
    appointment = w.session_two.appointment
    start = _first_free(
        "microsclerotherapy",
        w.patient,
        date(2026, 7, 9),
        window=BookingWindow(),
        ignore_appointment_id=appointment.pk,
        consultant_id=w.consultant.pk,
    )
    return Case(
        url=_path("booking:reschedule", appointment.pk),
        baseline={"start": _z(start)},
        user=w.patient.user,
        writes=BOOKING_WRITES,
        hostile_urls=_with_ids("booking:reschedule", appointment.pk),
    )


@target("booking:feed_settings")
def _feed_settings(w: World) -> Case:
    return Case(
        url=_path("booking:feed_settings"),
        baseline={},
        user=w.patient.user,
        writes=frozenset({"bookings.CalendarFeed"}),
    )


@target("booking:waiting_list")
def _waiting_list(w: World) -> Case:
    patient = _newcomer(first_name="Wanda", last_name="Wait")
    return Case(
        url=_path("booking:waiting_list"),
        baseline={
            "key": "initial-consultation",
            "earliest_date": "2026-06-20",
            "latest_date": "2026-07-10",
        },
        user=patient.user,
        writes=frozenset({"bookings.WaitingListEntry"}),
    )


# Aftercare -----------------------------------------------------------------------------------

AFTERCARE_WRITES = frozenset(
    {
        "aftercare.CheckIn",
        "aftercare.CourseFlag",
        "aftercare.Reminder",
        "aftercare.ReminderPreference",
    }
)


@target("aftercare:tick")
def _tick(w: World) -> Case:
    return Case(
        url=_path("aftercare:tick"),
        baseline={"what": "walked", "day": "2026-06-09", "value": "yes", "back": "dashboard"},
        user=w.patient.user,
        writes=AFTERCARE_WRITES,
    )


@target("aftercare:side_effects")
def _side_effects(w: World) -> Case:
    return Case(
        url=_path("aftercare:side_effects"),
        baseline={
            "bruising": "on",
            "redness": "on",
            "swelling": "",
            "pain_score": "3",
            "warning_symptoms": [next(iter(WARNING_SYMPTOMS))],
            "notes": "A little sore",
        },
        user=w.patient.user,
        writes=AFTERCARE_WRITES,
    )


@target("aftercare:preferences")
def _preferences(w: World) -> Case:
    return Case(
        url=_path("aftercare:preferences"),
        baseline={"walk_time": "18:30", "walk_reminders": "on"},
        user=w.patient.user,
        writes=AFTERCARE_WRITES,
    )


@target("aftercare:preferences_sms")
def _preferences_sms(w: World) -> Case:
    return Case(
        url=_path("aftercare:preferences_sms"),
        baseline={"kinds": [Reminder.Kind.DAILY_WALK, Reminder.Kind.STOCKINGS_OFF]},
        user=w.patient.user,
        writes=AFTERCARE_WRITES,
    )


@target("aftercare:resubscribe")
def _resubscribe(w: World) -> Case:
    aftercare_services.reminder_unsubscribe(patient=w.patient, kind=Reminder.Kind.DAILY_WALK)
    return Case(
        url=_path("aftercare:resubscribe"),
        baseline={"kind": Reminder.Kind.DAILY_WALK},
        user=w.patient.user,
        writes=AFTERCARE_WRITES,
    )


@target("aftercare:check_in_link")
def _check_in_link(w: World) -> Case:
    token = aftercare_services.check_in_token(
        patient_id=w.patient.pk, day=NOW.date(), action="walked"
    )
    forged = signing.dumps(
        {"p": w.bystander.pk, "d": "9999-12-31", "a": "walked"}, salt="not-the-salt"
    )
    return Case(
        url=_path("aftercare:check_in_link", token),
        baseline={},
        user=None,
        writes=AFTERCARE_WRITES,
        hostile_urls=[
            *_hostile_tokens("aftercare:check_in_link", token),
            _path("aftercare:check_in_link", forged),
        ],
    )


@target("aftercare:unsubscribe")
def _unsubscribe(w: World) -> Case:
    token = signing.dumps(
        {"p": w.patient.pk, "k": Reminder.Kind.DAILY_WALK}, salt="aftercare.unsubscribe"
    )
    # Issued by us, so correctly signed, for a patient whose record has gone.
    gone = signing.dumps({"p": 999_999, "k": "daily_walk"}, salt="aftercare.unsubscribe")
    return Case(
        url=_path("aftercare:unsubscribe", token),
        baseline={},
        user=None,
        writes=AFTERCARE_WRITES,
        hostile_urls=[
            *_hostile_tokens("aftercare:unsubscribe", token),
            _path("aftercare:unsubscribe", gone),
        ],
    )


@target("aftercare:flag_resolve")
def _flag_resolve(w: World) -> Case:
    return Case(
        url=_path("aftercare:flag_resolve", w.flag.pk),
        baseline={"resolution": "Called the patient; advised rest."},
        user=w.nurse.user,
        writes=frozenset({"aftercare.CourseFlag"}),
        hostile_urls=_with_ids("aftercare:flag_resolve", w.flag.pk),
    )


# The staff diary ---------------------------------------------------------------------------------


def _consultation_for(w: World, patient: Patient, start: datetime) -> Appointment:
    return AppointmentFactory(
        patient=patient,
        start=start,
        end=start + timedelta(minutes=30),
        consultant=w.consultant,
        room=w.consulting_room,
    )


@target("bookings:appointment_status")
def _appointment_status(w: World) -> Case:
    appointment = _consultation_for(w, _newcomer(), local(2026, 6, 10, 14))
    return Case(
        url=_path("bookings:appointment_status", appointment.pk),
        baseline={"status": Appointment.Status.CHECKED_IN},
        user=w.nurse.user,
        writes=BOOKING_WRITES,
        hostile_urls=_with_ids("bookings:appointment_status", appointment.pk),
        foreign_ids=[w.session_two.appointment_id],
    )


@target("bookings:book_for_patient")
def _book_for_patient(w: World) -> Case:
    patient = _newcomer(first_name="Sam", last_name="Staffbooked")
    day = date(2026, 6, 16)
    start = _first_free("initial-consultation", patient, day, window=None)
    return Case(
        url=_path("bookings:book_for_patient"),
        baseline={
            "patient": str(patient.pk),
            "option": "initial-consultation",
            "minutes": "30",
            "day": day.isoformat(),
            "start": start.isoformat(),
            "payer": "self",
            "preauthorisation_code": "",
            "music_request": "Radio 3",
        },
        user=w.nurse.user,
        writes=BOOKING_WRITES,
    )


@target("bookings:consultation_new")
def _consultation_new(w: World) -> Case:
    patient = _newcomer(first_name="Colin", last_name="Consult")
    return Case(
        url=_path("bookings:consultation_new"),
        baseline={
            "patient": str(patient.pk),
            "treatment": str(treatment("initial-consultation").pk),
            "day": "2026-06-17",
            "time": "10:00",
            "minutes": "30",
            "consultant": str(w.consultant.pk),
            "room": str(w.consulting_room.pk),
            "notes": "Referred by the GP",
        },
        user=w.nurse.user,
        writes=BOOKING_WRITES,
        foreign_ids=[w.nurse.pk, w.treatment_room.pk],
    )


@target("bookings:session_new")
def _session_new(w: World) -> Case:
    course = CourseFactory(patient=_newcomer(), consultant=w.consultant)
    return Case(
        url=_path("bookings:session_new", course.pk),
        baseline={
            "day": "2026-06-18",
            "time": "10:00",
            "minutes": "30",
            "consultant": str(w.consultant.pk),
            "nurse": str(w.nurse.pk),
            "room": str(w.treatment_room.pk),
            "music_request": "Folk",
        },
        user=w.nurse.user,
        writes=BOOKING_WRITES,
        hostile_urls=_with_ids("bookings:session_new", course.pk),
        foreign_ids=[w.consulting_room.pk, w.course.pk],
    )


@target("bookings:reschedule")
def _staff_reschedule(w: World) -> Case:
    appointment = _consultation_for(w, _newcomer(), local(2026, 6, 15, 10))
    start = _first_free(
        "initial-consultation",
        appointment.patient,
        date(2026, 6, 16),
        window=None,
        ignore_appointment_id=appointment.pk,
    )
    return Case(
        url=_path("bookings:reschedule", appointment.pk),
        baseline={"start": start.isoformat()},
        user=w.nurse.user,
        writes=BOOKING_WRITES,
        hostile_urls=_with_ids("bookings:reschedule", appointment.pk),
    )


@target("bookings:cancel")
def _staff_cancel(w: World) -> Case:
    appointment = _consultation_for(w, _newcomer(), local(2026, 6, 15, 10))
    return Case(
        url=_path("bookings:cancel", appointment.pk),
        baseline={"reason": "The patient called: unwell."},
        user=w.nurse.user,
        writes=BOOKING_WRITES,
        hostile_urls=_with_ids("bookings:cancel", appointment.pk),
    )


@target("bookings:staff_feed_settings")
def _staff_feed_settings(w: World) -> Case:
    return Case(
        url=_path("bookings:staff_feed_settings"),
        baseline={},
        user=w.nurse.user,
        writes=frozenset({"bookings.CalendarFeed"}),
    )


# The nurse's session screen ---------------------------------------------------------------------

SESSION_WRITES = frozenset(
    {
        "treatments.SessionRecord",
        "treatments.SignedConsent",
        "treatments.StockingFitting",
        "treatments.AdverseEvent",
        "treatments.Course",
        "bookings.Appointment",
        "aftercare.AftercarePlan",
        "aftercare.Reminder",
        "aftercare.ReminderPreference",
    }
)


def _session_case(w: World, name: str, baseline: dict[str, Any]) -> Case:
    pk = w.today_session.pk
    return Case(
        url=_path(name, pk),
        baseline=baseline,
        user=w.nurse.user,
        writes=SESSION_WRITES,
        hostile_urls=_with_ids(name, pk),
        foreign_ids=[w.session_two.pk],
    )


def _started(w: World) -> None:
    _sign(w.today_session.course)
    treatment_services.session_confirm_consent(session=w.today_session, nurse=w.nurse)
    treatment_services.session_start(session=w.today_session, by=w.nurse)


@target("treatments:session_confirm_consent")
def _confirm_consent(w: World) -> Case:
    _sign(w.today_session.course)
    return _session_case(w, "treatments:session_confirm_consent", {})


@target("treatments:session_take_consent")
def _take_consent(w: World) -> Case:
    form = treatment_services.consent_current_form(w.today_session.course.treatment)
    assert form is not None
    baseline: dict[str, Any] = {f"statement_{i}": "on" for i in range(len(form.statements))}
    baseline |= {"typed_name": "Wendy Ward", "consent_form": str(form.pk)}
    return _session_case(w, "treatments:session_take_consent", baseline)


@target("treatments:session_start")
def _start(w: World) -> Case:
    _sign(w.today_session.course)
    treatment_services.session_confirm_consent(session=w.today_session, nurse=w.nurse)
    return _session_case(w, "treatments:session_start", {})


RECORD = {
    "legs_treated": Legs.BOTH,
    "treated_areas": ["left_calf_back_medial", "right_knee_back"],
    "sclerosant": "Sodium tetradecyl sulphate (STS)",
    "concentration_percent": "0.5",
    "total_volume_ml": "2.5",
    "injections": "14",
    "discomfort": "3",
    "music_requested": "Nina Simone",
    "notes": "Tolerated well.",
    "discharge_walk_minutes": "12",
}


@target("treatments:session_record")
def _record(w: World) -> Case:
    _started(w)
    return _session_case(w, "treatments:session_record", dict(RECORD))


@target("treatments:session_stockings")
def _stockings(w: World) -> Case:
    _started(w)
    baseline = {
        "leg": "left",
        "compression_class": StockingFitting.CompressionClass.CLASS_2,
        "length": StockingFitting.Length.THIGH,
    }
    return _session_case(w, "treatments:session_stockings", baseline)


@target("treatments:session_adverse_event")
def _adverse_event(w: World) -> Case:
    _started(w)
    baseline = {
        "kind": AdverseEvent.Kind.BRUISING,
        "severity": AdverseEvent.Severity.MILD,
        "action_taken": "Cold pack applied.",
        "description": "A small bruise on the left calf.",
    }
    return _session_case(w, "treatments:session_adverse_event", baseline)


@target("treatments:session_complete")
def _complete_target(w: World) -> Case:
    _started(w)
    session = w.today_session
    treatment_services.session_record(session=session, by=w.nurse, discharge_walk_minutes=10)
    for leg in Legs.sides(session.course.legs):
        treatment_services.session_fit_stocking(
            session=session, by=w.nurse, leg=leg, compression_class="2", length="thigh"
        )
    return _session_case(w, "treatments:session_complete", {})


@target("treatments:session_abandon")
def _abandon(w: World) -> Case:
    return _session_case(
        w, "treatments:session_abandon", {"reason": "The patient felt faint and went home."}
    )


# The consultant ---------------------------------------------------------------------------------

COURSE_WRITES = frozenset(
    {
        "treatments.Course",
        "treatments.CourseExtension",
        "treatments.SessionRecord",
        "bookings.Appointment",
        "aftercare.Reminder",
    }
)


@target("treatments:course_plan")
def _course_plan(w: World) -> Case:
    patient = _newcomer(first_name="Pat", last_name="Planned")
    consultation = AppointmentFactory(
        patient=patient,
        consultant=w.consultant,
        start=local(2026, 6, 9, 9),
        end=local(2026, 6, 9, 9, 30),
        room=w.consulting_room,
        status=Appointment.Status.COMPLETED,
    )
    return Case(
        url=_path("treatments:course_plan", consultation.pk),
        baseline={
            "treatment": str(treatment("microsclerotherapy").pk),
            "planned_sessions": "3",
            "min_gap_days": "28",
            "legs": Legs.LEFT,
            "treated_areas": ["left_calf_back_medial"],
            "plan_notes": "Avoid hot baths for a week.",
        },
        user=w.consultant.user,
        writes=COURSE_WRITES,
        hostile_urls=_with_ids("treatments:course_plan", consultation.pk),
        foreign_ids=[w.session_two.appointment_id, treatment("initial-consultation").pk],
    )


@target("treatments:course_extend")
def _course_extend(w: World) -> Case:
    return Case(
        url=_path("treatments:course_extend", w.course.pk),
        baseline={"to_sessions": "4", "reason": "More veins on the right calf."},
        user=w.consultant.user,
        writes=COURSE_WRITES,
        hostile_urls=_with_ids("treatments:course_extend", w.course.pk),
    )


@target("treatments:course_close")
def _course_close(w: World) -> Case:
    return Case(
        url=_path("treatments:course_close", w.course.pk),
        baseline={"status": Course.Status.DISCONTINUED, "reason": "The patient moved away."},
        user=w.consultant.user,
        writes=COURSE_WRITES,
        hostile_urls=_with_ids("treatments:course_close", w.course.pk),
    )


@target("treatments:screening_review")
def _screening_review(w: World) -> Case:
    return Case(
        url=_path("treatments:screening_review", w.patient.pk),
        baseline={"notes": "No concerns."},
        user=w.consultant.user,
        writes=frozenset({"patients.Screening"}),
        hostile_urls=_with_ids("treatments:screening_review", w.patient.pk),
    )


# Accounts ---------------------------------------------------------------------------------------

NEW_PASSWORD = "a-New-test-pass-4471"


@target("signup")
def _signup(w: World) -> Case:
    return Case(
        url=_path("signup"),
        baseline={
            "first_name": "Sally",
            "last_name": "Signup",
            "email": "sally.signup@example.org",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
        user=None,
        writes=frozenset({"clinic.User", "patients.Patient"}),
    )


@target("login")
def _login(w: World) -> Case:
    return Case(
        url=_path("login"),
        baseline={"username": w.patient.user.email, "password": PASSWORD, "next": "/my/"},
        user=None,
        writes=frozenset({"clinic.User"}),  # last_login
    )


@target("logout")
def _logout(w: World) -> Case:
    return Case(url=_path("logout"), baseline={}, user=w.patient.user)


@target("password_change")
def _password_change(w: World) -> Case:
    return Case(
        url=_path("password_change"),
        baseline={
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        user=w.patient.user,
        writes=frozenset({"clinic.User"}),
    )


@target("password_reset")
def _password_reset(w: World) -> Case:
    return Case(
        url=_path("password_reset"),
        baseline={"email": w.patient.user.email},
        user=None,
    )


@target("password_reset_confirm")
def _password_reset_confirm(w: World) -> Case:
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    user = w.patient.user
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    link = _path("password_reset_confirm", uid, default_token_generator.make_token(user))

    def open_link(client: Client) -> str:
        response = client.get(link)  # puts the token in the session, redirects
        assert response.status_code == 302, response.status_code
        return response["Location"]

    return Case(
        url=_path("password_reset_confirm", uid, "set-password"),
        baseline={"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        user=None,
        writes=frozenset({"clinic.User"}),
        hostile_urls=[
            _path("password_reset_confirm", "<script>", "set-password"),
            _path("password_reset_confirm", uid, "1-" + "f" * 500),
            _path("password_reset_confirm", "A" * 300, "x"),
        ],
        prepare=open_link,
    )


OTP_TABLES = frozenset({"otp_totp.TOTPDevice", "otp_static.StaticDevice", "otp_static.StaticToken"})


def _totp(user: Any, *, confirmed: bool) -> Any:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=confirmed)


def _current_code(device: Any) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


@target("two_factor_verify")
def _two_factor_verify(w: World) -> Case:
    device = _totp(w.patient.user, confirmed=True)
    return Case(
        url=_path("two_factor_verify"),
        baseline={"token": _current_code(device), "next": "/my/"},
        user=w.patient.user,
        writes=OTP_TABLES,
        refusal_may_change=OTP_TABLES,  # failed codes are counted (throttling)
    )


@target("two_factor_setup")
def _two_factor_setup(w: World) -> Case:
    device = _totp(w.patient.user, confirmed=False)
    return Case(
        url=_path("two_factor_setup"),
        baseline={"token": _current_code(device), "next": "/my/"},
        user=w.patient.user,
        writes=OTP_TABLES,
        refusal_may_change=OTP_TABLES,
    )


@target("two_factor_manage")
def _two_factor_manage(w: World) -> Case:
    _totp(w.patient.user, confirmed=True)
    return Case(
        url=_path("two_factor_manage"),
        baseline={"action": "codes"},
        user=w.patient.user,
        writes=OTP_TABLES,
    )


@target("sessions_end")
def _sessions_end(w: World) -> Case:
    other = Client()
    other.force_login(w.patient.user)
    return Case(
        url=_path("sessions_end"),
        baseline={"key": other.session.session_key},
        user=w.patient.user,
    )


# --- every POST endpoint is fuzzed -------------------------------------------------------------


def test_every_post_endpoint_is_fuzzed():
    """Walk the URLconf: each URL that takes a POST (or any method that may write) must
    have a row in TARGETS. Add one when you add a form."""
    endpoints = post_endpoints()
    missing = sorted(set(endpoints) - set(TARGETS))
    assert not missing, (
        "These endpoints accept POST but are not fuzzed; add them to TARGETS in "
        f"{__name__}: " + ", ".join(f"{name} ({endpoints[name].route})" for name in missing)
    )
    stale = sorted(set(TARGETS) - set(endpoints))
    assert not stale, f"TARGETS names endpoints that no longer take a POST: {stale}"


def test_the_walk_finds_the_known_forms():
    """The walker itself: it sees POST on views of every kind (function views behind role
    decorators, class-based views) and not on read-only pages."""
    endpoints = post_endpoints()
    for name in ("patients:profile", "booking:cancel", "treatments:session_record", "login"):
        assert name in endpoints, name
    for name in ("home", "patients:dashboard", "treatments:day_list", "booking:feed"):
        assert name not in endpoints, name


# --- the fuzz ---------------------------------------------------------------------------------


def _reset_throttles() -> None:
    cache.clear()
    try:
        from axes.utils import reset
    except ImportError:  # pragma: no cover - django-axes not installed
        return
    reset()


def _post(client: Client, url: str, kwargs: dict[str, Any]) -> Any:
    try:
        return client.post(url, **kwargs)
    except Exception:
        pytest.fail(
            f"POST {url[:200]} raised (a 500 in production):\n{traceback.format_exc()}",
            pytrace=False,
        )


def _problems_after(case: Case, world: World, before: Tables, response: Any) -> list[str]:
    changes = diff(before, take_snapshot())
    problems = [
        f"another patient's row changed: {c}"
        for c in changes
        if (c.model, c.pk) in world.bystander_rows
    ]
    models_ = model_by_label()
    if response.status_code >= 400:
        allowed = ALWAYS_ALLOWED | case.refusal_may_change
        problems += [
            f"refused with {response.status_code} but changed: {c}"
            for c in changes
            if base_label(models_[c.model]) not in allowed
        ]
        return problems
    allowed = ALWAYS_ALLOWED | case.writes
    problems += [
        f"changed a table it is not for: {c}"
        for c in changes
        if base_label(models_[c.model]) not in allowed
    ]
    problems += check_saved_rows(changes)
    problems += check_domain_rules()
    return problems


class Runner:
    """Posts to one endpoint, each time in a savepoint that is rolled back.

    The client logs in once; its cookies are put back before each post (a post may log
    out or rotate the session, and the rollback restores the session row). The database
    is the same before every post, so one snapshot taken up front serves them all."""

    def __init__(self, case: Case, world: World) -> None:
        self.case, self.world = case, world
        self.client = Client(raise_request_exception=True)
        if case.user is not None:
            self.client.force_login(case.user)
        self.cookies = copy.deepcopy(self.client.cookies)
        self.before = take_snapshot()

    def post(self, url: str, kwargs: dict[str, Any]) -> Any:
        with transaction.atomic():
            self.client.cookies = copy.deepcopy(self.cookies)
            if self.case.prepare is not None and url == self.case.url:
                url = self.case.prepare(self.client) or url
            mail.outbox = []
            response = _post(self.client, url, kwargs)
            shown = url[:200]
            assert response.status_code < 500, f"POST {shown} answered {response.status_code}"
            problems = _problems_after(self.case, self.world, self.before, response)
            assert not problems, f"POST {shown} ({response.status_code}):\n" + "\n".join(problems)
            transaction.set_rollback(True)
        _reset_throttles()
        return response


# PostgreSQL refuses a NUL byte in a query and an over-long value in a column; SQLite
# takes both. Each field gets each, on both databases.
SWEEP_VALUES = ["a\x00b", "x" * 10_000]


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_hostile_posts_never_break_anything(name, fuzz_world):
    world = fuzz_world
    case = TARGETS[name](world)
    _reset_throttles()

    runner = Runner(case, world)
    # The valid form is accepted: so the fuzz below also reaches the success paths.
    response = runner.post(case.url, {"data": case.baseline})
    assert response.status_code < 400, (
        f"the valid form for {name} was refused ({response.status_code}); fix the target"
    )

    # Every field, one at a time, with the two values PostgreSQL and SQLite treat
    # differently (a NUL byte, an over-long string); every hostile address once.
    for field in case.baseline:
        for value in SWEEP_VALUES:
            runner.post(case.url, {"data": {**case.baseline, field: value}})
    for url in case.hostile_urls:
        runner.post(url, {"data": case.baseline})

    urls = [case.url] * 4 + case.hostile_urls
    extra_values = [*world.foreign_ids(), *case.foreign_ids]

    @FUZZ_SETTINGS
    @given(
        url=st.sampled_from(urls),
        data=form_data(case.baseline, extra_values),
        kind=st.sampled_from(BODY_KINDS),
        raw=st.sampled_from(RAW_BODIES),
    )
    def fuzz(url: str, data: dict[str, Any], kind: str, raw: bytes) -> None:
        runner.post(url, encode_body(kind, data, raw))

    fuzz()


# --- hostile addresses and query strings on the pages that read them --------------------------

ADDRESS_VALUES = ["a\x00b", "x" * 1000, HUGE_ID, "-1", "2026-02-30", "<script>", "' OR 1=1 --"]


def _reading_pages(w: World) -> list[tuple[Any, Callable[[str], str]]]:
    """Pages that read a path part or a query string, as (who looks, address for a value)."""
    appointment = w.session_two.appointment_id
    course_key = f"microsclerotherapy:{w.course.pk}"
    patient, nurse, consultant = w.patient.user, w.nurse.user, w.consultant.user
    return [
        (patient, lambda v: _path("booking:calendar", v)),
        (patient, lambda v: _path("booking:calendar", course_key) + f"?month={quote(v)}"),
        (patient, lambda v: _path("booking:calendar", course_key) + f"?minutes={quote(v)}"),
        (patient, lambda v: _path("booking:day", course_key, v)),
        (patient, lambda v: _path("booking:confirm", course_key) + f"?start={quote(v)}"),
        (patient, lambda v: _path("booking:reschedule", appointment) + f"?day={quote(v)}"),
        (patient, lambda v: _path("booking:reschedule", appointment) + f"?month={quote(v)}"),
        (patient, lambda v: _path("patients:access_log") + f"?page={quote(v)}"),
        (None, lambda v: _path("booking:feed", v)),
        (None, lambda v: _path("bookings:staff_feed", v)),
        (None, lambda v: _path("aftercare:check_in_link", v)),
        (None, lambda v: _path("aftercare:unsubscribe", v)),
        (None, lambda v: _path("login") + f"?next={quote(v)}"),
        (nurse, lambda v: _path("bookings:diary") + f"?day={quote(v)}"),
        (nurse, lambda v: _path("bookings:diary") + f"?location={quote(v)}"),
        (nurse, lambda v: _path("bookings:week") + f"?start={quote(v)}"),
        (nurse, lambda v: _path("treatments:day_list") + f"?day={quote(v)}"),
        (nurse, lambda v: _path("bookings:book_for_patient") + f"?patient={quote(v)}"),
        (
            nurse,
            lambda v: (
                _path("bookings:book_for_patient")
                + f"?patient={w.patient.pk}&option={quote(v)}&minutes={quote(v)}&day={quote(v)}"
            ),
        ),
        (nurse, lambda v: _path("bookings:reschedule", appointment) + f"?day={quote(v)}"),
        (consultant, lambda v: _path("treatments:course_plan", appointment) + f"?treatment={v}"),
    ]


def test_hostile_addresses_and_queries_never_break_anything(fuzz_world):
    """Not a form, but input all the same: a path part or a query string that is a NUL
    byte, very long, a huge number, an impossible date, markup or SQL is a 4xx (or the page
    with its usual default), never a 500, on both databases."""
    pages = _reading_pages(fuzz_world)
    clients = {}
    for user, _ in pages:
        if user not in clients:
            clients[user] = _client_for(user)
            clients[user].raise_request_exception = True
    before = take_snapshot()  # after logging in, which sets last_login
    for user, address in pages:
        for value in ADDRESS_VALUES:
            url = address(value)
            try:
                response = clients[user].get(url)
            except Exception:
                pytest.fail(f"GET {url[:200]} raised:\n{traceback.format_exc()}", pytrace=False)
            assert response.status_code < 500, (url[:200], response.status_code)
    changes = [
        c
        for c in diff(before, take_snapshot())
        if base_label(model_by_label()[c.model]) not in ALWAYS_ALLOWED
    ]
    assert not changes, [str(c) for c in changes]


# --- hidden characters are refused everywhere a person types -----------------------------------

# (endpoint, field): each text field of each form, with the valid form around it.
TYPED_FIELDS = [
    ("signup", "first_name"),
    ("signup", "email"),
    ("patients:profile", "first_name"),
    ("patients:profile", "address"),
    ("patients:screening", "other_conditions"),
    ("patients:consent_sign", "typed_name"),
    ("patients:close_account", "reason"),
    ("booking:confirm", "music_request"),
    ("booking:cancel", "reason"),
    ("aftercare:side_effects", "notes"),
    ("aftercare:flag_resolve", "resolution"),
    ("bookings:consultation_new", "notes"),
    ("bookings:session_new", "music_request"),
    ("bookings:book_for_patient", "preauthorisation_code"),
    ("bookings:cancel", "reason"),
    ("treatments:session_take_consent", "typed_name"),
    ("treatments:session_record", "notes"),
    ("treatments:session_adverse_event", "action_taken"),
    ("treatments:session_abandon", "reason"),
    ("treatments:course_plan", "plan_notes"),
    ("treatments:course_extend", "reason"),
    ("treatments:screening_review", "notes"),
]


@pytest.mark.parametrize(("name", "field"), TYPED_FIELDS)
def test_hidden_characters_are_refused(name, field, fuzz_world):
    """A right-to-left override or an escape character in any typed text is refused with a
    400, and nothing is saved (the fuzz finds these too, but not on every run)."""
    case = TARGETS[name](fuzz_world)
    runner = Runner(case, fuzz_world)
    for hidden in ("\u202e", "\x1b[2J"):
        value = str(case.baseline[field])
        cut = max(len(value) - 4, 0)  # in an email address: in the domain
        data = {**case.baseline, field: value[:cut] + hidden + value[cut:]}
        response = runner.post(case.url, {"data": data})
        assert response.status_code == 400, (name, field, repr(hidden))


# --- typed text is escaped wherever it is shown -------------------------------------------------

PAYLOAD = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"

Page = tuple[Any, str]  # (the user who looks, or None for a visitor; the address)


def _client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _posted(user: Any, url: str, data: dict[str, Any]) -> Any:
    """Save through the real form: the post must be accepted."""
    response = _client_for(user).post(url, data)
    assert response.status_code == 302, (url, response.status_code)
    return response


def _name_everyone_sees(w: World) -> list[Page]:
    # The profile form refuses < and > in a name; a name can still arrive from elsewhere
    # (the admin, an import), so it goes in through the service.
    from patients.services import patient_profile_update

    patient_profile_update(patient=w.patient, first_name=PAYLOAD, last_name=PAYLOAD)
    course = w.course.pk
    return [
        (w.patient.user, _path("patients:dashboard")),
        (w.patient.user, _path("patients:profile")),
        (w.patient.user, _path("patients:export_print")),
        (w.nurse.user, _path("treatments:session_detail", w.session_two.pk)),
        (w.nurse.user, _path("treatments:course_review", course)),
        (w.nurse.user, _path("aftercare:staff_list")),
        (w.nurse.user, _path("bookings:diary") + "?day=2026-07-08"),
        (w.consultant.user, _path("treatments:screening_review", w.patient.pk)),
        (w.consultant.user, _path("treatments:consultant_home")),
    ]


def _name_in_a_message(w: World) -> list[Page]:
    from patients.services import patient_profile_update

    patient = _newcomer()
    patient_profile_update(patient=patient, first_name=PAYLOAD, last_name="Smith")
    appointment = _consultation_for(w, patient, local(2026, 6, 10, 14))
    client = _client_for(w.nurse.user)
    response = client.post(
        _path("bookings:appointment_status", appointment.pk), {"status": "checked_in"}
    )
    assert response.status_code == 302
    # The success message names the patient on the next page.
    html = client.get(response["Location"]).content.decode()
    _assert_escaped(html, "the patient's name in a message")
    return []


def _profile_texts(w: World) -> list[Page]:
    from patients.services import patient_profile_update

    patient_profile_update(
        patient=w.patient,
        first_name="Alice",
        last_name="Main",
        address=PAYLOAD,
        gp_practice=PAYLOAD,
        payer=Patient.Payer.INSURED,
        insurer=PAYLOAD,
        policy_number=PAYLOAD,
    )
    return [
        (w.patient.user, _path("patients:profile")),
        (w.patient.user, _path("patients:export_print")),
    ]


def _screening_answers(w: World) -> list[Page]:
    from patients.models import Screening

    data: dict[str, Any] = dict.fromkeys(Screening.FLAG_QUESTIONS, "no")
    data |= {"other_conditions": PAYLOAD, "medicines": PAYLOAD}
    _posted(w.patient.user, _path("patients:screening"), data)
    return [
        (w.patient.user, _path("patients:screening")),
        (w.patient.user, _path("patients:export_print")),
        (w.consultant.user, _path("treatments:screening_review", w.patient.pk)),
    ]


def _screening_review_notes(w: World) -> list[Page]:
    url = _path("treatments:screening_review", w.patient.pk)
    _posted(w.consultant.user, url, {"notes": PAYLOAD})
    return [(w.consultant.user, url), (w.patient.user, _path("patients:export_print"))]


def _consent_typed_name(w: World) -> list[Page]:
    from patients.services import patient_profile_update

    patient = _newcomer()
    patient_profile_update(patient=patient, first_name=PAYLOAD, last_name="Smith")
    course = CourseFactory(patient=patient, consultant=w.consultant)
    form = treatment_services.consent_current_form(course.treatment)
    assert form is not None
    response = _posted(
        patient.user,
        _path("patients:consent_sign", course.pk),
        {
            "form_id": str(form.pk),
            "statements": [str(i) for i in range(len(form.statements))],
            "typed_name": f"{PAYLOAD} Smith",
        },
    )
    return [(patient.user, response["Location"])]


def _music_request(w: World) -> list[Page]:
    patient = _newcomer()
    start = _first_free("initial-consultation", patient, date(2026, 6, 16), window=BookingWindow())
    response = _posted(
        patient.user,
        _path("booking:confirm", "initial-consultation"),
        {"start": _z(start), "minutes": "30", "payer": "self", "music_request": PAYLOAD},
    )
    return [
        (patient.user, response["Location"]),
        (w.nurse.user, _path("bookings:diary") + "?day=2026-06-16"),
    ]


def _consultation_notes(w: World) -> list[Page]:
    _posted(
        w.nurse.user,
        _path("bookings:consultation_new"),
        {
            "patient": str(_newcomer().pk),
            "treatment": str(treatment("initial-consultation").pk),
            "day": "2026-06-17",
            "time": "10:00",
            "minutes": "30",
            "consultant": str(w.consultant.pk),
            "room": str(w.consulting_room.pk),
            "notes": PAYLOAD,
        },
    )
    return [(w.nurse.user, _path("bookings:diary") + "?day=2026-06-17")]


def _cancellation_reason(w: World) -> list[Page]:
    pk = w.session_two.appointment_id
    _posted(w.patient.user, _path("booking:cancel", pk), {"reason": PAYLOAD})
    return [
        (w.patient.user, _path("booking:appointment", pk)),
        (w.nurse.user, _path("bookings:diary") + "?day=2026-07-08"),
    ]


def _staff_cancellation_reason(w: World) -> list[Page]:
    appointment = _consultation_for(w, _newcomer(), local(2026, 6, 15, 10))
    _posted(w.nurse.user, _path("bookings:cancel", appointment.pk), {"reason": PAYLOAD})
    return [
        (appointment.patient.user, _path("booking:appointment", appointment.pk)),
        (w.nurse.user, _path("bookings:diary") + "?day=2026-06-15"),
    ]


def _plan_notes(w: World) -> list[Page]:
    case = _course_plan(w)
    response = _posted(w.consultant.user, case.url, {**case.baseline, "plan_notes": PAYLOAD})
    patient = Course.objects.latest("pk").patient
    return [
        (w.consultant.user, response["Location"]),
        (patient.user, _path("patients:record")),
        (patient.user, _path("patients:export_print")),
    ]


def _extension_reason(w: World) -> list[Page]:
    url = _path("treatments:course_extend", w.course.pk)
    _posted(w.consultant.user, url, {"to_sessions": "4", "reason": PAYLOAD})
    return [
        (w.consultant.user, _path("treatments:course_review", w.course.pk)),
        (w.patient.user, _path("patients:export_print")),
    ]


def _close_reason(w: World) -> list[Page]:
    url = _path("treatments:course_close", w.course.pk)
    _posted(w.consultant.user, url, {"status": Course.Status.DISCONTINUED, "reason": PAYLOAD})
    return [
        (w.consultant.user, _path("treatments:course_review", w.course.pk)),
        (w.patient.user, _path("patients:export_print")),
    ]


def _session_record_texts(w: World) -> list[Page]:
    _started(w)
    record = {**RECORD, "notes": PAYLOAD, "music_requested": PAYLOAD, "sclerosant": PAYLOAD}
    _posted(w.nurse.user, _path("treatments:session_record", w.today_session.pk), record)
    return [
        (w.nurse.user, _path("treatments:session_detail", w.today_session.pk)),
        (w.nurse.user, _path("treatments:course_review", w.today_session.course_id)),
        (w.ward.user, _path("patients:export_print")),
    ]


def _adverse_event_texts(w: World) -> list[Page]:
    _started(w)
    _posted(
        w.nurse.user,
        _path("treatments:session_adverse_event", w.today_session.pk),
        {"kind": "bruising", "severity": "mild", "action_taken": PAYLOAD, "description": PAYLOAD},
    )
    return [
        (w.nurse.user, _path("treatments:session_detail", w.today_session.pk)),
        (w.nurse.user, _path("treatments:course_review", w.today_session.course_id)),
        (w.ward.user, _path("patients:record")),
    ]


def _abandon_reason(w: World) -> list[Page]:
    _posted(
        w.nurse.user, _path("treatments:session_abandon", w.today_session.pk), {"reason": PAYLOAD}
    )
    return [
        (w.nurse.user, _path("treatments:session_detail", w.today_session.pk)),
        (w.nurse.user, _path("treatments:course_review", w.today_session.course_id)),
        (w.ward.user, _path("patients:export_print")),
    ]


def _check_in_notes(w: World) -> list[Page]:
    _posted(w.patient.user, _path("aftercare:side_effects"), {"notes": PAYLOAD})
    return [
        (w.patient.user, _path("aftercare:today")),
        (w.patient.user, _path("patients:export_print")),
    ]


def _flag_resolution(w: World) -> list[Page]:
    _posted(w.nurse.user, _path("aftercare:flag_resolve", w.flag.pk), {"resolution": PAYLOAD})
    return [(w.nurse.user, _path("treatments:course_review", w.course.pk))]


def _closure_reason(w: World) -> list[Page]:
    _posted(w.patient.user, _path("patients:close_account"), {"reason": PAYLOAD, "confirm": "on"})
    return [(w.patient.user, _path("patients:close_account"))]


def _faq(w: World) -> list[Page]:
    from tests.factories import ClinicAdminFactory

    admin = ClinicAdminFactory().user
    _posted(
        admin,
        reverse("admin:treatments_faq_add"),
        {"question": PAYLOAD, "answer": PAYLOAD, "order": "0", "is_published": "on"},
    )
    return [(None, _path("faqs"))]


def _public_treatment_texts(w: World) -> list[Page]:
    Treatment.objects.filter(slug="microsclerotherapy").update(
        summary=PAYLOAD, page_what_it_is=PAYLOAD, page_risks=PAYLOAD, has_public_page=True
    )
    return [
        (None, _path("public_treatment", "microsclerotherapy")),
        (None, _path("treatments")),
    ]


def _consent_form_texts(w: World) -> list[Page]:
    new = treatment_services.consent_form_new_version(
        treatment=treatment("microsclerotherapy"),
        title=PAYLOAD,
        body=PAYLOAD,
        risks=[PAYLOAD],
        statements=[PAYLOAD, "I understand the risks."],
        effective_from=NOW - timedelta(hours=1),
    )
    treatment_services.consent_form_publish(form=new)
    patient = _newcomer()
    course = CourseFactory(patient=patient, consultant=w.consultant)
    return [
        (patient.user, _path("patients:consent_sign", course.pk)),
        (w.nurse.user, _path("treatments:session_take_consent", w.today_session.pk)),
    ]


def _location_texts(w: World) -> list[Page]:
    from clinic.models import Location

    Location.objects.update(name=PAYLOAD, address=f"{PAYLOAD}\nLeeds")
    return [(None, _path("contact"))]


ESCAPE_CASES: dict[str, Callable[[World], list[Page]]] = {
    "patient name": _name_everyone_sees,
    "patient name in a message": _name_in_a_message,
    "address, GP, insurer, policy": _profile_texts,
    "screening answers": _screening_answers,
    "screening review notes": _screening_review_notes,
    "signed name on a consent": _consent_typed_name,
    "music request": _music_request,
    "consultation notes": _consultation_notes,
    "cancellation reason (patient)": _cancellation_reason,
    "cancellation reason (staff)": _staff_cancellation_reason,
    "plan notes": _plan_notes,
    "extension reason": _extension_reason,
    "close reason": _close_reason,
    "session record notes, music, sclerosant": _session_record_texts,
    "adverse event": _adverse_event_texts,
    "reason a session did not go ahead": _abandon_reason,
    "check-in notes": _check_in_notes,
    "flag resolution": _flag_resolution,
    "reason for closing an account": _closure_reason,
    "FAQ (admin)": _faq,
    "treatment page (admin)": _public_treatment_texts,
    "consent form (admin)": _consent_form_texts,
    "location (admin)": _location_texts,
}


def _assert_escaped(html: str, what: str, where: str = "") -> None:
    assert ESCAPED in html, f"{what}: not shown on {where}"
    assert "<script>alert" not in html, f"{what}: shown unescaped on {where}"


@pytest.mark.parametrize("what", sorted(ESCAPE_CASES))
def test_typed_text_is_escaped_where_it_is_shown(what, fuzz_world):
    for user, url in ESCAPE_CASES[what](fuzz_world):
        response = _client_for(user).get(url)
        assert response.status_code == 200, (url, response.status_code)
        _assert_escaped(response.content.decode(), what, url)
