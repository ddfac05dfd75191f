"""Aftercare after each session, the patient's check-ins, and the reminder outbox.

A reminder is a row first (the outbox): services create it in the same transaction as the
booking or session that causes it; a beat task claims due rows and a send task delivers
each one. So a booking never fails because the broker is down, and two workers never send
the same reminder.
"""

from __future__ import annotations

from datetime import time

from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

# Symptoms that need a call to the clinic (or 999) straight away.
WARNING_SYMPTOMS = {
    "hot_painful_leg": "A hot, painful or swollen leg (especially the calf)",
    "chest_pain_breathless": "Chest pain or sudden breathlessness",
    "skin_breakdown": "Skin breaking down, blistering or an open sore where you were treated",
    "vision_or_speech": "Changes in vision, speech, or weakness on one side",
}


class AftercarePlan(models.Model):
    """What the patient does after one session, made when the session is completed."""

    session = models.OneToOneField(
        "treatments.SessionRecord", on_delete=models.PROTECT, related_name="aftercare_plan"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="aftercare_plans"
    )
    course = models.ForeignKey(
        "treatments.Course", on_delete=models.PROTECT, related_name="aftercare_plans"
    )
    starts_on = models.DateField(help_text="Day 1: the day of the session (clinic time).")
    stockings_until = models.DateField(help_text="Last day the stockings are worn (day 7).")
    stocking_legs = models.JSONField(default=list)
    walk_until = models.DateField(help_text="Last day of the daily walk reminders.")
    daily_walk_minutes = models.PositiveSmallIntegerField()
    extra_instructions = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(stockings_until__gte=models.F("starts_on"))
                & Q(walk_until__gte=models.F("starts_on")),
                name="aftercare_dates_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"Aftercare from {self.starts_on} for {self.patient}"

    def day_number(self, day) -> int:
        return (day - self.starts_on).days + 1


class CheckIn(models.Model):
    """What the patient reported for one day of their aftercare."""

    plan = models.ForeignKey(AftercarePlan, on_delete=models.PROTECT, related_name="check_ins")
    day = models.DateField()
    walked = models.BooleanField(null=True, help_text="Walked at least the daily minutes.")
    stockings_on = models.BooleanField(null=True)
    bruising = models.BooleanField(default=False)
    redness = models.BooleanField(default=False)
    swelling = models.BooleanField(default=False)
    pain_score = models.PositiveSmallIntegerField(null=True, blank=True)
    warning_symptoms = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["plan", "day"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "day"], name="one_check_in_per_day"),
            models.CheckConstraint(
                condition=Q(pain_score__isnull=True) | Q(pain_score__lte=10),
                name="check_in_pain_0_to_10",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan.patient} on {self.day}"


class CourseFlag(models.Model):
    """Something the consultant must look at now (a warning symptom reported)."""

    course = models.ForeignKey("treatments.Course", on_delete=models.PROTECT, related_name="flags")
    check_in = models.ForeignKey(CheckIn, on_delete=models.PROTECT, null=True, blank=True)
    reason = models.TextField()
    raised_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        "clinic.StaffMember", on_delete=models.PROTECT, null=True, blank=True
    )
    resolution = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-raised_at"]

    def __str__(self) -> str:
        return f"Flag on {self.course}: {self.reason[:40]}"


class ReminderPreference(models.Model):
    """How a patient wants to be reminded."""

    patient = models.OneToOneField(
        "patients.Patient", on_delete=models.CASCADE, related_name="reminder_preference"
    )
    walk_time = models.TimeField(default=time(9, 0))
    walk_reminders = models.BooleanField(default=True)
    sms_kinds = models.JSONField(default=list, blank=True, help_text="Kinds also sent by SMS.")
    unsubscribed_kinds = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"Reminder preferences of {self.patient}"


class Reminder(models.Model):
    """One message to send (the outbox row)."""

    class Kind(models.TextChoices):
        APPOINTMENT_CONFIRMATION = "appointment_confirmation", "Appointment confirmation"
        APPOINTMENT_REMINDER_48H = "appointment_48h", "Appointment reminder (2 days before)"
        APPOINTMENT_REMINDER_2H = "appointment_2h", "Appointment reminder (2 hours before)"
        STOCKINGS_OFF = "stockings_off", "Stockings can come off"
        DAILY_WALK = "daily_walk", "Daily walk"
        WINDOW_OPENS = "window_opens", "Next session can be booked"
        WINDOW_UPPER_END = "window_upper_end", "Next session is due"
        REASSESSMENT_INVITATION = "reassessment", "Reassessment invitation"
        WAITING_LIST_OFFER = "waiting_list_offer", "A time came free"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "Text message"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="reminders"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    appointment = models.ForeignKey(
        "bookings.Appointment",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reminders",
    )
    plan = models.ForeignKey(
        AftercarePlan, on_delete=models.CASCADE, null=True, blank=True, related_name="reminders"
    )
    waiting_entry = models.ForeignKey(
        "bookings.WaitingListEntry", on_delete=models.CASCADE, null=True, blank=True
    )
    day = models.DateField(null=True, blank=True, help_text="The aftercare day it is about.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at"]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=Q(status="pending"),
                name="reminder_pending_due_idx",
            ),
            models.Index(fields=["status", "claimed_at"], name="reminder_status_claimed_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sending", "sent", "failed", "cancelled"]),
                name="reminder_status_known",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="reminder_sent_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.patient} ({self.get_status_display()})"
