"""The clinic itself: people who log in, locations, rooms and staff members."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Lower

from .roles import Role


class UserManager(DjangoUserManager["User"]):
    """Users log in by email; there is no username."""

    use_in_migrations = True

    def _create_user_by_email(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=normalise_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user_by_email(email, password, **extra)

    def create_superuser(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        if not (extra["is_staff"] and extra["is_superuser"]):
            raise ValueError("A superuser must have is_staff and is_superuser set.")
        return self._create_user_by_email(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        # Log-in is case-insensitive on the email address.
        return self.get(email__iexact=normalise_email(username or ""))


def normalise_email(email: str) -> str:
    """One spelling per address: trimmed and lower-cased."""
    return (email or "").strip().lower()


class User(AbstractUser):
    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", max_length=254, unique=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["first_name", "last_name"]

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="user_email_unique_ci",
                violation_error_message="An account with this email address already exists.",
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def clean(self) -> None:
        super().clean()
        self.email = normalise_email(self.email)


class Location(models.Model):
    """A place where the clinic sees patients."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    address = models.TextField(help_text="Postal address, one line per row.")
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Room(models.Model):
    class Kind(models.TextChoices):
        TREATMENT = "treatment", "Treatment room"
        CONSULTING = "consulting", "Consulting room"

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="rooms")
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["location__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["location", "name"], name="room_name_unique_per_location"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.location})"


class StaffMember(models.Model):
    """A member of staff: the clinical role, registration and where they work.

    The role also decides the user's group (and so their permissions); keep the
    two in step through ``clinic.services.staff_member_save``.
    """

    class StaffRole(models.TextChoices):
        NURSE = Role.NURSE.value, "Nurse"
        CONSULTANT = Role.CONSULTANT.value, "Consultant"
        CLINIC_ADMIN = Role.CLINIC_ADMIN.value, "Clinic admin"

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="staff_member")
    role = models.CharField(max_length=20, choices=StaffRole.choices)
    title = models.CharField(max_length=20, blank=True, help_text="For example Dr, Mr, Ms.")
    registration_number = models.CharField(
        max_length=40, blank=True, help_text="GMC or NMC number, where the role has one."
    )
    locations = models.ManyToManyField(Location, related_name="staff", blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["user__last_name", "user__first_name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = self.user.get_full_name() or self.user.email
        return f"{self.title} {name}".strip()


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class OpeningHours(models.Model):
    """When a location is open on a weekday, in the clinic's local time.

    A weekday may have more than one row (a lunch break closes the clinic between them).
    """

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["location", "weekday", "opens"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes__gt=models.F("opens")),
                name="opening_hours_close_after_open",
                violation_error_message="Closing time must be after opening time.",
            ),
            models.CheckConstraint(
                condition=models.Q(weekday__gte=0) & models.Q(weekday__lte=6),
                name="opening_hours_weekday_range",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.location}: {self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"
        )


class Closure(models.Model):
    """A day a location (or every location) is closed: bank holidays, one-off closures."""

    location = models.ForeignKey(
        Location,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="closures",
        help_text="Leave empty to close every location.",
    )
    date = models.DateField()
    reason = models.CharField(max_length=120)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["location", "date"], name="one_closure_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.date}: {self.reason}"


class WorkingPattern(models.Model):
    """A member of staff's usual hours: weekday, times and location, from a date."""

    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="patterns")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="patterns")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts = models.TimeField()
    ends = models.TimeField()
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True, help_text="Empty: no end date.")

    class Meta:
        ordering = ["staff", "weekday", "starts"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends__gt=models.F("starts")),
                name="pattern_ends_after_start",
                violation_error_message="The end time must be after the start time.",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_until__isnull=True)
                | models.Q(valid_until__gte=models.F("valid_from")),
                name="pattern_valid_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.staff}: {self.get_weekday_display()} {self.starts:%H:%M}–{self.ends:%H:%M}"


class StaffException(models.Model):
    """A change to a member of staff's pattern: leave (away) or an extra clinic (working)."""

    class Kind(models.TextChoices):
        LEAVE = "leave", "Away (leave, training, illness)"
        EXTRA = "extra", "Extra clinic"

    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="exceptions")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    location = models.ForeignKey(
        Location,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        help_text="Where the extra clinic is (not needed for leave).",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="staff_exception_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="leave") | models.Q(location__isnull=False),
                name="extra_clinic_has_location",
                violation_error_message="An extra clinic needs a location.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.staff}: {self.get_kind_display()} from {self.starts_at:%Y-%m-%d %H:%M}"
