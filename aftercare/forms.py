"""Forms of the aftercare pages. They only read input; the rules stay in the services."""

from __future__ import annotations

from typing import Any

from django import forms

from clinic.validators import FREE_TEXT

from .models import WARNING_SYMPTOMS, CheckIn, Reminder, ReminderPreference

TEXT_LIMIT = 2000
ISO_DATE = ["%Y-%m-%d"]
YES_NO = [("yes", "Yes"), ("no", "No")]


class TickForm(forms.Form):
    """One tap: "I walked today" or "my stockings are on today" (or undo it)."""

    what = forms.ChoiceField(
        choices=[("walked", "Walked"), ("stockings_on", "Stockings on")],
        error_messages={"invalid_choice": "We did not understand what to tick."},
    )
    day = forms.DateField(
        required=False,
        input_formats=ISO_DATE,
        error_messages={"invalid": "That is not a date we recognise (use YYYY-MM-DD)."},
    )
    value = forms.ChoiceField(choices=YES_NO, required=False)
    back = forms.ChoiceField(
        choices=[("today", "today"), ("dashboard", "dashboard")], required=False
    )

    def ticked(self) -> bool:
        return self.cleaned_data.get("value") != "no"


class SideEffectsForm(forms.Form):
    """How the legs are today, and any warning symptom."""

    bruising = forms.BooleanField(label="Bruising", required=False)
    redness = forms.BooleanField(label="Redness", required=False)
    swelling = forms.BooleanField(label="Swelling", required=False)
    pain_score = forms.IntegerField(
        label="Pain today, from 0 (none) to 10 (the worst you can imagine)",
        required=False,
        min_value=0,
        max_value=10,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={"invalid": "Give the pain as a whole number from 0 to 10."},
    )
    warning_symptoms = forms.MultipleChoiceField(
        label="Do you have any of these?",
        required=False,
        choices=list(WARNING_SYMPTOMS.items()),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choose from the symptoms listed."},
    )
    notes = forms.CharField(
        label="Anything else you would like us to know",
        required=False,
        max_length=TEXT_LIMIT,
        validators=[FREE_TEXT],
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    @classmethod
    def initial_from(cls, check_in: CheckIn | None) -> dict[str, Any]:
        if check_in is None:
            return {}
        return {
            "bruising": check_in.bruising,
            "redness": check_in.redness,
            "swelling": check_in.swelling,
            "pain_score": check_in.pain_score,
            "warning_symptoms": list(check_in.warning_symptoms),
            "notes": check_in.notes,
        }


class WalkReminderForm(forms.Form):
    walk_time = forms.TimeField(
        label="Remind me to walk at",
        input_formats=["%H:%M", "%H:%M:%S"],
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="UK time. We send it each day while your walks are part of your aftercare, "
        "unless you have already ticked that day's walk.",
        error_messages={"invalid": "Give a time such as 09:00 or 18:30."},
    )
    walk_reminders = forms.BooleanField(label="Send me a daily walk reminder", required=False)

    @classmethod
    def initial_from(cls, preference: ReminderPreference) -> dict[str, Any]:
        return {"walk_time": preference.walk_time, "walk_reminders": preference.walk_reminders}


class SmsKindsForm(forms.Form):
    kinds = forms.MultipleChoiceField(
        label="Also send these by text message",
        required=False,
        choices=Reminder.Kind.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choose from the messages listed."},
    )


class ResubscribeForm(forms.Form):
    kind = forms.ChoiceField(
        choices=Reminder.Kind.choices,
        error_messages={"invalid_choice": "We do not send a message of that kind."},
    )


class FlagResolveForm(forms.Form):
    resolution = forms.CharField(
        label="What was done",
        max_length=TEXT_LIMIT,
        validators=[FREE_TEXT],
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say what was done before closing the flag."},
    )
