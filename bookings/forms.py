"""Forms of the staff diary. They turn what staff type into the services' arguments; the
rules themselves (clashes, lengths, the course plan and gap) stay in the services."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic.models import Location, Room, StaffMember
from clinic.validators import FREE_TEXT, NAME_OR_CODE, ONE_LINE
from patients.models import Patient
from treatments.models import Course, Treatment

from .models import Appointment, Payer

# How far ahead the diary takes bookings.
BOOK_AHEAD_DAYS = 2 * 366


def clinic_datetime(day: date, at: time) -> datetime:
    """A local date and wall-clock time as an aware datetime in the clinic's zone.

    On the day the clocks go forward an hour of wall-clock time does not exist, and on
    the day they go back an hour happens twice; both are refused rather than guessed.
    """
    zone = timezone.get_current_timezone()
    naive = datetime.combine(day, at.replace(second=0, microsecond=0))
    aware = naive.replace(tzinfo=zone)
    when = f"{naive:%H:%M} on {day.day} {day:%B %Y}"
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise ValidationError(
            f"There is no {when} in clinic time: the clocks go forward that night. "
            "Please choose another time.",
            code="nonexistent_time",
        )
    if aware.replace(fold=1).utcoffset() != aware.utcoffset():
        raise ValidationError(
            f"{when} happens twice in clinic time, because the clocks go back that night. "
            "Please choose another time.",
            code="ambiguous_time",
        )
    return aware


def _minutes_choices(lengths: list[int]) -> list[tuple[int, str]]:
    return [(n, f"{n} minutes") for n in sorted(set(lengths))]


class LocalStartForm(forms.Form):
    """A local date and time, checked and joined into ``cleaned_data["start"]``."""

    day = forms.DateField(
        label="Date", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    time = forms.TimeField(
        label="Start time (clinic time)",
        widget=forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M"),
    )
    minutes = forms.TypedChoiceField(label="Length", coerce=int, choices=[])

    def set_lengths(self, lengths: list[int]) -> None:
        cast(forms.TypedChoiceField, self.fields["minutes"]).choices = _minutes_choices(lengths)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        day, at = cleaned.get("day"), cleaned.get("time")
        if day is None or at is None:
            return cleaned
        try:
            start = clinic_datetime(day, at)
        except ValidationError as error:
            self.add_error("time", error)
            return cleaned
        today = timezone.localdate()
        if day < today:
            self.add_error("day", "That day has passed. Choose today or a later day.")
        elif day > today + timedelta(days=BOOK_AHEAD_DAYS):
            self.add_error("day", "The diary takes bookings up to two years ahead.")
        else:
            cleaned["start"] = start
        return cleaned


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: StaffMember) -> str:  # type: ignore[override]
        return obj.display_name


class PatientChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Patient) -> str:  # type: ignore[override]
        return f"{obj.full_name} ({obj.user.email})"


class RoomChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Room) -> str:  # type: ignore[override]
        return f"{obj.name} ({obj.get_kind_display().lower()})"


def consultants() -> Any:
    return StaffMember.objects.filter(
        role=StaffMember.StaffRole.CONSULTANT, is_active=True
    ).select_related("user")


def nurses() -> Any:
    return StaffMember.objects.filter(
        role=StaffMember.StaffRole.NURSE, is_active=True
    ).select_related("user")


CONSULTATION_KINDS = [Treatment.Kind.CONSULTATION, Treatment.Kind.REASSESSMENT]


class ConsultationForm(LocalStartForm):
    field_order = ["patient", "treatment", "day", "time", "minutes", "consultant", "room"]

    patient = PatientChoiceField(queryset=Patient.objects.select_related("user"))
    treatment = forms.ModelChoiceField(
        label="Appointment for",
        queryset=Treatment.objects.filter(kind__in=CONSULTATION_KINDS, is_active=True),
        empty_label=None,
    )
    consultant = StaffChoiceField(queryset=consultants())
    room = RoomChoiceField(
        queryset=Room.objects.filter(is_active=True)
        .select_related("location")
        .order_by("kind", "name")
    )
    notes = forms.CharField(
        label="Notes for the team (optional)",
        required=False,
        max_length=1000,
        validators=[FREE_TEXT],
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lengths = [
            n
            for offered in Treatment.objects.filter(
                kind__in=CONSULTATION_KINDS, is_active=True
            ).values_list("session_lengths", flat=True)
            for n in (offered or [])
            if isinstance(n, int)
        ]
        self.set_lengths(lengths or [30])
        self.fields["minutes"].initial = 30
        self.fields[
            "minutes"
        ].help_text = (
            "Consultations and reassessments each have their own lengths; the booking checks."
        )


class SessionForm(LocalStartForm):
    consultant = StaffChoiceField(queryset=consultants())
    nurse = StaffChoiceField(queryset=nurses())
    room = RoomChoiceField(
        label="Treatment room",
        queryset=Room.objects.filter(is_active=True, kind=Room.Kind.TREATMENT)
        .select_related("location")
        .order_by("name"),
    )
    music_request = forms.CharField(
        label="Music the patient would like (optional)",
        required=False,
        max_length=200,
        validators=[ONE_LINE],
    )

    def __init__(self, *args: Any, course: Course, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("consultant", course.consultant_id)
        super().__init__(*args, **kwargs)
        self.set_lengths(course.treatment.session_lengths or [30, 45])


class AppointmentStatusForm(forms.Form):
    status = forms.ChoiceField(choices=Appointment.Status.choices)


# --- the calendars, booking on a patient's behalf, moving and cancelling ----------------

# Longest text accepted where an instant is posted back (an ISO 8601 string with offset).
INSTANT_MAX_LENGTH = 40


class LocationFilterForm(forms.Form):
    """The optional ``?location=`` of the day and week calendars."""

    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(is_active=True),
        required=False,
        empty_label="Every location",
        error_messages={"invalid_choice": "That location is not one of the clinic's."},
    )


class DayForm(forms.Form):
    """A local day from today to two years ahead (booking and moving on a patient's behalf)."""

    day = forms.DateField(
        label="Day",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Give the day as year-month-day, for example 2026-03-02."},
    )

    def clean_day(self) -> date:
        day: date = self.cleaned_data["day"]
        today = timezone.localdate()
        if day < today:
            raise ValidationError("That day has passed. Choose today or a later day.")
        if day > today + timedelta(days=BOOK_AHEAD_DAYS):
            raise ValidationError("The diary takes bookings up to two years ahead.")
        return day


def parse_instant(raw: str) -> datetime:
    """A posted slot time: an ISO 8601 instant with its offset, returned in UTC."""
    if not raw or len(raw) > INSTANT_MAX_LENGTH:
        raise ValidationError("Choose one of the free times shown.")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationError("Choose one of the free times shown.") from exc
    if value.tzinfo is None:
        raise ValidationError("Choose one of the free times shown.")
    return value.astimezone(UTC)


class SlotForm(forms.Form):
    """One of the free times offered (posted back as the slot's instant)."""

    start = forms.CharField(max_length=INSTANT_MAX_LENGTH)

    def clean_start(self) -> datetime:
        start = parse_instant(self.cleaned_data["start"])
        if start <= timezone.now():
            raise ValidationError("That time has passed. Choose a later one.")
        return start


class PatientPickForm(forms.Form):
    patient = PatientChoiceField(
        queryset=Patient.objects.select_related("user").order_by(
            "user__last_name", "user__first_name", "pk"
        ),
        empty_label="Choose a patient",
        error_messages={"invalid_choice": "That patient is not on the clinic's list."},
    )


def option_label(option: Any) -> str:
    label = str(option.treatment)
    if option.course is not None:
        label += f" (course planned by {option.course.consultant})"
    return label


class BookingChoiceForm(DayForm):
    """What to book for a patient, how long and on which day: the patient's booking options
    (only those allowed now) and the lengths the chosen treatment offers."""

    field_order = ["option", "minutes", "day"]

    option = forms.ChoiceField(
        label="What to book",
        error_messages={"invalid_choice": "Choose one of the things this patient can book now."},
    )
    minutes = forms.TypedChoiceField(
        label="Length",
        coerce=int,
        error_messages={"invalid_choice": "Choose one of the lengths offered."},
    )

    def __init__(self, *args: Any, options: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options = {o.key: o for o in options if o.allowed}
        cast(forms.ChoiceField, self.fields["option"]).choices = [
            (key, option_label(o)) for key, o in self.options.items()
        ]
        chosen = self.chosen_option()
        lengths = (chosen.treatment.session_lengths if chosen else None) or [30]
        cast(forms.TypedChoiceField, self.fields["minutes"]).choices = _minutes_choices(
            [n for n in lengths if isinstance(n, int)] or [30]
        )

    def chosen_option(self) -> Any:
        """The option picked (from the raw data, so the lengths follow it), else the first."""
        raw = (
            self.data.get(self.add_prefix("option"))
            if self.is_bound
            else self.initial.get("option")
        )
        if raw in self.options:
            return self.options[raw]
        return next(iter(self.options.values()), None)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        key = cleaned.get("option")
        if key in self.options:
            cleaned["booking_option"] = self.options[key]
        return cleaned


class BookSlotForm(BookingChoiceForm, SlotForm):
    """Book one free time for a patient: the choice above plus who pays and the music."""

    payer = forms.ChoiceField(label="Who pays", choices=Payer.choices)
    preauthorisation_code = forms.CharField(
        label="Insurer's pre-authorisation code",
        required=False,
        max_length=60,
        validators=[NAME_OR_CODE],
    )
    music_request = forms.CharField(
        label="Music the patient would like (optional)",
        required=False,
        max_length=200,
        validators=[ONE_LINE],
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Why is it cancelled?",
        max_length=500,
        validators=[FREE_TEXT],
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example: the patient called to say they are unwell. Kept with the "
        "appointment.",
        error_messages={"required": "Please say why the appointment is cancelled."},
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError("Please say why the appointment is cancelled.")
        return reason
