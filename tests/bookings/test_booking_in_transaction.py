"""The versions of the booking services meant for a caller's transaction refuse to run
outside one: a refusal after their first insert would otherwise leave half a booking.

A module of its own: the test needs an empty, transactional database with the reference
data put back, while the savepoint tests beside it make patients in autouse fixtures."""

from __future__ import annotations

import pytest
from django.db.transaction import TransactionManagementError

from bookings.models import Appointment
from bookings.services import appointment_create_in_transaction
from treatments.services import session_schedule_in_transaction

from ..factories import (
    ConsultingRoomFactory,
    CourseFactory,
    NurseFactory,
    PatientFactory,
    local,
    treatment,
)


@pytest.mark.django_db(transaction=True)
def test_the_versions_for_a_callers_transaction_refuse_to_run_without_one(reference_data):
    """Without a transaction a refusal after the insert would leave half a booking."""
    course = CourseFactory()
    room = ConsultingRoomFactory()
    before = Appointment.objects.count()  # the course's consultation
    with pytest.raises(RuntimeError, match="needs a transaction"):
        appointment_create_in_transaction(
            patient=PatientFactory(),
            treatment=treatment("initial-consultation"),
            start=local(2026, 5, 5, 10),
            minutes=30,
            consultant=course.consultant,
            room=room,
        )
    # A session: refused by the course's row lock on PostgreSQL, by the appointment's
    # check on SQLite (which has no row locks); either way before anything is written.
    with pytest.raises((RuntimeError, TransactionManagementError), match="transaction"):
        session_schedule_in_transaction(
            course=course,
            start=local(2026, 5, 5, 10),
            minutes=45,
            consultant=course.consultant,
            nurse=NurseFactory(),
            room=room,
        )
    assert Appointment.objects.count() == before
