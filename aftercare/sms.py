"""Text messages through a small backend interface.

The default backend writes the message to the log (development and tests). To use a
provider, write a class with ``send(to, text) -> str`` (the provider's message id) and set
``SMS_BACKEND`` to its dotted path; see docs/reminders.md.
"""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# Messages sent by the in-memory backend (tests read it, like Django's mail.outbox).
outbox: list[tuple[str, str]] = []


class SmsBackend(Protocol):
    def send(self, to: str, text: str) -> str: ...


class ConsoleSmsBackend:
    """Logs the message; nothing leaves the machine."""

    def send(self, to: str, text: str) -> str:
        logger.info("SMS to %s: %s", to, text)
        return f"console-{uuid.uuid4().hex}"


class MemorySmsBackend:
    """Keeps messages in ``aftercare.sms.outbox`` (for tests)."""

    def send(self, to: str, text: str) -> str:
        outbox.append((to, text))
        return f"memory-{len(outbox)}"


def send_sms(*, to: str, text: str) -> str:
    backend: SmsBackend = import_string(settings.SMS_BACKEND)()
    return backend.send(to, text)
