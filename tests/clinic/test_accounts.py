"""Patients sign up, log in, log out and reset their password."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from clinic.roles import Role, roles_of
from patients.models import Patient

from ..factories import PASSWORD, PatientFactory

User = get_user_model()

SIGNUP = {
    "first_name": "Ruth",
    "last_name": "Adeyemi",
    "email": "Ruth.Adeyemi@Example.org",
    "password1": "walk-twenty-minutes-daily",
    "password2": "walk-twenty-minutes-daily",
}

pytestmark = pytest.mark.django_db


def test_signup_then_logout_then_login(client):
    response = client.post(reverse("signup"), SIGNUP, follow=True)
    assert response.status_code == 200
    assert response.context["user"].is_authenticated
    assert "Ruth" in response.content.decode()

    user = User.objects.get(email="ruth.adeyemi@example.org")  # stored lower-cased
    assert user.get_full_name() == "Ruth Adeyemi"
    assert roles_of(user) == {Role.PATIENT}
    assert Patient.objects.filter(user=user).exists()

    response = client.post(reverse("logout"), follow=True)
    assert not response.context["user"].is_authenticated

    response = client.post(
        reverse("login"),
        {"username": "RUTH.adeyemi@example.org", "password": SIGNUP["password1"]},
        follow=True,
    )
    assert response.context["user"].is_authenticated
    assert response.context["user"].pk == user.pk


def test_logout_by_get_is_refused(patient_client):
    assert patient_client.get(reverse("logout")).status_code == 405


def test_signup_refuses_an_email_that_exists_in_another_case(client):
    PatientFactory(user__email="ruth.adeyemi@example.org")
    response = client.post(reverse("signup"), SIGNUP)
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert User.objects.filter(email__iexact="ruth.adeyemi@example.org").count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"password2": "something-else-entirely"}, "do not match"),
        ({"password1": "12345678", "password2": "12345678"}, "too common"),
        ({"email": "not-an-email"}, "valid email"),
        ({"first_name": "<script>alert(1)</script>"}, "may contain letters"),
        ({"last_name": "   "}, "required"),
        ({"email": "a" * 300 + "@example.org"}, "at most"),
    ],
)
def test_signup_explains_bad_input_and_saves_nothing(client, change, message):
    before = User.objects.count()
    response = client.post(reverse("signup"), {**SIGNUP, **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert User.objects.count() == before


def test_signup_with_missing_fields_is_a_400_not_a_500(client):
    assert client.post(reverse("signup"), {}).status_code == 400
    assert client.post(reverse("signup"), {"email": ["a", "b"]}).status_code == 400


def test_wrong_password_does_not_log_in(client, patient):
    response = client.post(
        reverse("login"), {"username": patient.user.email, "password": "wrong-password"}
    )
    assert response.status_code == 200
    assert not response.context["user"].is_authenticated
    assert "correct email address and password" in response.content.decode()


def test_password_reset_sends_a_working_link(client, patient):
    response = client.post(reverse("password_reset"), {"email": patient.user.email.upper()})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [patient.user.email]
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+)", message.body)
    assert link, message.body

    response = client.get(link.group(1), follow=True)
    assert response.context["validlink"]
    new_password = "stockings-for-seven-days"
    response = client.post(
        response.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
    )
    assert response.status_code == 302
    patient.user.refresh_from_db()
    assert patient.user.check_password(new_password)
    assert not patient.user.check_password(PASSWORD)


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.org"})
    assert response.status_code == 302
    assert response.url == reverse("password_reset_done")
    assert mail.outbox == []
