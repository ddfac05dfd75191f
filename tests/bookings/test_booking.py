"""Booking, moving and cancelling through the engine's services."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine

from bookings.availability import BookingWindow, free_slots
from bookings.models import Appointment, WaitingListEntry
from bookings.selectors import booking_option_for, booking_options
from bookings.services import (
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    waiting_list_join,
)
from clinic.errors import DomainError
from treatments.models import SessionRecord

from ..factories import PatientFactory, local, treatment

pytestmark = pytest.mark.django_db

# A Monday morning in spring; the clinic is open Mon–Fri 09:00–17:00.
NOW = local(2026, 5, 4, 8)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def consultation():
    return treatment("initial-consultation")


def test_consultation_slots_respect_notice_and_hours(open_clinic, patient):
    slots = free_slots(
        treatment=consultation(),
        minutes=30,
        first_day=date(2026, 5, 4),
        last_day=date(2026, 5, 6),
        patient=patient,
        window=BookingWindow(),
    )
    # 24 hours' notice: nothing on Monday, Tuesday from 08:00 +24h → from 09:00.
    assert date(2026, 5, 4) not in slots
    tuesday = slots[date(2026, 5, 5)]
    assert tuesday[0].local_start.strftime("%H:%M") == "09:00"
    assert tuesday[-1].local_start.strftime("%H:%M") == "16:30"
    assert len(tuesday) == 31  # every 15 minutes from 09:00 to 16:30


def test_a_patient_books_a_consultation_and_the_time_is_gone(open_clinic, patient):
    start = local(2026, 5, 5, 10)
    appointment = appointment_book(
        patient=patient, treatment=consultation(), start=start, minutes=30
    )
    assert appointment.booked_online
    assert appointment.price_amount is not None
    other = PatientFactory()
    with pytest.raises(DomainError, match="just taken"):
        appointment_book(patient=other, treatment=consultation(), start=start, minutes=30)
    # back to back is fine
    assert appointment_book(
        patient=other, treatment=consultation(), start=local(2026, 5, 5, 10, 30), minutes=30
    ).pk


def test_online_booking_needs_notice(open_clinic, patient):
    with pytest.raises(DomainError, match="24 hours"):
        appointment_book(
            patient=patient, treatment=consultation(), start=local(2026, 5, 4, 15), minutes=30
        )


def test_one_consultation_at_a_time(open_clinic, patient):
    appointment_book(
        patient=patient, treatment=consultation(), start=local(2026, 5, 5, 10), minutes=30
    )
    option = booking_option_for(patient=patient, treatment=consultation())
    assert not option.allowed
    assert "already have a consultation" in option.reason


def test_treatment_needs_a_course(open_clinic, patient):
    option = booking_option_for(patient=patient, treatment=treatment("microsclerotherapy"))
    assert not option.allowed
    assert "consultant has planned your course" in option.reason
    kinds = {o.treatment.slug: o.allowed for o in booking_options(patient=patient)}
    assert kinds == {
        "initial-consultation": True,
        "microsclerotherapy": False,
        "reassessment": False,
    }


def test_course_sessions_follow_the_gap(open_clinic, course, nurse, treatment_room, consultant):
    course.consultant = consultant
    course.save()
    first = appointment_book(
        patient=course.patient,
        treatment=course.treatment,
        start=local(2026, 5, 5, 10),
        minutes=45,
    )
    assert first.session_record.number == 1
    option = booking_option_for(patient=course.patient, treatment=course.treatment)
    assert option.earliest_day == date(2026, 6, 2)
    assert "from Tuesday 2 June 2026" in option.reason
    slots = free_slots(
        treatment=course.treatment,
        minutes=45,
        first_day=date(2026, 5, 5),
        last_day=date(2026, 6, 5),
        patient=course.patient,
        course=course,
        window=BookingWindow(),
    )
    assert min(slots) == date(2026, 6, 2)
    with pytest.raises(DomainError):
        appointment_book(
            patient=course.patient,
            treatment=course.treatment,
            start=local(2026, 6, 1, 10),
            minutes=45,
        )


def test_cancel_frees_the_time_and_keeps_the_session_record(open_clinic, course, consultant):
    course.consultant = consultant
    course.save()
    appointment = appointment_book(
        patient=course.patient, treatment=course.treatment, start=local(2026, 5, 8, 10), minutes=30
    )
    appointment_cancel(appointment=appointment)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert not appointment.late_change
    assert appointment.session_record.status == SessionRecord.Status.ABANDONED
    again = appointment_book(
        patient=course.patient, treatment=course.treatment, start=local(2026, 5, 8, 10), minutes=30
    )
    assert again.session_record.number == 1


def test_patient_cannot_change_inside_the_cutoff_but_staff_can(open_clinic, patient, consultant):
    appointment = appointment_book(
        patient=patient, treatment=consultation(), start=local(2026, 5, 5, 16), minutes=30
    )
    with pytest.raises(DomainError, match="call the clinic"):
        appointment_cancel(appointment=appointment)
    with pytest.raises(DomainError, match="call the clinic"):
        appointment_reschedule(appointment=appointment, start=local(2026, 5, 8, 10))
    cancelled = appointment_cancel(appointment=appointment, by_staff=consultant)
    assert cancelled.late_change


def test_reschedule_moves_to_a_free_time(open_clinic, patient):
    appointment = appointment_book(
        patient=patient, treatment=consultation(), start=local(2026, 5, 8, 10), minutes=30
    )
    moved = appointment_reschedule(appointment=appointment, start=local(2026, 5, 11, 14))
    assert moved.start == local(2026, 5, 11, 14)
    assert moved.history.count() >= 2


def test_a_freed_time_is_offered_to_the_waiting_list_in_order(open_clinic, patient):
    first, second = PatientFactory(), PatientFactory()
    for waiting in (first, second):
        waiting_list_join(
            patient=waiting,
            treatment=consultation(),
            earliest_date=date(2026, 5, 5),
            latest_date=date(2026, 5, 20),
        )
    appointment = appointment_book(
        patient=patient, treatment=consultation(), start=local(2026, 5, 8, 10), minutes=30
    )
    appointment_cancel(appointment=appointment)
    entries = WaitingListEntry.objects.order_by("created_at", "pk")
    assert [e.status for e in entries] == ["offered", "waiting"]
    assert entries[0].offered_start == local(2026, 5, 8, 10)


def test_staff_book_on_behalf_without_notice(open_clinic, patient, consultant):
    later_today = local(2026, 5, 4, 15)
    appointment = appointment_book(
        patient=patient,
        treatment=consultation(),
        start=later_today,
        minutes=30,
        by_staff=consultant,
    )
    assert not appointment.booked_online
    assert appointment.start - NOW < timedelta(hours=24)


def test_a_session_moves_to_a_time_its_own_consultant_has_free(open_clinic, course, consultant):
    """Another consultant free at the same time (and first in line) must not hide it."""
    from datetime import time as clock

    from clinic.models import WorkingPattern

    from ..factories import ConsultantFactory

    other = ConsultantFactory()
    # The other consultant was created later (higher id); make one with a lower id win
    # the "first free" choice by swapping roles: the course belongs to the later one.
    course.consultant = other
    course.save()
    for weekday in range(5):
        WorkingPattern.objects.create(
            staff=other,
            location=open_clinic,
            weekday=weekday,
            starts=clock(9),
            ends=clock(17),
            valid_from=date(2026, 1, 1),
        )
    appointment = appointment_book(
        patient=course.patient, treatment=course.treatment, start=local(2026, 5, 8, 10), minutes=30
    )
    assert appointment.consultant == other
    moved = appointment_reschedule(appointment=appointment, start=local(2026, 5, 11, 11))
    assert moved.consultant == other
