"""Aftercare plans, check-ins, and the reminder outbox: scheduling, claiming, sending.

Rules:
- A plan is made when a session is completed, in the same transaction: stockings on each
  treated leg from the session to the end of day 7 (no swimming while they are on), a walk
  of at least the treatment's daily minutes every day until the next session's window
  opens, the symptoms that need a call, and the consultant's extra instructions.
- Reminders are outbox rows created in the transaction of their cause; a beat task claims
  due rows (``SELECT … FOR UPDATE SKIP LOCKED``) and send tasks deliver them in batches,
  each reminder in its own transaction, holding its row's lock while it sends and marking
  it sent in that transaction, so a task delivered twice sends once. Nothing is scheduled
  as a Celery ETA.
- A warning symptom flags the course for the consultant at once.
"""

from __future__ import annotations

import contextlib
import logging
import time as time_module
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import mail, signing
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment, WaitingListEntry
from clinic.errors import DomainError
from patients.models import Patient
from treatments.models import Course, Legs, SessionRecord

from .models import (
    WARNING_SYMPTOMS,
    AftercarePlan,
    CheckIn,
    CourseFlag,
    Reminder,
    ReminderPreference,
)
from .sms import send_sms

logger = logging.getLogger(__name__)

Kind = Reminder.Kind
Status = Reminder.Status

MAX_ATTEMPTS = 5
QUIET_HOURS = (time(21, 0), time(8, 0))  # no SMS in these local hours; moved to 08:00
CHECK_IN_SALT = "aftercare.check-in"
CHECK_IN_ACTIONS = ("walked", "stockings_on")


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.CLINIC_TIME_ZONE)


def local_moment(day: date, clock: time) -> datetime:
    """An aware instant for a local wall-clock time; in the hour skipped in spring it is
    the same clock time after the change (01:30 becomes 02:30)."""
    return datetime.combine(day, clock, tzinfo=_zone()).astimezone(ZoneInfo("UTC"))


def preference_for(patient: Patient) -> ReminderPreference:
    preference, _ = ReminderPreference.objects.get_or_create(patient=patient)
    return preference


# --- scheduling -------------------------------------------------------------------------------


def _schedule(
    *,
    patient: Patient,
    kind: str,
    due_at: datetime,
    key: str,
    preference: ReminderPreference | None = None,
    **about: object,
) -> list[Reminder]:
    """Create the reminder (email, and SMS where the patient asked for it) unless it exists
    or the patient unsubscribed from the kind. Idempotent by key.

    Callers that make several reminders pass the patient's ``preference``, read once,
    instead of one read per reminder."""
    if preference is None:
        preference = preference_for(patient)
    if kind in preference.unsubscribed_kinds:
        return []
    channels = [Reminder.Channel.EMAIL]
    if kind in preference.sms_kinds and patient.phone:
        channels.append(Reminder.Channel.SMS)
    made = []
    for channel in channels:
        reminder, _ = Reminder.objects.get_or_create(
            idempotency_key=f"{key}:{channel}",
            defaults={
                "patient": patient,
                "kind": kind,
                "channel": channel,
                "due_at": due_at,
                **about,
            },
        )
        made.append(reminder)
    return made


def _schedule_all(
    *,
    patient: Patient,
    preference: ReminderPreference,
    wanted: Sequence[tuple[str, datetime, str]],
    days: Sequence[date | None] = (),
    **about: object,
) -> None:
    """Several reminders (kind, due, key) as ``_schedule`` makes them, in one insert: a
    key already there (made before, or at the same moment by another process) is left as
    it is, so running this twice makes each reminder once. ``days``, when given, is each
    reminder's own ``day`` (an aftercare plan's)."""
    rows = []
    for number, (kind, due_at, key) in enumerate(wanted):
        if days:
            about = {**about, "day": days[number]}
        if kind in preference.unsubscribed_kinds:
            continue
        channels = [Reminder.Channel.EMAIL]
        if kind in preference.sms_kinds and patient.phone:
            channels.append(Reminder.Channel.SMS)
        rows += [
            Reminder(
                idempotency_key=f"{key}:{channel}",
                patient=patient,
                kind=kind,
                channel=channel,
                due_at=due_at,
                **about,
            )
            for channel in channels
        ]
    if rows:
        Reminder.objects.bulk_create(rows, ignore_conflicts=True)


def reminders_for_appointment(*, appointment: Appointment) -> None:
    """Confirmation now, then 48 hours and 2 hours before (only what is still ahead)."""
    now = timezone.now()
    if appointment.start <= now or appointment.status != Appointment.Status.BOOKED:
        return
    stamp = appointment.start.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M")
    base = f"appointment:{appointment.pk}"
    wanted = [(Kind.APPOINTMENT_CONFIRMATION, now, f"{base}:confirmation")]
    for kind, before in (
        (Kind.APPOINTMENT_REMINDER_48H, timedelta(hours=48)),
        (Kind.APPOINTMENT_REMINDER_2H, timedelta(hours=2)),
    ):
        due = appointment.start - before
        if due > now:
            wanted.append((kind, due, f"{base}:{kind}:{stamp}"))
    _schedule_all(
        patient=appointment.patient,
        preference=preference_for(appointment.patient),
        wanted=wanted,
        appointment=appointment,
    )


def reminders_move_for_appointment(*, appointment: Appointment) -> None:
    """After a reschedule: pending reminders move with the appointment; those already
    sent stay sent, and the ones still ahead are made for the new time."""
    for reminder in Reminder.objects.select_for_update().filter(
        appointment=appointment,
        status=Status.PENDING,
        kind__in=[Kind.APPOINTMENT_REMINDER_48H, Kind.APPOINTMENT_REMINDER_2H],
    ):
        reminder.status = Status.CANCELLED
        reminder.last_error = "Appointment moved"
        reminder.save(update_fields=["status", "last_error"])
    reminders_for_appointment(appointment=appointment)


def reminders_cancel_for_appointment(*, appointment: Appointment) -> int:
    """A cancelled appointment sends nothing more."""
    pending = Reminder.objects.filter(
        appointment=appointment, status__in=[Status.PENDING, Status.SENDING]
    )
    count = 0
    for reminder in pending.select_for_update():
        reminder.status = Status.CANCELLED
        reminder.last_error = "Appointment cancelled"
        reminder.save(update_fields=["status", "last_error"])
        count += 1
    return count


def reminder_for_waiting_list_offer(*, entry: WaitingListEntry) -> None:
    if entry.offered_start is None:
        return
    stamp = entry.offered_start.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M")
    _schedule(
        patient=entry.patient,
        kind=Kind.WAITING_LIST_OFFER,
        due_at=timezone.now(),
        key=f"waiting:{entry.pk}:{stamp}",
        waiting_entry=entry,
    )


# --- aftercare plans ------------------------------------------------------------------------


@transaction.atomic
def aftercare_plan_create(*, session: SessionRecord, extra_instructions: str = "") -> AftercarePlan:
    """The plan for the days after a completed session, with its reminders."""
    course = session.course
    treatment = course.treatment
    day_one = timezone.localtime(session.appointment.start).date()
    walk_until = day_one + timedelta(days=course.min_gap_days - 1)
    plan, created = AftercarePlan.objects.get_or_create(
        session=session,
        defaults={
            "patient": course.patient,
            "course": course,
            "starts_on": day_one,
            "stockings_until": day_one + timedelta(days=treatment.stocking_days - 1),
            "stocking_legs": Legs.sides(session.legs_treated or course.legs),
            "walk_until": walk_until,
            "daily_walk_minutes": treatment.daily_walk_minutes,
            "extra_instructions": extra_instructions or course.plan_notes,
        },
    )
    if created:
        _plan_reminders(plan)
    return plan


def _plan_reminders(plan: AftercarePlan) -> None:
    """The plan's reminders (stockings off, each day's walk, the next window) in one
    insert: a session's completion used to make them one query at a time."""
    preference = preference_for(plan.patient)
    now = timezone.now()
    base = f"plan:{plan.pk}"
    wanted: list[tuple[str, datetime, str]] = []
    days: list[date | None] = []

    def want(kind: str, due: datetime, key: str, day: date) -> None:
        if due > now:
            wanted.append((kind, due, key))
            days.append(day)

    want(
        Kind.STOCKINGS_OFF,
        local_moment(plan.stockings_until, time(18, 0)),
        f"{base}:stockings_off",
        plan.stockings_until,
    )
    day = plan.starts_on + timedelta(days=1)
    while day <= plan.walk_until:
        want(
            Kind.DAILY_WALK,
            local_moment(day, preference.walk_time),
            f"{base}:walk:{day.isoformat()}",
            day,
        )
        day += timedelta(days=1)
    course = plan.course
    opens = plan.starts_on + timedelta(days=course.min_gap_days)
    if course.status == Course.Status.COMPLETED:
        kinds = [(Kind.REASSESSMENT_INVITATION, opens)]
    else:
        upper = plan.starts_on + timedelta(days=course.treatment.min_gap_days_highest)
        kinds = [(Kind.WINDOW_OPENS, opens), (Kind.WINDOW_UPPER_END, upper)]
    for kind, day in kinds:
        want(kind, local_moment(day, time(9, 0)), f"{base}:{kind}", day)
    _schedule_all(patient=plan.patient, preference=preference, wanted=wanted, days=days, plan=plan)


@transaction.atomic
def walk_time_set(*, patient: Patient, walk_time: time, enabled: bool = True) -> ReminderPreference:
    """The patient's walk reminder time; pending walk reminders move to it (or stop)."""
    preference = preference_for(patient)
    preference.walk_time = walk_time
    preference.walk_reminders = enabled
    preference.save(update_fields=["walk_time", "walk_reminders"])
    for reminder in Reminder.objects.select_for_update().filter(
        patient=patient, kind=Kind.DAILY_WALK, status=Status.PENDING
    ):
        if not enabled:
            reminder.status = Status.CANCELLED
            reminder.last_error = "Walk reminders turned off"
            reminder.save(update_fields=["status", "last_error"])
        elif reminder.day is not None:
            reminder.due_at = local_moment(reminder.day, walk_time)
            reminder.save(update_fields=["due_at"])
    return preference


@transaction.atomic
def reminder_unsubscribe(*, patient: Patient, kind: str) -> ReminderPreference:
    if kind not in Kind.values:
        raise DomainError("Unknown kind of reminder.")
    preference = preference_for(patient)
    if kind not in preference.unsubscribed_kinds:
        preference.unsubscribed_kinds = [*preference.unsubscribed_kinds, kind]
        preference.save(update_fields=["unsubscribed_kinds"])
    for reminder in Reminder.objects.filter(patient=patient, kind=kind, status=Status.PENDING):
        reminder.status = Status.CANCELLED
        reminder.last_error = "Unsubscribed"
        reminder.save(update_fields=["status", "last_error"])
    return preference


# --- check-ins ---------------------------------------------------------------------------------


def check_in_token(*, patient_id: int, day: date, action: str) -> str:
    """A signed token for a one-tap check-in: this patient, this day, this action only."""
    return signing.dumps({"p": patient_id, "d": day.isoformat(), "a": action}, salt=CHECK_IN_SALT)


def check_in_token_read(token: str, *, max_age: timedelta = timedelta(days=2)) -> dict:
    try:
        data = signing.loads(token, salt=CHECK_IN_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise DomainError("This link has expired. Open your aftercare page instead.") from exc
    except signing.BadSignature as exc:
        raise DomainError("This link is not valid.") from exc
    if data.get("a") not in CHECK_IN_ACTIONS:
        raise DomainError("This link is not valid.")
    return data


def plan_for_day(*, patient: Patient, day: date) -> AftercarePlan | None:
    """The patient's plan running on a day (the latest, if two overlap)."""
    return (
        AftercarePlan.objects.filter(patient=patient, starts_on__lte=day, walk_until__gte=day)
        .order_by("-starts_on")
        .first()
    )


@transaction.atomic
def check_in_record(
    *,
    patient: Patient,
    day: date,
    walked: bool | None = None,
    stockings_on: bool | None = None,
    bruising: bool | None = None,
    redness: bool | None = None,
    swelling: bool | None = None,
    pain_score: int | None = None,
    warning_symptoms: list[str] | None = None,
    notes: str | None = None,
) -> CheckIn:
    """Record (or add to) the patient's check-in for a day of their plan.

    Days in the future cannot be ticked. A warning symptom flags the course for the
    consultant at once.
    """
    today = timezone.localdate()
    if day > today:
        raise DomainError("You can only check in for today or earlier days.")
    plan = plan_for_day(patient=patient, day=day)
    if plan is None:
        raise DomainError("There is no aftercare plan running on that day.")
    if stockings_on is not None and day > plan.stockings_until:
        raise DomainError("Your stockings could already come off by that day.")
    if pain_score is not None and not 0 <= pain_score <= 10:
        raise DomainError("Score the pain from 0 (none) to 10 (the worst).")
    symptoms = list(warning_symptoms or [])
    unknown = [s for s in symptoms if s not in WARNING_SYMPTOMS]
    if unknown:
        raise DomainError("Unknown symptom.")
    check_in, _ = CheckIn.objects.select_for_update().get_or_create(plan=plan, day=day)
    for name, value in {
        "walked": walked,
        "stockings_on": stockings_on,
        "bruising": bruising,
        "redness": redness,
        "swelling": swelling,
        "pain_score": pain_score,
        "notes": notes,
    }.items():
        if value is not None:
            setattr(check_in, name, value)
    new_symptoms = [s for s in symptoms if s not in check_in.warning_symptoms]
    if symptoms:
        check_in.warning_symptoms = sorted({*check_in.warning_symptoms, *symptoms})
    check_in.save()
    if new_symptoms:
        CourseFlag.objects.create(
            course=plan.course,
            check_in=check_in,
            reason="Patient reported: " + "; ".join(WARNING_SYMPTOMS[s] for s in new_symptoms),
        )
    if walked:
        Reminder.objects.filter(
            patient=patient, kind=Kind.DAILY_WALK, day=day, status=Status.PENDING
        ).update(status=Status.CANCELLED, last_error="Walk already ticked")
    return check_in


# --- claiming and sending ---------------------------------------------------------------------


def reminders_claim_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Claim due reminders for sending: pending ones whose time has come, and ones claimed
    long ago but never sent (a dispatcher or broker that failed). Rows locked by another
    dispatcher are skipped, so two dispatchers never claim the same row."""
    now = now or timezone.now()
    with transaction.atomic():
        due = (
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING, due_at__lte=now)
            .order_by("due_at")
            .values_list("pk", flat=True)[:limit]
        )
        ids = list(due)
        stale = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(
                status=Status.SENDING,
                claimed_at__lt=now - timedelta(seconds=settings.REMINDER_STALE_CLAIM_SECONDS),
            )
            .values_list("pk", flat=True)[: max(0, limit - len(ids))]
        )
        ids += stale
        Reminder.objects.filter(pk__in=ids).update(status=Status.SENDING, claimed_at=now)
    return ids


class SendFailed(Exception):
    """Delivery failed in a way worth trying again."""


# A reminder that was sent, cancelled or given up on is never sent again.
FINISHED = (Status.SENT, Status.CANCELLED, Status.FAILED)
# What a batch of reminders is about (patient, address, appointment, plan, preferences) is
# read for the whole batch at once, and read again once it is older than this: a change
# (unsubscribed, appointment cancelled, new email address) reaches the messages within
# these seconds, as if each reminder had waited that long in the queue. Whether a reminder
# was already sent is always read under its row lock.
ABOUT_MAX_AGE_SECONDS = 2.0


@dataclass(frozen=True)
class SendOutcome:
    """What one try did: the row's status afterwards ("missing" when there is no row), and
    the error when delivery failed in a way worth trying again (the attempt is counted)."""

    status: str
    error: str = ""


def reminder_send(*, reminder_id: int) -> str:
    """Deliver one reminder, at most once (the rules are those of ``reminders_send``).

    Returns the row's status; raises ``SendFailed`` when delivery failed and is worth
    trying again (the attempt is recorded first).
    """
    outcome = reminders_send(reminder_ids=[reminder_id])[reminder_id]
    if outcome.error:
        raise SendFailed(outcome.error)
    return outcome.status


def reminders_send(
    *, reminder_ids: Sequence[int], deadline: float | None = None
) -> dict[int, SendOutcome]:
    """Deliver claimed reminders, each at most once, through one mail connection.

    A reminder that is no longer relevant (appointment cancelled, walk already ticked,
    unsubscribed) is cancelled instead, and SMS in quiet hours goes back to pending until
    08:00, judged on what the batch read about it (``ABOUT_MAX_AGE_SECONDS``). Each other
    reminder is sent in its own transaction: its row is locked and marked sent (unless it
    was sent or cancelled meanwhile), the message goes, and only then does the transaction
    commit. So a second delivery of the same work waits for the lock, then finds it sent
    and does nothing, and a worker that dies mid-batch repeats at most the one it was
    sending (not committed). A failed delivery rolls back and is counted (after
    ``MAX_ATTEMPTS`` the row is failed), and reported for a retry.

    Stops starting new sends once ``time.monotonic()`` passes ``deadline``: ids it did not
    reach are missing from the result.
    """
    about = _About(reminder_ids)
    outcomes: dict[int, SendOutcome] = {}
    # Opened before the first message that is really sent, kept open for the rest.
    mail_connection = mail.get_connection()
    try:
        for reminder_id in reminder_ids:
            if deadline is not None and outcomes and time_module.monotonic() > deadline:
                break
            outcomes[reminder_id] = _send_one(reminder_id, about, mail_connection)
    finally:
        mail_connection.close()
    return outcomes


class _About:
    """What a batch of reminders is about, read in two queries for the whole batch (instead
    of a join compiled and run for every reminder), and read again when it grows old."""

    def __init__(self, reminder_ids: Sequence[int]) -> None:
        self._ids = list(reminder_ids)
        self._rows: dict[int, Reminder] = {}
        self._preferences: dict[int, ReminderPreference] = {}
        self._loaded_at = 0.0
        self._load(self._ids)

    def _load(self, ids: list[int]) -> None:
        rows = Reminder.objects.filter(pk__in=ids).select_related(
            "patient__user",
            "appointment__treatment",
            "appointment__room__location",
            "plan__course",
            "plan__session",
            "waiting_entry",
        )
        self._rows = {row.pk: row for row in rows}
        patient_ids = {row.patient_id for row in self._rows.values()}
        self._preferences = {
            preference.patient_id: preference
            for preference in ReminderPreference.objects.filter(patient_id__in=patient_ids)
        }
        self._loaded_at = time_module.monotonic()

    def reminder(self, reminder_id: int) -> Reminder | None:
        """The reminder with what it is about, as read for the batch (read again, with the
        rest of the batch, once older than ``ABOUT_MAX_AGE_SECONDS``)."""
        if time_module.monotonic() - self._loaded_at > ABOUT_MAX_AGE_SECONDS:
            position = self._ids.index(reminder_id) if reminder_id in self._ids else 0
            self._load(self._ids[position:])
        return self._rows.get(reminder_id)

    def preference(self, patient: Patient) -> ReminderPreference:
        preference = self._preferences.get(patient.pk)
        if preference is None:
            preference = self._preferences[patient.pk] = preference_for(patient)
        return preference


def _send_one(reminder_id: int, about: _About, mail_connection: BaseEmailBackend) -> SendOutcome:
    reminder = about.reminder(reminder_id)
    if reminder is None:
        return SendOutcome("missing")
    if reminder.status in FINISHED:
        return SendOutcome(reminder.status)
    why_not = _no_longer_relevant(reminder, about.preference(reminder.patient))
    if why_not:
        return _settle(reminder_id, status=Status.CANCELLED, last_error=why_not)
    now = timezone.now()
    if reminder.channel == Reminder.Channel.SMS:
        later = _after_quiet_hours(now)
        if later is not None:
            return _settle(reminder_id, status=Status.PENDING, due_at=later)
    failure: Exception | None = None
    with transaction.atomic():
        if not _mark_sent(reminder, now):
            return SendOutcome(_status_of(reminder_id))  # sent or cancelled meanwhile
        try:
            if reminder.channel == Reminder.Channel.EMAIL:
                mail_connection.open()  # once: a no-op while it is open
            provider_id = _deliver(reminder, mail_connection=mail_connection)
        except Exception as exc:
            failure = exc
            transaction.set_rollback(True)  # not sent after all: the row is as it was
        else:
            if provider_id != reminder.provider_id:  # an SMS provider's own id
                reminder.provider_id = provider_id
                reminder.save(update_fields=["provider_id"])
    if failure is not None:
        # The next message opens a fresh connection rather than use a broken one.
        with contextlib.suppress(Exception):
            mail_connection.close()
        return _record_failure(reminder_id, failure)
    return SendOutcome(Status.SENT)


def _mark_sent(reminder: Reminder, now: datetime) -> bool:
    """Mark the reminder sent, unless it was sent or cancelled meanwhile; False then.

    One statement: updating the row also locks it until the transaction ends, so a copy of
    this work waits here and then finds it sent. The caller sends the message before the
    transaction commits (or rolls it back when sending fails): the row says sent exactly
    when the message went. Written out rather than built through the queryset API for
    every message, which cost more CPU than the rest of a send's database work.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    fields = {field.name: field for field in Reminder._meta.concrete_fields}
    table = quote(Reminder._meta.db_table)
    status, attempts, sent_at, provider, key = (
        quote(str(fields[name].column))
        for name in ("status", "attempts", "sent_at", "provider_id", "id")
    )
    provider_id = _provider_id_before_sending(reminder)
    # Names from the model, never from input; the values are parameters.
    sql = (
        f"UPDATE {table} SET {status} = %s, {attempts} = {attempts} + 1, "  # noqa: S608  # nosec B608
        f"{sent_at} = %s, {provider} = %s WHERE {key} = %s AND {status} IN (%s, %s)"
    )
    params = [
        Status.SENT.value,
        fields["sent_at"].get_db_prep_save(now, connection),
        provider_id,
        reminder.pk,
        Status.PENDING.value,
        Status.SENDING.value,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != 1:
            return False
    reminder.status, reminder.sent_at, reminder.provider_id = Status.SENT, now, provider_id
    return True


def _settle(reminder_id: int, **changes: object) -> SendOutcome:
    """Cancel the reminder, or put it back to pending, unless it was finished meanwhile."""
    with transaction.atomic():
        reminder = Reminder.objects.select_for_update().filter(pk=reminder_id).first()
        if reminder is None:
            return SendOutcome("missing")
        if reminder.status not in FINISHED:
            for name, value in changes.items():
                setattr(reminder, name, value)
            reminder.save(update_fields=list(changes))
        return SendOutcome(reminder.status)


def _record_failure(reminder_id: int, exc: Exception) -> SendOutcome:
    """Count a failed delivery (committed, so the attempts add up); after ``MAX_ATTEMPTS``
    the row is failed, otherwise the failure is reported for a retry."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    with transaction.atomic():
        reminder = Reminder.objects.select_for_update().filter(pk=reminder_id).first()
        if reminder is None:
            return SendOutcome("missing")
        if reminder.status in FINISHED:  # a copy of this work got it through meanwhile
            return SendOutcome(reminder.status)
        reminder.attempts += 1
        reminder.last_error = error
        reminder.status = Status.FAILED if reminder.attempts >= MAX_ATTEMPTS else Status.SENDING
        reminder.save(update_fields=["attempts", "last_error", "status"])
    if reminder.status == Status.FAILED:
        logger.error("reminder %s failed for good: %s", reminder_id, error)
        return SendOutcome(reminder.status)
    return SendOutcome(reminder.status, error=error)


def _status_of(reminder_id: int) -> str:
    status = Reminder.objects.filter(pk=reminder_id).values_list("status", flat=True).first()
    return status or "missing"


def _provider_id_before_sending(reminder: Reminder) -> str:
    """An email is known by its idempotency key; an SMS by the id its provider gives it."""
    if reminder.channel == Reminder.Channel.EMAIL:
        return f"email:{reminder.idempotency_key}"
    return ""


def _after_quiet_hours(now: datetime) -> datetime | None:
    local = timezone.localtime(now)
    start, end = QUIET_HOURS
    if local.time() >= start:
        return local_moment(local.date() + timedelta(days=1), end)
    if local.time() < end:
        return local_moment(local.date(), end)
    return None


def _no_longer_relevant(reminder: Reminder, preference: ReminderPreference) -> str:
    if reminder.kind in preference.unsubscribed_kinds:
        return "Unsubscribed"
    appointment = reminder.appointment
    if appointment is not None and appointment.status != Appointment.Status.BOOKED:
        return f"Appointment {appointment.get_status_display().lower()}"
    if reminder.kind == Kind.DAILY_WALK:
        if not preference.walk_reminders:
            return "Walk reminders turned off"
        walked = CheckIn.objects.filter(plan_id=reminder.plan_id, walked=True)
        if reminder.day is not None and walked.filter(day=reminder.day).exists():
            return "Walk already ticked"
    if reminder.kind in (Kind.WINDOW_OPENS, Kind.WINDOW_UPPER_END) and reminder.plan_id:
        course = reminder.plan.course  # type: ignore[union-attr]
        if not course.is_open:
            return "Course closed"
        later = SessionRecord.objects.filter(
            course=course,
            number__gt=reminder.plan.session.number,  # type: ignore[union-attr]
        ).exclude(status=SessionRecord.Status.ABANDONED)
        if later.exists():
            return "Next session already booked"
    entry = reminder.waiting_entry
    if (
        reminder.kind == Kind.WAITING_LIST_OFFER
        and entry is not None
        and entry.status != WaitingListEntry.Status.OFFERED
    ):
        return "Offer no longer open"
    return ""


def _deliver(reminder: Reminder, *, mail_connection: BaseEmailBackend | None = None) -> str:
    context = _message_context(reminder)
    if reminder.channel == Reminder.Channel.SMS:
        text = render_to_string("aftercare/reminders/sms.txt", context).strip()
        return send_sms(to=reminder.patient.phone, text=text[:320])
    subject = render_to_string("aftercare/reminders/subject.txt", context).strip()
    body = render_to_string("aftercare/reminders/email.txt", context)
    html = render_to_string("aftercare/reminders/email.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        to=[reminder.patient.user.email],
        headers={"X-Veinline-Reminder": reminder.idempotency_key},
        connection=mail_connection,
    )
    message.attach_alternative(html, "text/html")
    if reminder.kind == Kind.APPOINTMENT_CONFIRMATION and reminder.appointment is not None:
        try:
            from bookings.ics import appointment_ics

            message.attach(
                "appointment.ics", appointment_ics(reminder.appointment), "text/calendar"
            )
        except ImportError:  # pragma: no cover - the calendar module is optional here
            pass
    message.send()
    return _provider_id_before_sending(reminder)


def _unsigned_consent_url(appointment: Appointment, site: str) -> str:
    """The page to sign the consent form when a session is coming and the current form
    version is not signed yet (empty otherwise)."""
    from treatments.services import consent_current_form, standing_consent

    session = (
        SessionRecord.objects.filter(appointment=appointment)
        .select_related("course__treatment")
        .first()
    )
    if session is None:
        return ""
    course = session.course
    if standing_consent(course, consent_current_form(course.treatment)) is not None:
        return ""
    return site + reverse("patients:consent_sign", args=[course.pk])


def _message_context(reminder: Reminder) -> dict:
    site = settings.SITE_URL.rstrip("/")
    context: dict = {
        "reminder": reminder,
        "kind": reminder.kind,
        "patient": reminder.patient,
        "clinic_name": settings.CLINIC_NAME,
        "site": site,
        "unsubscribe_url": site
        + reverse(
            "aftercare:unsubscribe",
            args=[
                signing.dumps(
                    {"p": reminder.patient_id, "k": reminder.kind}, salt="aftercare.unsubscribe"
                )
            ],
        ),
    }
    if reminder.appointment is not None:
        context["appointment"] = reminder.appointment
        context["local_start"] = timezone.localtime(reminder.appointment.start)
        if reminder.kind in (Kind.APPOINTMENT_REMINDER_48H, Kind.APPOINTMENT_REMINDER_2H):
            context["consent_url"] = _unsigned_consent_url(reminder.appointment, site)
    if reminder.kind == Kind.DAILY_WALK and reminder.day is not None:
        context["check_in_url"] = site + reverse(
            "aftercare:check_in_link",
            args=[
                check_in_token(patient_id=reminder.patient_id, day=reminder.day, action="walked")
            ],
        )
    if reminder.plan is not None:
        context["plan"] = reminder.plan
    return context
