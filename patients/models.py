"""Patients: profile, how they pay, contact preferences and the medical screening."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


class Patient(models.Model):
    class Payer(models.TextChoices):
        SELF_FUNDED = "self", "Self-funded"
        INSURED = "insured", "Insured"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="patient"
    )
    date_of_birth = models.DateField(null=True, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    address = models.TextField(blank=True)
    gp_practice = models.CharField("GP practice", max_length=200, blank=True)
    payer = models.CharField(max_length=10, choices=Payer.choices, default=Payer.SELF_FUNDED)
    insurer = models.CharField(max_length=120, blank=True)
    policy_number = models.CharField(max_length=60, blank=True)
    preauthorisation_code = models.CharField(max_length=60, blank=True)
    contact_by_email = models.BooleanField(default=True)
    contact_by_sms = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["user__last_name", "user__first_name"]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return self.user.get_full_name() or self.user.email


class Screening(models.Model):
    """The medical screening questionnaire a patient fills in before the consultation.

    A "yes" to any flagged question needs a consultant's review before a course can be
    planned. The patient may edit the answers until a consultant has reviewed them.
    """

    # field name -> the question as the patient reads it
    FLAG_QUESTIONS = {
        "pregnant_or_breastfeeding": "Are you pregnant, or breastfeeding?",
        "past_dvt_or_pe": "Have you ever had a deep-vein thrombosis (a clot in a leg) or a "
        "pulmonary embolism (a clot in the lung)?",
        "clotting_disorder": "Do you have a known clotting disorder?",
        "sclerosant_allergy": "Have you ever reacted badly to a sclerosant injection (such as "
        "sodium tetradecyl sulphate)?",
        "takes_anticoagulants": "Do you take blood-thinning medicine (anticoagulants)?",
        "recent_surgery_or_travel": "Have you had surgery, or a flight or journey of more than "
        "four hours, in the last four weeks?",
        "open_leg_ulcers": "Do you have an open wound or ulcer on either leg?",
    }

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="screening")
    pregnant_or_breastfeeding = models.BooleanField(default=False)
    past_dvt_or_pe = models.BooleanField(default=False)
    clotting_disorder = models.BooleanField(default=False)
    sclerosant_allergy = models.BooleanField(default=False)
    takes_anticoagulants = models.BooleanField(default=False)
    recent_surgery_or_travel = models.BooleanField(default=False)
    open_leg_ulcers = models.BooleanField(default=False)
    other_conditions = models.TextField(blank=True)
    medicines = models.TextField(blank=True)
    submitted_at = models.DateTimeField()
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        "clinic.StaffMember", on_delete=models.PROTECT, null=True, blank=True
    )
    review_notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(reviewed_at__isnull=True) | Q(reviewed_by__isnull=False),
                name="screening_review_has_reviewer",
            ),
        ]

    def __str__(self) -> str:
        return f"Screening of {self.patient}"

    @property
    def flags(self) -> list[str]:
        """The questions answered "yes": each needs a consultant's review."""
        return [q for field, q in self.FLAG_QUESTIONS.items() if getattr(self, field)]

    @property
    def needs_review(self) -> bool:
        return bool(self.flags) and self.reviewed_at is None

    @property
    def is_reviewed(self) -> bool:
        return self.reviewed_at is not None


class AccountClosureRequest(models.Model):
    """A patient's request to close their account, acted on by a clinic admin.

    Completing it erases what the clinic may not keep (login, contact details, preferences,
    feeds, waiting-list entries, message text) and keeps the clinical record for the
    retention period in ``docs/retention.md``. See ``patients.services``.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        COMPLETED = "completed", "Completed"
        WITHDRAWN = "withdrawn", "Withdrawn by the patient"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="closure_requests")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    reason = models.TextField(blank=True)
    requested_at = models.DateTimeField()
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    retain_clinical_until = models.DateField(
        null=True, blank=True, help_text="The clinical record may be destroyed after this day."
    )
    admin_note = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status="requested"),
                name="one_open_closure_request_per_patient",
                violation_error_message="There is already an open request to close this account.",
            ),
            models.CheckConstraint(
                condition=Q(status="requested")
                | (Q(handled_at__isnull=False) & Q(handled_by__isnull=False)),
                name="closure_request_handled_has_who_and_when",
            ),
        ]

    def __str__(self) -> str:
        return f"Close the account of {self.patient} ({self.get_status_display().lower()})"


class RecordAccess(models.Model):
    """A member of staff opened a page showing a patient's record.

    Holds who, which record (a label and a reference such as ``course:12``), when, and a
    reason if one was given; never the health data itself. Patients see these rows on
    their own record page. Rows are only ever added.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="record_accesses")
    what = models.CharField(max_length=120)
    ref = models.CharField(max_length=80, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["patient", "-at"], name="record_access_patient_at")]
        verbose_name_plural = "record accesses"

    def __str__(self) -> str:
        return f"{self.user} viewed {self.what} of {self.patient} at {self.at:%Y-%m-%d %H:%M}"
