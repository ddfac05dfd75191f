"""Forms of the nurse's screens: consent on the tablet, the session record, stockings,
adverse events and abandoning a session.

The forms check the shape of what was typed (numbers are numbers, choices are known);
the clinic's rules stay in ``treatments.services`` and come back as DomainError.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from clinic.validators import FREE_TEXT, ONE_LINE

from ..models import (
    LEG_ZONES,
    AdverseEvent,
    ConsentForm,
    Leg,
    Legs,
    SessionRecord,
    StockingFitting,
)

NOTES_MAX_LENGTH = 10_000
REASON_MAX_LENGTH = 2_000


def zone_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The leg map as (leg label, [(zone code, zone label without the leg)]) groups."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for side in Leg:
        prefix = f"{side.value}_"
        zones = [
            (code, _without_side(label))
            for code, label in LEG_ZONES.items()
            if code.startswith(prefix)
        ]
        groups.append((side.label, zones))
    return groups


def _without_side(label: str) -> str:
    rest = label.split(" ", 1)[1] if " " in label else label
    return rest[:1].upper() + rest[1:]


class ConsentSignForm(forms.Form):
    """The patient signs the current consent form on the clinic's tablet.

    One checkbox per statement of the form; the service checks that every one is ticked
    and that the typed name matches the patient's registered name.
    """

    consent_form = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)
    typed_name = forms.CharField(
        label="Your full name",
        max_length=300,
        # The service compares it with the registered name; anything else is refused there.
        validators=[ONE_LINE],
        help_text="Type your first and last name as registered with the clinic.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args: Any, consent_form: ConsentForm, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.consent_form_shown = consent_form
        self.fields["consent_form"].initial = consent_form.pk
        self.statement_fields: list[str] = []
        for index, statement in enumerate(consent_form.statements):
            name = f"statement_{index}"
            self.fields[name] = forms.BooleanField(label=statement, required=False)
            self.statement_fields.append(name)
        # The name goes last, under the statements, as on a paper form.
        self.order_fields([*self.statement_fields, "typed_name", "consent_form"])

    def statement_boxes(self) -> list[forms.BoundField]:
        return [self[name] for name in self.statement_fields]

    def statements_accepted(self) -> list[str]:
        return [
            statement
            for name, statement in zip(
                self.statement_fields, self.consent_form_shown.statements, strict=True
            )
            if self.cleaned_data.get(name)
        ]


class SessionRecordForm(forms.Form):
    """What was done in the session. Every field maps to ``services.session_record``."""

    legs_treated = forms.ChoiceField(label="Legs treated", choices=Legs.choices)
    treated_areas = forms.MultipleChoiceField(
        label="Treated areas",
        choices=list(LEG_ZONES.items()),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    sclerosant = forms.CharField(label="Sclerosant", max_length=80, validators=[ONE_LINE])
    concentration_percent = forms.DecimalField(
        label="Concentration (%)",
        required=False,
        max_digits=4,
        decimal_places=2,
        min_value=Decimal("0.05"),
        max_value=Decimal("3.00"),
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )
    total_volume_ml = forms.DecimalField(
        label="Total volume (mL)",
        required=False,
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("20.00"),
        widget=forms.NumberInput(attrs={"step": "0.1"}),
    )
    injections = forms.IntegerField(
        label="Number of injections", required=False, min_value=0, max_value=500
    )
    discomfort = forms.IntegerField(
        label="Discomfort (0 none – 10 worst)", required=False, min_value=0, max_value=10
    )
    music_requested = forms.CharField(
        label="Music requested", required=False, max_length=200, validators=[ONE_LINE]
    )
    notes = forms.CharField(
        label="Notes",
        required=False,
        max_length=NOTES_MAX_LENGTH,
        validators=[FREE_TEXT],
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    discharge_walk_minutes = forms.IntegerField(
        label="Walk before discharge (minutes)", required=False, min_value=0, max_value=240
    )

    @classmethod
    def for_session(cls, session: SessionRecord) -> SessionRecordForm:
        return cls(
            initial={
                "legs_treated": session.legs_treated or session.course.legs,
                "treated_areas": list(session.treated_areas),
                "sclerosant": session.sclerosant,
                "concentration_percent": session.concentration_percent,
                "total_volume_ml": session.total_volume_ml,
                "injections": session.injections,
                "discomfort": session.discomfort,
                "music_requested": session.music_requested,
                "notes": session.notes,
                "discharge_walk_minutes": session.discharge_walk_minutes,
            }
        )

    def selected_areas(self) -> set[str]:
        """The ticked zones, for drawing the checkboxes by hand (as sent, or as saved)."""
        return {str(code) for code in (self["treated_areas"].value() or [])}


class StockingForm(forms.Form):
    leg = forms.ChoiceField(label="Leg", choices=Leg.choices)
    compression_class = forms.ChoiceField(
        label="Compression class", choices=StockingFitting.CompressionClass.choices
    )
    length = forms.ChoiceField(label="Length", choices=StockingFitting.Length.choices)

    @classmethod
    def for_session(cls, session: SessionRecord) -> StockingForm:
        """Suggest the first treated leg that has no stocking yet."""
        fitted = {s.leg for s in session.stockings.all()}
        sides = Legs.sides(session.legs_treated or session.course.legs)
        leg = next((side for side in sides if side not in fitted), sides[0])
        return cls(
            initial={
                "leg": leg,
                "compression_class": StockingFitting.CompressionClass.CLASS_1,
                "length": StockingFitting.Length.THIGH,
            }
        )


class AdverseEventForm(forms.Form):
    kind = forms.ChoiceField(label="What happened", choices=AdverseEvent.Kind.choices)
    severity = forms.ChoiceField(label="Severity", choices=AdverseEvent.Severity.choices)
    action_taken = forms.CharField(
        label="Action taken",
        max_length=NOTES_MAX_LENGTH,
        validators=[FREE_TEXT],
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    description = forms.CharField(
        label="Description (optional)",
        required=False,
        max_length=NOTES_MAX_LENGTH,
        validators=[FREE_TEXT],
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class AbandonForm(forms.Form):
    reason = forms.CharField(
        label="Why is the session not going ahead?",
        max_length=REASON_MAX_LENGTH,
        validators=[FREE_TEXT],
        widget=forms.Textarea(attrs={"rows": 2}),
    )
