"""The log-in backend reads the user's roles with the user (clinic/backends.py): one
query for both, the same roles ``roles_of`` would read, and nothing kept between requests."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Group

from clinic.backends import ModelBackendWithRoles
from clinic.models import User
from clinic.roles import Role, roles_of
from clinic.services import user_set_roles

from ..factories import ClinicAdminFactory, ConsultantFactory, NurseFactory, PatientFactory

pytestmark = pytest.mark.django_db


def read_fresh(user_id):
    return ModelBackendWithRoles().get_user(user_id)


@pytest.mark.parametrize(
    "factory, expected",
    [
        (PatientFactory, {Role.PATIENT}),
        (NurseFactory, {Role.NURSE}),
        (ConsultantFactory, {Role.CONSULTANT}),
        (ClinicAdminFactory, {Role.CLINIC_ADMIN}),
    ],
)
def test_the_user_comes_with_their_roles_in_one_query(
    factory, expected, django_assert_num_queries
) -> None:
    user = factory().user
    with django_assert_num_queries(1):
        read = read_fresh(user.pk)
        assert roles_of(read) == expected
    assert read == user
    assert read.get_deferred_fields() == set()  # the whole row, as Django's backend reads it
    assert (read.email, read.password, read.is_active) == (user.email, user.password, True)


def test_several_roles_and_a_superuser_read_as_roles_of_reads_them(
    django_assert_num_queries,
) -> None:
    consultant = ConsultantFactory().user
    consultant.groups.add(Group.objects.get(name=Role.CLINIC_ADMIN))
    consultant.is_superuser = True
    consultant.save(update_fields=["is_superuser"])
    fresh = type(consultant).objects.get(pk=consultant.pk)
    with django_assert_num_queries(1):
        read = read_fresh(consultant.pk)
        assert roles_of(read) == {Role.CONSULTANT, Role.CLINIC_ADMIN}
    assert roles_of(read) == roles_of(fresh)


def test_a_superuser_without_groups_counts_as_a_clinic_admin() -> None:
    user = PatientFactory().user
    user.groups.clear()
    user.is_superuser = True
    user.save(update_fields=["is_superuser"])
    assert roles_of(read_fresh(user.pk)) == {Role.CLINIC_ADMIN}


def test_an_inactive_or_missing_user_is_nobody() -> None:
    user = NurseFactory().user
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert read_fresh(user.pk) is None
    assert read_fresh(user.pk + 10_000) is None
    assert read_fresh("not-a-number") is None


def test_a_change_of_roles_counts_from_the_next_request(client) -> None:
    nurse = NurseFactory()
    client.force_login(nurse.user)
    assert client.get("/staff/today/").status_code == 200
    user_set_roles(user=nurse.user, roles={Role.PATIENT})
    assert client.get("/staff/today/").status_code in (302, 403, 404)


def test_a_signed_in_request_does_not_ask_for_the_roles_again(patient_client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert patient_client.get("/my/").status_code == 200
    user_table = f'"{User._meta.db_table}"'
    groups_table = f'"{User.groups.through._meta.db_table}"'
    group_reads = [
        q["sql"]
        for q in queries.captured_queries
        if groups_table in q["sql"] and user_table not in q["sql"]
    ]
    assert group_reads == []
    assert SESSION_KEY in patient_client.session
