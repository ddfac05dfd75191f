"""Account security: log-in lock-out, password-reset throttling, staff two-step log-in on
every staff page and the admin, sessions people can see and end, idle time-out, the
security headers, and Django's deployment checks on the production settings."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from qsessions.models import Session

from ..factories import PASSWORD, ClinicAdminFactory, NurseFactory, PatientFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def log_in(client: Client, email: str, password: str = PASSWORD, ip: str = "10.0.0.1"):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip)


# --- log-in lock-out (django-axes) ---------------------------------------------------------


def test_five_failures_lock_that_email_from_that_address_for_15_minutes(client):
    patient = PatientFactory()
    email = patient.user.email
    for _ in range(4):
        response = log_in(client, email, "wrong-password")
        assert response.status_code == 200  # the form again, with its message
    assert log_in(client, email, "wrong-password").status_code == 429  # the fifth locks
    locked = log_in(client, email)  # now even the right password is refused
    assert locked.status_code == 429
    assert "Too many attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # The same email from another address, and another email from here, still work.
    assert log_in(Client(), email, ip="10.0.0.2").status_code == 302
    assert log_in(Client(), PatientFactory().user.email).status_code == 302
    # Upper case is the same address.
    assert log_in(Client(), email.upper()).status_code == 429
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert log_in(Client(), email).status_code == 302


def test_a_successful_log_in_clears_earlier_failures(client):
    email = PatientFactory().user.email
    for _ in range(4):
        log_in(client, email, "wrong-password")
    assert log_in(Client(), email).status_code == 302
    for _ in range(4):
        log_in(client, email, "wrong-password")
    assert log_in(Client(), email).status_code == 302


def test_the_admin_log_in_is_locked_out_too(client):
    admin = ClinicAdminFactory()
    for _ in range(5):
        client.post(
            "/admin/login/",
            {"username": admin.user.email, "password": "nope"},
            REMOTE_ADDR="10.0.0.9",
        )
    response = client.post(
        "/admin/login/",
        {"username": admin.user.email, "password": PASSWORD},
        REMOTE_ADDR="10.0.0.9",
    )
    assert response.status_code == 429


# --- password reset throttling ---------------------------------------------------------------


def test_password_reset_requests_are_limited_per_address_and_per_email(client):
    from django.core.cache import cache

    cache.clear()
    email = PatientFactory().user.email
    url = reverse("password_reset")
    for _ in range(5):
        assert client.post(url, {"email": email}, REMOTE_ADDR="10.1.0.1").status_code == 302
    assert len(mail.outbox) == 5
    refused = client.post(url, {"email": email}, REMOTE_ADDR="10.1.0.1")
    assert refused.status_code == 429
    assert "try again in 15 minutes" in refused.content.decode()
    # From another address the same email is still limited; another email from the first
    # address too.
    assert client.post(url, {"email": email}, REMOTE_ADDR="10.1.0.2").status_code == 429
    assert client.post(url, {"email": "x@example.org"}, REMOTE_ADDR="10.1.0.1").status_code == 429
    assert len(mail.outbox) == 5
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert client.post(url, {"email": email}, REMOTE_ADDR="10.1.0.3").status_code == 302


# --- two-step log-in ---------------------------------------------------------------------------


def current_code(device: TOTPDevice) -> str:
    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return str(code).zfill(device.digits)


def every_url() -> list[tuple[str, str]]:
    """(name, a concrete path) for every pattern, with made-up values for parameters."""
    found: list[tuple[str, str]] = []

    def walk(patterns, prefix: str, namespace: str) -> None:
        for entry in patterns:
            route = str(entry.pattern)
            if isinstance(entry, URLResolver):
                ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                walk(entry.url_patterns, prefix + route, ns)
            elif isinstance(entry, URLPattern):
                path = prefix + route
                for converter, value in (("<int:", "1"), ("<str:", "x"), ("<slug:", "x")):
                    while converter in path:
                        start = path.index(converter)
                        path = path[:start] + value + path[path.index(">", start) + 1 :]
                if "^" in path or "(?P" in path:  # regex patterns (the admin's): simplify
                    path = path.replace("^", "").replace("$", "")
                    if "(?P" in path:
                        continue
                found.append((f"{namespace}{entry.name or ''}", "/" + path))

    walk(get_resolver().url_patterns, "", "")
    return found


OPEN_TO_UNVERIFIED = {"two_factor_verify", "two_factor_setup", "login", "logout", "healthz"}


@override_settings(STAFF_TWO_FACTOR_REQUIRED=True)
@pytest.mark.parametrize("factory", [NurseFactory, ClinicAdminFactory])
def test_staff_reach_no_page_before_the_second_step(client, factory):
    """Every address of the site (staff pages, the admin, patients' and public pages)
    sends a member of staff who has not passed the second step to it first."""
    staff = factory()
    client.force_login(staff.user)
    checked = 0
    for name, path in every_url():
        if name.split(":")[-1] in OPEN_TO_UNVERIFIED or path.startswith("/static/"):
            continue
        response = client.get(path)
        assert response.status_code == 302, (name, path, response.status_code)
        assert response.url.startswith(reverse("two_factor_setup")), (name, path)
        checked += 1
    assert checked > 60
    # With a device, they are sent to enter a code instead of setting one up.
    TOTPDevice.objects.create(user=staff.user, name="phone", confirmed=True)
    response = client.get(reverse("treatments:day_list"))
    assert response.url.startswith(reverse("two_factor_verify"))
    assert "next=%2Fstaff%2Ftoday%2F" in response.url


@override_settings(STAFF_TWO_FACTOR_REQUIRED=True)
def test_htmx_requests_are_told_to_go_to_the_second_step(client):
    nurse = NurseFactory()
    client.force_login(nurse.user)
    response = client.get(reverse("treatments:day_list"), HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("two_factor_setup"))


@override_settings(STAFF_TWO_FACTOR_REQUIRED=True)
def test_a_nurse_sets_up_an_app_then_logs_in_with_a_code(client):
    nurse = NurseFactory()
    assert log_in(client, nurse.user.email).status_code == 302
    page = client.get(reverse("two_factor_setup"), {"next": "/staff/today/"})
    assert page.status_code == 200 and "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=nurse.user, confirmed=False)
    wrong = client.post(reverse("two_factor_setup"), {"token": "000000", "next": "/staff/today/"})
    assert wrong.status_code == 400
    # After a wrong code the device waits a moment before it checks another.
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        done = client.post(
            reverse("two_factor_setup"), {"token": current_code(device), "next": "/staff/today/"}
        )
    assert done.status_code == 200 and len(done.context["codes"]) == 10
    assert client.get(reverse("treatments:day_list")).status_code == 200

    # Next time: password, then a code.
    later = Client()
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert log_in(later, nurse.user.email).status_code == 302
        assert later.get(reverse("treatments:day_list")).status_code == 302
        bad = later.post(reverse("two_factor_verify"), {"token": "123456", "next": "/staff/today/"})
        assert bad.status_code == 400
        device.refresh_from_db()
        device.throttling_failure_count = 0  # the device waits after a failure; skip it
        device.throttling_failure_timestamp = None
        device.save()
        ok = later.post(
            reverse("two_factor_verify"), {"token": current_code(device), "next": "/staff/today/"}
        )
        assert ok.status_code == 302 and ok.url == "/staff/today/"
        assert later.get(reverse("treatments:day_list")).status_code == 200


@override_settings(STAFF_TWO_FACTOR_REQUIRED=True)
def test_a_backup_code_works_once_and_next_must_stay_on_this_site(client):
    nurse = NurseFactory()
    TOTPDevice.objects.create(user=nurse.user, name="phone", confirmed=True)
    static = StaticDevice.objects.create(user=nurse.user, name="Backup codes")
    static.token_set.create(token="backup123")
    log_in(client, nurse.user.email)
    response = client.post(
        reverse("two_factor_verify"), {"token": "backup123", "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response.url == "/"
    second = Client()
    log_in(second, nurse.user.email)
    assert second.post(reverse("two_factor_verify"), {"token": "backup123"}).status_code == 400


def test_a_patient_may_turn_two_step_log_in_on_and_off(client):
    patient = PatientFactory()
    log_in(client, patient.user.email)
    assert client.get(reverse("patients:dashboard")).status_code == 200  # not required
    client.get(reverse("two_factor_setup"))
    device = TOTPDevice.objects.get(user=patient.user)
    client.post(reverse("two_factor_setup"), {"token": current_code(device)})
    other = Client()
    log_in(other, patient.user.email)
    assert other.get(reverse("patients:dashboard")).url.startswith(reverse("two_factor_verify"))
    # Turning it off needs the current (verified) session.
    response = client.post(reverse("two_factor_manage"), {"action": "turn_off"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=patient.user).exists()
    third = Client()
    log_in(third, patient.user.email)
    assert third.get(reverse("patients:dashboard")).status_code == 200


@override_settings(STAFF_TWO_FACTOR_REQUIRED=True)
def test_staff_cannot_turn_two_step_log_in_off(client):
    nurse = NurseFactory()
    device = TOTPDevice.objects.create(user=nurse.user, name="phone", confirmed=True)
    log_in(client, nurse.user.email)
    client.post(reverse("two_factor_verify"), {"token": current_code(device)})
    response = client.post(reverse("two_factor_manage"), {"action": "turn_off"})
    assert response.status_code == 400
    assert TOTPDevice.objects.filter(user=nurse.user, confirmed=True).exists()


# --- sessions ----------------------------------------------------------------------------------


def test_people_see_their_sessions_and_end_another_one():
    patient = PatientFactory()
    laptop, phone = Client(), Client(HTTP_USER_AGENT="Phone browser")
    log_in(laptop, patient.user.email)
    log_in(phone, patient.user.email, ip="10.0.0.7")
    stranger = Client()
    log_in(stranger, PatientFactory().user.email)
    page = laptop.get(reverse("sessions_list"))
    assert page.status_code == 200
    assert page.content.decode().count('data-testid="session-row"') == 2
    phone_key = phone.session.session_key
    # Someone else cannot end it.
    stranger.post(reverse("sessions_end"), {"key": phone_key})
    assert phone.get(reverse("patients:dashboard")).status_code == 200
    laptop.post(reverse("sessions_end"), {"key": phone_key})
    assert phone.get(reverse("patients:dashboard")).status_code == 302  # back to log in
    assert laptop.get(reverse("patients:dashboard")).status_code == 200


def test_changing_the_password_ends_every_other_session():
    patient = PatientFactory()
    here, elsewhere = Client(), Client()
    log_in(here, patient.user.email)
    log_in(elsewhere, patient.user.email)
    response = here.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-New-longer-pass-2026",
            "new_password2": "a-New-longer-pass-2026",
        },
    )
    assert response.status_code == 302
    assert here.get(reverse("patients:dashboard")).status_code == 200
    assert elsewhere.get(reverse("patients:dashboard")).status_code == 302
    assert Session.objects.filter(user=patient.user).count() == 1


def test_staff_are_signed_out_after_30_idle_minutes_patients_are_not():
    nurse, patient = NurseFactory(), PatientFactory()
    staff_client, patient_client = Client(), Client()
    log_in(staff_client, nurse.user.email)
    log_in(patient_client, patient.user.email)
    assert staff_client.get(reverse("treatments:day_list")).status_code == 200
    assert patient_client.get(reverse("patients:dashboard")).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=25)):
        assert staff_client.get(reverse("treatments:day_list")).status_code == 200  # sliding
    with time_machine.travel(timezone.now() + timedelta(minutes=25 + 31)):
        assert staff_client.get(reverse("treatments:day_list")).status_code == 302
        assert patient_client.get(reverse("patients:dashboard")).status_code == 200


# --- headers and deployment checks --------------------------------------------------------------


def test_pages_carry_a_content_security_policy_without_inline_script(client):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_production_settings_pass_djangos_deployment_checks():
    root = Path(__file__).resolve().parents[2]
    # A clean environment: the browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process.
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "clinic.settings.production",
        "SECRET_KEY": "a-test-only-secret-that-is-long-and-random-enough-0123456789abcdef",
        "ALLOWED_HOSTS": "clinic.example.org",
        "DJANGO_DEBUG": "false",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
