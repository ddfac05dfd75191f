"""Reads for the staff diary. Each runs a fixed number of queries whatever the data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, IntegerField, Max, OuterRef, Subquery
from django.utils import timezone

from clinic.models import StaffMember
from patients.models import Patient
from treatments.models import Course, SessionRecord, Treatment
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


def appointment_for_email(*, pk: int) -> Appointment | None:
    """One appointment with all that its email and calendar file show: the patient and
    their user, the treatment, the room and its location, the consultant and their user,
    the session record and its course, and ``history_count`` (the file's SEQUENCE).

    Two queries, three for a treatment session, instead of one query joining all ten
    tables: PostgreSQL took longer to plan that join than these take to run altogether
    (about 3.5 ms against 1 ms of the database's CPU per email on the benchmark data).
    """
    history = (
        Appointment.history.model.objects.filter(id=OuterRef("pk"))
        .order_by()
        .values("id")
        .annotate(n=Count("history_id"))
        .values("n")
    )
    found = list(
        Appointment.objects.filter(pk=pk)
        .select_related("patient__user", "treatment", "room__location")
        .annotate(history_count=Subquery(history, output_field=IntegerField()))
        .order_by()[:1]
    )
    if not found:
        return None
    appointment = found[0]
    appointment.consultant = StaffMember.objects.select_related("user").get(
        pk=appointment.consultant_id
    )
    # Only a treatment session has a session record (a course is planned for a treatment):
    # for anything else there is nothing to read.
    session = None
    if appointment.treatment.is_treatment:
        session = SessionRecord.objects.filter(appointment_id=pk).select_related("course").first()
    # What ``select_related`` would have left: the record, or the knowledge there is none.
    Appointment.session_record.related.set_cached_value(appointment, session)
    return appointment


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


# --- what a patient may book now ------------------------------------------------------------


@dataclass
class BookingOption:
    """One thing a patient might book, whether they may book it now, and why not."""

    treatment: Treatment
    allowed: bool
    reason: str = ""
    course: Course | None = None
    earliest_day: date | None = None
    # Whose answer this is, when it was worked out for one patient (``booking_option_for``):
    # the booking service takes a ready answer only for that patient.
    patient_id: int | None = None

    @property
    def key(self) -> str:
        return f"{self.treatment.slug}:{self.course.pk}" if self.course else self.treatment.slug


# The kinds booked once at a time (no course): a consultation, a reassessment.
ONE_AT_A_TIME = (Treatment.Kind.CONSULTATION, Treatment.Kind.REASSESSMENT)
OPEN_COURSE = (Course.Status.PLANNED, Course.Status.ACTIVE)


@dataclass
class PatientBookingFacts:
    """What the booking rules need to know about one patient, read once for every
    treatment offered (three queries at most, however long the catalogue)."""

    upcoming: dict[str, Appointment]  # kind -> the next appointment of that kind booked
    has_completed_session: bool
    open_courses: dict[int, Course]  # treatment id -> the oldest open course of it


def patient_booking_facts(
    *, patient: Patient, treatments: list[Treatment], course: Course | None = None
) -> PatientBookingFacts:
    """The facts for these treatments only (``course``: that course and no other)."""
    kinds = {t.kind for t in treatments}
    upcoming: dict[str, Appointment] = {}
    if kinds & set(ONE_AT_A_TIME):
        booked = (
            Appointment.objects.filter(
                patient=patient,
                treatment__kind__in=kinds & set(ONE_AT_A_TIME),
                status=Appointment.Status.BOOKED,
                start__gte=timezone.now(),
            )
            .select_related("treatment")
            .order_by("start")
        )
        for appointment in booked:
            upcoming.setdefault(appointment.treatment.kind, appointment)
    has_completed = Treatment.Kind.REASSESSMENT in kinds and (
        SessionRecord.objects.filter(
            course__patient=patient, status=SessionRecord.Status.COMPLETED
        ).exists()
    )
    open_courses: dict[int, Course] = {}
    with_courses = [t.pk for t in treatments if t.kind not in ONE_AT_A_TIME]
    if with_courses:
        # The consultant comes along: the booking pages name who the session is with.
        courses = Course.objects.filter(
            patient=patient, treatment_id__in=with_courses, status__in=OPEN_COURSE
        ).select_related("consultant__user")
        if course is not None:
            courses = courses.filter(pk=course.pk)
        # The oldest open course of each treatment; courses made in the same instant are
        # taken in the order they were made (id), so the choice never depends on the
        # database's row order.
        for found in courses.order_by("created_at", "pk"):
            open_courses.setdefault(found.treatment_id, found)
    return PatientBookingFacts(upcoming, has_completed, open_courses)


def booking_option_for(
    *, patient: Patient, treatment: Treatment, course: Course | None = None
) -> BookingOption:
    """The clinic's rules for what a patient may book (see ``booking_option_from``)."""
    if not treatment.is_active:
        option = BookingOption(treatment, False, f"{treatment} is not offered at the moment.")
    else:
        facts = patient_booking_facts(patient=patient, treatments=[treatment], course=course)
        option = booking_option_from(treatment=treatment, facts=facts)
    option.patient_id = patient.pk
    return option


def booking_option_from(*, treatment: Treatment, facts: PatientBookingFacts) -> BookingOption:
    """The clinic's rules for what a patient may book, with a reason a person can read.

    - A consultation comes first; one at a time.
    - Treatment sessions only within a course the consultant planned, up to its plan, and
      not before the gap after the last session allows.
    - A reassessment only after at least one completed session, one at a time.
    """
    from .availability import course_earliest_day

    if not treatment.is_active:
        return BookingOption(treatment, False, f"{treatment} is not offered at the moment.")
    kind = treatment.kind
    if kind == Treatment.Kind.CONSULTATION:
        upcoming = facts.upcoming.get(kind)
        if upcoming is not None:
            when = timezone.localtime(upcoming.start)
            return BookingOption(
                treatment,
                False,
                f"You already have a consultation booked for {when:%A %-d %B at %H:%M}.",
            )
        return BookingOption(treatment, True)
    if kind == Treatment.Kind.REASSESSMENT:
        if not facts.has_completed_session:
            return BookingOption(
                treatment, False, "A reassessment can be booked after your first session."
            )
        if facts.upcoming.get(kind) is not None:
            return BookingOption(treatment, False, "You already have a reassessment booked.")
        return BookingOption(treatment, True)
    # A treatment session: within an open course of this treatment.
    course = facts.open_courses.get(treatment.pk)
    if course is None:
        return BookingOption(
            treatment,
            False,
            "Treatment sessions are booked once the consultant has planned your course at "
            "your consultation.",
        )
    # One query for each treatment the patient has an open course of (one or two).
    earliest = course_earliest_day(course)
    if earliest is None:
        return BookingOption(
            treatment,
            False,
            f"All {course.planned_sessions} planned sessions of your course are booked or "
            "done. If you need more, the consultant can extend the course.",
            course=course,
        )
    today = timezone.localdate()
    if earliest > today:
        return BookingOption(
            treatment,
            True,
            f"Your next session can be booked from {earliest:%A %-d %B %Y}.",
            course=course,
            earliest_day=earliest,
        )
    return BookingOption(treatment, True, course=course, earliest_day=today)


def booking_options_among(*, patient: Patient, treatments: list[Treatment]) -> list[BookingOption]:
    """The options for these treatments, consultations first, then sessions, the rest
    last; the patient's facts are read once for all of them."""
    facts = patient_booking_facts(patient=patient, treatments=treatments)
    options = [booking_option_from(treatment=t, facts=facts) for t in treatments]
    for option in options:
        option.patient_id = patient.pk
    order: dict[str, int] = {Treatment.Kind.CONSULTATION: 0, Treatment.Kind.TREATMENT: 1}
    return sorted(options, key=lambda o: order.get(o.treatment.kind, 2))


def booking_options(*, patient: Patient) -> list[BookingOption]:
    """Every online-bookable item, each with whether the patient may book it now."""
    treatments = Treatment.objects.filter(is_active=True, bookable_online=True)
    return booking_options_among(
        patient=patient, treatments=list(treatments.order_by("kind", "name"))
    )
