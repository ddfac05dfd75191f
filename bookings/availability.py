"""Slot search: the start times at which every resource an appointment needs is free and
every rule holds.

A slot needs a consultant (for a course session: the course's consultant), and for a
treatment session also a nurse and a treatment room; consultations and reassessments need
a consulting room. Rules: the location's opening hours and closures, staff working
patterns and exceptions (leave, extra clinics), other appointments with their buffers,
the patient's own diary, the minimum notice, the booking horizon, and for course sessions
the plan and the minimum gap.

Everything is read in a fixed number of queries for the whole range and then computed in
memory; candidate starts are generated per local day in the clinic's zone and compared as
UTC instants, so the days the clocks change have neither missing nor doubled local times.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from clinic.models import (
    Closure,
    Location,
    OpeningHours,
    Room,
    StaffException,
    StaffMember,
    WorkingPattern,
)
from patients.models import Patient
from treatments.models import Course, SessionRecord, Treatment

from .models import Appointment

Interval = tuple[datetime, datetime]  # UTC, half-open [start, end)

HOLDS_TIME = [
    Appointment.Status.BOOKED,
    Appointment.Status.CHECKED_IN,
    Appointment.Status.COMPLETED,
    Appointment.Status.NO_SHOW,
]


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware, UTC
    end: datetime
    location_id: int
    consultant_id: int
    room_id: int
    nurse_id: int | None = None

    @property
    def local_start(self) -> datetime:
        return timezone.localtime(self.start)


@dataclass
class Busy:
    """Sorted, merged busy intervals of one resource."""

    intervals: list[Interval] = field(default_factory=list)

    def add(self, start: datetime, end: datetime) -> None:
        self.intervals.append((start, end))

    def freeze(self) -> None:
        merged: list[Interval] = []
        for start, end in sorted(self.intervals):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        self.intervals = merged
        self._starts = [s for s, _ in merged]

    def overlaps(self, start: datetime, end: datetime) -> bool:
        i = bisect_left(self._starts, end)
        return i > 0 and self.intervals[i - 1][1] > start

    def covers(self, start: datetime, end: datetime) -> bool:
        """For working time: one interval holds the whole of [start, end)."""
        i = bisect_left(self._starts, start + timedelta(microseconds=1))
        return i > 0 and self.intervals[i - 1][0] <= start and self.intervals[i - 1][1] >= end


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.CLINIC_TIME_ZONE)


def local_instant(day: date, clock: time, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a local wall-clock time, or None where it does not exist (the
    hour skipped when the clocks go forward). An hour that happens twice gives its first."""
    aware = datetime.combine(day, clock, tzinfo=zone)  # fold=0: the first of a repeated hour
    instant = aware.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != aware.replace(tzinfo=None):
        return None
    return instant


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


class BookingWindow:
    """The first and last instants a patient may book now (notice and horizon)."""

    def __init__(self, now: datetime | None = None) -> None:
        # In UTC, so that adding hours adds real hours whatever zone ``now`` came in.
        self.now = (now or timezone.now()).astimezone(UTC)
        self.earliest = self.now + timedelta(hours=settings.BOOKING_MIN_NOTICE_HOURS)
        self.latest = self.now + timedelta(days=settings.BOOKING_HORIZON_DAYS)


def course_earliest_day(course: Course) -> date | None:
    """Course rules for the next session: None when the plan is used up, else the first
    local day the gap allows (today when there is no session yet)."""
    live = list(
        SessionRecord.objects.filter(course=course)
        .exclude(status=SessionRecord.Status.ABANDONED)
        .select_related("appointment")
    )
    if not course.is_open or len(live) >= course.planned_sessions:
        return None
    if not live:
        return date.min
    last = max(live, key=lambda s: s.number)
    return timezone.localtime(last.appointment.start).date() + timedelta(days=course.min_gap_days)


def free_slots(
    *,
    treatment: Treatment,
    minutes: int,
    first_day: date,
    last_day: date,
    patient: Patient | None = None,
    course: Course | None = None,
    location: Location | None = None,
    window: BookingWindow | None = None,
    ignore_appointment_id: int | None = None,
    consultant_id: int | None = None,
) -> dict[date, list[Slot]]:
    """Free slots per local day, in time order (at most one slot per start time).

    ``ignore_appointment_id`` leaves one appointment out of the busy times: the one being
    rescheduled. Without a window (staff booking) notice and horizon do not apply.
    ``consultant_id`` keeps one consultant (a course session stays with its consultant
    even when it is moved and the course is not passed).
    """
    zone = _zone()
    needs_nurse = treatment.kind == Treatment.Kind.TREATMENT
    room_kind = Room.Kind.TREATMENT if needs_nurse else Room.Kind.CONSULTING
    step = timedelta(minutes=settings.BOOKING_SLOT_STEP_MINUTES)
    length = timedelta(minutes=minutes)
    buffer = timedelta(minutes=treatment.buffer_minutes)

    if course is not None:
        earliest_day = course_earliest_day(course)
        if earliest_day is None:
            return {}
        first_day = max(first_day, earliest_day)
    if window is not None:
        first_day = max(first_day, timezone.localtime(window.earliest).date())
        last_day = min(last_day, timezone.localtime(window.latest).date())
    if first_day > last_day:
        return {}

    range_start = local_instant(first_day, time.min, zone) or datetime.combine(
        first_day, time.min, tzinfo=zone
    ).astimezone(UTC)
    range_end = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone).astimezone(
        UTC
    )

    locations = Location.objects.filter(is_active=True)
    if location is not None:
        locations = locations.filter(pk=location.pk)
    location_ids = list(locations.values_list("pk", flat=True))

    hours: dict[tuple[int, int], list[tuple[time, time]]] = defaultdict(list)
    for row in OpeningHours.objects.filter(location_id__in=location_ids):
        hours[(row.location_id, row.weekday)].append((row.opens, row.closes))
    closed: set[tuple[int | None, date]] = {
        (c.location_id, c.date)
        for c in Closure.objects.filter(date__gte=first_day, date__lte=last_day).filter(
            Q(location_id__in=location_ids) | Q(location__isnull=True)
        )
    }

    consultants = StaffMember.objects.filter(is_active=True, role=StaffMember.StaffRole.CONSULTANT)
    if course is not None:
        consultants = consultants.filter(pk=course.consultant_id)
    if consultant_id is not None:
        consultants = consultants.filter(pk=consultant_id)
    consultant_ids = list(consultants.order_by("pk").values_list("pk", flat=True))
    nurse_ids: list[int] = []
    if needs_nurse:
        nurse_ids = list(
            StaffMember.objects.filter(is_active=True, role=StaffMember.StaffRole.NURSE)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    staff_ids = consultant_ids + nurse_ids
    rooms_by_location: dict[int, list[int]] = defaultdict(list)
    for room_id, location_id in (
        Room.objects.filter(location_id__in=location_ids, is_active=True, kind=room_kind)
        .order_by("name")
        .values_list("pk", "location_id")
    ):
        rooms_by_location[location_id].append(room_id)

    # Working time per (staff, location), busy time per staff, room and the patient.
    working: dict[tuple[int, int], Busy] = defaultdict(Busy)
    busy: dict[tuple[str, int], Busy] = defaultdict(Busy)
    patterns = WorkingPattern.objects.filter(
        staff_id__in=staff_ids, location_id__in=location_ids, valid_from__lte=last_day
    ).filter(Q(valid_until__isnull=True) | Q(valid_until__gte=first_day))
    by_weekday: dict[int, list[WorkingPattern]] = defaultdict(list)
    for pattern in patterns:
        by_weekday[pattern.weekday].append(pattern)
    for day in _days(first_day, last_day):
        for pattern in by_weekday.get(day.weekday(), []):
            if pattern.valid_from <= day and (
                pattern.valid_until is None or day <= pattern.valid_until
            ):
                start = local_instant(day, pattern.starts, zone)
                end = local_instant(day, pattern.ends, zone)
                if start and end:
                    working[(pattern.staff_id, pattern.location_id)].add(start, end)
    for exception in StaffException.objects.filter(
        staff_id__in=staff_ids, starts_at__lt=range_end, ends_at__gt=range_start
    ):
        if exception.kind == StaffException.Kind.EXTRA and exception.location_id:
            working[(exception.staff_id, exception.location_id)].add(
                exception.starts_at, exception.ends_at
            )
        elif exception.kind == StaffException.Kind.LEAVE:
            busy[("staff", exception.staff_id)].add(exception.starts_at, exception.ends_at)

    # A little either side of the range: buffers reach past midnight both ways.
    appointments = Appointment.objects.filter(
        status__in=HOLDS_TIME,
        start__lt=range_end + timedelta(hours=4),
        end__gt=range_start - timedelta(hours=4),
    ).filter(
        Q(consultant_id__in=staff_ids)
        | Q(nurse_id__in=staff_ids)
        | Q(room__location_id__in=location_ids)
        | Q(patient=patient)
    )
    if ignore_appointment_id is not None:
        appointments = appointments.exclude(pk=ignore_appointment_id)
    for (
        start,
        end,
        consultant_id,
        nurse_id,
        room_id,
        patient_id,
        buffer_minutes,
    ) in appointments.values_list(
        "start",
        "end",
        "consultant_id",
        "nurse_id",
        "room_id",
        "patient_id",
        "treatment__buffer_minutes",
    ):
        held_until = end + timedelta(minutes=buffer_minutes or 0)
        busy[("staff", consultant_id)].add(start, held_until)
        if nurse_id:
            busy[("staff", nurse_id)].add(start, held_until)
        busy[("room", room_id)].add(start, held_until)
        if patient is not None and patient_id == patient.pk:
            busy[("patient", patient_id)].add(start, end)
    for intervals in (*working.values(), *busy.values()):
        intervals.freeze()
    empty = Busy()
    empty.freeze()

    def free(kind: str, pk: int, start: datetime, end: datetime) -> bool:
        return not busy.get((kind, pk), empty).overlaps(start, end)

    def at_work(staff_id: int, location_id: int, start: datetime, end: datetime) -> bool:
        return working.get((staff_id, location_id), empty).covers(start, end)

    earliest = window.earliest if window else None
    latest = window.latest if window else None
    result: dict[date, list[Slot]] = {}
    for day in _days(first_day, last_day):
        slots_of_day: dict[datetime, Slot] = {}
        for location_id in location_ids:
            if (location_id, day) in closed or (None, day) in closed:
                continue
            for opens, closes in sorted(hours.get((location_id, day.weekday()), [])):
                open_at = local_instant(day, opens, zone)
                close_at = local_instant(day, closes, zone)
                if open_at is None or close_at is None:
                    continue
                # Step through the local wall clock, not through UTC instants: the hour
                # repeated in autumn is offered once and the hour skipped in spring never.
                for start in _wall_clock_starts(day, opens, closes, step, zone):
                    end = start + length
                    if end > close_at:
                        break
                    if (
                        start not in slots_of_day
                        and (earliest is None or start >= earliest)
                        and (latest is None or start <= latest)
                        and (patient is None or free("patient", patient.pk, start, end))
                    ):
                        slot = _first_free_team(
                            start,
                            end,
                            end + buffer,
                            location_id,
                            consultant_ids,
                            nurse_ids if needs_nurse else None,
                            rooms_by_location.get(location_id, []),
                            free,
                            at_work,
                        )
                        if slot is not None:
                            slots_of_day[start] = slot
        if slots_of_day:
            result[day] = [slots_of_day[k] for k in sorted(slots_of_day)]
    return result


def _wall_clock_starts(
    day: date, opens: time, closes: time, step: timedelta, zone: ZoneInfo
) -> Iterable[datetime]:
    """UTC instants of the local times opens, opens+step, … before closes on ``day``;
    a local time that does not exist that day is left out, a repeated one given once."""
    clock = datetime.combine(day, opens)
    last = datetime.combine(day, closes)
    while clock < last:
        instant = local_instant(day, clock.time(), zone)
        if instant is not None:
            yield instant
        clock += step


def _first_free_team(
    start: datetime,
    end: datetime,
    held_until: datetime,
    location_id: int,
    consultant_ids: list[int],
    nurse_ids: list[int] | None,
    room_ids: list[int],
    free,
    at_work,
) -> Slot | None:
    room = next((r for r in room_ids if free("room", r, start, held_until)), None)
    if room is None:
        return None
    consultant = next(
        (
            c
            for c in consultant_ids
            if at_work(c, location_id, start, end) and free("staff", c, start, held_until)
        ),
        None,
    )
    if consultant is None:
        return None
    nurse = None
    if nurse_ids is not None:
        nurse = next(
            (
                n
                for n in nurse_ids
                if at_work(n, location_id, start, end) and free("staff", n, start, held_until)
            ),
            None,
        )
        if nurse is None:
            return None
    return Slot(
        start=start,
        end=end,
        location_id=location_id,
        consultant_id=consultant,
        room_id=room,
        nurse_id=nurse,
    )
