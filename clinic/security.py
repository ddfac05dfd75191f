"""Small pieces of the security controls that several places share (docs/security.md)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django_otp import user_has_device

from .models import normalise_email
from .roles import STAFF_ROLES, roles_of


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The login name django-axes counts failures against: the email, as we compare it."""
    value = (credentials or {}).get("username") or request.POST.get("username", "")
    return normalise_email(str(value))[:254]


def is_staff_user(user: Any) -> bool:
    return bool(user.is_authenticated and (roles_of(user) & STAFF_ROLES or user.is_staff))


# Set at log-in (and when a person turns two-step log-in on or off) so that each request
# need not look up their devices.
SESSION_HAS_DEVICE = "veinline_has_otp_device"


def needs_second_factor(request: HttpRequest) -> bool:
    """Staff always (when the setting is on); a patient once they have turned it on."""
    user = request.user
    if not user.is_authenticated:
        return False
    if settings.STAFF_TWO_FACTOR_REQUIRED and is_staff_user(user):
        return True
    return bool(request.session.get(SESSION_HAS_DEVICE))


def remember_devices(request: HttpRequest, user: Any) -> None:
    request.session[SESSION_HAS_DEVICE] = user_has_device(user, confirmed=True)


def client_address(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


def over_limit(*, scope: str, keys: list[str], limit: int, window: int) -> bool:
    """Count one attempt under each key; True when any key has gone over the limit.

    Keys are hashed, so no email address is kept in the cache. The window starts with
    the first attempt and is not extended by later ones.
    """
    over = False
    for key in keys:
        digest = hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()
        name = f"limit:{scope}:{digest}"
        cache.add(name, 0, timeout=window)
        try:
            count = cache.incr(name)
        except ValueError:  # expired between add and incr
            cache.set(name, 1, timeout=window)
            count = 1
        over = over or count > limit
    return over
