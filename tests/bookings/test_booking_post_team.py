"""A booking reads its team (consultant, nurse, room) where it locks them, and checks them
as they are then; and it closes the patient's place on the waiting list."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.models import WaitingListEntry
from bookings.services import appointment_book, appointment_create, waiting_list_join
from clinic.errors import DomainError
from clinic.models import Room, StaffMember

from ..factories import ConsultantFactory, ConsultingRoomFactory, PatientFactory, local, treatment

pytestmark = pytest.mark.django_db

NOW = local(2026, 5, 4, 8)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def create(**overrides):
    arguments = {
        "patient": PatientFactory(),
        "treatment": treatment("initial-consultation"),
        "start": local(2026, 5, 5, 10),
        "minutes": 30,
        "consultant": ConsultantFactory(),
        "room": ConsultingRoomFactory(),
    }
    arguments.update(overrides)
    return appointment_create(**arguments)


def test_a_consultant_who_left_meanwhile_is_refused_though_the_caller_saw_them_active():
    consultant = ConsultantFactory()
    StaffMember.objects.filter(pk=consultant.pk).update(is_active=False)
    assert consultant.is_active  # the caller's copy is out of date
    with pytest.raises(DomainError, match="active consultant"):
        create(consultant=consultant)


def test_a_room_taken_out_of_use_meanwhile_is_refused():
    room = ConsultingRoomFactory()
    Room.objects.filter(pk=room.pk).update(is_active=False)
    with pytest.raises(DomainError, match="not in use"):
        create(room=room)


def test_the_appointment_holds_the_team_as_read_under_the_locks():
    consultant, room = ConsultantFactory(), ConsultingRoomFactory()
    appointment = create(consultant=StaffMember(pk=consultant.pk), room=Room(pk=room.pk))
    assert appointment.consultant.display_name == consultant.display_name
    assert appointment.room.name == room.name
    appointment.refresh_from_db()
    assert (appointment.consultant_id, appointment.room_id) == (consultant.pk, room.pk)


def test_a_team_member_who_does_not_exist_is_refused():
    with pytest.raises(DomainError, match="active consultant"):
        create(consultant=StaffMember(pk=987654))


def test_booking_reads_the_team_only_where_it_locks_it(open_clinic, patient):
    with CaptureQueriesContext(connection) as queries:
        appointment_book(
            patient=patient,
            treatment=treatment("initial-consultation"),
            start=local(2026, 5, 5, 10),
            minutes=30,
        )
    staff_reads = [q["sql"] for q in queries if 'FROM "clinic_staffmember"' in q["sql"]]
    room_reads = [q["sql"] for q in queries if 'FROM "clinic_room"' in q["sql"]]
    # The slot search reads who is working and which rooms are open (one query each);
    # the booking reads the chosen ones once more, in the locking query.
    assert len(staff_reads) == 2
    assert len(room_reads) == 2


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks: SQLite has no SELECT ... FOR UPDATE"
)
def test_the_locks_take_the_team_and_the_patient_and_nothing_else(open_clinic, patient):
    with CaptureQueriesContext(connection) as queries:
        appointment_book(
            patient=patient,
            treatment=treatment("initial-consultation"),
            start=local(2026, 5, 5, 10),
            minutes=30,
        )
    locking = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"]]
    assert len(locking) == 3
    # A join would lock the joined rows too: the patient's user must stay free.
    assert not any("JOIN" in sql for sql in locking)


def test_booking_closes_the_patients_place_on_the_waiting_list(open_clinic, patient):
    consultation = treatment("initial-consultation")
    waiting_list_join(
        patient=patient,
        treatment=consultation,
        earliest_date=date(2026, 5, 5),
        latest_date=date(2026, 5, 20),
    )
    someone_else = PatientFactory()
    waiting_list_join(
        patient=someone_else,
        treatment=consultation,
        earliest_date=date(2026, 5, 5),
        latest_date=date(2026, 5, 20),
    )
    appointment_book(
        patient=patient, treatment=consultation, start=local(2026, 5, 5, 10), minutes=30
    )
    mine = WaitingListEntry.objects.get(patient=patient)
    assert mine.status == WaitingListEntry.Status.BOOKED
    history = mine.history.order_by("history_id").values_list("status", flat=True)
    assert list(history) == ["waiting", "booked"]
    assert WaitingListEntry.objects.get(patient=someone_else).status == "waiting"
