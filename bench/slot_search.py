"""Benchmark: the slot search (``bookings.availability.free_slots``) at clinic scale.

One command, against PostgreSQL (the database is created and migrated when missing):

    .venv/bin/python bench/slot_search.py
    .venv/bin/python bench/slot_search.py --database-url postgres://postgres@127.0.0.1:5432/veinline_bench_slots

By default it builds its own compact world (3 locations, 12 rooms, working patterns, leave,
extra clinics, closures and a busy diary from ``--history`` days back to 200 days ahead,
see ``--fill``) for each staff count, keeps the 20-staff world at the end and reuses it on
the next run of the same day.
``--world scale`` instead reads a database that ``manage.py seed_scale`` filled (read-only:
nothing is written; only the 20-staff figures and the pages are measured there).

For a consultation and for a treatment session it times ``free_slots`` over 1, 7, 30, 90
and 180 days with 20 staff, and over 90 days with 5, 10, 20 and 40 staff, from the next
working day (tomorrow, or the Monday after a weekend): warm-up calls, then the median and
95th percentile of ``--repeat`` calls in milliseconds, with the number of queries one
call runs. Then what the patient booking pages call: the month calendar
and the day list (``bookings/views_patient.py``: ``calendar`` and ``day``), first the
``free_slots`` call as the view makes it, then the whole page through Django's test client.

``--profile`` adds a pyinstrument profile of the 20-staff, 90-day searches (where the time
goes). Not part of the test run. The figures depend on the machine and on what else runs
on it: wall times include waiting for PostgreSQL, and on a busy machine waiting for a
CPU; the ``cpu ms`` column is this process's own CPU time only.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import subprocess
import sys
import time as clock
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/veinline_bench_slots"
EMAIL_DOMAIN = "bench.invalid"  # every user the world makes; nothing else may be in the way
MARKER_SLUG = "bench-1"  # the first location; its address records how the world was built
DAYS = (1, 7, 30, 90, 180)
STAFF = (5, 10, 20, 40)
MAIN_STAFF, MAIN_DAYS = 20, 90


# --- the world ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorldSpec:
    """How a world is built; two runs with the same spec build the same rows."""

    staff: int
    seed: int
    fill: float
    history: int  # days of diary before the anchor (they slow a careless query down)
    anchor: date  # the first day searched (see ``first_searched_day``)

    @property
    def label(self) -> str:
        return (
            f"staff={self.staff} seed={self.seed} fill={self.fill} history={self.history} "
            f"anchor={self.anchor}"
        )


@dataclass
class Shift:
    staff_id: int
    location_id: int
    start: datetime
    end: datetime


@dataclass
class Diary:
    """Busy times per person or room while the diary is being filled (one day at a time)."""

    busy: dict[tuple[str, int], list[tuple[datetime, datetime]]] = field(default_factory=dict)

    def free(self, key: tuple[str, int], start: datetime, end: datetime) -> bool:
        return all(e <= start or s >= end for s, e in self.busy.get(key, []))

    def hold(self, key: tuple[str, int], start: datetime, end: datetime) -> None:
        self.busy.setdefault(key, []).append((start, end))


def first_searched_day(today: date) -> date:
    """Tomorrow, or the Monday after when tomorrow is a Saturday or a Sunday: the one-day
    search then always measures a day the clinics are open (Monday to Friday in every
    world), whatever day the benchmark runs."""
    day = today + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def world_exists(spec: WorldSpec) -> bool:
    from clinic.models import Location

    marker = Location.objects.filter(slug=MARKER_SLUG).values_list("address", flat=True).first()
    return marker == f"Bench world\n{spec.label}"


def refuse_foreign_data() -> None:
    """The world replaces every location, member of staff and appointment: only ever in a
    database that holds nothing but an earlier bench world."""
    from clinic.models import Location, User

    foreign_locations = Location.objects.exclude(slug__startswith="bench-").count()
    foreign_users = User.objects.exclude(email__endswith=f"@{EMAIL_DOMAIN}").count()
    if foreign_locations or foreign_users:
        sys.exit(
            f"This database holds {foreign_locations} location(s) and {foreign_users} user(s) "
            "that the benchmark did not make; give it a database of its own (--database-url)."
        )


def clear_world() -> None:
    from django.db import connection

    tables = [
        "bookings_appointment",
        "bookings_historicalappointment",
        "treatments_course",
        "treatments_historicalcourse",
        "clinic_workingpattern",
        "clinic_staffexception",
        "clinic_closure",
        "clinic_openinghours",
        "clinic_room",
        "clinic_staffmember",
        "clinic_location",
        "patients_patient",
        "clinic_user",
    ]
    existing = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE "
            + ", ".join(t for t in tables if t in existing)
            + " RESTART IDENTITY CASCADE"
        )


def build_world(spec: WorldSpec) -> None:
    """Three locations with two treatment and two consulting rooms each, ``spec.staff``
    consultants and nurses (two in five consultants) with weekly patterns over two
    locations, a week of leave and an extra clinic each, closures, 2,000 patients, and a
    diary in which about ``spec.fill`` of the room time that staff could cover is booked,
    from a week before the anchor to 200 days after it."""
    from django.contrib.auth.models import Group
    from django.db import connection, transaction

    from clinic.models import (
        Closure,
        Location,
        OpeningHours,
        Room,
        StaffException,
        StaffMember,
        User,
        WorkingPattern,
    )
    from clinic.roles import Role
    from patients.models import Patient

    rng = random.Random(spec.seed)
    zone = ZoneInfo("Europe/London")
    with transaction.atomic():
        clear_world()
        locations = Location.objects.bulk_create(
            [
                Location(
                    name=f"Bench {name}",
                    slug=f"bench-{i + 1}",
                    address=f"Bench world\n{spec.label}" if i == 0 else "Bench world",
                )
                for i, name in enumerate(["Central", "North", "South"])
            ]
        )
        rooms = Room.objects.bulk_create(
            [
                Room(location=location, name=f"{kind.label} {n}", kind=kind)
                for location in locations
                for kind in (Room.Kind.TREATMENT, Room.Kind.CONSULTING)
                for n in (1, 2)
            ]
        )
        hours = []
        for index, location in enumerate(locations):
            for weekday in range(5):
                if index == 2:  # the south clinic closes for lunch
                    hours.append((location, weekday, time(8), time(12, 30)))
                    hours.append((location, weekday, time(13, 30), time(19)))
                else:
                    hours.append((location, weekday, time(8), time(19)))
            if index == 0:
                hours.append((location, 5, time(9), time(13)))
        OpeningHours.objects.bulk_create(
            [OpeningHours(location=loc, weekday=wd, opens=o, closes=c) for loc, wd, o, c in hours]
        )
        first_day = spec.anchor - timedelta(days=spec.history)
        last_day = spec.anchor + timedelta(days=200)
        closures = [
            Closure(location=None, date=spec.anchor + timedelta(days=d), reason="Bank holiday")
            for d in range(11, 200, 47)
        ] + [
            Closure(location=locations[1], date=spec.anchor + timedelta(days=d), reason="Training")
            for d in range(5, 200, 33)
        ]
        Closure.objects.bulk_create(closures)
        closed = {(c.location_id, c.date) for c in closures}

        users = User.objects.bulk_create(
            [
                User(
                    email=f"staff{i}@{EMAIL_DOMAIN}",
                    first_name="Staff",
                    last_name=f"{i:02d}",
                    password="!",  # noqa: S106 - unusable: nobody logs in as these
                )
                for i in range(spec.staff)
            ]
            + [
                User(
                    email=f"patient{i}@{EMAIL_DOMAIN}",
                    first_name="Patient",
                    last_name=str(i),
                    password="!",  # noqa: S106
                )
                for i in range(2000)
            ]
        )
        consultants_wanted = max(1, round(spec.staff * 0.4))
        staff = StaffMember.objects.bulk_create(
            [
                StaffMember(
                    user=users[i],
                    role=StaffMember.StaffRole.CONSULTANT
                    if i < consultants_wanted
                    else StaffMember.StaffRole.NURSE,
                )
                for i in range(spec.staff)
            ]
        )
        patients = Patient.objects.bulk_create([Patient(user=u) for u in users[spec.staff :]])
        Group.objects.get(name=Role.PATIENT).user_set.add(patients[0].user)

        patterns, exceptions = [], []
        for i, member in enumerate(staff):
            home, second = locations[i % 3], locations[(i + 1) % 3]
            early = i % 2 == 0
            starts, ends = (time(8), time(16)) if early else (time(11), time(19))
            day_off = i % 5
            for weekday in range(5):
                if weekday == day_off:
                    continue
                where = second if weekday == (day_off + 2) % 5 else home
                # An older pattern that ended before the world begins: the search skips it.
                patterns.append(
                    WorkingPattern(
                        staff=member,
                        location=where,
                        weekday=weekday,
                        starts=time(9),
                        ends=time(17),
                        valid_from=spec.anchor - timedelta(days=spec.history + 400),
                        valid_until=spec.anchor - timedelta(days=spec.history + 1),
                    )
                )
                patterns.append(
                    WorkingPattern(
                        staff=member,
                        location=where,
                        weekday=weekday,
                        starts=starts,
                        ends=ends,
                        valid_from=spec.anchor - timedelta(days=spec.history),
                    )
                )
            if i % 4 == 0:
                patterns.append(
                    WorkingPattern(
                        staff=member,
                        location=locations[0],
                        weekday=5,
                        starts=time(9),
                        ends=time(13),
                        valid_from=spec.anchor - timedelta(days=spec.history),
                    )
                )
            leave_from = spec.anchor + timedelta(days=(i * 23) % 170)
            exceptions.append(
                StaffException(
                    staff=member,
                    kind=StaffException.Kind.LEAVE,
                    starts_at=_at(leave_from, time(0), zone),
                    ends_at=_at(leave_from + timedelta(days=7), time(0), zone),
                    reason="Annual leave",
                )
            )
            for extra in range(3):
                on = spec.anchor + timedelta(days=(i * 13 + extra * 61) % 190)
                while on.weekday() != day_off:
                    on += timedelta(days=1)
                exceptions.append(
                    StaffException(
                        staff=member,
                        kind=StaffException.Kind.EXTRA,
                        location=home,
                        starts_at=_at(on, time(9), zone),
                        ends_at=_at(on, time(13), zone),
                        reason="Extra clinic",
                    )
                )
        WorkingPattern.objects.bulk_create(patterns)
        StaffException.objects.bulk_create(exceptions)

        appointments = _fill_diary(
            rng,
            spec,
            first_day,
            last_day,
            zone,
            hours=hours,
            rooms=rooms,
            staff=staff,
            patterns=[p for p in patterns if p.valid_until is None],
            exceptions=exceptions,
            closed=closed,
            patients=patients[1:],  # the bench patient's own diary stays almost empty
        )
        _give_the_patient_a_course(patients[0], staff[0], rooms, spec, zone)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"  built world {spec.label}: {appointments} appointments", flush=True)


def _at(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _fill_diary(
    rng: random.Random,
    spec: WorldSpec,
    first_day: date,
    last_day: date,
    zone: ZoneInfo,
    *,
    hours: list[Any],
    rooms: list[Any],
    staff: list[Any],
    patterns: list[Any],
    exceptions: list[Any],
    closed: set[tuple[int | None, date]],
    patients: list[Any],
) -> int:
    """Walk every room through every open day in 15-minute steps and, with probability
    ``fill``, book whatever the room is for with staff who are at work and free there."""
    from bookings.models import Appointment
    from clinic.models import Room, StaffException
    from treatments.models import Treatment

    treatments = {t.slug: t for t in Treatment.objects.all()}
    micro, consultation = treatments["microsclerotherapy"], treatments["initial-consultation"]
    reassessment = treatments["reassessment"]
    step = timedelta(minutes=15)
    rows: list[Appointment] = []
    patient_turn = 0
    day = first_day
    while day <= last_day:
        diary = Diary()
        shifts = _shifts_of(day, zone, patterns, exceptions)
        for leave in (e for e in exceptions if e.kind == StaffException.Kind.LEAVE):
            diary.hold(("staff", leave.staff_id), leave.starts_at, leave.ends_at)
        for location_id, opens, closes in (
            (h[0].pk, h[2], h[3]) for h in hours if h[1] == day.weekday()
        ):
            if (location_id, day) in closed or (None, day) in closed:
                continue
            for room in (r for r in rooms if r.location_id == location_id):
                start, close_at = _at(day, opens, zone), _at(day, closes, zone)
                while start < close_at:
                    if rng.random() >= spec.fill:
                        start += step
                        continue
                    if room.kind == Room.Kind.TREATMENT:
                        what, minutes = micro, rng.choice((30, 45))
                    elif rng.random() < 0.7:
                        what, minutes = consultation, 30
                    else:
                        what, minutes = reassessment, rng.choice((15, 20))
                    end = start + timedelta(minutes=minutes)
                    held = end + timedelta(minutes=what.buffer_minutes)
                    if end > close_at or not diary.free(("room", room.pk), start, held):
                        start += step
                        continue
                    team = _free_team(
                        diary, shifts, staff, location_id, start, end, held, what.kind
                    )
                    if team is None:
                        start += step
                        continue
                    consultant_id, nurse_id = team
                    patient = patients[patient_turn % len(patients)]
                    patient_turn += 1
                    for key in (("room", room.pk), ("staff", consultant_id), ("staff", nurse_id)):
                        if key[1] is not None:
                            diary.hold(key, start, held)  # type: ignore[arg-type]
                    cancelled = rng.random() < 0.08
                    if cancelled:
                        status = Appointment.Status.CANCELLED
                    elif day < spec.anchor - timedelta(days=1):
                        status = Appointment.Status.COMPLETED
                    else:
                        status = Appointment.Status.BOOKED
                    rows.append(
                        Appointment(
                            patient=patient,
                            treatment=what,
                            start=start,
                            end=end,
                            consultant_id=consultant_id,
                            nurse_id=nurse_id,
                            room=room,
                            status=status,
                        )
                    )
                    start = held + (-(held - start) % step)  # back on the 15-minute grid
        day += timedelta(days=1)
    Appointment.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _shifts_of(
    day: date, zone: ZoneInfo, patterns: list[Any], exceptions: list[Any]
) -> list[Shift]:
    from clinic.models import StaffException

    shifts = [
        Shift(p.staff_id, p.location_id, _at(day, p.starts, zone), _at(day, p.ends, zone))
        for p in patterns
        if p.weekday == day.weekday()
    ]
    day_start, day_end = _at(day, time(0), zone), _at(day + timedelta(days=1), time(0), zone)
    shifts += [
        Shift(e.staff_id, e.location_id, e.starts_at, e.ends_at)
        for e in exceptions
        if e.kind == StaffException.Kind.EXTRA and e.starts_at < day_end and e.ends_at > day_start
    ]
    return shifts


def _free_team(
    diary: Diary,
    shifts: list[Shift],
    staff: list[Any],
    location_id: int,
    start: datetime,
    end: datetime,
    held: datetime,
    kind: str,
) -> tuple[int, int | None] | None:
    from clinic.models import StaffMember
    from treatments.models import Treatment

    def ready(role: str) -> list[int]:
        return [
            s.staff_id
            for s in shifts
            if s.location_id == location_id
            and s.start <= start
            and end <= s.end
            and roles[s.staff_id] == role
            and diary.free(("staff", s.staff_id), start, held)
        ]

    roles = {m.pk: m.role for m in staff}
    consultants = ready(StaffMember.StaffRole.CONSULTANT)
    if not consultants:
        return None
    if kind != Treatment.Kind.TREATMENT:
        return consultants[0], None
    nurses = ready(StaffMember.StaffRole.NURSE)
    return (consultants[0], nurses[0]) if nurses else None


def _give_the_patient_a_course(
    patient: Any, consultant: Any, rooms: list[Any], spec: WorldSpec, zone: ZoneInfo
) -> None:
    """A completed consultation last month and a planned course of microsclerotherapy, so
    that the patient's booking pages offer both a consultation and a session."""
    from bookings.models import Appointment
    from clinic.models import Room
    from treatments.models import Course, Treatment

    treatments = {t.slug: t for t in Treatment.objects.all()}
    start = _at(spec.anchor - timedelta(days=40), time(7), zone)  # before any opening
    consultation = Appointment.objects.create(
        patient=patient,
        treatment=treatments["initial-consultation"],
        start=start,
        end=start + timedelta(minutes=30),
        consultant=consultant,
        room=next(r for r in rooms if r.kind == Room.Kind.CONSULTING),
        status=Appointment.Status.COMPLETED,
    )
    Course.objects.create(
        patient=patient,
        treatment=treatments["microsclerotherapy"],
        consultant=consultant,
        consultation=consultation,
        planned_sessions=3,
        min_gap_days=28,
        legs="both",
    )


# --- timing ------------------------------------------------------------------------------------


@dataclass
class Timing:
    what: str
    days: int
    staff: int | str
    median_ms: float
    p95_ms: float
    cpu_ms: float  # this process's CPU (the database's own time is in the wall figures only)
    queries: int
    slots: int

    def row(self) -> str:
        return (
            f"{self.what:<28} {self.days:>5} {self.staff!s:>6} {self.median_ms:>10.1f} "
            f"{self.p95_ms:>9.1f} {self.cpu_ms:>8.1f} {self.queries:>8} {self.slots:>7}"
        )


HEADER = (
    f"{'what':<28} {'days':>5} {'staff':>6} {'median ms':>10} {'p95 ms':>9} {'cpu ms':>8} "
    f"{'queries':>8} {'slots':>7}"
)


def measure(call: Callable[[], Any], repeat: int, warmup: int = 2) -> tuple[float, float, float]:
    """Median and 95th percentile (nearest rank) of the wall time, and the median CPU time
    of this process, in milliseconds."""
    for _ in range(warmup):
        call()
    walls, cpus = [], []
    for _ in range(repeat):
        began, cpu = clock.perf_counter(), clock.process_time()
        call()
        walls.append((clock.perf_counter() - began) * 1000)
        cpus.append((clock.process_time() - cpu) * 1000)
    walls.sort()
    p95 = walls[max(0, math.ceil(0.95 * len(walls)) - 1)]
    return statistics.median(walls), p95, statistics.median(cpus)


def count_queries(call: Callable[[], Any]) -> tuple[int, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        result = call()
    return len(ctx.captured_queries), result


def slot_count(result: Any) -> int:
    if isinstance(result, dict):
        return sum(len(v) for v in result.values())
    return len(result)


def time_search(what: str, days: int, staff: int | str, call, repeat: int) -> Timing:
    queries, result = count_queries(call)
    median, p95, cpu = measure(call, repeat)
    timing = Timing(what, days, staff, median, p95, cpu, queries, slot_count(result))
    print(timing.row(), flush=True)
    return timing


@dataclass
class Booker:
    """A patient who may book something online now, and what."""

    name: str
    patient: Any
    option: Any  # bookings.selectors.BookingOption


@dataclass
class Context:
    anchor: date
    patient: Any  # for the staff searches: their own diary is checked too
    consultation: Any
    session: Any
    bookers: list[Booker]


def context(anchor: date) -> Context:
    """The treatments, and patients who may book a consultation and a session online
    (in a ``seed_scale`` database most may not: they are part-way through something)."""
    from bookings.selectors import booking_option_for
    from patients.models import Patient
    from treatments.models import Course, Treatment

    consultation = Treatment.objects.get(slug="initial-consultation")
    session = Treatment.objects.get(slug="microsclerotherapy")
    bookers = []
    for patient in Patient.objects.select_related("user").order_by("pk")[:200]:
        option = booking_option_for(patient=patient, treatment=consultation)
        if option.allowed:
            bookers.append(Booker("consultation", patient, option))
            break
    courses = Course.objects.filter(
        status__in=[Course.Status.PLANNED, Course.Status.ACTIVE], treatment=session
    ).select_related("patient__user", "treatment")
    for course in courses.order_by("pk")[:200]:
        option = booking_option_for(patient=course.patient, treatment=session, course=course)
        if option.allowed and (option.earliest_day or anchor) <= anchor + timedelta(days=30):
            bookers.append(Booker("session", course.patient, option))
            break
    return Context(
        anchor=anchor,
        patient=bookers[0].patient if bookers else Patient.objects.order_by("pk").first(),
        consultation=consultation,
        session=session,
        bookers=bookers,
    )


def search_call(ctx: Context, kind: str, days: int) -> Callable[[], Any]:
    """A staff search (no notice, no horizon) for the patient, for anyone on the staff."""
    from bookings.availability import free_slots

    treatment = ctx.session if kind == "session" else ctx.consultation
    minutes = 45 if kind == "session" else 30

    def call() -> Any:
        return free_slots(
            treatment=treatment,
            minutes=minutes,
            first_day=ctx.anchor,
            last_day=ctx.anchor + timedelta(days=days - 1),
            patient=ctx.patient,
        )

    return call


def page_calls(ctx: Context) -> Iterator[tuple[str, int, Callable[[], Any]]]:
    """What the patient's booking pages call: ``free_slots`` as ``calendar`` (a month) and
    ``day`` (one day) call it, then the pages themselves through the test client."""
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from bookings.availability import BookingWindow, free_slots

    day = ctx.anchor + timedelta(days=7)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    month = (ctx.anchor.replace(day=1) + timedelta(days=32)).replace(day=1)
    month_end = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    # The test client's host name, as the test runner would allow it.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    for booker in ctx.bookers:
        option, patient = booker.option, booker.patient
        client = Client()
        client.force_login(patient.user)

        def month_search(option=option, patient=patient) -> Any:
            return free_slots(
                treatment=option.treatment,
                minutes=30,
                first_day=max(month, option.earliest_day or month),
                last_day=month_end,
                patient=patient,
                course=option.course,
                window=BookingWindow(),
            )

        def day_search(option=option, patient=patient) -> Any:
            return free_slots(
                treatment=option.treatment,
                minutes=30,
                first_day=day,
                last_day=day,
                patient=patient,
                course=option.course,
                window=BookingWindow(),
            )

        def get(url: str, client=client) -> Callable[[], Any]:
            def call() -> Any:
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
                return []

            return call

        month_days = (month_end - month).days + 1
        calendar_url = reverse("booking:calendar", args=[option.key]) + f"?month={month:%Y-%m}"
        day_url = reverse("booking:day", args=[option.key, day.isoformat()])
        yield f"month search ({booker.name})", month_days, month_search
        yield f"day search ({booker.name})", 1, day_search
        yield f"GET calendar ({booker.name})", month_days, get(calendar_url)
        yield f"GET day ({booker.name})", 1, get(day_url)


# --- main --------------------------------------------------------------------------------------


def setup(database_url: str, world: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings.test")
    if world == "own":
        _create_database(database_url)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True, env=os.environ
        )
    import django

    django.setup()


def _create_database(database_url: str) -> None:
    import dj_database_url
    import psycopg2

    config = dj_database_url.parse(database_url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        sys.exit("The slot search benchmark runs on PostgreSQL (--database-url postgres://…).")
    server = psycopg2.connect(
        dbname="postgres",
        user=config["USER"],
        password=config["PASSWORD"] or None,
        host=config["HOST"],
        port=config["PORT"] or 5432,
    )
    server.autocommit = True
    with server.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{config["NAME"]}"')
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--world", choices=["own", "scale"], default="own")
    parser.add_argument("--repeat", type=int, default=15, help="timed calls per figure")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--fill", type=float, default=0.5, help="chance a free 15-minute step gets booked"
    )
    parser.add_argument(
        "--history", type=int, default=365, help="days of diary before today (world only)"
    )
    parser.add_argument("--days", type=int, nargs="*", default=list(DAYS))
    parser.add_argument("--staff", type=int, nargs="*", default=list(STAFF))
    parser.add_argument("--no-pages", action="store_true", help="skip the booking pages")
    parser.add_argument("--rebuild", action="store_true", help="build the world even if present")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also print a pyinstrument profile of the 20-staff, 90-day searches "
        "(pip install -r requirements-bench.txt)",
    )
    args = parser.parse_args()

    setup(args.database_url, args.world)
    from django.utils import timezone

    anchor = first_searched_day(timezone.localdate())
    results: list[Timing] = []
    print(HEADER)
    if args.world == "own":
        refuse_foreign_data()
        # The main world last, so that it stays for the next run.
        counts = [n for n in args.staff if n != MAIN_STAFF] + [MAIN_STAFF]
        for staff in counts:
            spec = WorldSpec(
                staff=staff, seed=args.seed, fill=args.fill, history=args.history, anchor=anchor
            )
            if args.rebuild or not world_exists(spec):
                build_world(spec)
            results += run_world(args, context(anchor), staff, main=staff == MAIN_STAFF)
    else:
        from clinic.models import StaffMember

        active = StaffMember.objects.filter(
            is_active=True,
            role__in=[StaffMember.StaffRole.CONSULTANT, StaffMember.StaffRole.NURSE],
        ).count()
        results += run_world(args, context(anchor), active, main=True)

    print()
    print(HEADER)
    for timing in sorted(results, key=lambda t: (t.what, str(t.staff).zfill(3), t.days)):
        print(timing.row())
    command = [
        ".venv/bin/python",
        "bench/slot_search.py",
        f"--database-url {args.database_url}",
        f"--world {args.world}",
        f"--repeat {args.repeat}",
        "--days " + " ".join(map(str, args.days)),
    ]
    if args.world == "own":
        command += [
            "--staff " + " ".join(map(str, args.staff)),
            f"--seed {args.seed}",
            f"--fill {args.fill}",
            f"--history {args.history}",
        ]
    if args.no_pages:
        command.append("--no-pages")
    print("\nRepeat with:\n  " + " ".join(command))


def run_world(args: argparse.Namespace, ctx: Context, staff: int, *, main: bool) -> list[Timing]:
    out = []
    for kind in ("consultation", "session"):
        days_list = args.days if main else [MAIN_DAYS]
        for days in days_list:
            out.append(
                time_search(
                    f"free_slots {kind}", days, staff, search_call(ctx, kind, days), args.repeat
                )
            )
    if main and not args.no_pages:
        for what, days, call in page_calls(ctx):
            out.append(time_search(what, days, staff, call, args.repeat))
    if main and args.profile:
        for kind in ("consultation", "session"):
            profile(search_call(ctx, kind, MAIN_DAYS), args.repeat)
    return out


def profile(call: Callable[[], Any], repeat: int) -> None:
    """Where the time of the calls goes, by pyinstrument (a sampling profiler)."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        sys.exit("--profile needs pyinstrument: pip install -r requirements-bench.txt")
    call()
    profiler = Profiler(interval=0.0005)
    with profiler:
        for _ in range(repeat):
            call()
    print(profiler.output_text(unicode=True, color=False))


if __name__ == "__main__":
    main()
