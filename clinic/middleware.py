"""Two-factor authentication and idle time-out for staff, on every page."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from .security import is_staff_user, needs_second_factor

# Reachable before the second factor: logging in and out, setting it up or entering it,
# and what needs no login at all.
OPEN_PREFIXES = ("/static/", "/healthz", "/accounts/login/", "/accounts/logout/")
OPEN_NAMES = {"two_factor_verify", "two_factor_setup"}


class StaffSecurityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            if is_staff_user(user):
                # Sliding: each request starts the idle period again.
                request.session.set_expiry(settings.STAFF_SESSION_IDLE_SECONDS)
            if (
                needs_second_factor(request)
                and not user.is_verified()  # type: ignore[union-attr,attr-defined]  # set by OTPMiddleware
                and not self._open(request)
            ):
                return self._to_second_factor(request)
        return self.get_response(request)

    @staticmethod
    def _open(request: HttpRequest) -> bool:
        if request.path.startswith(OPEN_PREFIXES):
            return True
        match = getattr(request, "resolver_match", None)
        if match is None:
            from django.urls import Resolver404, resolve

            try:
                match = resolve(request.path_info)
            except Resolver404:
                return False
        return match.url_name in OPEN_NAMES

    @staticmethod
    def _to_second_factor(request: HttpRequest) -> HttpResponse:
        from django_otp import user_has_device

        name = "two_factor_verify" if user_has_device(request.user) else "two_factor_setup"
        target = f"{reverse(name)}?{urlencode({'next': request.get_full_path()})}"
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return HttpResponseRedirect(target)
