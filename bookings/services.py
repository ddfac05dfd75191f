"""Writes about appointments: put one in the diary, move it through its lifecycle.

Availability, slot search, self-booking and the concurrency guarantees (exclusion
constraints, row locks) are built on top of these in the booking engine.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from clinic.errors import DomainError
from clinic.models import Room, StaffMember
from patients.models import Patient
from treatments.models import SessionRecord, Treatment

from .models import Appointment

Status = Appointment.Status

# The one place that says which status may follow which.
APPOINTMENT_TRANSITIONS: dict[str, set[str]] = {
    Status.BOOKED: {Status.CHECKED_IN, Status.COMPLETED, Status.CANCELLED, Status.NO_SHOW},
    Status.CHECKED_IN: {Status.COMPLETED, Status.CANCELLED},
    Status.COMPLETED: set(),
    Status.CANCELLED: set(),
    Status.NO_SHOW: set(),
}
# Statuses in which an appointment holds its time in the diary.
HOLDS_TIME = [Status.BOOKED, Status.CHECKED_IN, Status.COMPLETED, Status.NO_SHOW]


def _require_aware(value: datetime) -> None:
    if timezone.is_naive(value):
        raise DomainError("An appointment time must carry its time zone.")


def appointment_validate_people_and_room(
    *,
    treatment: Treatment,
    consultant: StaffMember,
    nurse: StaffMember | None,
    room: Room,
) -> None:
    """The right people and the right room for the kind of appointment."""
    if not consultant.is_active or consultant.role != StaffMember.StaffRole.CONSULTANT:
        raise DomainError("Choose an active consultant.")
    if nurse is not None and (not nurse.is_active or nurse.role != StaffMember.StaffRole.NURSE):
        raise DomainError("Choose an active nurse.")
    if not room.is_active:
        raise DomainError(f"{room.name} is not in use.")
    if treatment.is_treatment:
        if nurse is None:
            raise DomainError("A treatment session needs a nurse as well as a consultant.")
        if room.kind != room.Kind.TREATMENT:
            raise DomainError("A treatment session needs a treatment room.")


def appointment_check_clashes(
    *,
    start: datetime,
    end: datetime,
    consultant: StaffMember,
    nurse: StaffMember | None,
    room: Room,
    patient: Patient,
    exclude_pk: int | None = None,
) -> None:
    """Nobody and nothing is in two places at once. Back-to-back is fine."""
    overlapping = Appointment.objects.filter(status__in=HOLDS_TIME, start__lt=end, end__gt=start)
    if exclude_pk is not None:
        overlapping = overlapping.exclude(pk=exclude_pk)
    if overlapping.filter(consultant=consultant).exists():
        raise DomainError(f"{consultant} already has an appointment at that time.")
    if nurse is not None and (
        overlapping.filter(nurse=nurse).exists() or overlapping.filter(consultant=nurse).exists()
    ):
        raise DomainError(f"{nurse} already has an appointment at that time.")
    if overlapping.filter(room=room).exists():
        raise DomainError(f"{room.name} is already in use at that time.")
    if overlapping.filter(patient=patient).exists():
        raise DomainError("The patient already has an appointment at that time.")


@transaction.atomic
def appointment_create(
    *,
    patient: Patient,
    treatment: Treatment,
    start: datetime,
    minutes: int,
    consultant: StaffMember,
    room: Room,
    nurse: StaffMember | None = None,
    music_request: str = "",
    notes: str = "",
) -> Appointment:
    """Put an appointment in the diary.

    Rules: an aware start time; a length the treatment offers (consultations and
    reassessments take any sensible length); a consultant, and for a treatment session
    also a nurse and a treatment room; nobody double-booked. Treatment sessions are
    booked through ``treatments.services.session_schedule``, which adds the course rules.
    """
    _require_aware(start)
    if not treatment.is_active:
        raise DomainError(f"{treatment} is not offered at the moment.")
    if treatment.session_lengths and minutes not in treatment.session_lengths:
        offered = " or ".join(str(n) for n in treatment.session_lengths)
        raise DomainError(f"{treatment} is booked for {offered} minutes.")
    if not 5 <= minutes <= 240:
        raise DomainError("An appointment lasts between 5 minutes and 4 hours.")
    appointment_validate_people_and_room(
        treatment=treatment, consultant=consultant, nurse=nurse, room=room
    )
    end = start + timedelta(minutes=minutes)
    appointment_check_clashes(
        start=start, end=end, consultant=consultant, nurse=nurse, room=room, patient=patient
    )
    return Appointment.objects.create(
        patient=patient,
        treatment=treatment,
        start=start,
        end=end,
        consultant=consultant,
        nurse=nurse,
        room=room,
        music_request=music_request,
        notes=notes,
    )


# A treatment session's appointment ends only through the session's own rules
# (treatments.services.session_complete / session_abandon): stockings, walk, reason.
SESSION_OWNED_MOVES = {Status.COMPLETED, Status.CANCELLED, Status.NO_SHOW}


@transaction.atomic
def appointment_set_status(
    *, appointment: Appointment, status: str, by_session_service: bool = False
) -> Appointment:
    """Move an appointment to its next status, if the transition map allows it.

    The appointment of a treatment session is completed, cancelled or marked as missed
    only by the session services (``by_session_service=True``), so that a session record
    is never left behind as "scheduled".
    """
    appointment = Appointment.objects.select_for_update(of=("self",)).get(pk=appointment.pk)
    if status == appointment.status:
        return appointment
    if (
        status in SESSION_OWNED_MOVES
        and not by_session_service
        and SessionRecord.objects.filter(appointment=appointment).exists()
    ):
        raise DomainError(
            "This appointment is a treatment session: complete or abandon it from the "
            "session screen.",
            code="session_owned",
        )
    allowed = APPOINTMENT_TRANSITIONS.get(appointment.status, set())
    if status not in allowed:
        raise DomainError(
            f"An appointment that is {appointment.get_status_display().lower()} cannot become "
            f"{Status(status).label.lower() if status in Status.values else status}."
        )
    appointment.status = status
    appointment.save(update_fields=["status"])
    return appointment
