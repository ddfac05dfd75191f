"""A world for the access tests: two patients (A and B), each with one of every object a URL
can name, made through the real services; the clinic's staff; and helpers that compare the
database before and after a request."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from django.apps import apps
from django.core import signing
from django.utils import timezone

from aftercare import services as aftercare_services
from aftercare.models import AftercarePlan, CourseFlag, Reminder
from bookings.feeds import calendar_feed_for
from bookings.models import Appointment, CalendarFeed
from clinic.models import Room, StaffMember
from patients.models import AccountClosureRequest, Patient, Screening
from patients.services import account_closure_request
from treatments import services as treatment_services
from treatments.models import Course, Legs, SessionRecord, SignedConsent

from ..factories import LONDON, CourseFactory, PatientFactory, ScreeningFactory

# The apps whose rows hold the clinic's data; a refused request must leave all of them as
# they were (history tables and the record-access log included).
DATA_APPS = ("clinic", "patients", "treatments", "bookings", "aftercare")


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=LONDON)


@dataclass
class PatientWorld:
    """One patient and one of each object of theirs that a URL can point at."""

    patient: Patient
    screening: Screening
    course: Course
    consultation: Appointment
    consent: SignedConsent
    done_session: SessionRecord  # completed three days ago
    next_session: SessionRecord  # booked, five weeks ahead (the patient may still move it)
    plan: AftercarePlan
    flag: CourseFlag
    closure: AccountClosureRequest
    feed: CalendarFeed
    check_in_token: str
    unsubscribe_token: str

    @property
    def appointment(self) -> Appointment:
        """A booked appointment of theirs in the future."""
        return self.next_session.appointment

    @property
    def booking_key(self) -> str:
        """The key of their course on the booking pages (``slug:course id``)."""
        return f"{self.course.treatment.slug}:{self.course.pk}"


@dataclass
class World:
    a: PatientWorld
    b: PatientWorld
    nurse: StaffMember
    consultant: StaffMember
    clinic_admin: StaffMember
    room: Room
    staff_feed: CalendarFeed  # the nurse's private diary address


def unsubscribe_token(patient: Patient, kind: str = Reminder.Kind.DAILY_WALK) -> str:
    """The token of an unsubscribe link, as the reminder emails make it."""
    return signing.dumps({"p": patient.pk, "k": kind}, salt="aftercare.unsubscribe")


def build_patient_world(
    *, nurse: StaffMember, consultant: StaffMember, room: Room, hour: int
) -> PatientWorld:
    """A patient part-way through a course: screened (one answer flagged, not reviewed),
    consent signed online, session 1 completed three days ago (so an aftercare plan runs),
    session 2 booked five weeks ahead, a warning symptom reported today (an open flag),
    an open request to close the account, a calendar address and reminder-link tokens.
    ``hour`` keeps two patients' sessions apart in the shared rooms and diaries."""
    today = timezone.localdate()
    patient = PatientFactory()
    screening = ScreeningFactory(patient=patient, takes_anticoagulants=True)
    course = CourseFactory(patient=patient, consultant=consultant)
    form = treatment_services.consent_current_form(course.treatment)
    assert form is not None, "the seeded catalogue has a consent form in force"
    consent = treatment_services.consent_sign(
        course=course,
        form=form,
        typed_name=patient.full_name,
        statements_accepted=list(form.statements),
        method=SignedConsent.Method.ONLINE,
    )

    def schedule(start: datetime) -> SessionRecord:
        return treatment_services.session_schedule(
            course=course, start=start, minutes=30, consultant=consultant, nurse=nurse, room=room
        )

    done = schedule(at(today - timedelta(days=3), hour))
    treatment_services.session_confirm_consent(session=done, nurse=nurse)
    treatment_services.session_start(session=done, by=nurse)
    treatment_services.session_record(session=done, by=nurse, discharge_walk_minutes=10)
    for leg in Legs.sides(done.legs_treated):
        treatment_services.session_fit_stocking(
            session=done, by=nurse, leg=leg, compression_class="2", length="thigh"
        )
    done = treatment_services.session_complete(session=done, by=nurse)
    upcoming = schedule(at(today + timedelta(days=35), hour))
    aftercare_services.check_in_record(
        patient=patient, day=today, walked=True, warning_symptoms=["hot_painful_leg"]
    )
    course.refresh_from_db()
    return PatientWorld(
        patient=patient,
        screening=screening,
        course=course,
        consultation=course.consultation,
        consent=consent,
        done_session=done,
        next_session=upcoming,
        plan=AftercarePlan.objects.get(session=done),
        flag=CourseFlag.objects.get(course=course),
        closure=account_closure_request(patient=patient, reason="Moving abroad."),
        feed=calendar_feed_for(user=patient.user),
        check_in_token=aftercare_services.check_in_token(
            patient_id=patient.pk, day=today, action="walked"
        ),
        unsubscribe_token=unsubscribe_token(patient),
    )


@pytest.fixture
def world(nurse, consultant, clinic_admin, treatment_room) -> World:
    return World(
        a=build_patient_world(nurse=nurse, consultant=consultant, room=treatment_room, hour=10),
        b=build_patient_world(nurse=nurse, consultant=consultant, room=treatment_room, hour=12),
        nurse=nurse,
        consultant=consultant,
        clinic_admin=clinic_admin,
        room=treatment_room,
        staff_feed=calendar_feed_for(user=nurse.user),
    )


def database_fingerprint(exclude: set[str] | frozenset[str] = frozenset()) -> str:
    """A digest of every row of the clinic's tables: equal digests, nothing changed.
    ``exclude`` leaves out models by label, lower case (``"patients.recordaccess"``)."""
    digest = hashlib.sha256()
    for model in apps.get_models():
        meta = model._meta
        if meta.app_label not in DATA_APPS or not meta.managed or meta.label_lower in exclude:
            continue
        digest.update(model._meta.label.encode())
        for row in model._default_manager.order_by("pk").values_list():
            digest.update(repr(row).encode())
    return digest.hexdigest()
