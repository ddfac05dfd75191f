"""Reminder settings people change: a patient's own choices, and an admin's "try again".

Rules:
- The walk reminder time is local; pending walk reminders move to it (``walk_time_set``).
  Turning the walk reminders back on brings back the ones still ahead that turning them
  off had stopped.
- A kind is also sent by text message only when the patient has a phone number on their
  profile. Choosing a kind adds a text to every email of that kind still waiting to go;
  dropping it stops the texts still waiting.
- Starting a kind again after unsubscribing brings back its reminders still ahead.
- A failed reminder is tried again from scratch: pending, no attempts counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import time

from django.db import transaction
from django.db.models import TextField, Value
from django.db.models.functions import Concat, Left
from django.utils import timezone

from clinic.errors import DomainError
from patients.models import Patient

from . import services
from .models import CheckIn, Reminder, ReminderPreference

Kind = Reminder.Kind
Channel = Reminder.Channel
Status = Reminder.Status

WALK_OFF_REASON = "Walk reminders turned off"
UNSUBSCRIBED_REASON = "Unsubscribed"
SMS_OFF_REASON = "Text messages turned off"
# The note a retried reminder keeps of its last error is cut to this many characters.
RETRY_NOTE_LENGTH = 2000


@transaction.atomic
def walk_reminders_set(*, patient: Patient, walk_time: time, enabled: bool) -> ReminderPreference:
    """Set the walk reminder time and switch; pending reminders follow (``walk_time_set``),
    and switching them on again restores the days still ahead that are not yet walked."""
    preference = services.walk_time_set(patient=patient, walk_time=walk_time, enabled=enabled)
    if not enabled or Kind.DAILY_WALK in preference.unsubscribed_kinds:
        return preference
    now = timezone.now()
    stopped = Reminder.objects.select_for_update().filter(
        patient=patient,
        kind=Kind.DAILY_WALK,
        status=Status.CANCELLED,
        last_error=WALK_OFF_REASON,
        day__isnull=False,
    )
    walked = set(
        CheckIn.objects.filter(plan__patient=patient, walked=True).values_list("plan_id", "day")
    )
    restored = []
    for reminder in stopped:
        if reminder.day is None:  # never: filtered above
            continue
        due = services.local_moment(reminder.day, walk_time)
        if due <= now or (reminder.plan_id, reminder.day) in walked:
            continue
        reminder.status = Status.PENDING
        reminder.due_at = due
        reminder.last_error = ""
        restored.append(reminder)
    # One UPDATE for all of them (each keeps its own due time), not one per day.
    Reminder.objects.bulk_update(restored, ["status", "due_at", "last_error"])
    return preference


def _sms_copy_key(email_key: str) -> str:
    base = email_key.removesuffix(f":{Channel.EMAIL}")
    return f"{base}:{Channel.SMS}"


def _sms_copies(patient: Patient, kinds: set[str]) -> None:
    """An SMS copy of every email reminder of these kinds still waiting: new ones made,
    copies cancelled earlier brought back. A fixed number of queries however many."""
    waiting = {
        _sms_copy_key(email.idempotency_key): email
        for email in Reminder.objects.filter(
            patient=patient, kind__in=kinds, channel=Channel.EMAIL, status=Status.PENDING
        )
    }
    if not waiting:
        return
    existing = {
        sms.idempotency_key: sms
        for sms in Reminder.objects.filter(idempotency_key__in=list(waiting))
    }
    Reminder.objects.bulk_create(
        [
            Reminder(
                idempotency_key=key,
                patient=patient,
                kind=email.kind,
                channel=Channel.SMS,
                due_at=email.due_at,
                appointment_id=email.appointment_id,
                plan_id=email.plan_id,
                waiting_entry_id=email.waiting_entry_id,
                day=email.day,
            )
            for key, email in waiting.items()
            if key not in existing
        ],
        ignore_conflicts=True,  # made meanwhile by another request: kept as it is
    )
    revived = []
    for key, sms in existing.items():
        if sms.status == Status.CANCELLED:
            sms.status = Status.PENDING
            sms.due_at = waiting[key].due_at
            sms.last_error = ""
            revived.append(sms)
    Reminder.objects.bulk_update(revived, ["status", "due_at", "last_error"])


@transaction.atomic
def sms_kinds_set(*, patient: Patient, kinds: Iterable[str]) -> ReminderPreference:
    """Which kinds of reminder also come as a text message (needs a phone number)."""
    chosen = set(kinds)
    if chosen - set(Kind.values):
        raise DomainError("Unknown kind of reminder.")
    if chosen and not patient.phone.strip():
        raise DomainError(
            "We have no phone number for you, so we cannot send text messages. Please add "
            "your mobile number on the 'My details' page, then choose text messages again."
        )
    preference = services.preference_for(patient)
    preference = ReminderPreference.objects.select_for_update().get(pk=preference.pk)
    before = set(preference.sms_kinds)
    preference.sms_kinds = [kind for kind in Kind.values if kind in chosen]
    preference.save(update_fields=["sms_kinds"])

    added = chosen - before
    if added:
        _sms_copies(patient, added)
    removed = before - chosen
    if removed:
        Reminder.objects.filter(
            patient=patient, kind__in=removed, channel=Channel.SMS, status=Status.PENDING
        ).update(status=Status.CANCELLED, last_error=SMS_OFF_REASON)
    return preference


@transaction.atomic
def reminder_resubscribe(*, patient: Patient, kind: str) -> ReminderPreference:
    """Start a kind of message again; its reminders still ahead come back."""
    if kind not in Kind.values:
        raise DomainError("Unknown kind of reminder.")
    preference = services.preference_for(patient)
    preference = ReminderPreference.objects.select_for_update().get(pk=preference.pk)
    if kind not in preference.unsubscribed_kinds:
        return preference
    preference.unsubscribed_kinds = [k for k in preference.unsubscribed_kinds if k != kind]
    preference.save(update_fields=["unsubscribed_kinds"])
    restored = Reminder.objects.filter(
        patient=patient,
        kind=kind,
        status=Status.CANCELLED,
        last_error=UNSUBSCRIBED_REASON,
        due_at__gt=timezone.now(),
    )
    if kind not in preference.sms_kinds or not patient.phone.strip():
        restored = restored.exclude(channel=Channel.SMS)
    restored.update(status=Status.PENDING, last_error="")
    return preference


def reminders_retry(*, reminder_ids: Iterable[int]) -> int:
    """Failed reminders go back to the outbox to be tried again from the first attempt.
    Only failed ones move: a reminder sent, waiting or cancelled is left as it is.

    One UPDATE, whatever the number: it locks the rows it changes, and the status is
    checked again under the lock, so a reminder changed meanwhile is left alone."""
    return Reminder.objects.filter(pk__in=list(reminder_ids), status=Status.FAILED).update(
        status=Status.PENDING,
        attempts=0,
        claimed_at=None,
        last_error=Left(
            Concat(Value("Tried again after: "), "last_error", output_field=TextField()),
            RETRY_NOTE_LENGTH,
        ),
    )
