"""Aftercare pages.

- The patient's "today" (``/aftercare/``, also shown on ``/my/``): the day of the plan,
  ticks for the walk and the stockings, side effects and what to do at once after a
  warning symptom; and their reminder preferences.
- The nurses' list of patients in aftercare, with adherence and open flags to close.
- Pages reached from reminders without logging in: one-tap check-in and unsubscribe.
  Both links are signed (django.core.signing): a check-in link is good for one patient,
  one day and one action, for two days; an unsubscribe link for one patient and one kind.
  A GET only shows what the button will do: mail scanners open links, and must not tick
  anything.

Each view calls one service (writes) or one selector (reads); a refusal is shown on the
page with 400 (409 when someone else got there first), never a 500.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.errors import DomainError, PermissionRefused
from clinic.permissions import Action, action_required, patient_required
from patients.models import Patient
from patients.selectors import patient_for_user
from treatments.selectors import staff_member_for

from . import flags, preferences, selectors, services
from .forms import (
    FlagResolveForm,
    ResubscribeForm,
    SideEffectsForm,
    SmsKindsForm,
    TickForm,
    WalkReminderForm,
)
from .models import CourseFlag, Reminder

TODAY_TEMPLATE = "aftercare/today.html"
PREFERENCES_TEMPLATE = "aftercare/preferences.html"
STAFF_LIST_TEMPLATE = "aftercare/staff_list.html"

ACTION_LABELS = {
    "walked": "I walked for at least {minutes} minutes on {day}",
    "stockings_on": "I wore my stockings on {day}",
}


@require_http_methods(["GET", "POST"])
def check_in_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        data = services.check_in_token_read(token)
    except DomainError as error:
        return render(request, "aftercare/link_problem.html", {"error": error.message}, status=400)
    patient = Patient.objects.select_related("user").filter(pk=data["p"]).first()
    if patient is None:
        raise Http404
    day = date.fromisoformat(data["d"])
    action = data["a"]
    plan = services.plan_for_day(patient=patient, day=day)
    minutes = plan.daily_walk_minutes if plan else 20
    context = {
        "patient": patient,
        "day": day,
        "label": ACTION_LABELS[action].format(minutes=minutes, day=f"{day:%A %-d %B}"),
        "done": False,
    }
    if request.method == "POST":
        try:
            if action == "walked":
                services.check_in_record(patient=patient, day=day, walked=True)
            else:
                services.check_in_record(patient=patient, day=day, stockings_on=True)
        except DomainError as error:
            context["error"] = error.message
            return render(request, "aftercare/check_in_link.html", context, status=400)
        context["done"] = True
    return render(request, "aftercare/check_in_link.html", context)


@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        data = signing.loads(token, salt="aftercare.unsubscribe")
    except signing.BadSignature:
        return render(
            request,
            "aftercare/link_problem.html",
            {"error": "This link is not valid."},
            status=400,
        )
    patient = Patient.objects.filter(pk=data.get("p")).first()
    kind = data.get("k")
    if patient is None or kind not in Reminder.Kind.values:
        raise Http404
    context = {"kind_label": Reminder.Kind(kind).label, "done": False}
    if request.method == "POST":
        services.reminder_unsubscribe(patient=patient, kind=kind)
        context["done"] = True
    return render(request, "aftercare/unsubscribe.html", context)


# --- the patient's aftercare today ---------------------------------------------------------


def _acting_patient(request: HttpRequest) -> Patient:
    patient = patient_for_user(user=request.user)
    if patient is None:
        raise PermissionDenied("There is no patient record for this account.")
    return patient


def _first_error(form: Form) -> str:
    for errors in form.errors.values():
        if errors:
            return str(errors[0])
    return "Something in the form needs another look."


def _render_today(
    request: HttpRequest,
    patient: Patient,
    *,
    form: SideEffectsForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    care = selectors.aftercare_today(patient=patient)
    if form is None:
        form = SideEffectsForm(
            initial=SideEffectsForm.initial_from(care.check_in if care else None)
        )
    return render(
        request, TODAY_TEMPLATE, {"care": care, "form": form, "error": error}, status=status
    )


@require_GET
@patient_required
def today(request: HttpRequest) -> HttpResponse:
    return _render_today(request, _acting_patient(request))


TICKED_MESSAGES = {
    ("walked", True): "Well done: the walk is ticked off for {day}.",
    ("walked", False): "The walk for {day} is no longer ticked.",
    ("stockings_on", True): "Thank you: your stockings are ticked for {day}.",
    ("stockings_on", False): "The stockings for {day} are no longer ticked.",
}


@require_POST
@patient_required
def tick(request: HttpRequest) -> HttpResponse:
    """Tick (or untick) the walk or the stockings for today or an earlier day of the plan."""
    patient = _acting_patient(request)
    form = TickForm(request.POST)
    if not form.is_valid():
        return _render_today(request, patient, error=_first_error(form), status=400)
    what = form.cleaned_data["what"]
    ticked = form.ticked()
    today_ = timezone.localdate()
    day: date = form.cleaned_data["day"] or today_
    try:
        if what == "walked":
            services.check_in_record(patient=patient, day=day, walked=ticked)
        else:
            services.check_in_record(patient=patient, day=day, stockings_on=ticked)
    except DomainError as error:
        return _render_today(request, patient, error=error.message, status=400)
    when = "today" if day == today_ else f"{day:%A} {day.day} {day:%B}"
    messages.success(request, TICKED_MESSAGES[what, ticked].format(day=when))
    if form.cleaned_data.get("back") == "dashboard":
        return redirect("patients:dashboard")
    return redirect("aftercare:today")


@require_POST
@patient_required
def side_effects(request: HttpRequest) -> HttpResponse:
    """How the legs are today. A warning symptom flags the course (in the service) and the
    page then opens on what to do now."""
    patient = _acting_patient(request)
    form = SideEffectsForm(request.POST)
    if not form.is_valid():
        return _render_today(request, patient, form=form, status=400)
    data = form.cleaned_data
    try:
        check_in = services.check_in_record(
            patient=patient,
            day=timezone.localdate(),
            bruising=data["bruising"],
            redness=data["redness"],
            swelling=data["swelling"],
            pain_score=data["pain_score"],
            warning_symptoms=data["warning_symptoms"],
            notes=data["notes"].strip(),
        )
    except DomainError as error:
        return _render_today(request, patient, form=form, error=error.message, status=400)
    if check_in.warning_symptoms:
        return redirect(reverse("aftercare:today") + "#what-to-do-now")
    messages.success(request, "Thank you: we have saved how your legs are today.")
    return redirect("aftercare:today")


# --- reminder preferences ----------------------------------------------------------------


def _render_preferences(
    request: HttpRequest,
    patient: Patient,
    *,
    walk_form: WalkReminderForm | None = None,
    sms_form: SmsKindsForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    preference = selectors.reminder_preference(patient=patient)
    if walk_form is None:
        walk_form = WalkReminderForm(initial=WalkReminderForm.initial_from(preference))
    if sms_form is None:
        sms_form = SmsKindsForm(initial={"kinds": list(preference.sms_kinds)})
    context: dict[str, Any] = {
        "preference": preference,
        "walk_form": walk_form,
        "sms_form": sms_form,
        "has_phone": bool(patient.phone.strip()),
        "unsubscribed": [
            (kind, Reminder.Kind(kind).label)
            for kind in preference.unsubscribed_kinds
            if kind in Reminder.Kind.values
        ],
        "error": error,
    }
    return render(request, PREFERENCES_TEMPLATE, context, status=status)


@require_http_methods(["GET", "POST"])
@patient_required
def reminder_preferences(request: HttpRequest) -> HttpResponse:
    """The walk reminder: its local time, on or off."""
    patient = _acting_patient(request)
    if request.method != "POST":
        return _render_preferences(request, patient)
    form = WalkReminderForm(request.POST)
    if not form.is_valid():
        return _render_preferences(request, patient, walk_form=form, status=400)
    try:
        preferences.walk_reminders_set(
            patient=patient,
            walk_time=form.cleaned_data["walk_time"],
            enabled=form.cleaned_data["walk_reminders"],
        )
    except DomainError as error:
        form.add_error(None, error.message)
        return _render_preferences(request, patient, walk_form=form, status=400)
    if form.cleaned_data["walk_reminders"]:
        messages.success(
            request,
            f"Saved: we will remind you to walk at {form.cleaned_data['walk_time']:%H:%M}.",
        )
    else:
        messages.success(request, "Saved: we will not send you daily walk reminders.")
    return redirect("aftercare:preferences")


@require_POST
@patient_required
def sms_preferences(request: HttpRequest) -> HttpResponse:
    """Which kinds of message also come as a text."""
    patient = _acting_patient(request)
    form = SmsKindsForm(request.POST)
    if not form.is_valid():
        return _render_preferences(request, patient, sms_form=form, status=400)
    try:
        preferences.sms_kinds_set(patient=patient, kinds=form.cleaned_data["kinds"])
    except DomainError as error:
        form.add_error(None, error.message)
        return _render_preferences(request, patient, sms_form=form, status=400)
    messages.success(request, "Saved: your text message choices are updated.")
    return redirect("aftercare:preferences")


@require_POST
@patient_required
def resubscribe(request: HttpRequest) -> HttpResponse:
    """Start a kind of message again after unsubscribing from it."""
    patient = _acting_patient(request)
    form = ResubscribeForm(request.POST)
    if not form.is_valid():
        return _render_preferences(request, patient, error=_first_error(form), status=400)
    kind = form.cleaned_data["kind"]
    try:
        preferences.reminder_resubscribe(patient=patient, kind=kind)
    except DomainError as error:
        return _render_preferences(request, patient, error=error.message, status=400)
    messages.success(request, f"We will send you “{Reminder.Kind(kind).label}” messages again.")
    return redirect("aftercare:preferences")


# --- the nurses' aftercare list ------------------------------------------------------------


def _render_staff_list(
    request: HttpRequest,
    *,
    failed_flag: int | None = None,
    failed_form: FlagResolveForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "error": error,
        "lines": selectors.aftercare_list(),
        "today": timezone.localdate(),
        "failed_flag": failed_flag,
        "failed_form": failed_form,
    }
    return render(request, STAFF_LIST_TEMPLATE, context, status=status)


@require_GET
@action_required(Action.SEE_AFTERCARE_LIST)
def staff_list(request: HttpRequest) -> HttpResponse:
    return _render_staff_list(request)


@require_POST
@action_required(Action.RESOLVE_FLAG)
def flag_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """Close a flag, saying what was done."""
    staff = staff_member_for(request.user)  # type: ignore[arg-type]
    if staff is None:
        raise PermissionDenied("Your staff record is not active.")
    form = FlagResolveForm(request.POST)
    if not form.is_valid():
        if not CourseFlag.objects.filter(pk=pk).exists():
            raise Http404("No such flag.")
        return _render_staff_list(request, failed_flag=pk, failed_form=form, status=400)
    try:
        flag = flags.flag_resolve(flag_id=pk, by=staff, resolution=form.cleaned_data["resolution"])
    except CourseFlag.DoesNotExist as exc:
        raise Http404("No such flag.") from exc
    except PermissionRefused as error:
        raise PermissionDenied(error.message) from error
    except DomainError as error:
        status = 409 if error.code == "conflict" else 400
        return _render_staff_list(request, error=error.message, status=status)
    messages.success(request, f"The flag on {flag.course.patient} is closed.")
    return redirect("aftercare:staff_list")
