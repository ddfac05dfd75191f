"""Reminder settings change many reminders at once: the queries they run stay the same
for one reminder and for thirty (``aftercare/preferences.py``), rather than growing with
each reminder read or written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time, timedelta
from typing import cast

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aftercare import preferences, services
from aftercare.models import Reminder
from patients.models import Patient

from ..factories import PatientFactory

pytestmark = pytest.mark.django_db

Kind = Reminder.Kind
Channel = Reminder.Channel
Status = Reminder.Status

MANY = 30


def queries(action: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as captured:
        action()
    return len(captured)


def a_patient(*, phone: str = "") -> Patient:
    patient = cast(Patient, PatientFactory())
    if phone:
        patient.phone = phone
        patient.save()
    return patient


def walk_emails(patient: Patient, count: int, **fields: object) -> list[Reminder]:
    """``count`` walk reminders by email, one a day from the day after tomorrow."""
    first = timezone.localdate() + timedelta(days=2)
    rows = []
    for n in range(count):
        day = first + timedelta(days=n)
        row = {
            "patient": patient,
            "kind": Kind.DAILY_WALK,
            "channel": Channel.EMAIL,
            "day": day,
            "due_at": services.local_moment(day, time(9, 0)),
            "idempotency_key": f"test:{patient.pk}:walk:{day.isoformat()}:{Channel.EMAIL}",
        }
        rows.append(Reminder(**(row | fields)))
    return Reminder.objects.bulk_create(rows)


def texts(patient: Patient) -> list[Reminder]:
    return list(Reminder.objects.filter(patient=patient, channel=Channel.SMS))


def test_text_copies_are_made_and_brought_back_in_a_fixed_number_of_queries():
    one, many = a_patient(phone="07700 900123"), a_patient(phone="07700 900124")
    walk_emails(one, 1)
    walk_emails(many, MANY)

    def texts_on(patient: Patient) -> Callable[[], object]:
        return lambda: preferences.sms_kinds_set(patient=patient, kinds=[Kind.DAILY_WALK])

    # Made: one text copy for each email still waiting.
    assert queries(texts_on(many)) == queries(texts_on(one))
    assert len(texts(many)) == MANY
    assert {text.status for text in texts(many)} == {Status.PENDING}

    # Turned off, then on again: the same copies come back.
    for patient in (one, many):
        preferences.sms_kinds_set(patient=patient, kinds=[])
    assert {text.status for text in texts(many)} == {Status.CANCELLED}
    assert queries(texts_on(many)) == queries(texts_on(one))
    assert len(texts(many)) == MANY
    assert {text.status for text in texts(many)} == {Status.PENDING}


def test_walk_reminders_turned_on_again_come_back_in_a_fixed_number_of_queries():
    one, many = a_patient(), a_patient()
    for patient, count in ((one, 1), (many, MANY)):
        walk_emails(patient, count, status=Status.CANCELLED, last_error=preferences.WALK_OFF_REASON)

    def walks_on(patient: Patient) -> Callable[[], object]:
        return lambda: preferences.walk_reminders_set(
            patient=patient, walk_time=time(10, 30), enabled=True
        )

    assert queries(walks_on(many)) == queries(walks_on(one))
    restored = Reminder.objects.filter(patient=many)
    assert {(r.status, r.last_error) for r in restored} == {(Status.PENDING, "")}
    for reminder in restored:
        assert reminder.day is not None
        assert reminder.due_at == services.local_moment(reminder.day, time(10, 30))


def test_failed_reminders_are_tried_again_in_a_fixed_number_of_queries():
    one, many = a_patient(), a_patient()
    ids: dict[int, list[int]] = {}
    for patient, count in ((one, 1), (many, MANY)):
        made = walk_emails(patient, count, status=Status.FAILED, attempts=5, last_error="timeout")
        ids[patient.pk] = [r.pk for r in made]

    def retry(patient: Patient) -> Callable[[], object]:
        return lambda: preferences.reminders_retry(reminder_ids=ids[patient.pk])

    assert queries(retry(many)) == queries(retry(one))
    retried = Reminder.objects.filter(patient=many)
    assert {(r.status, r.attempts, r.claimed_at) for r in retried} == {(Status.PENDING, 0, None)}
    assert {r.last_error for r in retried} == {"Tried again after: timeout"}


def test_trying_again_moves_only_failed_reminders_and_cuts_the_note():
    patient = a_patient()
    failed, sent = walk_emails(patient, 2, status=Status.FAILED, last_error="x" * 3000)
    Reminder.objects.filter(pk=sent.pk).update(status=Status.SENT, sent_at=timezone.now())
    assert preferences.reminders_retry(reminder_ids=[failed.pk, sent.pk]) == 1
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert failed.status == Status.PENDING
    assert failed.last_error == ("Tried again after: " + "x" * 3000)[:2000]
    assert sent.status == Status.SENT
