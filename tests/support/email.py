"""Email backends for tests that run a real Celery worker in another process."""

from __future__ import annotations

import os
import time

from django.core.mail.backends.filebased import EmailBackend as FileEmailBackend


class SlowFileEmailBackend(FileEmailBackend):
    """Writes each message to a file, after waiting ``SLOW_EMAIL_SECONDS`` (so a test can
    kill the worker in the middle of sending)."""

    def send_messages(self, email_messages):  # type: ignore[no-untyped-def]
        time.sleep(float(os.environ.get("SLOW_EMAIL_SECONDS", "0")))
        return super().send_messages(email_messages)
