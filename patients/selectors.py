"""Reads about patients. Every read takes the acting user (or their patient) and scopes by it.

A patient only ever reaches their own records: a course or consent of anyone else is
"not found" (``DoesNotExist``), never "forbidden", so ids reveal nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.contrib.auth.models import AnonymousUser
from django.db.models import Prefetch
from django.utils import timezone

from bookings.models import Appointment
from clinic.models import User
from treatments.models import ConsentForm, Course, SessionRecord, SignedConsent
from treatments.selectors import current_consent_forms
from treatments.services import (
    ConsentState,
    consent_current_form,
    consent_state,
    earliest_next_session_date,
)

from .models import Patient, Screening


def patient_for_user(*, user: User | AnonymousUser) -> Patient | None:
    """The acting user's own patient profile, or None for staff and visitors."""
    if not user.is_authenticated:
        return None
    return Patient.objects.select_related("user").filter(user=user).first()


def screening_for_patient(*, patient: Patient) -> Screening | None:
    """The patient's own screening answers (None until they first submit them)."""
    return Screening.objects.filter(patient=patient).first()


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


@dataclass
class Dashboard:
    patient: Patient
    screening: Screening | None
    screening_state: str
    appointments: list[Appointment]
    courses: list[CourseLine]
    signed_consents: list[SignedConsent]
    consents_to_sign: list[CourseLine] = field(default_factory=list)


def _upcoming_appointments(patient: Patient) -> list[Appointment]:
    return list(
        Appointment.objects.filter(
            patient=patient,
            end__gte=timezone.now(),
            status__in=[Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN],
        )
        .select_related("treatment", "room__location", "consultant__user", "session_record")
        .order_by("start")
    )


def _courses(patient: Patient) -> list[Course]:
    live_sessions = (
        SessionRecord.objects.exclude(status=SessionRecord.Status.ABANDONED)
        .select_related("appointment")
        .order_by("number")
    )
    standing = SignedConsent.objects.filter(withdrawn_at__isnull=True)
    return list(
        Course.objects.filter(patient=patient)
        .select_related("treatment")
        .prefetch_related(
            Prefetch("sessions", queryset=live_sessions, to_attr="live_sessions"),
            Prefetch("consents", queryset=standing, to_attr="standing_consents"),
        )
        .order_by("-created_at")
    )


def patient_dashboard(*, patient: Patient) -> Dashboard:
    """Everything the patient's first page shows, in a fixed number of queries."""
    screening = screening_for_patient(patient=patient)
    forms = current_consent_forms()
    today = timezone.localdate()
    lines = []
    for course in _courses(patient):
        sessions: list[SessionRecord] = course.live_sessions  # type: ignore[attr-defined]
        current = forms.get(course.treatment_id)
        lines.append(
            CourseLine(
                course=course,
                current_form=current,
                consent_state=consent_state(
                    current_form=current,
                    standing=course.standing_consents,  # type: ignore[attr-defined]
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
    signed = list(
        SignedConsent.objects.filter(patient=patient)
        .select_related("form", "course__treatment")
        .order_by("-signed_at")
    )
    return Dashboard(
        patient=patient,
        screening=screening,
        screening_state=screening_state(screening),
        appointments=_upcoming_appointments(patient),
        courses=lines,
        signed_consents=signed,
        consents_to_sign=[line for line in lines if line.needs_signature],
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
        "form__treatment", "course__treatment", "witnessed_by__user"
    ).get(pk=pk, patient=patient, course__patient=patient)
