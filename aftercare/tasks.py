"""Thin Celery tasks over the reminder outbox: safe to run twice, no ETAs."""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings

from . import services

logger = logging.getLogger(__name__)

# Backoff between tries of a failed delivery: 30 s, doubling, at most 30 minutes, jittered.
RETRY_BACKOFF_SECONDS = 30
RETRY_BACKOFF_MAX_SECONDS = 30 * 60


@shared_task(name="aftercare.tasks.dispatch_due_reminders", ignore_result=True)
def dispatch_due_reminders(
    limit: int | None = None, queue: str | None = None, batch_size: int | None = None
) -> int:
    """Claim due reminders and hand them to ``send_reminders`` in batches (of
    ``REMINDER_SEND_BATCH_SIZE``). Run by beat every minute.

    A batch is one message for many reminders: the broker and worker overhead is paid once
    per batch, while each reminder keeps its own row lock and transaction. If the broker
    refuses a hand-over, the rows stay claimed and are claimed again after
    ``REMINDER_STALE_CLAIM_SECONDS``: nothing is lost.
    """
    ids = services.reminders_claim_due(limit=limit or settings.REMINDER_DISPATCH_LIMIT)
    size = max(1, batch_size or settings.REMINDER_SEND_BATCH_SIZE)
    for start in range(0, len(ids), size):
        # No retries here: with the broker down the beat run fails fast and the rows are
        # claimed again later, instead of this task hanging on the connection.
        _hand_over(ids[start : start + size], queue)
    return len(ids)


def _hand_over(reminder_ids: list[int], queue: str | None) -> None:
    """Publish a batch to ``send_reminders`` (on ``queue`` when given, else the default)."""
    options: dict[str, Any] = {"retry": False}
    if queue:
        options["queue"] = queue
    send_reminders.apply_async(args=(reminder_ids,), **options)


@shared_task(
    name="aftercare.tasks.send_reminders",
    bind=True,
    max_retries=services.MAX_ATTEMPTS,
    ignore_result=True,
)
def send_reminders(self: Task, reminder_ids: list[int]) -> int:
    """Send a batch of claimed reminders, each at most once.

    Reminders whose delivery failed are tried again together, with exponential backoff;
    the others are done. A batch that runs past ``REMINDER_SEND_BATCH_SECONDS`` (a slow
    mail server) hands the rest to a new task, well before the task time limit stops it.
    """
    deadline = time.monotonic() + settings.REMINDER_SEND_BATCH_SECONDS
    outcomes = services.reminders_send(reminder_ids=reminder_ids, deadline=deadline)
    rest = [reminder_id for reminder_id in reminder_ids if reminder_id not in outcomes]
    if rest:
        delivery = self.request.delivery_info or {}
        _hand_over(rest, delivery.get("routing_key"))
    failed = [reminder_id for reminder_id, outcome in outcomes.items() if outcome.error]
    if failed:
        countdown = get_exponential_backoff_interval(
            factor=RETRY_BACKOFF_SECONDS,
            retries=self.request.retries,
            maximum=RETRY_BACKOFF_MAX_SECONDS,
            full_jitter=True,
        )
        error = services.SendFailed(outcomes[failed[0]].error)
        raise self.retry(args=(failed,), countdown=countdown, exc=error)
    return len(outcomes)


@shared_task(
    name="aftercare.tasks.send_reminder",
    bind=True,
    autoretry_for=(services.SendFailed,),
    retry_backoff=RETRY_BACKOFF_SECONDS,
    retry_backoff_max=RETRY_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=services.MAX_ATTEMPTS,
    ignore_result=True,
)
def send_reminder(self: Task, reminder_id: int) -> str:
    """One reminder (the message format before batches; kept for messages still queued)."""
    return services.reminder_send(reminder_id=reminder_id)
