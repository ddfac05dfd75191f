"""The four roles of the clinic and how to ask a user for theirs.

A role is a Django group (created by migration ``0002_role_groups``); a user may hold
more than one (a consultant who is also a clinic admin). Superusers count as clinic
admins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from .models import User


class Role(models.TextChoices):
    PATIENT = "Patient", "Patient"
    NURSE = "Nurse", "Nurse"
    CONSULTANT = "Consultant", "Consultant"
    CLINIC_ADMIN = "Clinic admin", "Clinic admin"


STAFF_ROLES = frozenset({Role.NURSE, Role.CONSULTANT, Role.CLINIC_ADMIN})

_CACHE_ATTR = "_veinline_roles"


def roles_of(user: User | AnonymousUser) -> frozenset[str]:
    """The role names a user holds, read once per user object (one query, or none when
    the user was read by the log-in backend with its roles)."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = remember_roles(user, set(user.groups.values_list("name", flat=True)))
    return cached


def remember_roles(user: User, group_names: set[str]) -> frozenset[str]:
    """Remember on ``user`` the roles of these group names (as read with the user by
    clinic/backends.py, or by ``roles_of``); superusers count as clinic admins."""
    names = set(group_names)
    if user.is_superuser:
        names.add(Role.CLINIC_ADMIN)
    roles = frozenset(names)
    setattr(user, _CACHE_ATTR, roles)
    return roles


def has_role(user: User | AnonymousUser, *roles: str) -> bool:
    return bool(roles_of(user) & set(roles))


def forget_roles(user: object) -> None:
    """Drop the cached roles after the user's groups changed."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)
