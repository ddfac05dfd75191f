"""Reads about patients. Every read takes the acting user and scopes by it."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from clinic.models import User

from .models import Patient


def patient_for_user(*, user: User | AnonymousUser) -> Patient | None:
    """The acting user's own patient profile, or None for staff and visitors."""
    if not user.is_authenticated:
        return None
    return Patient.objects.select_related("user").filter(user=user).first()
