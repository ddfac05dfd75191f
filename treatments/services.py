"""The clinic's rules for courses, consent and session records.

Each numbered rule of the clinical core lives in exactly one function here:

1. No course without a completed initial consultation ............ ``course_plan``
2. 2–4 planned sessions; more only after an extension ............. ``course_plan``,
   ``session_schedule``, ``course_extend``
3. Sessions at least the course's minimum gap apart ............... ``session_date_check``
4. No session in progress without a standing consent on the
   treatment's current form version ................................ ``session_start``
5. A session needs a consultant and a nurse ....................... ``session_start``,
   ``session_complete``
6. No completion without stockings on each treated leg and the
   walk before discharge ........................................... ``session_complete``
7. The last planned session completes the course; a consultant may
   complete or discontinue with a reason ........................... ``session_complete``,
   ``course_close``
8. Screening flags awaiting review block planning ................. ``course_plan``

State changes go through the transition maps below; simple_history records who changed
what and when.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from aftercare import services as aftercare
from bookings.models import Appointment
from bookings.services import (
    appointment_check_clashes,
    appointment_create_in_transaction,
    appointment_set_status,
    appointment_validate_people_and_room,
)
from clinic.errors import DomainError, PermissionRefused
from clinic.models import Room, StaffMember
from patients.models import Screening

from .models import (
    AdverseEvent,
    ConsentForm,
    Course,
    CourseExtension,
    Leg,
    Legs,
    Price,
    SessionRecord,
    SignedConsent,
    StockingFitting,
    Treatment,
    validate_zones,
)

CourseStatus = Course.Status
SessionStatus = SessionRecord.Status

COURSE_TRANSITIONS: dict[str, set[str]] = {
    CourseStatus.PLANNED: {CourseStatus.ACTIVE, CourseStatus.COMPLETED, CourseStatus.DISCONTINUED},
    CourseStatus.ACTIVE: {CourseStatus.COMPLETED, CourseStatus.DISCONTINUED},
    CourseStatus.COMPLETED: set(),
    CourseStatus.DISCONTINUED: set(),
}

SESSION_TRANSITIONS: dict[str, set[str]] = {
    SessionStatus.SCHEDULED: {SessionStatus.CONSENT_CONFIRMED, SessionStatus.ABANDONED},
    SessionStatus.CONSENT_CONFIRMED: {SessionStatus.IN_PROGRESS, SessionStatus.ABANDONED},
    SessionStatus.IN_PROGRESS: {SessionStatus.COMPLETED, SessionStatus.ABANDONED},
    SessionStatus.COMPLETED: set(),
    SessionStatus.ABANDONED: set(),
}


# --- helpers -------------------------------------------------------------------------


def local_date(moment: datetime) -> date:
    """The calendar day a moment falls on in the clinic's zone."""
    return timezone.localtime(moment).date()


def _require_role(staff: StaffMember | None, *roles: str, action: str) -> StaffMember:
    if staff is None or not staff.is_active or staff.role not in roles:
        names = " or ".join(r.lower() for r in roles)
        raise PermissionRefused(f"Only a {names} can {action}.")
    return staff


def _move_course(course: Course, to: str, *, reason: str = "") -> None:
    if to not in COURSE_TRANSITIONS[course.status]:
        raise DomainError(
            f"A course that is {course.get_status_display().lower()} cannot become "
            f"{CourseStatus(to).label.lower()}."
        )
    course.status = to
    if reason:
        course.status_reason = reason
    fields = ["status", "status_reason"]
    if to in (CourseStatus.COMPLETED, CourseStatus.DISCONTINUED):
        course.closed_at = timezone.now()
        fields.append("closed_at")
    course.save(update_fields=fields)


def _move_session(session: SessionRecord, to: str) -> None:
    if to not in SESSION_TRANSITIONS[session.status]:
        raise DomainError(
            f"A session that is {session.get_status_display().lower()} cannot become "
            f"{SessionStatus(to).label.lower()}."
        )
    session.status = to


def _locked_course(course: Course) -> Course:
    return (
        Course.objects.select_for_update(of=("self",))
        .select_related("treatment", "patient__user")
        .get(pk=course.pk)
    )


def _locked_session(session: SessionRecord) -> SessionRecord:
    return (
        SessionRecord.objects.select_for_update(of=("self",))
        .select_related("course__treatment", "course__patient__user", "appointment", "consent")
        .get(pk=session.pk)
    )


# --- consultations and course plans ------------------------------------------------


def completed_consultation_for(patient_id: int) -> Appointment | None:
    return (
        Appointment.objects.filter(
            patient_id=patient_id,
            treatment__kind=Treatment.Kind.CONSULTATION,
            status=Appointment.Status.COMPLETED,
        )
        .order_by("-start")
        .first()
    )


@transaction.atomic
def course_plan(
    *,
    consultation: Appointment,
    consultant: StaffMember,
    treatment: Treatment,
    planned_sessions: int,
    legs: str,
    treated_areas: list[str] | None = None,
    min_gap_days: int | None = None,
    plan_notes: str = "",
) -> Course:
    """Plan a course from a consultation.

    Rule 1: the consultation must be the patient's initial consultation and completed.
    Rule 2: the planned sessions lie within the treatment's range (2–4 for
    microsclerotherapy). Rule 8: a screening must be on file and any answer that needs
    a consultant's review must have been reviewed. The minimum gap lies within the
    treatment's range (4–6 weeks) and defaults to the treatment's default.
    """
    _require_role(consultant, StaffMember.StaffRole.CONSULTANT, action="plan a course")
    consultation = Appointment.objects.select_related("treatment", "patient").get(
        pk=consultation.pk
    )
    patient = consultation.patient
    if consultation.treatment.kind != Treatment.Kind.CONSULTATION:
        raise DomainError("A course is planned from a consultation, not from another appointment.")
    if consultation.status != Appointment.Status.COMPLETED:
        raise DomainError(
            "The initial consultation has not been completed yet: mark it completed before "
            "planning a course."
        )
    if not treatment.is_treatment or not treatment.is_active:
        raise DomainError(f"{treatment} is not a treatment that can be planned as a course.")
    if not (treatment.min_planned_sessions <= planned_sessions <= treatment.max_planned_sessions):
        raise DomainError(
            f"Plan between {treatment.min_planned_sessions} and "
            f"{treatment.max_planned_sessions} sessions of {treatment}. More can be added "
            "later by extending the course, with a reason."
        )
    gap = treatment.default_min_gap_days if min_gap_days is None else min_gap_days
    if not (treatment.min_gap_days_lowest <= gap <= treatment.min_gap_days_highest):
        raise DomainError(
            f"The minimum gap between sessions must be {treatment.min_gap_days_lowest} to "
            f"{treatment.min_gap_days_highest} days."
        )
    if legs not in Legs.values:
        raise DomainError("Choose the left leg, the right leg or both.")
    areas = list(treated_areas or [])
    try:
        validate_zones(areas)
    except Exception as exc:
        raise DomainError("; ".join(getattr(exc, "messages", [str(exc)]))) from exc
    _check_areas_on_legs(areas, legs)

    screening = Screening.objects.filter(patient=patient).first()
    if screening is None:
        raise DomainError(
            "The patient has not filled in the medical screening questionnaire yet; it is "
            "needed before a course can be planned."
        )
    if screening.needs_review:
        raise DomainError(
            "The screening has answers that need a consultant's review ("
            + "; ".join(screening.flags)
            + "). Review them before planning a course."
        )
    if Course.objects.filter(
        patient=patient, treatment=treatment, status__in=[CourseStatus.PLANNED, CourseStatus.ACTIVE]
    ).exists():
        raise DomainError(f"The patient already has an open course of {treatment}.")
    return Course.objects.create(
        patient=patient,
        treatment=treatment,
        consultant=consultant,
        consultation=consultation,
        planned_sessions=planned_sessions,
        min_gap_days=gap,
        legs=legs,
        treated_areas=areas,
        plan_notes=plan_notes,
    )


def _check_areas_on_legs(areas: list[str], legs: str) -> None:
    sides = Legs.sides(legs)
    off_plan = [a for a in areas if a.split("_", 1)[0] not in sides]
    if off_plan:
        raise DomainError("Every treated area must be on a leg being treated.")


@transaction.atomic
def course_extend(
    *, course: Course, consultant: StaffMember, to_sessions: int, reason: str
) -> CourseExtension:
    """Rule 2: raise the plan (beyond the treatment's maximum if need be), with a reason."""
    _require_role(consultant, StaffMember.StaffRole.CONSULTANT, action="extend a course")
    course = _locked_course(course)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give the reason for extending the course.")
    if not course.is_open:
        raise DomainError(
            f"The course is {course.get_status_display().lower()}; it cannot be extended."
        )
    if to_sessions <= course.planned_sessions:
        raise DomainError(
            f"The course already plans {course.planned_sessions} sessions; an extension must "
            "plan more."
        )
    if to_sessions > course.planned_sessions + 4:
        raise DomainError("Extend by at most four sessions at a time.")
    extension = CourseExtension.objects.create(
        course=course,
        extended_by=consultant,
        reason=reason,
        from_sessions=course.planned_sessions,
        to_sessions=to_sessions,
    )
    course.planned_sessions = to_sessions
    course.save(update_fields=["planned_sessions"])
    return extension


@transaction.atomic
def course_close(*, course: Course, consultant: StaffMember, status: str, reason: str) -> Course:
    """Rule 7: a consultant completes or discontinues a course at any time, with a reason."""
    _require_role(consultant, StaffMember.StaffRole.CONSULTANT, action="close a course")
    if status not in (CourseStatus.COMPLETED, CourseStatus.DISCONTINUED):
        raise DomainError("A course is closed as completed or discontinued.")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give the reason.")
    course = _locked_course(course)
    _move_course(course, status, reason=reason)
    if status == CourseStatus.COMPLETED:
        course.outcome = reason
        course.save(update_fields=["outcome"])
    return course


# --- sessions: scheduling and the gap rule ---------------------------------------------


def _live_sessions(course: Course, exclude_pk: int | None = None) -> list[SessionRecord]:
    sessions = SessionRecord.objects.filter(course=course).exclude(status=SessionStatus.ABANDONED)
    if exclude_pk is not None:
        sessions = sessions.exclude(pk=exclude_pk)
    return list(sessions.select_related("appointment").order_by("number"))


def session_date_check(
    *, course: Course, number: int, when: datetime, exclude_pk: int | None = None
) -> None:
    """Rule 3: session ``number`` on ``when`` is at least the minimum gap after the session
    before it and before the session after it (by calendar day in the clinic's zone).
    """
    day = local_date(when)
    gap = timedelta(days=course.min_gap_days)
    for other in _live_sessions(course, exclude_pk):
        other_day = local_date(other.appointment.start)
        if other.number < number and day < other_day + gap:
            earliest = other_day + gap
            raise DomainError(
                f"Session {number} must be at least {course.min_gap_days} days after session "
                f"{other.number} ({other_day:%-d %B %Y}). The earliest allowed date is "
                f"{earliest:%A %-d %B %Y}.",
                code="gap",
            )
        if other.number > number and day > other_day - gap:
            latest = other_day - gap
            raise DomainError(
                f"Session {number} must be at least {course.min_gap_days} days before session "
                f"{other.number} ({other_day:%-d %B %Y}). The latest allowed date is "
                f"{latest:%A %-d %B %Y}.",
                code="gap",
            )


def earliest_next_session_date(
    course: Course, live_sessions: list[SessionRecord] | None = None
) -> date | None:
    """The first day the next session may be booked (None when none is booked yet).

    Pages that list many courses pass the course's live (not abandoned) sessions, loaded
    with their appointments, so that no query runs per course.
    """
    sessions = _live_sessions(course) if live_sessions is None else live_sessions
    if not sessions:
        return None
    last = max(sessions, key=lambda s: s.number)
    return local_date(last.appointment.start) + timedelta(days=course.min_gap_days)


def session_schedule_in_transaction(
    *,
    course: Course,
    start: datetime,
    minutes: int,
    consultant: StaffMember,
    nurse: StaffMember,
    room: Room,
    music_request: str = "",
    **booking: Any,
) -> SessionRecord:
    """Put the next session of a course in the diary.

    Rule 2: no session beyond the plan (the consultant extends the course first).
    Rule 3: the minimum gap after the previous session. The course must be open.

    This is the version for a caller that holds a transaction already and lets every
    error out of it (``bookings.services.appointment_book``): no savepoints of its own.
    Without a transaction it writes nothing: ``appointment_create_in_transaction``, its
    first write, refuses to run. ``session_schedule`` is the same in a transaction of its
    own.
    """
    course = _locked_course(course)
    if not course.is_open:
        raise DomainError(f"The course is {course.get_status_display().lower()}; no more sessions.")
    sessions = _live_sessions(course)
    number = (sessions[-1].number if sessions else 0) + 1
    if number > course.planned_sessions:
        raise DomainError(
            f"All {course.planned_sessions} planned sessions of this course are booked or done. "
            "A consultant must extend the course, with a reason, before another is booked.",
            code="beyond_plan",
        )
    session_date_check(course=course, number=number, when=start)
    appointment = appointment_create_in_transaction(
        patient=course.patient,
        treatment=course.treatment,
        start=start,
        minutes=minutes,
        consultant=consultant,
        nurse=nurse,
        room=room,
        music_request=music_request,
        **booking,
    )
    return SessionRecord.objects.create(
        course=course,
        number=number,
        appointment=appointment,
        # As read under their locks by appointment_create.
        consultant=appointment.consultant,
        nurse=appointment.nurse,
        legs_treated=course.legs,
        sclerosant=course.treatment.default_sclerosant or SessionRecord.sclerosant.field.default,
        music_requested=music_request,
    )


# The service for every other caller: the same, in a transaction of its own.
session_schedule = transaction.atomic(session_schedule_in_transaction)


@transaction.atomic
def session_reschedule(*, session: SessionRecord, start: datetime) -> SessionRecord:
    """Move a session that has not started to another time, keeping its length.

    Rule 3 holds on both sides: after the session before it and before the one after it.
    """
    session = _locked_session(session)
    if session.status not in (SessionStatus.SCHEDULED, SessionStatus.CONSENT_CONFIRMED):
        raise DomainError("Only a session that has not started can be moved.")
    session_date_check(
        course=session.course, number=session.number, when=start, exclude_pk=session.pk
    )
    appointment = session.appointment
    start = start.astimezone(UTC)  # real minutes, not wall-clock ones, across a clock change
    end = start + (appointment.end - appointment.start)
    appointment_validate_people_and_room(
        treatment=appointment.treatment,
        consultant=appointment.consultant,
        nurse=appointment.nurse,
        room=appointment.room,
    )
    appointment_check_clashes(
        start=start,
        end=end,
        consultant=appointment.consultant,
        nurse=appointment.nurse,
        room=appointment.room,
        patient=appointment.patient,
        exclude_pk=appointment.pk,
    )
    appointment.start, appointment.end = start, end
    appointment.save(update_fields=["start", "end"])
    aftercare.reminders_move_for_appointment(appointment=appointment)
    return session


# --- consent -------------------------------------------------------------------------------


def consent_current_form(treatment: Treatment, at: datetime | None = None) -> ConsentForm | None:
    """The treatment's current consent form: the newest published version in effect."""
    at = at or timezone.now()
    return (
        ConsentForm.objects.filter(
            treatment=treatment, published_at__isnull=False, effective_from__lte=at
        )
        .order_by("-version")
        .first()
    )


def standing_consent(course: Course, form: ConsentForm | None) -> SignedConsent | None:
    if form is None:
        return None
    return SignedConsent.objects.filter(course=course, form=form, withdrawn_at__isnull=True).first()


class ConsentState:
    SIGNED = "signed"
    NEEDS_SIGNING = "needs_signing"
    NEEDS_RESIGNING = "needs_resigning"
    NO_FORM = "no_form"

    LABELS = {
        SIGNED: "Signed",
        NEEDS_SIGNING: "Needs signing",
        NEEDS_RESIGNING: "Needs re-signing (new form version)",
        NO_FORM: "No consent form published",
    }


def consent_state(*, current_form: ConsentForm | None, standing: list[SignedConsent]) -> str:
    """Signed on the current version, never signed, or signed only on an older version."""
    if current_form is None:
        return ConsentState.NO_FORM
    if any(c.form_id == current_form.pk for c in standing):
        return ConsentState.SIGNED
    return ConsentState.NEEDS_RESIGNING if standing else ConsentState.NEEDS_SIGNING


def _names_match(typed: str, expected: str) -> bool:
    def norm(value: str) -> str:
        return " ".join(value.casefold().replace("’", "'").split())

    return bool(norm(typed)) and norm(typed) == norm(expected)


@transaction.atomic
def consent_sign(
    *,
    course: Course,
    form: ConsentForm,
    typed_name: str,
    statements_accepted: list[str],
    method: str,
    witnessed_by: StaffMember | None = None,
) -> SignedConsent:
    """Record a patient's signature on the current version of the treatment's form.

    The typed name must match the patient's name, every statement must be ticked, and a
    signature taken in clinic is witnessed by a nurse or consultant. The exact text
    signed and its SHA-256 are stored with the signature.
    """
    course = _locked_course(course)
    if not course.is_open:
        raise DomainError("This course is closed; there is nothing to consent to.")
    current = consent_current_form(course.treatment)
    if form.treatment_id != course.treatment_id or current is None or form.pk != current.pk:
        raise DomainError(
            "This is not the current consent form for the treatment; reload the page."
        )
    patient_name = course.patient.full_name
    if not _names_match(typed_name, patient_name):
        raise DomainError(f"Type your full name exactly as registered: {patient_name}.")
    if sorted(set(statements_accepted)) != sorted(set(form.statements)):
        raise DomainError("Tick every statement to show you have read and understood it.")
    if method == SignedConsent.Method.IN_CLINIC:
        _require_role(
            witnessed_by,
            StaffMember.StaffRole.NURSE,
            StaffMember.StaffRole.CONSULTANT,
            action="witness a consent",
        )
    elif method == SignedConsent.Method.ONLINE:
        witnessed_by = None
    else:
        raise DomainError("Unknown way of signing.")
    if standing_consent(course, form):
        raise DomainError("This consent form is already signed for the course.")
    try:
        with transaction.atomic():
            return SignedConsent.objects.create(
                patient=course.patient,
                course=course,
                form=form,
                text_hash=form.text_hash(),
                signed_text=form.full_text(),
                typed_name=" ".join(typed_name.split()),
                statements_accepted=list(form.statements),
                method=method,
                witnessed_by=witnessed_by,
                signed_at=timezone.now(),
            )
    except IntegrityError as exc:
        raise DomainError("This consent form is already signed for the course.") from exc


@transaction.atomic
def consent_withdraw(*, consent: SignedConsent, reason: str) -> SignedConsent:
    """A patient withdraws consent; the record stays, marked withdrawn with the reason."""
    consent = SignedConsent.objects.select_for_update(of=("self",)).get(pk=consent.pk)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give the reason for withdrawing consent.")
    if consent.withdrawn_at is not None:
        raise DomainError("This consent was already withdrawn.")
    consent.withdrawn_at = timezone.now()
    consent.withdrawn_reason = reason
    consent.save(update_fields=["withdrawn_at", "withdrawn_reason"])
    return consent


@transaction.atomic
def consent_form_publish(*, form: ConsentForm) -> ConsentForm:
    """Publish a draft version. Once published it is never edited: a change is a new version."""
    form = ConsentForm.objects.select_for_update(of=("self",)).get(pk=form.pk)
    if form.is_published:
        raise DomainError("This version is already published.")
    if not form.body.strip() or not form.statements:
        raise DomainError("A consent form needs its text and at least one statement to tick.")
    form.published_at = timezone.now()
    form.save(update_fields=["published_at"])
    return form


@transaction.atomic
def consent_form_new_version(*, treatment: Treatment, **content: Any) -> ConsentForm:
    """A draft of the next version, starting from the content given."""
    last = ConsentForm.objects.filter(treatment=treatment).order_by("-version").first()
    return ConsentForm.objects.create(
        treatment=treatment, version=(last.version + 1) if last else 1, **content
    )


# --- sessions: the day of the procedure --------------------------------------------------


def _valid_consent_for(session: SessionRecord) -> SignedConsent:
    """Rule 4: a standing consent for this course on the treatment's current form version."""
    course = session.course
    current = consent_current_form(course.treatment)
    if current is None:
        raise DomainError(
            "No consent form is published for this treatment; the session cannot go ahead."
        )
    consent = standing_consent(course, current)
    if consent is None:
        older = SignedConsent.objects.filter(course=course, withdrawn_at__isnull=True).exists()
        if older:
            raise DomainError(
                f"The consent form has changed (now version {current.version}); the patient "
                "must sign the new version before the session can start.",
                code="consent",
            )
        raise DomainError(
            "The patient has not signed the consent form for this treatment.", code="consent"
        )
    return consent


@transaction.atomic
def session_confirm_consent(*, session: SessionRecord, nurse: StaffMember) -> SessionRecord:
    """The nurse confirms the patient understands and has a valid consent on file."""
    _require_role(
        nurse,
        StaffMember.StaffRole.NURSE,
        StaffMember.StaffRole.CONSULTANT,
        action="confirm consent",
    )
    session = _locked_session(session)
    consent = _valid_consent_for(session)
    _move_session(session, SessionStatus.CONSENT_CONFIRMED)
    session.consent = consent
    session.save(update_fields=["status", "consent"])
    return session


@transaction.atomic
def session_start(*, session: SessionRecord, by: StaffMember) -> SessionRecord:
    """Begin the procedure.

    Rule 4: the consent is checked again at this moment (a new form version or a
    withdrawal since it was confirmed stops the session). Rule 5: a consultant and a
    nurse are recorded.
    """
    _require_role(
        by, StaffMember.StaffRole.NURSE, StaffMember.StaffRole.CONSULTANT, action="start a session"
    )
    session = _locked_session(session)
    consent = _valid_consent_for(session)
    _require_team(session)
    _move_session(session, SessionStatus.IN_PROGRESS)
    session.consent = consent
    session.started_at = timezone.now()
    session.save(update_fields=["status", "consent", "started_at"])
    course = _locked_course(session.course)
    if course.status == CourseStatus.PLANNED:
        _move_course(course, CourseStatus.ACTIVE)
    session.course = course
    if session.appointment.status == Appointment.Status.BOOKED:
        session.appointment = appointment_set_status(
            appointment=session.appointment, status=Appointment.Status.CHECKED_IN
        )
    return session


def _require_team(session: SessionRecord) -> None:
    """Rule 5: both a consultant and a nurse are recorded on the session."""
    missing = [
        label
        for label, person in (("a consultant", session.consultant), ("a nurse", session.nurse))
        if person is None
    ]
    if missing:
        raise DomainError(f"Record {' and '.join(missing)} for this session first.")
    if (
        session.consultant is not None
        and session.consultant.role != StaffMember.StaffRole.CONSULTANT
    ):
        raise DomainError("The consultant recorded on the session must be a consultant.")
    if session.nurse is not None and session.nurse.role != StaffMember.StaffRole.NURSE:
        raise DomainError("The nurse recorded on the session must be a nurse.")


RECORDABLE_FIELDS = {
    "consultant",
    "nurse",
    "legs_treated",
    "treated_areas",
    "sclerosant",
    "concentration_percent",
    "total_volume_ml",
    "injections",
    "discharge_walk_minutes",
    "discomfort",
    "music_requested",
    "notes",
}


@transaction.atomic
def session_record(*, session: SessionRecord, by: StaffMember, **fields: Any) -> SessionRecord:
    """Record what was done. Every change is kept in the session's history."""
    _require_role(
        by, StaffMember.StaffRole.NURSE, StaffMember.StaffRole.CONSULTANT, action="record a session"
    )
    unknown = set(fields) - RECORDABLE_FIELDS
    if unknown:
        raise DomainError(f"These cannot be recorded here: {', '.join(sorted(unknown))}.")
    session = _locked_session(session)
    if session.status in (SessionStatus.COMPLETED, SessionStatus.ABANDONED):
        raise DomainError(
            f"The session is {session.get_status_display().lower()}; "
            "its record can no longer change."
        )
    if "treated_areas" in fields or "legs_treated" in fields:
        legs = fields.get("legs_treated", session.legs_treated)
        areas = fields.get("treated_areas", session.treated_areas)
        areas = [] if areas is None else areas
        try:
            validate_zones(areas)
        except Exception as exc:
            raise DomainError("; ".join(getattr(exc, "messages", [str(exc)]))) from exc
        if legs:
            _check_areas_on_legs(areas, legs)
        fields["treated_areas"] = areas
    for name, value in fields.items():
        setattr(session, name, _clean_session_value(session, name, value))
    if session.status in (SessionStatus.IN_PROGRESS, SessionStatus.COMPLETED):
        _require_team(session)
    session.save()
    return session


_FIELD_MESSAGES = {
    "concentration_percent": "Concentration is 0.05–3 %.",
    "total_volume_ml": "Total volume is 0.01–20 mL.",
    "injections": "Number of injections is 0–500.",
    "discomfort": "Discomfort is scored 0–10.",
    "discharge_walk_minutes": "Walk minutes are 0–240.",
    "legs_treated": "Choose the left leg, the right leg or both.",
}


def _clean_session_value(session: SessionRecord, name: str, value: Any) -> Any:
    """Turn a recorded value into the field's type, inside the field's limits."""
    model_field = SessionRecord._meta.get_field(name)
    if not isinstance(model_field, models.Field):
        raise DomainError(f"{name} cannot be recorded here.")
    if value == "" and model_field.null:
        value = None
    try:
        return model_field.clean(value, session)
    except ValidationError as exc:
        message = _FIELD_MESSAGES.get(name) or f"{model_field.verbose_name}: " + " ".join(
            exc.messages
        )
        raise DomainError(message) from exc


@transaction.atomic
def session_fit_stocking(
    *, session: SessionRecord, by: StaffMember, leg: str, compression_class: str, length: str
) -> StockingFitting:
    """Record the compression stocking fitted on one treated leg."""
    _require_role(
        by, StaffMember.StaffRole.NURSE, StaffMember.StaffRole.CONSULTANT, action="fit stockings"
    )
    session = _locked_session(session)
    if session.status != SessionStatus.IN_PROGRESS:
        raise DomainError("Stockings are recorded while the session is in progress.")
    if leg not in Leg.values:
        raise DomainError("Choose the left or the right leg.")
    if leg not in Legs.sides(session.legs_treated or session.course.legs):
        raise DomainError("That leg is not being treated in this session.")
    if compression_class not in StockingFitting.CompressionClass.values:
        raise DomainError("Choose a compression class.")
    if length not in StockingFitting.Length.values:
        raise DomainError("Choose the stocking length.")
    fitting = StockingFitting.objects.filter(session=session, leg=leg).first()
    if fitting is None:
        fitting = StockingFitting(session=session, leg=leg)
    fitting.compression_class = compression_class
    fitting.length = length
    fitting.fitted_by = by
    fitting.save()
    return fitting


@transaction.atomic
def session_add_adverse_event(
    *,
    session: SessionRecord,
    by: StaffMember,
    kind: str,
    severity: str,
    action_taken: str,
    description: str = "",
) -> AdverseEvent:
    _require_role(
        by,
        StaffMember.StaffRole.NURSE,
        StaffMember.StaffRole.CONSULTANT,
        action="record an adverse event",
    )
    session = _locked_session(session)
    if session.status not in (SessionStatus.IN_PROGRESS, SessionStatus.COMPLETED):
        raise DomainError("Adverse events are recorded for a session that has started.")
    if kind not in AdverseEvent.Kind.values or severity not in AdverseEvent.Severity.values:
        raise DomainError("Choose the kind and the severity of the event.")
    if not (action_taken or "").strip():
        raise DomainError("Say what action was taken.")
    return AdverseEvent.objects.create(
        session=session,
        kind=kind,
        severity=severity,
        action_taken=action_taken.strip(),
        description=(description or "").strip(),
        recorded_by=by,
    )


@transaction.atomic
def session_complete(*, session: SessionRecord, by: StaffMember) -> SessionRecord:
    """Discharge the patient and close the session record.

    Rule 6: a stocking is recorded on each treated leg, and the walk before discharge is
    at least the treatment's minutes. Rule 5: consultant and nurse recorded. Rule 7: the
    session that reaches the plan completes the course.
    """
    _require_role(
        by,
        StaffMember.StaffRole.NURSE,
        StaffMember.StaffRole.CONSULTANT,
        action="complete a session",
    )
    session = _locked_session(session)
    _require_team(session)
    if session.status != SessionStatus.IN_PROGRESS:
        raise DomainError("Only a session in progress can be completed.")
    if not session.legs_treated:
        raise DomainError("Record which legs were treated.")
    treatment = session.course.treatment
    fitted = set(session.stockings.values_list("leg", flat=True))
    missing = [
        Leg(leg).label.lower() for leg in Legs.sides(session.legs_treated) if leg not in fitted
    ]
    if missing:
        raise DomainError(
            f"Record the compression stocking fitted on the {' and the '.join(missing)} before "
            "discharge.",
            code="stockings",
        )
    walked = session.discharge_walk_minutes
    if walked is None or walked < treatment.discharge_walk_minutes:
        raise DomainError(
            f"The patient must walk for at least {treatment.discharge_walk_minutes} minutes "
            f"before going home (recorded: {walked or 0}).",
            code="walk",
        )
    _move_session(session, SessionStatus.COMPLETED)
    session.completed_at = timezone.now()
    session.save(update_fields=["status", "completed_at"])
    if session.appointment.status in (Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN):
        session.appointment = appointment_set_status(
            appointment=session.appointment,
            status=Appointment.Status.COMPLETED,
            by_session_service=True,
        )
    course = _locked_course(session.course)
    done = course.sessions.filter(status=SessionStatus.COMPLETED).count()
    if course.status == CourseStatus.PLANNED:
        _move_course(course, CourseStatus.ACTIVE)
    if done >= course.planned_sessions and course.status == CourseStatus.ACTIVE:
        _move_course(
            course,
            CourseStatus.COMPLETED,
            reason=f"All {course.planned_sessions} planned sessions completed.",
        )
    session.course = course
    aftercare.aftercare_plan_create(session=session)
    return session


@transaction.atomic
def session_cancel_booking(*, session: SessionRecord, reason: str) -> SessionRecord:
    """The booking of a session that has not started is cancelled (by the patient online or
    by staff): the session record is kept, marked abandoned with the reason."""
    session = _locked_session(session)
    if session.status not in (SessionStatus.SCHEDULED, SessionStatus.CONSENT_CONFIRMED):
        raise DomainError("This session has already started; it cannot be cancelled.")
    _move_session(session, SessionStatus.ABANDONED)
    session.abandoned_reason = reason
    session.save(update_fields=["status", "abandoned_reason"])
    return session


@transaction.atomic
def session_abandon(*, session: SessionRecord, by: StaffMember, reason: str) -> SessionRecord:
    """Stop a session that will not (or did not) go ahead. Nothing is deleted."""
    _require_role(
        by,
        StaffMember.StaffRole.NURSE,
        StaffMember.StaffRole.CONSULTANT,
        action="abandon a session",
    )
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give the reason the session is not going ahead.")
    session = _locked_session(session)
    _move_session(session, SessionStatus.ABANDONED)
    session.abandoned_reason = reason
    session.save(update_fields=["status", "abandoned_reason"])
    if session.appointment.status == Appointment.Status.BOOKED:
        session.appointment = appointment_set_status(
            appointment=session.appointment,
            status=Appointment.Status.CANCELLED,
            by_session_service=True,
        )
    return session


# --- Prices ---------------------------------------------------------------------------------

PRICE_TERMS = ("treatment_id", "minutes", "package_sessions", "amount", "currency", "includes_vat")


def _price_item_rows(price: Price) -> models.QuerySet[Price]:
    return Price.objects.filter(
        treatment_id=price.treatment_id,
        minutes=price.minutes,
        package_sessions=price.package_sessions,
    )


def _price_problem(
    *, price: Price, end_current: bool, today: date, item_rows: list[Price]
) -> DomainError | None:
    if price.pk:
        stored = next((row for row in item_rows if row.pk == price.pk), None)
        stored = stored or Price.objects.get(pk=price.pk)
        if stored.effective_from <= today:
            terms = (*PRICE_TERMS, "effective_from")
            if any(getattr(stored, name) != getattr(price, name) for name in terms):
                return DomainError(
                    "This price is already in force, so patients may have been quoted it. "
                    "Set its last day, and add a new price for the change.",
                    code="price_in_force",
                )
            if price.effective_until is not None and price.effective_until < today - timedelta(
                days=1
            ):
                return DomainError(
                    "A price in force can end yesterday at the earliest: earlier days are "
                    "already history.",
                    code="price_past",
                )
    elif price.effective_from < today:
        return DomainError(
            "A new price starts today or later; the price list for past days cannot change.",
            code="price_past",
        )
    ending = end_current and not price.pk
    clash = next(
        (
            row
            for row in item_rows
            if row.pk != price.pk
            and not (ending and row.effective_from < price.effective_from)
            and (row.effective_until is None or row.effective_until >= price.effective_from)
            and (price.effective_until is None or row.effective_from <= price.effective_until)
        ),
        None,
    )
    if clash is not None:
        until = f" until {clash.effective_until:%d/%m/%Y}" if clash.effective_until else ""
        return DomainError(
            f"Another price for {price.item_label} is in force from "
            f"{clash.effective_from:%d/%m/%Y}{until}. End that one first, or start this one "
            "after it.",
            code="price_overlap",
        )
    return None


def price_check(*, price: Price, end_current: bool = False, today: date | None = None) -> None:
    """Raise the DomainError that ``price_save`` would raise, without saving (for forms)."""
    today = today or timezone.localdate()
    rows = list(_price_item_rows(price).order_by("effective_from"))
    problem = _price_problem(price=price, end_current=end_current, today=today, item_rows=rows)
    if problem is not None:
        raise problem


@transaction.atomic
def price_save(*, price: Price, end_current: bool = False, today: date | None = None) -> Price:
    """Add a price or change one, keeping the published list honest.

    - A new price starts today or later: the past is what patients were quoted.
    - A price already in force keeps its amount and terms; only its last day may change,
      and not to before yesterday. To change an amount, schedule a new price.
    - With ``end_current``, a price that would still be in force when the new one starts
      ends the day before it.
    - Two prices for the same item may not be in force on the same day (and, on
      PostgreSQL, cannot: see migration 0006).
    """
    today = today or timezone.localdate()
    price.full_clean(validate_constraints=False)
    # One price change per treatment at a time: lock the treatment row first, so a second
    # admin waits, then sees the first one's row (and PostgreSQL never has two inserts
    # waiting on each other's exclusion check, which it would end as a deadlock).
    Treatment.objects.select_for_update().filter(pk=price.treatment_id).first()
    rows = list(_price_item_rows(price).select_for_update().order_by("effective_from"))
    problem = _price_problem(price=price, end_current=end_current, today=today, item_rows=rows)
    if problem is not None:
        raise problem
    if end_current and not price.pk:
        for row in rows:
            if row.effective_from < price.effective_from and (
                row.effective_until is None or row.effective_until >= price.effective_from
            ):
                row.effective_until = price.effective_from - timedelta(days=1)
                row.save(update_fields=["effective_until"])
    try:
        with transaction.atomic():
            price.save()
    except IntegrityError as exc:  # the database's own guard (PostgreSQL), e.g. a race
        raise DomainError(
            f"Another price for {price.item_label} is in force on some of those days.",
            code="price_overlap",
        ) from exc
    return price


@transaction.atomic
def price_delete(*, price: Price, today: date | None = None) -> None:
    """Remove a price that was scheduled by mistake. Only one not yet in force and never
    quoted can go; any other is ended instead, so the history of the list stays whole."""
    today = today or timezone.localdate()
    price = Price.objects.select_for_update().get(pk=price.pk)
    if price.effective_from <= today or Appointment.objects.filter(price=price).exists():
        raise DomainError(
            "This price has been in force or quoted; set its last day instead of removing it.",
            code="price_in_force",
        )
    price.delete()
