"""seed_scale: a large clinic that keeps every rule, made the same way twice.

The clinic is built at a small scale (SQLite in the normal run); one test on PostgreSQL
builds a bigger one and shows that the exclusion constraints are back and accept it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test import override_settings

from aftercare.models import AftercarePlan, Reminder
from bookings.models import Appointment
from bookings.selectors import booking_option_for
from clinic.demo import BANK_HOLIDAYS
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
from clinic.roles import Role, roles_of
from clinic.scale import SCALE_PASSWORD, Sizes, bank_holidays
from patients.models import Patient, Screening
from treatments.models import Course, SessionRecord, SignedConsent, StockingFitting, Treatment

from ..factories import PatientFactory

pytestmark = pytest.mark.django_db

SCALE = 0.01
ZONE = ZoneInfo(settings.CLINIC_TIME_ZONE)


def seed(*args: str) -> str:
    out = StringIO()
    with override_settings(DEBUG=True):
        call_command("seed_scale", "--scale", str(SCALE), *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def scale_clinic() -> str:
    return seed()


def test_counts_follow_the_scale(scale_clinic: str) -> None:
    sizes = Sizes.scaled(SCALE)
    assert (sizes.patients, sizes.courses, sizes.appointments, sizes.reminders) == (
        50,
        20,
        500,
        1000,
    )
    assert Location.objects.filter(slug__startswith="scale-").count() == sizes.locations
    assert Room.objects.count() == sizes.rooms
    assert {Room.Kind.TREATMENT, Room.Kind.CONSULTING} <= set(
        Room.objects.values_list("kind", flat=True)
    )
    assert StaffMember.objects.filter(role=Role.CONSULTANT).count() == sizes.consultants
    assert StaffMember.objects.filter(role=Role.NURSE).count() == sizes.nurses
    assert Patient.objects.count() == sizes.patients
    assert Course.objects.count() == sizes.courses
    assert Appointment.objects.count() == sizes.appointments
    assert Reminder.objects.count() == sizes.reminders
    # Full scale: the numbers, and at least 200 patients without a consultation.
    full = Sizes.scaled(1)
    assert (full.locations, full.rooms, full.consultants + full.nurses) == (3, 12, 20)
    assert (full.patients, full.courses, full.appointments, full.reminders) == (
        5000,
        2000,
        50000,
        100000,
    )
    assert full.new_patients >= 200
    assert "Scale data is ready" in scale_clinic
    assert "total" in scale_clinic and " s" in scale_clinic  # timings are printed


def test_logins_work_with_the_published_password(scale_clinic: str) -> None:
    for email, role in [
        ("scale-consultant-01@scale.example.com", Role.CONSULTANT),
        ("scale-nurse-01@scale.example.com", Role.NURSE),
        ("scale-admin@scale.example.com", Role.CLINIC_ADMIN),
        ("scale-patient-0001@scale.example.com", Role.PATIENT),
        ("scale-patient-0050@scale.example.com", Role.PATIENT),
    ]:
        user = User.objects.get(email=email)
        assert user.check_password(SCALE_PASSWORD)
        assert role in roles_of(user)
    # One hash made once and shared, not one per account.
    assert User.objects.values("password").distinct().count() == 1


def test_patients_in_each_benchmark_state(scale_clinic: str) -> None:
    sizes = Sizes.scaled(SCALE)
    consultation = Treatment.objects.get(slug="initial-consultation")
    new = Patient.objects.filter(appointments__isnull=True)
    assert new.count() >= sizes.new_patients
    first = Patient.objects.get(user__email="scale-patient-0001@scale.example.com")
    assert not first.appointments.exists()
    assert booking_option_for(patient=first, treatment=consultation).allowed
    # Courses in progress whose next session may be booked today.
    today = datetime.now(UTC).astimezone(ZONE).date()
    ready = 0
    active = Course.objects.filter(status=Course.Status.ACTIVE).select_related(
        "treatment", "patient"
    )
    for course in active:
        option = booking_option_for(
            patient=course.patient, treatment=course.treatment, course=course
        )
        if option.allowed and option.earliest_day is not None and option.earliest_day <= today:
            ready += 1
    assert ready >= sizes.ready_courses
    assert "next session bookable now" in scale_clinic


def _local(moment: datetime) -> datetime:
    return moment.astimezone(ZONE)


def test_every_appointment_is_inside_hours_and_working_patterns(scale_clinic: str) -> None:
    hours = defaultdict(list)
    for row in OpeningHours.objects.all():
        hours[(row.location_id, row.weekday)].append((row.opens, row.closes))
    closed = set(Closure.objects.values_list("location_id", "date"))
    patterns = defaultdict(list)
    for pattern in WorkingPattern.objects.all():
        patterns[pattern.staff_id].append(pattern)
    leave = defaultdict(list)
    for away in StaffException.objects.filter(kind=StaffException.Kind.LEAVE):
        leave[away.staff_id].append((away.starts_at, away.ends_at))
    step = settings.BOOKING_SLOT_STEP_MINUTES

    def at_work(staff_id: int, location_id: int, start: datetime, end: datetime) -> bool:
        day, begins, ends = _local(start).date(), _local(start).time(), _local(end).time()
        if any(a < end and start < b for a, b in leave[staff_id]):
            return False
        return any(
            p.location_id == location_id
            and p.weekday == day.weekday()
            and p.valid_from <= day
            and (p.valid_until is None or day <= p.valid_until)
            and p.starts <= begins
            and ends <= p.ends
            for p in patterns[staff_id]
        )

    appointments = Appointment.objects.select_related("room", "treatment")
    assert appointments.exists()
    for a in appointments:
        start, end = _local(a.start), _local(a.end)
        location = a.room.location_id
        assert start.date() == end.date()
        assert (location, start.date()) not in closed and (None, start.date()) not in closed
        rows = hours[(location, start.weekday())]
        row = next((r for r in rows if r[0] <= start.time() and end.time() <= r[1]), None)
        assert row is not None, f"{a} is outside opening hours"
        opens = row[0].hour * 60 + row[0].minute
        assert (start.hour * 60 + start.minute - opens) % step == 0, "not on the slot step"
        assert at_work(a.consultant_id, location, a.start, a.end), f"consultant away: {a}"
        if a.treatment.kind == Treatment.Kind.TREATMENT:
            assert a.nurse_id is not None and a.room.kind == Room.Kind.TREATMENT
            assert at_work(a.nurse_id, location, a.start, a.end), f"nurse away: {a}"
        else:
            assert a.nurse_id is None and a.room.kind == Room.Kind.CONSULTING
        assert a.treatment.session_lengths == [] or a.minutes in a.treatment.session_lengths


def test_nobody_and_nothing_is_double_booked(scale_clinic: str) -> None:
    """As the exclusion constraints (and slot search, with the treatment's buffer)."""
    diaries: dict[tuple[str, int], list[tuple[datetime, datetime, datetime]]] = defaultdict(list)
    holding = Appointment.objects.exclude(status=Appointment.Status.CANCELLED).select_related(
        "treatment"
    )
    for a in holding:
        held = a.end + timedelta(minutes=a.treatment.buffer_minutes)
        diaries[("staff", a.consultant_id)].append((a.start, a.end, held))
        if a.nurse_id:
            diaries[("staff", a.nurse_id)].append((a.start, a.end, held))
        diaries[("room", a.room_id)].append((a.start, a.end, held))
        diaries[("patient", a.patient_id)].append((a.start, a.end, a.end))
    assert diaries
    for (kind, _), times in diaries.items():
        times.sort()
        for (_, _, held), (start, _, _) in zip(times, times[1:], strict=False):
            assert start >= held, f"{kind} booked twice at {start}"


def test_courses_follow_the_treatment_rules(scale_clinic: str) -> None:
    now = datetime.now(UTC)
    courses = Course.objects.select_related("treatment", "consultation__treatment")
    for course in courses:
        t = course.treatment
        assert 2 <= course.planned_sessions <= 4
        assert t.min_planned_sessions <= course.planned_sessions <= t.max_planned_sessions
        assert t.min_gap_days_lowest <= course.min_gap_days <= t.min_gap_days_highest
        consultation = course.consultation
        assert consultation.patient_id == course.patient_id
        assert consultation.treatment.kind == Treatment.Kind.CONSULTATION
        assert consultation.status == Appointment.Status.COMPLETED
        sessions = list(
            SessionRecord.objects.filter(course=course)
            .select_related("appointment", "consent")
            .order_by("appointment__start")
        )
        live = [s for s in sessions if s.status != SessionRecord.Status.ABANDONED]
        assert [s.number for s in live] == list(range(1, len(live) + 1))
        assert len(live) <= course.planned_sessions
        assert sum(s.status == SessionRecord.Status.SCHEDULED for s in live) <= 1
        for before, after in zip(live, live[1:], strict=False):
            gap = _local(after.appointment.start).date() - _local(before.appointment.start).date()
            assert gap.days >= course.min_gap_days
        for s in sessions:
            a = s.appointment
            assert a.start > consultation.end and a.consultant_id == course.consultant_id
            assert a.patient_id == course.patient_id and a.treatment_id == course.treatment_id
            if s.status == SessionRecord.Status.COMPLETED:
                assert a.status == Appointment.Status.COMPLETED and a.start < now
                assert s.consent is not None and s.consent.signed_at < a.start
                assert s.total_volume_ml and s.concentration_percent and s.treated_areas
                assert set(s.treated_areas) <= set(course.treated_areas)
                assert s.discharge_walk_minutes >= t.discharge_walk_minutes
                legs = set(StockingFitting.objects.filter(session=s).values_list("leg", flat=True))
                assert legs == set(
                    {"both": ["left", "right"]}.get(s.legs_treated, [s.legs_treated])
                )
                assert AftercarePlan.objects.filter(session=s).exists()
            elif s.status == SessionRecord.Status.ABANDONED:
                assert a.status == Appointment.Status.CANCELLED and s.abandoned_reason
            else:
                assert a.status == Appointment.Status.BOOKED and a.start > now
        done = sum(s.status == SessionRecord.Status.COMPLETED for s in sessions)
        if course.status == Course.Status.COMPLETED:
            assert done == course.planned_sessions and course.closed_at is not None
        elif course.status == Course.Status.PLANNED:
            assert done == 0
        if done:
            assert SignedConsent.objects.filter(course=course, withdrawn_at__isnull=True).exists()


def test_times_tell_one_story(scale_clinic: str) -> None:
    """Registered, then booked, then seen; a follow-up booked after the visit it follows."""
    now = datetime.now(UTC)
    first_session_end: dict[int, datetime] = {}
    for patient_id, end in (
        Appointment.objects.filter(
            treatment__kind=Treatment.Kind.TREATMENT, status=Appointment.Status.COMPLETED
        )
        .order_by("start")
        .values_list("patient_id", "end")
    ):
        first_session_end.setdefault(patient_id, end)
    appointments = Appointment.objects.select_related("treatment", "patient__user")
    for a in appointments:
        assert a.patient.user.date_joined <= a.created_at <= min(a.start, now)
        if a.status == Appointment.Status.CANCELLED:
            assert a.cancelled_at is not None and a.created_at <= a.cancelled_at <= now
            assert a.cancellation_reason
        elif a.start > now:
            assert a.status == Appointment.Status.BOOKED
        else:
            assert a.status in (Appointment.Status.COMPLETED, Appointment.Status.NO_SHOW)
        if a.treatment.kind == Treatment.Kind.REASSESSMENT:
            assert a.created_at >= first_session_end[a.patient_id]


def test_reminders_are_mostly_sent_and_some_wait(scale_clinic: str) -> None:
    now = datetime.now(UTC)
    by_status = defaultdict(int)
    for status, due_at in Reminder.objects.values_list("status", "due_at"):
        by_status[status] += 1
        if status == Reminder.Status.PENDING:
            assert due_at > now  # nothing is left due: a worker would send it at once
    assert by_status[Reminder.Status.SENT] > Reminder.objects.count() / 2
    assert by_status[Reminder.Status.PENDING] > 0
    flagged = Screening.objects.exclude(reviewed_at=None)
    assert all(s.reviewed_by_id for s in flagged)


def test_refuses_a_second_run_and_reset_replaces_only_scale_data(scale_clinic: str) -> None:
    other = PatientFactory()
    with pytest.raises(CommandError, match="already holds scale data.*--reset"):
        seed()
    counts = (Appointment.objects.count(), Patient.objects.count(), Reminder.objects.count())
    output = seed("--reset")
    assert "deleted earlier scale data" in output
    assert (Appointment.objects.count(), Patient.objects.count(), Reminder.objects.count()) == (
        counts
    )
    assert Patient.objects.filter(pk=other.pk).exists()
    assert (
        Location.objects.filter(slug__startswith="scale-").count() == Sizes.scaled(SCALE).locations
    )


def _snapshot() -> dict[str, Any]:
    appointments = sorted(
        Appointment.objects.values_list(
            "patient__user__email",
            "treatment__slug",
            "start",
            "end",
            "status",
            "consultant__user__email",
            "nurse__user__email",
            "room__name",
        )
    )
    courses = sorted(
        Course.objects.values_list(
            "patient__user__email", "treatment__slug", "planned_sessions", "status", "legs"
        )
    )
    reminders = sorted(
        Reminder.objects.values_list("patient__user__email", "kind", "due_at", "status")
    )
    return {"appointments": appointments, "courses": courses, "reminders": reminders}


def test_the_same_seed_makes_the_same_clinic() -> None:
    with time_machine.travel(datetime.now(UTC), tick=False):
        seed("--seed", "7")
        first = _snapshot()
        seed("--seed", "7", "--reset")
        assert _snapshot() == first
        seed("--seed", "8", "--reset")
        assert _snapshot() != first


def test_bank_holidays_match_the_demo_list() -> None:
    assert set(bank_holidays(date(2026, 12, 1), date(2027, 6, 30))) == set(BANK_HOLIDAYS)


def test_refuses_with_debug_off_unless_forced() -> None:
    with override_settings(DEBUG=False):
        with pytest.raises(CommandError, match="only runs with DEBUG on"):
            call_command("seed_scale", "--scale", str(SCALE), stdout=StringIO())
        call_command("seed_scale", "--scale", str(SCALE), "--force", stdout=StringIO())
    assert Appointment.objects.count() == Sizes.scaled(SCALE).appointments


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scale", "0"], "scale must be above 0"),
        (["--courses", "60"], "courses need at least"),
        (["--appointments", "5"], "ask for at least"),
    ],
)
def test_impossible_sizes_are_refused_clearly(args: list[str], message: str) -> None:
    with override_settings(DEBUG=True), pytest.raises(CommandError, match=message):
        call_command("seed_scale", "--scale", str(SCALE), *args, stdout=StringIO())
    assert not Appointment.objects.exists()


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: the exclusion constraints exist only there",
)
def test_postgresql_exclusion_constraints_hold_the_data() -> None:
    """A moderate clinic: the constraints set aside during the load are back, validated
    over every row, and still refuse a double booking."""
    with override_settings(DEBUG=True):
        call_command("seed_scale", "--scale", "0.05", stdout=StringIO())
    assert Appointment.objects.count() == Sizes.scaled(0.05).appointments
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, convalidated FROM pg_constraint "
            "WHERE conrelid = 'bookings_appointment'::regclass AND contype IN ('f', 'x')"
        )
        found = dict(cursor.fetchall())
    names = {f"appointment_no_overlap_{n}" for n in ("consultant", "nurse", "room", "patient")}
    assert names <= set(found) and all(found.values())
    assert sum(1 for name in found if name not in names) == 6  # the foreign keys
    taken = Appointment.objects.exclude(status=Appointment.Status.CANCELLED).first()
    assert taken is not None
    other = Patient.objects.exclude(pk=taken.patient_id).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(
            patient=other,
            treatment=taken.treatment,
            start=taken.start,
            end=taken.end,
            consultant=taken.consultant,
            room=taken.room,
        )


def test_free_times_cached_before_the_load_are_forgotten(django_capture_on_commit_callbacks):
    """COPY sends no signal: without this the booking pages would show the free times of
    the clinic as it was before the load until the cache expired."""
    from django.core.cache import cache

    from bookings import slot_cache

    slot_cache.forget_all()
    before = cache.get(slot_cache._CLINIC_TOKEN)
    with django_capture_on_commit_callbacks(execute=True):
        seed()
    assert cache.get(slot_cache._CLINIC_TOKEN) not in (None, before)
