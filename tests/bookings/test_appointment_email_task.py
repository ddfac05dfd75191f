"""Appointment emails leave the request: they are handed to Celery after the commit.

The rest of the suite runs the task in process when it is handed over (see
``tests/conftest.py``); these tests look at the hand-over itself, what happens when the
broker or the mail server is down, and the task's retries.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import override_settings

from bookings import emails, tasks
from bookings.models import Appointment

from ..factories import AppointmentFactory, local

pytestmark = pytest.mark.django_db

LINK = "https://clinic.example/my/appointments/1/"


class RefusingBackend(BaseEmailBackend):
    tries = 0

    def send_messages(self, email_messages):  # type: ignore[no-untyped-def]
        type(self).tries += 1
        raise OSError("the mail server is down")


@pytest.fixture
def appointment() -> Appointment:
    start = local(2026, 6, 2, 10)
    return AppointmentFactory(start=start, end=start + timedelta(minutes=30))


def test_the_email_is_handed_to_celery_only_after_the_commit(
    appointment, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    handed: list[tuple] = []
    monkeypatch.setattr(
        tasks.send_appointment_email,
        "apply_async",
        lambda args=None, **options: handed.append((args, options)),
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        emails.email_after_commit(appointment.pk, LINK, kind="booked")
    assert handed == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert handed == [((appointment.pk, LINK, "booked"), {"retry": False})]
    assert not mail.outbox  # the request itself sent nothing


def test_with_the_broker_down_the_email_is_sent_at_once(
    appointment, monkeypatch, django_capture_on_commit_callbacks, caplog
) -> None:
    def broker_down(*args, **kwargs):
        raise ConnectionError("no broker")

    monkeypatch.setattr(tasks.send_appointment_email, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        emails.email_after_commit(appointment.pk, LINK, kind="booked")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [appointment.patient.user.email]
    assert "Could not queue the booked email" in caplog.text


@override_settings(EMAIL_BACKEND="tests.bookings.test_appointment_email_task.RefusingBackend")
def test_with_broker_and_mail_server_down_the_change_still_stands(
    appointment, monkeypatch, django_capture_on_commit_callbacks, caplog
) -> None:
    def broker_down(*args, **kwargs):
        raise ConnectionError("no broker")

    monkeypatch.setattr(tasks.send_appointment_email, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        emails.email_after_commit(appointment.pk, LINK, kind="cancelled")
    assert "Could not send the cancelled email" in caplog.text
    assert Appointment.objects.filter(pk=appointment.pk).exists()


@override_settings(EMAIL_BACKEND="tests.bookings.test_appointment_email_task.RefusingBackend")
def test_a_refusing_mail_server_is_tried_again_then_given_up_with_a_log(
    appointment, caplog
) -> None:
    RefusingBackend.tries = 0
    tasks.send_appointment_email.apply(args=(appointment.pk, LINK, "moved"))
    assert RefusingBackend.tries == tasks.MAX_TRIES
    assert "Gave up sending the moved email" in caplog.text


def test_the_task_sends_the_email_with_its_calendar_file(appointment) -> None:
    tasks.send_appointment_email.apply(args=(appointment.pk, LINK, "booked")).get()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert "is booked" in message.subject
    assert LINK in message.body
    assert message.attachments[0][0] == f"appointment-{appointment.pk}.ics"


def test_an_appointment_that_is_gone_or_an_unknown_kind_sends_nothing(appointment, caplog) -> None:
    tasks.send_appointment_email.apply(args=(appointment.pk + 1000, LINK, "booked")).get()
    tasks.send_appointment_email.apply(args=(appointment.pk, LINK, "<script>")).get()
    assert not mail.outbox
    assert "Unknown appointment email" in caplog.text


def test_the_booking_page_hands_the_email_over(
    patient_client, patient, open_clinic, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    """The patient's booking itself: the task gets the new appointment and its page."""
    import time_machine

    from bookings.forms_patient import format_instant

    handed: list[tuple] = []
    monkeypatch.setattr(
        tasks.send_appointment_email,
        "apply_async",
        lambda args=None, **options: handed.append(args),
    )
    start = local(2026, 6, 2, 10)
    with (
        time_machine.travel(local(2026, 5, 25, 8), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = patient_client.post(
            "/book/initial-consultation/confirm/",
            {"start": format_instant(start), "minutes": 30, "payer": "self"},
        )
    assert response.status_code == 302
    booked = Appointment.objects.get(patient=patient)
    assert handed == [(booked.pk, f"http://testserver/my/appointments/{booked.pk}/", "booked")]
    assert not mail.outbox
