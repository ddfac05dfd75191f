"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest
from django.core.cache import cache
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


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: the database is rolled back after every test,
    and what was cached from it must go too (free times, log-in limits)."""
    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _appointment_emails_in_process(monkeypatch):
    """Appointment emails go to the Celery worker in production. Here the task runs in
    the test's own process when it is handed over, so that tests read ``mail.outbox``;
    tests/bookings/test_appointment_email_task.py checks the hand-over itself."""
    from bookings import tasks

    def run_now(args=None, kwargs=None, **options):
        return tasks.send_appointment_email.apply(args=args, kwargs=kwargs)

    monkeypatch.setattr(tasks.send_appointment_email, "apply_async", run_now)


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


# --- availability -------------------------------------------------------------------------

from datetime import date, time  # noqa: E402

from clinic.models import OpeningHours, WorkingPattern  # noqa: E402

from .factories import ConsultingRoomFactory, LocationFactory  # noqa: E402


@pytest.fixture
def open_clinic(db, consultant, nurse):
    """A clinic open Monday to Friday 09:00–17:00 (local time) with one consulting room,
    one treatment room, and the ``consultant`` and ``nurse`` fixtures working those hours
    there from 2026-01-01. Returns the location; rooms are ``location.rooms``."""
    location = LocationFactory()
    ConsultingRoomFactory(location=location, name="Consulting room")
    RoomFactory(location=location, name="Treatment room", kind=Room.Kind.TREATMENT)
    for weekday in range(5):
        OpeningHours.objects.create(
            location=location, weekday=weekday, opens=time(9), closes=time(17)
        )
        for staff in (consultant, nurse):
            WorkingPattern.objects.create(
                staff=staff,
                location=location,
                weekday=weekday,
                starts=time(9),
                ends=time(17),
                valid_from=date(2026, 1, 1),
            )
    return location


REFERENCE_DATA = [
    ("clinic.migrations.0002_create_role_groups", "create_role_groups"),
    ("clinic.migrations.0003_clinical_role_permissions", "grant"),
    ("treatments.migrations.0002_seed_catalogue", "seed"),
    ("treatments.migrations.0004_seed_prices_and_buffers", "seed"),
    ("clinic.migrations.0005_availability_permissions", "grant"),
    ("clinic.migrations.0006_admins_remove_availability_rows", "grant"),
    ("treatments.migrations.0007_public_page_text", "fill"),
    ("clinic.migrations.0007_faq_price_and_closure_permissions", "grant"),
    ("clinic.migrations.0008_security_permissions", "grant"),
]


@pytest.fixture
def reference_data(transactional_db) -> None:
    """Transactional tests (browser, concurrency) end with a flush that empties every
    table, the rows of the data migrations included (role groups, the catalogue, consent
    forms, prices). Put them back by running those same idempotent migration steps."""
    import importlib

    from django.apps import apps

    for module, function in REFERENCE_DATA:
        getattr(importlib.import_module(module), function)(apps, None)


# Tests that share one broker (and its queues) or start worker processes run one after
# another in the same pytest-xdist worker; everything else is spread over the CPUs.
SERIAL_FILES = ("test_celery.py", "test_delivery.py", "test_concurrency.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SERIAL_FILES:
            item.add_marker(pytest.mark.xdist_group("broker"))
