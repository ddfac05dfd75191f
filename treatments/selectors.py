"""Reads for the staff screens. Each runs a fixed number of queries whatever the data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, FilteredRelation, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from bookings.models import Appointment
from clinic.models import StaffMember, User
from patients.models import Screening

from .models import (
    AdverseEvent,
    ConsentForm,
    Course,
    Faq,
    Price,
    SessionRecord,
    SignedConsent,
    StockingFitting,
    Treatment,
)
from .services import ConsentState, consent_state, local_date


def staff_member_for(user: User) -> StaffMember | None:
    """The acting user's staff record (None for patients and visitors)."""
    if not user.is_authenticated:
        return None
    return StaffMember.objects.select_related("user").filter(user=user, is_active=True).first()


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """Start and end of a calendar day in the clinic's zone, as aware datetimes.

    On the days the clocks change a local day is 23 or 25 hours long; building both
    ends from local midnights gets that right.
    """
    zone = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def current_consent_forms() -> dict[int, ConsentForm]:
    """treatment id -> its current consent form (one query for every treatment)."""
    now = timezone.now()
    forms: dict[int, ConsentForm] = {}
    for form in ConsentForm.objects.filter(
        published_at__isnull=False, effective_from__lte=now
    ).order_by("treatment_id", "-version"):
        forms.setdefault(form.treatment_id, form)
    return forms


CURRENT_FORM = "current_form"


def with_current_form(courses: QuerySet[Course]) -> QuerySet[Course]:
    """Courses that bring their treatment's current consent form along in the same query:
    ``current_form_of(course)`` reads it (the latest version published and in force now,
    as ``current_consent_forms`` picks it), with no query of its own."""
    latest = (
        ConsentForm.objects.filter(
            treatment=OuterRef("treatment_id"),
            published_at__isnull=False,
            effective_from__lte=timezone.now(),
        )
        .order_by("-version")
        .values("pk")[:1]
    )
    return courses.annotate(
        **{
            CURRENT_FORM: FilteredRelation(
                "treatment__consent_forms",
                condition=Q(treatment__consent_forms__pk=Subquery(latest)),
            )
        }
    ).select_related(CURRENT_FORM)


def current_form_of(course: Course) -> ConsentForm | None:
    """The current form of a course read through ``with_current_form`` (Django sets the
    attribute only when the join found a form)."""
    return getattr(course, CURRENT_FORM, None)


_STANDING_CONSENTS = Prefetch(
    "course__consents",
    queryset=SignedConsent.objects.filter(withdrawn_at__isnull=True).select_related("form"),
    to_attr="standing_consents",
)


@dataclass
class DayListEntry:
    session: SessionRecord
    consent_state: str

    @property
    def consent_label(self) -> str:
        return ConsentState.LABELS[self.consent_state]

    @property
    def appointment(self) -> Appointment:
        return self.session.appointment


def day_list(*, day: date) -> list[DayListEntry]:
    """The treatment sessions on a local day, in time order, each with its consent state."""
    start, end = local_day_bounds(day)
    sessions = (
        SessionRecord.objects.filter(appointment__start__gte=start, appointment__start__lt=end)
        .exclude(appointment__status=Appointment.Status.CANCELLED)
        .select_related(
            "appointment__room",
            "appointment__patient__user",
            "course__treatment",
            "consultant__user",
            "nurse__user",
        )
        .prefetch_related(_STANDING_CONSENTS)
        .order_by("appointment__start", "appointment__room__name")
    )
    forms = current_consent_forms()
    return [
        DayListEntry(
            session=s,
            consent_state=consent_state(
                current_form=forms.get(s.course.treatment_id),
                standing=s.course.standing_consents,  # type: ignore[attr-defined]
            ),
        )
        for s in sessions
    ]


def session_detail(*, pk: int) -> SessionRecord:
    """One session with everything its screen shows (raises DoesNotExist)."""
    return (
        SessionRecord.objects.select_related(
            "appointment__room",
            "appointment__patient__user",
            "course__treatment",
            "course__patient__user",
            "consultant__user",
            "nurse__user",
            "consent__form",
        )
        .prefetch_related(
            _STANDING_CONSENTS,
            # Who fitted or recorded each comes in the same query as the rows.
            Prefetch(
                "stockings", queryset=StockingFitting.objects.select_related("fitted_by__user")
            ),
            Prefetch(
                "adverse_events",
                queryset=AdverseEvent.objects.select_related("recorded_by__user"),
            ),
        )
        .get(pk=pk)
    )


@dataclass
class TimelineEntry:
    session: SessionRecord
    day: date
    days_since_previous: int | None
    below_minimum_gap: bool = False

    @property
    def weeks_since_previous(self) -> float | None:
        if self.days_since_previous is None:
            return None
        return round(self.days_since_previous / 7, 1)


@dataclass
class CourseReview:
    course: Course
    timeline: list[TimelineEntry]
    screening: Screening | None
    consents: list[SignedConsent]
    current_form: ConsentForm | None
    consent_state: str
    extensions: list = field(default_factory=list)
    completed_sessions: int = 0
    flags: list = field(default_factory=list)

    @property
    def open_flags(self) -> list:
        return [f for f in self.flags if f.resolved_at is None]

    @property
    def consent_label(self) -> str:
        return ConsentState.LABELS[self.consent_state]

    @property
    def adverse_events(self) -> list:
        return [e for entry in self.timeline for e in entry.session.adverse_events.all()]


def course_review(*, pk: int) -> CourseReview:
    """A course with its sessions as a timeline (gaps in weeks), consents and screening.
    The screening and the current consent form come with the course (seven queries)."""
    courses = Course.objects.select_related(
        "patient__user",
        "patient__screening__reviewed_by__user",
        "treatment",
        "consultant__user",
        "consultation",
    ).prefetch_related(
        Prefetch(
            "sessions",
            queryset=SessionRecord.objects.select_related(
                "appointment", "consultant__user", "nurse__user"
            )
            .prefetch_related("stockings", "adverse_events")
            .order_by("number", "appointment__start"),
        ),
        Prefetch(
            "consents",
            queryset=SignedConsent.objects.select_related("form", "witnessed_by__user"),
        ),
        Prefetch("extensions", queryset=_extensions()),
        Prefetch("flags", queryset=_flags()),
    )
    course = with_current_form(courses).get(pk=pk)
    timeline: list[TimelineEntry] = []
    previous_day: date | None = None
    for session in course.sessions.all():
        day = local_date(session.appointment.start)
        gap_days = None
        if previous_day is not None and session.status != SessionRecord.Status.ABANDONED:
            gap_days = (day - previous_day).days
        if session.status != SessionRecord.Status.ABANDONED:
            previous_day = day
        timeline.append(
            TimelineEntry(
                session=session,
                day=day,
                days_since_previous=gap_days,
                below_minimum_gap=gap_days is not None and gap_days < course.min_gap_days,
            )
        )
    consents = list(course.consents.all())
    current = current_form_of(course)
    try:
        screening: Screening | None = course.patient.screening
    except Screening.DoesNotExist:
        screening = None
    return CourseReview(
        course=course,
        timeline=timeline,
        screening=screening,
        consents=consents,
        current_form=current,
        consent_state=consent_state(
            current_form=current, standing=[c for c in consents if c.is_standing]
        ),
        extensions=list(course.extensions.all()),
        flags=list(course.flags.all()),  # type: ignore[attr-defined]
        completed_sessions=sum(
            1 for t in timeline if t.session.status == SessionRecord.Status.COMPLETED
        ),
    )


def _flags() -> QuerySet:
    from aftercare.models import CourseFlag

    return CourseFlag.objects.select_related("resolved_by__user").order_by("-raised_at")


def _extensions() -> QuerySet:
    from .models import CourseExtension

    return CourseExtension.objects.select_related("extended_by__user")


def consultations_awaiting_plan() -> QuerySet[Appointment]:
    """Completed consultations that no course has been planned from yet."""
    return (
        Appointment.objects.filter(
            treatment__kind=Treatment.Kind.CONSULTATION,
            status=Appointment.Status.COMPLETED,
            planned_courses__isnull=True,
        )
        .select_related("patient__user", "consultant__user", "patient__screening")
        .order_by("-start")
    )


def open_courses() -> QuerySet[Course]:
    """Planned and active courses, each with ``completed_sessions`` counted."""
    return (
        Course.objects.filter(status__in=[Course.Status.PLANNED, Course.Status.ACTIVE])
        .annotate(
            completed_sessions=Count(
                "sessions", filter=Q(sessions__status=SessionRecord.Status.COMPLETED)
            )
        )
        .select_related("patient__user", "treatment", "consultant__user")
        .order_by("patient__user__last_name")
    )


# --- The public site --------------------------------------------------------------------------

KIND_ORDER: dict[str, int] = {
    Treatment.Kind.CONSULTATION: 0,
    Treatment.Kind.TREATMENT: 1,
    Treatment.Kind.REASSESSMENT: 2,
}


@dataclass
class PriceLine:
    """One item of the price list: what it costs on the day, and any change scheduled."""

    treatment: Treatment
    minutes: int | None
    package_sessions: int | None
    current: Price | None = None
    upcoming: list[Price] = field(default_factory=list)


def price_list(*, on: date) -> list[PriceLine]:
    """The self-funded price list as it stands on a day, with scheduled changes, for the
    active catalogue. One query, however many rows."""
    rows = (
        Price.objects.filter(treatment__is_active=True)
        .filter(Q(effective_until__isnull=True) | Q(effective_until__gte=on))
        .select_related("treatment")
        .order_by("effective_from")
    )
    lines: dict[tuple[int, int | None, int | None], PriceLine] = {}
    for row in rows:
        key = (row.treatment_id, row.minutes, row.package_sessions)
        line = lines.setdefault(key, PriceLine(row.treatment, row.minutes, row.package_sessions))
        if row.in_force_on(on):
            line.current = row
        else:
            line.upcoming.append(row)
    return sorted(
        lines.values(),
        key=lambda line: (
            KIND_ORDER.get(line.treatment.kind, 9),
            line.treatment.name,
            line.package_sessions or 0,
            line.minutes or 0,
        ),
    )


def public_treatments() -> QuerySet[Treatment]:
    """Treatments with a page on the public site."""
    return Treatment.objects.filter(is_active=True, has_public_page=True).order_by("name")


def public_faqs(*, treatment: Treatment | None = None) -> QuerySet[Faq]:
    """Published FAQs: all of them, or those of one treatment."""
    faqs = Faq.objects.filter(is_published=True).select_related("treatment")
    if treatment is not None:
        faqs = faqs.filter(treatment=treatment)
    return faqs.order_by("order", "pk")


def price_changes() -> QuerySet:
    """Every version of every price, newest first, with who made it (for the admin)."""
    return Price.history.select_related("history_user", "treatment").order_by(
        "-history_date", "-history_id"
    )


PRICE_DIFF_FIELDS = (
    "amount",
    "currency",
    "includes_vat",
    "effective_from",
    "effective_until",
    "minutes",
    "package_sessions",
)


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return str(value)


def price_change_rows(records: Any) -> list[dict[str, Any]]:
    """Turn a page of historical price rows into who/when/what/old → new, with one more
    query for the versions just before them."""
    records = list(records)
    if not records:
        return []
    history = Price.history.model
    ids = {r.id for r in records}
    previous: dict[int, list[Any]] = {}
    for row in history.objects.filter(id__in=ids).order_by("id", "history_date", "history_id"):
        previous.setdefault(row.id, []).append(row)
    rows = []
    for record in records:
        versions = previous.get(record.id, [])
        before = None
        for version in versions:
            if (version.history_date, version.history_id) < (
                record.history_date,
                record.history_id,
            ):
                before = version
        changes = []
        if record.history_type == "~" and before is not None:
            for name in PRICE_DIFF_FIELDS:
                old, new = getattr(before, name), getattr(record, name)
                if old != new:
                    label = str(getattr(Price._meta.get_field(name), "verbose_name", name))
                    changes.append((label, _shown(old), _shown(new)))
        rows.append(
            {
                "record": record,
                "action": {"+": "Added", "~": "Changed", "-": "Removed"}[record.history_type],
                "who": record.history_user,
                "changes": changes,
                # Rows made by the starting data migration have no earlier version.
                "no_earlier_version": record.history_type == "~" and before is None,
            }
        )
    return rows
