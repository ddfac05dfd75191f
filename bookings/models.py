"""Appointments: a time in the diary for a patient, with the people and room it needs."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords


class Payer(models.TextChoices):
    SELF_FUNDED = "self", "Self-funded"
    INSURED = "insured", "Insured"


class Appointment(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        CHECKED_IN = "checked_in", "Checked in"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "Did not attend"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="appointments"
    )
    treatment = models.ForeignKey(
        "treatments.Treatment",
        on_delete=models.PROTECT,
        related_name="appointments",
        help_text="What the appointment is for: consultation, a treatment session, reassessment.",
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    consultant = models.ForeignKey(
        "clinic.StaffMember",
        on_delete=models.PROTECT,
        related_name="appointments_as_consultant",
    )
    nurse = models.ForeignKey(
        "clinic.StaffMember",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments_as_nurse",
    )
    room = models.ForeignKey("clinic.Room", on_delete=models.PROTECT, related_name="appointments")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BOOKED)
    music_request = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    payer = models.CharField(max_length=10, choices=Payer.choices, default=Payer.SELF_FUNDED)
    preauthorisation_code = models.CharField(max_length=60, blank=True)
    price = models.ForeignKey(
        "treatments.Price",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
        help_text="The price row quoted at booking.",
    )
    price_amount = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    price_currency = models.CharField(max_length=3, blank=True)
    booked_online = models.BooleanField(default=False)
    late_change = models.BooleanField(
        default=False, help_text="Cancelled or moved inside the patient cut-off."
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancellation_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["start"]
        indexes = [
            models.Index(fields=["start"], name="appointment_start_idx"),
            models.Index(fields=["patient", "start"], name="appointment_patient_start_idx"),
            # The slot search reads what overlaps a range (end > from, start < to). By start
            # alone that scans all the history before the range; by end it stops at the
            # range's beginning, and the start in the same index is checked without the table.
            models.Index(fields=["end", "start"], name="appointment_end_start_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="appointment_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        when = timezone.localtime(self.start)
        return f"{self.treatment} for {self.patient} at {when:%Y-%m-%d %H:%M}"

    # The times as read from the database, so that moving an appointment also refreshes
    # the cached free times of the days it leaves (bookings.slot_cache).
    _loaded_times: tuple[datetime | None, datetime | None] | None = None

    @classmethod
    def from_db(cls, db, field_names, values, **kwargs):  # type: ignore[no-untyped-def,override]
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._loaded_times = (instance.__dict__.get("start"), instance.__dict__.get("end"))
        return instance

    @property
    def kind(self) -> str:
        return self.treatment.kind

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


class WaitingListEntry(models.Model):
    """A patient who found no suitable time and wants to hear when one frees up."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        OFFERED = "offered", "Offered a time"
        BOOKED = "booked", "Booked"
        WITHDRAWN = "withdrawn", "Withdrawn"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="waiting_list"
    )
    treatment = models.ForeignKey("treatments.Treatment", on_delete=models.PROTECT)
    course = models.ForeignKey("treatments.Course", on_delete=models.CASCADE, null=True, blank=True)
    earliest_date = models.DateField()
    latest_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    created_at = models.DateTimeField(auto_now_add=True)
    offered_start = models.DateTimeField(null=True, blank=True)
    offered_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(latest_date__gte=F("earliest_date")),
                name="waiting_list_dates_in_order",
            ),
            models.UniqueConstraint(
                fields=["patient", "treatment"],
                condition=Q(status__in=["waiting", "offered"]),
                name="one_open_waiting_entry_per_treatment",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.patient} waits for {self.treatment} ({self.earliest_date}–{self.latest_date})"
        )


class CalendarFeed(models.Model):
    """A private calendar address (secret token) for a patient's or a staff member's diary.

    Resetting makes a new token, so an address that leaked stops working.
    """

    user = models.OneToOneField(
        "clinic.User", on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user}"
