"""The treatment catalogue and its rules, courses, consent, and session records.

The clinic's numbers (sessions per course, the gap between sessions, stocking days, walk
minutes) live in ``Treatment`` rows so that admins can change them; the defaults come
from DOMAIN.md. Rules that span rows live in ``treatments.services``.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

# The advice for any course: sessions at least 4 and at most 6 weeks apart as a minimum gap.
GAP_DAYS_LOWEST = 28
GAP_DAYS_HIGHEST = 42
DEFAULT_SCLEROSANT = "Sodium tetradecyl sulphate (STS)"


class Leg(models.TextChoices):
    LEFT = "left", "Left leg"
    RIGHT = "right", "Right leg"


class Legs(models.TextChoices):
    LEFT = "left", "Left leg"
    RIGHT = "right", "Right leg"
    BOTH = "both", "Both legs"

    @classmethod
    def sides(cls, value: str) -> list[str]:
        """The single legs a choice covers: 'both' is left and right."""
        return [Leg.LEFT, Leg.RIGHT] if value == cls.BOTH else [value]


# The leg map: named zones, front and back, per leg. Stored as codes, shown as labels.
_ZONES = [
    ("thigh_front_medial", "thigh, front, inner"),
    ("thigh_front_lateral", "thigh, front, outer"),
    ("thigh_back_medial", "thigh, back, inner"),
    ("thigh_back_lateral", "thigh, back, outer"),
    ("knee_front", "knee, front"),
    ("knee_back", "back of the knee"),
    ("calf_front_medial", "shin, inner"),
    ("calf_front_lateral", "shin, outer"),
    ("calf_back_medial", "calf, inner"),
    ("calf_back_lateral", "calf, outer"),
    ("ankle_medial", "ankle, inner"),
    ("ankle_lateral", "ankle, outer"),
    ("foot", "top of the foot"),
]
LEG_ZONES: dict[str, str] = {
    f"{side}_{code}": f"{side.capitalize()} {label}"
    for side in (Leg.LEFT, Leg.RIGHT)
    for code, label in _ZONES
}


def validate_zones(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("Treated areas must be a list of leg-map zones.")
    unknown = [v for v in value if v not in LEG_ZONES]
    if unknown:
        raise ValidationError(f"Unknown leg-map zone: {', '.join(unknown[:3])}.")


def zone_labels(codes: list[str]) -> list[str]:
    return [LEG_ZONES.get(code, code) for code in codes]


class Treatment(models.Model):
    """An item of the catalogue, with the rules that belong to it."""

    class Kind(models.TextChoices):
        CONSULTATION = "consultation", "Consultation"
        TREATMENT = "treatment", "Treatment"
        REASSESSMENT = "reassessment", "Reassessment"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    summary = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    bookable_online = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    requires_consultation = models.BooleanField(
        default=True, help_text="A completed initial consultation must come first."
    )
    # Course rules (treatments only).
    min_planned_sessions = models.PositiveSmallIntegerField(default=2)
    max_planned_sessions = models.PositiveSmallIntegerField(
        default=4, help_text="More only when a consultant extends a course, with a reason."
    )
    min_gap_days_lowest = models.PositiveSmallIntegerField(default=GAP_DAYS_LOWEST)
    min_gap_days_highest = models.PositiveSmallIntegerField(default=GAP_DAYS_HIGHEST)
    default_min_gap_days = models.PositiveSmallIntegerField(default=GAP_DAYS_LOWEST)
    session_lengths = models.JSONField(
        default=list,
        blank=True,
        help_text="Appointment lengths offered, in minutes, e.g. [30, 45].",
    )
    buffer_minutes = models.PositiveSmallIntegerField(
        default=0, help_text="Time kept free after the appointment (cleaning, notes)."
    )
    stocking_days = models.PositiveSmallIntegerField(default=7)
    daily_walk_minutes = models.PositiveSmallIntegerField(default=20)
    discharge_walk_minutes = models.PositiveSmallIntegerField(
        default=10, help_text="Walk straight after the session, before going home."
    )
    default_sclerosant = models.CharField(max_length=80, blank=True, default=DEFAULT_SCLEROSANT)
    # The public page (/treatments/<slug>/): plain text, a blank line between paragraphs.
    has_public_page = models.BooleanField(
        default=False, help_text="Show a page about this treatment on the public site."
    )
    page_what_it_is = models.TextField("what it is", blank=True)
    page_before = models.TextField("before the treatment", blank=True)
    page_during = models.TextField("during the treatment", blank=True)
    page_after = models.TextField("straight after", blank=True)
    page_recovery = models.TextField("recovery", blank=True)
    page_risks = models.TextField("risks and side effects", blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_planned_sessions__gte=1)
                & Q(max_planned_sessions__gte=models.F("min_planned_sessions")),
                name="treatment_planned_sessions_range",
                violation_error_message="Planned sessions: the minimum must be at least 1 and "
                "not above the maximum.",
            ),
            models.CheckConstraint(
                condition=Q(min_gap_days_lowest__gte=GAP_DAYS_LOWEST)
                & Q(min_gap_days_highest__lte=GAP_DAYS_HIGHEST)
                & Q(min_gap_days_lowest__lte=models.F("default_min_gap_days"))
                & Q(default_min_gap_days__lte=models.F("min_gap_days_highest")),
                name="treatment_gap_within_advice",
                violation_error_message=(
                    f"The minimum gap must lie within {GAP_DAYS_LOWEST}–{GAP_DAYS_HIGHEST} days "
                    "(4 to 6 weeks), with the default inside the range."
                ),
            ),
            models.CheckConstraint(
                condition=Q(discharge_walk_minutes__gte=1)
                & Q(daily_walk_minutes__gte=1)
                & Q(stocking_days__gte=1),
                name="treatment_aftercare_numbers_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        lengths = self.session_lengths
        if not isinstance(lengths, list) or not all(
            isinstance(n, int) and 5 <= n <= 240 for n in lengths
        ):
            raise ValidationError(
                {"session_lengths": "List the lengths in whole minutes, e.g. [30, 45]."}
            )
        if self.kind == self.Kind.TREATMENT and not lengths:
            raise ValidationError({"session_lengths": "A treatment needs at least one length."})

    @property
    def is_treatment(self) -> bool:
        return self.kind == self.Kind.TREATMENT


class Course(models.Model):
    """A planned series of treatment sessions for one patient."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        DISCONTINUED = "discontinued", "Discontinued"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="courses"
    )
    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="courses")
    consultant = models.ForeignKey(
        "clinic.StaffMember", on_delete=models.PROTECT, related_name="courses"
    )
    consultation = models.ForeignKey(
        "bookings.Appointment",
        on_delete=models.PROTECT,
        related_name="planned_courses",
        help_text="The consultation this plan came from.",
    )
    planned_sessions = models.PositiveSmallIntegerField()
    min_gap_days = models.PositiveSmallIntegerField()
    legs = models.CharField(max_length=5, choices=Legs.choices)
    treated_areas = models.JSONField(default=list, blank=True, validators=[validate_zones])
    plan_notes = models.TextField(blank=True, help_text="Anything else to avoid, and why.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLANNED)
    status_reason = models.TextField(blank=True)
    outcome = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(planned_sessions__gte=1),
                name="course_planned_sessions_positive",
            ),
            models.CheckConstraint(
                condition=Q(min_gap_days__gte=GAP_DAYS_LOWEST)
                & Q(min_gap_days__lte=GAP_DAYS_HIGHEST),
                name="course_min_gap_within_advice",
                violation_error_message=(
                    f"The minimum gap must be {GAP_DAYS_LOWEST}–{GAP_DAYS_HIGHEST} days."
                ),
            ),
            models.CheckConstraint(
                condition=Q(status__in=["planned", "active", "completed", "discontinued"]),
                name="course_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.treatment} for {self.patient} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("treatments:course_review", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.PLANNED, self.Status.ACTIVE)

    @property
    def treated_area_labels(self) -> list[str]:
        return zone_labels(self.treated_areas)


class CourseExtension(models.Model):
    """A consultant raised the number of planned sessions: who, when, why, from and to."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="extensions")
    extended_by = models.ForeignKey("clinic.StaffMember", on_delete=models.PROTECT)
    extended_at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField()
    from_sessions = models.PositiveSmallIntegerField()
    to_sessions = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["extended_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(to_sessions__gt=models.F("from_sessions")),
                name="extension_raises_the_plan",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="extension_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.course_id}: {self.from_sessions} → {self.to_sessions}"


class ConsentForm(models.Model):
    """One version of a treatment's consent form.

    A published version is never edited: a change is a new version. The current version
    of a treatment is the newest published one whose ``effective_from`` has passed.
    """

    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="consent_forms")
    version = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    risks = models.JSONField(default=list, help_text="The risks listed on the form, one per item.")
    statements = models.JSONField(
        default=list,
        help_text="Statements of understanding the patient ticks, one per item.",
    )
    effective_from = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["treatment", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["treatment", "version"], name="consent_form_version_unique"
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1), name="consent_form_version_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version})"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    def full_text(self) -> str:
        """The exact text a patient signs: title, body, risks and statements, in order."""
        parts = [self.title, "", self.body, "", "Risks:"]
        parts += [f"- {risk}" for risk in self.risks]
        parts += ["", "I confirm that:"]
        parts += [f"- {statement}" for statement in self.statements]
        return "\n".join(parts)

    def text_hash(self) -> str:
        return hashlib.sha256(self.full_text().encode("utf-8")).hexdigest()


class SignedConsent(models.Model):
    """A patient's signature on one version of a consent form, for one course."""

    class Method(models.TextChoices):
        ONLINE = "online", "Signed online by the patient"
        IN_CLINIC = "in_clinic", "Signed in clinic, witnessed"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="consents"
    )
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="consents")
    form = models.ForeignKey(ConsentForm, on_delete=models.PROTECT, related_name="signatures")
    text_hash = models.CharField(max_length=64, help_text="SHA-256 of the exact text signed.")
    signed_text = models.TextField(help_text="The exact text signed, kept for printing.")
    typed_name = models.CharField(max_length=300)
    statements_accepted = models.JSONField(default=list)
    method = models.CharField(max_length=20, choices=Method.choices)
    signed_at = models.DateTimeField()
    witnessed_by = models.ForeignKey(
        "clinic.StaffMember",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="witnessed_consents",
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-signed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "form"],
                condition=Q(withdrawn_at__isnull=True),
                name="one_standing_consent_per_course_and_version",
            ),
            models.CheckConstraint(
                condition=Q(method="online") | Q(witnessed_by__isnull=False),
                name="consent_in_clinic_is_witnessed",
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True) | ~Q(withdrawn_reason=""),
                name="consent_withdrawal_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.form} signed by {self.typed_name}"

    @property
    def is_standing(self) -> bool:
        return self.withdrawn_at is None


class SessionRecord(models.Model):
    """What happened in one treatment session (the nurse's record)."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        CONSENT_CONFIRMED = "consent_confirmed", "Consent confirmed"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        ABANDONED = "abandoned", "Abandoned"

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="sessions")
    number = models.PositiveSmallIntegerField(help_text="Session number within the course.")
    appointment = models.OneToOneField(
        "bookings.Appointment", on_delete=models.PROTECT, related_name="session_record"
    )
    consultant = models.ForeignKey(
        "clinic.StaffMember",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sessions_as_consultant",
    )
    nurse = models.ForeignKey(
        "clinic.StaffMember",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sessions_as_nurse",
    )
    consent = models.ForeignKey(
        SignedConsent,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sessions",
        help_text="The consent confirmed for this session.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    legs_treated = models.CharField(max_length=5, choices=Legs.choices, blank=True)
    treated_areas = models.JSONField(default=list, blank=True, validators=[validate_zones])
    sclerosant = models.CharField(max_length=80, default=DEFAULT_SCLEROSANT)
    concentration_percent = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.05")), MaxValueValidator(Decimal("3.00"))],
    )
    total_volume_ml = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("20.00"))],
    )
    injections = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(500)]
    )
    discharge_walk_minutes = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(240)],
        help_text="Minutes walked after the session, before going home.",
    )
    discomfort = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(10)], help_text="0 (none) to 10."
    )
    music_requested = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    abandoned_reason = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["course", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "number"],
                condition=~Q(status="abandoned"),
                name="session_number_unique_per_course",
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="session_number_positive"),
            models.CheckConstraint(
                condition=Q(discomfort__isnull=True) | Q(discomfort__lte=10),
                name="session_discomfort_0_to_10",
            ),
            models.CheckConstraint(
                condition=Q(concentration_percent__isnull=True)
                | (Q(concentration_percent__gt=0) & Q(concentration_percent__lte=3)),
                name="session_concentration_range",
            ),
            models.CheckConstraint(
                condition=Q(total_volume_ml__isnull=True)
                | (Q(total_volume_ml__gt=0) & Q(total_volume_ml__lte=20)),
                name="session_volume_range",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["in_progress", "completed"])
                | (Q(consultant__isnull=False) & Q(nurse__isnull=False) & Q(consent__isnull=False)),
                name="session_started_has_team_and_consent",
            ),
            models.CheckConstraint(
                condition=~Q(status="abandoned") | ~Q(abandoned_reason=""),
                name="session_abandoned_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Session {self.number} of {self.course}"

    @property
    def treated_area_labels(self) -> list[str]:
        return zone_labels(self.treated_areas)


class StockingFitting(models.Model):
    """A compression stocking fitted on one treated leg after a session."""

    class CompressionClass(models.TextChoices):
        CLASS_1 = "1", "Class 1 (light)"
        CLASS_2 = "2", "Class 2 (medium)"
        CLASS_3 = "3", "Class 3 (firm)"

    class Length(models.TextChoices):
        KNEE = "knee", "Knee length"
        THIGH = "thigh", "Thigh length"

    session = models.ForeignKey(SessionRecord, on_delete=models.PROTECT, related_name="stockings")
    leg = models.CharField(max_length=5, choices=Leg.choices)
    compression_class = models.CharField(max_length=1, choices=CompressionClass.choices)
    length = models.CharField(max_length=5, choices=Length.choices)
    fitted_by = models.ForeignKey("clinic.StaffMember", on_delete=models.PROTECT)
    fitted_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["session", "leg"]
        constraints = [
            models.UniqueConstraint(fields=["session", "leg"], name="one_stocking_per_leg"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_leg_display()}: {self.get_length_display()}, "
            f"{self.get_compression_class_display()}"
        )


class AdverseEvent(models.Model):
    class Kind(models.TextChoices):
        BRUISING = "bruising", "Bruising"
        FAINT = "faint", "Feeling faint / fainting"
        ALLERGY = "allergy", "Allergic reaction"
        SKIN_ULCER = "skin_ulcer", "Skin breakdown or ulcer"
        THROMBOPHLEBITIS = "thrombophlebitis", "Painful hard vein (thrombophlebitis)"
        DVT = "dvt", "Suspected deep-vein thrombosis"
        VISUAL = "visual", "Visual disturbance"
        PIGMENTATION = "pigmentation", "Brown staining"
        MATTING = "matting", "New fine veins (matting)"
        OTHER = "other", "Other"

    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"

    session = models.ForeignKey(
        SessionRecord, on_delete=models.PROTECT, related_name="adverse_events"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    action_taken = models.TextField()
    description = models.TextField(blank=True)
    recorded_by = models.ForeignKey("clinic.StaffMember", on_delete=models.PROTECT)
    recorded_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["recorded_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_severity_display()})"


class Price(models.Model):
    """A self-funded price for a catalogue item, in force from a date.

    The item is a treatment, optionally narrowed to one session length (``minutes``) or
    sold as a course package of ``package_sessions`` sessions. Two rows for the same item
    may not be in force on the same day: on PostgreSQL an
    exclusion constraint does too (migration ``0006``); ``services.price_save`` checks it
    first with a readable message. An appointment keeps the amount it
    was quoted at booking, so later changes to this list never touch it.
    """

    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="prices")
    minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="For one session length only; empty for any length."
    )
    package_sessions = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(2), MaxValueValidator(12)],
        help_text="A course package of this many sessions, paid together; empty for a single "
        "appointment.",
    )
    amount = models.DecimalField(
        max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(max_length=3, default="GBP")
    includes_vat = models.BooleanField("VAT included", default=False)
    effective_from = models.DateField("in force from")
    effective_until = models.DateField(
        "in force until", null=True, blank=True, help_text="The last day; empty for no end."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["treatment", "package_sessions", "minutes", "-effective_from"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="price_not_negative"),
            models.CheckConstraint(
                condition=Q(effective_until__isnull=True)
                | Q(effective_until__gte=models.F("effective_from")),
                name="price_valid_range",
                violation_error_message="The last day cannot come before the first day.",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"),
                name="price_currency_code",
                violation_error_message="Use a three-letter currency code, such as GBP.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_label}: {self.currency} {self.amount} from {self.effective_from}"

    def clean(self) -> None:
        super().clean()
        if self.currency:
            self.currency = self.currency.strip().upper()
        if (
            self.effective_from
            and self.effective_until
            and self.effective_until < self.effective_from
        ):
            raise ValidationError(
                {"effective_until": "The last day cannot come before the first day."}
            )

    @property
    def item_label(self) -> str:
        label = str(self.treatment) if self.treatment_id else "this item"
        if self.package_sessions:
            label += f", package of {self.package_sessions} sessions"
        if self.minutes:
            label += f", {self.minutes} minutes"
        return label

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_until is None or day <= self.effective_until
        )


class Faq(models.Model):
    """A question and answer shown on the public pages; admins write and order them."""

    question = models.CharField(max_length=255)
    answer = models.TextField(help_text="Plain text; a blank line starts a new paragraph.")
    treatment = models.ForeignKey(
        Treatment,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="faqs",
        help_text="Shown on this treatment's page too; empty for a general question.",
    )
    order = models.PositiveSmallIntegerField(default=0, help_text="Lower numbers come first.")
    is_published = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "pk"]
        verbose_name = "FAQ"
        verbose_name_plural = "FAQs"

    def __str__(self) -> str:
        return self.question
