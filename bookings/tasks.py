"""Celery tasks of the booking app: the emails about an appointment."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval

from . import emails

logger = logging.getLogger(__name__)

# A mail server that refuses is tried again: after 30 s, doubling, at most 30 minutes.
MAX_TRIES = 6
RETRY_BACKOFF_SECONDS = 30
RETRY_BACKOFF_MAX_SECONDS = 30 * 60


@shared_task(
    name="bookings.tasks.send_appointment_email",
    bind=True,
    max_retries=MAX_TRIES - 1,
    ignore_result=True,
)
def send_appointment_email(self: Task, pk: int, link: str, kind: str) -> None:
    """Email the patient about their appointment (``kind``: booked, moved, cancelled).

    Runs after the change is committed. If the mail server fails, the task is tried again
    later; after the last try the failure is logged. An appointment that no longer exists
    or a patient without an email address is simply skipped."""
    if kind not in emails.KINDS:
        logger.error("Unknown appointment email %r for appointment %s", kind, pk)
        return
    try:
        emails.send_appointment_email(pk, link, kind=kind)
    except Exception as error:
        if self.request.retries >= MAX_TRIES - 1:
            logger.exception("Gave up sending the %s email for appointment %s", kind, pk)
            return
        countdown = get_exponential_backoff_interval(
            factor=RETRY_BACKOFF_SECONDS,
            retries=self.request.retries,
            maximum=RETRY_BACKOFF_MAX_SECONDS,
            full_jitter=True,
        )
        raise self.retry(exc=error, countdown=countdown) from error
