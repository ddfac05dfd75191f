"""Writes about the clinic's own people and places."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from .errors import DomainError
from .models import Location, StaffMember, User, normalise_email
from .roles import STAFF_ROLES, Role, forget_roles


def user_set_roles(*, user: User, roles: set[str]) -> None:
    """Make the user's role groups exactly ``roles`` (other groups are left alone)."""
    unknown = set(roles) - {r.value for r in Role}
    if unknown:
        raise DomainError(f"Unknown role: {', '.join(sorted(unknown))}.")
    role_groups = Group.objects.filter(name__in=[r.value for r in Role])
    keep = [g for g in role_groups if g.name in roles]
    missing = set(roles) - {g.name for g in keep}
    if missing:
        raise DomainError(
            f"The group for {', '.join(sorted(missing))} does not exist; run migrate."
        )
    user.groups.remove(*[g for g in role_groups if g.name not in roles])
    user.groups.add(*keep)
    forget_roles(user)


@transaction.atomic
def staff_member_save(*, staff_member: StaffMember) -> StaffMember:
    """Save a staff member and keep their group and admin-site access in step with the role.

    Clinic admins get access to the admin site (is_staff); nurses and consultants work
    in the clinic's own staff pages and do not.
    """
    if staff_member.role not in STAFF_ROLES:
        raise DomainError("A staff member must be a nurse, a consultant or a clinic admin.")
    staff_member.save()
    user = staff_member.user
    # A member of staff may also be a patient of the clinic: that role is kept.
    roles = {r for r in user.groups.values_list("name", flat=True) if r == Role.PATIENT}
    if staff_member.is_active:
        roles.add(staff_member.role)
    user_set_roles(user=user, roles=roles)
    wants_admin_site = staff_member.is_active and staff_member.role == Role.CLINIC_ADMIN
    if user.is_staff != wants_admin_site and not user.is_superuser:
        user.is_staff = wants_admin_site
        user.save(update_fields=["is_staff"])
    return staff_member


@transaction.atomic
def staff_member_create(
    *,
    email: str,
    first_name: str,
    last_name: str,
    role: str,
    password: str | None = None,
    title: str = "",
    locations: list[Location] | None = None,
) -> StaffMember:
    """Create a login and a staff member in one go (used by admins and the demo seed)."""
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=normalise_email(email),
                password=password,
                first_name=first_name,
                last_name=last_name,
            )
    except IntegrityError as exc:
        raise DomainError("An account with this email address already exists.") from exc
    staff_member = staff_member_save(
        staff_member=StaffMember(user=user, role=role, title=title),
    )
    if locations:
        staff_member.locations.set(locations)
    return staff_member
