"""Scale data for performance work: a large, busy clinic written with bulk inserts.

``manage.py seed_scale`` calls :func:`seed_scale`. At ``--scale 1`` it makes 3 locations,
12 rooms, 12 consultants and 8 nurses (every appointment needs a consultant, only
treatment sessions need a nurse), 5,000 patients, 2,000 courses, 50,000 appointments over
two years (18 months back, six months ahead) and 100,000 reminders, plus the rows that go
with them: opening hours and closures, working patterns and leave, screenings, signed
consents, session records with stockings, aftercare plans with check-ins.

How it stays fast and correct:

- Everything is planned in memory first, in index space (no primary keys), from one
  ``random.Random(seed)``: the same seed on the same day gives the same clinic.
- Diaries are bitmasks of 5-minute ticks per person, room and day. An appointment is put
  only where the consultant (and for a session the nurse) is at work at the room's
  location, the location is open (one opening-hours row holds the whole appointment,
  starting on the slot step), nobody and nothing is busy including the treatment's
  buffer, and the patient has nothing else that day. So PostgreSQL's exclusion
  constraints (decision 0003) hold and slot search sees believable diaries.
- One transaction (all or nothing: a failed run leaves nothing behind). On PostgreSQL the
  rows go in with COPY, their keys reserved from the sequences first; the foreign-key and
  exclusion constraints of the loaded tables are set aside during the load and added
  back at its end, so PostgreSQL checks each once over the whole table (as pg_restore
  does); then VACUUM ANALYZE, so the first benchmark queries get real plans. Elsewhere
  (SQLite): bulk_create. One password hash is made and shared by every account.
- Each tracked row gets one "created" history row (simple-history), dated when the row
  was made: pages that count history (calendar feeds) then behave as on real data.

Logins (development data; the password of every one is ``demo-pass-2026``):

- ``scale-consultant-01@scale.example.com`` … and ``scale-nurse-01@scale.example.com`` …
- ``scale-admin@scale.example.com``: a clinic admin (admin site)
- ``scale-patient-0001@scale.example.com`` … numbered in blocks, in this order:
  1. registered, no consultation yet (may book a consultation online): 5 % of patients;
  2. a course in progress whose next session may be booked now: 10 % of the courses;
  3. the other course patients (completed, active, planned and a few discontinued);
  4. consulted without a course (follow-up consultations; some have one booked).
  The command prints the exact number ranges.

Everything made here is found again by the email domain ``@scale.example.com`` and the
location slugs ``scale-…``; :func:`scale_data_delete` removes exactly that.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import time as clock
from bisect import bisect_right
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from simple_history.utils import get_history_manager_for_model

from aftercare.models import AftercarePlan, CheckIn, CourseFlag, Reminder, ReminderPreference
from bookings import slot_cache
from bookings.models import Appointment, CalendarFeed, WaitingListEntry
from patients.models import AccountClosureRequest, Patient, RecordAccess, Screening
from treatments.models import (
    DEFAULT_SCLEROSANT,
    LEG_ZONES,
    AdverseEvent,
    ConsentForm,
    Course,
    CourseExtension,
    Legs,
    Price,
    SessionRecord,
    SignedConsent,
    StockingFitting,
    Treatment,
)

from .demo import DEMO_PASSWORD
from .models import (
    Closure,
    Location,
    OpeningHours,
    Room,
    StaffException,
    StaffMember,
    User,
    WorkingPattern,
)
from .roles import Role

SCALE_EMAIL_DOMAIN = "scale.example.com"
SCALE_SLUG_PREFIX = "scale-"
SCALE_PASSWORD = DEMO_PASSWORD  # development data, like the demo seed
DEFAULT_SEED = 2026
PAST_DAYS = 548  # about 18 months of history
FUTURE_DAYS = 183  # six months ahead: the booking horizon
BATCH = 2000
TICK_MINUTES = 5

Log = Callable[[str], None]
AStatus = Appointment.Status
SStatus = SessionRecord.Status
CStatus = Course.Status
RStatus = Reminder.Status
RKind = Reminder.Kind


class ScaleError(Exception):
    """Scale data cannot be made as asked; the message says why and what to do."""


# --- sizes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How much to make. :meth:`scaled` multiplies the issue's numbers by one factor."""

    locations: int
    rooms: int
    consultants: int
    nurses: int
    patients: int
    courses: int
    appointments: int
    reminders: int

    @classmethod
    def scaled(cls, scale: float) -> Sizes:
        """Counts of rows rounded; the clinic's capacity (places, rooms, staff) rounded up,
        so that a small scale still has room for its appointments."""
        if not (0 < scale <= 20):
            raise ScaleError("The scale must be above 0 and at most 20.")

        def rows(n: int) -> int:
            return max(1, math.floor(n * scale + 0.5))

        def capacity(n: int) -> int:
            return max(1, math.ceil(n * scale - 1e-9))

        locations = capacity(3)
        return cls(
            locations=locations,
            rooms=max(2 * locations, capacity(12)),
            consultants=capacity(12),
            nurses=capacity(8),
            patients=rows(5000),
            courses=rows(2000),
            appointments=rows(50000),
            reminders=rows(100000),
        )

    @property
    def new_patients(self) -> int:
        """Registered, no consultation yet (at least 200 at full scale)."""
        return max(1, round(0.05 * self.patients))

    @property
    def ready_courses(self) -> int:
        """Courses in progress whose next session may be booked now."""
        return min(self.courses, max(1, round(0.10 * self.courses)))

    def check(self) -> None:
        if min(self.patients, self.courses, self.appointments, self.reminders) < 1:
            raise ScaleError("Every count must be at least 1.")
        if self.courses + self.new_patients > self.patients:
            raise ScaleError(
                f"{self.courses} courses need at least {self.courses + self.new_patients} "
                f"patients ({self.new_patients} stay without a consultation)."
            )


# --- small helpers ---------------------------------------------------------------------------


def _runs(mask: int, length: int) -> int:
    """Bits t of ``mask`` where t, t+1, …, t+length-1 are all set (doubling, then one
    overlapping shift: about log2(length) big-integer operations)."""
    span = 1
    while span * 2 <= length:
        mask &= mask >> span
        span *= 2
    if span < length:
        mask &= mask >> (length - span)
    return mask


def _pick_bit(mask: int, rng: random.Random) -> int:
    """A random set bit of a non-zero mask."""
    for _ in range(rng.randrange(mask.bit_count())):
        mask &= mask - 1
    return (mask & -mask).bit_length() - 1


def _minutes(clock_time: time) -> int:
    return clock_time.hour * 60 + clock_time.minute


def _bits(first: int, last: int) -> int:
    """Bits first … last-1."""
    return ((1 << last) - 1) ^ ((1 << first) - 1) if last > first else 0


def _easter(year: int) -> date:
    """Easter Sunday (the anonymous Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


def _monday_on_or_after(day: date) -> date:
    return day + timedelta(days=-day.weekday() % 7)


def bank_holidays(first: date, last: date) -> dict[date, str]:
    """England's regular bank holidays between two days (one-off ones are not known)."""
    found: dict[date, str] = {}
    for year in range(first.year, last.year + 1):
        new_year = date(year, 1, 1)
        if new_year.weekday() >= 5:
            new_year = _monday_on_or_after(new_year)
        easter = _easter(year)
        christmas, boxing = date(year, 12, 25), date(year, 12, 26)
        if christmas.weekday() == 5:  # Saturday: both move to Monday and Tuesday
            christmas, boxing = date(year, 12, 27), date(year, 12, 28)
        elif christmas.weekday() == 6:  # Sunday: Boxing Day on Monday, Christmas on Tuesday
            christmas, boxing = date(year, 12, 27), date(year, 12, 26)
        elif christmas.weekday() == 4:  # Friday: Boxing Day falls on Saturday
            boxing = date(year, 12, 28)
        last_monday_may = _monday_on_or_after(date(year, 5, 25))
        last_monday_august = _monday_on_or_after(date(year, 8, 25))
        found.update(
            {
                new_year: "New Year's Day",
                easter - timedelta(days=2): "Good Friday",
                easter + timedelta(days=1): "Easter Monday",
                _monday_on_or_after(date(year, 5, 1)): "Early May bank holiday",
                last_monday_may: "Spring bank holiday",
                last_monday_august: "Summer bank holiday",
                christmas: "Christmas Day",
                boxing: "Boxing Day",
            }
        )
    return {day: reason for day, reason in sorted(found.items()) if first <= day <= last}


Row = dict[str, Any]  # field attnames to values; HISTORY_DATE dates its history row
HISTORY_DATE = "_history_date"


def _row(**values: Any) -> Row:
    return values


def _insert(model: type[models.Model], rows: list[Row], *, history: bool = False) -> list[int]:
    """Insert the rows and return their keys (also set in each row); with ``history``, one
    "created" history row each, as simple-history would have written it.

    PostgreSQL: keys are reserved from the table's sequence and the rows go in with COPY,
    several times faster than bulk_create (whose cost is mostly building model objects and
    preparing each value). Elsewhere (SQLite, small scales): bulk_create.
    """
    if not rows:
        return []
    meta = model._meta
    pk = meta.pk
    if pk is None:  # every model here has one
        raise RuntimeError(f"{meta.label} has no primary key")
    unknown = set(rows[0]) - {f.attname for f in meta.concrete_fields} - {HISTORY_DATE}
    if unknown:
        raise ScaleError(f"{meta.label} has no field {', '.join(sorted(unknown))}.")
    if connection.vendor == "postgresql" and hasattr(connection.cursor().cursor, "copy_expert"):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, pk.column, len(rows)],
            )
            keys = [key for (key,) in cursor.fetchall()]
        for row, key in zip(rows, keys, strict=True):
            row[pk.attname] = key
        columns: dict[str, list[Any]] = {}  # shared by the rows and their history rows
        _copy(model, list(meta.concrete_fields), rows, {}, columns)
        if history:
            history_model = get_history_manager_for_model(model).model
            _copy(history_model, None, rows, {"history_type": "+"}, columns)
        return keys
    return _bulk_create(model, rows, history=history)


def _copy(
    model: type[models.Model],
    fields: list[Any] | None,
    rows: list[Row],
    fixed: dict[str, Any],
    columns: dict[str, list[Any]],
) -> None:
    """COPY the rows in CSV (formatted by the C csv writer). ``fields`` None: a history
    model, whose own columns come from ``fixed`` and HISTORY_DATE. ``columns`` keeps the
    values of each field, read once."""
    meta = model._meta
    if fields is None:
        fields = [f for f in meta.concrete_fields if f.attname != "history_id"]
    table = []
    for f in fields:
        name = f.attname
        if name in fixed:
            values = [fixed[name]] * len(rows)
        elif name == "history_date":
            values = [row[HISTORY_DATE] for row in rows]
        elif name.startswith("history_"):
            values = [None] * len(rows)
        elif name in columns:
            values = columns[name]
        else:
            default = _default(f)
            values = [row.get(name, default) for row in rows]
            if f.get_internal_type() == "JSONField":
                values = [None if v is None else json.dumps(v) for v in values]
            columns[name] = values
        table.append(values)
    text = io.StringIO()
    csv.writer(text, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n").writerows(
        zip(*table, strict=True)
    )
    text.seek(0)
    quote = connection.ops.quote_name
    names = ", ".join(quote(str(f.column)) for f in fields)
    # The writer quotes None as "": FORCE_NULL reads that as NULL in nullable columns only,
    # so empty text in the others stays empty text.
    nullable = ", ".join(quote(str(f.column)) for f in fields if f.null)
    options = f"FORMAT csv, FORCE_NULL ({nullable})" if nullable else "FORMAT csv"
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {quote(meta.db_table)} ({names}) FROM STDIN WITH ({options})", text
        )


def _default(model_field: Any) -> Any:
    if getattr(model_field, "auto_now", False) or getattr(model_field, "auto_now_add", False):
        return datetime.now(tz=UTC)
    return model_field.get_default()


def _bulk_create(model: type[models.Model], rows: list[Row], *, history: bool) -> list[int]:
    objs = [model(**{k: v for k, v in row.items() if k != HISTORY_DATE}) for row in rows]
    with _own_timestamps(model):
        made = model._default_manager.bulk_create(objs, batch_size=BATCH)
    meta = model._meta
    if meta.pk is None:
        raise RuntimeError(f"{meta.label} has no primary key")
    for row, obj in zip(rows, made, strict=True):
        if obj.pk is None:
            raise ScaleError("This database does not return the keys of bulk inserts.")
        row[meta.pk.attname] = obj.pk
        obj._history_date = row.get(HISTORY_DATE)  # type: ignore[attr-defined]
    if history:
        get_history_manager_for_model(model).bulk_history_create(made, batch_size=BATCH)
    return [obj.pk for obj in made]


@contextmanager
def _own_timestamps(model: type[models.Model]) -> Iterator[None]:
    """Let bulk_create keep the times set on auto_now / auto_now_add fields (a booking made
    three months ago says so), then put the fields back as they were."""
    fields = [f for f in model._meta.concrete_fields if getattr(f, "auto_now_add", False)]
    fields += [f for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]
    saved = [(f, getattr(f, "auto_now", False), getattr(f, "auto_now_add", False)) for f in fields]
    for f in fields:
        setattr(f, "auto_now", False)  # noqa: B010 - not an attribute of every Field type
        setattr(f, "auto_now_add", False)  # noqa: B010
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            setattr(f, "auto_now", auto_now)  # noqa: B010
            setattr(f, "auto_now_add", auto_now_add)  # noqa: B010


# --- names and places (all invented) ---------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "Amelia Olivia Isla Ava Mia Grace Sophia Lily Emily Freya Ella Evie Chloe Ruby Hannah "
    "Priya Aisha Zara Fatima Mei Anna Claire Helen Sarah Rachel Julia Maria Joanne Karen "
    "Linda Susan Margaret Patricia Deborah Nicola Bronwen Siobhan Agnieszka Yasmin Niamh "
    "Oliver George Harry Jack Noah Leo Arthur Thomas James Daniel Mohammed Ravi Samuel "
    "David Peter Michael Andrew Paul Mark Richard Owen Rhys Callum Ewan Tariq"
)
LAST_NAMES = _words(
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Patel Wright Robinson Wood "
    "Thompson Evans Walker White Roberts Green Hall Thomas Clarke Jackson Wood Hughes Lewis "
    "Edwards Hill Moore Clark Harrison Scott Young Morris Hussain Ali Khan Begum Kaur Singh "
    "Martin Cooper Ward Turner Parker Collins Bennett Murphy Kelly Campbell Stewart Murray "
    "Okafor Adeyemi Nowak Kowalski Rossi Fernandes Chen Nguyen Kim Sato"
)
STREETS = (
    "Mill Lane",
    "Church Road",
    "Station Road",
    "Park Avenue",
    "Victoria Street",
    "Orchard Close",
    "Meadow Way",
    "Kings Road",
    "Chapel Street",
    "Willow Drive",
)
TOWNS = ("Riverside", "Northgate", "Westfield", "Eastbrook", "Southmoor", "Highcliff")
GP_PRACTICES = (
    "Riverside Medical Practice",
    "Northgate Health Centre",
    "Westfield Surgery",
    "The Old Forge Practice",
    "Eastbrook Family Doctors",
)
INSURERS = ("Example Health", "Sample Assurance", "Placeholder Medical")
MUSIC = ("Quiet jazz", "Classical, please", "Something from the 80s", "Film soundtracks", "")
CANCEL_REASONS = (
    "Cannot make it: work",
    "Feeling unwell",
    "Family commitment",
    "Moved by the clinic: staff illness",
    "Booked by mistake",
)
SESSION_NOTES = (
    "Tolerated well.",
    "Mild stinging on injection.",
    "Felt faint briefly; recovered lying flat.",
    "Asked for a short break half-way.",
)
PLAN_NOTES = (
    "",
    "",
    "Avoid long-haul flights for four weeks after each session.",
    "Avoid hot baths and saunas for a week after each session.",
    "No high-impact exercise for two days after each session.",
)


@dataclass(frozen=True)
class _Site:
    name: str
    slug: str
    address: str
    phone: str
    hours: tuple[tuple[int, time, time], ...]  # weekday, opens, closes (local)


def _weekdays(days: range, opens: time, closes: time) -> tuple[tuple[int, time, time], ...]:
    return tuple((day, opens, closes) for day in days)


SITES = (
    _Site(
        "Veinline Riverside",
        "riverside",
        "12 Quay Walk\nRiverside\nRV1 4QW",
        "020 7946 0101",
        _weekdays(range(5), time(8), time(19)) + ((5, time(9), time(13)),),
    ),
    _Site(
        "Veinline Northgate",
        "northgate",
        "3 Market Square\nNorthgate\nNG2 7MS",
        "020 7946 0202",
        # A lunch break: two rows a day.
        _weekdays(range(5), time(8, 30), time(12, 30))
        + _weekdays(range(5), time(13, 30), time(18)),
    ),
    _Site(
        "Veinline Westfield",
        "westfield",
        "48 Orchard Road\nWestfield\nWF5 9OR",
        "020 7946 0303",
        _weekdays(range(4), time(9), time(17, 30))
        + ((4, time(9), time(16)), (5, time(9), time(13))),
    ),
)
# Room kinds by position within a location: most rooms are consulting rooms, because
# consultations and reassessments far outnumber treatment sessions.
ROOM_CYCLE = (Room.Kind.CONSULTING, Room.Kind.TREATMENT, Room.Kind.CONSULTING, Room.Kind.CONSULTING)


# --- the plan (index space) ----------------------------------------------------------------


@dataclass(slots=True)
class _Location:
    name: str
    slug: str
    address: str
    phone: str
    hours: tuple[tuple[int, time, time], ...]
    closures: dict[date, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Room:
    location: int
    name: str
    kind: str


@dataclass(slots=True)
class _Pattern:
    location: int
    weekday: int
    starts: time
    ends: time
    valid_from: date
    valid_until: date | None


@dataclass(slots=True)
class _Staff:
    role: str
    email: str
    first: str
    last: str
    title: str
    registration: str
    patterns: list[_Pattern] = field(default_factory=list)
    leave: list[tuple[date, date, str]] = field(default_factory=list)  # first, last day


@dataclass(slots=True)
class _Screening:
    submitted_at: datetime
    flag: str | None
    reviewed_at: datetime | None = None
    reviewed_by: int | None = None


@dataclass(slots=True)
class _Patient:
    email: str
    first: str
    last: str
    group: str
    created_at: datetime | None = None
    screening: _Screening | None = None
    dob: date | None = None
    phone: str = ""
    address: str = ""
    gp: str = ""
    insurer: str = ""
    policy: str = ""
    preauth: str = ""
    sms: bool = False
    walk_time: time = time(9)
    walk_reminders: bool = True

    @property
    def full_name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(slots=True)
class _Slot:
    day: int
    tick: int
    consultant: int
    room: int
    nurse: int | None


@dataclass(slots=True)
class _Appt:
    patient: int
    treatment: Treatment
    day: int
    start: datetime
    end: datetime
    consultant: int
    nurse: int | None
    room: int
    status: str
    created_at: datetime
    booked_online: bool
    cancelled_at: datetime | None = None
    cancellation_reason: str = ""
    late_change: bool = False
    music_request: str = ""
    pk: int = 0


@dataclass(slots=True)
class _Session:
    number: int
    appt: _Appt
    status: str
    abandoned_reason: str = ""
    pk: int = 0


@dataclass(slots=True)
class _Course:
    patient: int
    treatment: Treatment
    consultant: int
    consultation: _Appt
    planned: int
    gap: int
    legs: str
    areas: list[str]
    notes: str
    created_at: datetime
    status: str = CStatus.PLANNED
    status_reason: str = ""
    closed_at: datetime | None = None
    consent_at: datetime | None = None
    consent_witness: int | None = None
    sessions: list[_Session] = field(default_factory=list)
    pk: int = 0


@dataclass(frozen=True)
class _Catalogue:
    consultation: Treatment
    micro: Treatment
    foam: Treatment
    reassessment: Treatment
    forms: dict[int, ConsentForm]  # treatment pk -> current form
    prices: dict[int, list[Price]]  # treatment pk -> single-appointment prices

    @classmethod
    def load(cls, now: datetime) -> _Catalogue:
        by_slug = {t.slug: t for t in Treatment.objects.all()}
        wanted = (
            "initial-consultation",
            "microsclerotherapy",
            "foam-sclerotherapy",
            "reassessment",
        )
        missing = [slug for slug in wanted if slug not in by_slug]
        if missing:
            raise ScaleError(
                f"The catalogue lacks {', '.join(missing)}: run `manage.py migrate` first."
            )
        forms: dict[int, ConsentForm] = {}
        for form in ConsentForm.objects.filter(
            published_at__isnull=False, effective_from__lte=now
        ).order_by("treatment_id", "version"):
            forms[form.treatment_id] = form  # the newest version in effect wins
        for slug in ("microsclerotherapy", "foam-sclerotherapy"):
            if by_slug[slug].pk not in forms:
                raise ScaleError(f"No consent form is published for {slug}: run migrate.")
        prices: dict[int, list[Price]] = {}
        for price in Price.objects.filter(package_sessions__isnull=True).order_by(
            "-effective_from"
        ):
            prices.setdefault(price.treatment_id, []).append(price)
        return cls(
            consultation=by_slug["initial-consultation"],
            micro=by_slug["microsclerotherapy"],
            foam=by_slug["foam-sclerotherapy"],
            reassessment=by_slug["reassessment"],
            forms=forms,
            prices=prices,
        )

    def price_for(self, treatment: Treatment, minutes: int, day: date) -> Price | None:
        """As ``bookings.services.price_for``: this length's price in force, else any length's."""
        rows = [
            p
            for p in self.prices.get(treatment.pk, [])
            if p.effective_from <= day and (p.effective_until is None or day <= p.effective_until)
        ]
        exact = next((p for p in rows if p.minutes == minutes), None)
        return exact or next((p for p in rows if p.minutes is None), None)


# --- the diary: who and what is busy when ----------------------------------------------------


class _Diary:
    """Working time and busy time as bitmasks of ticks, per person or room and day."""

    def __init__(
        self,
        *,
        locations: list[_Location],
        rooms: list[_Room],
        staff: list[_Staff],
        first_day: date,
        days: int,
        zone: ZoneInfo,
        step_minutes: int,
    ) -> None:
        self.zone = zone
        self.tick = math.gcd(TICK_MINUTES, step_minutes)
        self.full = (1 << (1440 // self.tick)) - 1
        step = max(1, step_minutes // self.tick)
        self.dates = [first_day + timedelta(days=i) for i in range(days)]
        open_mask: dict[tuple[int, int], int] = {}
        step_mask: dict[tuple[int, int], int] = {}
        for li, loc in enumerate(locations):
            for weekday, opens, closes in loc.hours:
                first, last = _minutes(opens) // self.tick, _minutes(closes) // self.tick
                key = (li, weekday)
                open_mask[key] = open_mask.get(key, 0) | _bits(first, last)
                starts = step_mask.get(key, 0)
                for t in range(first, last, step):
                    starts |= 1 << t
                step_mask[key] = starts
        self.rooms_at: dict[tuple[int, str], list[int]] = {}
        for ri, room in enumerate(rooms):
            self.rooms_at.setdefault((room.location, room.kind), []).append(ri)
        # (staff, day) -> (location, working-and-open mask, allowed start ticks)
        self.work: dict[tuple[int, int], tuple[int, int, int]] = {}
        self.consultants_on: list[list[int]] = [[] for _ in range(days)]
        self.nurses_at: dict[tuple[int, int], list[int]] = {}
        self.capacity = [0] * days  # consultant minutes at work per day
        for si, person in enumerate(staff):
            away = {
                first + timedelta(days=k)
                for first, last, _ in person.leave
                for k in range((last - first).days + 1)
            }
            for day_index, day in enumerate(self.dates):
                pattern = _pattern_on(person.patterns, day)
                if pattern is None or day in away:
                    continue
                li = pattern.location
                if day in locations[li].closures:
                    continue
                key = (li, day.weekday())
                mask = open_mask.get(key, 0) & _bits(
                    _minutes(pattern.starts) // self.tick, _minutes(pattern.ends) // self.tick
                )
                if not mask:
                    continue
                self.work[(si, day_index)] = (li, mask, step_mask[key])
                if person.role == Role.CONSULTANT:
                    self.consultants_on[day_index].append(si)
                    self.capacity[day_index] += mask.bit_count() * self.tick
                else:
                    self.nurses_at.setdefault((day_index, li), []).append(si)
        self.staff_busy: dict[tuple[int, int], int] = {}
        self.room_busy: dict[tuple[int, int], int] = {}
        self.booked_minutes = [0] * days

    def ticks(self, minutes: int) -> int:
        return -(-minutes // self.tick)

    def place(
        self,
        day: int,
        *,
        treatment: Treatment,
        minutes: int,
        rng: random.Random,
        consultant: int | None = None,
    ) -> _Slot | None:
        """A free place for the appointment on this day, chosen at random, or None."""
        needs_nurse = treatment.kind == Treatment.Kind.TREATMENT
        room_kind = Room.Kind.TREATMENT if needs_nurse else Room.Kind.CONSULTING
        length = self.ticks(minutes)
        held = self.ticks(minutes + treatment.buffer_minutes)
        if consultant is None:  # everyone working that day, from a random one on
            everyone = self.consultants_on[day]
            first = rng.randrange(len(everyone)) if everyone else 0
            candidates = everyone[first:] + everyone[:first]
        else:
            candidates = [consultant]
        full = self.full
        for c in candidates:
            at_work = self.work.get((c, day))
            if at_work is None:
                continue
            location, mask, starts = at_work
            free = _runs(mask, length) & starts
            free &= _runs(full & ~self.staff_busy.get((c, day), 0), held)
            if not free:
                continue
            rooms = []
            any_room = 0
            for r in self.rooms_at.get((location, room_kind), ()):
                fits = free & _runs(full & ~self.room_busy.get((r, day), 0), held)
                if fits:
                    rooms.append((r, fits))
                    any_room |= fits
            free = any_room
            if not free:
                continue
            nurses = []
            if needs_nurse:
                any_nurse = 0
                for n in self.nurses_at.get((day, location), ()):
                    _, nurse_mask, _ = self.work[(n, day)]
                    fits = (
                        free
                        & _runs(nurse_mask, length)
                        & _runs(full & ~self.staff_busy.get((n, day), 0), held)
                    )
                    if fits:
                        nurses.append((n, fits))
                        any_nurse |= fits
                free = any_nurse
                if not free:
                    continue
            tick = _pick_bit(free, rng)
            room = rng.choice([r for r, fits in rooms if fits >> tick & 1])
            nurse = (
                rng.choice([n for n, fits in nurses if fits >> tick & 1]) if needs_nurse else None
            )
            return _Slot(day, tick, c, room, nurse)
        return None

    def hold(self, slot: _Slot, treatment: Treatment, minutes: int) -> None:
        """Mark the time as taken (with the treatment's buffer) for staff and room."""
        bits = _bits(slot.tick, slot.tick + self.ticks(minutes + treatment.buffer_minutes))
        for person in (slot.consultant, slot.nurse):
            if person is not None:
                key = (person, slot.day)
                self.staff_busy[key] = self.staff_busy.get(key, 0) | bits
        key = (slot.room, slot.day)
        self.room_busy[key] = self.room_busy.get(key, 0) | bits
        self.booked_minutes[slot.day] += minutes

    def instant(self, day: int, tick: int) -> datetime:
        minutes = tick * self.tick
        local = datetime.combine(
            self.dates[day], time(minutes // 60, minutes % 60), tzinfo=self.zone
        )
        return local.astimezone(UTC)

    def fill(self, first: int, last: int) -> float:
        """Share of consultant working time booked on days first … last-1."""
        capacity = sum(self.capacity[first:last])
        return sum(self.booked_minutes[first:last]) / capacity if capacity else 0.0


def _pattern_on(patterns: list[_Pattern], day: date) -> _Pattern | None:
    weekday = day.weekday()
    for p in patterns:
        if (
            p.weekday == weekday
            and p.valid_from <= day
            and (p.valid_until is None or day <= p.valid_until)
        ):
            return p
    return None


# --- the planner -----------------------------------------------------------------------------


@dataclass
class _FillerPool:
    """Patients who may have a follow-up of one kind, by the first day they may; a
    follow-up is booked only after the visit that led to it (``since``)."""

    treatment: Treatment
    days: list[int] = field(default_factory=list)
    patients: list[int] = field(default_factory=list)
    since: dict[int, datetime] = field(default_factory=dict)

    def add(self, patient: int, day: int, since: datetime) -> None:
        self.days.append(day)
        self.patients.append(patient)
        self.since[patient] = since

    def sort(self) -> None:
        pairs = sorted(zip(self.days, self.patients, strict=True))
        self.days = [d for d, _ in pairs]
        self.patients = [p for _, p in pairs]

    def eligible(self, day: int) -> int:
        return bisect_right(self.days, day)


class _Planner:
    """Builds the whole clinic in memory; nothing here touches the database."""

    def __init__(self, *, sizes: Sizes, seed: int, now: datetime, catalogue: _Catalogue) -> None:
        self.sizes = sizes
        self.rng = random.Random(seed)  # noqa: S311 (made-up data, not security)  # nosec B311
        self.now = now.astimezone(UTC)
        self.zone = ZoneInfo(settings.CLINIC_TIME_ZONE)
        self.today = self.now.astimezone(self.zone).date()
        self.first_day = self.today - timedelta(days=PAST_DAYS)
        self.last_day = self.today + timedelta(days=FUTURE_DAYS)
        self.days = (self.last_day - self.first_day).days + 1
        self.today_index = PAST_DAYS
        self.cat = catalogue
        self.locations: list[_Location] = []
        self.rooms: list[_Room] = []
        self.staff: list[_Staff] = []
        self.patients: list[_Patient] = []
        self.appts: list[_Appt] = []
        self.courses: list[_Course] = []
        self.patient_days: dict[int, list[int]] = {}
        self.future_kinds: set[tuple[int, str]] = set()
        self.diary: _Diary

    # clinic ------------------------------------------------------------------------------

    def plan_clinic(self) -> None:
        rng, sizes = self.rng, self.sizes
        holidays = bank_holidays(self.first_day, self.last_day)
        for i in range(sizes.locations):
            site = SITES[i % len(SITES)]
            suffix = f" {i // len(SITES) + 1}" if i >= len(SITES) else ""
            slug_suffix = f"-{i // len(SITES) + 1}" if i >= len(SITES) else ""
            location = _Location(
                name=site.name + suffix,
                slug=SCALE_SLUG_PREFIX + site.slug + slug_suffix,
                address=site.address,
                phone=site.phone,
                hours=site.hours,
                closures=dict(holidays),
            )
            for reason in ("Staff training day", "Building maintenance"):
                day = self.first_day + timedelta(days=rng.randrange(self.days))
                if day.weekday() < 5 and day not in location.closures:
                    location.closures[day] = reason
            self.locations.append(location)
        per_location = [0] * sizes.locations
        for i in range(sizes.rooms):
            li = i % sizes.locations
            kind = ROOM_CYCLE[per_location[li] % len(ROOM_CYCLE)]
            per_location[li] += 1
            number = sum(1 for r in self.rooms if r.location == li and r.kind == kind) + 1
            label = "Consulting room" if kind == Room.Kind.CONSULTING else "Treatment room"
            self.rooms.append(_Room(li, f"{label} {number}", kind))
        for i in range(sizes.consultants):
            self.staff.append(self._person(Role.CONSULTANT, i))
        for i in range(sizes.nurses):
            self.staff.append(self._person(Role.NURSE, i))
        self.diary = _Diary(
            locations=self.locations,
            rooms=self.rooms,
            staff=self.staff,
            first_day=self.first_day,
            days=self.days,
            zone=self.zone,
            step_minutes=settings.BOOKING_SLOT_STEP_MINUTES,
        )

    def _person(self, role: str, index: int) -> _Staff:
        rng = self.rng
        consultant = role == Role.CONSULTANT
        label = "consultant" if consultant else "nurse"
        person = _Staff(
            role=role,
            email=f"scale-{label}-{index + 1:02d}@{SCALE_EMAIL_DOMAIN}",
            first=rng.choice(FIRST_NAMES),
            last=rng.choice(LAST_NAMES),
            title=rng.choice(("Dr", "Mr", "Ms", "Miss")) if consultant else "",
            registration=(
                f"GMC {rng.randrange(4000000, 7999999)}"
                if consultant
                else f"NMC {rng.randrange(10, 99)}A{rng.randrange(1000, 9999)}E"
            ),
        )
        home = index % len(self.locations)
        since = self.first_day - timedelta(days=rng.randrange(30, 400))
        if rng.random() < 0.25:  # changed their days part-way through
            change = self.today - timedelta(days=rng.randrange(90, 365))
            person.patterns = self._week(consultant, home, since, change - timedelta(days=1))
            person.patterns += self._week(consultant, home, change, None)
        else:
            person.patterns = self._week(consultant, home, since, None)
        day = self.first_day + timedelta(days=rng.randrange(20, 150))
        while day <= self.last_day:  # a week's leave about twice a year, and a training day
            monday = day - timedelta(days=day.weekday())
            person.leave.append((monday, monday + timedelta(days=4), "Annual leave"))
            training = monday + timedelta(days=rng.randrange(40, 80))
            person.leave.append((training, training, "Training day"))
            day += timedelta(days=rng.randrange(150, 200))
        return person

    def _week(
        self, consultant: bool, home: int, valid_from: date, valid_until: date | None
    ) -> list[_Pattern]:
        rng = self.rng
        count = rng.choice((3, 4, 4) if consultant else (3, 3, 4))
        weekdays = sorted(rng.sample(range(5), count))
        saturday_sites = [
            li for li, loc in enumerate(self.locations) if any(h[0] == 5 for h in loc.hours)
        ]
        if saturday_sites and rng.random() < 0.3:
            weekdays.append(5)
        patterns = []
        for weekday in weekdays:
            open_here = [
                li
                for li, loc in enumerate(self.locations)
                if any(h[0] == weekday for h in loc.hours)
            ]
            if not open_here:
                continue
            stay = home in open_here and rng.random() < 0.8
            li = home if stay else rng.choice(open_here)
            rows = [h for h in self.locations[li].hours if h[0] == weekday]
            starts, ends = self._shift(min(r[1] for r in rows), max(r[2] for r in rows))
            patterns.append(_Pattern(li, weekday, starts, ends, valid_from, valid_until))
        return patterns

    def _shift(self, opens: time, closes: time) -> tuple[time, time]:
        """The whole opening day, or an eight-hour shift inside a long one."""
        first, last = _minutes(opens), _minutes(closes)
        if last - first <= 570:
            return opens, closes
        start = self.rng.choice((first, first + 60, last - 480))
        return time(start // 60, start % 60), time((start + 480) // 60, (start + 480) % 60)

    # people ------------------------------------------------------------------------------

    def plan_patients(self) -> None:
        rng, sizes = self.rng, self.sizes
        width = max(4, len(str(sizes.patients)))
        groups = (
            ["new"] * sizes.new_patients
            + ["ready"] * sizes.ready_courses
            + ["course"] * (sizes.courses - sizes.ready_courses)
        )
        groups += ["consulted"] * (sizes.patients - len(groups))
        for i, group in enumerate(groups):
            patient = _Patient(
                email=f"scale-patient-{i + 1:0{width}d}@{SCALE_EMAIL_DOMAIN}",
                first=rng.choice(FIRST_NAMES),
                last=rng.choice(LAST_NAMES),
                group=group,
            )
            if rng.random() < 0.8:
                patient.dob = self.today - timedelta(days=rng.randrange(25 * 365, 78 * 365))
                patient.address = (
                    f"{rng.randrange(1, 200)} {rng.choice(STREETS)}\n{rng.choice(TOWNS)}"
                )
                patient.gp = rng.choice(GP_PRACTICES)
            if rng.random() < 0.7:
                patient.phone = f"07700 900{rng.randrange(1000):03d}"
                patient.sms = rng.random() < 0.3
            if rng.random() < 0.05:  # insurers rarely pay for thread veins
                patient.insurer = rng.choice(INSURERS)
                patient.policy = f"POL{rng.randrange(10**6, 10**7)}"
                patient.preauth = f"PA-{rng.randrange(10**5, 10**6)}"
            if rng.random() < 0.2:
                patient.walk_time = rng.choice((time(7, 30), time(12), time(18)))
            patient.walk_reminders = rng.random() >= 0.15
            self.patients.append(patient)
        for i, patient in enumerate(self.patients):
            if patient.group == "new":
                joined = self.now - timedelta(days=rng.uniform(1, 60))
                patient.created_at = joined
                if rng.random() < 0.5:
                    patient.screening = self._screening(joined, i)

    def _screening(self, joined: datetime, patient: int) -> _Screening:
        rng = self.rng
        flag = rng.choice(list(Screening.FLAG_QUESTIONS)) if rng.random() < 0.08 else None
        submitted = min(joined + timedelta(hours=rng.uniform(0.2, 40)), self.now)
        return _Screening(submitted_at=submitted, flag=flag)

    # appointments ------------------------------------------------------------------------

    def _minutes_for(self, treatment: Treatment) -> int:
        return self.rng.choice(treatment.session_lengths or [30])

    def _find(
        self,
        first: int,
        last: int,
        *,
        earliest: int,
        patient: int,
        treatment: Treatment,
        minutes: int,
        consultant: int | None = None,
    ) -> _Slot | None:
        """The first day from ``first`` to ``last`` with a place; failing that the latest
        one before ``first``, back to ``earliest`` (a rule's limit). None if there is none."""
        last = min(last, self.days - 1)
        forward = range(max(first, 0), last + 1)
        backward = range(min(first, last + 1) - 1, max(earliest, 0) - 1, -1)
        for day in (*forward, *backward):
            if self._patient_busy(patient, day, 0):
                continue
            slot = self.diary.place(
                day, treatment=treatment, minutes=minutes, rng=self.rng, consultant=consultant
            )
            if slot is not None:
                return slot
        return None

    def _patient_busy(self, patient: int, day: int, spacing: int) -> bool:
        """The patient has an appointment within ``spacing`` days (0: on the day)."""
        days = self.patient_days.get(patient)
        if not days:
            return False
        i = bisect_right(days, day - spacing - 1)
        return i < len(days) and days[i] <= day + spacing

    def _book(
        self,
        slot: _Slot,
        *,
        patient: int,
        treatment: Treatment,
        minutes: int,
        booked_after: datetime,
        can_fail: bool = True,
    ) -> _Appt:
        """Make the appointment for a slot, with what happened to it (in the past) or its
        booking (in the future); the diary holds the time unless it was cancelled."""
        rng = self.rng
        start = self.diary.instant(slot.day, slot.tick)
        end = start + timedelta(minutes=minutes)
        past = start <= self.now
        roll = rng.random() if can_fail else 1.0
        session = treatment.kind == Treatment.Kind.TREATMENT
        if past:
            if roll < 0.05 or (session and roll < 0.07):
                status = AStatus.CANCELLED
            elif roll < 0.09 and not session:
                status = AStatus.NO_SHOW
            else:
                status = AStatus.COMPLETED
        else:
            status = AStatus.CANCELLED if roll < 0.03 else AStatus.BOOKED
        latest = min(self.now, start - timedelta(hours=1))
        created = start - timedelta(days=rng.uniform(1, 42))
        created = max(created, booked_after)
        created = min(created, latest)
        online = treatment.bookable_online and rng.random() < 0.6
        appt = _Appt(
            patient=patient,
            treatment=treatment,
            day=slot.day,
            start=start,
            end=end,
            consultant=slot.consultant,
            nurse=slot.nurse,
            room=slot.room,
            status=status,
            created_at=created,
            booked_online=online,
        )
        if session and rng.random() < 0.2:
            appt.music_request = rng.choice(MUSIC)
        if status == AStatus.CANCELLED:
            cancelled = created + (min(self.now, start) - created) * rng.uniform(0.2, 0.98)
            appt.cancelled_at = cancelled
            appt.cancellation_reason = rng.choice(CANCEL_REASONS)
            appt.late_change = start - cancelled < timedelta(
                hours=settings.PATIENT_CHANGE_CUTOFF_HOURS
            )
        else:
            self.diary.hold(slot, treatment, minutes)
        self.appts.append(appt)
        days = self.patient_days.setdefault(patient, [])
        days.insert(bisect_right(days, slot.day), slot.day)
        if status == AStatus.BOOKED:
            self.future_kinds.add((patient, treatment.kind))
        return appt

    def _consultation(
        self, patient: int, target: int, *, must_complete: bool, latest: int | None = None
    ) -> _Appt | None:
        """The initial consultation, rebooked after a cancellation or a missed one. One that
        ``must_complete`` (a course follows) fails only long enough ago to rebook it, and
        its last attempt goes ahead."""
        treatment = self.cat.consultation
        hi = self.days - 1 if latest is None else latest
        day, earliest = target, target - 60
        attempts = 4
        for attempt in range(attempts):
            minutes = self._minutes_for(treatment)
            slot = self._find(
                day, hi, earliest=earliest, patient=patient, treatment=treatment, minutes=minutes
            )
            if slot is None:
                return None
            may_fail = not must_complete or slot.day < self.today_index - 60
            appt = self._book(
                slot,
                patient=patient,
                treatment=treatment,
                minutes=minutes,
                booked_after=self._joined(patient, self.diary.instant(slot.day, 0)),
                can_fail=may_fail and attempt < attempts - 1,
            )
            if appt.status in (AStatus.COMPLETED, AStatus.BOOKED):
                return appt
            earliest = slot.day + 1  # the new one comes after the one that did not happen
            day = slot.day + self.rng.randrange(5, 21)
        return None

    def _joined(self, patient: int, first_visit: datetime) -> datetime:
        """When the patient registered: a few days before the first booking."""
        record = self.patients[patient]
        if record.created_at is None:
            record.created_at = min(first_visit - timedelta(days=self.rng.uniform(2, 45)), self.now)
            record.screening = self._screening(record.created_at, patient)
        return record.created_at

    # courses -----------------------------------------------------------------------------

    def plan_courses(self) -> None:
        """Course patients first (ready ones before the rest), on emptier diaries."""
        for i, patient in enumerate(self.patients):
            if patient.group in ("ready", "course"):
                self._course(i, ready=patient.group == "ready")

    def _course(self, patient: int, *, ready: bool) -> None:
        rng, cat = self.rng, self.cat
        treatment = cat.micro if rng.random() < 0.85 else cat.foam
        planned = rng.randint(
            max(2, treatment.min_planned_sessions), max(2, min(4, treatment.max_planned_sessions))
        )
        low, high = treatment.min_gap_days_lowest, treatment.min_gap_days_highest
        gap = treatment.default_min_gap_days if rng.random() < 0.6 else rng.randint(low, high)
        targets: list[int] = []
        if ready:
            done = rng.randint(1, planned - 1)
            targets = [self.today_index - gap - rng.randint(10, 30)]
            for _ in range(done - 1):
                targets.insert(0, targets[0] - gap - rng.randint(0, 14))
            consult_day = targets[0] - rng.randint(7, 35)
        else:
            consult_day = rng.randrange(0, self.today_index - 10)
        consultation = self._consultation(
            patient, consult_day, must_complete=True, latest=self.today_index - 1
        )
        if consultation is None or consultation.status != AStatus.COMPLETED:
            raise ScaleError(
                "The diaries are too full to plan every course: make fewer appointments or "
                "more staff (a larger --scale)."
            )
        legs = rng.choice((Legs.LEFT, Legs.RIGHT, Legs.BOTH, Legs.BOTH))
        zones = _zones_on(legs)
        areas = sorted(rng.sample(zones, rng.randint(2, min(5, len(zones)))))
        course = _Course(
            patient=patient,
            treatment=treatment,
            consultant=consultation.consultant,
            consultation=consultation,
            planned=planned,
            gap=gap,
            legs=legs,
            areas=areas,
            notes=rng.choice(PLAN_NOTES),
            created_at=consultation.end + timedelta(minutes=rng.randint(5, 30)),
        )
        screening = self.patients[patient].screening
        if screening is not None and screening.flag:  # reviewed at the consultation
            screening.reviewed_at = consultation.start + timedelta(minutes=15)
            screening.reviewed_by = consultation.consultant
        self.courses.append(course)
        if ready:
            self._sessions_ready(course, targets)
        else:
            self._sessions(course)
        self._close(course)

    def _session_slot(self, course: _Course, lo: int, hi: int) -> tuple[_Slot, int] | None:
        """A place for the next session from day ``lo`` (the gap rule's first day) on."""
        minutes = self._minutes_for(course.treatment)
        slot = self._find(
            lo,
            hi,
            earliest=lo,
            patient=course.patient,
            treatment=course.treatment,
            minutes=minutes,
            consultant=course.consultant,
        )
        return None if slot is None else (slot, minutes)

    def _add_session(self, course: _Course, slot: _Slot, minutes: int, can_fail: bool) -> _Session:
        last = course.sessions[-1].appt.end if course.sessions else course.created_at
        appt = self._book(
            slot,
            patient=course.patient,
            treatment=course.treatment,
            minutes=minutes,
            booked_after=last,
            can_fail=can_fail,
        )
        number = 1 + sum(1 for s in course.sessions if s.status != SStatus.ABANDONED)
        if appt.status == AStatus.COMPLETED:
            status = SStatus.COMPLETED
        elif appt.status == AStatus.BOOKED:
            status = SStatus.SCHEDULED
        else:
            status = SStatus.ABANDONED
        session = _Session(number=number, appt=appt, status=status)
        if status == SStatus.ABANDONED:
            did_not_come = appt.start <= self.now and self.rng.random() < 0.4
            session.abandoned_reason = (
                "Did not attend"
                if did_not_come
                else f"Booking cancelled: {appt.cancellation_reason}"
            )
        course.sessions.append(session)
        return session

    def _sessions_ready(self, course: _Course, targets: list[int]) -> None:
        """Sessions all completed, the last one long enough ago that the next may be booked."""
        previous = course.consultation.day + 1 - course.gap  # session 1: after the consultation
        for target in targets:
            found = self._session_slot(course, max(target, previous + course.gap), self.days - 1)
            if found is None:
                return
            session = self._add_session(course, *found, can_fail=False)
            if session.status != SStatus.COMPLETED:  # pushed past today: booked, not done
                return
            previous = session.appt.day

    def _sessions(self, course: _Course) -> None:
        """Walk through the plan: sessions happen, are missed and rebooked; at most one is
        booked ahead; some patients have not booked their next one yet."""
        rng = self.rng
        target = course.consultation.day + rng.randint(7, 42)
        previous: int | None = None
        for _ in range(course.planned + 4):
            done = sum(1 for s in course.sessions if s.status == SStatus.COMPLETED)
            if done >= course.planned:
                return
            lo = target if previous is None else max(target, previous + course.gap)
            if lo >= self.today_index and rng.random() < 0.3:
                return  # not booked yet
            found = self._session_slot(course, lo, self.days - 1)
            if found is None:
                return
            session = self._add_session(course, *found, can_fail=True)
            day = session.appt.day
            if session.status == SStatus.SCHEDULED:
                return
            if session.status == SStatus.ABANDONED:
                target = day + rng.randint(3, 21)
                continue
            previous = day
            target = day + course.gap + rng.choice((0, 0, 0, 3, 7, 14, 21, 35))
            if done + 1 < course.planned and rng.random() < 0.03:
                course.status = CStatus.DISCONTINUED
                course.status_reason = "The patient decided not to continue."
                return

    def _close(self, course: _Course) -> None:
        """Course status, consent and closing time from what happened to its sessions."""
        rng = self.rng
        completed = [s for s in course.sessions if s.status == SStatus.COMPLETED]
        if course.status != CStatus.DISCONTINUED:
            if len(completed) >= course.planned:
                course.status = CStatus.COMPLETED
                course.status_reason = f"All {course.planned} planned sessions completed."
                course.closed_at = min(completed[-1].appt.end + timedelta(minutes=20), self.now)
            elif completed:
                course.status = CStatus.ACTIVE
        else:
            last = completed[-1].appt.end if completed else course.created_at
            course.closed_at = min(last + timedelta(days=rng.uniform(7, 30)), self.now)
        live = [s for s in course.sessions if s.status != SStatus.ABANDONED]
        sign = bool(completed) or (bool(live) and rng.random() < 0.6) or rng.random() < 0.2
        if not sign:
            return
        first = live[0].appt.start if live else self.now
        latest = min(first - timedelta(minutes=10), self.now)
        if rng.random() < 0.7 and latest > course.created_at:
            course.consent_at = course.created_at + (latest - course.created_at) * rng.random()
        else:  # signed at the clinic before the first session, witnessed by its nurse
            course.consent_at = max(latest, course.created_at)
            witness = live[0].appt.nurse if live else None
            course.consent_witness = witness if witness is not None else course.consultant

    # the other patients and the follow-ups -----------------------------------------------

    def plan_consulted(self) -> None:
        """Patients seen without a course: many were already on the books when the period
        starts (so that the early months are busy too), the rest come in over time, a
        tenth have their first consultation still ahead."""
        rng = self.rng
        for i, patient in enumerate(self.patients):
            if patient.group != "consulted":
                continue
            roll = rng.random()
            if roll < 0.4:
                target = rng.randrange(0, 60)
            elif roll < 0.9:
                target = rng.randrange(0, self.today_index)
            else:
                target = self.today_index + rng.randrange(2, 60)
            appt = self._consultation(i, target, must_complete=False)
            if appt is not None and appt.status == AStatus.COMPLETED:
                screening = patient.screening
                if screening is not None and screening.flag and rng.random() < 0.5:
                    screening.reviewed_at = appt.start + timedelta(minutes=15)
                    screening.reviewed_by = appt.consultant

    def plan_follow_ups(self) -> None:
        """Fill the diaries up to the appointment count: reassessments for patients with a
        completed session, follow-up consultations for patients seen without a course.
        Days are drawn by their consultant hours, fully in the past and fading over the
        six months ahead; each patient at most one a week and one of each kind ahead."""
        rng, diary = self.rng, self.diary
        wanted = self.sizes.appointments - len(self.appts)
        if wanted < 0:
            raise ScaleError(
                f"The courses and consultations alone need {len(self.appts)} appointments; "
                f"ask for at least that many (asked: {self.sizes.appointments})."
            )
        reassess = _FillerPool(self.cat.reassessment)
        consult = _FillerPool(self.cat.consultation)
        for course in self.courses:
            done = [s.appt for s in course.sessions if s.status == SStatus.COMPLETED]
            if done:
                reassess.add(course.patient, done[0].day + 7, done[0].end)
        for appt in self.appts:
            if (
                appt.status == AStatus.COMPLETED
                and self.patients[appt.patient].group == "consulted"
                and appt.patient not in consult.since
            ):
                consult.add(appt.patient, appt.day + 14, appt.end)
        reassess.sort()
        consult.sort()
        weights = []
        for day in range(self.days):
            ahead = day - self.today_index
            fade = 1.0 if ahead < 0 else max(0.05, 0.6 * (1 - ahead / FUTURE_DAYS))
            weights.append(diary.capacity[day] * fade)
        cumulative = []
        total = 0.0
        for w in weights:
            total += w
            cumulative.append(total)
        if total == 0:
            raise ScaleError("Nobody works on any day: no appointments can be placed.")
        placed = 0
        attempts = 0
        limit = 200 * max(wanted, 1)
        while placed < wanted and attempts < limit:
            attempts += 1
            day = min(bisect_right(cumulative, rng.random() * total), self.days - 1)
            n_re, n_co = reassess.eligible(day), consult.eligible(day)
            if n_re + n_co == 0:
                continue
            pick = rng.randrange(n_re + n_co)
            pool = reassess if pick < n_re else consult
            patient = pool.patients[pick if pick < n_re else pick - n_re]
            kind = pool.treatment.kind
            if day >= self.today_index and (patient, kind) in self.future_kinds:
                continue
            if self._patient_busy(patient, day, 6):
                continue
            minutes = self._minutes_for(pool.treatment)
            slot = diary.place(day, treatment=pool.treatment, minutes=minutes, rng=rng)
            if slot is None:
                continue
            self._book(
                slot,
                patient=patient,
                treatment=pool.treatment,
                minutes=minutes,
                booked_after=pool.since[patient],
            )
            placed += 1
        if placed < wanted:
            raise ScaleError(
                f"Only {len(self.appts)} of {self.sizes.appointments} appointments fit in the "
                "diaries: ask for fewer, or for a larger clinic (--scale)."
            )


def _zones_on(legs: str) -> list[str]:
    sides = Legs.sides(legs)
    return [z for z in LEG_ZONES if z.split("_", 1)[0] in sides]


# --- writing ---------------------------------------------------------------------------------


@dataclass
class ScaleReport:
    """What a run made: rows and seconds per table, the total, and the patient blocks."""

    tables: list[tuple[str, int, float]] = field(default_factory=list)
    seconds: float = 0.0
    planning_seconds: float = 0.0
    fill: dict[str, float] = field(default_factory=dict)
    patient_blocks: list[tuple[str, str, str]] = field(default_factory=list)


class _Due(NamedTuple):
    """A reminder the services would have made."""

    created: datetime
    order: int
    patient: int
    kind: str
    channel: str
    due: datetime
    key: str
    appointment: int | None
    plan: int | None
    day: date | None
    why_not: str  # why the sender would not send it ("" to send)


class _Writer:
    """Bulk inserts in dependency order, timing each table."""

    def __init__(self, plan: _Planner, report: ScaleReport, log: Log) -> None:
        self.plan = plan
        self.report = report
        self.log = log
        self.rng = plan.rng
        self.now = plan.now
        # One hash for every account: hashing 5,000 times would take minutes.
        self.password = make_password(SCALE_PASSWORD)
        self.location_pks: list[int] = []
        self.room_pks: list[int] = []
        self.staff_pks: list[int] = []
        self.patient_pks: list[int] = []
        self.consent_pks: dict[int, int] = {}  # course index -> signed consent
        self.plans: list[tuple[Row, _Session, _Course]] = []
        self.walked: set[tuple[int, date]] = set()  # (plan pk, day) ticked as walked

    @contextmanager
    def table(self, label: str) -> Iterator[list[int]]:
        counter = [0]
        started = clock.perf_counter()
        yield counter
        elapsed = clock.perf_counter() - started
        self.report.tables.append((label, counter[0], elapsed))
        self.log(f"  {label:<26}{counter[0]:>10,} rows {elapsed:8.2f} s")

    def write(self) -> None:
        self.clinic()
        self.people()
        self.appointments()
        self.courses()
        self.sessions()
        self.aftercare()
        self.reminders()

    def staff_pk(self, index: int | None) -> int | None:
        return None if index is None else self.staff_pks[index]

    # the clinic --------------------------------------------------------------------------

    def clinic(self) -> None:
        plan = self.plan
        with self.table("locations") as n:
            self.location_pks = _insert(
                Location,
                [
                    _row(
                        name=loc.name,
                        slug=loc.slug,
                        address=loc.address,
                        phone=loc.phone,
                        email=f"{loc.slug}@{SCALE_EMAIL_DOMAIN}",
                    )
                    for loc in plan.locations
                ],
            )
            n[0] = len(self.location_pks)
        with self.table("rooms") as n:
            rooms = [
                _row(location_id=self.location_pks[r.location], name=r.name, kind=r.kind)
                for r in plan.rooms
            ]
            self.room_pks = _insert(Room, rooms)
            n[0] = len(rooms)
        with self.table("opening hours, closures") as n:
            places = list(zip(self.location_pks, plan.locations, strict=True))
            hours = [
                _row(location_id=pk, weekday=weekday, opens=opens, closes=closes)
                for pk, loc in places
                for weekday, opens, closes in loc.hours
            ]
            closures = [
                _row(location_id=pk, date=day, reason=reason)
                for pk, loc in places
                for day, reason in sorted(loc.closures.items())
            ]
            n[0] = len(_insert(OpeningHours, hours)) + len(_insert(Closure, closures))

    # people ------------------------------------------------------------------------------

    def people(self) -> None:
        groups = dict(Group.objects.filter(name__in=Role.values).values_list("name", "pk"))
        if set(groups) != set(Role.values):
            raise ScaleError("The role groups are missing: run `manage.py migrate` first.")
        staff_users, admin_user, patient_users = self._users(groups)
        self._staff(staff_users, admin_user)
        self._patients(patient_users)

    def _users(self, groups: dict[str, int]) -> tuple[list[int], int, list[int]]:
        plan = self.plan
        hired = datetime.combine(plan.first_day - timedelta(days=400), time(9), tzinfo=UTC)
        with self.table("users") as n:

            def user(email: str, first: str, last: str, joined: datetime, **extra: Any) -> Row:
                return _row(
                    email=email,
                    first_name=first,
                    last_name=last,
                    password=self.password,
                    date_joined=joined,
                    **extra,
                )

            users = [user(s.email, s.first, s.last, hired) for s in plan.staff]
            # A clinic admin uses the admin site (as clinic.services.staff_member_save sets).
            users.append(
                user(f"scale-admin@{SCALE_EMAIL_DOMAIN}", "Sam", "Admin", hired, is_staff=True)
            )
            users += [
                user(p.email, p.first, p.last, p.created_at or self.now) for p in plan.patients
            ]
            keys = _insert(User, users)
            staff_users = keys[: len(plan.staff)]
            admin_user = keys[len(plan.staff)]
            patient_users = keys[len(plan.staff) + 1 :]
            roles = [groups[s.role] for s in plan.staff] + [groups[Role.CLINIC_ADMIN]]
            roles += [groups[Role.PATIENT]] * len(patient_users)
            _insert(
                User.groups.through,
                [_row(user_id=u, group_id=g) for u, g in zip(keys, roles, strict=True)],
            )
            n[0] = len(keys)
        return staff_users, admin_user, patient_users

    def _staff(self, staff_users: list[int], admin_user: int) -> None:
        plan, zone = self.plan, self.plan.zone
        people = list(zip(staff_users, plan.staff, strict=True))
        with self.table("staff, patterns, leave") as n:
            members = [
                _row(user_id=u, role=s.role, title=s.title, registration_number=s.registration)
                for u, s in people
            ]
            members.append(_row(user_id=admin_user, role=StaffMember.StaffRole.CLINIC_ADMIN))
            keys = _insert(StaffMember, members)
            self.staff_pks = keys[: len(plan.staff)]
            places = [
                (pk, self.location_pks[li])
                for pk, s in zip(self.staff_pks, plan.staff, strict=True)
                for li in sorted({p.location for p in s.patterns})
            ]
            places += [(keys[-1], pk) for pk in self.location_pks]
            _insert(
                StaffMember.locations.through,
                [_row(staffmember_id=s, location_id=loc) for s, loc in places],
            )
            staff = list(zip(self.staff_pks, plan.staff, strict=True))
            patterns = [
                _row(
                    staff_id=pk,
                    location_id=self.location_pks[p.location],
                    weekday=p.weekday,
                    starts=p.starts,
                    ends=p.ends,
                    valid_from=p.valid_from,
                    valid_until=p.valid_until,
                )
                for pk, s in staff
                for p in s.patterns
            ]
            leave = [
                _row(
                    staff_id=pk,
                    kind=StaffException.Kind.LEAVE,
                    starts_at=datetime.combine(first, time.min, tzinfo=zone),
                    ends_at=datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone),
                    reason=reason,
                )
                for pk, s in staff
                for first, last, reason in s.leave
            ]
            n[0] = len(keys) + len(_insert(WorkingPattern, patterns))
            n[0] += len(_insert(StaffException, leave))

    def _patients(self, patient_users: list[int]) -> None:
        plan = self.plan
        people = list(zip(patient_users, plan.patients, strict=True))
        with self.table("patients") as n:
            rows = []
            for user, p in people:
                joined = p.created_at or self.now
                rows.append(
                    _row(
                        user_id=user,
                        date_of_birth=p.dob,
                        phone=p.phone,
                        address=p.address,
                        gp_practice=p.gp,
                        payer=Patient.Payer.INSURED if p.insurer else Patient.Payer.SELF_FUNDED,
                        insurer=p.insurer,
                        policy_number=p.policy,
                        preauthorisation_code=p.preauth,
                        contact_by_sms=p.sms,
                        created_at=joined,
                        _history_date=joined,
                    )
                )
            self.patient_pks = _insert(Patient, rows, history=True)
            n[0] = len(rows)
        patients = list(zip(self.patient_pks, plan.patients, strict=True))
        with self.table("screenings") as n:
            rows = []
            for pk, p in patients:
                s = p.screening
                if s is None:
                    continue
                row = _row(
                    patient_id=pk,
                    submitted_at=s.submitted_at,
                    reviewed_at=s.reviewed_at,
                    reviewed_by_id=self.staff_pk(s.reviewed_by),
                    review_notes="Talked it through; safe to go ahead." if s.reviewed_at else "",
                    _history_date=s.submitted_at,
                )
                if s.flag:
                    row[s.flag] = True
                rows.append(row)
            n[0] = len(_insert(Screening, rows, history=True))
        with self.table("reminder preferences") as n:
            rows = [
                _row(
                    patient_id=pk,
                    walk_time=p.walk_time,
                    walk_reminders=p.walk_reminders,
                    sms_kinds=_sms_kinds(p),
                )
                for pk, p in patients
                if p.sms or not p.walk_reminders or p.walk_time != time(9)
            ]
            n[0] = len(_insert(ReminderPreference, rows))

    # appointments ------------------------------------------------------------------------

    def appointments(self) -> None:
        plan = self.plan
        # In the order they were booked, as the keys of a real diary grow.
        ordered = sorted(plan.appts, key=lambda a: (a.created_at, a.start))
        with self.table("appointments") as n:
            rows = []
            for a in ordered:
                patient = plan.patients[a.patient]
                minutes = int((a.end - a.start).total_seconds() // 60)
                price = plan.cat.price_for(
                    a.treatment, minutes, a.start.astimezone(plan.zone).date()
                )
                rows.append(
                    _row(
                        patient_id=self.patient_pks[a.patient],
                        treatment_id=a.treatment.pk,
                        start=a.start,
                        end=a.end,
                        consultant_id=self.staff_pks[a.consultant],
                        nurse_id=self.staff_pk(a.nurse),
                        room_id=self.room_pks[a.room],
                        status=a.status,
                        music_request=a.music_request,
                        payer=Patient.Payer.INSURED
                        if patient.insurer
                        else Patient.Payer.SELF_FUNDED,
                        preauthorisation_code=patient.preauth,
                        price_id=price.pk if price else None,
                        price_amount=price.amount if price else None,
                        price_currency=price.currency if price else "",
                        booked_online=a.booked_online,
                        late_change=a.late_change,
                        cancelled_at=a.cancelled_at,
                        cancellation_reason=a.cancellation_reason,
                        created_at=a.created_at,
                        _history_date=a.created_at,
                    )
                )
            for a, key in zip(ordered, _insert(Appointment, rows, history=True), strict=True):
                a.pk = key
            n[0] = len(rows)

    # courses and consents ----------------------------------------------------------------

    def courses(self) -> None:
        plan = self.plan
        with self.table("courses") as n:
            rows = [
                _row(
                    patient_id=self.patient_pks[c.patient],
                    treatment_id=c.treatment.pk,
                    consultant_id=self.staff_pks[c.consultant],
                    consultation_id=c.consultation.pk,
                    planned_sessions=c.planned,
                    min_gap_days=c.gap,
                    legs=c.legs,
                    treated_areas=c.areas,
                    plan_notes=c.notes,
                    status=c.status,
                    status_reason=c.status_reason,
                    created_at=c.created_at,
                    closed_at=c.closed_at,
                    _history_date=c.created_at,
                )
                for c in plan.courses
            ]
            for c, key in zip(plan.courses, _insert(Course, rows, history=True), strict=True):
                c.pk = key
            n[0] = len(rows)
        with self.table("signed consents") as n:
            texts = {pk: (f.full_text(), f.text_hash()) for pk, f in plan.cat.forms.items()}
            signers = [(i, c, c.consent_at) for i, c in enumerate(plan.courses) if c.consent_at]
            rows = []
            for _, c, signed_at in signers:
                form = plan.cat.forms[c.treatment.pk]
                text, digest = texts[c.treatment.pk]
                witness = c.consent_witness
                rows.append(
                    _row(
                        patient_id=self.patient_pks[c.patient],
                        course_id=c.pk,
                        form_id=form.pk,
                        text_hash=digest,
                        signed_text=text,
                        typed_name=plan.patients[c.patient].full_name,
                        statements_accepted=list(form.statements),
                        method=(
                            SignedConsent.Method.ONLINE
                            if witness is None
                            else SignedConsent.Method.IN_CLINIC
                        ),
                        signed_at=signed_at,
                        witnessed_by_id=self.staff_pk(witness),
                        _history_date=signed_at,
                    )
                )
            keys = _insert(SignedConsent, rows, history=True)
            self.consent_pks = {i: key for (i, _, _), key in zip(signers, keys, strict=True)}
            n[0] = len(rows)

    # sessions ----------------------------------------------------------------------------

    def sessions(self) -> None:
        plan, rng = self.plan, self.rng
        sessions = [(i, c, s) for i, c in enumerate(plan.courses) for s in c.sessions]
        with self.table("session records") as n:
            rows = []
            for i, c, s in sessions:
                a = s.appt
                row = _row(
                    course_id=c.pk,
                    number=s.number,
                    appointment_id=a.pk,
                    consultant_id=self.staff_pks[a.consultant],
                    nurse_id=self.staff_pk(a.nurse),
                    status=s.status,
                    legs_treated=c.legs,
                    sclerosant=c.treatment.default_sclerosant or DEFAULT_SCLEROSANT,
                    music_requested=a.music_request,
                    abandoned_reason=s.abandoned_reason,
                    _history_date=a.created_at,
                )
                if s.status == SStatus.COMPLETED:
                    row["consent_id"] = self.consent_pks[i]
                    row.update(self._record(c, a))
                rows.append(row)
            keys = _insert(SessionRecord, rows, history=True)
            for (_, _, s), key in zip(sessions, keys, strict=True):
                s.pk = key
            n[0] = len(rows)
        with self.table("stockings") as n:
            rows = []
            for _, c, s in sessions:
                if s.status != SStatus.COMPLETED or s.appt.nurse is None:
                    continue
                length = rng.choice(StockingFitting.Length.values)
                fitted = min(s.appt.end, self.now)
                rows += [
                    _row(
                        session_id=s.pk,
                        leg=leg,
                        compression_class=rng.choice(("1", "2", "2", "2", "3")),
                        length=length,
                        fitted_by_id=self.staff_pks[s.appt.nurse],
                        fitted_at=fitted,
                        _history_date=fitted,
                    )
                    for leg in Legs.sides(c.legs)
                ]
            n[0] = len(_insert(StockingFitting, rows, history=True))

    def _record(self, course: _Course, appt: _Appt) -> Row:
        """What the nurse records for a completed session, inside the fields' limits."""
        rng = self.rng
        foam = course.treatment.slug == "foam-sclerotherapy"
        concentration = rng.uniform(1.0, 3.0) if foam else rng.uniform(0.1, 0.5)
        volume = rng.uniform(2, 10) if foam else rng.uniform(0.5, 6)
        return _row(
            treated_areas=sorted(rng.sample(course.areas, rng.randint(1, len(course.areas)))),
            concentration_percent=Decimal(f"{concentration:.2f}"),
            total_volume_ml=Decimal(f"{volume:.2f}"),
            injections=rng.randint(2, 10) if foam else rng.randint(8, 60),
            discharge_walk_minutes=course.treatment.discharge_walk_minutes + rng.randint(0, 10),
            discomfort=rng.randint(0, 6),
            notes=rng.choice(SESSION_NOTES) if rng.random() < 0.15 else "",
            started_at=min(appt.start + timedelta(minutes=rng.randint(0, 8)), self.now),
            completed_at=min(appt.end + timedelta(minutes=rng.randint(10, 25)), self.now),
        )

    # aftercare ---------------------------------------------------------------------------

    def aftercare(self) -> None:
        plan, rng, zone = self.plan, self.rng, self.plan.zone
        done = [(c, s) for c in plan.courses for s in c.sessions if s.status == SStatus.COMPLETED]
        with self.table("aftercare plans") as n:
            rows = []
            for c, s in done:
                day_one = s.appt.start.astimezone(zone).date()
                created = min(s.appt.end + timedelta(minutes=rng.randint(10, 25)), self.now)
                rows.append(
                    _row(
                        session_id=s.pk,
                        patient_id=self.patient_pks[c.patient],
                        course_id=c.pk,
                        starts_on=day_one,
                        stockings_until=day_one + timedelta(days=c.treatment.stocking_days - 1),
                        stocking_legs=Legs.sides(c.legs),
                        walk_until=day_one + timedelta(days=c.gap - 1),
                        daily_walk_minutes=c.treatment.daily_walk_minutes,
                        extra_instructions=c.notes,
                        created_at=created,
                        _history_date=created,
                    )
                )
            _insert(AftercarePlan, rows, history=True)
            self.plans = [(row, s, c) for row, (c, s) in zip(rows, done, strict=True)]
            n[0] = len(rows)
        with self.table("check-ins") as n:
            rows = []
            for aftercare_plan, _, _ in self.plans:
                if rng.random() >= 0.35:
                    continue
                for k in range(rng.randint(1, 7)):
                    day = aftercare_plan["starts_on"] + timedelta(days=k)
                    if day > plan.today:
                        break
                    walked = rng.random() < 0.9
                    if walked:
                        self.walked.add((aftercare_plan["id"], day))
                    evening = datetime.combine(day, time(20), tzinfo=zone).astimezone(UTC)
                    at = min(evening, self.now)
                    rows.append(
                        _row(
                            plan_id=aftercare_plan["id"],
                            day=day,
                            walked=walked,
                            stockings_on=rng.random() < 0.95,
                            bruising=rng.random() < 0.3,
                            redness=rng.random() < 0.2,
                            swelling=rng.random() < 0.1,
                            pain_score=rng.randint(0, 4),
                            updated_at=at,
                            _history_date=at,
                        )
                    )
            n[0] = len(_insert(CheckIn, rows, history=True))

    # reminders ---------------------------------------------------------------------------

    def reminders(self) -> None:
        """Every reminder the services would have made, of which the newest are kept up to
        the count asked for (as if the outbox had been in use since then). Past ones were
        sent, or cancelled for the reason the sender gives; future ones wait."""
        with self.table("reminders") as n:
            due = self._appointment_reminders() + self._plan_reminders()
            due.sort(key=lambda d: (d.created, d.order))
            rows = [self._reminder(d) for d in due[-self.plan.sizes.reminders :]]
            n[0] = len(_insert(Reminder, rows))

    def _appointment_reminders(self) -> list[_Due]:
        found: list[_Due] = []
        for a in self.plan.appts:
            patient = self.plan.patients[a.patient]
            stamp = a.start.astimezone(UTC).strftime("%Y%m%dT%H%M")
            base = f"appointment:{a.pk}"
            moments: list[tuple[str, datetime, str]] = [
                (RKind.APPOINTMENT_CONFIRMATION, a.created_at, f"{base}:confirmation")
            ]
            for kind, before in (
                (RKind.APPOINTMENT_REMINDER_48H, 48),
                (RKind.APPOINTMENT_REMINDER_2H, 2),
            ):
                when = a.start - timedelta(hours=before)
                if when > a.created_at:
                    moments.append((kind, when, f"{base}:{kind}:{stamp}"))
            for what, when, key in moments:
                cancelled = a.cancelled_at is not None and when > a.cancelled_at
                why_not = "Appointment cancelled" if cancelled else ""
                found += [
                    _Due(
                        a.created_at,
                        len(found),
                        a.patient,
                        what,
                        channel,
                        when,
                        f"{key}:{channel}",
                        a.pk,
                        None,
                        None,
                        why_not,
                    )
                    for channel in _channels(patient, what)
                ]
        return found

    def _plan_reminders(self) -> list[_Due]:
        zone = self.plan.zone
        found: list[_Due] = []

        def at(day: date, clock_time: time) -> datetime:
            return datetime.combine(day, clock_time, tzinfo=zone).astimezone(UTC)

        for row, session, course in self.plans:
            patient = self.plan.patients[course.patient]
            pk, created, starts_on = row["id"], row["created_at"], row["starts_on"]
            base = f"plan:{pk}"
            until = row["stockings_until"]
            moments: list[tuple[str, datetime, str, date, str]] = [
                (RKind.STOCKINGS_OFF, at(until, time(18)), f"{base}:stockings_off", until, "")
            ]
            for k in range(1, course.gap):
                day = starts_on + timedelta(days=k)
                why_not = ""
                if not patient.walk_reminders:
                    why_not = "Walk reminders turned off"
                elif (pk, day) in self.walked:
                    why_not = "Walk already ticked"
                key = f"{base}:walk:{day.isoformat()}"
                moments.append((RKind.DAILY_WALK, at(day, patient.walk_time), key, day, why_not))
            opens = starts_on + timedelta(days=course.gap)
            upper = starts_on + timedelta(days=course.treatment.min_gap_days_highest)
            completed = [s for s in course.sessions if s.status == SStatus.COMPLETED]
            windows: list[tuple[str, date]]
            if course.status == CStatus.COMPLETED and session is completed[-1]:
                windows = [(RKind.REASSESSMENT_INVITATION, opens)]
            else:
                windows = [(RKind.WINDOW_OPENS, opens), (RKind.WINDOW_UPPER_END, upper)]
            booked_next = _next_booked(course, session)
            for kind, day in windows:
                when = at(day, time(9))
                why_not = ""
                if kind != RKind.REASSESSMENT_INVITATION:
                    if course.closed_at is not None and course.closed_at <= when:
                        why_not = "Course closed"
                    elif booked_next is not None and booked_next <= when:
                        why_not = "Next session already booked"
                moments.append((kind, when, f"{base}:{kind}", day, why_not))
            for kind, when, key, day, why_not in moments:
                if when <= created:  # the services make only what is still ahead
                    continue
                found += [
                    _Due(
                        created,
                        10**9 + len(found),
                        course.patient,
                        kind,
                        channel,
                        when,
                        f"{key}:{channel}",
                        None,
                        pk,
                        day,
                        why_not,
                    )
                    for channel in _channels(patient, kind)
                ]
        return found

    def _reminder(self, due: _Due) -> Row:
        row = _row(
            patient_id=self.patient_pks[due.patient],
            kind=due.kind,
            channel=due.channel,
            due_at=due.due,
            idempotency_key=due.key,
            appointment_id=due.appointment,
            plan_id=due.plan,
            day=due.day,
            created_at=due.created,
        )
        # A cancelled appointment's reminders are cancelled at once; the sender cancels
        # the others when their time comes.
        if due.why_not and (due.due <= self.now or due.appointment is not None):
            row.update(status=RStatus.CANCELLED, last_error=due.why_not)
        elif due.due > self.now:
            row.update(status=RStatus.PENDING)
        elif self.rng.random() < 0.003:
            row.update(
                status=RStatus.FAILED,
                attempts=5,
                claimed_at=due.due,
                last_error="SMTPRecipientsRefused: mailbox unavailable",
            )
        else:
            sent = min(due.due + timedelta(seconds=self.rng.randint(2, 90)), self.now)
            row.update(
                status=RStatus.SENT,
                attempts=1,
                claimed_at=min(due.due + timedelta(seconds=1), sent),
                sent_at=sent,
                provider_id=f"{due.channel}:{due.key}",
            )
        return row


def _sms_kinds(patient: _Patient) -> list[str]:
    return [RKind.APPOINTMENT_REMINDER_48H, RKind.APPOINTMENT_REMINDER_2H] if patient.sms else []


def _channels(patient: _Patient, kind: str) -> list[str]:
    if patient.sms and patient.phone and kind in _sms_kinds(patient):
        return [Reminder.Channel.EMAIL, Reminder.Channel.SMS]
    return [Reminder.Channel.EMAIL]


def _next_booked(course: _Course, session: _Session) -> datetime | None:
    """When the session after this one was booked, if it was."""
    later = [
        s.appt.created_at
        for s in course.sessions
        if s.number > session.number and s.status != SStatus.ABANDONED
    ]
    return min(later) if later else None


LOADED = (
    User.groups.through,
    StaffMember,
    StaffMember.locations.through,
    WorkingPattern,
    StaffException,
    Patient,
    Screening,
    ReminderPreference,
    Appointment,
    Course,
    SignedConsent,
    SessionRecord,
    StockingFitting,
    AftercarePlan,
    CheckIn,
    Reminder,
)


@contextmanager
def _checked_after_load(report: ScaleReport, log: Log) -> Iterator[None]:
    """PostgreSQL: set aside the foreign-key and exclusion constraints of the tables being
    loaded, and add them back afterwards in the same transaction, as pg_restore does.
    PostgreSQL then checks each constraint once over the whole table (one join, one index
    build) instead of once per row, which is most of the time of a load; a row that broke
    one would still fail the run. The tables are locked until the transaction ends."""
    if connection.vendor != "postgresql":
        yield
        return
    quote = connection.ops.quote_name
    tables = [m._meta.db_table for m in LOADED]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
            "JOIN pg_class c ON c.oid = k.conrelid "
            "WHERE k.contype IN ('f', 'x') AND c.relname = ANY(%s) ORDER BY k.contype, k.conname",
            [tables],
        )
        constraints = cursor.fetchall()
        # Checks still waiting (say from --reset's deletes) must run before ALTER TABLE.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table, name, _ in constraints:
            cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    yield
    started = clock.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # checks the load queued elsewhere
        for table, name, definition in constraints:
            cursor.execute(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    elapsed = clock.perf_counter() - started
    label = "constraints checked"
    report.tables.append((label, 0, elapsed))
    log(f"  {label:<26}{len(constraints):>10,} ones {elapsed:8.2f} s")


# --- finding and deleting scale data ---------------------------------------------------------


def _scale_users() -> models.QuerySet[User]:
    return User.objects.filter(email__iendswith=f"@{SCALE_EMAIL_DOMAIN}")


def scale_data_exists() -> bool:
    return (
        _scale_users().exists()
        or Location.objects.filter(slug__startswith=SCALE_SLUG_PREFIX).exists()
    )


def _raw_delete(queryset: models.QuerySet[Any]) -> int:
    """DELETE the rows in one statement without loading them. The ORM's delete would fetch
    every row and, through simple-history's signal, write a history row for each."""
    model = queryset.model
    subquery, params = queryset.values("pk").query.sql_with_params()
    quote = connection.ops.quote_name
    sql = (
        f"DELETE FROM {quote(model._meta.db_table)} "  # noqa: S608 (names from the models)  # nosec B608
        f"WHERE {quote(model._meta.pk.column)} IN ({subquery})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def _delete_with_history(queryset: models.QuerySet[Any]) -> int:
    history = get_history_manager_for_model(queryset.model)
    _raw_delete(history.model.objects.filter(id__in=queryset.values("pk")))
    return _raw_delete(queryset)


def _delete_users(users: models.QuerySet[User]) -> int:
    """Users go last: what depends on them first (their sessions ended, cached copies
    too; then the ORM, for devices and log entries), history rows lose their author, then
    one DELETE. Django's own delete would build a query per relation holding every user's
    key, seconds for 5,000 users."""
    from qsessions.models import Session

    from .sessions import end_sessions

    # Their sessions first, cached copies included (decision 0006).
    deleted = end_sessions(Session.objects.filter(user__in=users))
    for relation in User._meta.related_objects:
        if relation.many_to_many or relation.on_delete not in (models.CASCADE, models.SET_NULL):
            continue  # PROTECT: the patient and staff rows are gone already
        dependents = relation.related_model._base_manager.filter(
            **{f"{relation.field.name}__in": users}
        )
        if relation.on_delete is models.CASCADE:
            deleted += dependents.delete()[0]
        else:
            dependents.update(**{relation.field.name: None})
    for through in (User.groups.through, User.user_permissions.through):
        deleted += _raw_delete(through.objects.filter(user__in=users))
    return deleted + _raw_delete(users)


def scale_data_delete(*, log: Log = print) -> int:
    """Delete what seed_scale made (and what later runs added for those patients and
    staff, such as benchmark bookings). Refuses when other patients' appointments use the
    scale clinic's staff or rooms: deleting those would break their records."""
    started = clock.perf_counter()
    users = _scale_users()
    patients = Patient.objects.filter(user__in=users)
    staff = StaffMember.objects.filter(user__in=users)
    locations = Location.objects.filter(slug__startswith=SCALE_SLUG_PREFIX)
    rooms = Room.objects.filter(location__in=locations)
    foreign = Appointment.objects.exclude(patient__in=patients).filter(
        Q(consultant__in=staff) | Q(nurse__in=staff) | Q(room__in=rooms)
    )
    if foreign.exists():
        raise ScaleError(
            f"{foreign.count()} appointments of patients outside the scale data use its staff "
            "or rooms; cancel or remove them before --reset."
        )
    # Children before parents; True: the model keeps history rows, deleted with it.
    steps: list[tuple[models.QuerySet[Any], bool]] = [
        (CourseFlag.objects.filter(course__patient__in=patients), True),
        (CheckIn.objects.filter(plan__patient__in=patients), True),
        (Reminder.objects.filter(patient__in=patients), False),
        (AftercarePlan.objects.filter(patient__in=patients), True),
        (StockingFitting.objects.filter(session__course__patient__in=patients), True),
        (AdverseEvent.objects.filter(session__course__patient__in=patients), True),
        (SessionRecord.objects.filter(course__patient__in=patients), True),
        (SignedConsent.objects.filter(patient__in=patients), True),
        (CourseExtension.objects.filter(course__patient__in=patients), False),
        (WaitingListEntry.objects.filter(patient__in=patients), True),
        (Course.objects.filter(patient__in=patients), True),
        (Appointment.objects.filter(patient__in=patients), True),
        (Screening.objects.filter(patient__in=patients), True),
        (AccountClosureRequest.objects.filter(patient__in=patients), True),
        (ReminderPreference.objects.filter(patient__in=patients), False),
        (RecordAccess.objects.filter(patient__in=patients), False),
        (CalendarFeed.objects.filter(user__in=users), False),
        (patients, True),
        (StaffException.objects.filter(Q(staff__in=staff) | Q(location__in=locations)), False),
        (WorkingPattern.objects.filter(Q(staff__in=staff) | Q(location__in=locations)), False),
        (
            StaffMember.locations.through.objects.filter(
                Q(staffmember__in=staff) | Q(location__in=locations)
            ),
            False,
        ),
        (staff, False),
        (OpeningHours.objects.filter(location__in=locations), False),
        (Closure.objects.filter(location__in=locations), False),
        (rooms, False),
        (locations, False),
    ]
    deleted = 0
    for queryset, with_history in steps:
        deleted += _delete_with_history(queryset) if with_history else _raw_delete(queryset)
    deleted += _delete_users(users)
    log(f"  deleted earlier scale data: {deleted:,} rows in {clock.perf_counter() - started:.2f} s")
    return deleted


# --- the entry point -------------------------------------------------------------------------


def seed_scale(
    *,
    sizes: Sizes,
    seed: int = DEFAULT_SEED,
    reset: bool = False,
    now: datetime | None = None,
    log: Log = print,
) -> ScaleReport:
    """Make the scale clinic in one transaction; refuse if one is there unless ``reset``."""
    sizes.check()
    now = now or datetime.now(tz=UTC)
    report = ScaleReport()
    started = clock.perf_counter()
    try:
        with transaction.atomic():
            found = scale_data_exists()
            if found and not reset:
                raise ScaleError(
                    f"This database already holds scale data (accounts "
                    f"@{SCALE_EMAIL_DOMAIN}, locations {SCALE_SLUG_PREFIX}…). Run again "
                    "with --reset to delete it first."
                )
            # The earlier data goes inside the window too: its rows are checked once as
            # the constraints come back, not one by one.
            with _checked_after_load(report, log):
                if found:
                    scale_data_delete(log=log)
                plan = _plan(sizes=sizes, seed=seed, now=now, report=report, log=log)
                _Writer(plan, report, log).write()
                # COPY passes no signal: the cached free times are forgotten on commit.
                transaction.on_commit(slot_cache.forget_all)
    except IntegrityError as error:
        raise ScaleError(f"The database refused the data: {error}") from error
    _vacuum_analyze(report, log)
    report.seconds = clock.perf_counter() - started
    rows = sum(n for _, n, _ in report.tables)
    log(f"  {'total':<26}{rows:>10,} rows {report.seconds:8.2f} s")
    return report


def _vacuum_analyze(report: ScaleReport, log: Log) -> None:
    """PostgreSQL, after the commit: fresh planner statistics for the loaded tables (the
    first benchmark queries would otherwise be planned for empty tables) and no dead rows
    left by --reset. VACUUM cannot run inside a transaction, so tests skip it."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    started = clock.perf_counter()
    touched: list[type[models.Model]] = [Location, Room, OpeningHours, Closure, User, *LOADED]
    tables = [m._meta.db_table for m in touched]
    tables += [
        get_history_manager_for_model(m).model._meta.db_table
        for m in touched
        if hasattr(m, "history")
    ]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {quote(table)}")
    elapsed = clock.perf_counter() - started
    report.tables.append(("vacuum, analyze", 0, elapsed))
    log(f"  {'vacuum, analyze':<26}{len(tables):>10,} tables {elapsed:6.2f} s")


def _plan(*, sizes: Sizes, seed: int, now: datetime, report: ScaleReport, log: Log) -> _Planner:
    started = clock.perf_counter()
    plan = _Planner(sizes=sizes, seed=seed, now=now, catalogue=_Catalogue.load(now))
    plan.plan_clinic()
    plan.plan_patients()
    plan.plan_courses()
    plan.plan_consulted()
    plan.plan_follow_ups()
    report.planning_seconds = clock.perf_counter() - started
    diary, today = plan.diary, plan.today_index
    report.fill = {
        "past": diary.fill(0, today),
        "next 4 weeks": diary.fill(today, today + 28),
        "next 6 months": diary.fill(today, plan.days),
    }
    fill = ", ".join(f"{name} {share:.0%}" for name, share in report.fill.items())
    log(f"  planned in memory in {report.planning_seconds:.2f} s (consultant time booked: {fill})")
    report.patient_blocks = _blocks(plan)
    return plan


def _blocks(plan: _Planner) -> list[tuple[str, str, str]]:
    """First and last email of each block of patients, for the benchmarks."""
    labels = {
        "new": "registered, no consultation yet",
        "ready": "course in progress, next session bookable now",
        "course": "other course patients",
        "consulted": "consulted without a course",
    }
    blocks: list[tuple[str, str, str]] = []
    for group, label in labels.items():
        emails = [p.email for p in plan.patients if p.group == group]
        if emails:
            blocks.append((label, emails[0], emails[-1]))
    return blocks
