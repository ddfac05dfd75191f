"""A seeded patient mid-course books the next session in the allowed window, is offered
no earlier date, cancels, books again; the calendar file parses with icalendar."""

from __future__ import annotations

from datetime import date

import icalendar
import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from bookings.models import Appointment
from clinic.demo import DEMO_PASSWORD, seed_demo
from treatments.models import Course
from treatments.services import earliest_next_session_date

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page, base_url: str, email: str) -> None:
    page.goto(base_url + "/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_test_id("user-name").wait_for()


def offered_days(page) -> list[date]:
    return [
        date.fromisoformat(day)
        for day in page.locator("[data-testid=free-day]").evaluate_all(
            "links => links.map(a => a.dataset.day)"
        )
    ]


def book_first_free_time(page, base_url: str) -> None:
    page.goto(base_url + "/book/")
    page.get_by_test_id("allowed-options").get_by_role("link", name="Choose").filter(
        has_text="Microsclerotherapy"
    ).click()
    page.get_by_test_id("month").wait_for()
    while not page.locator("[data-testid=free-day]").count():
        page.get_by_test_id("next-month").click()
        page.get_by_test_id("month").wait_for()
    page.locator("[data-testid=free-day]").first.click()
    page.locator("[data-testid=free-time]").first.click()
    page.get_by_role("button", name="Book this appointment").click()
    page.get_by_test_id("details").wait_for()


@override_settings(DEBUG=True)
def test_mid_course_patient_books_cancels_and_books_again(live_server, page):
    seed_demo()
    # patient6@ (Daniel) had session 1 two days ago: session 2 is allowed from day 28.
    course = Course.objects.get(patient__user__email="patient6@example.com")
    earliest = earliest_next_session_date(course)
    assert earliest is not None and earliest > timezone.localdate()

    log_in(page, live_server.url, "patient6@example.com")
    page.goto(live_server.url + "/book/")
    note = page.get_by_test_id(f"option-microsclerotherapy:{course.pk}").inner_text()
    assert f"{earliest:%-d %B}" in note

    # The months up to the window show no earlier day.
    page.get_by_test_id("allowed-options").get_by_role("link", name="Choose").filter(
        has_text="Microsclerotherapy"
    ).click()
    seen: list[date] = []
    for _ in range(3):
        page.get_by_test_id("month").wait_for()
        seen += offered_days(page)
        if not page.get_by_test_id("next-month").count():
            break
        page.get_by_test_id("next-month").click()
    assert seen, "the window offers free days"
    assert min(seen) >= earliest

    mail.outbox.clear()
    book_first_free_time(page, live_server.url)
    first = Appointment.objects.get(
        patient=course.patient, status="booked", start__gte=timezone.now()
    )
    assert timezone.localtime(first.start).date() >= earliest
    assert first.session_record.number == 2

    # The confirmation email carries a calendar file that parses.
    attachments = [a for m in mail.outbox for a in m.attachments]
    assert attachments, "the booking email has the .ics"
    calendar = icalendar.Calendar.from_ical(attachments[0][1])
    event = next(iter(calendar.walk("VEVENT")))
    assert event.decoded("dtstart") == first.start

    # Cancel, then book again.
    page.get_by_role("button", name="Cancel the appointment").click()
    page.wait_for_load_state()
    first.refresh_from_db()
    assert first.status == Appointment.Status.CANCELLED

    book_first_free_time(page, live_server.url)
    again = Appointment.objects.get(
        patient=course.patient, status="booked", start__gte=timezone.now()
    )
    assert again.pk != first.pk
    assert again.session_record.number == 2

    # The .ics download of the new appointment parses too.
    response = page.request.get(live_server.url + f"/my/appointments/{again.pk}.ics")
    assert response.ok
    event = next(iter(icalendar.Calendar.from_ical(response.body()).walk("VEVENT")))
    assert event.decoded("dtstart") == again.start
