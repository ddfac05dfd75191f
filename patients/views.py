"""The patient's own pages, under /my/: the dashboard, their details, the screening
questionnaire, consent forms, their record (with "download my data" as a JSON file and as
a page to print) and the request to close the account.

Every view is for patients only (staff get 403, visitors the login page) and reads through
selectors scoped to the acting patient: another patient's course or consent is a 404.
Writes go through ``patients.services``; a refusal is shown on the page with a 4xx.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from aftercare.selectors import aftercare_today
from clinic.errors import DomainError
from clinic.permissions import patient_required
from treatments.models import Course, SignedConsent
from treatments.services import consent_sign as consent_sign_service

from .audit import access_log_page
from .export import SECTIONS, export_data, patient_export
from .forms import CloseAccountForm, ConsentSignForm, ProfileForm, ScreeningForm
from .models import Patient
from .selectors import (
    closure_state,
    consent_to_sign,
    patient_dashboard,
    patient_for_user,
    patient_record,
    screening_answers,
    screening_for_patient,
    signed_consent_for_patient,
)
from .services import (
    account_closure_request,
    account_closure_withdraw,
    patient_profile_update,
    retention_end,
    screening_submit,
)


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
        "aftercare": aftercare_today(patient=patient, with_reminders=False, with_past_days=False),
        "cutoff_hours": settings.PATIENT_CHANGE_CUTOFF_HOURS,
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


# --- the patient's details -------------------------------------------------------------------


@patient_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    patient = _acting_patient(request)
    status = 200
    if request.method == "POST":
        form = ProfileForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                patient_profile_update(
                    patient=patient,
                    first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"],
                    **form.profile_fields(),
                )
            except DomainError as error:
                form.add_service_error(error.code, error.message)
            else:
                messages.success(request, "Thank you. Your details are saved.")
                return redirect("patients:profile")
    else:
        form = ProfileForm(initial=ProfileForm.initial_from(patient))
    return render(
        request, "patients/profile.html", {"form": form, "patient": patient}, status=status
    )


# --- the patient's own record ------------------------------------------------------------------


@patient_required
@require_GET
def record(request: HttpRequest) -> HttpResponse:
    patient = _acting_patient(request)
    return render(request, "patients/record.html", {"record": patient_record(patient=patient)})


@patient_required
@require_GET
def access_log(request: HttpRequest) -> HttpResponse:
    """Who at the clinic opened my record, newest first, 50 to a page."""
    patient = _acting_patient(request)
    page, lines = access_log_page(patient=patient, page=request.GET.get("page"))
    return render(request, "patients/access_log.html", {"page": page, "lines": lines})


@patient_required
@require_GET
def export_json(request: HttpRequest) -> HttpResponse:
    patient = _acting_patient(request)
    # patient_export is JSON-ready: plain json.dumps, no special encoder.
    body = json.dumps(patient_export(patient), indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    filename = f"{settings.CLINIC_NAME.lower()}-my-data-{timezone.localdate():%Y-%m-%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{_safe_filename(filename)}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _safe_filename(name: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-" for c in name)


@patient_required
@require_GET
def export_print(request: HttpRequest) -> HttpResponse:
    patient = _acting_patient(request)
    response = render(
        request,
        "patients/export_print.html",
        {"data": export_data(patient), "sections": SECTIONS},
    )
    response["Cache-Control"] = "private, no-store"
    return response


# --- closing the account -----------------------------------------------------------------------


def _close_account_page(
    request: HttpRequest,
    patient: Patient,
    *,
    form: CloseAccountForm | None = None,
    refusal: str = "",
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "state": closure_state(patient=patient),
        "form": form or CloseAccountForm(),
        "refusal": refusal,
        "years": settings.CLINICAL_RECORD_RETENTION_YEARS,
        "kept_until": retention_end(patient=patient),
    }
    return render(request, "patients/close_account.html", context, status=status)


@patient_required
@require_http_methods(["GET", "POST"])
def close_account(request: HttpRequest) -> HttpResponse:
    patient = _acting_patient(request)
    if request.method == "GET":
        return _close_account_page(request, patient)
    form = CloseAccountForm(request.POST)
    if not form.is_valid():
        return _close_account_page(request, patient, form=form, status=400)
    try:
        account_closure_request(patient=patient, reason=form.cleaned_data["reason"])
    except DomainError as error:
        # Most likely a request is already open: keep what they typed, say so, change nothing.
        status = 409 if error.code in ("duplicate", "closed") else 400
        return _close_account_page(
            request, patient, form=form, refusal=error.message, status=status
        )
    messages.success(
        request,
        "We have your request to close your account. The clinic will be in touch before "
        "anything is erased; you can withdraw the request until then.",
    )
    return redirect("patients:close_account")


@patient_required
@require_POST
def close_account_withdraw(request: HttpRequest) -> HttpResponse:
    patient = _acting_patient(request)
    open_request = closure_state(patient=patient).open_request
    if open_request is None:
        return _close_account_page(
            request,
            patient,
            refusal="There is no open request to withdraw: the clinic may already have "
            "dealt with it.",
            status=409,
        )
    try:
        account_closure_withdraw(request=open_request, user=request.user)  # type: ignore[arg-type]
    except DomainError as error:
        return _close_account_page(request, patient, refusal=error.message, status=409)
    messages.success(request, "Your request is withdrawn. Your account stays open.")
    return redirect("patients:close_account")


@patient_required
@require_GET
def retention(request: HttpRequest) -> HttpResponse:
    patient = _acting_patient(request)
    return render(
        request,
        "patients/retention.html",
        {
            "years": settings.CLINICAL_RECORD_RETENTION_YEARS,
            "kept_until": retention_end(patient=patient),
        },
    )
