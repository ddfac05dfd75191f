"""Two-factor authentication and idle time-out for staff, on every page."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from .security import is_staff_user, needs_second_factor

# Reachable before the second factor: logging in and out, setting it up or entering it,
# and what needs no login at all.
OPEN_PREFIXES = ("/static/", "/healthz", "/accounts/login/", "/accounts/logout/")
OPEN_NAMES = {"two_factor_verify", "two_factor_setup"}


# The idle clock is written to the session at most once a minute, not on every request.
SEEN_KEY = "veinline_seen"
SEEN_RESOLUTION = 60


def note_seen(request: HttpRequest, now: float) -> None:
    request.session[SEEN_KEY] = now
    request.session.set_expiry(settings.STAFF_SESSION_IDLE_SECONDS + SEEN_RESOLUTION)


def idle_too_long(request: HttpRequest) -> bool:
    """Staff are signed out after STAFF_SESSION_IDLE_SECONDS without a request."""
    now = time.time()
    seen = request.session.get(SEEN_KEY)
    if isinstance(seen, int | float) and now - seen > settings.STAFF_SESSION_IDLE_SECONDS:
        return True
    if not isinstance(seen, int | float) or now - seen > SEEN_RESOLUTION:
        note_seen(request, now)
    return False


class StaffSecurityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            if is_staff_user(user) and idle_too_long(request):
                logout(request)
                return HttpResponseRedirect(
                    f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}"
                )
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
