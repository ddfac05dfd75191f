"""Account security pages: the second factor (set up, enter, manage), the sessions a
person is signed in with, changing the password, and a throttled password reset."""

from __future__ import annotations

from typing import Any, cast

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import devices_for_user, match_token
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from qsessions.models import Session

from .models import User
from .security import client_address, is_staff_user, over_limit, remember_devices
from .sessions import end_sessions

BACKUP_CODES = 10


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=16,
        help_text="The 6-digit code from your authenticator app, or one of your backup codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_token(self) -> str:
        return "".join(self.cleaned_data["token"].split())


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("home")


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The second step of logging in, for anyone with a confirmed device."""
    user = _user(request)
    if not any(devices_for_user(user, confirmed=True)):
        return redirect(f"{reverse('two_factor_setup')}?next={_safe_next(request)}")
    form = TokenForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        device = match_token(user, form.cleaned_data["token"]) if form.is_valid() else None
        if device is not None:
            otp_login(request, device)
            return HttpResponseRedirect(_safe_next(request))
        form.add_error("token", "That code is not right, or it has expired. Try the newest one.")
        status = 400
    return render(
        request,
        "accounts/two_factor_verify.html",
        {"form": form, "next": _safe_next(request)},
        status=status,
    )


def _pending_totp(user: User) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def _new_backup_codes(user: User) -> list[str]:
    device, _ = StaticDevice.objects.get_or_create(user=user, name="Backup codes")
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Add an authenticator app: scan the code (or type the key), then prove it works."""
    user = _user(request)
    device = _pending_totp(user)
    form = TokenForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid() and device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            remember_devices(request, user)
            codes = _new_backup_codes(user)
            return render(
                request,
                "accounts/two_factor_backup_codes.html",
                {"codes": codes, "next": _safe_next(request)},
            )
        if not form.errors:
            form.add_error("token", "That code did not match. Check the time on your phone.")
        status = 400
    qr = segno.make(device.config_url, error="m")
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            "qr_svg": qr.svg_inline(scale=5, dark="#000", light="#fff", omitsize=True),
            "secret": _base32_key(device),
            "next": _safe_next(request),
            "required": is_staff_user(user) and settings.STAFF_TWO_FACTOR_REQUIRED,
        },
        status=status,
    )


def _base32_key(device: TOTPDevice) -> str:
    from base64 import b32encode

    key = b32encode(device.bin_key).decode()
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_manage(request: HttpRequest) -> HttpResponse:
    """See whether the second factor is on; new backup codes; patients may turn it off."""
    user = _user(request)
    confirmed = [d for d in devices_for_user(user, confirmed=True) if isinstance(d, TOTPDevice)]
    required = is_staff_user(user) and settings.STAFF_TWO_FACTOR_REQUIRED
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "codes" and confirmed:
            codes = _new_backup_codes(user)
            return render(
                request,
                "accounts/two_factor_backup_codes.html",
                {"codes": codes, "next": reverse("two_factor_manage")},
            )
        if action == "turn_off" and confirmed and not required:
            TOTPDevice.objects.filter(user=user).delete()
            StaticDevice.objects.filter(user=user).delete()
            remember_devices(request, user)
            messages.success(request, "Two-step log-in is off.")
            return redirect("two_factor_manage")
        return render(
            request,
            "accounts/two_factor_manage.html",
            {"enabled": bool(confirmed), "required": required, "refused": True},
            status=400,
        )
    return render(
        request,
        "accounts/two_factor_manage.html",
        {"enabled": bool(confirmed), "required": required},
    )


# --- sessions ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def sessions_list(request: HttpRequest) -> HttpResponse:
    rows = (
        Session.objects.filter(user=request.user, expire_date__gt=timezone.now())
        .only("session_key", "ip", "user_agent", "created_at", "updated_at", "expire_date")
        .order_by("-updated_at")
    )
    return render(
        request,
        "accounts/sessions.html",
        {"rows": rows, "current": request.session.session_key},
    )


@login_required
@require_POST
def sessions_end(request: HttpRequest) -> HttpResponse:
    """End one of my other sessions, or all of them (``key=others``)."""
    key = request.POST.get("key", "")
    if key != "others" and not key.isalnum():
        # Not a session key (PostgreSQL would refuse a NUL byte in the query).
        messages.error(request, "That session has already ended.")
        return redirect("sessions_list")
    mine = Session.objects.filter(user=request.user).exclude(
        session_key=request.session.session_key
    )
    if key == "others":
        ended = end_sessions(mine)
        messages.success(request, f"Signed out everywhere else ({ended}).")
    else:
        if not end_sessions(mine.filter(session_key=key)):
            messages.error(request, "That session has already ended.")
            return redirect("sessions_list")
        messages.success(request, "That session has ended.")
    return redirect("sessions_list")


# --- passwords -------------------------------------------------------------------------------


class PasswordChangeView(auth_views.PasswordChangeView):
    """Changing the password ends every other session of this person."""

    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)  # keeps this session (update_session_auth_hash)
        end_sessions(
            Session.objects.filter(user=self.request.user).exclude(
                session_key=self.request.session.session_key
            )
        )
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """At most PASSWORD_RESET_LIMIT requests per address and per email in the window."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        email = str(request.POST.get("email", "")).strip().lower()[:254]
        if over_limit(
            scope="password-reset",
            keys=[f"ip:{client_address(request)}", f"email:{email}"],
            limit=settings.PASSWORD_RESET_LIMIT,
            window=settings.PASSWORD_RESET_WINDOW_SECONDS,
        ):
            minutes = settings.PASSWORD_RESET_WINDOW_SECONDS // 60
            return render(
                request,
                "registration/too_many_requests.html",
                {"minutes": minutes},
                status=429,
            )
        return super().post(request, *args, **kwargs)
