"""Consultant screens: consultations awaiting a plan, planning a course, reviewing a course
(with its extend and close actions), and reviewing a patient's medical screening.

Views stay thin: each read goes through ``treatments.selectors``, each write through one
service, and a refused write (``DomainError``) is shown as a form error with status 400.
The acting member of staff always comes from the logged-in user, never from the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bookings.models import Appointment
from clinic.errors import DomainError, PermissionRefused
from clinic.models import StaffMember
from clinic.permissions import Action, action_required
from clinic.roles import Role, has_role
from patients import services as patient_services
from patients.audit import record_viewed
from patients.models import Patient, Screening

from .. import selectors, services
from ..forms.consultant import (
    CourseCloseForm,
    CourseExtendForm,
    CoursePlanForm,
    ScreeningReviewForm,
    plannable_treatments,
)
from ..models import Course, Treatment

# --- helpers ------------------------------------------------------------------------------


def _acting_consultant(request: HttpRequest) -> StaffMember:
    """The logged-in consultant's staff record; without an active one nothing may be done."""
    staff = selectors.staff_member_for(request.user)  # type: ignore[arg-type]
    if staff is None:
        raise PermissionDenied("Your staff record is not active.")
    return staff


def _show_refusal(form: Form, error: DomainError) -> None:
    """Put a service's refusal on the form; a refusal because of the role is a 403."""
    if isinstance(error, PermissionRefused):
        raise PermissionDenied(error.message)
    form.add_error(None, error.message)


@dataclass(frozen=True)
class ScreeningBadge:
    label: str
    colour: str  # a Bootstrap colour name

    @classmethod
    def for_screening(cls, screening: Screening | None) -> ScreeningBadge:
        if screening is None:
            return cls("No screening on file", "secondary")
        if screening.is_reviewed:
            return cls("Screening reviewed", "success")
        if screening.flags:
            return cls("Screening needs review", "warning")
        return cls("Screening: no flags", "info")


def _screening_of(patient: Patient) -> Screening | None:
    """The patient's screening, read from ``select_related`` (no query), or None."""
    try:
        return patient.screening
    except Screening.DoesNotExist:
        return None


# --- the consultant's desk ------------------------------------------------------------------


@dataclass(frozen=True)
class AwaitingPlanRow:
    consultation: Appointment
    screening: Screening | None

    @property
    def badge(self) -> ScreeningBadge:
        return ScreeningBadge.for_screening(self.screening)


@require_GET
@action_required(Action.SEE_CONSULTANT_DESK)
def consultant_home(request: HttpRequest) -> HttpResponse:
    awaiting = [
        AwaitingPlanRow(consultation=a, screening=_screening_of(a.patient))
        for a in selectors.consultations_awaiting_plan()
    ]
    return render(
        request,
        "treatments/consultant/home.html",
        {"awaiting": awaiting, "open_courses": list(selectors.open_courses())},
    )


# --- planning a course --------------------------------------------------------------------


def _plan_initial(request: HttpRequest) -> dict[str, Any]:
    """Prefill from the chosen treatment (``?treatment=<id>``) or the usual one."""
    treatments = plannable_treatments()
    chosen: Treatment | None = None
    wanted = request.GET.get("treatment", "")
    if wanted.isdigit() and len(wanted) < 10:
        chosen = treatments.filter(pk=int(wanted)).first()
    if chosen is None:
        chosen = treatments.first()
    if chosen is None:
        return {}
    return {
        "treatment": chosen,
        "planned_sessions": chosen.min_planned_sessions,
        "min_gap_days": chosen.default_min_gap_days,
    }


@require_http_methods(["GET", "POST"])
@action_required(Action.PLAN_COURSE)
def course_plan(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = get_object_or_404(
        Appointment.objects.select_related(
            "patient__user", "patient__screening", "treatment", "consultant__user"
        ),
        pk=pk,
    )
    record_viewed(
        request, patient=consultation.patient_id, what="consultation", ref=f"consultation:{pk}"
    )
    prefill_url = reverse("treatments:course_plan", args=[consultation.pk])
    if request.method == "POST":
        form = CoursePlanForm(request.POST, prefill_url=prefill_url)
        if form.is_valid():
            data = form.cleaned_data
            try:
                course = services.course_plan(
                    consultation=consultation,
                    consultant=_acting_consultant(request),
                    treatment=data["treatment"],
                    planned_sessions=data["planned_sessions"],
                    legs=data["legs"],
                    treated_areas=data["treated_areas"],
                    min_gap_days=data["min_gap_days"],
                    plan_notes=data["plan_notes"].strip(),
                )
            except DomainError as error:
                _show_refusal(form, error)
            else:
                messages.success(
                    request,
                    f"The course of {course.treatment} for {course.patient} is planned: "
                    f"{course.planned_sessions} sessions.",
                )
                return redirect(course.get_absolute_url())
    else:
        form = CoursePlanForm(initial=_plan_initial(request), prefill_url=prefill_url)
    screening = _screening_of(consultation.patient)
    context = {
        "consultation": consultation,
        "patient": consultation.patient,
        "screening": screening,
        "badge": ScreeningBadge.for_screening(screening),
        "planned_from_here": list(
            consultation.planned_courses.select_related("treatment").order_by("created_at")
        ),
        "form": form,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "treatments/consultant/course_plan.html", context, status=status)


# --- reviewing a course ---------------------------------------------------------------------


def _render_review(
    request: HttpRequest,
    pk: int,
    *,
    extend_form: CourseExtendForm | None = None,
    close_form: CourseCloseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    try:
        review = selectors.course_review(pk=pk)
    except Course.DoesNotExist as exc:
        raise Http404("No such course.") from exc
    course = review.course
    record_viewed(request, patient=course.patient_id, what="course review", ref=f"course:{pk}")
    is_consultant = has_role(request.user, Role.CONSULTANT)
    context = {
        "review": review,
        "course": course,
        "patient": course.patient,
        "screening": review.screening,
        "badge": ScreeningBadge.for_screening(review.screening),
        "timeline": review.timeline,
        "min_gap_weeks": round(course.min_gap_days / 7, 1),
        "is_consultant": is_consultant,
        "can_act": is_consultant and course.is_open,
        "extend_form": extend_form
        or CourseExtendForm(initial={"to_sessions": course.planned_sessions + 1}),
        "close_form": close_form or CourseCloseForm(),
    }
    return render(request, "treatments/consultant/course_review.html", context, status=status)


@require_GET
@action_required(Action.SEE_COURSE_REVIEW)
def course_review(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_review(request, pk)


@require_POST
@action_required(Action.EXTEND_COURSE)
def course_extend(request: HttpRequest, pk: int) -> HttpResponse:
    course = get_object_or_404(Course, pk=pk)
    form = CourseExtendForm(request.POST)
    if form.is_valid():
        try:
            extension = services.course_extend(
                course=course,
                consultant=_acting_consultant(request),
                to_sessions=form.cleaned_data["to_sessions"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as error:
            _show_refusal(form, error)
        else:
            messages.success(
                request,
                f"The course now plans {extension.to_sessions} sessions "
                f"(was {extension.from_sessions}).",
            )
            return redirect(course.get_absolute_url())
    return _render_review(request, pk, extend_form=form, status=400)


@require_POST
@action_required(Action.CLOSE_COURSE)
def course_close(request: HttpRequest, pk: int) -> HttpResponse:
    course = get_object_or_404(Course, pk=pk)
    form = CourseCloseForm(request.POST)
    if form.is_valid():
        try:
            closed = services.course_close(
                course=course,
                consultant=_acting_consultant(request),
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as error:
            _show_refusal(form, error)
        else:
            messages.success(request, f"The course is now {closed.get_status_display().lower()}.")
            return redirect(course.get_absolute_url())
    return _render_review(request, pk, close_form=form, status=400)


# --- reviewing a screening ------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@action_required(Action.REVIEW_SCREENING)
def screening_review(request: HttpRequest, pk: int) -> HttpResponse:
    screening = get_object_or_404(
        Screening.objects.select_related("patient__user", "reviewed_by__user"), patient__pk=pk
    )
    record_viewed(request, patient=pk, what="screening", ref=f"screening:{screening.pk}")
    form = ScreeningReviewForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            patient_services.screening_review(
                screening=screening,
                consultant=_acting_consultant(request),
                notes=form.cleaned_data["notes"],
            )
        except DomainError as error:
            _show_refusal(form, error)
        else:
            messages.success(request, "Thank you: the screening is reviewed.")
            return redirect("treatments:screening_review", pk=pk)
    answers = [
        {"question": question, "yes": getattr(screening, field)}
        for field, question in Screening.FLAG_QUESTIONS.items()
    ]
    context = {
        "screening": screening,
        "patient": screening.patient,
        "badge": ScreeningBadge.for_screening(screening),
        "answers": answers,
        "form": form,
        "awaiting": selectors.consultations_awaiting_plan().filter(patient_id=pk).first(),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "treatments/consultant/screening_review.html", context, status=status)
