from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from .roles import Role, roles_of


def clinic(request: HttpRequest) -> dict[str, Any]:
    """The clinic's name and the visitor's roles, for the navigation bar."""
    roles = roles_of(request.user) if hasattr(request, "user") else frozenset()
    return {
        "clinic_name": settings.CLINIC_NAME,
        "is_patient": Role.PATIENT in roles,
        "is_nurse": Role.NURSE in roles,
        "is_consultant": Role.CONSULTANT in roles,
        "is_clinic_admin": Role.CLINIC_ADMIN in roles,
    }
