"""Reads about patients. Every read takes the acting user (or their patient) and scopes by it.

A patient only ever reaches their own records: a course or consent of anyone else is
"not found" (``DoesNotExist``), never "forbidden", so ids reveal nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Prefetch, Q
from django.utils import timezone

from aftercare.models import WARNING_SYMPTOMS, AftercarePlan, CheckIn, Reminder
from bookings.models import Appointment
from clinic.models import User
from treatments.models import (
    AdverseEvent,
    ConsentForm,
    Course,
    CourseExtension,
    SessionRecord,
    SignedConsent,
    StockingFitting,
)
from treatments.selectors import current_form_of, with_current_form
from treatments.services import (
    ConsentState,
    consent_current_form,
    consent_state,
    earliest_next_session_date,
)

from .models import AccountClosureRequest, Patient, Screening

# Messages the dashboard lists: the most recent ones sent.
RECENT_MESSAGES = 5


def patient_for_user(*, user: User | AnonymousUser) -> Patient | None:
    """The acting user's own patient profile, or None for staff and visitors. Their
    screening comes in the same query (the dashboard and the questionnaire show it)."""
    if not user.is_authenticated:
        return None
    # No ordering (one row at most) and no second copy of the user, who is already loaded:
    # this runs on every page a patient opens.
    found = list(Patient.objects.select_related("screening").filter(user=user).order_by()[:1])
    if not found:
        return None
    found[0].user = user  # type: ignore[assignment]
    return found[0]


def screening_for_patient(*, patient: Patient) -> Screening | None:
    """The patient's own screening answers (None until they first submit them): no query
    when the patient was loaded with it (``patient_for_user``)."""
    try:
        return patient.screening
    except Screening.DoesNotExist:
        return None


@dataclass
class ScreeningAnswer:
    question: str
    answer: bool


def screening_answers(screening: Screening | None) -> list[ScreeningAnswer]:
    """Each flag question with the patient's answer, in the questionnaire's order."""
    if screening is None:
        return []
    return [
        ScreeningAnswer(question=question, answer=getattr(screening, name))
        for name, question in Screening.FLAG_QUESTIONS.items()
    ]


# --- the dashboard ---------------------------------------------------------------------


class ScreeningState:
    MISSING = "missing"
    AWAITING_REVIEW = "awaiting_review"
    REVIEWED = "reviewed"


def screening_state(screening: Screening | None) -> str:
    if screening is None:
        return ScreeningState.MISSING
    return ScreeningState.REVIEWED if screening.is_reviewed else ScreeningState.AWAITING_REVIEW


@dataclass
class CourseLine:
    """One course as the patient sees it on the dashboard."""

    course: Course
    current_form: ConsentForm | None
    consent_state: str
    latest_session: SessionRecord | None
    completed_sessions: int
    booked_sessions: int
    next_session_from: date | None
    today: date

    @property
    def can_book_more(self) -> bool:
        return self.course.is_open and self.booked_sessions < self.course.planned_sessions

    @property
    def next_session_now(self) -> bool:
        return self.next_session_from is not None and self.next_session_from <= self.today

    @property
    def needs_signature(self) -> bool:
        return self.course.is_open and self.consent_state in (
            ConsentState.NEEDS_SIGNING,
            ConsentState.NEEDS_RESIGNING,
        )

    @property
    def needs_resigning(self) -> bool:
        return self.consent_state == ConsentState.NEEDS_RESIGNING


def _session_of(appointment: Appointment) -> SessionRecord | None:
    try:
        return appointment.session_record
    except ObjectDoesNotExist:
        return None


@dataclass
class NextAppointment:
    """The patient's next appointment, with what they may do about it online."""

    appointment: Appointment
    session: SessionRecord | None
    can_change: bool


def _can_change(appointment: Appointment, now: datetime) -> bool:
    """The booking pages' rule: booked, and further away than the cut-off for changes."""
    return appointment.status == Appointment.Status.BOOKED and appointment.start - now >= (
        timedelta(hours=settings.PATIENT_CHANGE_CUTOFF_HOURS)
    )


@dataclass
class Dashboard:
    patient: Patient
    screening: Screening | None
    screening_state: str
    appointments: list[Appointment]
    courses: list[CourseLine]
    signed_consents: list[SignedConsent]
    consents_to_sign: list[CourseLine] = field(default_factory=list)
    recent_messages: list[Reminder] = field(default_factory=list)
    next_appointment: NextAppointment | None = None

    @property
    def later_appointments(self) -> list[Appointment]:
        return self.appointments[1:]


LIVE_STATUSES = (Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN)
LIVE_SESSION_STATUSES = [
    s for s in SessionRecord.Status.values if s != SessionRecord.Status.ABANDONED
]


def _dashboard_appointments(patient: Patient, now: datetime) -> list[Appointment]:
    """In one query: the patient's upcoming appointments and the appointments of their
    live (not abandoned) sessions, each with its session (whose ``appointment`` is then
    set too, so the courses need no query of their own)."""
    return list(
        Appointment.objects.filter(patient=patient)
        .filter(
            Q(end__gte=now, status__in=LIVE_STATUSES)
            | Q(
                session_record__course__patient=patient,
                session_record__status__in=LIVE_SESSION_STATUSES,
            )
        )
        .select_related("treatment", "room__location", "consultant__user", "session_record__course")
        .order_by("start", "pk")
    )


def recent_messages(*, patient: Patient, limit: int = RECENT_MESSAGES) -> list[Reminder]:
    """The latest reminders the clinic sent the patient, newest first (one query)."""
    return list(
        Reminder.objects.filter(patient=patient, status=Reminder.Status.SENT).order_by(
            "-sent_at", "-pk"
        )[:limit]
    )


def patient_dashboard(*, patient: Patient) -> Dashboard:
    """Everything the patient's first page shows, in a fixed number of queries (four:
    consents, appointments with their sessions, courses with their current consent form,
    messages; the screening comes with the patient from ``patient_for_user``)."""
    screening = screening_for_patient(patient=patient)
    now = timezone.now()
    today = timezone.localdate()
    # Every consent the patient signed, once: the list on the page, and (those not
    # withdrawn) each course's standing consents.
    signed = list(
        SignedConsent.objects.filter(patient=patient)
        .select_related("form", "course__treatment")
        .order_by("-signed_at")
    )
    standing: dict[int, list[SignedConsent]] = {}
    for consent in signed:
        if consent.withdrawn_at is None:
            standing.setdefault(consent.course_id, []).append(consent)
    appointments = _dashboard_appointments(patient, now)
    live_sessions: dict[int, list[SessionRecord]] = {}
    for appointment in appointments:
        session = _session_of(appointment)
        if session is not None and session.status in LIVE_SESSION_STATUSES:
            live_sessions.setdefault(session.course_id, []).append(session)
    lines = []
    courses = with_current_form(Course.objects.filter(patient=patient).select_related("treatment"))
    for course in courses.order_by("-created_at"):
        sessions = sorted(live_sessions.get(course.pk, []), key=lambda s: s.number)
        current = current_form_of(course)
        lines.append(
            CourseLine(
                course=course,
                current_form=current,
                consent_state=consent_state(
                    current_form=current, standing=standing.get(course.pk, [])
                ),
                latest_session=sessions[-1] if sessions else None,
                completed_sessions=sum(
                    1 for s in sessions if s.status == SessionRecord.Status.COMPLETED
                ),
                booked_sessions=len(sessions),
                next_session_from=earliest_next_session_date(course, sessions),
                today=today,
            )
        )
    upcoming = [a for a in appointments if a.end >= now and a.status in LIVE_STATUSES]
    next_appointment = None
    if upcoming:
        first = upcoming[0]
        next_appointment = NextAppointment(
            appointment=first,
            session=_session_of(first),
            can_change=_can_change(first, now),
        )
    return Dashboard(
        patient=patient,
        screening=screening,
        screening_state=screening_state(screening),
        appointments=upcoming,
        courses=lines,
        signed_consents=signed,
        consents_to_sign=[line for line in lines if line.needs_signature],
        recent_messages=recent_messages(patient=patient),
        next_appointment=next_appointment,
    )


# --- consent -----------------------------------------------------------------------------


def course_for_patient(*, patient: Patient, course_id: int) -> Course:
    """One of the patient's own courses (raises ``Course.DoesNotExist`` for anyone else's)."""
    return Course.objects.select_related("treatment", "patient__user").get(
        pk=course_id, patient=patient
    )


@dataclass
class ConsentToSign:
    course: Course
    form: ConsentForm | None
    standing: SignedConsent | None
    older_signed: bool

    @property
    def is_signed(self) -> bool:
        return self.standing is not None


def consent_to_sign(*, patient: Patient, course_id: int) -> ConsentToSign:
    """The current consent form of one of the patient's courses and whether it is signed."""
    course = course_for_patient(patient=patient, course_id=course_id)
    form = consent_current_form(course.treatment)
    standing = list(
        SignedConsent.objects.filter(course=course, withdrawn_at__isnull=True).order_by(
            "-signed_at"
        )
    )
    on_current = next((c for c in standing if form is not None and c.form_id == form.pk), None)
    return ConsentToSign(
        course=course,
        form=form,
        standing=on_current,
        older_signed=bool(standing) and on_current is None,
    )


def signed_consent_for_patient(*, patient: Patient, pk: int) -> SignedConsent:
    """One of the patient's own signed consents (raises ``DoesNotExist`` for anyone else's)."""
    return SignedConsent.objects.select_related(
        "form__treatment", "course__treatment", "witnessed_by__user", "patient__user"
    ).get(pk=pk, patient=patient, course__patient=patient)


# --- the patient's own record ---------------------------------------------------------------


@dataclass
class CheckInLine:
    check_in: CheckIn
    warning_labels: list[str]

    @property
    def effects(self) -> list[str]:
        """The side effects ticked that day, in words."""
        c = self.check_in
        named = [("bruising", c.bruising), ("redness", c.redness), ("swelling", c.swelling)]
        return [name for name, ticked in named if ticked]


@dataclass
class PlanLine:
    """One aftercare plan with the days the patient checked in."""

    plan: AftercarePlan
    check_ins: list[CheckInLine]


@dataclass
class PatientRecord:
    """What the patient's record page shows. Courses carry ``session_list`` (each session
    with ``stocking_list`` and ``event_list``) and ``extension_list``."""

    patient: Patient
    past_appointments: list[Appointment]
    upcoming_count: int
    courses: list[Course]
    consents: list[SignedConsent]
    plans: list[PlanLine]


def _record_courses(patient: Patient) -> list[Course]:
    sessions = (
        SessionRecord.objects.select_related("appointment")
        .prefetch_related(
            Prefetch(
                "stockings",
                queryset=StockingFitting.objects.order_by("leg"),
                to_attr="stocking_list",
            ),
            Prefetch(
                "adverse_events",
                queryset=AdverseEvent.objects.order_by("recorded_at", "pk"),
                to_attr="event_list",
            ),
        )
        .order_by("number", "pk")
    )
    return list(
        Course.objects.filter(patient=patient)
        .select_related("treatment", "consultant__user")
        .prefetch_related(
            Prefetch("sessions", queryset=sessions, to_attr="session_list"),
            Prefetch(
                "extensions",
                queryset=CourseExtension.objects.order_by("extended_at", "pk"),
                to_attr="extension_list",
            ),
        )
        .order_by("-created_at", "-pk")
    )


def _record_plans(patient: Patient) -> list[PlanLine]:
    plans = (
        AftercarePlan.objects.filter(patient=patient)
        .select_related("course__treatment", "session")
        .prefetch_related(
            Prefetch("check_ins", queryset=CheckIn.objects.order_by("day"), to_attr="day_list")
        )
        .order_by("-starts_on", "-pk")
    )
    return [
        PlanLine(
            plan=plan,
            check_ins=[
                CheckInLine(
                    check_in=check_in,
                    warning_labels=[WARNING_SYMPTOMS.get(s, s) for s in check_in.warning_symptoms],
                )
                for check_in in plan.day_list  # type: ignore[attr-defined]
            ],
        )
        for plan in plans
    ]


def patient_record(*, patient: Patient) -> PatientRecord:
    """The patient's own record: past appointments, courses with their sessions (stockings,
    side effects), signed consents and aftercare plans with check-ins. A fixed number of
    queries however long the record is, and nothing of anyone else."""
    now = timezone.now()
    appointments = list(
        Appointment.objects.filter(patient=patient)
        .select_related("treatment", "room__location", "consultant__user", "session_record__course")
        .order_by("-start", "-pk")
    )
    live = (Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN)
    upcoming = {a.pk for a in appointments if a.end >= now and a.status in live}
    consents = list(
        SignedConsent.objects.filter(patient=patient, course__patient=patient)
        .select_related("form", "course__treatment")
        .order_by("-signed_at", "-pk")
    )
    return PatientRecord(
        patient=patient,
        past_appointments=[a for a in appointments if a.pk not in upcoming],
        upcoming_count=len(upcoming),
        courses=_record_courses(patient),
        consents=consents,
        plans=_record_plans(patient),
    )


# --- closing the account -------------------------------------------------------------------


@dataclass
class ClosureState:
    """The patient's requests to close their account: the open one (if any) and the rest."""

    open_request: AccountClosureRequest | None
    earlier: list[AccountClosureRequest]


def closure_state(*, patient: Patient) -> ClosureState:
    requests = list(
        AccountClosureRequest.objects.filter(patient=patient).order_by("-requested_at", "-pk")
    )
    open_request = next(
        (r for r in requests if r.status == AccountClosureRequest.Status.REQUESTED), None
    )
    return ClosureState(
        open_request=open_request, earlier=[r for r in requests if r is not open_request]
    )
