"""A new patient signs up, logs out, logs back in and sees their name."""

from __future__ import annotations

import pytest

from clinic.models import User

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_up_log_in_and_see_your_name(live_server, page):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Create an account to book").click()

    page.get_by_label("First name").fill("Beatrice")
    page.get_by_label("Last name").fill("Holloway")
    page.get_by_label("Email address").fill("beatrice@example.org")
    page.locator("#id_password1").fill("calf-stockings-2026")
    page.locator("#id_password2").fill("calf-stockings-2026")
    page.get_by_role("button", name="Create account").click()

    page.get_by_text("Your account is ready").wait_for()
    assert User.objects.filter(email="beatrice@example.org").exists()

    page.get_by_role("button", name="Log out").click()
    page.get_by_role("link", name="Log in").first.click()
    page.get_by_label("Email address").fill("Beatrice@Example.org")
    page.locator("#id_password").fill("calf-stockings-2026")
    page.get_by_role("button", name="Log in").click()

    greeting = page.get_by_test_id("greeting")
    greeting.wait_for()
    assert "Beatrice" in greeting.inner_text()
    assert page.get_by_test_id("user-name").inner_text() == "Beatrice Holloway"
