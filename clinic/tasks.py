"""Clinic-wide Celery tasks: a heartbeat for beat, a ping for round-trip checks, and a
no-op for benchmarks."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task(name="clinic.tasks.heartbeat", ignore_result=True)
def heartbeat() -> str:
    """Logs that beat and a worker are alive; safe to run any number of times."""
    now = timezone.now().isoformat()
    logger.info("heartbeat %s", now)
    return now


@shared_task(name="clinic.tasks.ping")
def ping(token: str) -> str:
    """Echo a token back: proves a message went through the broker to a worker."""
    return f"pong:{token}"


@shared_task(name="clinic.tasks.noop", ignore_result=True)
def noop() -> None:
    """Does nothing: a task's cost to the broker and the worker alone, the ceiling that
    benchmarks compare real tasks with (bench/reminders_dispatch.py)."""


@shared_task(name="clinic.tasks.clear_expired_sessions", ignore_result=True)
def clear_expired_sessions() -> int:
    """Delete the sessions that have expired, as Django's ``clearsessions`` would, and
    their cached copies with them (decision 0006). Beat runs it once a day; without it the
    session table only grows. Returns how many were deleted."""
    from qsessions.models import Session

    from .sessions import end_sessions

    count = end_sessions(Session.objects.filter(expire_date__lt=timezone.now()))
    logger.info("expired sessions deleted: %s", count)
    return count
