"""The clinic's free times, kept in the shared cache between searches.

Most of a slot search does not depend on who is looking: which consultant, nurse and room
are free at which starts of a day is the same for every patient. Only three things are
the patient's own, and they only ever take starts away, never change the team of a start
that stays:

- the patient's own appointments (a patient is never in two places at once);
- the booking window (minimum notice and horizon), which moves with the clock;
- a course's plan and minimum gap, which move the first day a session may be booked.

So the clinic's part is cached per local day, per kind of search (treatment with its
buffer, length, location, consultant), and the patient's part is applied on top on every
call. ``free_slots`` here returns exactly what ``bookings.availability.free_slots`` returns
for the same arguments (``tests/bookings/test_slot_cache.py`` compares them).

Keeping it fresh. Every day has a version token in the cache, and one token covers the
whole clinic; a cached day is stored under the tokens read *before* its diary was read.
- Saving or deleting an appointment gives new tokens to the days around its old and new
  times, at once and again when its transaction commits: a search that read the diary
  before the commit stored its answer under a token that is replaced after the commit.
- Saving or deleting anything else the search reads (rooms, locations, opening hours,
  closures, staff, working patterns, leave and extra clinics, treatments) gives the
  clinic a new token: every cached day is forgotten.
- Tokens are random, so a token that the cache dropped comes back as a new one, never as
  an old one with stale days behind it. Cached days also expire on their own after
  ``SLOT_CACHE_SECONDS``.

A free time shown from the cache is never booked on its word: booking searches the
diary again, under row locks, and the database's constraints refuse a double booking.
At worst a time taken a moment ago is shown and the patient is told it has gone.

The cache is on when ``SLOT_CACHE_SECONDS`` is above 0, which the settings do only when
the cache is shared by every process (Redis); a cache of one process would not hear of
another process's bookings. If the cache fails, the search runs uncached.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Model, signals
from django.utils import timezone

from clinic.models import Location
from patients.models import Patient
from treatments.models import Course, Treatment

from . import availability
from .availability import BookingWindow, Slot, course_earliest_day
from .models import Appointment

logger = logging.getLogger(__name__)

_PREFIX = "slots:1"  # bump the number when the stored shape changes
_CLINIC_TOKEN = f"{_PREFIX}:clinic"
# Tokens outlive the days stored under them: a day may be stored just before its token
# would expire, and then be found under a new token nobody has written to.
_TOKEN_SECONDS = 7 * 24 * 60 * 60
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# One free start of a cached day: start (µs since the epoch), location, consultant, room,
# nurse (0 for none). Plain integers: small to store, quick to read.
_Row = tuple[int, int, int, int, int]


def enabled() -> bool:
    return getattr(settings, "SLOT_CACHE_SECONDS", 0) > 0


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
    """``bookings.availability.free_slots``, with the clinic's part from the cache."""
    arguments: dict[str, Any] = {
        "treatment": treatment,
        "minutes": minutes,
        "first_day": first_day,
        "last_day": last_day,
        "patient": patient,
        "course": course,
        "location": location,
        "window": window,
        "ignore_appointment_id": ignore_appointment_id,
        "consultant_id": consultant_id,
    }
    # Moving an appointment leaves that appointment out of the diary: not the clinic's
    # usual picture, so it is searched afresh.
    if not enabled() or ignore_appointment_id is not None:
        return availability.free_slots(**arguments)
    rows = _free_rows(**arguments)
    if rows is None:
        return availability.free_slots(**arguments)
    length = timedelta(minutes=minutes)
    result: dict[date, list[Slot]] = {}
    for day, starts in rows.items():
        slots = []
        for start_us, location_id, consultant, room, nurse in starts:
            start = _EPOCH + timedelta(microseconds=start_us)
            slots.append(
                Slot(
                    start=start,
                    end=start + length,
                    location_id=location_id,
                    consultant_id=consultant,
                    room_id=room,
                    nurse_id=nurse or None,
                )
            )
        result[day] = slots
    return result


def free_counts(
    *,
    treatment: Treatment,
    minutes: int,
    first_day: date,
    last_day: date,
    patient: Patient | None = None,
    course: Course | None = None,
    window: BookingWindow | None = None,
) -> dict[date, int]:
    """How many free starts each day has (days without any left out): what a month's
    calendar shows, without building a slot for every start."""
    arguments: dict[str, Any] = {
        "treatment": treatment,
        "minutes": minutes,
        "first_day": first_day,
        "last_day": last_day,
        "patient": patient,
        "course": course,
        "window": window,
    }
    rows = _free_rows(**arguments) if enabled() else None
    if rows is None:
        return {day: len(slots) for day, slots in availability.free_slots(**arguments).items()}
    return {day: len(starts) for day, starts in rows.items()}


def _free_rows(
    *,
    treatment: Treatment,
    minutes: int,
    first_day: date,
    last_day: date,
    patient: Patient | None,
    course: Course | None,
    window: BookingWindow | None,
    location: Location | None = None,
    ignore_appointment_id: int | None = None,
    consultant_id: int | None = None,
) -> dict[date, list[_Row]] | None:
    """The free starts per day with the patient's part applied; None when the cache
    cannot be used (the caller then searches uncached)."""
    consultants = {pk for pk in (course.consultant_id if course else None, consultant_id) if pk}
    if len(consultants) > 1:
        return {}  # a course's session stays with the course's consultant
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
    kind = _Kind(treatment, minutes, location, next(iter(consultants), None))
    try:
        clinic = _clinic_rows(kind, first_day, last_day)
    except Exception:
        logger.warning("Slot cache unavailable; searching without it", exc_info=True)
        return None
    earliest = _us(window.earliest) if window is not None else None
    latest = _us(window.latest) if window is not None else None
    length = minutes * 60_000_000
    busy = _patient_busy(patient, first_day, last_day)
    out: dict[date, list[_Row]] = {}
    for day, rows in clinic.items():
        kept = [
            row
            for row in rows
            if (earliest is None or row[0] >= earliest)
            and (latest is None or row[0] <= latest)
            and not any(begins < row[0] + length and row[0] < ends for begins, ends in busy)
        ]
        if kept:
            out[day] = kept
    return out


class _Kind:
    """What the clinic's part of a search depends on, as part of a cache key."""

    def __init__(
        self, treatment: Treatment, minutes: int, location: Location | None, consultant: int | None
    ) -> None:
        self.treatment = treatment
        self.minutes = minutes
        self.location = location
        self.consultant = consultant
        self.key = ":".join(
            str(part)
            for part in (
                treatment.pk,
                treatment.kind,
                treatment.buffer_minutes,
                minutes,
                settings.BOOKING_SLOT_STEP_MINUTES,
                location.pk if location is not None else "",
                consultant or "",
            )
        )


def _clinic_rows(kind: _Kind, first_day: date, last_day: date) -> dict[date, list[_Row]]:
    """Every day's free starts for anyone, from the cache, searching the days it lacks
    (in one search from the first missing day to the last)."""
    days = list(_days(first_day, last_day))
    tokens = _tokens(days)
    clinic = tokens[_CLINIC_TOKEN]
    keys = {day: f"{_PREFIX}:{clinic}:{tokens[_day_key(day)]}:{kind.key}:{day}" for day in days}
    found: dict[str, list[_Row]] = cache.get_many(list(keys.values()))
    missing = [day for day in days if keys[day] not in found]
    rows = {day: found[keys[day]] for day in days if keys[day] in found}
    if missing:
        searched = availability.free_slots(
            treatment=kind.treatment,
            minutes=kind.minutes,
            first_day=missing[0],
            last_day=missing[-1],
            location=kind.location,
            consultant_id=kind.consultant,
        )
        fresh = {
            day: [
                (_us(s.start), s.location_id, s.consultant_id, s.room_id, s.nurse_id or 0)
                for s in searched.get(day, [])
            ]
            for day in _days(missing[0], missing[-1])
        }
        cache.set_many(
            {keys[day]: value for day, value in fresh.items()},
            timeout=settings.SLOT_CACHE_SECONDS,
        )
        rows.update(fresh)
    return {day: rows[day] for day in days if rows[day]}


def _tokens(days: list[date]) -> dict[str, str]:
    """The clinic's token and each day's, making new ones for those the cache lacks."""
    wanted = [_CLINIC_TOKEN, *(_day_key(day) for day in days)]
    tokens: dict[str, str] = cache.get_many(wanted)
    new = {key: _new_token() for key in wanted if key not in tokens}
    if new:
        # A token written here at the same moment as a change's is as good as the
        # change's: both are new, and the days are read from the diary after this.
        cache.set_many(new, timeout=_TOKEN_SECONDS)
        tokens.update(new)
    return tokens


def _patient_busy(
    patient: Patient | None, first_day: date, last_day: date
) -> list[tuple[int, int]]:
    if patient is None:
        return []
    zone = timezone.get_current_timezone()
    begins = datetime.combine(first_day, datetime.min.time(), tzinfo=zone) - timedelta(days=1)
    ends = datetime.combine(last_day, datetime.min.time(), tzinfo=zone) + timedelta(days=2)
    return [
        (_us(start), _us(end))
        for start, end in Appointment.objects.filter(
            patient=patient,
            status__in=availability.HOLDS_TIME,
            start__lt=ends,
            end__gt=begins,
        )
        .order_by()
        .values_list("start", "end")
    ]


# --- keeping it fresh ---------------------------------------------------------------------


def forget_days(days: Iterable[date]) -> None:
    """New tokens for these days: what was cached for them is not used again."""
    keys = {_day_key(day): _new_token() for day in set(days)}
    _write_tokens(keys)


def forget_all() -> None:
    """A new token for the clinic: nothing cached so far is used again."""
    _write_tokens({_CLINIC_TOKEN: _new_token()})


def _write_tokens(tokens: dict[str, str]) -> None:
    if not enabled() or not tokens:
        return
    try:
        cache.set_many(tokens, timeout=_TOKEN_SECONDS)
    except Exception:
        logger.error("Could not refresh the slot cache after a change", exc_info=True)


def _now_and_on_commit(forget: Any, *args: Any) -> None:
    forget(*args)
    transaction.on_commit(lambda: forget(*args))


def _appointment_days(start: datetime | None, end: datetime | None) -> list[date]:
    """The local days whose free times an appointment can change: its own, and one
    either side (buffers and searches reach past midnight)."""
    if start is None or end is None:
        return []
    first = timezone.localtime(start).date() - timedelta(days=1)
    last = timezone.localtime(end).date() + timedelta(days=1)
    return list(_days(first, last))


def _appointment_changed(sender: type[Model], instance: Appointment, **kwargs: Any) -> None:
    if not enabled():
        return
    days = _appointment_days(instance.start, instance.end)
    if instance._loaded_times is not None:
        days += _appointment_days(*instance._loaded_times)
    _now_and_on_commit(forget_days, days)
    instance._loaded_times = (instance.start, instance.end)


def _clinic_changed(sender: type[Model], **kwargs: Any) -> None:
    if kwargs.get("raw") or not enabled():
        return
    _now_and_on_commit(forget_all)


def connect() -> None:
    """Called once from the app's ready()."""
    from clinic.models import (
        Closure,
        OpeningHours,
        Room,
        StaffException,
        StaffMember,
        WorkingPattern,
    )

    for signal in (signals.post_save, signals.post_delete):
        signal.connect(_appointment_changed, sender=Appointment, dispatch_uid=f"slots-{signal}")
        for model in (
            Location,
            Room,
            OpeningHours,
            Closure,
            StaffMember,
            WorkingPattern,
            StaffException,
            Treatment,
        ):
            signal.connect(
                _clinic_changed, sender=model, dispatch_uid=f"slots-{model.__name__}-{signal}"
            )


# --- small helpers ------------------------------------------------------------------------


def _new_token() -> str:
    return secrets.token_hex(6)


def _day_key(day: date) -> str:
    return f"{_PREFIX}:day:{day.isoformat()}"


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND
