"""Forms of the patient's own pages. The rules stay in the services; these only read input."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Field, Layout
from django import forms

from treatments.models import ConsentForm

from .models import Screening

TEXT_LIMIT = 2000
YES_NO = [("yes", "Yes"), ("no", "No")]


def _yes(value: str) -> bool:
    return value == "yes"


class ScreeningForm(forms.Form):
    """The screening questionnaire: a yes/no answer to each question, then free text.

    Nothing is answered in advance: the patient picks "Yes" or "No" for every question.
    """

    other_conditions = forms.CharField(
        label="Any other medical conditions we should know about",
        required=False,
        max_length=TEXT_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example diabetes, heart conditions or problems with healing. "
        "Leave blank if there are none.",
    )
    medicines = forms.CharField(
        label="Medicines you take",
        required=False,
        max_length=TEXT_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Include tablets, injections, the contraceptive pill and anything bought "
        "without a prescription. Leave blank if you take none.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        questions = {
            name: forms.TypedChoiceField(
                label=question,
                choices=YES_NO,
                coerce=_yes,
                widget=forms.RadioSelect,
                error_messages={"required": "Please answer yes or no."},
            )
            for name, question in Screening.FLAG_QUESTIONS.items()
        }
        # The questions come first, in the order the model lists them.
        self.fields = {**questions, **self.fields}
        for name in ("other_conditions", "medicines"):
            self.fields[name].error_messages["max_length"] = (
                f"Please keep this to {TEXT_LIMIT:,} characters or fewer; "
                "the consultant will ask you about the details."
            )
        # Yes and No side by side under each question; the template draws the <form>.
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            *(
                Field(name, template="patients/_yes_no_field.html")
                for name in Screening.FLAG_QUESTIONS
            ),
            "other_conditions",
            "medicines",
        )

    @classmethod
    def initial_from(cls, screening: Screening | None) -> dict[str, Any]:
        """The saved answers, to edit them (empty for a first visit: nothing pre-ticked)."""
        if screening is None:
            return {}
        initial: dict[str, Any] = {
            name: "yes" if getattr(screening, name) else "no" for name in Screening.FLAG_QUESTIONS
        }
        initial["other_conditions"] = screening.other_conditions
        initial["medicines"] = screening.medicines
        return initial

    def answers(self) -> dict[str, object]:
        """The cleaned answers, keyed as ``patients.services.screening_submit`` expects."""
        fields = (*Screening.FLAG_QUESTIONS, "other_conditions", "medicines")
        return {name: self.cleaned_data[name] for name in fields}


class ConsentSignForm(forms.Form):
    """The patient's signature: their full name typed, and a tick for each statement.

    ``form_id`` is the version the patient read; the service refuses it if a newer version
    came into effect meanwhile, so nobody signs text they were not shown. Whether every
    statement is ticked and whether the name matches is the service's decision.
    """

    form_id = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)
    statements = forms.TypedMultipleChoiceField(
        label="I confirm that:",
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )
    typed_name = forms.CharField(
        label="Type your full name to sign",
        max_length=300,
        error_messages={"required": "Type your full name to sign the form."},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )

    def __init__(self, *args: Any, consent_form: ConsentForm, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})["form_id"] = consent_form.pk
        super().__init__(*args, **kwargs)
        self.consent_form = consent_form
        statements = self.fields["statements"]
        statements.choices = list(enumerate(consent_form.statements))  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # Hidden, so its errors are shown at the top of the form.
        if cleaned.get("form_id") != self.consent_form.pk:
            self.errors.pop("form_id", None)
            self.add_error(
                None,
                "The consent form has changed since you opened this page. Please read the "
                "version below and sign it again.",
            )
        return cleaned

    def statements_accepted(self) -> list[str]:
        texts = self.consent_form.statements
        return [texts[i] for i in self.cleaned_data.get("statements", []) if 0 <= i < len(texts)]
