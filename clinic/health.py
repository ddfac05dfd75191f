"""Checks behind /healthz: does the database answer, does the broker answer?

Each check is bounded (about HEALTHZ_TIMEOUT_SECONDS) so that a load balancer's probe
never hangs on a dead dependency.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection
from kombu import Connection


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str = ""


def check_database() -> CheckResult:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return CheckResult(False, type(exc).__name__)
    return CheckResult(True)


def check_broker() -> CheckResult:
    url: str = settings.CELERY_BROKER_URL
    timeout = settings.HEALTHZ_TIMEOUT_SECONDS
    if url.startswith("filesystem://"):
        return _check_filesystem_broker(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    options = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
    }
    try:
        with Connection(url, connect_timeout=timeout, transport_options=options) as conn:
            conn.ensure_connection(max_retries=0, timeout=timeout)
            # A TCP accept is not an answer: ask the broker for something.
            client = getattr(conn.default_channel, "client", None)
            if client is not None:
                client.ping()
    except Exception as exc:
        return CheckResult(False, type(exc).__name__)
    return CheckResult(True)


def _check_filesystem_broker(options: dict[str, object]) -> CheckResult:
    folder = Path(str(options.get("data_folder_in", "")))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return CheckResult(False, type(exc).__name__)
    if not os.access(folder, os.W_OK):
        return CheckResult(False, "broker folder is not writable")
    return CheckResult(True)
