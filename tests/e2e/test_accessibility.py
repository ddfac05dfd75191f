"""WCAG 2.2 AA checks with axe-core on the account pages, the patient's booking pages and
the aftercare pages, at desktop and phone width (``a11y.check_page``), with screenshots
under var/screenshots/ (a tablet one too). On a phone (375 px) and a tablet (768 px) no
page may scroll sideways, and the menu opened from the menu button must pass too. Form
errors must be tied to their fields, and focus goes to the first of them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import signing
from django.test import override_settings
from django.utils import timezone

from aftercare import services as aftercare
from aftercare.models import Reminder
from bookings.models import Appointment
from clinic.demo import DEMO_PASSWORD, seed_demo
from patients.models import Patient
from treatments.models import Course

from .a11y import WIDTHS, axe_violations, check_page, describe, screenshot

pytestmark = pytest.mark.django_db(transaction=True)

PHONE_WIDTH, PHONE_HEIGHT = WIDTHS["phone"]
TABLET = {"width": 768, "height": 1024}


def log_in(page, base_url: str, email: str) -> None:
    page.goto(base_url + "/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_test_id("user-name").wait_for()


def assert_fits(page, name: str, viewport: dict[str, int]) -> None:
    """Nothing on the page is wider than the screen: no sideways scrolling."""
    page.set_viewport_size(viewport)
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        """(limit) => [...document.querySelectorAll('body *')]
             .filter(e => e.getBoundingClientRect().right > limit + 1)
             .slice(0, 5).map(e => e.tagName.toLowerCase() + '.' + e.className)""",
        viewport["width"],
    )
    page.set_viewport_size({"width": WIDTHS["desktop"][0], "height": WIDTHS["desktop"][1]})
    assert width <= viewport["width"], (
        f"{name} scrolls sideways at {viewport['width']}px ({width}px wide): {wide}"
    )


def check(page, name: str) -> None:
    """axe at desktop and phone width, screenshots, and no sideways scroll on a phone."""
    page.wait_for_load_state("load")
    check_page(page, name)
    assert_fits(page, name, {"width": PHONE_WIDTH, "height": PHONE_HEIGHT})
    assert_fits(page, name, TABLET)
    page.set_viewport_size(TABLET)
    screenshot(page, f"{name}-tablet")
    page.set_viewport_size({"width": WIDTHS["desktop"][0], "height": WIDTHS["desktop"][1]})
    landmarks = page.evaluate(
        """() => ({
             lang: document.documentElement.lang,
             header: !!document.querySelector('header'),
             nav: !!document.querySelector('nav[aria-label="Main"]'),
             main: document.querySelectorAll('main#main').length,
             footer: !!document.querySelector('footer'),
             h1: document.querySelectorAll('h1').length,
           })"""
    )
    assert landmarks == {
        "lang": "en-GB",
        "header": True,
        "nav": True,
        "main": 1,
        "footer": True,
        "h1": 1,
    }, f"{name}: {landmarks}"


def check_phone_menu(page, name: str) -> None:
    """The menu, opened from the menu button on a phone, passes axe and fits the screen."""
    page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})
    page.get_by_role("button", name="Menu").click()
    page.locator("#nav-links.show").wait_for()
    page.wait_for_timeout(400)  # the collapse animation
    violations = axe_violations(page)
    assert not violations, f"{name} (menu open) at {PHONE_WIDTH}px:\n{describe(violations)}"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    screenshot(page, f"{name}-phone")
    page.set_viewport_size({"width": WIDTHS["desktop"][0], "height": WIDTHS["desktop"][1]})


def assert_errors_tied_to_fields(page, name: str) -> None:
    """Every field marked invalid names its error message through aria-describedby."""
    fields = page.evaluate(
        """() => [...document.querySelectorAll('main [aria-invalid="true"]')].map(field => ({
             id: field.id,
             described: (field.getAttribute('aria-describedby') || '').split(/\\s+/)
               .map(id => document.getElementById(id))
               .filter(Boolean)
               .map(e => e.innerText.trim())
               .filter(text => text.length > 0),
           }))"""
    )
    assert fields, f"{name}: no field is marked invalid"
    for field in fields:
        assert field["described"], f"{name}: #{field['id']} has no error message tied to it"
    focused = page.evaluate("document.activeElement.id")
    assert focused == fields[0]["id"], f"{name}: focus is on #{focused}, not the first error"


# --- account pages ---------------------------------------------------------------------------


def test_account_and_error_pages(live_server, page):
    base = live_server.url

    page.goto(base + "/accounts/login/")
    check(page, "login")
    check_phone_menu(page, "menu-visitor")

    page.goto(base + "/accounts/signup/")
    check(page, "signup")
    page.get_by_role("button", name="Create account").click()
    page.locator(".is-invalid").first.wait_for()
    assert_errors_tied_to_fields(page, "signup with errors")
    check(page, "signup-errors")

    page.goto(base + "/accounts/login/")
    page.get_by_role("button", name="Log in").click()
    page.locator(".is-invalid, .alert-danger").first.wait_for()
    check(page, "login-errors")

    page.goto(base + "/accounts/password_reset/")
    check(page, "password-reset")
    page.locator("#id_email").fill("nobody@example.org")
    page.get_by_role("button", name="Send the link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    check(page, "password-reset-done")

    response = page.goto(base + "/no-such-page/")
    assert response is not None and response.status == 404
    page.get_by_role("heading", name="We could not find that page").wait_for()
    check(page, "not-found")


def test_skip_link_moves_to_the_main_content(live_server, page):
    page.goto(live_server.url + "/accounts/password_reset/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    assert skip.evaluate("e => e === document.activeElement")
    assert skip.is_visible()  # shown while it has focus
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    # The next stop is inside the main content, not the navigation.
    assert page.evaluate("!!document.activeElement.closest('main')")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid", "the focused field shows a focus outline"


# --- the booking pages -----------------------------------------------------------------------


def _choose_free_day_from(page, earliest: date) -> str:
    """Go month by month until a day on or after ``earliest`` is free; return its link."""
    for _ in range(4):
        page.get_by_test_id("month").wait_for()
        days = page.locator("[data-testid=free-day]")
        for index in range(days.count()):
            day = days.nth(index)
            if date.fromisoformat(day.get_attribute("data-day") or "") >= earliest:
                href = day.get_attribute("href") or ""
                day.click()
                page.locator("#day-times [data-testid=free-time]").first.wait_for()
                return href
        page.get_by_test_id("next-month").click()
        page.wait_for_load_state()
    raise AssertionError(f"no free day from {earliest} in four months")


def test_booking_pages_for_a_patient(live_server, page):
    with override_settings(DEBUG=True):
        seed_demo()
    base = live_server.url
    # patient@ (Helen): session 1 was five weeks ago, so session 2 can be booked now.
    helen = Patient.objects.get(user__email="patient@example.com")
    course = Course.objects.get(patient=helen)
    log_in(page, base, "patient@example.com")
    check_phone_menu(page, "menu-patient")

    page.goto(base + "/book/")
    check(page, "book-options")

    page.get_by_test_id(f"option-microsclerotherapy:{course.pk}").get_by_role(
        "link", name="Choose"
    ).click()
    page.get_by_test_id("month").wait_for()
    check(page, "book-month")

    # A day at least three days ahead, so that the appointment can still be changed online.
    day_url = _choose_free_day_from(page, timezone.localdate() + timedelta(days=3))
    assert page.locator("[data-testid=free-day][aria-current=true]").count() == 1
    check(page, "book-month-with-times")

    page.goto(base + day_url)
    check(page, "book-day")

    page.locator("[data-testid=free-time]").first.click()
    page.get_by_test_id("confirm-form").wait_for()
    check(page, "book-confirm")

    # An insured booking without the insurer's code: the error is tied to the field.
    page.get_by_label("My insurer is paying").check()
    page.get_by_role("button", name="Book this appointment").click()
    page.get_by_test_id("code-error").wait_for()
    assert_errors_tied_to_fields(page, "confirm without a code")
    check(page, "book-confirm-errors")

    page.get_by_label("I am paying for myself").check()
    page.get_by_role("button", name="Book this appointment").click()
    page.get_by_test_id("details").wait_for()
    appointment = Appointment.objects.get(
        patient=helen, status=Appointment.Status.BOOKED, start__gte=timezone.now()
    )
    check(page, "appointment-and-cancel")
    assert page.get_by_test_id("cancel-form").is_visible()

    page.goto(base + "/my/appointments/")
    check(page, "my-appointments")

    page.goto(base + f"/my/appointments/{appointment.pk}/reschedule/")
    page.get_by_test_id("month").wait_for()
    check(page, "reschedule")
    page.locator("[data-testid=free-day]").first.click()
    page.locator("#day-times [data-testid=free-time]").first.wait_for()
    check(page, "reschedule-with-times")

    page.goto(base + "/my/calendar/")
    check(page, "calendar-feed")


# --- aftercare -------------------------------------------------------------------------------


def test_aftercare_pages_for_a_patient_in_aftercare(live_server, page):
    with override_settings(DEBUG=True):
        seed_demo()
    base = live_server.url
    # patient6@ (Daniel): a session two days ago, so today is day 3 of aftercare.
    daniel = Patient.objects.get(user__email="patient6@example.com")
    log_in(page, base, "patient6@example.com")

    page.goto(base + "/aftercare/")
    page.get_by_test_id("aftercare-today").wait_for()
    check(page, "aftercare-today")

    # A pain score out of range comes back with the error tied to the field.
    page.get_by_label("Pain today").fill("11")
    page.get_by_role("button", name="Save how my legs are").click()
    page.locator("#pain-score-error").wait_for()
    assert_errors_tied_to_fields(page, "pain score out of range")
    check(page, "aftercare-today-errors")

    page.goto(base + "/aftercare/preferences/")
    check(page, "aftercare-preferences")

    # The pages reached from a reminder email, without logging in.
    page.get_by_role("button", name="Log out").click()
    today = timezone.localdate()
    token = aftercare.check_in_token(patient_id=daniel.pk, day=today, action="walked")
    page.goto(base + f"/aftercare/check-in/{token}/")
    check(page, "aftercare-check-in-link")
    page.get_by_role("button", name="I walked").click()
    page.get_by_test_id("check-in-done").wait_for()
    check(page, "aftercare-check-in-done")

    token = signing.dumps(
        {"p": daniel.pk, "k": Reminder.Kind.DAILY_WALK.value}, salt="aftercare.unsubscribe"
    )
    page.goto(base + f"/aftercare/unsubscribe/{token}/")
    check(page, "aftercare-unsubscribe")

    page.goto(base + "/aftercare/check-in/not-a-token/")
    check(page, "aftercare-link-problem")
