"""The patient's own pages under /my/ pass axe-core (no serious or critical violations) at
phone and desktop width, for seeded demo patients, and fit a phone without scrolling
sideways; screenshots go to var/screenshots/patient-*.

- Helen (patient@): a course with a completed session, a signed consent, a past
  aftercare plan and sent reminders: dashboard, details (also with errors), questionnaire
  (reviewed answers shown read-only), record, everything-we-hold, a signed consent, and
  closing the account (before and after asking).
- Priya (patient2@): session 1 today with the consent form still to sign: the signing page.
- Daniel (patient6@): aftercare running today: the dashboard with the aftercare block.
"""

from __future__ import annotations

import pytest
from django.test import override_settings

from clinic.demo import seed_demo
from treatments.models import Course, SignedConsent

from .a11y import WIDTHS, check_page, screenshot
from .test_booking_journey import log_in

pytestmark = pytest.mark.django_db(transaction=True)

PHONE_WIDTH, PHONE_HEIGHT = WIDTHS["phone"]


def fits_a_phone(page) -> str:
    """'' when nothing is wider than a 375 px phone screen, else what sticks out."""
    page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        """(limit) => [...document.querySelectorAll('body *')]
             .filter(e => e.getBoundingClientRect().right > limit + 1)
             .slice(0, 5).map(e => e.tagName.toLowerCase() + '.' + e.className)""",
        PHONE_WIDTH,
    )
    page.set_viewport_size({"width": WIDTHS["desktop"][0], "height": WIDTHS["desktop"][1]})
    return "" if width <= PHONE_WIDTH else f"scrolls sideways on a phone ({width}px): {wide}"


def one_h1_and_headings_in_order(page) -> str:
    levels = page.evaluate(
        "() => [...document.querySelectorAll('main h1, main h2, main h3, main h4, main h5,"
        " main h6')].map(h => Number(h.tagName[1]))"
    )
    if levels.count(1) != 1 or levels[0] != 1:
        return f"expected one h1 first, got {levels}"
    for before, after in zip(levels, levels[1:], strict=False):
        if after > before + 1:
            return f"heading level jumps from h{before} to h{after}: {levels}"
    return ""


def check(page, base_url: str, path: str, name: str, failures: list[str]) -> None:
    """Open a page and run every check on it; collect the failures so that one run
    reports every page (and keeps every screenshot)."""
    if path:
        response = page.goto(base_url + path)
        assert response is not None and response.status == 200, f"{name}: {path}"
    try:
        check_page(page, f"patient-{name}")
    except AssertionError as error:
        failures.append(str(error))
    for problem in (fits_a_phone(page), one_h1_and_headings_in_order(page)):
        if problem:
            failures.append(f"{name}: {problem}")


@override_settings(DEBUG=True)
def test_patient_pages_pass_axe(live_server, page):
    seed_demo()
    base = live_server.url
    failures: list[str] = []

    helen_consent = SignedConsent.objects.filter(patient__user__email="patient@example.com").first()
    assert helen_consent is not None
    log_in(page, base, "patient@example.com")
    for name, path in [
        ("dashboard", "/my/"),
        ("profile", "/my/profile/"),
        ("screening", "/my/screening/"),
        ("record", "/my/record/"),
        ("everything-we-hold", "/my/record/print/"),
        ("consent-detail", f"/my/consents/{helen_consent.pk}/"),
        ("close-account", "/my/close-account/"),
        ("what-we-keep", "/my/close-account/what-we-keep/"),
    ]:
        check(page, base, path, name, failures)

    # On paper: the page itself without the site's navigation or the buttons.
    for name, path in [
        ("everything-we-hold", "/my/record/print/"),
        ("consent-detail", f"/my/consents/{helen_consent.pk}/"),
    ]:
        page.goto(base + path)
        page.emulate_media(media="print")
        screenshot(page, f"patient-{name}-print")
        hidden = page.evaluate(
            "() => [...document.querySelectorAll('nav, footer, button, [data-print]')]"
            ".filter(e => e.offsetParent !== null).map(e => e.outerHTML.slice(0, 80))"
        )
        page.emulate_media(media="screen")
        if hidden:
            failures.append(f"{name} prints the page's controls: {hidden}")

    # The details form with errors: each message tied to its field.
    page.goto(base + "/my/profile/")
    page.get_by_label("Date of birth").fill("2999-01-01")
    page.get_by_label("Mobile or phone number").fill("call me")
    page.get_by_role("button", name="Save my details").click()
    page.get_by_test_id("form-problems").wait_for()
    phone = page.get_by_label("Mobile or phone number")
    assert phone.get_attribute("aria-invalid") == "true"
    described = phone.get_attribute("aria-describedby") or ""
    assert "id_phone_error" in described.split()
    assert "digits" in page.locator("#id_phone_error").inner_text()
    check(page, base, "", "profile-errors", failures)

    # Asking to close the account, then the page with the open request on it.
    page.goto(base + "/my/close-account/")
    page.get_by_label("Why you would like to close your account (optional)").fill("Moving away")
    page.get_by_label("I understand what closing my account means").check()
    page.get_by_role("button", name="Ask the clinic to close my account").click()
    page.get_by_test_id("open-request").wait_for()
    check(page, base, "", "close-account-requested", failures)
    page.get_by_role("button", name="Withdraw my request").click()
    page.get_by_test_id("close-form").wait_for()

    # Priya has a consent form to sign before today's session.
    page.context.clear_cookies()
    log_in(page, base, "patient2@example.com")
    course = Course.objects.get(patient__user__email="patient2@example.com")
    check(page, base, f"/my/courses/{course.pk}/consent/", "consent-sign", failures)
    check(page, base, "/my/", "dashboard-to-sign", failures)

    # Daniel is on day 3 of his aftercare: the dashboard shows today's block.
    page.context.clear_cookies()
    log_in(page, base, "patient6@example.com")
    check(page, base, "/my/", "dashboard-aftercare", failures)
    page.get_by_test_id("aftercare-today").wait_for()

    assert not failures, "\n\n".join(failures)
