from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bookings.models import Appointment
from bookings.services import APPOINTMENT_TRANSITIONS, appointment_create, appointment_set_status
from clinic.errors import DomainError
from clinic.models import Room

from ..factories import (
    AppointmentFactory,
    ConsultantFactory,
    ConsultingRoomFactory,
    NurseFactory,
    PatientFactory,
    RoomFactory,
    local,
    treatment,
)

pytestmark = pytest.mark.django_db


def book(**overrides):
    arguments = {
        "patient": PatientFactory(),
        "treatment": treatment("initial-consultation"),
        "start": local(2026, 5, 4, 10),
        "minutes": 30,
        "consultant": ConsultantFactory(),
        "room": ConsultingRoomFactory(),
    }
    arguments.update(overrides)
    return appointment_create(**arguments)


def test_a_consultation_is_put_in_the_diary():
    appointment = book()
    assert appointment.status == Appointment.Status.BOOKED
    assert appointment.minutes == 30
    assert appointment.end == local(2026, 5, 4, 10, 30)


def test_naive_times_are_refused():
    with pytest.raises(DomainError, match="time zone"):
        book(start=datetime(2026, 5, 4, 10))  # noqa: DTZ001 - the point of the test


def test_lengths_come_from_the_treatment():
    with pytest.raises(DomainError, match="booked for 30 minutes"):
        book(minutes=45)


def test_a_treatment_session_needs_a_nurse_and_a_treatment_room():
    microsclerotherapy = treatment("microsclerotherapy")
    with pytest.raises(DomainError, match="needs a nurse"):
        book(treatment=microsclerotherapy, room=RoomFactory(kind=Room.Kind.TREATMENT))
    with pytest.raises(DomainError, match="treatment room"):
        book(treatment=microsclerotherapy, nurse=NurseFactory(), room=ConsultingRoomFactory())


def test_people_must_have_the_right_role():
    with pytest.raises(DomainError, match="active consultant"):
        book(consultant=NurseFactory())


@pytest.mark.parametrize("who", ["consultant", "room", "patient"])
def test_nobody_is_double_booked_but_back_to_back_is_fine(who):
    first = book()
    shared = {
        "consultant": {"consultant": first.consultant},
        "room": {"room": first.room},
        "patient": {"patient": first.patient},
    }[who]
    with pytest.raises(DomainError, match="already"):
        book(start=local(2026, 5, 4, 10, 15), **shared)
    assert book(start=local(2026, 5, 4, 10, 30), **shared).pk  # starts as the other ends


def test_a_cancelled_appointment_frees_its_time():
    first = book()
    appointment_set_status(appointment=first, status=Appointment.Status.CANCELLED)
    assert book(consultant=first.consultant, room=first.room).pk


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        (start, target, target in APPOINTMENT_TRANSITIONS[start])
        for start in Appointment.Status.values
        for target in Appointment.Status.values
        if start != target
    ],
)
def test_status_moves_follow_the_map(start, target, allowed):
    appointment = AppointmentFactory(status=start)
    if allowed:
        assert appointment_set_status(appointment=appointment, status=target).status == target
    else:
        with pytest.raises(DomainError, match="cannot become"):
            appointment_set_status(appointment=appointment, status=target)
        appointment.refresh_from_db()
        assert appointment.status == start


def test_status_moves_are_kept_in_history():
    appointment = AppointmentFactory()
    appointment_set_status(appointment=appointment, status=Appointment.Status.CHECKED_IN)
    appointment_set_status(appointment=appointment, status=Appointment.Status.COMPLETED)
    statuses = list(appointment.history.order_by("history_date").values_list("status", flat=True))
    assert statuses == ["booked", "checked_in", "completed"]


@pytest.mark.parametrize(
    "status",
    [Appointment.Status.COMPLETED, Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW],
)
def test_a_session_appointment_ends_only_through_its_session(course, schedule, status):
    session = schedule(course, local(2026, 5, 4, 10))
    with pytest.raises(DomainError, match="from the session screen"):
        appointment_set_status(appointment=session.appointment, status=status)
    session.appointment.refresh_from_db()
    assert session.appointment.status == Appointment.Status.BOOKED
    # Checking in is not an ending: the diary may do it.
    moved = appointment_set_status(
        appointment=session.appointment, status=Appointment.Status.CHECKED_IN
    )
    assert moved.status == Appointment.Status.CHECKED_IN


def test_length_is_real_minutes_across_the_autumn_clock_change():
    # 01:45 BST on 25 October 2026 (the first 01:45 of the night) is 00:45 UTC. Thirty
    # minutes later is 01:15 UTC; by the wall clock it would be 02:15 GMT, 90 minutes on.
    appointment = book(start=local(2026, 10, 25, 1, 45), minutes=30)
    assert appointment.start == datetime(2026, 10, 25, 0, 45, tzinfo=UTC)
    assert appointment.end == datetime(2026, 10, 25, 1, 15, tzinfo=UTC)
