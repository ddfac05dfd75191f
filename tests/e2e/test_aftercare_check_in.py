"""A patient opens the one-tap check-in link from today's walk reminder email and ticks
the walk; the nurse's aftercare list then shows it."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from aftercare import services as aftercare
from aftercare.models import CheckIn, Reminder
from patients.models import Screening
from treatments import services as treatment_services
from treatments.models import ConsentForm, Legs, SignedConsent

from ..factories import PASSWORD, ConsultantFactory, CourseFactory, NurseFactory, RoomFactory
from ..factories import local as local_time

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def midday():
    """Run at today's noon, clinic time: the walk reminder set for 23:59 must still lie
    ahead, which the real clock does not promise in the last minute before midnight."""
    today = timezone.localdate()
    with time_machine.travel(local_time(today.year, today.month, today.day, 12), tick=True):
        yield


def log_in(page, base_url: str, email: str) -> None:
    page.goto(base_url + "/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_test_id("user-name").wait_for()


def completed_session_yesterday(nurse, consultant):
    """Session 1 of a course, yesterday at 10:00 clinic time, completed: today is day 2."""
    ConsentForm.objects.update(effective_from=timezone.now() - timedelta(days=400))
    course = CourseFactory(
        consultant=consultant,
        patient__user__first_name="Maud",
        patient__user__last_name="Okafor",
        patient__user__email="maud@example.org",
    )
    Screening.objects.create(patient=course.patient, submitted_at=timezone.now())
    # Today's walk reminder must still lie ahead when the plan is made.
    aftercare.walk_time_set(patient=course.patient, walk_time=time(23, 59))
    form = treatment_services.consent_current_form(course.treatment)
    treatment_services.consent_sign(
        course=course,
        form=form,
        typed_name=course.patient.full_name,
        statements_accepted=list(form.statements),
        method=SignedConsent.Method.ONLINE,
    )
    yesterday = timezone.localdate() - timedelta(days=1)
    session = treatment_services.session_schedule(
        course=course,
        start=local_time(yesterday.year, yesterday.month, yesterday.day, 10),
        minutes=30,
        consultant=consultant,
        nurse=nurse,
        room=RoomFactory(),
    )
    treatment_services.session_confirm_consent(session=session, nurse=nurse)
    treatment_services.session_start(session=session, by=nurse)
    treatment_services.session_record(session=session, by=nurse, discharge_walk_minutes=10)
    for leg in Legs.sides(session.legs_treated):
        treatment_services.session_fit_stocking(
            session=session, by=nurse, leg=leg, compression_class="2", length="thigh"
        )
    return treatment_services.session_complete(session=session, by=nurse)


def test_patient_ticks_the_walk_from_the_email_and_the_nurse_sees_it(live_server, page):
    nurse = NurseFactory(user__email="nurse.ellis@example.org")
    consultant = ConsultantFactory()
    session = completed_session_yesterday(nurse, consultant)
    plan = session.aftercare_plan
    today = timezone.localdate()
    assert plan.day_number(today) == 2

    # The dispatcher's work for today's walk reminder, sent with links to the live server.
    reminder = Reminder.objects.get(plan=plan, kind=Reminder.Kind.DAILY_WALK, day=today)
    assert reminder.pk in aftercare.reminders_claim_due(now=reminder.due_at)
    with override_settings(SITE_URL=live_server.url):
        assert aftercare.reminder_send(reminder_id=reminder.pk) == "sent"
    assert len(mail.outbox) == 1
    found = re.search(r"https?://\S+/aftercare/check-in/\S+/", mail.outbox[0].body)
    assert found, mail.outbox[0].body
    check_in_url = found.group(0)

    # The patient taps the link: the page asks first, then ticks.
    page.goto(check_in_url)
    button = page.get_by_role("button", name=re.compile("I walked for at least 20 minutes"))
    button.wait_for()
    assert not CheckIn.objects.filter(plan=plan).exists()
    button.click()
    page.get_by_test_id("check-in-done").wait_for()
    assert CheckIn.objects.get(plan=plan, day=today).walked is True

    # The nurse's aftercare list shows the walk ticked.
    log_in(page, live_server.url, "nurse.ellis@example.org")
    page.goto(live_server.url + "/aftercare/staff/")
    row = page.get_by_test_id("aftercare-row").filter(has_text="Maud Okafor")
    assert row.get_by_test_id("day").inner_text() == "Day 2"
    assert row.get_by_test_id("walks").inner_text().startswith("1 / 2")
    assert row.get_by_test_id("walked-today").is_visible()
