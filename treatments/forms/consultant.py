"""Forms of the consultant's screens.

The forms only check the shape of what was typed (numbers are numbers, choices are known
choices, text is not absurdly long). The clinic's rules (the planned-session range, the
gap between sessions, a reason for every extension or closure, a screening review before
planning) live in ``treatments.services`` and ``patients.services``; the views show their
messages as form errors.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from clinic.validators import FREE_TEXT

from ..models import LEG_ZONES, Course, Leg, Legs, Treatment

# Generous limits on typed text: enough for any real note, small enough to refuse junk.
NOTE_MAX_LENGTH = 5000
REASON_MAX_LENGTH = 2000


def plannable_treatments() -> QuerySet[Treatment]:
    """Active treatments of kind "treatment"; the ones booked online (the usual plan) first."""
    return Treatment.objects.filter(kind=Treatment.Kind.TREATMENT, is_active=True).order_by(
        "-bookable_online", "name"
    )


def zone_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The leg-map zones grouped by leg, for grouped checkboxes."""
    groups = []
    for side in Leg:
        prefix = f"{side.value}_"
        groups.append(
            (
                side.label,
                [(code, label) for code, label in LEG_ZONES.items() if code.startswith(prefix)],
            )
        )
    return groups


class CoursePlanForm(forms.Form):
    treatment = forms.ModelChoiceField(
        queryset=Treatment.objects.none(),
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of the treatments listed."},
    )
    planned_sessions = forms.IntegerField(
        label="Planned sessions",
        min_value=1,
        max_value=50,
        help_text="Usually two to four. The allowed range depends on the treatment.",
    )
    min_gap_days = forms.IntegerField(
        label="Minimum gap between sessions (days)",
        min_value=1,
        max_value=365,
        help_text="At least four weeks and at most six (28 to 42 days).",
    )
    legs = forms.ChoiceField(label="Legs to treat", choices=Legs.choices, widget=forms.RadioSelect)
    treated_areas = forms.MultipleChoiceField(
        label="Areas to treat",
        required=False,
        choices=zone_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick the areas of the leg map to treat. They must be on the legs chosen.",
    )
    plan_notes = forms.CharField(
        label="Plan notes",
        required=False,
        max_length=NOTE_MAX_LENGTH,
        validators=[FREE_TEXT],
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Anything else the patient should avoid, and why; anything the team should know.",
    )

    def __init__(self, *args: Any, prefill_url: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["treatment"].queryset = plannable_treatments()  # type: ignore[attr-defined]
        if prefill_url:
            # Choosing another treatment reloads the form with that treatment's defaults.
            self.fields["treatment"].widget.attrs.update(
                {
                    "hx-get": prefill_url,
                    "hx-trigger": "change",
                    "hx-target": "#plan-form",
                    "hx-select": "#plan-form",
                    "hx-swap": "outerHTML",
                }
            )


class CourseExtendForm(forms.Form):
    to_sessions = forms.IntegerField(
        label="New planned total of sessions",
        min_value=1,
        max_value=50,
    )
    # The reason is required by the service, which words the message; the browser asks too.
    reason = forms.CharField(
        label="Reason for extending (required)",
        required=False,
        max_length=REASON_MAX_LENGTH,
        validators=[FREE_TEXT],
        widget=forms.Textarea(attrs={"rows": 2, "required": True}),
    )


class CourseCloseForm(forms.Form):
    status = forms.ChoiceField(
        label="Close the course as",
        choices=[
            (Course.Status.COMPLETED, "Completed: the treatment has done what it set out to do"),
            (Course.Status.DISCONTINUED, "Discontinued: stopping before the plan is finished"),
        ],
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Choose completed or discontinued."},
    )
    reason = forms.CharField(
        label="Reason or outcome (required)",
        required=False,
        max_length=REASON_MAX_LENGTH,
        validators=[FREE_TEXT],
        widget=forms.Textarea(attrs={"rows": 2, "required": True}),
    )


class ScreeningReviewForm(forms.Form):
    notes = forms.CharField(
        label="Review notes",
        required=False,
        max_length=NOTE_MAX_LENGTH,
        validators=[FREE_TEXT],
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Required when any answer is flagged: say what you decided and why.",
    )
