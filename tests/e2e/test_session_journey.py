"""A nurse takes consent on the tablet, runs and completes a session from the day list;
the consultant then opens the course review and sees what was recorded."""

from __future__ import annotations

import pytest
from django.utils import timezone

from patients.models import Screening
from treatments.models import Course, SessionRecord
from treatments.services import session_schedule

from ..factories import PASSWORD, ConsultantFactory, CourseFactory, NurseFactory, RoomFactory
from ..factories import local as local_time

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page, base_url: str, email: str) -> None:
    page.goto(base_url + "/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_test_id("user-name").wait_for()


def test_nurse_runs_a_session_and_the_consultant_reviews_it(live_server, page):
    consultant = ConsultantFactory(user__email="dr.kaur@example.org")
    nurse = NurseFactory(user__email="nurse.ellis@example.org")
    course = CourseFactory(
        consultant=consultant,
        patient__user__first_name="Joan",
        patient__user__last_name="Pryce",
        planned_sessions=2,
    )
    Screening.objects.create(patient=course.patient, submitted_at=timezone.now())
    today = timezone.localdate()
    session = session_schedule(
        course=course,
        start=local_time(today.year, today.month, today.day, 11),
        minutes=45,
        consultant=consultant,
        nurse=nurse,
        room=RoomFactory(),
    )

    # The nurse: day list → session → consent on the tablet.
    log_in(page, live_server.url, "nurse.ellis@example.org")
    page.get_by_role("link", name="Day list").click()
    row = page.locator("tr", has_text="Joan Pryce")
    assert "Needs signing" in row.inner_text()
    row.get_by_role("link", name="Open").click()
    page.get_by_role("link", name="Take consent on the tablet").first.click()
    for box in page.locator("input[type=checkbox]").all():
        box.check()
    page.get_by_label("Your full name").fill("Joan Pryce")
    page.get_by_role("button", name="Sign the consent form").click()

    page.get_by_role("button", name="Confirm consent").click()
    page.get_by_role("button", name="Start session").click()

    # Record the treatment, the stockings and the walk, then discharge.
    page.locator("#area-left_calf_back_medial").check()
    page.locator("#area-right_knee_back").check()
    page.locator("#id_concentration_percent").fill("0.5")
    page.locator("#id_total_volume_ml").fill("2.5")
    page.locator("#id_injections").fill("18")
    page.locator("#id_discomfort").fill("3")
    page.locator("#id_discharge_walk_minutes").fill("12")
    page.get_by_role("button", name="Save the record").click()
    for leg in ("left", "right"):
        page.locator("#id_leg").select_option(leg)
        page.locator("#id_compression_class").select_option("2")
        page.locator("#id_length").select_option("thigh")
        page.get_by_role("button", name="Record stocking").click()
    page.get_by_role("button", name="Discharge and complete the session").click()
    page.get_by_test_id("session-summary").wait_for()

    session.refresh_from_db()
    assert session.status == SessionRecord.Status.COMPLETED
    assert session.consent is not None and session.consent.witnessed_by == nurse
    assert session.stockings.count() == 2

    # The consultant opens the course review and sees the session.
    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server.url, "dr.kaur@example.org")
    page.goto(live_server.url + f"/staff/courses/{course.pk}/")
    assert page.get_by_test_id("session-count").inner_text() == "1 of 2 completed"
    timeline = page.get_by_test_id("timeline").inner_text()
    assert "Left calf, inner" in timeline
    assert "Right back of the knee" in timeline
    assert Course.objects.get(pk=course.pk).status == Course.Status.ACTIVE
