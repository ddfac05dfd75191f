"""A patient books the next session of her course with the keyboard only: Tab, Shift+Tab,
Enter and Space, no clicks and no filling of fields. When the free times of a day load
(htmx), focus moves to the panel's heading and the change is read out; the appointment
is then in the database and the confirmation is on screen."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.utils import timezone

from bookings.forms_patient import parse_instant
from bookings.models import Appointment
from clinic.demo import DEMO_PASSWORD, seed_demo
from patients.models import Patient
from treatments.models import Course

pytestmark = pytest.mark.django_db(transaction=True)

# Enough for the header, a month of days and a form; a page that needs more is a problem.
MAX_PRESSES = 80

DESCRIBE_FOCUS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return "(page)";
  const name = (e.getAttribute("aria-label") || e.innerText || e.value || e.name || "")
    .trim().replace(/\\s+/g, " ").slice(0, 40);
  const testid = e.dataset.testid ? `[${e.dataset.testid}]` : "";
  return `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${testid} "${name}"`;
}"""


def has_focus(locator) -> bool:
    """Whether one of the elements the locator matches has the keyboard focus."""
    return locator.evaluate_all("(elements) => elements.includes(document.activeElement)")


def tab_to(page, locator, *, key: str = "Tab", limit: int = MAX_PRESSES) -> None:
    """Press Tab (or Shift+Tab) until focus is on ``locator``; fail, listing every element
    that had focus on the way, if it is not reached within ``limit`` presses."""
    if has_focus(locator):
        return
    visited = []
    for _ in range(limit):
        page.keyboard.press(key)
        if has_focus(locator):
            return
        visited.append(page.evaluate(DESCRIBE_FOCUS))
    pytest.fail(
        f"{key} did not reach {locator} in {limit} presses. Focus went to:\n  "
        + "\n  ".join(visited)
    )


def focused(page) -> str:
    return page.evaluate(DESCRIBE_FOCUS)


def log_in_with_the_keyboard(page, base_url: str, email: str) -> None:
    page.goto(base_url + "/accounts/login/")
    tab_to(page, page.get_by_label("Email address"))
    page.keyboard.type(email)
    tab_to(page, page.locator("#id_password"))
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_test_id("user-name").wait_for()


def test_a_patient_books_a_session_with_the_keyboard_only(live_server, page):
    with override_settings(DEBUG=True):
        seed_demo()
    # patient@ (Helen): session 1 was five weeks ago; session 2 can be booked now.
    helen = Patient.objects.get(user__email="patient@example.com")
    course = Course.objects.get(patient=helen)
    before = Appointment.objects.filter(patient=helen).count()

    log_in_with_the_keyboard(page, live_server.url, "patient@example.com")

    # 1. What to book: the next session of her course.
    page.goto(live_server.url + "/book/")
    choose = page.get_by_test_id(f"option-microsclerotherapy:{course.pk}").get_by_role(
        "link", name="Choose"
    )
    tab_to(page, choose)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.get_by_test_id("month").wait_for()

    # 2. She looks at the next month ("Later" reopens the calendar with focus on the
    #    month's heading), and on until a month has a free day.
    for looked in range(4):
        if looked and page.locator("[data-testid=free-day]").count():
            break
        tab_to(page, page.get_by_test_id("next-month"))
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.get_by_test_id("month").wait_for()
        assert page.evaluate("document.activeElement.id") == "month-heading", focused(page)
    free_days = page.locator("[data-testid=free-day]")
    assert free_days.count(), "a free day within four months"

    # 3. A free day: its times load beside the calendar, focus goes to their heading,
    #    and the number of free times is read out.
    tab_to(page, free_days.first)
    chosen_day = free_days.first.get_attribute("data-day")
    page.keyboard.press("Enter")
    page.locator("#day-times [data-testid=day-times-list]").wait_for()
    # Functions, not expression strings: Playwright evals a string predicate inside the
    # page, which the Content-Security-Policy (no unsafe-eval) rightly refuses.
    page.wait_for_function("() => document.activeElement?.id === 'day-heading'")
    assert page.locator("#day-heading").inner_text().strip()
    status = page.locator("[data-live-status]")
    page.wait_for_function(
        "() => document.querySelector('[data-live-status]').textContent.includes('free time')"
    )
    assert "free time" in status.inner_text()
    assert free_days.first.get_attribute("aria-current") == "true"
    assert page.locator("#day-times").get_attribute("aria-busy") is None

    # Shift+Tab leads back into the calendar, Tab forward again to the first time.
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("!!document.activeElement.closest('[data-testid=month]')"), focused(page)
    first_time = page.locator("#day-times [data-testid=free-time]").first
    tab_to(page, first_time)
    start = parse_instant(first_time.get_attribute("data-start") or "")
    assert f"{timezone.localtime(start):%Y-%m-%d}" == chosen_day

    # 4. The time opens the page to check the details.
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.get_by_test_id("confirm-form").wait_for()

    # 5. Paying for herself (Space selects the radio), then book.
    myself = page.get_by_label("I am paying for myself")
    tab_to(page, myself)
    page.keyboard.press("Space")
    assert myself.is_checked()
    tab_to(page, page.get_by_role("button", name="Book this appointment"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.get_by_test_id("details").wait_for()

    assert Appointment.objects.filter(patient=helen).count() == before + 1
    appointment = Appointment.objects.get(
        patient=helen, status=Appointment.Status.BOOKED, start__gte=timezone.now()
    )
    assert appointment.start == start
    assert appointment.session_record.number == 2
    assert page.url.endswith(f"/my/appointments/{appointment.pk}/")
    assert page.get_by_role("alert").filter(has_text="is booked for").is_visible()
    assert f"{timezone.localtime(start):%H:%M}" in page.get_by_test_id("details").inner_text()
