"""Closing a flag raised by a warning symptom.

Rules: a nurse or a consultant closes a flag, once, saying what was done (the resolution
is required); the flag keeps who closed it and when, and its history records the change.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from clinic.errors import DomainError, PermissionRefused
from clinic.models import StaffMember

from .models import CourseFlag

RESOLVERS = frozenset({StaffMember.StaffRole.NURSE, StaffMember.StaffRole.CONSULTANT})
RESOLUTION_LIMIT = 2000


@transaction.atomic
def flag_resolve(*, flag_id: int, by: StaffMember, resolution: str) -> CourseFlag:
    """Close an open flag with what was done about it."""
    if by.role not in RESOLVERS or not by.is_active:
        raise PermissionRefused("Only a nurse or a consultant can close a flag.")
    text = resolution.strip()
    if not text:
        raise DomainError("Say what was done, for example who called the patient and the advice.")
    if len(text) > RESOLUTION_LIMIT:
        raise DomainError(f"Keep it to {RESOLUTION_LIMIT} characters or fewer.")
    flag = CourseFlag.objects.select_for_update().get(pk=flag_id)
    if flag.resolved_at is not None:
        raise DomainError("Someone has already closed this flag.", code="conflict")
    flag.resolved_at = timezone.now()
    flag.resolved_by = by
    flag.resolution = text
    flag.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    return flag
