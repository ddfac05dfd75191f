"""The cache of free times (``bookings.slot_cache``).

What must hold: whatever has changed in the diary, a search through the cache returns
exactly what a fresh search returns (``bookings.availability.free_slots``), for every
kind of search a patient makes (a consultation, a course session with its consultant and
gap, a given location or consultant, with and without the booking window), and across a
change of the clocks. The main test runs random sequences of changes: appointments made,
cancelled, moved and deleted, leave, closures, working patterns, treatment buffers and
rooms, checking after each one with the cache already full from the step before.

The rest: a warm search does not read the diary again; a change refreshes the cache when
its transaction commits (a search that read the diary just before the commit would
otherwise keep the old picture); a lost token never brings stale days back; a broken
cache falls back to the plain search; without ``SLOT_CACHE_SECONDS`` nothing is cached.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext, override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bookings import availability, slot_cache
from bookings.availability import BookingWindow
from bookings.models import Appointment
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
from treatments.models import Course

from ..factories import (
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

# A fortnight around the end of summer time (Sunday 25 October 2026).
FIRST, LAST = date(2026, 10, 19), date(2026, 11, 1)
NOW = local(2026, 10, 5, 8)
DAYS = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
Status = Appointment.Status


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


class Clinic:
    """Two locations open every day 08:00–18:00, each with a consulting and a treatment
    room; two consultants and two nurses working at both on different days; two patients,
    one of them with a planned course."""

    def __init__(self) -> None:
        self.locations = [LocationFactory(slug=f"site-{n}", name=f"Site {n}") for n in (1, 2)]
        self.rooms: list[Room] = []
        for location in self.locations:
            self.rooms.append(RoomFactory(location=location, name="C", kind=Room.Kind.CONSULTING))
            self.rooms.append(RoomFactory(location=location, name="T", kind=Room.Kind.TREATMENT))
            for weekday in range(7):
                OpeningHours.objects.create(
                    location=location, weekday=weekday, opens=time(8), closes=time(18)
                )
        self.consultants: list[StaffMember] = [ConsultantFactory(), ConsultantFactory()]
        self.nurses: list[StaffMember] = [NurseFactory(), NurseFactory()]
        self.staff = self.consultants + self.nurses
        for n, member in enumerate(self.staff):
            for weekday in range(7):
                WorkingPattern.objects.create(
                    staff=member,
                    location=self.locations[(weekday + n) % 2],
                    weekday=weekday,
                    starts=time(8 + n % 2),
                    ends=time(17),
                    valid_from=date(2026, 1, 1),
                )
        self.patients: list[Patient] = [PatientFactory(), PatientFactory()]
        self.consultation = treatment("initial-consultation")
        self.micro = treatment("microsclerotherapy")
        self.course: Course = CourseFactory(
            patient=self.patients[1], consultant=self.consultants[1], min_gap_days=28
        )


@pytest.fixture
def clinic(db) -> Clinic:
    return Clinic()


def searches(clinic: Clinic) -> list[dict[str, Any]]:
    """The kinds of search patients and the booking pages make."""
    window = BookingWindow()
    return [
        {
            "treatment": clinic.consultation,
            "minutes": 30,
            "patient": clinic.patients[0],
            "window": window,
        },
        {"treatment": clinic.consultation, "minutes": 30, "patient": clinic.patients[0]},
        {
            "treatment": clinic.micro,
            "minutes": 45,
            "patient": clinic.patients[1],
            "course": clinic.course,
            "window": window,
        },
        {"treatment": clinic.micro, "minutes": 30, "patient": clinic.patients[1]},
        {"treatment": clinic.consultation, "minutes": 30, "location": clinic.locations[1]},
        {
            "treatment": clinic.consultation,
            "minutes": 30,
            "patient": clinic.patients[1],
            "consultant_id": clinic.consultants[0].pk,
        },
    ]


def assert_same(clinic: Clinic) -> None:
    for shape in searches(clinic):
        fresh = availability.free_slots(first_day=FIRST, last_day=LAST, **shape)
        assert slot_cache.free_slots(first_day=FIRST, last_day=LAST, **shape) == fresh, shape
        if "location" not in shape and "consultant_id" not in shape:
            counts = slot_cache.free_counts(first_day=FIRST, last_day=LAST, **shape)
            assert counts == {day: len(slots) for day, slots in fresh.items()}, shape


# --- random changes -------------------------------------------------------------------------

day_index = st.integers(0, len(DAYS) - 1)
quarter = st.integers(0, 39)  # 08:00 + 15 min × n
change = st.one_of(
    st.tuples(
        st.just("book"),
        day_index,
        quarter,
        st.integers(0, 3),  # consultant, or with a nurse
        st.integers(0, 3),  # room
        st.integers(0, 1),  # patient
        st.sampled_from([Status.BOOKED, Status.CANCELLED, Status.COMPLETED]),
    ),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("move"), st.integers(0, 50), day_index, quarter),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("leave"), st.integers(0, 3), day_index),
    st.tuples(st.just("closure"), day_index, st.booleans()),
    st.tuples(st.just("pattern"), st.integers(0, 3), day_index),
    st.tuples(st.just("buffer"), st.sampled_from([0, 5, 15])),
    st.tuples(st.just("room"), st.integers(0, 3)),
)


def start_at(day: int, quarter: int) -> datetime:
    when = datetime.combine(DAYS[day], time(8)) + timedelta(minutes=15 * quarter)
    return local(when.year, when.month, when.day, when.hour, when.minute)


def apply(clinic: Clinic, step: tuple[Any, ...]) -> None:
    kind, *args = step
    # The course's consultation stays: the course refers to it.
    appointments = list(
        Appointment.objects.exclude(pk=clinic.course.consultation_id).order_by("pk")
    )
    if kind == "book":
        day, when, who, room, patient, status = args
        start = start_at(day, when)
        with_nurse = who >= 2
        try:
            # PostgreSQL's exclusion constraints refuse a double booking: that change
            # simply does not happen (a savepoint keeps the example's transaction usable).
            with transaction.atomic():
                Appointment.objects.create(
                    patient=clinic.patients[patient],
                    treatment=clinic.micro if with_nurse else clinic.consultation,
                    start=start,
                    end=start + timedelta(minutes=30),
                    consultant=clinic.consultants[who % 2],
                    nurse=clinic.nurses[who % 2] if with_nurse else None,
                    room=clinic.rooms[room],
                    status=status,
                )
        except IntegrityError:
            pass
    elif kind == "cancel" and appointments:
        appointment = appointments[args[0] % len(appointments)]
        appointment.status = Status.CANCELLED
        appointment.save(update_fields=["status"])
    elif kind == "move" and appointments:
        appointment = appointments[args[0] % len(appointments)]
        appointment.start = start_at(args[1], args[2])
        appointment.end = appointment.start + timedelta(minutes=30)
        appointment.save(update_fields=["start", "end"])
    elif kind == "delete" and appointments:
        appointments[args[0] % len(appointments)].delete()
    elif kind == "leave":
        begins = start_at(args[1], 0)
        StaffException.objects.create(
            staff=clinic.staff[args[0]],
            kind=StaffException.Kind.LEAVE,
            starts_at=begins,
            ends_at=begins + timedelta(hours=5),
        )
    elif kind == "closure":
        Closure.objects.get_or_create(
            date=DAYS[args[0]],
            location=clinic.locations[0] if args[1] else None,
            defaults={"reason": "Test"},
        )
    elif kind == "pattern":
        pattern = WorkingPattern.objects.filter(staff=clinic.staff[args[0]]).order_by("pk").first()
        if pattern is not None:
            pattern.valid_until = DAYS[args[1]]
            pattern.save()
    elif kind == "buffer":
        clinic.consultation.buffer_minutes = args[0]
        clinic.consultation.save()
    elif kind == "room":
        room = clinic.rooms[args[0]]
        room.is_active = not room.is_active
        room.save()


@hypothesis_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(changes=st.lists(change, min_size=1, max_size=6))
def test_the_cache_answers_as_a_fresh_search_after_any_change(clinic: Clinic, changes) -> None:
    cache.clear()
    with transaction.atomic():
        assert_same(clinic)  # fills the cache
        for step in changes:
            apply(clinic, step)
            clinic.consultation.refresh_from_db()
            assert_same(clinic)
        # Every example starts from the same clinic.
        transaction.set_rollback(True)


def test_a_change_of_time_refreshes_the_day_the_appointment_left(clinic: Clinic) -> None:
    start = start_at(3, 4)
    appointment = Appointment.objects.create(
        patient=clinic.patients[0],
        treatment=clinic.consultation,
        start=start,
        end=start + timedelta(minutes=30),
        consultant=clinic.consultants[0],
        room=clinic.rooms[0],
    )
    shape = searches(clinic)[1]
    slot_cache.free_slots(first_day=FIRST, last_day=LAST, **shape)
    # Read back, as the reschedule service does, and moved a week on.
    moved = Appointment.objects.get(pk=appointment.pk)
    moved.start, moved.end = start + timedelta(days=7), start + timedelta(days=7, minutes=30)
    moved.save(update_fields=["start", "end"])
    fresh = availability.free_slots(first_day=FIRST, last_day=LAST, **shape)
    assert slot_cache.free_slots(first_day=FIRST, last_day=LAST, **shape) == fresh
    assert start in {slot.start for slot in fresh[DAYS[3]]}


# --- the cache is used --------------------------------------------------------------------


def test_a_warm_search_reads_only_the_patients_own_appointments(clinic: Clinic) -> None:
    shape = searches(clinic)[0]
    with CaptureQueriesContext(connection) as cold:
        first = slot_cache.free_slots(first_day=FIRST, last_day=LAST, **shape)
    with CaptureQueriesContext(connection) as warm:
        second = slot_cache.free_slots(first_day=FIRST, last_day=LAST, **shape)
    assert first == second
    assert len(cold) == 8  # the diary's 7 queries and the patient's appointments
    assert len(warm) == 1
    assert "bookings_appointment" in warm[0]["sql"]
    assert str(clinic.patients[0].pk) in warm[0]["sql"] or warm[0]["sql"].count("%s") == 0


def test_a_month_page_of_a_warm_cache_builds_no_slots(clinic: Clinic) -> None:
    shape = searches(clinic)[0]
    slot_cache.free_counts(first_day=FIRST, last_day=LAST, **shape)
    with CaptureQueriesContext(connection) as warm:
        counts = slot_cache.free_counts(first_day=FIRST, last_day=LAST, **shape)
    assert len(warm) == 1
    assert counts and all(n > 0 for n in counts.values())


# --- keeping it fresh ---------------------------------------------------------------------


def test_a_booking_refreshes_its_days_again_when_it_commits(
    clinic: Clinic, django_capture_on_commit_callbacks
) -> None:
    """A search that read the diary before the booking committed stored what it saw under
    the tokens of that moment; the tokens must change again after the commit."""
    day = DAYS[5]
    key = slot_cache._day_key(day)
    slot_cache.forget_days([day])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        start = start_at(5, 8)
        Appointment.objects.create(
            patient=clinic.patients[0],
            treatment=clinic.consultation,
            start=start,
            end=start + timedelta(minutes=30),
            consultant=clinic.consultants[0],
            room=clinic.rooms[0],
        )
    before_commit = cache.get(key)
    assert before_commit is not None
    for callback in callbacks:
        callback()
    assert cache.get(key) not in (None, before_commit)


def test_a_change_to_the_clinic_refreshes_every_day_when_it_commits(
    clinic: Clinic, django_capture_on_commit_callbacks
) -> None:
    slot_cache.forget_all()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        Closure.objects.create(date=DAYS[2], location=None, reason="Staff training")
    before_commit = cache.get(slot_cache._CLINIC_TOKEN)
    for callback in callbacks:
        callback()
    assert cache.get(slot_cache._CLINIC_TOKEN) not in (None, before_commit)


def test_a_lost_token_never_brings_back_what_was_cached_under_the_old_one(
    clinic: Clinic,
) -> None:
    """Tokens are random: if the cache drops a day's token, the new one is not the old
    one, so days cached before a change the cache did not hear of are not used."""
    start = start_at(4, 8)
    booked = Appointment.objects.create(
        patient=clinic.patients[1],
        treatment=clinic.consultation,
        start=start,
        end=start + timedelta(minutes=30),
        consultant=clinic.consultants[0],
        room=clinic.rooms[0],
    )
    shape = searches(clinic)[1]
    slot_cache.free_slots(first_day=FIRST, last_day=LAST, **shape)
    # A change the signals do not see (a bulk update), then the day's token is lost.
    Appointment.objects.filter(pk=booked.pk).update(status=Status.CANCELLED)
    cache.delete_many([slot_cache._day_key(day) for day in DAYS])
    fresh = availability.free_slots(first_day=FIRST, last_day=LAST, **shape)
    assert slot_cache.free_slots(first_day=FIRST, last_day=LAST, **shape) == fresh


class BrokenCache(LocMemCache):
    def get_many(self, keys, version=None):  # type: ignore[no-untyped-def]
        raise ConnectionError("the cache is down")

    def set_many(self, data, timeout=None, version=None):  # type: ignore[no-untyped-def]
        raise ConnectionError("the cache is down")


@override_settings(CACHES={"default": {"BACKEND": "tests.bookings.test_slot_cache.BrokenCache"}})
def test_a_broken_cache_falls_back_to_a_fresh_search(clinic: Clinic, caplog) -> None:
    shape = searches(clinic)[0]
    fresh = availability.free_slots(first_day=FIRST, last_day=LAST, **shape)
    assert slot_cache.free_slots(first_day=FIRST, last_day=LAST, **shape) == fresh
    assert slot_cache.free_counts(first_day=FIRST, last_day=LAST, **shape) == {
        day: len(slots) for day, slots in fresh.items()
    }
    assert "Slot cache unavailable" in caplog.text
    # A booking still saves when the cache cannot be told.
    start = start_at(2, 2)
    Appointment.objects.create(
        patient=clinic.patients[0],
        treatment=clinic.consultation,
        start=start,
        end=start + timedelta(minutes=30),
        consultant=clinic.consultants[0],
        room=clinic.rooms[0],
    )
    assert "Could not refresh the slot cache" in caplog.text


@override_settings(SLOT_CACHE_SECONDS=0)
def test_without_slot_cache_seconds_nothing_is_cached(clinic: Clinic) -> None:
    shape = searches(clinic)[0]
    cache.clear()  # of the tokens the clinic's making wrote (the fixture runs with the cache on)
    slot_cache.free_slots(first_day=FIRST, last_day=LAST, **shape)
    with CaptureQueriesContext(connection) as again:
        slot_cache.free_slots(first_day=FIRST, last_day=LAST, **shape)
    assert len(again) == 7  # the whole search again
    assert cache.get(slot_cache._CLINIC_TOKEN) is None


def test_a_reschedule_search_leaving_one_appointment_out_is_never_cached(
    clinic: Clinic,
) -> None:
    start = start_at(1, 4)
    mine = Appointment.objects.create(
        patient=clinic.patients[0],
        treatment=clinic.consultation,
        start=start,
        end=start + timedelta(minutes=30),
        consultant=clinic.consultants[0],
        room=clinic.rooms[0],
    )
    shape = dict(searches(clinic)[1], ignore_appointment_id=mine.pk)
    fresh = availability.free_slots(first_day=FIRST, last_day=LAST, **shape)
    assert slot_cache.free_slots(first_day=FIRST, last_day=LAST, **shape) == fresh
    assert start in {slot.start for slot in fresh[DAYS[1]]}
    # The usual picture, cached afterwards, still has the appointment's time taken.
    usual = slot_cache.free_slots(first_day=FIRST, last_day=LAST, **searches(clinic)[1])
    assert start not in {slot.start for slot in usual.get(DAYS[1], [])}


def test_the_settings_turn_the_cache_on_only_with_a_shared_cache(monkeypatch) -> None:
    import importlib

    import clinic.settings.base as base

    try:
        monkeypatch.setenv("CACHE_URL", "redis://127.0.0.1:6379/15")
        monkeypatch.delenv("SLOT_CACHE_SECONDS", raising=False)
        assert importlib.reload(base).SLOT_CACHE_SECONDS == 300
        monkeypatch.setenv("CACHE_URL", "")
        assert importlib.reload(base).SLOT_CACHE_SECONDS == 0
        monkeypatch.setenv("SLOT_CACHE_SECONDS", "60")
        assert importlib.reload(base).SLOT_CACHE_SECONDS == 60
    finally:
        monkeypatch.undo()
        importlib.reload(base)


def test_course_of_someone_elses_consultant_gives_nothing(clinic: Clinic) -> None:
    shape = dict(searches(clinic)[2], consultant_id=clinic.consultants[0].pk)
    assert availability.free_slots(first_day=FIRST, last_day=LAST, **shape) == {}
    assert slot_cache.free_slots(first_day=FIRST, last_day=LAST, **shape) == {}


def test_locations_of_the_clinic_fixture_are_used(clinic: Clinic) -> None:
    # Guards the fixture: the searches above see slots at both sites, on the DST day too.
    slots = availability.free_slots(
        treatment=clinic.consultation, minutes=30, first_day=FIRST, last_day=LAST
    )
    assert {s.location_id for day in slots.values() for s in day} == {
        location.pk for location in clinic.locations
    }
    assert date(2026, 10, 25) in slots
    assert isinstance(clinic.locations[0], Location)


# --- the pages ----------------------------------------------------------------------------


def test_the_month_and_day_pages_of_a_warm_cache_skip_the_diary(
    open_clinic, patient_client
) -> None:
    month = "/book/initial-consultation/?month=2026-10"
    first = patient_client.get(month)
    assert first.status_code == 200
    with CaptureQueriesContext(connection) as warm:
        again = patient_client.get(month)
    assert again.status_code == 200
    assert again.content.count(b'data-testid="free-day"') == first.content.count(
        b'data-testid="free-day"'
    )
    assert again.content.count(b'data-testid="free-day"') > 10
    assert not any("clinic_workingpattern" in q["sql"] for q in warm.captured_queries)
    assert len(warm) <= 10
    day = "/book/initial-consultation/day/2026-10-27/"
    patient_client.get(day)
    with CaptureQueriesContext(connection) as warm_day:
        shown = patient_client.get(day)
    assert shown.content.count(b'data-testid="free-time"') == 31  # 09:00 to 16:30
    assert not any("clinic_workingpattern" in q["sql"] for q in warm_day.captured_queries)
