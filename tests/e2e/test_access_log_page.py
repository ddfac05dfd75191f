"""A nurse opens a patient's course (saying why); the patient then sees that look on
"Who has looked at your record", which passes axe-core at phone and desktop width
(screenshots in var/screenshots/access-log-*)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from patients.models import RecordAccess

from ..factories import (
    PASSWORD,
    ConsultantFactory,
    CourseFactory,
    NurseFactory,
    PatientFactory,
    UserFactory,
)
from .a11y import check_page

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page, base_url: str, email: str) -> None:
    page.goto(base_url + "/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_test_id("user-name").wait_for()


def test_a_patient_sees_who_opened_their_record(live_server, page):
    patient = PatientFactory(user=UserFactory(email="reader@example.org", roles=["Patient"]))
    course = CourseFactory(patient=patient)
    nurse = NurseFactory(
        user=UserFactory(email="nurse@example.org", first_name="Ruth", last_name="Okafor")
    )
    # Older looks by a consultant, so that the table has several rows and two pages.
    consultant = ConsultantFactory(user=UserFactory(first_name="Ian", last_name="Marsh"))
    earlier = timezone.now() - timedelta(days=3)
    for n in range(55):
        RecordAccess.objects.create(
            user=consultant.user,
            patient=patient,
            what="course review",
            ref=f"course:{course.pk}",
            reason="Planning your next session" if n % 2 else "",
            at=earlier + timedelta(minutes=n),
        )

    log_in(page, live_server.url, "nurse@example.org")
    page.goto(f"{live_server.url}/staff/courses/{course.pk}/?reason=Phone+call+about+bruising")
    page.get_by_role("heading", level=1).wait_for()
    noted = RecordAccess.objects.get(user=nurse.user)
    assert (noted.what, noted.reason) == ("course review", "Phone call about bruising")
    page.context.clear_cookies()

    log_in(page, live_server.url, "reader@example.org")
    page.goto(live_server.url + "/my/record/")
    page.get_by_role("link", name="See who has looked at your record").click()
    page.get_by_role("heading", name="Who has looked at your record", level=1).wait_for()
    first_row = page.get_by_test_id("access-row").first
    assert "Ruth Okafor" in first_row.inner_text()
    assert "Phone call about bruising" in first_row.inner_text()
    assert page.get_by_test_id("access-row").count() == 50
    check_page(page, "access-log")

    page.get_by_role("link", name="Older looks").click()
    page.get_by_test_id("access-row").first.wait_for()
    assert page.get_by_test_id("access-row").count() == 6
    check_page(page, "access-log-page-2")
