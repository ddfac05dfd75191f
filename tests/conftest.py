"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest
from django.test import Client

from clinic.models import StaffMember
from patients.models import Patient

from .factories import (
    PASSWORD,
    ClinicAdminFactory,
    ConsultantFactory,
    NurseFactory,
    PatientFactory,
)


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def patient(db) -> Patient:
    return PatientFactory()


@pytest.fixture
def nurse(db) -> StaffMember:
    return NurseFactory()


@pytest.fixture
def consultant(db) -> StaffMember:
    return ConsultantFactory()


@pytest.fixture
def clinic_admin(db) -> StaffMember:
    return ClinicAdminFactory()


@pytest.fixture
def patient_client(client: Client, patient: Patient) -> Client:
    client.force_login(patient.user)
    return client


@pytest.fixture
def nurse_client(client: Client, nurse: StaffMember) -> Client:
    client.force_login(nurse.user)
    return client


@pytest.fixture
def consultant_client(client: Client, consultant: StaffMember) -> Client:
    client.force_login(consultant.user)
    return client


# --- clinical fixtures --------------------------------------------------------------------

from collections.abc import Callable  # noqa: E402
from datetime import datetime  # noqa: E402

from clinic.models import Room  # noqa: E402
from treatments import services as treatment_services  # noqa: E402
from treatments.models import Course, SessionRecord, SignedConsent, Treatment  # noqa: E402

from .factories import CourseFactory, RoomFactory, local, treatment  # noqa: E402


@pytest.fixture
def microsclerotherapy(db) -> Treatment:
    return treatment("microsclerotherapy")


@pytest.fixture
def treatment_room(db) -> Room:
    return RoomFactory(kind=Room.Kind.TREATMENT)


@pytest.fixture
def course(db, nurse) -> Course:
    """A planned course (3 sessions, 28-day gap, both legs) whose patient passed screening."""
    return CourseFactory()


@pytest.fixture
def schedule(nurse, treatment_room) -> Callable[..., SessionRecord]:
    """Book the next session of a course: ``schedule(course, local(2026, 4, 1))``."""

    def _schedule(course: Course, start: datetime, minutes: int = 30) -> SessionRecord:
        return treatment_services.session_schedule(
            course=course,
            start=start,
            minutes=minutes,
            consultant=course.consultant,
            nurse=nurse,
            room=treatment_room,
        )

    return _schedule


@pytest.fixture
def sign_consent() -> Callable[[Course], SignedConsent]:
    """The patient signs the treatment's current consent form online."""

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

    return _sign


@pytest.fixture
def session_today(course, schedule, sign_consent) -> SessionRecord:
    """Session 1 of ``course`` at 10:00 today (clinic time), consent signed online."""
    from django.utils import timezone

    today = timezone.localdate()
    sign_consent(course)
    return schedule(course, local(today.year, today.month, today.day, 10))
