"""Forms of the patient's booking pages. They only turn what the browser sends into the
services' arguments (an instant in UTC, a length, dates); the clinic's rules stay in the
services, whose refusals the views show."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic.validators import FREE_TEXT, NAME_OR_CODE, ONE_LINE

from .models import Payer

# Dates outside these years are a mistake, not a day to look at.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 12, 31)
DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
MONTH_PATTERN = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
# An ISO 8601 instant with its offset, e.g. 2026-06-02T09:00:00Z or ...+01:00.
INSTANT_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})", re.ASCII)

DAY_HELP = "Give the day as year-month-day, for example 2026-06-02."
MONTH_HELP = "Give the month as year-month, for example 2026-06."
START_HELP = "That appointment time is not one we offered. Please choose a time from the calendar."


def parse_day(raw: str) -> date:
    """A calendar day written as YYYY-MM-DD (ValueError for anything else)."""
    if not DAY_PATTERN.fullmatch(raw or ""):
        raise ValueError(raw)
    day = date.fromisoformat(raw)
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(raw)
    return day


def parse_month(raw: str) -> date:
    """The first day of a month written as YYYY-MM (ValueError for anything else)."""
    match = MONTH_PATTERN.fullmatch(raw or "")
    if not match:
        raise ValueError(raw)
    first = date(int(match[1]), int(match[2]), 1)
    if not EARLIEST_DAY <= first <= LATEST_DAY:
        raise ValueError(raw)
    return first


def parse_instant(raw: str) -> datetime:
    """An aware ISO 8601 instant, returned in UTC (ValueError for anything else)."""
    if not INSTANT_PATTERN.fullmatch(raw or ""):
        raise ValueError(raw)
    instant = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if not EARLIEST_DAY <= instant.date() <= LATEST_DAY:
        raise ValueError(raw)
    return instant.astimezone(UTC)


def format_instant(instant: datetime) -> str:
    """How a start time travels in links and forms: UTC with a Z (no '+' to mangle)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StartField(forms.CharField):
    """A hidden appointment start, as offered by the calendar."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("widget", forms.HiddenInput)
        kwargs.setdefault("error_messages", {"required": START_HELP, "max_length": START_HELP})
        super().__init__(**kwargs)

    def clean(self, value):  # type: ignore[override]
        raw = super().clean(value)
        try:
            return parse_instant(raw)
        except ValueError as exc:
            raise ValidationError(START_HELP, code="invalid_start") from exc


class SlotForm(forms.Form):
    """The time chosen in the calendar and the appointment's length."""

    start = StartField()
    minutes = forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=5,
        max_value=240,
        error_messages={
            "required": "Please choose how long the appointment is.",
            "invalid": "Please choose one of the lengths offered.",
            "min_value": "Please choose one of the lengths offered.",
            "max_value": "Please choose one of the lengths offered.",
        },
    )

    def __init__(self, *args, lengths: list[int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lengths = lengths

    def clean_minutes(self) -> int:
        minutes = self.cleaned_data["minutes"]
        if minutes not in self.lengths:
            offered = " or ".join(str(n) for n in self.lengths)
            raise ValidationError(f"This appointment is booked for {offered} minutes.")
        return minutes


INSURED_NEEDS_CODE = (
    "To book as an insured patient we need your insurer's pre-authorisation code. If you "
    "do not have one yet, please ask your insurer first, or choose to pay for yourself."
)


class ConfirmForm(SlotForm):
    """Who pays, the insurer's code, and an optional music request."""

    payer = forms.ChoiceField(
        label="Who is paying?",
        choices=Payer.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Please say who is paying.",
            "invalid_choice": "Please say who is paying.",
        },
    )
    preauthorisation_code = forms.CharField(
        label="Pre-authorisation code from your insurer",
        max_length=60,
        validators=[NAME_OR_CODE],
        required=False,
        help_text="Only if your insurer is paying.",
    )
    music_request = forms.CharField(
        label="Music during your appointment (optional)",
        max_length=200,
        validators=[ONE_LINE],
        required=False,
        help_text="An artist, a style or a radio station. We will do our best.",
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        data["preauthorisation_code"] = (data.get("preauthorisation_code") or "").strip()
        if data.get("payer") == Payer.INSURED and not data["preauthorisation_code"]:
            self.add_error("preauthorisation_code", INSURED_NEEDS_CODE)
        if data.get("payer") == Payer.SELF_FUNDED:
            data["preauthorisation_code"] = ""
        return data


class RescheduleForm(forms.Form):
    start = StartField()


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Would you like to tell us why? (optional)",
        max_length=500,
        validators=[FREE_TEXT],
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class WaitingListForm(forms.Form):
    """Tell me if a time comes free between two dates."""

    key = forms.CharField(max_length=80, widget=forms.HiddenInput)
    earliest_date = forms.DateField(
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        error_messages={"required": "Please give the first date.", "invalid": DAY_HELP},
    )
    latest_date = forms.DateField(
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        error_messages={"required": "Please give the last date.", "invalid": DAY_HELP},
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        first, last = data.get("earliest_date"), data.get("latest_date")
        today = timezone.localdate()
        horizon = today + timedelta(days=settings.BOOKING_HORIZON_DAYS)
        if first and first < today:
            self.add_error("earliest_date", "The dates must be today or later.")
        elif first and first > horizon:
            self.add_error(
                "earliest_date",
                f"We take bookings up to {horizon:%-d %B %Y}. Please choose an earlier first day.",
            )
        elif first and last:
            if last < first:
                self.add_error("latest_date", "The last date must not be before the first.")
            elif (last - first) > timedelta(days=settings.BOOKING_HORIZON_DAYS):
                self.add_error("latest_date", "Please choose a range of at most six months.")
        return data
