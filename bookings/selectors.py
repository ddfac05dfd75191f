"""Reads for the staff diary. Each runs a fixed number of queries whatever the data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Max

from treatments.models import Course, SessionRecord
from treatments.selectors import local_day_bounds
from treatments.services import earliest_next_session_date

from .models import Appointment
from .services import APPOINTMENT_TRANSITIONS

Status = Appointment.Status

# The moves the diary offers, in the order the buttons appear, with their labels.
DIARY_MOVES: list[tuple[str, str]] = [
    (Status.CHECKED_IN, "Check in"),
    (Status.COMPLETED, "Completed"),
    (Status.NO_SHOW, "Did not attend"),
    (Status.CANCELLED, "Cancel"),
]
# A treatment session is completed or called off on its own screen (stockings, the walk,
# the reason): the diary only checks the patient in.
SESSION_DIARY_MOVES = {Status.CHECKED_IN}


def session_of(appointment: Appointment) -> SessionRecord | None:
    """The session record behind an appointment, if it is a treatment session."""
    try:
        return appointment.session_record
    except ObjectDoesNotExist:
        return None


def diary_moves(appointment: Appointment) -> list[tuple[str, str]]:
    """The status moves the diary offers for an appointment: those the transition map
    allows, and for a treatment session only checking in."""
    allowed = APPOINTMENT_TRANSITIONS.get(appointment.status, set())
    if session_of(appointment) is not None:
        allowed = allowed & SESSION_DIARY_MOVES
    return [(value, label) for value, label in DIARY_MOVES if value in allowed]


@dataclass
class DiaryEntry:
    appointment: Appointment
    session: SessionRecord | None
    moves: list[tuple[str, str]]


def diary_day(*, day: date) -> list[DiaryEntry]:
    """Every appointment starting on a local day, in time order (cancelled ones too)."""
    start, end = local_day_bounds(day)
    appointments = (
        Appointment.objects.filter(start__gte=start, start__lt=end)
        .select_related(
            "patient__user",
            "treatment",
            "consultant__user",
            "nurse__user",
            "room",
            "session_record__course",
        )
        .order_by("start", "room__name", "pk")
    )
    return [
        DiaryEntry(appointment=a, session=session_of(a), moves=diary_moves(a)) for a in appointments
    ]


def appointment_for_status(*, pk: int) -> Appointment:
    """One appointment with what the status move needs (raises DoesNotExist)."""
    return Appointment.objects.select_related("session_record", "treatment").get(pk=pk)


@dataclass
class SessionBooking:
    """What the "book the next session" screen shows about a course."""

    course: Course
    next_number: int
    earliest: date | None

    @property
    def beyond_plan(self) -> bool:
        return self.next_number > self.course.planned_sessions


def session_booking(*, course_id: int) -> SessionBooking:
    """A course with the number of its next session and the earliest day it may fall on
    (raises Course.DoesNotExist)."""
    course = Course.objects.select_related("patient__user", "treatment", "consultant__user").get(
        pk=course_id
    )
    last = (
        SessionRecord.objects.filter(course=course)
        .exclude(status=SessionRecord.Status.ABANDONED)
        .aggregate(last=Max("number"))["last"]
    )
    return SessionBooking(
        course=course,
        next_number=(last or 0) + 1,
        earliest=earliest_next_session_date(course),
    )
