"""A booking runs in one transaction and opens no savepoint inside it.

``appointment_book`` holds the transaction and lets every refusal out of it, so the
appointment and session it writes need no savepoints of their own (each cost two
statements). The services called on their own still keep theirs: a caller that catches
their refusal inside its own transaction can go on using it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from aftercare.models import Reminder, ReminderPreference
from bookings import services
from bookings.availability import Slot
from bookings.models import Appointment
from bookings.services import (
    appointment_book,
    appointment_create,
)
from clinic.errors import DomainError

from ..factories import (
    PatientFactory,
    local,
    treatment,
)

pytestmark = pytest.mark.django_db

NOW = local(2026, 5, 4, 8)
POSTGRES_ONLY = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: only its exclusion constraints refuse an insert",
)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def savepoints(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith("SAVEPOINT")]


@pytest.fixture(autouse=True)
def preferences(patient, course):
    """Made at a patient's first booking (with a savepoint of its own, once)."""
    for someone in (patient, course.patient):
        ReminderPreference.objects.get_or_create(patient=someone)


def test_a_consultation_booking_opens_only_its_own_savepoint(open_clinic, patient):
    # The test runs inside a transaction, so the booking's own transaction is the one
    # savepoint; in production it is the transaction itself.
    with CaptureQueriesContext(connection) as queries:
        appointment_book(
            patient=patient,
            treatment=treatment("initial-consultation"),
            start=local(2026, 5, 5, 10),
            minutes=30,
        )
    assert len(savepoints(queries)) == 1


def test_a_session_booking_opens_only_its_own_savepoint(open_clinic, course, consultant):
    course.consultant = consultant
    course.save()
    with CaptureQueriesContext(connection) as queries:
        appointment = appointment_book(
            patient=course.patient,
            treatment=course.treatment,
            start=local(2026, 5, 5, 10),
            minutes=45,
        )
    assert appointment.session_record.number == 1
    assert len(savepoints(queries)) == 1


@pytest.fixture
def taken(open_clinic, consultant, monkeypatch):
    """A consultation at 10:00, and the clash check switched off, so that a second
    booking at that time reaches the insert and the database's own refusal (as when a
    race is lost)."""
    first = appointment_create(
        patient=PatientFactory(),
        treatment=treatment("initial-consultation"),
        start=local(2026, 5, 5, 10),
        minutes=30,
        consultant=consultant,
        room=open_clinic.rooms.get(name="Consulting room"),
    )
    monkeypatch.setattr(services, "appointment_check_clashes", lambda **kwargs: None)
    return first


@POSTGRES_ONLY
def test_a_refused_insert_leaves_the_callers_transaction_usable(taken, patient):
    with transaction.atomic():  # the caller's transaction
        with pytest.raises(DomainError) as refused:
            appointment_create(
                patient=patient,
                treatment=taken.treatment,
                start=taken.start + timedelta(minutes=10),
                minutes=30,
                consultant=taken.consultant,
                room=taken.room,
            )
        assert refused.value.code == "conflict"
        # The refusal went back to the service's savepoint: the caller carries on.
        assert Appointment.objects.filter(patient=patient).count() == 0


@POSTGRES_ONLY
def test_a_booking_refused_at_the_insert_is_just_taken_and_rolled_back(taken, patient, monkeypatch):
    # The search offers the taken time, as it would have a moment before the race.
    slot = Slot(
        start=taken.start,
        end=taken.end,
        location_id=taken.room.location_id,
        consultant_id=taken.consultant_id,
        room_id=taken.room_id,
    )
    monkeypatch.setattr(services, "_find_slot", lambda **kwargs: slot)
    with transaction.atomic():
        with pytest.raises(DomainError) as refused:
            appointment_book(
                patient=patient, treatment=taken.treatment, start=taken.start, minutes=30
            )
        assert refused.value.message == services.TIME_TAKEN
        assert refused.value.code == "conflict"
        # Rolled back to the booking's own savepoint: the caller's transaction works.
        assert Appointment.objects.filter(patient=patient).count() == 0
        assert not Reminder.objects.filter(patient=patient).exists()
