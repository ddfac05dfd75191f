"""Appointments: a time in the diary for a patient, with the people and room it needs."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords


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
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["start"]
        indexes = [
            models.Index(fields=["start"], name="appointment_start_idx"),
            models.Index(fields=["patient", "start"], name="appointment_patient_start_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="appointment_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        when = timezone.localtime(self.start)
        return f"{self.treatment} for {self.patient} at {when:%Y-%m-%d %H:%M}"

    @property
    def kind(self) -> str:
        return self.treatment.kind

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)
