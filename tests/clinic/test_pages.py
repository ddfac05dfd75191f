"""The base pages render for everyone and answer errors with friendly pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ..factories import ClinicAdminFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["home", "login", "signup", "password_reset"])
def test_public_pages_render(client, name, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        response = client.get(reverse(name))
    assert response.status_code == 200
    assert "/static/vendor/bootstrap/bootstrap.min.css" in response.content.decode()


def test_home_greets_a_logged_in_patient_by_name(client):
    patient = PatientFactory(user__first_name="Imogen")
    client.force_login(patient.user)
    response = client.get("/")
    assert "Hello, <strong>Imogen</strong>" in response.content.decode()


def test_home_query_count_does_not_grow_with_patients(client, django_assert_max_num_queries):
    patient = PatientFactory()
    client.force_login(patient.user)
    with django_assert_max_num_queries(4) as few:
        client.get("/")
    PatientFactory.create_batch(30)
    with django_assert_max_num_queries(4) as many:
        client.get("/")
    assert len(many.captured_queries) == len(few.captured_queries)


def test_admin_link_only_for_clinic_admins(client):
    patient = PatientFactory()
    client.force_login(patient.user)
    assert "Clinic admin" not in client.get("/").content.decode()
    admin = ClinicAdminFactory()
    client.force_login(admin.user)
    assert reverse("admin:index") in client.get("/").content.decode()


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "could not find that page" in response.content.decode()


def test_static_files_are_served_locally(client):
    # No CDN: the stylesheet and scripts are part of the app.
    from django.contrib.staticfiles import finders

    for path in [
        "vendor/bootstrap/bootstrap.min.css",
        "vendor/bootstrap/bootstrap.bundle.min.js",
        "vendor/htmx/htmx.min.js",
        "css/site.css",
    ]:
        assert finders.find(path), path


def test_clinic_admin_can_open_the_admin_site(client):
    admin = ClinicAdminFactory()
    client.force_login(admin.user)
    assert client.get(reverse("admin:clinic_room_changelist")).status_code == 200
    assert client.get(reverse("admin:clinic_room_add")).status_code == 200
