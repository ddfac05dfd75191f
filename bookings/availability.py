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

How it stays fast over months and many staff (``bench/slot_search.py`` measures it):
instants are whole microseconds since the epoch (plain integers, exact), each resource's
busy and working times are sorted, merged interval lists, and the candidate starts of one
opening span are the bits of an integer: one mask per resource says at which starts it is
usable, so a busy interval rules out a run of starts in one operation instead of each start
asking each resource in turn. The team of a slot is chosen only for starts that are free:
the first room (by name), consultant and nurse (by id) whose mask has that start.

Reading the diary is the other half of the time. Each day asks only the staff at work at
that location that day (``_WorkingTime.rota``), and on PostgreSQL the appointments, the
one large read, come through a hand-written statement (``_appointment_rows``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connections
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

HOLDS_TIME = [
    Appointment.Status.BOOKED,
    Appointment.Status.CHECKED_IN,
    Appointment.Status.COMPLETED,
    Appointment.Status.NO_SHOW,
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.date().toordinal()
_MICROSECOND = timedelta(microseconds=1)
_DAY_US = 86_400_000_000
_MINUTE_US = 60_000_000
_DAY_MARGIN_US = 4 * 60 * _MINUTE_US  # more than any change of the clocks


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


def _us(moment: datetime) -> int:
    """An aware instant as microseconds since the epoch: exact, where ``timestamp()``
    would round through a float."""
    return (moment - _EPOCH) // _MICROSECOND


def _instant(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _clock_us(clock: time) -> int:
    return ((clock.hour * 60 + clock.minute) * 60 + clock.second) * 1_000_000 + clock.microsecond


class _Intervals:
    """Sorted, merged half-open intervals [start, end) of one resource, in microseconds.

    Merged means disjoint and not touching, so both ``starts`` and ``ends`` are sorted and
    can be searched with bisect.
    """

    __slots__ = ("ends", "starts")

    def __init__(self, pairs: list[tuple[int, int]]) -> None:
        starts: list[int] = []
        ends: list[int] = []
        for start, end in sorted(pairs):
            if ends and start <= ends[-1]:
                if end > ends[-1]:
                    ends[-1] = end
            else:
                starts.append(start)
                ends.append(end)
        self.starts = starts
        self.ends = ends

    def clashes(self, starts: list[int], hold: int) -> int:
        """The bits of ``starts`` (sorted) whose [start, start + hold) overlaps an interval."""
        begins, ends = self.starts, self.ends
        mask = 0
        # The intervals that end after the first start and begin before the last is over.
        for i in range(bisect_right(ends, starts[0]), bisect_left(begins, starts[-1] + hold)):
            lo = bisect_right(starts, begins[i] - hold)
            hi = bisect_left(starts, ends[i])
            if lo < hi:
                mask |= (1 << hi) - (1 << lo)
        return mask

    def holds(self, starts: list[int], length: int) -> int:
        """The bits of ``starts`` whose [start, start + length) lies inside one interval
        (working time: the whole appointment within one stretch at work)."""
        begins, ends = self.starts, self.ends
        mask = 0
        # The intervals long enough past the first start that begin by the last one.
        for i in range(bisect_left(ends, starts[0] + length), bisect_right(begins, starts[-1])):
            lo = bisect_left(starts, begins[i])
            hi = bisect_right(starts, ends[i] - length)
            if lo < hi:
                mask |= (1 << hi) - (1 << lo)
        return mask


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
        .order_by()
        .values_list("number", "appointment__start")
    )
    if not course.is_open or len(live) >= course.planned_sessions:
        return None
    if not live:
        return date.min
    _, last_start = max(live, key=lambda row: row[0])
    return timezone.localtime(last_start).date() + timedelta(days=course.min_gap_days)


class _LocalDay:
    """One local day in the clinic's zone, its wall-clock times as UTC microseconds.

    On a day without a change of the clocks every time has the same offset and converting
    is arithmetic. A day with a change (the offsets at its midnight and the next differ)
    goes through ``local_instant`` for each time, so the skipped hour has no starts and the
    repeated hour is offered once. (A zone that changed twice within one day and back to
    the same offset would slip through; no zone in use does.)
    """

    __slots__ = ("base", "day", "uniform", "zone")

    def __init__(self, day: date, zone: ZoneInfo) -> None:
        # A zone-aware datetime always has an offset; ``or`` only satisfies the type.
        offset = datetime.combine(day, time.min, tzinfo=zone).utcoffset() or timedelta(0)
        after = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).utcoffset()
        self.day = day
        self.zone = zone
        self.uniform = offset == after
        self.base = (day.toordinal() - _EPOCH_ORDINAL) * _DAY_US - offset // _MICROSECOND

    def at(self, clock: time) -> int | None:
        """The instant of a wall-clock time, None where it does not exist that day."""
        if self.uniform:
            return self.base + _clock_us(clock)
        instant = local_instant(self.day, clock, self.zone)
        return None if instant is None else _us(instant)

    def starts(self, opens: time, closes: time, step: int, length: int) -> list[int]:
        """Candidate starts from ``opens`` every ``step`` on the wall clock, as long as the
        appointment ends by ``closes``; none when either time does not exist that day."""
        open_at, close_at = self.at(opens), self.at(closes)
        if open_at is None or close_at is None:
            return []
        if self.uniform:
            return list(range(open_at, min(close_at, close_at - length + 1), step))
        out = []
        for instant in _wall_clock_starts(
            self.day, opens, closes, timedelta(microseconds=step), self.zone
        ):
            start = _us(instant)
            if start + length > close_at:
                break
            out.append(start)
        return out


@dataclass(frozen=True)
class _Request:
    """What is being looked for, in microseconds."""

    length: int  # the appointment itself (what the patient's diary must have free)
    hold: int  # with the treatment's buffer (what staff and the room must have free)
    duration: timedelta  # ``length`` again, to make each slot's end from its start
    step: int
    earliest: int | None
    latest: int | None
    needs_nurse: bool


@dataclass
class _Diary:
    """Everything one search reads, shaped for it."""

    location_ids: list[int]  # in the locations' order
    rooms: dict[int, list[int]]  # per location, by name
    hours: dict[tuple[int, int], list[tuple[time, time]]]  # (location, weekday), sorted
    closed: set[tuple[int | None, date]]
    # Per location and local day, the staff at work there that day (in id order), each with
    # all their working time at that location.
    consultants_on: dict[tuple[int, date], list[tuple[int, _Intervals]]]
    nurses_on: dict[tuple[int, date], list[tuple[int, _Intervals]]]
    staff_busy: dict[int, _Intervals]
    room_busy: dict[int, _Intervals]
    patient_busy: _Intervals | None


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

    days = [_LocalDay(day, zone) for day in _days(first_day, last_day)]
    course_consultant = course.consultant_id if course is not None else None
    diary = _read_diary(
        days,
        zone,
        room_kind=Room.Kind.TREATMENT if needs_nurse else Room.Kind.CONSULTING,
        needs_nurse=needs_nurse,
        patient=patient,
        location=location,
        only_consultants=[pk for pk in (course_consultant, consultant_id) if pk is not None],
        ignore_appointment_id=ignore_appointment_id,
    )
    length = minutes * _MINUTE_US
    request = _Request(
        length=length,
        hold=length + treatment.buffer_minutes * _MINUTE_US,
        duration=timedelta(minutes=minutes),
        step=settings.BOOKING_SLOT_STEP_MINUTES * _MINUTE_US,
        earliest=_us(window.earliest) if window else None,
        latest=_us(window.latest) if window else None,
        needs_nurse=needs_nurse,
    )
    result: dict[date, list[Slot]] = {}
    for local in days:
        found = _slots_of_day(local, diary, request)
        if found:
            result[local.day] = found
    return result


def _read_diary(
    days: list[_LocalDay],
    zone: ZoneInfo,
    *,
    room_kind: str,
    needs_nurse: bool,
    patient: Patient | None,
    location: Location | None,
    only_consultants: list[int],
    ignore_appointment_id: int | None,
) -> _Diary:
    """One query each for rooms, hours, closures, staff, patterns, exceptions and
    appointments, whatever the number of days, staff or appointments."""
    first_day, last_day = days[0].day, days[-1].day
    range_start = local_instant(first_day, time.min, zone) or datetime.combine(
        first_day, time.min, tzinfo=zone
    ).astimezone(UTC)
    range_end = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone).astimezone(
        UTC
    )
    rooms = _rooms_by_location(room_kind, location)
    location_ids = list(rooms)
    consultants, nurses = _staff(needs_nurse, only_consultants)
    staff_ids = consultants + nurses
    working = _working_time(days, staff_ids, location_ids)
    staff_busy: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
    for staff_id, kind, location_id, starts_at, ends_at in (
        StaffException.objects.filter(
            staff_id__in=staff_ids, starts_at__lt=range_end, ends_at__gt=range_start
        )
        .order_by()
        .values_list("staff_id", "kind", "location_id", "starts_at", "ends_at")
    ):
        if kind == StaffException.Kind.EXTRA and location_id:
            working.add((staff_id, location_id), _us(starts_at), _us(ends_at))
        elif kind == StaffException.Kind.LEAVE:
            staff_busy[staff_id].append((_us(starts_at), _us(ends_at)))
    room_ids = [pk for ids in rooms.values() for pk in ids]
    rows = _appointment_rows(
        # A little either side of the range: buffers reach past midnight both ways.
        since=range_start - timedelta(hours=4),
        until=range_end + timedelta(hours=4),
        staff_ids=staff_ids,
        room_ids=room_ids,
        patient_id=patient.pk if patient is not None else None,
        ignore_appointment_id=ignore_appointment_id,
    )
    room_busy, patient_busy = _held(rows, staff_ids, room_ids, staff_busy)
    return _Diary(
        location_ids=location_ids,
        rooms=rooms,
        hours=_opening_hours(location_ids),
        closed=set(
            Closure.objects.filter(date__gte=first_day, date__lte=last_day)
            .filter(Q(location_id__in=location_ids) | Q(location__isnull=True))
            .order_by()
            .values_list("location_id", "date")
        ),
        consultants_on=working.rota(consultants, location_ids),
        nurses_on=working.rota(nurses, location_ids),
        staff_busy={key: _Intervals(pairs) for key, pairs in staff_busy.items()},
        room_busy={key: _Intervals(pairs) for key, pairs in room_busy.items()},
        patient_busy=_Intervals(patient_busy) if patient_busy else None,
    )


def _rooms_by_location(room_kind: str, location: Location | None) -> dict[int, list[int]]:
    """Active rooms of the kind, per active location. The locations come with their rooms
    (one without a room of the kind has nothing to offer), in their usual order (by
    name), and the rooms by name: the first free one is offered."""
    rooms = Room.objects.filter(is_active=True, kind=room_kind, location__is_active=True)
    if location is not None:
        rooms = rooms.filter(location_id=location.pk)
    by_location: dict[int, list[int]] = {}
    for room_id, location_id in rooms.order_by("location__name", "location_id", "name").values_list(
        "pk", "location_id"
    ):
        by_location.setdefault(location_id, []).append(room_id)
    return by_location


def _opening_hours(location_ids: list[int]) -> dict[tuple[int, int], list[tuple[time, time]]]:
    hours: dict[tuple[int, int], list[tuple[time, time]]] = defaultdict(list)
    for location_id, weekday, opens, closes in (
        OpeningHours.objects.filter(location_id__in=location_ids)
        .order_by()
        .values_list("location_id", "weekday", "opens", "closes")
    ):
        hours[(location_id, weekday)].append((opens, closes))
    for spans in hours.values():
        spans.sort()
    return hours


def _staff(needs_nurse: bool, only_consultants: list[int]) -> tuple[list[int], list[int]]:
    """Active consultants (only those asked for, if any) and nurses, each in id order."""
    consultants: list[int] = []
    nurses: list[int] = []
    roles = [StaffMember.StaffRole.CONSULTANT] + ([StaffMember.StaffRole.NURSE] * needs_nurse)
    for pk, role in (
        StaffMember.objects.filter(is_active=True, role__in=roles)
        .order_by("pk")
        .values_list("pk", "role")
    ):
        if role == StaffMember.StaffRole.NURSE:
            nurses.append(pk)
        elif all(pk == only for only in only_consultants):
            consultants.append(pk)
    return consultants, nurses


def _held(
    rows: list[_AppointmentRow],
    staff_ids: list[int],
    room_ids: list[int],
    staff_busy: defaultdict[int, list[tuple[int, int]]],
) -> tuple[dict[int, list[tuple[int, int]]], list[tuple[int, int]]]:
    """The time appointments hold: staff and rooms up to the end of the appointment's
    buffer (the staff's added to ``staff_busy``), the patient only up to its end."""
    staff = set(staff_ids)
    rooms = set(room_ids)
    room_busy: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
    patient_busy: list[tuple[int, int]] = []
    for begins, held_until, consultant_id, nurse_id, room_id, own_end in rows:
        held = (begins, held_until)
        if consultant_id in staff:
            staff_busy[consultant_id].append(held)
        if nurse_id in staff:
            staff_busy[nurse_id].append(held)
        if room_id in rooms:
            room_busy[room_id].append(held)
        if own_end is not None:
            patient_busy.append((begins, own_end))  # the buffer is the clinic's, not theirs
    return room_busy, patient_busy


# Start, end of the time held (the end plus the treatment's buffer), consultant, nurse,
# room, and for the patient's own appointments the end (None for everyone else's).
_AppointmentRow = tuple[int, int, int, int | None, int, int | None]


def _appointment_rows(
    *,
    since: datetime,
    until: datetime,
    staff_ids: list[int],
    room_ids: list[int],
    patient_id: int | None,
    ignore_appointment_id: int | None,
) -> list[_AppointmentRow]:
    """The appointments between ``since`` and ``until`` that hold time of one of the
    staff, one of the rooms or the patient (all but ``ignore_appointment_id``), as
    integer microseconds since the epoch.

    Three months of a busy clinic are thousands of rows: the largest read of a search.
    On PostgreSQL it is one hand-written statement on a plain cursor, in which the
    database turns the times into integers (cheaper to hand over than timestamps with
    their zone) and adds the buffer. Built through the ORM and read through
    ``values_list``, the same read took twice the CPU time (4.6 against 2.3 ms for the
    3,450 rows of three months in the world of ``bench/slot_search.py``). Other
    databases (SQLite in development and tests) go through the ORM, and the times are
    converted here; the tests in ``tests/bookings/test_availability_scale.py`` hold both
    to the same answers as a plain reading of the rules.
    """
    connection = connections[Appointment.objects.db]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _HELD_SQL,
                {
                    "since": since,
                    "since_us": _us(since),
                    "until": until,
                    "statuses": HOLDS_TIME,
                    "staff": staff_ids,
                    "rooms": room_ids,
                    "patient": patient_id,
                    "ignore": ignore_appointment_id,
                },
            )
            return cursor.fetchall()
    holders = Q(consultant_id__in=staff_ids) | Q(nurse_id__in=staff_ids) | Q(room_id__in=room_ids)
    if patient_id is not None:
        holders |= Q(patient_id=patient_id)
    appointments = Appointment.objects.filter(
        holders, start__lt=until, end__gt=since, status__in=HOLDS_TIME
    )
    if ignore_appointment_id is not None:
        appointments = appointments.exclude(pk=ignore_appointment_id)
    return [
        (
            _us(start),
            _us(end) + buffer * _MINUTE_US,
            consultant_id,
            nurse_id,
            room_id,
            _us(end) if holder == patient_id else None,
        )
        for start, end, consultant_id, nurse_id, room_id, holder, buffer in (
            appointments.order_by().values_list(
                "start",
                "end",
                "consultant_id",
                "nurse_id",
                "room_id",
                "patient_id",
                "treatment__buffer_minutes",
            )
        )
    ]


# The same rows as the ORM query above, for PostgreSQL.
#
# Times as whole microseconds since the epoch, exactly: the database counts from ``since``
# in floating point (``date_part`` of the interval) and adds ``since``'s own microseconds.
# Over a span shorter than 2**51 microseconds (71 years) the rounding error stays far
# below half a microsecond, so the rounded count is exact; and it costs the database less
# than ``EXTRACT``'s numeric arithmetic on every row (0.9 against 1.6 ms for the 3,769
# rows of the benchmark's three months).
#
# ``IS DISTINCT FROM`` a NULL keeps every appointment; ``= NULL`` (no patient) matches none.
_HELD_SQL = """
SELECT (date_part('epoch', a.start - %(since)s) * 1000000)::bigint + %(since_us)s,
       (date_part('epoch', a."end" - %(since)s) * 1000000)::bigint + %(since_us)s
           + t.buffer_minutes * 60000000::bigint,
       a.consultant_id,
       a.nurse_id,
       a.room_id,
       CASE WHEN a.patient_id = %(patient)s
            THEN (date_part('epoch', a."end" - %(since)s) * 1000000)::bigint + %(since_us)s
       END
  FROM bookings_appointment a
  JOIN treatments_treatment t ON t.id = a.treatment_id
 WHERE a.start < %(until)s
   AND a."end" > %(since)s
   AND a.status = ANY(%(statuses)s)
   AND (a.consultant_id = ANY(%(staff)s)
        OR a.nurse_id = ANY(%(staff)s)
        OR a.room_id = ANY(%(rooms)s)
        OR a.patient_id = %(patient)s)
   AND a.id IS DISTINCT FROM %(ignore)s
"""


class _WorkingTime:
    """Working time per (staff, location) as it is gathered, and the days it falls on.

    A search over months would otherwise ask everyone who ever works at a location, on
    every day, whether they work now; most days most of them do not. So each stretch also
    notes the searched days (by index) it belongs to: a pattern its own day, any other
    stretch every day it touches, give or take a few hours, so that one past midnight or
    on a day the clocks change is never missed (a day too many only costs a look).
    """

    def __init__(self, days: list[_LocalDay]) -> None:
        self.days = days
        self.midnights = [local.base for local in days]
        self.pairs: defaultdict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        self.on_days: defaultdict[tuple[int, int], set[int]] = defaultdict(set)

    def add(self, key: tuple[int, int], start: int, end: int, index: int | None = None) -> None:
        """A stretch of working time of ``key`` (staff, location): a pattern's on the day
        ``index``, or any other (an extra clinic) where it falls."""
        self.pairs[key].append((start, end))
        if index is not None:
            self.on_days[key].add(index)
        else:
            first = max(bisect_right(self.midnights, start - _DAY_MARGIN_US) - 1, 0)
            last = bisect_left(self.midnights, end + _DAY_MARGIN_US)
            self.on_days[key].update(range(first, last))

    def rota(
        self, staff_ids: list[int], location_ids: list[int]
    ) -> dict[tuple[int, date], list[tuple[int, _Intervals]]]:
        """Per (location, local day), the staff at work there that day, in id order."""
        rota: defaultdict[tuple[int, date], list[tuple[int, _Intervals]]] = defaultdict(list)
        for pk in staff_ids:
            for location_id in location_ids:
                key = (pk, location_id)
                if key in self.pairs:
                    hours = _Intervals(self.pairs[key])
                    for index in sorted(self.on_days[key]):
                        rota[(location_id, self.days[index].day)].append((pk, hours))
        return rota


def _working_time(
    days: list[_LocalDay], staff_ids: list[int], location_ids: list[int]
) -> _WorkingTime:
    """Working time per (staff, location) from the patterns: each pattern on every searched
    day of its weekday within its dates (the days are consecutive, so those are every
    seventh from the first)."""
    first_day, last_day = days[0].day, days[-1].day
    working = _WorkingTime(days)
    for staff_id, location_id, weekday, starts, ends, valid_from, valid_until in (
        WorkingPattern.objects.filter(
            staff_id__in=staff_ids, location_id__in=location_ids, valid_from__lte=last_day
        )
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=first_day))
        .order_by()
        .values_list(
            "staff_id", "location_id", "weekday", "starts", "ends", "valid_from", "valid_until"
        )
    ):
        first = max((valid_from - first_day).days, 0)
        last = len(days) - 1 if valid_until is None else (valid_until - first_day).days
        first += (weekday - (first_day.weekday() + first)) % 7
        key = (staff_id, location_id)
        begins_us, ends_us = _clock_us(starts), _clock_us(ends)
        for index in range(first, min(last, len(days) - 1) + 1, 7):
            local = days[index]
            if local.uniform:
                working.add(key, local.base + begins_us, local.base + ends_us, index)
                continue
            start, end = local.at(starts), local.at(ends)
            if start is not None and end is not None:
                working.add(key, start, end, index)
    return working


def _slots_of_day(local: _LocalDay, diary: _Diary, request: _Request) -> list[Slot]:
    day = local.day
    if (None, day) in diary.closed:
        return []
    taken: dict[int, Slot] = {}
    for location_id in diary.location_ids:
        if (location_id, day) in diary.closed:
            continue
        consultants = diary.consultants_on.get((location_id, day))
        if not consultants:
            continue  # nobody to see the patient here today, whatever the hours
        nurses = diary.nurses_on.get((location_id, day), [])
        for opens, closes in diary.hours.get((location_id, day.weekday()), ()):
            starts = local.starts(opens, closes, request.step, request.length)
            if starts:
                _fill_span(starts, location_id, consultants, nurses, diary, request, taken)
    return [taken[start] for start in sorted(taken)]


def _fill_span(
    starts: list[int],
    location_id: int,
    consultants_on: list[tuple[int, _Intervals]],
    nurses_on: list[tuple[int, _Intervals]],
    diary: _Diary,
    request: _Request,
    taken: dict[int, Slot],
) -> None:
    """Add the slots of one opening span to ``taken``; a start an earlier location or span
    of the day already offers stays as it was. Staff first (those at work here today):
    whether anyone can see the patient rules out most starts soonest."""
    lo = 0 if request.earliest is None else bisect_left(starts, request.earliest)
    hi = len(starts) if request.latest is None else bisect_right(starts, request.latest)
    wanted = (1 << hi) - (1 << lo) if lo < hi else 0
    consultants = _staff_masks(consultants_on, diary, starts, request, wanted)
    wanted &= _any(consultants)
    nurses: list[tuple[int, int]] = []
    if request.needs_nurse:
        nurses = _staff_masks(nurses_on, diary, starts, request, wanted)
        wanted &= _any(nurses)
    if wanted and diary.patient_busy is not None:
        wanted &= ~diary.patient_busy.clashes(starts, request.length)
    rooms = _room_masks(diary.rooms[location_id], diary, starts, request, wanted)
    wanted &= _any(rooms)
    while wanted:
        bit = wanted & -wanted
        wanted ^= bit
        start = starts[bit.bit_length() - 1]
        if start in taken:
            continue
        begins = _instant(start)
        taken[start] = Slot(
            start=begins,
            end=begins + request.duration,
            location_id=location_id,
            consultant_id=_first(consultants, bit),
            room_id=_first(rooms, bit),
            nurse_id=_first(nurses, bit) if request.needs_nurse else None,
        )


def _staff_masks(
    rota: list[tuple[int, _Intervals]],
    diary: _Diary,
    starts: list[int],
    request: _Request,
    wanted: int,
) -> list[tuple[int, int]]:
    """Each member of staff on the day's rota (in order) with the wanted starts they can
    take: at work there for the whole appointment, and nothing else held meanwhile."""
    out = []
    for pk, hours in rota if wanted else ():
        mask = wanted & hours.holds(starts, request.length)
        busy = diary.staff_busy.get(pk) if mask else None
        if busy is not None:
            mask &= ~busy.clashes(starts, request.hold)
        if mask:
            out.append((pk, mask))
    return out


def _room_masks(
    rooms: list[int], diary: _Diary, starts: list[int], request: _Request, wanted: int
) -> list[tuple[int, int]]:
    """Each room (in order) with the wanted starts at which it is free."""
    out = []
    for pk in rooms if wanted else ():
        mask = wanted
        if pk in diary.room_busy:
            mask &= ~diary.room_busy[pk].clashes(starts, request.hold)
        if mask:
            out.append((pk, mask))
    return out


def _any(masks: list[tuple[int, int]]) -> int:
    combined = 0
    for _, mask in masks:
        combined |= mask
    return combined


def _first(masks: list[tuple[int, int]], bit: int) -> int:
    for pk, mask in masks:
        if mask & bit:
            return pk
    raise AssertionError("a slot's start without a resource")  # pragma: no cover


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
