"""Thin Celery tasks over the reminder outbox: safe to run twice, no ETAs."""

from __future__ import annotations

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="aftercare.tasks.dispatch_due_reminders", ignore_result=True)
def dispatch_due_reminders(limit: int = 500, queue: str | None = None) -> int:
    """Claim due reminders and hand each to ``send_reminder``. Run by beat every minute.

    If the broker refuses a hand-over, the row stays claimed and is claimed again after
    ``REMINDER_STALE_CLAIM_SECONDS``: nothing is lost.
    """
    ids = services.reminders_claim_due(limit=limit)
    for reminder_id in ids:
        # No retries here: with the broker down the beat run fails fast and the rows are
        # claimed again later, instead of this task hanging on the connection.
        if queue:
            send_reminder.apply_async(args=(reminder_id,), retry=False, queue=queue)
        else:
            send_reminder.apply_async(args=(reminder_id,), retry=False)
    return len(ids)


@shared_task(
    name="aftercare.tasks.send_reminder",
    bind=True,
    autoretry_for=(services.SendFailed,),
    retry_backoff=30,
    retry_backoff_max=30 * 60,
    retry_jitter=True,
    max_retries=services.MAX_ATTEMPTS,
    ignore_result=True,
)
def send_reminder(self, reminder_id: int) -> str:
    return services.reminder_send(reminder_id=reminder_id)
