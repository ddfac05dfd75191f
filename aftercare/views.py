"""Pages reached from reminders without logging in: one-tap check-in and unsubscribe.

Both links are signed (django.core.signing): a check-in link is good for one patient, one
day and one action, for two days; an unsubscribe link for one patient and one kind. A GET
only shows what the button will do: mail scanners open links, and must not tick anything.
"""

from __future__ import annotations

from datetime import date

from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from clinic.errors import DomainError
from patients.models import Patient

from . import services
from .models import Reminder

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
