"""Slot search: the diary's times are compared to the microsecond.

On PostgreSQL the database hands the appointments' times over as integers it works out
itself (``bookings.availability._HELD_SQL``); elsewhere Python converts them. Either way
an appointment that ends one microsecond after a start takes that start, and one that ends
exactly at it leaves it free; the same at the other end, with the treatment's buffer, and
for an appointment that began before the searched range.

The clinic of ``open_clinic`` is open Monday to Friday 09:00–17:00; its ``consultant``
works those hours there.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TypeVar

import pytest

from bookings.availability import free_slots
from bookings.models import Appointment
from clinic.models import Room
from patients.models import Patient

from ..factories import LONDON, PatientFactory, treatment

pytestmark = pytest.mark.django_db
M = TypeVar("M")

MONDAY = date(2026, 6, 1)
US = timedelta(microseconds=1)


def made(model: type[M], obj: object) -> M:
    """A factory's product, typed as its model."""
    assert isinstance(obj, model)
    return obj


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=LONDON)


def _free_starts(day: date) -> list[time]:
    found = free_slots(
        treatment=treatment("initial-consultation"), minutes=30, first_day=day, last_day=day
    )
    return [slot.local_start.time() for slot in found.get(day, [])]


@pytest.mark.parametrize(
    ("slug", "start", "end", "taken", "free"),
    [
        # Ends a microsecond into the 10:30 start, or exactly at it.
        (
            "initial-consultation",
            _at(MONDAY, time(10)),
            _at(MONDAY, time(10, 30)) + US,
            time(10, 30),
            time(10, 45),
        ),
        (
            "initial-consultation",
            _at(MONDAY, time(10)),
            _at(MONDAY, time(10, 30)),
            time(10, 15),
            time(10, 30),
        ),
        # Begins a microsecond before 11:30 is over, or exactly as it is.
        (
            "initial-consultation",
            _at(MONDAY, time(12)) - US,
            _at(MONDAY, time(13)),
            time(11, 30),
            time(11, 15),
        ),
        (
            "initial-consultation",
            _at(MONDAY, time(12)),
            _at(MONDAY, time(13)),
            time(12, 0),
            time(11, 30),
        ),
        # A session's 10-minute buffer: held until 10:30 and a microsecond, or exactly 10:30.
        (
            "microsclerotherapy",
            _at(MONDAY, time(9, 45)),
            _at(MONDAY, time(10, 20)) + US,
            time(10, 30),
            time(10, 45),
        ),
        (
            "microsclerotherapy",
            _at(MONDAY, time(9, 45)),
            _at(MONDAY, time(10, 20)),
            time(10, 15),
            time(10, 30),
        ),
        # Began on Sunday evening, before the range searched, half a second into a minute.
        (
            "initial-consultation",
            _at(MONDAY - timedelta(days=1), time(18)) + 500_000 * US,
            _at(MONDAY, time(9)) + US,
            time(9),
            time(9, 15),
        ),
    ],
)
def test_times_count_to_the_microsecond(open_clinic, consultant, slug, start, end, taken, free):
    Appointment.objects.create(
        patient=made(Patient, PatientFactory()),
        treatment=treatment(slug),
        start=start,
        end=end,
        consultant=consultant,
        room=open_clinic.rooms.get(kind=Room.Kind.TREATMENT),  # the consulting room stays free
        status=Appointment.Status.BOOKED,
    )

    starts = _free_starts(MONDAY)

    assert taken not in starts
    assert free in starts
