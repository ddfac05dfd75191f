from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from patients.services import patient_sign_up

from .errors import DomainError
from .forms import SignUpForm
from .health import check_broker, check_database


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = check_database()
    broker = check_broker()
    healthy = database.ok and broker.ok
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": "ok" if database.ok else f"error: {database.detail}",
        "broker": "ok" if broker.ok else f"error: {broker.detail}",
    }
    return JsonResponse(body, status=200 if healthy else 503)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            patient = patient_sign_up(
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                password=data["password1"],
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            login(request, patient.user, backend="clinic.backends.ModelBackendWithRoles")
            messages.success(request, f"Welcome, {patient.user.first_name}. Your account is ready.")
            return redirect("home")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/signup.html", {"form": form}, status=status)
