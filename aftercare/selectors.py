"""Reads of the aftercare pages, each in a fixed number of queries.

A patient's reads take the patient and never reach anyone else's plan; the nurses' list
reads every plan running on a day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta

from django.db.models import Count, F, FilteredRelation, Prefetch, Q
from django.utils import timezone

from patients.models import Patient
from treatments.models import Leg

from .models import WARNING_SYMPTOMS, AftercarePlan, CheckIn, CourseFlag, ReminderPreference

# A symptom that means 999 rather than the clinic.
EMERGENCY_SYMPTOMS = frozenset({"chest_pain_breathless"})
DEFAULT_WALK_TIME = time(9, 0)
# The dashboard's plan brings today's check-in under this name (see ``aftercare_today``).
TODAY_CHECK_IN = "today_check_in"


def _legs_text(legs: list[str]) -> str:
    sides = [side for side in (Leg.LEFT, Leg.RIGHT) if side in legs]
    if len(sides) == 2:
        return "both legs"
    if sides:
        return Leg(sides[0]).label.lower()
    return "the treated leg"


def _clinic_phone(plan: AftercarePlan) -> str:
    return plan.session.appointment.room.location.phone


# --- the patient's "today" ---------------------------------------------------------------


@dataclass
class DayLine:
    """One day of a plan as the patient sees it."""

    day: date
    number: int
    check_in: CheckIn | None
    stockings_due: bool

    @property
    def warning_labels(self) -> list[str]:
        if self.check_in is None:
            return []
        return [WARNING_SYMPTOMS.get(s, s) for s in self.check_in.warning_symptoms]


@dataclass
class AftercareToday:
    """The plan running today for a patient, with what they have ticked."""

    plan: AftercarePlan
    today: date
    check_in: CheckIn | None
    past_days: list[DayLine]
    walk_time: time
    walk_reminders: bool
    clinic_phone: str
    symptoms: list[tuple[str, str]] = field(default_factory=lambda: list(WARNING_SYMPTOMS.items()))

    @property
    def day_number(self) -> int:
        return self.plan.day_number(self.today)

    @property
    def stocking_days(self) -> int:
        return self.plan.day_number(self.plan.stockings_until)

    @property
    def stockings_on(self) -> bool:
        return self.today <= self.plan.stockings_until

    @property
    def last_stocking_day(self) -> bool:
        return self.today == self.plan.stockings_until

    @property
    def legs_text(self) -> str:
        return _legs_text(self.plan.stocking_legs)

    @property
    def walked(self) -> bool:
        return bool(self.check_in and self.check_in.walked)

    @property
    def stockings_ticked(self) -> bool:
        return bool(self.check_in and self.check_in.stockings_on)

    @property
    def walk_days_left(self) -> int:
        return (self.plan.walk_until - self.today).days

    @property
    def reported_symptoms(self) -> list[str]:
        return list(self.check_in.warning_symptoms) if self.check_in else []

    @property
    def reported_labels(self) -> list[str]:
        return [WARNING_SYMPTOMS.get(s, s) for s in self.reported_symptoms]

    @property
    def urgent(self) -> bool:
        """A warning symptom was reported today: the page says what to do now."""
        return bool(self.reported_symptoms)

    @property
    def emergency(self) -> bool:
        return bool(EMERGENCY_SYMPTOMS & set(self.reported_symptoms))


def aftercare_today(
    *,
    patient: Patient,
    today: date | None = None,
    with_reminders: bool = True,
    with_past_days: bool = True,
) -> AftercareToday | None:
    """The patient's plan running today (the latest, if two overlap), its check-ins and
    (``with_reminders``) the walk reminder settings: at most three queries, however long
    the plan has run; one when no plan runs.

    Without ``with_past_days`` (the dashboard's card, which shows today only) today's
    check-in comes in the plan's own query and ``past_days`` is empty: one query."""
    today = today or timezone.localdate()
    plans = (
        AftercarePlan.objects.filter(patient=patient, starts_on__lte=today, walk_until__gte=today)
        .select_related("course__treatment", "session__appointment__room__location")
        .order_by("-starts_on")
    )
    plan: AftercarePlan | None
    if with_past_days:
        plan = plans.prefetch_related(
            Prefetch(
                "check_ins",
                queryset=CheckIn.objects.filter(day__lte=today).order_by("day"),
                to_attr="days_so_far",
            )
        ).first()
    else:
        # One check-in a day (a unique constraint), so the join adds at most one row.
        today_only = FilteredRelation("check_ins", condition=Q(check_ins__day=today))
        plan = plans.annotate(**{TODAY_CHECK_IN: today_only}).select_related(TODAY_CHECK_IN).first()
    if plan is None:
        return None
    if with_past_days:
        by_day = {c.day: c for c in plan.days_so_far}  # type: ignore[attr-defined]
    else:
        # Django sets the attribute only when the join found a row.
        found = getattr(plan, TODAY_CHECK_IN, None)
        by_day = {today: found} if found is not None else {}
    past = []
    day = today - timedelta(days=1)
    while with_past_days and day >= plan.starts_on:
        past.append(
            DayLine(
                day=day,
                number=plan.day_number(day),
                check_in=by_day.get(day),
                stockings_due=day <= plan.stockings_until,
            )
        )
        day -= timedelta(days=1)
    preference = (
        ReminderPreference.objects.filter(patient=patient).first() if with_reminders else None
    )
    return AftercareToday(
        plan=plan,
        today=today,
        check_in=by_day.get(today),
        past_days=past,
        walk_time=preference.walk_time if preference else DEFAULT_WALK_TIME,
        walk_reminders=preference.walk_reminders if preference else True,
        clinic_phone=_clinic_phone(plan),
    )


def reminder_preference(*, patient: Patient) -> ReminderPreference:
    """The patient's reminder settings as they stand (the defaults if never changed),
    without saving anything."""
    return ReminderPreference.objects.filter(patient=patient).first() or ReminderPreference(
        patient=patient
    )


# --- the nurses' list ---------------------------------------------------------------------


@dataclass
class AftercareLine:
    """One patient in aftercare today, with how well they are keeping to the plan."""

    plan: AftercarePlan
    today: date
    walked_days: int
    stocking_days_ticked: int
    walked_today: bool
    open_flags: list[CourseFlag]

    @property
    def patient(self) -> Patient:
        return self.plan.patient

    @property
    def day_number(self) -> int:
        return self.plan.day_number(self.today)

    @property
    def days_so_far(self) -> int:
        return self.day_number

    @property
    def stocking_days_so_far(self) -> int:
        return self.plan.day_number(min(self.today, self.plan.stockings_until))

    @property
    def stockings_running(self) -> bool:
        return self.today <= self.plan.stockings_until

    @property
    def stocking_days(self) -> int:
        return self.plan.day_number(self.plan.stockings_until)

    @property
    def legs_text(self) -> str:
        return _legs_text(self.plan.stocking_legs)


def aftercare_list(*, today: date | None = None) -> list[AftercareLine]:
    """Every patient with a plan running today (their latest plan), with days walked and
    stockings ticked so far and the course's open flags; patients with open flags first.
    Two queries, however many patients."""
    today = today or timezone.localdate()
    open_flags = CourseFlag.objects.filter(resolved_at__isnull=True).select_related("check_in")
    plans = (
        AftercarePlan.objects.filter(starts_on__lte=today, walk_until__gte=today)
        .select_related("patient__user", "course__treatment", "session__appointment")
        .annotate(
            walked_days=Count(
                "check_ins",
                filter=Q(check_ins__walked=True, check_ins__day__lte=today),
            ),
            stocking_days_ticked=Count(
                "check_ins",
                filter=Q(check_ins__stockings_on=True, check_ins__day__lte=today)
                & Q(check_ins__day__lte=F("stockings_until")),
            ),
            walked_today_count=Count(
                "check_ins", filter=Q(check_ins__walked=True, check_ins__day=today)
            ),
        )
        .prefetch_related(Prefetch("course__flags", queryset=open_flags, to_attr="open_flags"))
        .order_by("patient_id", "-starts_on")
    )
    lines: list[AftercareLine] = []
    seen: set[int] = set()
    for plan in plans:
        if plan.patient_id in seen:
            continue
        seen.add(plan.patient_id)
        lines.append(
            AftercareLine(
                plan=plan,
                today=today,
                walked_days=plan.walked_days,  # type: ignore[attr-defined]
                stocking_days_ticked=plan.stocking_days_ticked,  # type: ignore[attr-defined]
                walked_today=plan.walked_today_count > 0,  # type: ignore[attr-defined]
                open_flags=plan.course.open_flags,  # type: ignore[attr-defined]
            )
        )
    lines.sort(
        key=lambda line: (
            not line.open_flags,
            line.patient.user.last_name.lower(),
            line.patient.user.first_name.lower(),
        )
    )
    return lines
