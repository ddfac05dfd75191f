"""Writes about patients."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from clinic.errors import DomainError
from clinic.models import User, normalise_email
from clinic.roles import Role
from clinic.services import user_set_roles

from .models import Patient


@transaction.atomic
def patient_sign_up(*, email: str, first_name: str, last_name: str, password: str) -> Patient:
    """Open an account for a new patient: a login, the Patient role and an empty profile.

    The email address is the login and must not already have an account (compared
    without regard to case).
    """
    email = normalise_email(email)
    if User.objects.filter(email__iexact=email).exists():
        raise DomainError("An account with this email address already exists.", code="duplicate")
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email,
                password=password,
                first_name=first_name.strip(),
                last_name=last_name.strip(),
            )
    except IntegrityError as exc:  # two sign-ups with one address at the same moment
        raise DomainError(
            "An account with this email address already exists.", code="duplicate"
        ) from exc
    user_set_roles(user=user, roles={Role.PATIENT})
    return Patient.objects.create(user=user)
