"""Everything the clinic holds on one patient: the "download my data" file and page.

``export_data`` builds it with Python values (instants in the clinic's zone, dates,
amounts as ``Decimal``) for the printable page; ``patient_export`` is the same dict made
JSON-serialisable: instants in ISO 8601 with their offset, dates as ``YYYY-MM-DD``, clock
times as ``HH:MM``, amounts as strings (no rounding). Both read in a fixed number of
queries however long the record is, and every query is filtered by the one patient.

Left out on purpose: the calendar feed's secret address (a key, not information about
the patient: whether a feed exists and when it was made are in), and the delivery
plumbing of reminders (the SMS provider's message id, error text, retry counters).
Staff appear by name and title only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone

from aftercare.models import (
    WARNING_SYMPTOMS,
    AftercarePlan,
    CheckIn,
    CourseFlag,
    Reminder,
    ReminderPreference,
)
from bookings.models import Appointment, CalendarFeed, WaitingListEntry
from clinic.models import StaffMember, User
from treatments.models import (
    AdverseEvent,
    Course,
    CourseExtension,
    Leg,
    SessionRecord,
    SignedConsent,
    StockingFitting,
    zone_labels,
)

from .models import AccountClosureRequest, Patient, RecordAccess, Screening

FORMAT_VERSION = 1
# The order of the sections, with the heading the printable page gives each.
SECTIONS = {
    "account": "Your account",
    "profile": "Your details",
    "profile_history": "Earlier versions of your details",
    "screening": "Your health questionnaire",
    "screening_history": "Earlier versions of your questionnaire",
    "appointments": "Appointments",
    "courses": "Courses of treatment and sessions",
    "consents": "Consent forms you signed",
    "aftercare_plans": "Aftercare plans and check-ins",
    "reminder_preferences": "Reminder preferences",
    "reminders": "Reminders",
    "waiting_list": "Waiting list",
    "calendar_feed": "Calendar feed",
    "account_closure_requests": "Requests to close your account",
    "record_accesses": "Who at the clinic opened your record",
}
HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}


def _when(instant: datetime | None) -> datetime | None:
    """An instant in the clinic's zone (so its offset says which time it was there)."""
    return timezone.localtime(instant) if instant is not None else None


def _utc(instant: datetime | None) -> datetime | None:
    return instant.astimezone(UTC) if instant is not None else None


def _staff(member: StaffMember | None) -> str | None:
    return member.display_name if member is not None else None


def _label(choices: Any, value: str) -> str:
    """The words for a stored choice (the value itself if the choice has since gone)."""
    return str(choices(value).label) if value in choices.values else value


def _kind_labels(values: list[str]) -> list[str]:
    return [_label(Reminder.Kind, v) for v in values]


# --- the sections --------------------------------------------------------------------------


def _account(user: User) -> dict[str, Any]:
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "joined": _when(user.date_joined),
        "last_logged_in": _when(user.last_login),
        "is_active": user.is_active,
    }


def _profile(patient: Patient) -> dict[str, Any]:
    return {
        "date_of_birth": patient.date_of_birth,
        "phone": patient.phone,
        "address": patient.address,
        "gp_practice": patient.gp_practice,
        "payer": patient.payer,
        "payer_label": patient.get_payer_display(),
        "insurer": patient.insurer,
        "policy_number": patient.policy_number,
        "preauthorisation_code": patient.preauthorisation_code,
        "contact_by_email": patient.contact_by_email,
        "contact_by_sms": patient.contact_by_sms,
        "created_at": _when(patient.created_at),
    }


def _profile_history(patient: Patient) -> list[dict[str, Any]]:
    rows = Patient.history.filter(id=patient.pk).order_by("history_date", "history_id")  # type: ignore[attr-defined]
    return [
        {
            "recorded_at": _when(row.history_date),
            "change": HISTORY_TYPES.get(row.history_type, row.history_type),
            "date_of_birth": row.date_of_birth,
            "phone": row.phone,
            "address": row.address,
            "gp_practice": row.gp_practice,
            "payer": row.payer,
            "payer_label": _label(Patient.Payer, row.payer),
            "insurer": row.insurer,
            "policy_number": row.policy_number,
            "preauthorisation_code": row.preauthorisation_code,
            "contact_by_email": row.contact_by_email,
            "contact_by_sms": row.contact_by_sms,
        }
        for row in rows
    ]


def _answers(screening: Any) -> list[dict[str, Any]]:
    return [
        {"question": question, "field": name, "answer": bool(getattr(screening, name))}
        for name, question in Screening.FLAG_QUESTIONS.items()
    ]


def _answered_yes(screening: Any) -> list[str]:
    return [q for name, q in Screening.FLAG_QUESTIONS.items() if getattr(screening, name)]


def _screening(patient: Patient) -> dict[str, Any] | None:
    screening = (
        Screening.objects.filter(patient=patient).select_related("reviewed_by__user").first()
    )
    if screening is None:
        return None
    return {
        "answers": _answers(screening),
        "answered_yes": _answered_yes(screening),
        "other_conditions": screening.other_conditions,
        "medicines": screening.medicines,
        "submitted_at": _when(screening.submitted_at),
        "review_status": "reviewed" if screening.is_reviewed else "awaiting review",
        "needs_review": screening.needs_review,
        "reviewed_at": _when(screening.reviewed_at),
        "reviewed_by": _staff(screening.reviewed_by),
        "review_notes": screening.review_notes,
    }


def _screening_history(patient: Patient) -> list[dict[str, Any]]:
    rows = Screening.history.filter(patient_id=patient.pk).order_by(  # type: ignore[attr-defined]
        "history_date", "history_id"
    )
    return [
        {
            "recorded_at": _when(row.history_date),
            "change": HISTORY_TYPES.get(row.history_type, row.history_type),
            "answers": _answers(row),
            "answered_yes": _answered_yes(row),
            "other_conditions": row.other_conditions,
            "medicines": row.medicines,
            "submitted_at": _when(row.submitted_at),
            "reviewed_at": _when(row.reviewed_at),
        }
        for row in rows
    ]


def _appointments(patient: Patient) -> list[dict[str, Any]]:
    rows = (
        Appointment.objects.filter(patient=patient)
        .select_related("treatment", "consultant__user", "nurse__user", "room__location")
        .order_by("start", "pk")
    )
    return [
        {
            "id": a.pk,
            "what": a.treatment.name,
            "kind": a.treatment.kind,
            "status": a.status,
            "status_label": a.get_status_display(),
            "start": _when(a.start),
            "end": _when(a.end),
            "start_utc": _utc(a.start),
            "end_utc": _utc(a.end),
            "minutes": a.minutes,
            "location": a.room.location.name,
            "room": a.room.name,
            "consultant": _staff(a.consultant),
            "nurse": _staff(a.nurse),
            "payer": a.payer,
            "payer_label": a.get_payer_display(),
            "preauthorisation_code": a.preauthorisation_code,
            "price_quoted": a.price_amount,
            "currency": a.price_currency,
            "booked_online": a.booked_online,
            "booked_at": _when(a.created_at),
            "music_request": a.music_request,
            "notes": a.notes,
            "late_change": a.late_change,
            "cancelled_at": _when(a.cancelled_at),
            "cancellation_reason": a.cancellation_reason,
        }
        for a in rows
    ]


def _session(session: SessionRecord) -> dict[str, Any]:
    return {
        "id": session.pk,
        "number": session.number,
        "status": session.status,
        "status_label": session.get_status_display(),
        "appointment_id": session.appointment_id,
        "date": _when(session.appointment.start),
        "consultant": _staff(session.consultant),
        "nurse": _staff(session.nurse),
        "consent_id": session.consent_id,
        "legs_treated": session.get_legs_treated_display() if session.legs_treated else "",
        "treated_areas": zone_labels(session.treated_areas),
        "sclerosant": session.sclerosant,
        "concentration_percent": session.concentration_percent,
        "total_volume_ml": session.total_volume_ml,
        "injections": session.injections,
        "walk_before_going_home_minutes": session.discharge_walk_minutes,
        "discomfort_0_to_10": session.discomfort,
        "music_requested": session.music_requested,
        "notes": session.notes,
        "abandoned_reason": session.abandoned_reason,
        "started_at": _when(session.started_at),
        "completed_at": _when(session.completed_at),
        "stockings": [
            {
                "leg": s.get_leg_display(),
                "compression_class": s.get_compression_class_display(),
                "length": s.get_length_display(),
                "fitted_by": _staff(s.fitted_by),
                "fitted_at": _when(s.fitted_at),
            }
            for s in session.export_stockings  # type: ignore[attr-defined]
        ],
        "adverse_events": [
            {
                "kind": e.kind,
                "kind_label": e.get_kind_display(),
                "severity": e.get_severity_display(),
                "action_taken": e.action_taken,
                "description": e.description,
                "recorded_by": _staff(e.recorded_by),
                "recorded_at": _when(e.recorded_at),
            }
            for e in session.export_events  # type: ignore[attr-defined]
        ],
    }


def _courses(patient: Patient) -> list[dict[str, Any]]:
    sessions = (
        SessionRecord.objects.select_related("appointment", "consultant__user", "nurse__user")
        .prefetch_related(
            Prefetch(
                "stockings",
                queryset=StockingFitting.objects.select_related("fitted_by__user").order_by("leg"),
                to_attr="export_stockings",
            ),
            Prefetch(
                "adverse_events",
                queryset=AdverseEvent.objects.select_related("recorded_by__user").order_by(
                    "recorded_at", "pk"
                ),
                to_attr="export_events",
            ),
        )
        .order_by("number", "pk")
    )
    courses = (
        Course.objects.filter(patient=patient)
        .select_related("treatment", "consultant__user")
        .prefetch_related(
            Prefetch("sessions", queryset=sessions, to_attr="export_sessions"),
            Prefetch(
                "extensions",
                queryset=CourseExtension.objects.select_related("extended_by__user").order_by(
                    "extended_at", "pk"
                ),
                to_attr="export_extensions",
            ),
            Prefetch(
                "flags",
                queryset=CourseFlag.objects.select_related("resolved_by__user").order_by(
                    "raised_at", "pk"
                ),
                to_attr="export_flags",
            ),
        )
        .order_by("created_at", "pk")
    )
    return [
        {
            "id": c.pk,
            "treatment": c.treatment.name,
            "consultant": _staff(c.consultant),
            "status": c.status,
            "status_label": c.get_status_display(),
            "status_reason": c.status_reason,
            "planned_sessions": c.planned_sessions,
            "min_gap_days": c.min_gap_days,
            "legs": c.get_legs_display(),
            "treated_areas": zone_labels(c.treated_areas),
            "plan_notes": c.plan_notes,
            "outcome": c.outcome,
            "consultation_appointment_id": c.consultation_id,
            "created_at": _when(c.created_at),
            "closed_at": _when(c.closed_at),
            "extensions": [
                {
                    "from_sessions": x.from_sessions,
                    "to_sessions": x.to_sessions,
                    "reason": x.reason,
                    "extended_by": _staff(x.extended_by),
                    "extended_at": _when(x.extended_at),
                }
                for x in c.export_extensions  # type: ignore[attr-defined]
            ],
            "sessions": [_session(s) for s in c.export_sessions],  # type: ignore[attr-defined]
            "flags_for_the_consultant": [
                {
                    "reason": f.reason,
                    "raised_at": _when(f.raised_at),
                    "resolved_at": _when(f.resolved_at),
                    "resolved_by": _staff(f.resolved_by),
                    "resolution": f.resolution,
                }
                for f in c.export_flags  # type: ignore[attr-defined]
            ],
        }
        for c in courses
    ]


def _consents(patient: Patient) -> list[dict[str, Any]]:
    rows = (
        SignedConsent.objects.filter(patient=patient, course__patient=patient)
        .select_related("form", "course__treatment", "witnessed_by__user")
        .order_by("signed_at", "pk")
    )
    return [
        {
            "id": c.pk,
            "course_id": c.course_id,
            "treatment": c.course.treatment.name,
            "form_title": c.form.title,
            "form_version": c.form.version,
            "signed_text": c.signed_text,
            "text_hash_sha256": c.text_hash,
            "typed_name": c.typed_name,
            "statements_accepted": list(c.statements_accepted),
            "method": c.method,
            "method_label": c.get_method_display(),
            "signed_at": _when(c.signed_at),
            "witnessed_by": _staff(c.witnessed_by),
            "withdrawn_at": _when(c.withdrawn_at),
            "withdrawn_reason": c.withdrawn_reason,
        }
        for c in rows
    ]


def _check_in(c: CheckIn) -> dict[str, Any]:
    return {
        "day": c.day,
        "walked": c.walked,
        "stockings_on": c.stockings_on,
        "bruising": c.bruising,
        "redness": c.redness,
        "swelling": c.swelling,
        "pain_score": c.pain_score,
        "warning_symptoms": [WARNING_SYMPTOMS.get(s, s) for s in c.warning_symptoms],
        "notes": c.notes,
        "updated_at": _when(c.updated_at),
    }


def _aftercare_plans(patient: Patient) -> list[dict[str, Any]]:
    plans = (
        AftercarePlan.objects.filter(patient=patient)
        .select_related("course__treatment")
        .prefetch_related(
            Prefetch("check_ins", queryset=CheckIn.objects.order_by("day"), to_attr="export_days")
        )
        .order_by("starts_on", "pk")
    )
    return [
        {
            "id": p.pk,
            "course_id": p.course_id,
            "session_id": p.session_id,
            "treatment": p.course.treatment.name,
            "starts_on": p.starts_on,
            "stockings_until": p.stockings_until,
            "stocking_legs": [_label(Leg, leg) for leg in p.stocking_legs],
            "walk_until": p.walk_until,
            "daily_walk_minutes": p.daily_walk_minutes,
            "extra_instructions": p.extra_instructions,
            "created_at": _when(p.created_at),
            "check_ins": [_check_in(c) for c in p.export_days],  # type: ignore[attr-defined]
        }
        for p in plans
    ]


def _reminder_preferences(patient: Patient) -> dict[str, Any] | None:
    preference = ReminderPreference.objects.filter(patient=patient).first()
    if preference is None:
        return None
    return {
        "walk_time": preference.walk_time,
        "walk_reminders": preference.walk_reminders,
        "also_by_text_message": _kind_labels(list(preference.sms_kinds)),
        "stopped": _kind_labels(list(preference.unsubscribed_kinds)),
    }


def _reminders(patient: Patient) -> list[dict[str, Any]]:
    rows = Reminder.objects.filter(patient=patient).order_by("due_at", "pk")
    return [
        {
            "kind": r.kind,
            "kind_label": r.get_kind_display(),
            "channel": r.channel,
            "channel_label": r.get_channel_display(),
            "due_at": _when(r.due_at),
            "status": r.status,
            "status_label": r.get_status_display(),
            "sent_at": _when(r.sent_at),
            "appointment_id": r.appointment_id,
            "aftercare_plan_id": r.plan_id,
            "about_day": r.day,
        }
        for r in rows
    ]


def _waiting_list(patient: Patient) -> list[dict[str, Any]]:
    rows = (
        WaitingListEntry.objects.filter(patient=patient)
        .select_related("treatment")
        .order_by("created_at", "pk")
    )
    return [
        {
            "treatment": w.treatment.name,
            "course_id": w.course_id,
            "earliest_date": w.earliest_date,
            "latest_date": w.latest_date,
            "status": w.status,
            "status_label": w.get_status_display(),
            "joined_at": _when(w.created_at),
            "offered_start": _when(w.offered_start),
            "offered_at": _when(w.offered_at),
        }
        for w in rows
    ]


def _calendar_feed(user: User) -> dict[str, Any]:
    feed = CalendarFeed.objects.filter(user=user).only("pk", "created_at").first()
    return {
        "exists": feed is not None,
        "address_made_at": _when(feed.created_at) if feed is not None else None,
    }


def _closure_requests(patient: Patient) -> list[dict[str, Any]]:
    rows = (
        AccountClosureRequest.objects.filter(patient=patient)
        .select_related("handled_by")
        .order_by("requested_at", "pk")
    )

    def handled_by(row: AccountClosureRequest) -> str | None:
        if row.handled_by is None:
            return None
        if row.handled_by_id == patient.user_id:
            return "you"
        return row.handled_by.get_full_name() or "the clinic"

    return [
        {
            "status": r.status,
            "status_label": r.get_status_display(),
            "reason": r.reason,
            "requested_at": _when(r.requested_at),
            "handled_at": _when(r.handled_at),
            "handled_by": handled_by(r),
            "clinical_record_kept_until": r.retain_clinical_until,
            "clinic_note": r.admin_note,
        }
        for r in rows
    ]


def _record_accesses(patient: Patient) -> list[dict[str, Any]]:
    rows = RecordAccess.objects.filter(patient=patient).select_related("user").order_by("-at")
    return [
        {
            "at": _when(r.at),
            "who": r.user.get_full_name() or "Clinic staff",
            "what": r.what,
            "reason": r.reason,
        }
        for r in rows
    ]


# --- the whole ---------------------------------------------------------------------------


def export_data(patient: Patient) -> dict[str, Any]:
    """Everything held on the patient, with Python values (see the module docstring)."""
    if not Patient.user.is_cached(patient):  # type: ignore[attr-defined]
        # Called with a bare patient (a management command): read it with its account.
        # The pages pass the one ``patient_for_user`` just read, user and all.
        patient = Patient.objects.select_related("user").get(pk=patient.pk)
    return {
        "about_this_file": {
            "clinic": settings.CLINIC_NAME,
            "made_at": _when(timezone.now()),
            "time_zone": settings.CLINIC_TIME_ZONE,
            "format_version": FORMAT_VERSION,
            "patient_id": patient.pk,
        },
        "account": _account(patient.user),
        "profile": _profile(patient),
        "profile_history": _profile_history(patient),
        "screening": _screening(patient),
        "screening_history": _screening_history(patient),
        "appointments": _appointments(patient),
        "courses": _courses(patient),
        "consents": _consents(patient),
        "aftercare_plans": _aftercare_plans(patient),
        "reminder_preferences": _reminder_preferences(patient),
        "reminders": _reminders(patient),
        "waiting_list": _waiting_list(patient),
        "calendar_feed": _calendar_feed(patient.user),
        "account_closure_requests": _closure_requests(patient),
        "record_accesses": _record_accesses(patient),
    }


def jsonable(value: Any) -> Any:
    """``value`` with instants, dates, clock times and amounts turned into strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, Decimal):
        return str(value)
    return value


def patient_export(patient: Patient) -> dict[str, Any]:
    """Everything the clinic holds on the patient, ready for ``json.dumps``."""
    return jsonable(export_data(patient))
