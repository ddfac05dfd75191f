"""The patient's own pages, under /my/.

Every view is for patients only (staff get 403, visitors the login page) and reads through
selectors scoped to the acting patient: another patient's course or consent is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from aftercare.selectors import aftercare_today
from clinic.errors import DomainError
from clinic.permissions import patient_required
from treatments.models import Course, SignedConsent
from treatments.services import consent_sign as consent_sign_service

from .forms import ConsentSignForm, ScreeningForm
from .models import Patient
from .selectors import (
    consent_to_sign,
    patient_dashboard,
    patient_for_user,
    screening_answers,
    screening_for_patient,
    signed_consent_for_patient,
)
from .services import screening_submit


def _acting_patient(request: HttpRequest) -> Patient:
    patient = patient_for_user(user=request.user)
    if patient is None:
        # The Patient role without a patient record: nothing of theirs to show.
        raise PermissionDenied("There is no patient record for this account.")
    return patient


@patient_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    patient = _acting_patient(request)
    context = {
        "board": patient_dashboard(patient=patient),
        "aftercare": aftercare_today(patient=patient, with_reminders=False),
    }
    return render(request, "patients/dashboard.html", context)


@patient_required
@require_http_methods(["GET", "POST"])
def screening(request: HttpRequest) -> HttpResponse:
    patient = _acting_patient(request)
    saved = screening_for_patient(patient=patient)
    status = 200
    refusal = ""
    if request.method == "POST":
        form = ScreeningForm(request.POST)
        valid = form.is_valid()
        if valid or (saved is not None and saved.is_reviewed):
            # Once reviewed the service refuses any change and says why; let it answer.
            try:
                saved = screening_submit(patient=patient, answers=form.answers() if valid else {})
            except DomainError as error:
                refusal = error.message
                status = 409
            else:
                messages.success(request, "Thank you. Your answers are saved.")
                if saved.flags:
                    messages.info(
                        request,
                        "You answered yes to at least one question. That is fine: the "
                        "consultant will go through your answers with you.",
                    )
                return redirect("patients:dashboard")
        else:
            status = 400
    else:
        form = ScreeningForm(initial=ScreeningForm.initial_from(saved))
    return render(
        request,
        "patients/screening.html",
        {
            "form": form,
            "screening": saved,
            "answers": screening_answers(saved),
            "refusal": refusal,
        },
        status=status,
    )


@patient_required
@require_http_methods(["GET", "POST"])
def consent_sign(request: HttpRequest, course_id: int) -> HttpResponse:
    patient = _acting_patient(request)
    try:
        to_sign = consent_to_sign(patient=patient, course_id=course_id)
    except Course.DoesNotExist as exc:
        raise Http404("No such course.") from exc
    form = ConsentSignForm(consent_form=to_sign.form) if to_sign.form is not None else None
    status = 200
    if request.method == "POST":
        status = 400
        if to_sign.form is None:
            messages.error(request, "There is no consent form to sign for this treatment yet.")
        else:
            form = ConsentSignForm(request.POST, consent_form=to_sign.form)
            if form.is_valid():
                try:
                    signed = consent_sign_service(
                        course=to_sign.course,
                        form=to_sign.form,
                        typed_name=form.cleaned_data["typed_name"],
                        statements_accepted=form.statements_accepted(),
                        method=SignedConsent.Method.ONLINE,
                    )
                except DomainError as error:
                    form.add_error(None, error.message)
                else:
                    messages.success(
                        request,
                        "Thank you. Your consent is signed and saved; you can print it from "
                        "this page.",
                    )
                    return redirect("patients:consent_detail", pk=signed.pk)
    return render(
        request,
        "patients/consent_sign.html",
        {"to_sign": to_sign, "form": form, "patient": patient},
        status=status,
    )


@patient_required
@require_GET
def consent_detail(request: HttpRequest, pk: int) -> HttpResponse:
    patient = _acting_patient(request)
    try:
        consent = signed_consent_for_patient(patient=patient, pk=pk)
    except SignedConsent.DoesNotExist as exc:
        raise Http404("No such consent.") from exc
    return render(request, "patients/consent_detail.html", {"consent": consent})
