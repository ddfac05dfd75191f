"""Writes about appointments: put one in the diary, move it through its lifecycle.

Availability, slot search, self-booking and the concurrency guarantees (exclusion
constraints, row locks) are built on top of these in the booking engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from aftercare import services as aftercare
from clinic.errors import DomainError
from clinic.models import Room, StaffMember
from patients.models import Patient
from treatments.models import Course, Price, SessionRecord, Treatment

from .availability import Slot
from .models import Appointment, Payer, WaitingListEntry

if TYPE_CHECKING:
    from .selectors import BookingOption

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
    """Nobody and nothing is in two places at once. Back-to-back is fine.

    One query for every overlapping appointment of these people, room and patient; the
    first clash found is named in this order: consultant, nurse, room, patient."""
    people = [consultant.pk] + ([nurse.pk] if nurse is not None else [])
    overlapping = Appointment.objects.filter(
        Q(consultant_id__in=people) | Q(nurse_id__in=people) | Q(room=room) | Q(patient=patient),
        status__in=HOLDS_TIME,
        start__lt=end,
        end__gt=start,
    )
    if exclude_pk is not None:
        overlapping = overlapping.exclude(pk=exclude_pk)
    rows = list(
        overlapping.order_by().values_list("consultant_id", "nurse_id", "room_id", "patient_id")
    )
    if any(row[0] == consultant.pk for row in rows):
        raise DomainError(f"{consultant} already has an appointment at that time.", code="conflict")
    if nurse is not None and any(nurse.pk in (row[0], row[1]) for row in rows):
        raise DomainError(f"{nurse} already has an appointment at that time.", code="conflict")
    if any(row[2] == room.pk for row in rows):
        raise DomainError(f"{room.name} is already in use at that time.", code="conflict")
    if any(row[3] == patient.pk for row in rows):
        raise DomainError("The patient already has an appointment at that time.", code="conflict")


def appointment_create_in_transaction(
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
    payer: str = Payer.SELF_FUNDED,
    preauthorisation_code: str = "",
    booked_online: bool = False,
) -> Appointment:
    """Put an appointment in the diary.

    Rules: an aware start time; a length the treatment offers (consultations and
    reassessments take any sensible length); a consultant, and for a treatment session
    also a nurse and a treatment room; nobody double-booked. Treatment sessions are
    booked through ``treatments.services.session_schedule``, which adds the course rules.

    Only the ids of ``consultant``, ``nurse`` and ``room`` are used: they are read again
    by the queries that lock them, and checked as they are then (see ``_lock_resources``).

    This is the version for a caller that holds a transaction already and lets every
    error out of it (``appointment_book``, ``session_schedule``): no savepoint of its own,
    which saves two statements per booking. A refusal raised here must leave the caller's
    transaction (or its savepoint) at once: after a failed insert PostgreSQL accepts no
    further statement in it. ``appointment_create`` is the same in a transaction of its own.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("appointment_create_in_transaction needs a transaction.")
    _require_aware(start)
    # Arithmetic in UTC: adding minutes to a local time adds wall-clock minutes, which is
    # wrong across a change of the clocks.
    start = start.astimezone(UTC)
    if not treatment.is_active:
        raise DomainError(f"{treatment} is not offered at the moment.")
    if treatment.session_lengths and minutes not in treatment.session_lengths:
        offered = " or ".join(str(n) for n in treatment.session_lengths)
        raise DomainError(f"{treatment} is booked for {offered} minutes.")
    if not 5 <= minutes <= 240:
        raise DomainError("An appointment lasts between 5 minutes and 4 hours.")
    end = start + timedelta(minutes=minutes)
    team = _lock_resources(
        consultant_id=consultant.pk,
        nurse_id=nurse.pk if nurse is not None else None,
        room_id=room.pk,
        patient_id=patient.pk,
    )
    consultant, nurse, room = team.consultant, team.nurse, team.room
    appointment_validate_people_and_room(
        treatment=treatment, consultant=consultant, nurse=nurse, room=room
    )
    appointment_check_clashes(
        start=start, end=end, consultant=consultant, nurse=nurse, room=room, patient=patient
    )
    if payer == Payer.INSURED and not preauthorisation_code.strip():
        raise DomainError("An insured booking needs the insurer's pre-authorisation code.")
    price = price_for(treatment=treatment, minutes=minutes, on=timezone.localtime(start).date())
    # No savepoint around the insert: a refusal leaves the caller's transaction, which
    # rolls back (to its own savepoint when it is nested) as it goes.
    try:
        appointment = Appointment.objects.create(
            patient=patient,
            treatment=treatment,
            start=start,
            end=end,
            consultant=consultant,
            nurse=nurse,
            room=room,
            music_request=music_request,
            notes=notes,
            payer=payer,
            preauthorisation_code=preauthorisation_code.strip(),
            price=price,
            price_amount=price.amount if price else None,
            price_currency=price.currency if price else "",
            booked_online=booked_online,
        )
    except IntegrityError as exc:  # PostgreSQL's exclusion constraints: a race was lost
        raise DomainError(TIME_TAKEN, code="conflict") from exc
    # The outbox rows go in with the booking: no broker is needed to book.
    aftercare.reminders_for_appointment(appointment=appointment)
    return appointment


# The service for every other caller: the same, in a transaction of its own.
appointment_create = transaction.atomic(appointment_create_in_transaction)


TIME_TAKEN = "Sorry, that time was just taken. Please choose another."


@dataclass(frozen=True)
class Team:
    """Who and where, as read under their row locks."""

    consultant: StaffMember
    nurse: StaffMember | None
    room: Room


def _lock_resources(
    *, consultant_id: int, nurse_id: int | None, room_id: int, patient_id: int
) -> Team:
    """Row locks on everyone and everything the appointment needs, always in one order
    (staff by id, then the room, then the patient), so that two bookings for the same
    people wait for each other instead of both passing the clash check.

    The staff and the room come back from the locking queries themselves: the checks that
    follow see them as they are while locked, and nobody reads them a second time."""
    staff_ids = sorted({consultant_id, *([nurse_id] if nurse_id is not None else [])})
    locked = StaffMember.objects.select_for_update().filter(pk__in=staff_ids).order_by("pk")
    staff = {member.pk: member for member in locked}
    rooms = list(Room.objects.select_for_update().filter(pk=room_id).order_by())
    patients = list(
        Patient.objects.select_for_update()
        .filter(pk=patient_id)
        .order_by()  # no join to the user for the default ordering: only the patient is locked
        .values_list("pk", flat=True)
    )
    if consultant_id not in staff:
        raise DomainError("Choose an active consultant.")
    if nurse_id is not None and nurse_id not in staff:
        raise DomainError("Choose an active nurse.")
    if not rooms:
        raise DomainError("Choose a room that is in use.")
    if not patients:
        raise DomainError("There is no such patient.")
    nurse = staff[nurse_id] if nurse_id is not None else None
    return Team(consultant=staff[consultant_id], nurse=nurse, room=rooms[0])


def price_for(*, treatment: Treatment, minutes: int, on: date) -> Price | None:
    """The price in force on a day: one for this length if there is one, else any length."""
    # One query: the rows for this length come before those for any length.
    return (
        Price.objects.filter(
            treatment=treatment, package_sessions__isnull=True, effective_from__lte=on
        )
        .filter(Q(effective_until__isnull=True) | Q(effective_until__gte=on))
        .filter(Q(minutes=minutes) | Q(minutes__isnull=True))
        .order_by(F("minutes").asc(nulls_last=True), "-effective_from")
        .first()
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
    if status in (Status.CANCELLED, Status.NO_SHOW):
        aftercare.reminders_cancel_for_appointment(appointment=appointment)
    return appointment


# --- booking, moving and cancelling (patients online, staff on their behalf) -------------


def _change_cutoff(appointment: Appointment, now: datetime) -> bool:
    """True when the appointment is inside the patient cut-off (too late to change online)."""
    return appointment.start - now < timedelta(hours=settings.PATIENT_CHANGE_CUTOFF_HOURS)


def _find_slot(
    *,
    patient: Patient,
    treatment: Treatment,
    start: datetime,
    minutes: int,
    course: Course | None,
    online: bool,
    ignore_appointment_id: int | None = None,
) -> Slot:
    """The free slot at exactly ``start``, or a clear refusal."""
    from .availability import BookingWindow, free_slots

    _require_aware(start)
    # Compare as UTC: a local time in the repeated autumn hour never equals a UTC
    # datetime (PEP 495), though it is the same instant.
    start = start.astimezone(UTC)
    day = timezone.localtime(start).date()
    window = BookingWindow() if online else None
    if window is not None:
        if start < window.earliest:
            raise DomainError(
                f"Online bookings need at least {settings.BOOKING_MIN_NOTICE_HOURS} hours' "
                "notice. For something sooner, please call the clinic.",
                code="notice",
            )
        if start > window.latest:
            raise DomainError("That date is beyond how far ahead we book.", code="horizon")
    slots = free_slots(
        treatment=treatment,
        minutes=minutes,
        first_day=day,
        last_day=day,
        patient=patient,
        course=course,
        window=window,
        ignore_appointment_id=ignore_appointment_id,
    ).get(day, [])
    for slot in slots:
        if slot.start == start:
            return slot
    raise DomainError(TIME_TAKEN, code="conflict")


@transaction.atomic
def appointment_book(
    *,
    patient: Patient,
    treatment: Treatment,
    start: datetime,
    minutes: int,
    course: Course | None = None,
    payer: str = Payer.SELF_FUNDED,
    preauthorisation_code: str = "",
    music_request: str = "",
    by_staff: StaffMember | None = None,
    option: BookingOption | None = None,
) -> Appointment:
    """Book a free slot: online by the patient (``by_staff`` None) or by staff for them.

    ``option``: the rules' answer for this patient, treatment and course when the caller
    has just worked it out (``booking_option_for``: the booking page has, to show the
    page); worked out here when there is none, or when it is for another patient,
    treatment or course.

    The rules of what a patient may book (consultation first, the course's plan and gap,
    a reassessment only after a session) come from ``bookings.selectors.booking_options``;
    online bookings also keep the minimum notice and the horizon. The resources are the
    slot search's first free team at that time; the row locks and, on PostgreSQL, the
    exclusion constraints make a lost race a clear "that time was just taken".
    """

    from .selectors import booking_option_for

    online = by_staff is None
    if (
        option is None
        or option.patient_id != patient.pk
        or option.treatment.pk != treatment.pk
        or (course is not None and (option.course is None or option.course.pk != course.pk))
    ):
        option = booking_option_for(patient=patient, treatment=treatment, course=course)
    if not option.allowed:
        raise DomainError(option.reason, code="not_allowed")
    if minutes not in (treatment.session_lengths or [minutes]):
        offered = " or ".join(str(n) for n in treatment.session_lengths)
        raise DomainError(f"{treatment} is booked for {offered} minutes.")
    if online and not treatment.bookable_online:
        raise DomainError(f"{treatment} is booked through the clinic, not online.")
    course = option.course
    day = timezone.localtime(start).date()
    if option.earliest_day is not None and day < option.earliest_day:
        raise DomainError(
            option.reason or f"The first day you can book is {option.earliest_day:%-d %B %Y}.",
            code="gap",
        )
    slot = _find_slot(
        patient=patient,
        treatment=treatment,
        start=start,
        minutes=minutes,
        course=course,
        online=online,
    )
    booking: dict[str, Any] = {
        "payer": payer,
        "preauthorisation_code": preauthorisation_code,
        "booked_online": online,
    }
    try:
        return _book_slot(patient, treatment, slot, minutes, course, music_request, booking)
    except DomainError as error:
        if error.code == "conflict":
            raise DomainError(TIME_TAKEN, code="conflict") from error
        raise


def _book_slot(
    patient: Patient,
    treatment: Treatment,
    slot: Slot,
    minutes: int,
    course: Course | None,
    music_request: str,
    booking: dict[str, Any],
) -> Appointment:
    from treatments.services import session_schedule_in_transaction

    # The slot search names the team by id. They are not read here: the booking reads
    # them where it locks them (``_lock_resources``) and checks them there.
    consultant = StaffMember(pk=slot.consultant_id)
    nurse = StaffMember(pk=slot.nurse_id) if slot.nurse_id else None
    room = Room(pk=slot.room_id)
    if course is not None:
        if nurse is None:  # a treatment slot always has a nurse; never book one without
            raise DomainError("No nurse is free at that time.", code="taken")
        session = session_schedule_in_transaction(
            course=course,
            start=slot.start,
            minutes=minutes,
            consultant=consultant,
            nurse=nurse,
            room=room,
            music_request=music_request,
            **booking,
        )
        appointment = session.appointment
    else:
        appointment = appointment_create_in_transaction(
            patient=patient,
            treatment=treatment,
            start=slot.start,
            minutes=minutes,
            consultant=consultant,
            nurse=nurse,
            room=room,
            music_request=music_request,
            **booking,
        )
    # The patient's place on the waiting list for this treatment is closed: one entry at
    # most (a constraint), saved with its history.
    for entry in WaitingListEntry.objects.filter(
        patient=patient,
        treatment=treatment,
        status__in=[WaitingListEntry.Status.WAITING, WaitingListEntry.Status.OFFERED],
    ).order_by():
        entry.status = WaitingListEntry.Status.BOOKED
        entry.save(update_fields=["status"])
    return appointment


@transaction.atomic
def appointment_cancel(
    *, appointment: Appointment, by_staff: StaffMember | None = None, reason: str = ""
) -> Appointment:
    """Cancel a booked appointment; its time is free at once.

    Patients cancel online up to the cut-off (PATIENT_CHANGE_CUTOFF_HOURS); later changes
    go through the clinic, whose staff may cancel at any time. A cancellation inside the
    cut-off is flagged as late. A session's record is kept, marked abandoned.
    """
    from treatments.services import session_cancel_booking

    appointment = Appointment.objects.select_for_update(of=("self",)).get(pk=appointment.pk)
    now = timezone.now()
    if appointment.status != Status.BOOKED:
        raise DomainError(
            f"This appointment is {appointment.get_status_display().lower()}; "
            "it cannot be cancelled."
        )
    late = _change_cutoff(appointment, now)
    if by_staff is None and late:
        raise DomainError(
            f"It is less than {settings.PATIENT_CHANGE_CUTOFF_HOURS} hours to your appointment, "
            "so it can no longer be changed online. Please call the clinic.",
            code="cutoff",
        )
    reason = (reason or "").strip() or (
        "Cancelled by the patient online." if by_staff is None else "Cancelled by the clinic."
    )
    session = SessionRecord.objects.filter(appointment=appointment).first()
    if session is not None:
        session_cancel_booking(session=session, reason=reason)
    appointment.status = Status.CANCELLED
    appointment.cancelled_at = now
    appointment.cancellation_reason = reason
    appointment.late_change = late
    appointment.save(update_fields=["status", "cancelled_at", "cancellation_reason", "late_change"])
    aftercare.reminders_cancel_for_appointment(appointment=appointment)
    waiting_list_offer(freed=appointment)
    return appointment


@transaction.atomic
def appointment_reschedule(
    *, appointment: Appointment, start: datetime, by_staff: StaffMember | None = None
) -> Appointment:
    """Move a booked appointment to another free time of the same length.

    Same cut-off as cancelling. A course session keeps the gap to the sessions on both
    sides (the message names the one it breaks). The team may change to whoever is free.
    """
    from treatments.services import session_date_check

    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("treatment", "patient")
        .get(pk=appointment.pk)
    )
    now = timezone.now()
    if appointment.status != Status.BOOKED:
        raise DomainError("Only a booked appointment can be moved.")
    late = _change_cutoff(appointment, now)
    if by_staff is None and late:
        raise DomainError(
            f"It is less than {settings.PATIENT_CHANGE_CUTOFF_HOURS} hours to your appointment, "
            "so it can no longer be changed online. Please call the clinic.",
            code="cutoff",
        )
    session = SessionRecord.objects.filter(appointment=appointment).select_related("course").first()
    course = session.course if session else None
    if session is not None:
        if session.status not in (
            SessionRecord.Status.SCHEDULED,
            SessionRecord.Status.CONSENT_CONFIRMED,
        ):
            raise DomainError("This session has started; it cannot be moved.")
        session_date_check(
            course=session.course, number=session.number, when=start, exclude_pk=session.pk
        )
    from .availability import BookingWindow, free_slots

    _require_aware(start)
    start = start.astimezone(UTC)
    window = BookingWindow(now) if by_staff is None else None
    if window is not None and not (window.earliest <= start <= window.latest):
        raise DomainError(
            f"Online changes need at least {settings.BOOKING_MIN_NOTICE_HOURS} hours' notice "
            "and must stay within the booking horizon.",
            code="notice",
        )
    day = timezone.localtime(start).date()
    candidates = free_slots(
        treatment=appointment.treatment,
        minutes=appointment.minutes,
        first_day=day,
        last_day=day,
        patient=appointment.patient,
        window=window,
        ignore_appointment_id=appointment.pk,
        # A session stays with its course's consultant.
        consultant_id=course.consultant_id if course is not None else None,
    ).get(day, [])
    slot = next((c for c in candidates if c.start == start), None)
    if slot is None:
        raise DomainError(TIME_TAKEN, code="conflict")
    old = (appointment.start, appointment.end, appointment.room_id)
    team = _lock_resources(
        consultant_id=slot.consultant_id,
        nurse_id=slot.nurse_id,
        room_id=slot.room_id,
        patient_id=appointment.patient_id,
    )
    consultant, nurse, room = team.consultant, team.nurse, team.room
    appointment_validate_people_and_room(
        treatment=appointment.treatment, consultant=consultant, nurse=nurse, room=room
    )
    appointment_check_clashes(
        start=slot.start,
        end=slot.end,
        consultant=consultant,
        nurse=nurse,
        room=room,
        patient=appointment.patient,
        exclude_pk=appointment.pk,
    )
    appointment.start, appointment.end = slot.start, slot.end
    appointment.consultant, appointment.nurse, appointment.room = consultant, nurse, room
    appointment.late_change = appointment.late_change or late
    # No savepoint: a lost race leaves this transaction at once (see
    # ``appointment_create_in_transaction``).
    try:
        appointment.save(
            update_fields=["start", "end", "consultant", "nurse", "room", "late_change"]
        )
    except IntegrityError as exc:
        raise DomainError(TIME_TAKEN, code="conflict") from exc
    if session is not None and (session.consultant_id, session.nurse_id) != (
        consultant.pk,
        nurse.pk if nurse else None,
    ):
        session.consultant, session.nurse = consultant, nurse
        session.save(update_fields=["consultant", "nurse"])
    aftercare.reminders_move_for_appointment(appointment=appointment)
    freed = Appointment(treatment=appointment.treatment, start=old[0], end=old[1], room_id=old[2])
    waiting_list_offer(freed=freed)
    return appointment


# --- the waiting list -----------------------------------------------------------------------


@transaction.atomic
def waiting_list_join(
    *,
    patient: Patient,
    treatment: Treatment,
    earliest_date: date,
    latest_date: date,
    course: Course | None = None,
) -> WaitingListEntry:
    """A patient with no suitable time waits for one in a date range."""
    if latest_date < earliest_date:
        raise DomainError("The last date must not be before the first.")
    if earliest_date < timezone.localdate():
        raise DomainError("The dates must be today or later.")
    if (latest_date - earliest_date).days > settings.BOOKING_HORIZON_DAYS:
        raise DomainError("Choose a range of at most six months.")
    try:
        with transaction.atomic():
            return WaitingListEntry.objects.create(
                patient=patient,
                treatment=treatment,
                course=course,
                earliest_date=earliest_date,
                latest_date=latest_date,
            )
    except IntegrityError as exc:
        raise DomainError(f"You are already on the waiting list for {treatment}.") from exc


def waiting_list_offer(*, freed: Appointment) -> WaitingListEntry | None:
    """A time came free: offer it to the first waiting patient (in joining order) whose
    range covers the day and who could book it under every rule. The offer is recorded;
    the reminders outbox delivers the message."""
    from .selectors import booking_option_for

    day = timezone.localtime(freed.start).date()
    minutes = int((freed.end - freed.start).total_seconds() // 60)
    entries = (
        WaitingListEntry.objects.select_for_update(of=("self",))
        .filter(
            treatment_id=freed.treatment_id,
            status=WaitingListEntry.Status.WAITING,
            earliest_date__lte=day,
            latest_date__gte=day,
        )
        .select_related("patient", "treatment", "course")
        .order_by("created_at", "pk")
    )
    for entry in entries:
        option = booking_option_for(
            patient=entry.patient, treatment=entry.treatment, course=entry.course
        )
        if not option.allowed:
            continue
        try:
            _find_slot(
                patient=entry.patient,
                treatment=entry.treatment,
                start=freed.start,
                minutes=minutes,
                course=option.course,
                online=True,
            )
        except DomainError:
            continue
        entry.status = WaitingListEntry.Status.OFFERED
        entry.offered_start = freed.start
        entry.offered_at = timezone.now()
        entry.save(update_fields=["status", "offered_start", "offered_at"])
        aftercare.reminder_for_waiting_list_offer(entry=entry)
        return entry
    return None


@transaction.atomic
def waiting_list_withdraw(*, entry: WaitingListEntry) -> WaitingListEntry:
    entry = WaitingListEntry.objects.select_for_update(of=("self",)).get(pk=entry.pk)
    if entry.status not in (WaitingListEntry.Status.WAITING, WaitingListEntry.Status.OFFERED):
        raise DomainError("This waiting-list entry is closed already.")
    entry.status = WaitingListEntry.Status.WITHDRAWN
    entry.save(update_fields=["status"])
    return entry
