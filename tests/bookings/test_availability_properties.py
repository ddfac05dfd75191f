"""Property tests (hypothesis) of the slot search.

Each example builds a random fortnight: working patterns (weekday, hours, location, valid
dates), leave and extra clinics, closures, existing appointments of every status (random
starts, lengths, people and rooms) and a random course history (plan, gap, sessions done,
a session abandoned). Then, whatever the data:

- every slot returned keeps every rule: inside the opening hours of its location and the
  working time of its team, clear of every appointment that holds time (with buffers) of
  its consultant, nurse, room and the patient, within notice and horizon, and for a course
  session with the course's consultant, within the plan and not before the gap allows;
- every slot returned can really be booked by staff (``appointment_book`` does not refuse);
- no free time is left out: the slots are exactly the starts a plain, independent
  re-reading of the rules finds (where the rules leave a choice open, either answer is
  accepted: see ``Rules``).

Each example runs inside a transaction that is rolled back, so every one starts from the
same clinic.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import TypeVar

import pytest
import time_machine
from django.conf import settings
from django.db import transaction
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bookings.availability import BookingWindow, Slot, free_slots, local_instant
from bookings.models import Appointment
from bookings.services import appointment_book
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
from treatments import services as treatment_services
from treatments.models import Course, SessionRecord, Treatment

from ..factories import (
    LONDON,
    AppointmentFactory,
    ClinicAdminFactory,
    ConsultantFactory,
    CourseFactory,
    LocationFactory,
    NurseFactory,
    PatientFactory,
    RoomFactory,
    local,
    treatment,
)
from .reference_diary import ReferenceDiary, overlap

pytestmark = pytest.mark.django_db
M = TypeVar("M")

FIRST, LAST = date(2026, 6, 1), date(2026, 6, 12)  # Monday to Friday a week later
NOW = local(2026, 5, 25, 8)
STEP = timedelta(minutes=15)
Status = Appointment.Status


def made(model: type[M], obj: object) -> M:
    """A factory's product, typed as its model."""
    assert isinstance(obj, model)
    return obj


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


class _Rollback(Exception):
    pass


@contextmanager
def rolled_back() -> Iterator[None]:
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


@pytest.fixture
def world(open_clinic, consultant, nurse):
    """Two locations: the test clinic (Mon–Fri 09:00–17:00, a lunch break on Wednesdays;
    a consulting and two treatment rooms) and North (Mon–Fri 08:00–14:00; one room of each
    kind). Two consultants, two nurses, three patients (the first one searches). Rooms and
    staff no longer in use are there too, always at work: they must never be offered."""
    north = made(Location, LocationFactory(slug="north", name="North"))
    for weekday in range(5):
        OpeningHours.objects.create(location=north, weekday=weekday, opens=time(8), closes=time(14))
    OpeningHours.objects.filter(location=open_clinic, weekday=2).delete()
    for opens, closes in ((time(9), time(12, 30)), (time(13, 30), time(17))):
        OpeningHours.objects.create(location=open_clinic, weekday=2, opens=opens, closes=closes)
    rooms = [
        open_clinic.rooms.get(name="Consulting room"),
        open_clinic.rooms.get(name="Treatment room"),
        RoomFactory(location=open_clinic, name="Treatment room 2", kind=Room.Kind.TREATMENT),
        RoomFactory(location=north, name="North consulting", kind=Room.Kind.CONSULTING),
        RoomFactory(location=north, name="North treatment", kind=Room.Kind.TREATMENT),
    ]
    for kind in Room.Kind.values:  # first by name, so the first choice if not skipped
        RoomFactory(location=open_clinic, name=f"Closed {kind} room", kind=kind, is_active=False)
    for gone in (made(StaffMember, ConsultantFactory()), made(StaffMember, NurseFactory())):
        for weekday in range(5):
            WorkingPattern.objects.create(
                staff=gone,
                location=open_clinic,
                weekday=weekday,
                starts=time(7),
                ends=time(20),
                valid_from=FIRST,
            )
        gone.is_active = False
        gone.save()
    patients = [made(Patient, PatientFactory()) for _ in range(3)]
    consultants = [consultant, made(StaffMember, ConsultantFactory())]
    nurses = [nurse, made(StaffMember, NurseFactory())]
    return SimpleNamespace(
        locations=[open_clinic, north],
        rooms=rooms,
        consultants=consultants,
        nurses=nurses,
        staff=consultants + nurses,
        patients=patients,
        patient=patients[0],
        admin=made(StaffMember, ClinicAdminFactory()),
        treatments={
            slug: treatment(slug)
            for slug in ("initial-consultation", "microsclerotherapy", "reassessment")
        },
    )


# --- the random fortnight --------------------------------------------------------------------


def mostly(value, strategy):
    """``value`` four times in five, else a draw from ``strategy``."""
    return st.tuples(st.sampled_from(range(5)), strategy).map(lambda t: value if t[0] else t[1])


def often(common, rare):
    """One of ``common`` four times in five, else one of ``rare``."""
    return st.tuples(st.sampled_from(range(5)), st.sampled_from(common), st.sampled_from(rare)).map(
        lambda t: t[1] if t[0] else t[2]
    )


# Times of day are counted in quarter hours from midnight. Most of the diary is in the
# first week, so that appointments, leave and extra clinics meet each other often.
busy_day = often(range(5), range(5, 12))
pattern = st.tuples(
    mostly(0, st.just(1)),  # location: mostly the test clinic
    st.sampled_from(range(8 * 4, 13 * 4 + 1)),  # starts 08:00–13:00
    st.sampled_from(range(2 * 4, 9 * 4 + 1)),  # lasts 2–9 hours
    mostly(-30, st.sampled_from(range(-7, 8))),  # valid from, days after the first day
    mostly(None, st.sampled_from(range(11))),  # valid until, days after valid from
)
exception = st.tuples(
    st.sampled_from(range(4)),  # staff member
    st.sampled_from([StaffException.Kind.LEAVE, StaffException.Kind.EXTRA]),
    mostly(0, st.just(1)),  # location of an extra clinic
    busy_day,
    st.sampled_from(range(7 * 4, 17 * 4 + 1)),  # starts
    st.sampled_from(range(1, 6 * 4 + 1)),  # lasts
)
appointment = st.tuples(
    busy_day,
    st.tuples(st.sampled_from(range(7 * 4, 17 * 4 + 2)), often([0], [1, 2])).map(
        lambda t: 3 * t[0] + t[1]  # in 5-minute steps: mostly on the slot grid, not always
    ),
    st.sampled_from([15, 20, 30, 45, 60]),
    st.sampled_from(["initial-consultation", "microsclerotherapy", "reassessment"]),
    st.sampled_from(range(2)),  # consultant
    st.sampled_from(range(3)),  # nurse (2: none)
    st.sampled_from(range(5)),  # room
    st.sampled_from(range(3)),  # patient (0: the one searching)
    st.sampled_from(list(Status)),
)
course_history = st.tuples(
    st.sampled_from(range(2)),  # consultant
    st.integers(2, 4),  # planned sessions
    st.integers(28, 42),  # gap in days
    st.integers(0, 3),  # live sessions (fewer than the plan) ...
    st.sampled_from([False, False, True]),  # ... or the plan used up
    st.sampled_from(range(-6, 17)),  # the gap ends this many days after the first day
    st.one_of(st.none(), st.integers(0, 11)),  # a later session booked, then abandoned
    mostly(
        Course.Status.ACTIVE, st.sampled_from([Course.Status.COMPLETED, Course.Status.DISCONTINUED])
    ),
)
fortnight = st.fixed_dictionaries(
    {
        "patterns": st.lists(
            st.tuples(mostly(True, st.just(False)), pattern).map(lambda t: t[1] if t[0] else None),
            min_size=20,
            max_size=20,
        ),  # 4 staff x Mon-Fri
        "more_patterns": st.lists(
            st.tuples(st.sampled_from(range(4)), st.sampled_from(range(5)), pattern), max_size=3
        ),
        "exceptions": st.lists(exception, max_size=5),
        "closures": st.lists(st.tuples(st.sampled_from([None, 0, 1]), busy_day), max_size=2),
        "appointments": st.lists(appointment, min_size=6, max_size=40),
        "course": course_history,
        "search": st.sampled_from([("consultation", 30), ("session", 30), ("session", 45)]),
        # A patient's search: where notice or horizon ends on a working day of the fortnight.
        "window": st.tuples(
            st.sampled_from([None, None, "notice", "horizon"]),
            busy_day,
            st.sampled_from(range(7 * 4, 17 * 4 + 1)),
        ),
    }
)


def _clock(quarters: int) -> time:
    return time(quarters // 4, 15 * (quarters % 4))


@dataclass
class Built:
    course: Course
    what: Treatment
    minutes: int
    window: BookingWindow | None


def build(world, spec) -> Built:
    """Write the random fortnight into the database."""
    WorkingPattern.objects.filter(staff__is_active=True).delete()
    rows = [(i // 5, i % 5, p) for i, p in enumerate(spec["patterns"]) if p is not None]
    rows += spec["more_patterns"]
    patterns = []
    for staff_index, weekday, (loc, starts, lasts, valid_from, valid_for) in rows:
        first_valid = FIRST + timedelta(days=valid_from)
        patterns.append(
            WorkingPattern(
                staff=world.staff[staff_index],
                location=world.locations[loc],
                weekday=weekday,
                starts=_clock(starts),
                ends=_clock(starts + lasts),
                valid_from=first_valid,
                valid_until=None if valid_for is None else first_valid + timedelta(days=valid_for),
            )
        )
    WorkingPattern.objects.bulk_create(patterns)
    for staff_index, kind, loc, day, starts, quarters in spec["exceptions"]:
        begins = datetime.combine(FIRST + timedelta(days=day), _clock(starts), tzinfo=LONDON)
        StaffException.objects.create(
            staff=world.staff[staff_index],
            kind=kind,
            location=world.locations[loc] if kind == StaffException.Kind.EXTRA else None,
            starts_at=begins,
            ends_at=begins + timedelta(minutes=15 * quarters),
        )
    for loc, day in {(loc, day) for loc, day in spec["closures"]}:
        Closure.objects.create(
            location=None if loc is None else world.locations[loc],
            date=FIRST + timedelta(days=day),
            reason="Closed",
        )

    course = _course_history(world, spec["course"])

    held: list[tuple[str, int, datetime, datetime]] = []  # what PostgreSQL would refuse
    diary = []
    for day, fives, minutes, slug, c, n, r, p, status in spec["appointments"]:
        if p == 0 and slug == "initial-consultation":
            slug = "reassessment"  # one consultation at a time: keep the patient able to book
        start = datetime.combine(FIRST + timedelta(days=day), time(), tzinfo=LONDON)
        start += timedelta(minutes=5 * fives)  # no change of the clocks in June
        end = start + timedelta(minutes=minutes)
        people = [
            ("staff", world.consultants[c].pk),
            ("room", world.rooms[r].pk),
            ("patient", world.patients[p].pk),
        ]
        if n < 2:
            people.append(("staff", world.nurses[n].pk))
        if status != Status.CANCELLED:
            if any(
                (kind, pk) == (k, q) and overlap(start, end, s, e)
                for kind, pk in people
                for k, q, s, e in held
            ):
                continue
            held += [(kind, pk, start, end) for kind, pk in people]
        diary.append(
            Appointment(
                patient=world.patients[p],
                treatment=world.treatments[slug],
                start=start,
                end=end,
                consultant=world.consultants[c],
                nurse=world.nurses[n] if n < 2 else None,
                room=world.rooms[r],
                status=status,
            )
        )
    Appointment.objects.bulk_create(diary)

    kind, minutes = spec["search"]
    what = world.treatments[
        "initial-consultation" if kind == "consultation" else "microsclerotherapy"
    ]
    window = None
    edge, day, quarters = spec["window"]
    if edge is not None:
        ends = datetime.combine(FIRST + timedelta(days=day), _clock(quarters), tzinfo=LONDON)
        if edge == "notice":
            now = ends - timedelta(hours=settings.BOOKING_MIN_NOTICE_HOURS)
        else:
            now = ends - timedelta(days=settings.BOOKING_HORIZON_DAYS)
        window = BookingWindow(now.astimezone(UTC))
    return Built(course=course, what=what, minutes=minutes, window=window)


def _course_history(world, history) -> Course:
    """The searching patient's course: its live sessions booked through the service, the
    last one so that the gap ends near the fortnight; perhaps one more abandoned."""
    c, planned, gap, live, used_up, before, abandoned_day, status = history
    consultant = world.consultants[c]
    consultation = AppointmentFactory(
        patient=world.patient,
        consultant=consultant,
        room=world.rooms[0],
        start=local(2026, 3, 2, 9),
        end=local(2026, 3, 2, 9, 30),
        status=Status.COMPLETED,
    )
    course = made(
        Course,
        CourseFactory(
            patient=world.patient,
            consultant=consultant,
            consultation=consultation,
            planned_sessions=planned,
            min_gap_days=gap,
        ),
    )
    live = planned if used_up else min(live, planned - 1)
    last = FIRST - timedelta(days=gap - before)
    for number in range(1, live + 1):
        day = last - timedelta(days=(gap + 3) * (live - number))
        treatment_services.session_schedule(
            course=course,
            start=datetime.combine(day, time(10), tzinfo=LONDON),
            minutes=30,
            consultant=consultant,
            nurse=world.nurses[0],
            room=world.rooms[1],
        )
    if abandoned_day is not None:
        start = datetime.combine(FIRST + timedelta(days=abandoned_day), time(7), tzinfo=LONDON)
        booking = Appointment.objects.create(
            patient=world.patient,
            treatment=course.treatment,
            start=start,
            end=start + timedelta(minutes=30),
            consultant=consultant,
            nurse=world.nurses[0],
            room=world.rooms[1],
            status=Status.CANCELLED,
        )
        SessionRecord.objects.create(
            course=course,
            number=live + 1,
            appointment=booking,
            status=SessionRecord.Status.ABANDONED,
            abandoned_reason="The patient cancelled.",
        )
    Course.objects.filter(pk=course.pk).update(status=status)
    course.refresh_from_db()
    return course


def search(world, built: Built) -> dict[date, list[Slot]]:
    is_session = built.what.kind == Treatment.Kind.TREATMENT
    return free_slots(
        treatment=built.what,
        minutes=built.minutes,
        first_day=FIRST,
        last_day=LAST,
        patient=world.patient,
        course=built.course if is_session else None,
        window=built.window,
    )


# --- the rules, read plainly from the database ------------------------------------------------


@dataclass
class Rules:
    """The clinic's rules over the data as it stands, read without the engine's shortcuts.

    Two questions the rules leave open are answered both ways (``strict`` or not): does
    the buffer after a session have to fit before the team's leave starts, and does the
    patient need the buffer too? Slots must lie between the two answers.
    """

    world: SimpleNamespace
    built: Built

    def __post_init__(self) -> None:
        built = self.built
        self.is_session = built.what.kind == Treatment.Kind.TREATMENT
        self.length = timedelta(minutes=built.minutes)
        self.buffer = timedelta(minutes=built.what.buffer_minutes)
        self.diary = ReferenceDiary.read()
        self.rooms = {room.pk: room for room in Room.objects.all()}
        self.staff = {member.pk: member for member in StaffMember.objects.all()}
        course = built.course
        live = list(
            SessionRecord.objects.filter(course=course)
            .exclude(status=SessionRecord.Status.ABANDONED)
            .select_related("appointment")
        )
        self.plan_used_up = len(live) >= course.planned_sessions or not course.is_open
        self.earliest_day = (
            max(s.appointment.start.astimezone(LONDON).date() for s in live)
            + timedelta(days=course.min_gap_days)
            if live
            else date.min
        )

    # One rule at a time.

    def opening(self, location_id: int, start: datetime, end: datetime) -> bool:
        day = start.astimezone(LONDON).date()
        if self.diary.is_closed(location_id, day):
            return False
        for opens_at, closes_at in self.diary.spans_on(location_id, day.weekday()):
            opens = local_instant(day, opens_at, LONDON)
            closes = local_instant(day, closes_at, LONDON)
            if opens and closes and opens <= start and end <= closes:
                return True
        return False

    def at_work(self, staff_id: int, location_id: int, start: datetime, end: datetime) -> bool:
        return self.diary.at_work(staff_id, location_id, start, end)

    def on_leave(self, staff_id: int, start: datetime, end: datetime) -> bool:
        return self.diary.on_leave(staff_id, start, end)

    def clashes(self, kind: str, pk: int, start: datetime, end: datetime, strict=True) -> bool:
        """Another appointment holds this person, room or patient (with buffers; without
        them for the patient unless ``strict``)."""
        if kind == "patient" and not strict:
            return self.diary.busy(kind, pk, start, end, buffers=False)
        return self.diary.busy(kind, pk, start, end + self.buffer)

    def free_staff(self, pk: int, location_id: int, start: datetime, strict: bool) -> bool:
        end = start + self.length
        leave_until = end + self.buffer if strict else end
        return (
            self.at_work(pk, location_id, start, end)
            and not self.on_leave(pk, start, leave_until)
            and not self.clashes("staff", pk, start, end)
        )

    def window(self, start: datetime) -> bool:
        window = self.built.window
        return window is None or window.earliest <= start <= window.latest

    def course_allows(self, day: date) -> bool:
        if not self.is_session:
            return True
        return not self.plan_used_up and day >= self.earliest_day

    def consultants(self) -> list[int]:
        if self.is_session:
            return [self.built.course.consultant_id]
        return [
            pk
            for pk, m in self.staff.items()
            if m.role == StaffMember.StaffRole.CONSULTANT and m.is_active
        ]

    def nurses(self) -> list[int]:
        return [
            pk
            for pk, m in self.staff.items()
            if m.role == StaffMember.StaffRole.NURSE and m.is_active
        ]

    def room_kind(self) -> str:
        return Room.Kind.TREATMENT if self.is_session else Room.Kind.CONSULTING

    def bookable(self, location_id: int, start: datetime, strict: bool) -> bool:
        """Some team (room, consultant, nurse for a session) is free at this start."""
        end = start + self.length
        patient = self.world.patient.pk
        if not (self.window(start) and self.course_allows(start.astimezone(LONDON).date())):
            return False
        if self.clashes("patient", patient, start, end, strict=strict):
            return False
        if not any(
            r.location_id == location_id
            and r.is_active
            and r.kind == self.room_kind()
            and not self.clashes("room", r.pk, start, end)
            for r in self.rooms.values()
        ):
            return False
        if not any(self.free_staff(c, location_id, start, strict) for c in self.consultants()):
            return False
        return not self.is_session or any(
            self.free_staff(n, location_id, start, strict) for n in self.nurses()
        )

    def starts(self, strict: bool) -> set[datetime]:
        """Every start the rules allow in the fortnight, stepping through opening hours."""
        found = set()
        day = FIRST
        while day <= LAST:
            for location in self.world.locations:
                if self.diary.is_closed(location.pk, day):
                    continue
                for opens_at, closes_at in self.diary.spans_on(location.pk, day.weekday()):
                    start = local_instant(day, opens_at, LONDON)
                    closes = local_instant(day, closes_at, LONDON)
                    assert start and closes  # no change of the clocks in June
                    while start + self.length <= closes:
                        if self.bookable(location.pk, start, strict):
                            found.add(start)
                        start += STEP
            day += timedelta(days=1)
        return found


# --- the properties --------------------------------------------------------------------------

PROPERTY = hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(spec=fortnight)
def test_every_slot_keeps_every_rule(world, spec):
    with rolled_back():
        built = build(world, spec)
        slots = search(world, built)
        rules = Rules(world, built)
        # Seen with --hypothesis-show-statistics: how often the examples say something.
        event("slots offered" if slots else "no slot at all")
        if rules.is_session:
            event(
                "no more sessions: plan used up or course closed"
                if rules.plan_used_up
                else "gap ends in the fortnight"
                if FIRST < rules.earliest_day <= LAST
                else "gap ends outside the fortnight"
            )
        for day, of_day in slots.items():
            _check_day(rules, day, of_day)


def _check_day(rules: Rules, day: date, slots: list[Slot]) -> None:
    starts = [s.start for s in slots]
    assert starts == sorted(set(starts)), "one slot per start, in time order"
    for slot in slots:
        start, end = slot.start, slot.end
        assert start.astimezone(LONDON).date() == day
        assert end - start == rules.length
        room = rules.rooms[slot.room_id]
        assert room.is_active and room.kind == rules.room_kind()
        assert room.location_id == slot.location_id
        assert rules.opening(slot.location_id, start, end), f"outside opening hours: {slot}"
        assert rules.window(start), f"outside notice or horizon: {slot}"
        team = [slot.consultant_id] + ([slot.nurse_id] if slot.nurse_id else [])
        assert rules.staff[slot.consultant_id].role == StaffMember.StaffRole.CONSULTANT
        if rules.is_session:
            assert slot.nurse_id is not None
            assert rules.staff[slot.nurse_id].role == StaffMember.StaffRole.NURSE
            assert slot.consultant_id == rules.built.course.consultant_id
            assert not rules.plan_used_up, "a session beyond the plan"
            assert day >= rules.earliest_day, f"{day} breaks the gap ({rules.earliest_day})"
        else:
            assert slot.nurse_id is None
        for pk in team:
            assert rules.at_work(pk, slot.location_id, start, end), f"not at work: {slot}"
            assert not rules.on_leave(pk, start, end), f"on leave: {slot}"
            assert not rules.clashes("staff", pk, start, end), f"staff double-booked: {slot}"
        assert not rules.clashes("room", slot.room_id, start, end), f"room taken: {slot}"
        assert not rules.clashes("patient", rules.world.patient.pk, start, end, strict=False), (
            f"the patient is elsewhere: {slot}"
        )


@PROPERTY
@given(spec=fortnight)
def test_every_slot_can_be_booked(world, spec):
    with rolled_back():
        built = build(world, spec)
        found = [slot for of_day in search(world, built).values() for slot in of_day]
        for slot in {found[0], found[len(found) // 2], found[-1]} if found else ():
            with rolled_back():
                booked = appointment_book(
                    patient=world.patient,
                    treatment=built.what,
                    start=slot.start,
                    minutes=built.minutes,
                    course=built.course if built.what.is_treatment else None,
                    by_staff=world.admin,
                )
                assert booked.start == slot.start
                assert (booked.consultant_id, booked.nurse_id, booked.room_id) == (
                    slot.consultant_id,
                    slot.nurse_id,
                    slot.room_id,
                )
                if built.what.is_treatment:
                    assert booked.session_record.course_id == built.course.pk


@PROPERTY
@given(spec=fortnight)
def test_no_free_time_is_left_out(world, spec):
    with rolled_back():
        built = build(world, spec)
        got = {slot.start for of_day in search(world, built).values() for slot in of_day}
        rules = Rules(world, built)
        must, may = rules.starts(strict=True), rules.starts(strict=False)
        assert must <= may
        assert not must - got, f"free but not offered: {sorted(must - got)[:5]}"
        assert not got - may, f"offered against the rules: {sorted(got - may)[:5]}"
