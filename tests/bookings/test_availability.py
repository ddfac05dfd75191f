"""Slot search: ``bookings.availability.free_slots`` and ``BookingWindow``.

Each test names one rule of the clinic and is built so that it fails if that rule is taken
out of the search: where two rules could explain the same result (opening hours and working
patterns, say), the data is arranged so that only the rule under test does.

The clinic of ``open_clinic`` is open Monday to Friday 09:00–17:00 with one consulting room
and one treatment room; the ``consultant`` and ``nurse`` fixtures work those hours there.
Searches without a window are staff searches: neither notice nor horizon applies.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.availability import BookingWindow, Slot, free_slots
from bookings.models import Appointment
from bookings.selectors import booking_option_for
from bookings.services import appointment_book, appointment_cancel
from clinic.errors import DomainError
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

from ..factories import (
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

pytestmark = pytest.mark.django_db
M = TypeVar("M")

# The week the tests look at: Monday 1 June to Friday 5 June 2026 (summer time).
MONDAY = date(2026, 6, 1)
TUESDAY = date(2026, 6, 2)
SATURDAY = date(2026, 6, 6)
NEXT_MONDAY = date(2026, 6, 8)
# Frozen "now" for the whole module: the Monday before, early morning.
NOW = local(2026, 5, 25, 8)

Status = Appointment.Status


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


# --- helpers -------------------------------------------------------------------------------


def made(model: type[M], obj: object) -> M:
    """A factory's product, typed as its model."""
    assert isinstance(obj, model)
    return obj


def consultation() -> Treatment:
    return treatment("initial-consultation")


def micro() -> Treatment:
    return treatment("microsclerotherapy")


def search(what: Treatment, first_day: date, last_day: date | None = None, minutes: int = 30, **kw):
    return free_slots(
        treatment=what, minutes=minutes, first_day=first_day, last_day=last_day or first_day, **kw
    )


def clocks(slots: dict[date, list[Slot]], day: date) -> list[str]:
    """The local start times of a day's slots, as "HH:MM"."""
    return [slot.local_start.strftime("%H:%M") for slot in slots.get(day, [])]


def every(first: str, last: str, step: int = 15) -> list[str]:
    """Local clock times from ``first`` to ``last`` inclusive, ``step`` minutes apart."""
    clock = datetime.strptime(first, "%H:%M")  # noqa: DTZ007 - a wall-clock label only
    end = datetime.strptime(last, "%H:%M")  # noqa: DTZ007
    out = []
    while clock <= end:
        out.append(clock.strftime("%H:%M"))
        clock += timedelta(minutes=step)
    return out


def room_of(location: Location, kind: str) -> Room:
    """The room of that kind ``open_clinic`` (or ``make_location``) created."""
    names: dict[str, list[str]] = {
        Room.Kind.CONSULTING: ["Consulting room", "Consulting"],
        Room.Kind.TREATMENT: ["Treatment room", "Treatment"],
    }
    return location.rooms.get(kind=kind, name__in=names[kind])


def book(
    *,
    start: datetime,
    minutes: int = 30,
    what: Treatment | None = None,
    consultant: StaffMember,
    room: Room,
    nurse: StaffMember | None = None,
    patient: Patient | None = None,
    status: str = Status.BOOKED,
) -> Appointment:
    """An appointment straight into the diary (the ORM: no rule is checked here)."""
    return Appointment.objects.create(
        patient=patient or made(Patient, PatientFactory()),
        treatment=what or consultation(),
        start=start,
        end=start + timedelta(minutes=minutes),
        consultant=consultant,
        nurse=nurse,
        room=room,
        status=status,
    )


def hours(location: Location, weekday: int, *spans: tuple[time, time]) -> None:
    """Replace a location's opening hours on a weekday."""
    OpeningHours.objects.filter(location=location, weekday=weekday).delete()
    for opens, closes in spans:
        OpeningHours.objects.create(location=location, weekday=weekday, opens=opens, closes=closes)


def works(
    staff: StaffMember,
    location: Location,
    weekdays,
    starts: time = time(9),
    ends: time = time(17),
    valid_from: date = date(2026, 1, 1),
    valid_until: date | None = None,
) -> None:
    for weekday in weekdays:
        WorkingPattern.objects.create(
            staff=staff,
            location=location,
            weekday=weekday,
            starts=starts,
            ends=ends,
            valid_from=valid_from,
            valid_until=valid_until,
        )


def make_location(slug: str, *staff: StaffMember) -> Location:
    """A second clinic open Monday to Friday 09:00–17:00 with both kinds of room, where the
    given staff work those hours."""
    location = made(Location, LocationFactory(slug=slug, name=slug.title()))
    RoomFactory(location=location, name="Consulting", kind=Room.Kind.CONSULTING)
    RoomFactory(location=location, name="Treatment", kind=Room.Kind.TREATMENT)
    for weekday in range(5):
        OpeningHours.objects.create(
            location=location, weekday=weekday, opens=time(9), closes=time(17)
        )
    for member in staff:
        works(member, location, range(5))
    return location


@pytest.fixture
def long_shifts(open_clinic, consultant, nurse):
    """The staff work 07:00–20:00 every day, so that only opening hours limit the slots."""
    WorkingPattern.objects.filter(staff__in=[consultant, nurse]).delete()
    for member in (consultant, nurse):
        works(member, open_clinic, range(7), starts=time(7), ends=time(20))
    return open_clinic


@pytest.fixture
def spare(open_clinic):
    """A second consultant, nurse, consulting and treatment room, none of them working or
    in use unless a test says so: they let an appointment hold exactly one resource."""
    return {
        "consultant": made(StaffMember, ConsultantFactory()),
        "nurse": made(StaffMember, NurseFactory()),
        "consulting": RoomFactory(
            location=open_clinic, name="Spare consulting", kind=Room.Kind.CONSULTING
        ),
        "treatment": RoomFactory(
            location=open_clinic, name="Spare treatment", kind=Room.Kind.TREATMENT
        ),
    }


@pytest.fixture
def planned_course(open_clinic, consultant) -> Course:
    """A planned course of microsclerotherapy (3 sessions, 28-day gap) with the consultant
    who works at the clinic."""
    return made(Course, CourseFactory(consultant=consultant))


def book_session(course: Course, start: datetime, minutes: int = 30) -> Appointment:
    """Staff book the course's next session through the booking service."""
    return appointment_book(
        patient=course.patient,
        treatment=course.treatment,
        start=start,
        minutes=minutes,
        course=course,
        by_staff=made(StaffMember, ClinicAdminFactory()),
    )


# --- opening hours ---------------------------------------------------------------------------


def test_slots_lie_inside_opening_hours_every_step(long_shifts):
    slots = search(consultation(), MONDAY)
    assert clocks(slots, MONDAY) == every("09:00", "16:30")
    for slot in slots[MONDAY]:
        assert local(2026, 6, 1, 9) <= slot.start
        assert slot.end <= local(2026, 6, 1, 17)
        assert slot.end - slot.start == timedelta(minutes=30)
        assert slot.start.utcoffset() == timedelta(0)  # UTC instants


def test_a_split_day_has_no_slot_over_the_lunch_break(long_shifts):
    hours(long_shifts, MONDAY.weekday(), (time(9), time(12)), (time(13), time(17)))
    assert clocks(search(consultation(), MONDAY), MONDAY) == every("09:00", "11:30") + every(
        "13:00", "16:30"
    )
    assert clocks(search(micro(), MONDAY, minutes=45), MONDAY) == every("09:00", "11:15") + every(
        "13:00", "16:15"
    )


def test_a_weekday_without_opening_hours_has_no_slots(long_shifts):
    # The staff work on Saturday; the clinic is not open.
    slots = search(consultation(), date(2026, 6, 5), SATURDAY)
    assert SATURDAY not in slots
    assert date(2026, 6, 5) in slots
    hours(long_shifts, SATURDAY.weekday(), (time(10), time(12)))
    assert clocks(search(consultation(), SATURDAY), SATURDAY) == every("10:00", "11:30")


@pytest.mark.parametrize(("minutes", "last"), [(30, "16:30"), (45, "16:15")])
def test_the_length_decides_the_last_start(long_shifts, minutes, last):
    slots = search(micro(), MONDAY, minutes=minutes)
    assert clocks(slots, MONDAY) == every("09:00", last)
    assert all(s.end - s.start == timedelta(minutes=minutes) for s in slots[MONDAY])


def test_a_closure_of_the_location_closes_that_day_only(open_clinic):
    Closure.objects.create(location=open_clinic, date=MONDAY, reason="Staff training")
    slots = search(consultation(), MONDAY, TUESDAY)
    assert MONDAY not in slots
    assert clocks(slots, TUESDAY) == every("09:00", "16:30")


def test_a_closure_of_another_location_leaves_this_one_open(open_clinic):
    elsewhere = make_location("elsewhere")
    Closure.objects.create(location=elsewhere, date=MONDAY, reason="Flooded")
    assert clocks(search(consultation(), MONDAY), MONDAY) == every("09:00", "16:30")


def test_a_closure_of_one_location_leaves_the_others_bookable(open_clinic):
    west = make_location("west", made(StaffMember, ConsultantFactory()))
    Closure.objects.create(location=open_clinic, date=MONDAY, reason="Staff training")
    slots = search(consultation(), MONDAY)
    assert clocks(slots, MONDAY) == every("09:00", "16:30")
    assert {s.location_id for s in slots[MONDAY]} == {west.pk}


def test_a_closure_of_every_location_closes_them_all(open_clinic):
    make_location("west", made(StaffMember, ConsultantFactory()))
    Closure.objects.create(location=None, date=MONDAY, reason="Bank holiday")
    slots = search(consultation(), MONDAY, TUESDAY)
    assert MONDAY not in slots
    assert TUESDAY in slots


# --- working patterns ------------------------------------------------------------------------


def test_a_pattern_counts_from_its_first_valid_day(open_clinic, consultant):
    WorkingPattern.objects.filter(staff=consultant).delete()
    works(consultant, open_clinic, [0], valid_from=NEXT_MONDAY)
    slots = search(consultation(), MONDAY, NEXT_MONDAY)
    assert MONDAY not in slots
    assert clocks(slots, NEXT_MONDAY) == every("09:00", "16:30")


def test_a_pattern_counts_up_to_its_last_valid_day(open_clinic, consultant):
    WorkingPattern.objects.filter(staff=consultant).delete()
    works(consultant, open_clinic, [0], valid_until=NEXT_MONDAY)
    slots = search(consultation(), NEXT_MONDAY, date(2026, 6, 15))
    assert clocks(slots, NEXT_MONDAY) == every("09:00", "16:30")
    assert date(2026, 6, 15) not in slots


def test_a_pattern_counts_on_its_weekday_only(open_clinic, consultant):
    WorkingPattern.objects.filter(staff=consultant).delete()
    works(consultant, open_clinic, [TUESDAY.weekday()])
    slots = search(consultation(), MONDAY, TUESDAY)
    assert MONDAY not in slots
    assert clocks(slots, TUESDAY) == every("09:00", "16:30")


def test_slots_lie_inside_the_pattern_hours(open_clinic, consultant):
    WorkingPattern.objects.filter(staff=consultant).delete()
    works(consultant, open_clinic, [0], starts=time(10), ends=time(12, 30))
    assert clocks(search(consultation(), MONDAY), MONDAY) == every("10:00", "12:00")


def test_a_pattern_counts_at_its_location_only(open_clinic, consultant):
    WorkingPattern.objects.filter(staff=consultant).delete()
    west = make_location("west", consultant)
    slots = search(consultation(), MONDAY)
    assert {s.location_id for s in slots[MONDAY]} == {west.pk}
    assert search(consultation(), MONDAY, location=open_clinic) == {}
    assert clocks(search(consultation(), MONDAY, location=west), MONDAY) == every("09:00", "16:30")


def test_an_inactive_consultant_is_not_offered(open_clinic, consultant):
    consultant.is_active = False
    consultant.save()
    assert search(consultation(), MONDAY) == {}


# --- exceptions: leave and extra clinics -----------------------------------------------------


def test_leave_removes_the_consultant_for_its_time_only(open_clinic, consultant):
    StaffException.objects.create(
        staff=consultant,
        kind=StaffException.Kind.LEAVE,
        starts_at=local(2026, 6, 1, 10),
        ends_at=local(2026, 6, 1, 12),
    )
    slots = search(consultation(), MONDAY, TUESDAY)
    assert clocks(slots, MONDAY) == every("09:00", "09:30") + every("12:00", "16:30")
    assert clocks(slots, TUESDAY) == every("09:00", "16:30")


def test_a_nurse_on_leave_removes_treatment_slots_not_consultations(open_clinic, nurse):
    StaffException.objects.create(
        staff=nurse,
        kind=StaffException.Kind.LEAVE,
        starts_at=local(2026, 6, 1, 12),
        ends_at=local(2026, 6, 1, 13),
    )
    treatments = search(micro(), MONDAY)[MONDAY]
    leave = (local(2026, 6, 1, 12), local(2026, 6, 1, 13))
    assert not [s for s in treatments if s.start < leave[1] and s.end > leave[0]]
    assert {"09:00", "11:00", "13:00", "16:30"} <= set(clocks({MONDAY: treatments}, MONDAY))
    assert clocks(search(consultation(), MONDAY), MONDAY) == every("09:00", "16:30")


def test_an_extra_clinic_adds_time_on_its_day(open_clinic, consultant):
    WorkingPattern.objects.filter(staff=consultant).delete()
    works(consultant, open_clinic, [0], starts=time(9), ends=time(13))
    StaffException.objects.create(
        staff=consultant,
        kind=StaffException.Kind.EXTRA,
        location=open_clinic,
        starts_at=local(2026, 6, 1, 13),
        ends_at=local(2026, 6, 1, 17),
    )
    slots = search(consultation(), MONDAY, NEXT_MONDAY)
    # The pattern and the extra clinic join up: 12:45–13:15 is bookable.
    assert clocks(slots, MONDAY) == every("09:00", "16:30")
    assert clocks(slots, NEXT_MONDAY) == every("09:00", "12:30")


def test_an_extra_clinic_elsewhere_adds_no_time_here(open_clinic, consultant):
    WorkingPattern.objects.filter(staff=consultant).delete()
    west = make_location("west")
    StaffException.objects.create(
        staff=consultant,
        kind=StaffException.Kind.EXTRA,
        location=west,
        starts_at=local(2026, 6, 1, 13),
        ends_at=local(2026, 6, 1, 17),
    )
    slots = search(consultation(), MONDAY)
    assert {s.location_id for s in slots[MONDAY]} == {west.pk}
    assert clocks(slots, MONDAY) == every("13:00", "16:30")


# --- who and where: the course's consultant, a nurse, the right room -------------------------


def test_a_course_session_is_offered_with_the_course_consultant_only(
    open_clinic, consultant, spare, planned_course
):
    works(spare["consultant"], open_clinic, range(5))
    book(start=local(2026, 6, 1, 10), consultant=consultant, room=spare["consulting"])
    for_course = search(micro(), MONDAY, patient=planned_course.patient, course=planned_course)[
        MONDAY
    ]
    assert {s.consultant_id for s in for_course} == {consultant.pk}
    assert "10:00" not in clocks({MONDAY: for_course}, MONDAY)
    # The other consultant is free at 10:00, but only for things outside the course.
    anyone = search(micro(), MONDAY)[MONDAY]
    at_ten = [s for s in anyone if s.start == local(2026, 6, 1, 10)]
    assert [s.consultant_id for s in at_ten] == [spare["consultant"].pk]


def test_one_consultant_only_when_asked(open_clinic, consultant, spare):
    """A session being moved stays with its consultant (``consultant_id``)."""
    works(spare["consultant"], open_clinic, range(5))
    book(start=local(2026, 6, 1, 10), consultant=consultant, room=spare["consulting"])
    kept = search(micro(), MONDAY, consultant_id=consultant.pk)
    assert {s.consultant_id for s in kept[MONDAY]} == {consultant.pk}
    assert "10:00" not in clocks(kept, MONDAY)
    other = search(micro(), MONDAY, consultant_id=spare["consultant"].pk)
    assert clocks(other, MONDAY) == every("09:00", "16:30")
    assert {s.consultant_id for s in other[MONDAY]} == {spare["consultant"].pk}


def test_no_course_session_while_the_course_consultant_is_away(
    open_clinic, consultant, spare, planned_course
):
    works(spare["consultant"], open_clinic, range(5))
    StaffException.objects.create(
        staff=consultant,
        kind=StaffException.Kind.LEAVE,
        starts_at=local(2026, 6, 1, 0),
        ends_at=local(2026, 6, 2, 0),
    )
    assert search(micro(), MONDAY, patient=planned_course.patient, course=planned_course) == {}
    assert clocks(search(micro(), MONDAY), MONDAY) == every("09:00", "16:30")


def test_a_treatment_session_needs_a_nurse(open_clinic, nurse):
    WorkingPattern.objects.filter(staff=nurse).delete()
    assert search(micro(), MONDAY) == {}
    assert clocks(search(consultation(), MONDAY), MONDAY) == every("09:00", "16:30")


def test_a_treatment_session_needs_a_treatment_room(open_clinic):
    Room.objects.filter(kind=Room.Kind.TREATMENT).update(is_active=False)
    assert search(micro(), MONDAY) == {}
    assert clocks(search(consultation(), MONDAY), MONDAY) == every("09:00", "16:30")


def test_a_consultation_needs_a_consulting_room(open_clinic):
    Room.objects.filter(kind=Room.Kind.CONSULTING).update(is_active=False)
    assert search(consultation(), MONDAY) == {}
    assert clocks(search(micro(), MONDAY), MONDAY) == every("09:00", "16:30")


def test_each_slot_names_the_team_and_the_right_room(open_clinic, consultant, nurse):
    session = search(micro(), MONDAY)[MONDAY][0]
    assert (session.consultant_id, session.nurse_id) == (consultant.pk, nurse.pk)
    assert session.room_id == room_of(open_clinic, Room.Kind.TREATMENT).pk
    assert session.location_id == open_clinic.pk
    talk = search(consultation(), MONDAY)[MONDAY][0]
    assert (talk.consultant_id, talk.nurse_id) == (consultant.pk, None)
    assert talk.room_id == room_of(open_clinic, Room.Kind.CONSULTING).pk


@pytest.mark.parametrize(("minutes", "last"), [(15, "16:45"), (20, "16:30")])
def test_a_reassessment_needs_the_consultant_and_a_consulting_room(
    open_clinic, consultant, minutes, last
):
    slots = search(treatment("reassessment"), MONDAY, minutes=minutes)
    assert clocks(slots, MONDAY) == every("09:00", last)
    assert {(s.consultant_id, s.nurse_id) for s in slots[MONDAY]} == {(consultant.pk, None)}
    assert {s.room_id for s in slots[MONDAY]} == {room_of(open_clinic, Room.Kind.CONSULTING).pk}
    Room.objects.filter(kind=Room.Kind.CONSULTING).update(is_active=False)
    assert search(treatment("reassessment"), MONDAY, minutes=minutes) == {}


def test_a_nurse_is_never_offered_as_the_consultant(open_clinic, consultant, nurse):
    WorkingPattern.objects.filter(staff=consultant).delete()
    assert search(consultation(), MONDAY) == {}


# --- other appointments ----------------------------------------------------------------------


@pytest.mark.parametrize("held", ["consultant", "nurse", "room", "patient"])
def test_an_appointment_holds_its_resource(open_clinic, consultant, nurse, spare, patient, held):
    """The appointment holds one resource of the team (the others are spare ones), and that
    alone keeps 10:00 from being offered."""
    team = {
        "consultant": spare["consultant"],
        "nurse": spare["nurse"],
        "room": spare["treatment"],
        "patient": made(Patient, PatientFactory()),
    }
    team[held] = {
        "consultant": consultant,
        "nurse": nurse,
        "room": room_of(open_clinic, Room.Kind.TREATMENT),
        "patient": patient,
    }[held]
    spare["treatment"].is_active = held != "room"  # one treatment room when it is the room
    spare["treatment"].save()
    book(
        start=local(2026, 6, 1, 10),
        what=consultation(),  # no buffer: only the appointment itself holds time
        consultant=team["consultant"],
        nurse=team["nurse"],
        room=team["room"],
        patient=team["patient"],
    )
    starts = clocks(search(micro(), MONDAY, patient=patient), MONDAY)
    assert "10:00" not in starts
    assert "09:45" not in starts  # 09:45–10:15 overlaps
    assert {"09:00", "10:30", "16:30"} <= set(starts)
    # Someone else (no patient given) still gets 10:00 when only the patient was busy.
    others = clocks(search(micro(), MONDAY), MONDAY)
    assert ("10:00" in others) == (held == "patient")


@pytest.mark.parametrize(
    ("status", "blocks"),
    [
        (Status.BOOKED, True),
        (Status.CHECKED_IN, True),
        (Status.COMPLETED, True),
        (Status.NO_SHOW, True),
        (Status.CANCELLED, False),
    ],
)
def test_every_status_but_cancelled_holds_time(open_clinic, consultant, status, blocks):
    book(
        start=local(2026, 6, 1, 10),
        consultant=consultant,
        room=room_of(open_clinic, Room.Kind.CONSULTING),
        status=status,
    )
    assert ("10:00" in clocks(search(consultation(), MONDAY), MONDAY)) is not blocks


def test_back_to_back_is_fine(open_clinic, consultant):
    book(
        start=local(2026, 6, 1, 10),
        consultant=consultant,
        room=room_of(open_clinic, Room.Kind.CONSULTING),
    )
    starts = clocks(search(consultation(), MONDAY), MONDAY)
    assert every("09:00", "09:30") + every("10:30", "16:30") == starts


def test_the_appointment_being_moved_does_not_block_itself(open_clinic, consultant):
    moving = book(
        start=local(2026, 6, 1, 10),
        consultant=consultant,
        room=room_of(open_clinic, Room.Kind.CONSULTING),
    )
    assert "10:00" not in clocks(search(consultation(), MONDAY), MONDAY)
    assert clocks(search(consultation(), MONDAY, ignore_appointment_id=moving.pk), MONDAY) == every(
        "09:00", "16:30"
    )


# --- buffers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shared", ["team", "room", "consultant", "nurse"])
def test_the_buffer_after_a_session_keeps_the_next_start_back(
    open_clinic, consultant, nurse, spare, shared
):
    """Microsclerotherapy keeps 10 minutes free after a session: after 10:00–10:30 the next
    session in the same room or with the same people starts at 10:45, not 10:30 (15-minute
    step); and a session before it must end 10 minutes early, so 09:15 not 09:30."""
    assert micro().buffer_minutes == 10
    room = room_of(open_clinic, Room.Kind.TREATMENT)
    held = {
        "team": (consultant, nurse, room),
        "room": (spare["consultant"], spare["nurse"], room),
        "consultant": (consultant, spare["nurse"], spare["treatment"]),
        "nurse": (spare["consultant"], nurse, spare["treatment"]),
    }[shared]
    spare["treatment"].is_active = False  # one treatment room to offer: the clinic's own
    spare["treatment"].save()
    book(
        start=local(2026, 6, 1, 10),
        what=micro(),
        consultant=held[0],
        nurse=held[1],
        room=held[2],
    )
    starts = clocks(search(micro(), MONDAY), MONDAY)
    assert starts == every("09:00", "09:15") + every("10:45", "16:30")


def test_without_a_buffer_sessions_go_back_to_back(open_clinic, consultant, nurse):
    Treatment.objects.filter(slug="microsclerotherapy").update(buffer_minutes=0)
    book(
        start=local(2026, 6, 1, 10),
        what=micro(),
        consultant=consultant,
        nurse=nurse,
        room=room_of(open_clinic, Room.Kind.TREATMENT),
    )
    assert clocks(search(micro(), MONDAY), MONDAY) == every("09:00", "09:30") + every(
        "10:30", "16:30"
    )


def test_the_buffer_of_the_earlier_appointment_is_its_own(open_clinic, consultant, nurse):
    """A consultation (no buffer) after a session waits for the session's buffer; a session
    after a consultation does not, but a session before one keeps its own buffer free."""
    assert consultation().buffer_minutes == 0
    book(
        start=local(2026, 6, 1, 10),
        what=micro(),
        consultant=consultant,
        nurse=nurse,
        room=room_of(open_clinic, Room.Kind.TREATMENT),
    )
    talks = clocks(search(consultation(), MONDAY), MONDAY)
    assert "10:30" not in talks
    assert "10:45" in talks
    assert "09:30" in talks  # 09:30–10:00 has no buffer of its own

    book(
        start=local(2026, 6, 1, 14),
        what=consultation(),
        consultant=consultant,
        room=room_of(open_clinic, Room.Kind.CONSULTING),
    )
    sessions = clocks(search(micro(), MONDAY), MONDAY)
    assert "14:30" in sessions  # the consultation has no buffer
    assert "13:30" not in sessions  # 13:30–14:00 would need 14:00–14:10 free
    assert "13:15" in sessions


def test_the_patient_needs_no_buffer(open_clinic, patient, spare):
    """The buffer is the clinic's time (cleaning, notes), not the patient's: a patient may
    see the consultant straight after a session with another team."""
    book(
        start=local(2026, 6, 1, 10),
        what=micro(),
        consultant=spare["consultant"],
        nurse=spare["nurse"],
        room=spare["treatment"],
        patient=patient,
    )
    starts = clocks(search(consultation(), MONDAY, patient=patient), MONDAY)
    assert "10:00" not in starts
    assert "10:15" not in starts
    assert "10:30" in starts
    assert "09:30" in starts


# --- notice and horizon ----------------------------------------------------------------------


def test_the_window_is_notice_and_horizon_from_now():
    now = datetime(2026, 6, 1, 9, 7, tzinfo=UTC)
    window = BookingWindow(now)
    assert window.now == now
    assert window.earliest == now + timedelta(hours=24)
    assert window.latest == now + timedelta(days=183)
    assert BookingWindow().now == NOW  # the frozen clock


def test_the_window_counts_real_hours_whatever_the_zone_of_now():
    saturday = local(2026, 3, 28, 10)  # the clocks go forward that night
    in_london, in_utc = BookingWindow(saturday), BookingWindow(saturday.astimezone(UTC))
    assert in_london.earliest == in_utc.earliest == utc(2026, 3, 29, 10)
    assert in_london.latest == in_utc.latest


def test_no_slot_inside_the_minimum_notice(open_clinic):
    now = datetime(2026, 6, 1, 9, 7, tzinfo=UTC)  # 10:07 in London
    slots = search(consultation(), MONDAY, TUESDAY, window=BookingWindow(now))
    assert MONDAY not in slots
    assert clocks(slots, TUESDAY) == every("10:15", "16:30")


def test_no_slot_beyond_the_horizon(open_clinic):
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)  # + 183 days: Tuesday 1 December, 12:00 GMT
    last, after = date(2026, 12, 1), date(2026, 12, 2)
    slots = search(consultation(), date(2026, 11, 30), after, window=BookingWindow(now))
    assert clocks(slots, date(2026, 11, 30)) == every("09:00", "16:30")
    assert clocks(slots, last) == every("09:00", "12:00")
    assert after not in slots


def test_notice_and_horizon_follow_the_frozen_clock(open_clinic):
    with time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False):
        slots = search(consultation(), MONDAY, date(2026, 12, 2), window=BookingWindow())
    assert min(slots) == TUESDAY
    assert clocks(slots, TUESDAY)[0] == "13:00"  # 12:00 UTC is 13:00 in summer
    assert max(slots) == date(2026, 12, 1)
    assert clocks(slots, date(2026, 12, 1))[-1] == "12:00"


def test_without_a_window_neither_notice_nor_horizon_applies(open_clinic):
    with time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False):
        slots = search(consultation(), MONDAY, date(2026, 12, 2))
    assert clocks(slots, MONDAY) == every("09:00", "16:30")
    assert clocks(slots, date(2026, 12, 2)) == every("09:00", "16:30")


def test_booking_online_keeps_the_horizon_but_staff_need_not(open_clinic, patient, clinic_admin):
    beyond = local(2026, 12, 2, 10)  # more than 183 days after the frozen 25 May
    with pytest.raises(DomainError) as refused:
        appointment_book(patient=patient, treatment=consultation(), start=beyond, minutes=30)
    assert refused.value.code == "horizon"
    booked = appointment_book(
        patient=patient, treatment=consultation(), start=beyond, minutes=30, by_staff=clinic_admin
    )
    assert booked.start == beyond


# --- course rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(("gap", "first_day"), [(28, date(2026, 6, 29)), (42, date(2026, 7, 13))])
def test_no_session_before_the_gap_allows(planned_course, gap, first_day):
    planned_course.min_gap_days = gap
    planned_course.save()
    book_session(planned_course, local(2026, 6, 1, 10))
    slots = search(
        micro(),
        MONDAY,
        date(2026, 7, 17),
        patient=planned_course.patient,
        course=planned_course,
    )
    assert min(slots) == first_day
    assert clocks(slots, first_day) == every("09:00", "16:30")
    option = booking_option_for(patient=planned_course.patient, treatment=micro())
    assert option.allowed
    assert option.earliest_day == first_day
    # Without the course (a staff search for anyone) the earlier days are there.
    assert min(search(micro(), TUESDAY, date(2026, 7, 17))) == TUESDAY


def test_the_gap_counts_from_a_session_booked_ahead(planned_course):
    book_session(planned_course, local(2026, 6, 15, 10))
    slots = search(
        micro(), MONDAY, date(2026, 7, 17), patient=planned_course.patient, course=planned_course
    )
    assert min(slots) == date(2026, 7, 13)


def test_no_session_once_the_plan_is_used_up(planned_course):
    planned_course.planned_sessions = 2
    planned_course.save()
    book_session(planned_course, local(2026, 6, 1, 10))
    book_session(planned_course, local(2026, 6, 29, 10))
    slots = search(
        micro(), MONDAY, date(2026, 9, 30), patient=planned_course.patient, course=planned_course
    )
    assert slots == {}
    option = booking_option_for(patient=planned_course.patient, treatment=micro())
    assert not option.allowed
    assert "All 2 planned sessions" in option.reason


def test_no_session_for_a_closed_course(planned_course):
    planned_course.status = Course.Status.DISCONTINUED
    planned_course.save()
    assert search(micro(), MONDAY, patient=planned_course.patient, course=planned_course) == {}


def test_an_abandoned_session_does_not_count_for_the_gap(planned_course, clinic_admin):
    first = book_session(planned_course, local(2026, 6, 1, 10))
    appointment_cancel(appointment=first, by_staff=clinic_admin)
    assert SessionRecord.objects.get(appointment=first).status == SessionRecord.Status.ABANDONED
    slots = search(micro(), MONDAY, TUESDAY, patient=planned_course.patient, course=planned_course)
    assert clocks(slots, MONDAY) == every("09:00", "16:30")  # its time is free again, too
    assert TUESDAY in slots


def test_an_abandoned_session_does_not_use_up_the_plan(planned_course, clinic_admin):
    planned_course.planned_sessions = 2
    planned_course.save()
    book_session(planned_course, local(2026, 6, 1, 10))
    second = book_session(planned_course, local(2026, 6, 29, 10))
    appointment_cancel(appointment=second, by_staff=clinic_admin)
    slots = search(
        micro(), MONDAY, date(2026, 7, 3), patient=planned_course.patient, course=planned_course
    )
    assert min(slots) == date(2026, 6, 29)
    assert clocks(slots, date(2026, 6, 29)) == every("09:00", "16:30")


def test_a_gap_day_slot_can_be_booked_and_the_day_before_cannot(planned_course):
    book_session(planned_course, local(2026, 6, 1, 10))
    with pytest.raises(DomainError):
        book_session(planned_course, local(2026, 6, 26, 10))
    second = book_session(planned_course, local(2026, 6, 29, 9))
    assert second.session_record.number == 2


def test_booking_before_the_gap_says_so(planned_course):
    """Asking for a time the gap rule forbids is not "that time was just taken": the patient
    is told the first day the next session can be booked."""
    book_session(planned_course, local(2026, 6, 1, 10))
    with pytest.raises(DomainError) as refused:
        appointment_book(
            patient=planned_course.patient,
            treatment=micro(),
            start=local(2026, 6, 26, 10),
            minutes=30,
        )
    assert refused.value.code == "gap"
    assert "29 June 2026" in refused.value.message


# --- the days the clocks change (Europe/London) ----------------------------------------------

SPRING = date(2026, 3, 29)  # 01:00 GMT becomes 02:00 BST: 01:00–01:59 never happens
AUTUMN = date(2026, 10, 25)  # 02:00 BST becomes 01:00 GMT: 01:00–01:59 happens twice
SUNDAY = 6


@pytest.fixture
def sunday_clinic(open_clinic, consultant, nurse):
    """Open on Sundays 00:00–03:00 and 09:00–17:00, the staff working the same hours."""
    hours(open_clinic, SUNDAY, (time(0), time(3)), (time(9), time(17)))
    for member in (consultant, nurse):
        works(member, open_clinic, [SUNDAY], starts=time(0), ends=time(3))
        works(member, open_clinic, [SUNDAY], starts=time(9), ends=time(17))
    return open_clinic


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _well_formed(slots: list[Slot], minutes: int) -> None:
    starts = [s.start for s in slots]
    assert starts == sorted(set(starts)), "UTC instants strictly increase"
    labels = [s.local_start.strftime("%H:%M") for s in slots]
    assert len(labels) == len(set(labels)), f"a local time is offered twice: {labels}"
    assert all(s.end - s.start == timedelta(minutes=minutes) for s in slots)


@pytest.mark.parametrize("what", ["consultation", "session"])
def test_spring_forward_has_no_slot_in_the_missing_hour(sunday_clinic, what):
    kind, minutes = (consultation(), 30) if what == "consultation" else (micro(), 45)
    slots = search(kind, date(2026, 3, 28), date(2026, 3, 30), minutes=minutes)
    day = slots[SPRING]
    _well_formed(day, minutes)
    night = every("00:00", "00:45") + every("02:00", "02:30" if minutes == 30 else "02:15")
    assert clocks(slots, SPRING) == night + every("09:00", "16:30" if minutes == 30 else "16:15")
    # 00:00–03:00 on this night is two real hours: 00:00–02:00 UTC.
    assert [s.start for s in day[: len(night)]] == [
        utc(2026, 3, 29, 0, m) for m in (0, 15, 30, 45)
    ] + [utc(2026, 3, 29, 1, m) for m in range(0, 60, 15)][: len(night) - 4]
    assert day[len(night) - 1].end <= utc(2026, 3, 29, 2)
    nine = day[len(night)]
    assert nine.local_start.strftime("%H:%M") == "09:00"
    assert nine.start == utc(2026, 3, 29, 8)  # summer time: 09:00 is 08:00 UTC
    assert date(2026, 3, 28) not in slots


@pytest.mark.parametrize("what", ["consultation", "session"])
def test_fall_back_offers_the_repeated_hour_once(sunday_clinic, what):
    kind, minutes = (consultation(), 30) if what == "consultation" else (micro(), 45)
    slots = search(kind, date(2026, 10, 24), date(2026, 10, 26), minutes=minutes)
    # 00:00 local falls on the 24th in UTC, but the slot belongs to the local 25th.
    assert date(2026, 10, 24) not in slots
    day = slots[AUTUMN]
    _well_formed(day, minutes)
    night = every("00:00", "02:30" if minutes == 30 else "02:15")
    assert clocks(slots, AUTUMN) == night + every("09:00", "16:30" if minutes == 30 else "16:15")
    instants = {s.local_start.strftime("%H:%M"): s.start for s in day}
    assert instants["00:00"] == utc(2026, 10, 24, 23)  # still summer time
    assert instants["00:45"] == utc(2026, 10, 24, 23, 45)
    assert instants["01:00"] == utc(2026, 10, 25, 0)  # the first 01:00 (BST)
    assert instants["01:45"] == utc(2026, 10, 25, 0, 45)
    assert instants["02:00"] == utc(2026, 10, 25, 2)  # winter time from here
    assert day[len(night) - 1].end <= utc(2026, 10, 25, 3)
    assert instants["09:00"] == utc(2026, 10, 25, 9)  # winter time: 09:00 is 09:00 UTC


def test_a_slot_on_each_change_day_can_be_booked(sunday_clinic, clinic_admin):
    offered = {day: search(consultation(), day)[day] for day in (SPRING, AUTUMN)}
    for slot in (offered[SPRING][5], offered[AUTUMN][5], offered[AUTUMN][-1]):
        booked = appointment_book(
            patient=made(Patient, PatientFactory()),
            treatment=consultation(),
            start=slot.start,
            minutes=30,
            by_staff=clinic_admin,
        )
        assert booked.start == slot.start


def test_a_local_time_in_the_repeated_hour_can_be_booked(sunday_clinic, clinic_admin):
    first_half_past_one = local(2026, 10, 25, 1, 30)  # fold=0: the first 01:30 (BST)
    assert first_half_past_one.astimezone(UTC) == utc(2026, 10, 25, 0, 30)
    booked = appointment_book(
        patient=made(Patient, PatientFactory()),
        treatment=consultation(),
        start=first_half_past_one,
        minutes=30,
        by_staff=clinic_admin,
    )
    assert booked.start == utc(2026, 10, 25, 0, 30)


def test_a_buffer_holds_past_midnight(sunday_clinic, consultant, nurse):
    """A session ending 23:55 on Saturday keeps its room and team until 00:05 on Sunday,
    whether the search starts on Saturday or on Sunday."""
    book(
        start=local(2026, 6, 6, 23, 25),
        what=micro(),
        consultant=consultant,
        nurse=nurse,
        room=room_of(sunday_clinic, Room.Kind.TREATMENT),
    )
    sunday = date(2026, 6, 7)
    from_saturday = clocks(search(micro(), SATURDAY, sunday), sunday)
    assert from_saturday[:2] == ["00:15", "00:30"]
    assert clocks(search(micro(), sunday), sunday) == from_saturday


# --- query count -----------------------------------------------------------------------------


def test_one_search_runs_the_same_queries_for_1_and_60_appointments(
    open_clinic, consultant, nurse, spare, planned_course
):
    works(spare["consultant"], open_clinic, range(5))
    works(spare["nurse"], open_clinic, range(5))
    book_session(planned_course, local(2026, 5, 26, 10))
    patient = planned_course.patient
    window = BookingWindow(NOW)
    rooms = list(Room.objects.filter(location=open_clinic))
    staff = [(consultant, nurse), (spare["consultant"], spare["nurse"])]

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            slots = free_slots(
                treatment=micro(),
                minutes=30,
                first_day=date(2026, 6, 1),
                last_day=date(2026, 6, 30),
                patient=patient,
                course=planned_course,
                window=window,
            )
        assert slots
        return len(ctx.captured_queries)

    def add(i: int) -> None:
        day = date(2026, 6, 1) + timedelta(days=i // 3 + (i // 15) * 2)  # weekdays of June
        team = staff[i % 2]
        book(
            start=local(day.year, day.month, day.day, 9 + 2 * (i % 3), 15 * (i % 2)),
            what=micro(),
            consultant=team[0],
            nurse=team[1],
            room=rooms[i % len(rooms)],
            patient=patient if i % 7 == 0 else None,
        )

    add(0)
    few = count()
    for i in range(1, 60):
        add(i)
    assert Appointment.objects.filter(start__month=6).count() == 60
    many = count()
    assert few == many
    assert many <= 15
