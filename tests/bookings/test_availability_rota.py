"""Slot search: who is at work on which day.

``free_slots`` asks each day only the staff at work at that location that day (a per-day
rota worked out once from patterns and extra clinics). Working time that runs past
midnight belongs to both days: leaving it out of the second would lose free time without
any other test noticing, because the random clinics of ``test_availability_scale.py``
rarely open in the small hours.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TypeVar

import pytest

from bookings.availability import free_slots
from clinic.models import Location, OpeningHours, Room, StaffException, StaffMember, WorkingPattern

from ..factories import LONDON, ConsultantFactory, LocationFactory, RoomFactory, treatment

pytestmark = pytest.mark.django_db
M = TypeVar("M")


def made(model: type[M], obj: object) -> M:
    """A factory's product, typed as its model."""
    assert isinstance(obj, model)
    return obj


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("night", "starts"),
    [
        # A Friday night in summer: until 01:30, which ends as the extra clinic does.
        (date(2026, 6, 5), 7),
        # The night the clocks go back at 02:00: the hour from 01:00 happens twice and its
        # times are offered once (the first time), so 01:45 still ends well before 02:00.
        (date(2026, 10, 24), 8),
    ],
)
def test_an_extra_clinic_past_midnight_counts_on_the_next_day(night, starts):
    morning = night + timedelta(days=1)
    location = made(Location, LocationFactory(slug="night", name="Night clinic"))
    room = made(Room, RoomFactory(location=location, name="Consulting", kind=Room.Kind.CONSULTING))
    OpeningHours.objects.create(
        location=location, weekday=morning.weekday(), opens=time(0), closes=time(3)
    )
    consultant = made(StaffMember, ConsultantFactory())
    # Someone else works the small hours by pattern, so the morning has a rota of its own,
    # which the consultant on the extra clinic must join.
    other = made(StaffMember, ConsultantFactory())
    WorkingPattern.objects.create(
        staff=other,
        location=location,
        weekday=morning.weekday(),
        starts=time(2),
        ends=time(3),
        valid_from=night - timedelta(days=7),
    )
    ends_at = _at(morning, time(2))
    StaffException.objects.create(
        staff=consultant,
        kind=StaffException.Kind.EXTRA,
        location=location,
        starts_at=_at(night, time(22)),
        ends_at=ends_at,
    )

    found = free_slots(
        treatment=treatment("initial-consultation"),
        minutes=30,
        first_day=night,  # the extra clinic starts on a day searched too
        last_day=morning,
    )

    assert list(found) == [morning]  # the night has no opening hours
    slots = found[morning]
    mine = [s for s in slots if s.consultant_id == consultant.pk]
    quarters = [time(h, m) for h in (0, 1) for m in (0, 15, 30, 45)]
    assert [s.local_start.time() for s in mine] == quarters[:starts]
    assert all(s.end <= ends_at for s in mine)
    assert [s.local_start.time() for s in slots if s.consultant_id == other.pk] == [
        time(2),
        time(2, 15),
        time(2, 30),
    ]
    assert {s.room_id for s in slots} == {room.pk}
