"""Who may open which page: one decorator per role family.

Anonymous visitors are sent to the login page; a signed-in user without the role gets
403. Object-level scoping (a patient sees only their own records) lives in each app's
selectors, which take the acting user.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from .roles import STAFF_ROLES, Role, has_role

View = Callable[..., HttpResponse]


def role_required(*roles: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_role(request.user, *roles):
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator


patient_required = role_required(Role.PATIENT)
staff_required = role_required(*STAFF_ROLES)
nurse_or_consultant_required = role_required(Role.NURSE, Role.CONSULTANT)
consultant_required = role_required(Role.CONSULTANT)
clinic_admin_required = role_required(Role.CLINIC_ADMIN)
