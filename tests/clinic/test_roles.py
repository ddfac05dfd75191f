"""Role groups exist with sensible permissions, and staff roles stay in step with them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.http import HttpResponse
from django.test import RequestFactory

from clinic.errors import DomainError
from clinic.models import StaffMember
from clinic.permissions import consultant_required, staff_required
from clinic.roles import Role, roles_of
from clinic.services import staff_member_create, staff_member_save

from ..factories import NurseFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def perms(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def test_the_four_role_groups_exist():
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


def test_permissions_fit_each_role():
    assert perms("Patient") == set()
    assert "patients.view_patient" in perms("Nurse")
    assert "clinic.change_room" not in perms("Nurse")
    assert "clinic.change_staffmember" not in perms("Consultant")
    admin = perms("Clinic admin")
    assert {"clinic.add_room", "clinic.change_location", "clinic.add_staffmember"} <= admin
    # Nobody deletes people, places or records: they are deactivated or kept. Admins may
    # remove the diary's settings (hours, closures, patterns, exceptions), FAQs, and a price
    # scheduled by mistake (the admin and treatments.services.price_delete allow only one
    # that was never in force nor quoted).
    diary_settings = {"openinghours", "closure", "workingpattern", "staffexception"}
    deletes = {p for g in Role for p in perms(g) if p.split(".")[1].startswith("delete_")}
    assert deletes == {f"clinic.delete_{m}" for m in diary_settings} | {
        "treatments.delete_faq",
        "treatments.delete_price",
    }
    assert all(p in perms("Clinic admin") for p in deletes)


def test_staff_member_create_puts_the_user_in_the_role_group():
    staff = staff_member_create(
        email="New.Nurse@Example.org", first_name="Ada", last_name="Lane", role=Role.NURSE
    )
    assert staff.user.email == "new.nurse@example.org"
    assert roles_of(staff.user) == {Role.NURSE}
    assert not staff.user.is_staff  # nurses work in the clinic's pages, not the admin site


def test_changing_the_role_moves_the_group_and_admin_access():
    staff = NurseFactory()
    staff.role = StaffMember.StaffRole.CLINIC_ADMIN
    staff_member_save(staff_member=staff)
    staff.user.refresh_from_db()
    assert roles_of(staff.user) == {Role.CLINIC_ADMIN}
    assert staff.user.is_staff


def test_a_deactivated_member_of_staff_loses_the_role_but_keeps_being_a_patient():
    staff = NurseFactory()
    staff.user.groups.add(Group.objects.get(name=Role.PATIENT))
    staff.is_active = False
    staff_member_save(staff_member=staff)
    assert roles_of(staff.user) == {Role.PATIENT}


def test_staff_member_create_refuses_a_duplicate_email():
    UserFactory(email="taken@example.org")
    with pytest.raises(DomainError, match="already exists"):
        staff_member_create(
            email="TAKEN@example.org", first_name="A", last_name="B", role=Role.NURSE
        )


def test_staff_member_save_refuses_the_patient_role():
    staff = NurseFactory.build(user=UserFactory(), role=Role.PATIENT)
    with pytest.raises(DomainError):
        staff_member_save(staff_member=staff)


def _view(request):
    return HttpResponse("ok")


@pytest.mark.parametrize(
    ("decorator", "who", "expected"),
    [
        (staff_required, "nurse", 200),
        (staff_required, "patient", 403),
        (staff_required, "anonymous", 302),
        (consultant_required, "nurse", 403),
        (consultant_required, "consultant", 200),
    ],
)
def test_role_decorators(decorator, who, expected):
    from django.contrib.auth.models import AnonymousUser
    from django.core.exceptions import PermissionDenied

    from ..factories import ConsultantFactory

    users = {
        "nurse": lambda: NurseFactory().user,
        "consultant": lambda: ConsultantFactory().user,
        "patient": lambda: PatientFactory().user,
        "anonymous": AnonymousUser,
    }
    request = RequestFactory().get("/somewhere/")
    request.user = users[who]()
    view = decorator(_view)
    try:
        status = view(request).status_code
    except PermissionDenied:
        status = 403
    assert status == expected
