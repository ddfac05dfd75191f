"""Forms of the patient's own pages. The rules stay in the services; these only read input."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Field, Fieldset, Layout
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic.validators import FREE_TEXT, ONE_LINE, check_plain_text
from treatments.models import ConsentForm

from .models import Patient, Screening

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
        validators=[FREE_TEXT],
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example diabetes, heart conditions or problems with healing. "
        "Leave blank if there are none.",
    )
    medicines = forms.CharField(
        label="Medicines you take",
        required=False,
        max_length=TEXT_LIMIT,
        validators=[FREE_TEXT],
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
        # The service compares it with the registered name; anything else is refused there.
        validators=[ONE_LINE],
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


# --- the patient's details ------------------------------------------------------------------

EARLIEST_BIRTH_DATE = date(1900, 1, 1)
ADDRESS_LIMIT = 500
# Digits with spaces, brackets or dashes between them and an optional "+" in front.
PHONE_PATTERN = re.compile(r"\+?[0-9][0-9 ()\-]*[0-9]", re.ASCII)


def _legend(text: str) -> str:
    """A fieldset's legend the size of the page's other section headings (crispy marks the
    legend safe; ``text`` is always a constant of this module)."""
    return f'<span class="fs-5 fw-medium">{text}</span>'


class ProfileForm(forms.Form):
    """The patient's own details. The rules that span fields (an insured patient names an
    insurer; text messages need a phone number) are the service's, shown on the field."""

    first_name = forms.CharField(
        label="First name",
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
        error_messages={"required": "Please give your first name."},
    )
    last_name = forms.CharField(
        label="Last name",
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
        error_messages={"required": "Please give your last name."},
    )
    date_of_birth = forms.DateField(
        label="Date of birth",
        required=False,
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        widget=forms.DateInput(
            attrs={"type": "date", "autocomplete": "bday", "min": "1900-01-01"},
            format="%Y-%m-%d",
        ),
        error_messages={"invalid": "Enter the date as day/month/year, for example 24/03/1975."},
    )
    phone = forms.CharField(
        label="Mobile or phone number",
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        help_text="We use it if we need to reach you about an appointment, and for text "
        "messages if you want them.",
    )
    address = forms.CharField(
        label="Postal address",
        required=False,
        max_length=ADDRESS_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "street-address"}),
    )
    gp_practice = forms.CharField(
        label="Your GP practice",
        required=False,
        max_length=200,
        help_text="The name and town of the surgery, so that we can write to your GP if needed.",
    )
    payer = forms.ChoiceField(
        label="How you pay for treatment",
        choices=Patient.Payer.choices,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Choose self-funded or insured."},
    )
    insurer = forms.CharField(
        label="Insurance company",
        required=False,
        max_length=120,
        help_text="Only if you are insured.",
    )
    policy_number = forms.CharField(
        label="Policy or membership number", required=False, max_length=60
    )
    preauthorisation_code = forms.CharField(
        label="Pre-authorisation code",
        required=False,
        max_length=60,
        help_text="Your insurer gives you this code when they agree to pay for treatment.",
    )
    contact_by_email = forms.BooleanField(label="You may contact me by email", required=False)
    contact_by_sms = forms.BooleanField(label="You may contact me by text message", required=False)

    # Service refusal codes -> the field the refusal belongs to.
    SERVICE_FIELDS = {"insurer": "insurer", "phone": "phone"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField) and field.max_length:
                field.error_messages["max_length"] = (
                    f"Please keep this to {field.max_length:,} characters or fewer."
                )
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the template's <form> has it
        self.helper.layout = Layout(
            Fieldset(_legend("Your name"), "first_name", "last_name"),
            Fieldset(_legend("About you"), "date_of_birth", "gp_practice"),
            Fieldset(
                _legend("How we reach you"),
                "phone",
                "address",
                "contact_by_email",
                "contact_by_sms",
            ),
            Fieldset(
                _legend("How you pay"),
                HTML(
                    '<p class="small text-body-secondary">Insurers rarely pay for thread-vein '
                    "treatment, because most of them class it as cosmetic. If yours has agreed "
                    "to pay, add their details here.</p>"
                ),
                "payer",
                "insurer",
                "policy_number",
                "preauthorisation_code",
            ),
        )

    @classmethod
    def initial_from(cls, patient: Patient) -> dict[str, Any]:
        user = patient.user
        return {
            "first_name": user.first_name,
            "last_name": user.last_name,
            "date_of_birth": patient.date_of_birth,
            "phone": patient.phone,
            "address": patient.address,
            "gp_practice": patient.gp_practice,
            "payer": patient.payer,
            "insurer": patient.insurer,
            "policy_number": patient.policy_number,
            "preauthorisation_code": patient.preauthorisation_code,
            "contact_by_email": patient.contact_by_email,
            "contact_by_sms": patient.contact_by_sms,
        }

    def _clean_line(self, name: str) -> str:
        return check_plain_text(self.cleaned_data.get(name) or "")

    def clean_first_name(self) -> str:
        return self._clean_name("first_name")

    def clean_last_name(self) -> str:
        return self._clean_name("last_name")

    def _clean_name(self, name: str) -> str:
        value = self._clean_line(name)
        if not any(char.isalpha() for char in value):
            raise ValidationError("Please write your name in letters.", code="letters")
        return value

    def clean_date_of_birth(self) -> date | None:
        born = self.cleaned_data.get("date_of_birth")
        if born is None:
            return None
        if born > timezone.localdate():
            raise ValidationError("Your date of birth cannot be in the future.", code="future")
        if born < EARLIEST_BIRTH_DATE:
            raise ValidationError(
                "Please check the year: we can only take dates from 1900.", code="too_early"
            )
        return born

    def clean_phone(self) -> str:
        value = self._clean_line("phone").strip()
        digits = sum(char.isdigit() for char in value)
        if value and (not PHONE_PATTERN.fullmatch(value) or not 7 <= digits <= 15):
            raise ValidationError(
                "Enter a phone number in digits, for example 07700 900123 or +44 7700 900123.",
                code="phone",
            )
        return value

    def clean_address(self) -> str:
        return check_plain_text(self.cleaned_data.get("address") or "", multiline=True)

    def clean_gp_practice(self) -> str:
        return self._clean_line("gp_practice")

    def clean_insurer(self) -> str:
        return self._clean_line("insurer")

    def clean_policy_number(self) -> str:
        return self._clean_line("policy_number")

    def clean_preauthorisation_code(self) -> str:
        return self._clean_line("preauthorisation_code")

    def profile_fields(self) -> dict[str, Any]:
        """The cleaned details, keyed as ``patients.services.patient_profile_update`` takes."""
        names = (
            "date_of_birth",
            "phone",
            "address",
            "gp_practice",
            "payer",
            "insurer",
            "policy_number",
            "preauthorisation_code",
            "contact_by_email",
            "contact_by_sms",
        )
        return {name: self.cleaned_data[name] for name in names}

    def add_service_error(self, code: str, message: str) -> None:
        self.add_error(self.SERVICE_FIELDS.get(code), message)


# --- closing the account ---------------------------------------------------------------------


class CloseAccountForm(forms.Form):
    reason = forms.CharField(
        label="Why you would like to close your account (optional)",
        required=False,
        max_length=TEXT_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="It helps us improve. You do not have to tell us.",
    )
    confirm = forms.BooleanField(
        label="I understand what closing my account means, and I would like the clinic to "
        "close it.",
        error_messages={"required": "Please tick the box to confirm that you want to go ahead."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].error_messages["max_length"] = (
            f"Please keep this to {TEXT_LIMIT:,} characters or fewer."
        )
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def clean_reason(self) -> str:
        # Free text in the patient's own words: anything printable goes (it is escaped).
        return check_plain_text(
            self.cleaned_data.get("reason") or "", multiline=True, markup_ok=True
        )
