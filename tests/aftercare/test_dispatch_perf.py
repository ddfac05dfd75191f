"""Reminders sent in batches: the guarantees of one task per reminder, at a fixed cost.

- Each reminder of a batch is sent once, and a batch delivered again sends nothing more.
- A failed delivery is recorded (the attempts add up, and after five the row is failed)
  and only the failed reminders are tried again; the rest of the batch goes on.
- A batch that runs out of time passes the rest to a new task.
- What a batch read about its reminders is read again once it is older than its limit.
- The database work is a few queries per batch plus a fixed number per reminder.
- Worker processes keep their database connection between tasks.
"""

from __future__ import annotations

import uuid
from smtplib import SMTPRecipientsRefused
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as MemoryEmailBackend
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aftercare import services, tasks
from aftercare.models import Reminder, ReminderPreference

from ..factories import PatientFactory

pytestmark = pytest.mark.django_db

Kind = Reminder.Kind
REFUSED = "refuse-me"  # a local part the refusing backend will not deliver to


class RefusingEmailBackend(MemoryEmailBackend):
    """In-memory email that refuses recipients whose address starts with ``REFUSED``, and
    counts how often its connection was closed."""

    closed = 0

    def send_messages(self, messages: Any) -> int:
        for message in messages:
            refused = [to for to in message.to if to.startswith(REFUSED)]
            if refused:
                raise SMTPRecipientsRefused(dict.fromkeys(refused, (550, b"No such user")))
        return super().send_messages(messages)

    def close(self) -> None:
        type(self).closed += 1
        super().close()


class UnsubscribingEmailBackend(MemoryEmailBackend):
    """In-memory email after which the patient at once stops that kind of message."""

    def send_messages(self, messages: Any) -> int:
        sent = super().send_messages(messages)
        for message in messages:
            ReminderPreference.objects.filter(patient__user__email__in=message.to).update(
                unsubscribed_kinds=[Kind.REASSESSMENT_INVITATION]
            )
        return sent


def claimed(count: int, *, patients: list | None = None) -> list[int]:
    """``count`` reminders claimed for sending, spread over a few patients."""
    patients = patients or PatientFactory.create_batch(min(count, 3))
    for patient in patients:
        services.preference_for(patient)
    Reminder.objects.bulk_create(
        [
            Reminder(
                patient=patients[i % len(patients)],
                kind=Kind.REASSESSMENT_INVITATION,
                due_at=timezone.now() - timezone.timedelta(minutes=1),
                idempotency_key=f"batch:{uuid.uuid4().hex}",
            )
            for i in range(count)
        ]
    )
    return services.reminders_claim_due(limit=1000)


def sent_keys() -> list[str]:
    return [message.extra_headers["X-Veinline-Reminder"] for message in mail.outbox]


def test_a_batch_sends_each_reminder_once_even_when_delivered_again():
    ids = claimed(5)
    outcomes = services.reminders_send(reminder_ids=ids)
    assert {outcome.status for outcome in outcomes.values()} == {"sent"}
    assert set(outcomes) == set(ids)
    again = services.reminders_send(reminder_ids=ids)
    assert {outcome.status for outcome in again.values()} == {"sent"}
    assert len(mail.outbox) == 5
    assert len(set(sent_keys())) == 5
    assert set(Reminder.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}


def test_a_batch_skips_missing_and_cancelled_reminders():
    ids = claimed(3)
    Reminder.objects.filter(pk=ids[1]).update(status="cancelled")
    outcomes = services.reminders_send(reminder_ids=[*ids, 999_999_999])
    assert outcomes[ids[1]].status == "cancelled"
    assert outcomes[999_999_999].status == "missing"
    assert [outcomes[ids[0]].status, outcomes[ids[2]].status] == ["sent", "sent"]
    assert len(mail.outbox) == 2


@override_settings(EMAIL_BACKEND="tests.aftercare.test_dispatch_perf.RefusingEmailBackend")
def test_a_failed_delivery_is_recorded_and_the_rest_of_the_batch_goes_on():
    refused = PatientFactory(user__email=f"{REFUSED}@example.org")
    ids = claimed(4, patients=[refused, PatientFactory()])
    closed_before = RefusingEmailBackend.closed
    outcomes = services.reminders_send(reminder_ids=ids)
    failed = [i for i, outcome in outcomes.items() if outcome.error]
    assert len(failed) == 2
    assert "SMTPRecipientsRefused" in outcomes[failed[0]].error
    assert len(mail.outbox) == 2
    # Committed, not rolled back with the error: the attempt counts.
    rows = Reminder.objects.filter(pk__in=failed)
    assert {(r.status, r.attempts) for r in rows} == {("sending", 1)}
    assert all("SMTPRecipientsRefused" in r.last_error for r in rows)
    # A fresh connection after each failure (and the batch's own one closed at the end).
    assert RefusingEmailBackend.closed - closed_before >= 3


@override_settings(EMAIL_BACKEND="tests.aftercare.test_dispatch_perf.RefusingEmailBackend")
def test_one_reminder_that_fails_raises_for_a_retry_after_recording_the_attempt():
    refused = PatientFactory(user__email=f"{REFUSED}@example.org")
    (reminder_id,) = claimed(1, patients=[refused])
    with pytest.raises(services.SendFailed, match="SMTPRecipientsRefused"):
        services.reminder_send(reminder_id=reminder_id)
    assert Reminder.objects.get(pk=reminder_id).attempts == 1


@override_settings(EMAIL_BACKEND="tests.aftercare.test_dispatch_perf.RefusingEmailBackend")
def test_only_failed_reminders_are_tried_again_and_fail_after_five_attempts():
    refused = PatientFactory(user__email=f"{REFUSED}@example.org")
    ids = claimed(3, patients=[refused, PatientFactory(), PatientFactory()])
    calls: list[list[int]] = []
    real = services.reminders_send

    def spy(*, reminder_ids: list[int], deadline: float | None = None) -> Any:
        calls.append(list(reminder_ids))
        return real(reminder_ids=reminder_ids, deadline=deadline)

    with mock.patch.object(services, "reminders_send", spy):
        tasks.send_reminders.apply(args=(ids,))  # eager: the retries run at once
    bad = Reminder.objects.get(patient=refused)
    assert calls == [ids] + [[bad.pk]] * (services.MAX_ATTEMPTS - 1)
    assert (bad.status, bad.attempts) == ("failed", services.MAX_ATTEMPTS)
    assert "SMTPRecipientsRefused" in bad.last_error
    others = Reminder.objects.filter(pk__in=ids).exclude(pk=bad.pk)
    assert {(r.status, r.attempts) for r in others} == {("sent", 1)}
    assert len(mail.outbox) == 2


@override_settings(REMINDER_SEND_BATCH_SIZE=2)
def test_dispatch_hands_the_claimed_reminders_out_in_batches():
    ids = claimed(5)
    Reminder.objects.filter(pk__in=ids).update(status="pending")
    with mock.patch.object(tasks.send_reminders, "apply_async") as publish:
        assert tasks.dispatch_due_reminders(queue="reminders-test") == 5
    batches = [call.kwargs["args"][0] for call in publish.call_args_list]
    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert sorted(sum(batches, [])) == sorted(ids)
    assert {call.kwargs["queue"] for call in publish.call_args_list} == {"reminders-test"}
    assert {call.kwargs["retry"] for call in publish.call_args_list} == {False}


@override_settings(REMINDER_DISPATCH_LIMIT=3, REMINDER_SEND_BATCH_SIZE=50)
def test_one_dispatch_run_claims_at_most_the_configured_number():
    ids = claimed(5)
    Reminder.objects.filter(pk__in=ids).update(status="pending")
    with mock.patch.object(tasks.send_reminders, "apply_async") as publish:
        assert tasks.dispatch_due_reminders() == 3
        assert tasks.dispatch_due_reminders() == 2  # the rest on the next run
    assert sorted(sum((call.kwargs["args"][0] for call in publish.call_args_list), [])) == sorted(
        ids
    )


@override_settings(REMINDER_SEND_BATCH_SECONDS=0)
def test_a_batch_out_of_time_passes_the_rest_to_a_new_task():
    ids = claimed(3)
    with mock.patch.object(tasks.send_reminders, "apply_async") as publish:
        tasks.send_reminders.apply(args=(ids,))
    assert Reminder.objects.get(pk=ids[0]).status == "sent"
    publish.assert_called_once()
    assert publish.call_args.kwargs["args"] == (ids[1:],)
    assert set(Reminder.objects.filter(pk__in=ids[1:]).values_list("status", flat=True)) == {
        "sending"
    }


@override_settings(EMAIL_BACKEND="tests.aftercare.test_dispatch_perf.UnsubscribingEmailBackend")
def test_what_a_batch_read_is_read_again_once_older_than_its_limit(monkeypatch):
    patient = PatientFactory()
    ids = claimed(2, patients=[patient])
    monkeypatch.setattr(services, "ABOUT_MAX_AGE_SECONDS", 0.0)
    outcomes = services.reminders_send(reminder_ids=ids)
    assert [outcomes[i].status for i in ids] == ["sent", "cancelled"]
    assert Reminder.objects.get(pk=ids[1]).last_error == "Unsubscribed"


def test_a_batch_runs_a_fixed_number_of_queries_plus_one_per_reminder():
    def queries(count: int) -> int:
        ids = claimed(count)
        with CaptureQueriesContext(connection) as captured:
            services.reminders_send(reminder_ids=ids)
        assert len(mail.outbox) == count
        mail.outbox.clear()
        return len(captured)

    one, twenty = queries(1), queries(20)
    # Per batch: what it is about (two queries). Per reminder: one statement that locks
    # it and marks it sent, in a transaction of its own (inside a test's transaction that
    # is a savepoint, created and released: two more).
    per_reminder = 3
    assert one <= 2 + per_reminder, one
    assert twenty - one == 19 * per_reminder, (one, twenty)


def test_marking_sent_takes_only_reminders_still_to_send():
    ids = claimed(2)
    Reminder.objects.filter(pk=ids[1]).update(status="cancelled")
    rows = {r.pk: r for r in Reminder.objects.filter(pk__in=ids)}
    now = timezone.now()
    with transaction.atomic():
        assert services._mark_sent(rows[ids[0]], now) is True
        assert services._mark_sent(rows[ids[1]], now) is False
    sent = Reminder.objects.get(pk=ids[0])
    assert (sent.status, sent.attempts, sent.sent_at) == ("sent", 1, now)
    assert sent.provider_id == f"email:{sent.idempotency_key}"
    assert Reminder.objects.get(pk=ids[1]).status == "cancelled"
    with transaction.atomic():
        assert services._mark_sent(rows[ids[0]], now) is False  # already sent


@override_settings(EMAIL_BACKEND="tests.aftercare.test_dispatch_perf.RefusingEmailBackend")
def test_a_failed_delivery_leaves_the_row_unmarked_apart_from_the_attempt():
    refused = PatientFactory(user__email=f"{REFUSED}@example.org")
    (reminder_id,) = claimed(1, patients=[refused])
    services.reminders_send(reminder_ids=[reminder_id])
    row = Reminder.objects.get(pk=reminder_id)
    assert (row.status, row.attempts, row.sent_at, row.provider_id) == ("sending", 1, None, "")


# --- worker database connections ------------------------------------------------------------


def test_a_worker_keeps_its_database_connection_between_tasks():
    from celery import signals

    from clinic.celery import app, close_old_database_connections, keep_database_connections

    database = settings.DATABASES["default"]
    before = (database.get("CONN_MAX_AGE"), database.get("CONN_HEALTH_CHECKS"))
    try:
        with override_settings(WORKER_DB_CONN_MAX_AGE=120):
            keep_database_connections()
        assert database["CONN_MAX_AGE"] == 120
        assert database["CONN_HEALTH_CHECKS"] is True
        receivers = [r[1]() for r in signals.task_postrun.receivers]
        assert close_old_database_connections in receivers
    finally:
        database["CONN_MAX_AGE"], database["CONN_HEALTH_CHECKS"] = before
        signals.task_prerun.disconnect(close_old_database_connections)
        signals.task_postrun.disconnect(close_old_database_connections)
    # Celery's own fixup then leaves the connection open between tasks.
    assert app.conf.db_reuse_max == settings.CELERY_DB_REUSE_MAX
    assert settings.CELERY_DB_REUSE_MAX


def test_worker_connections_are_left_alone_when_turned_off():
    from clinic.celery import keep_database_connections

    database = settings.DATABASES["default"]
    before = database.get("CONN_MAX_AGE")
    with override_settings(WORKER_DB_CONN_MAX_AGE=0):
        keep_database_connections()
    assert database.get("CONN_MAX_AGE") == before


def test_old_connections_are_closed_around_worker_tasks_but_not_eager_ones():
    from clinic.celery import close_old_database_connections

    eager = mock.Mock(request=mock.Mock(is_eager=True))
    queued = mock.Mock(request=mock.Mock(is_eager=False))
    with mock.patch("django.db.close_old_connections") as close:
        close_old_database_connections(sender=eager)
        close.assert_not_called()
        close_old_database_connections(sender=queued)
        close.assert_called_once_with()
