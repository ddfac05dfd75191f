from __future__ import annotations

import pytest

from clinic.errors import DomainError, PermissionRefused
from patients.models import Screening
from patients.services import (
    patient_profile_update,
    patient_sign_up,
    screening_review,
    screening_submit,
)

from ..factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_flagged_answers_need_review():
    patient = PatientFactory()
    screening = screening_submit(
        patient=patient, answers={"past_dvt_or_pe": True, "medicines": " Aspirin "}
    )
    assert screening.needs_review
    assert len(screening.flags) == 1
    assert screening.medicines == "Aspirin"


def test_no_flags_means_nothing_to_review():
    screening = screening_submit(patient=PatientFactory(), answers={})
    assert screening.flags == []
    assert not screening.needs_review


def test_answers_can_change_until_reviewed(consultant):
    patient = PatientFactory()
    screening_submit(patient=patient, answers={"open_leg_ulcers": True})
    screening = screening_submit(patient=patient, answers={"open_leg_ulcers": False})
    assert Screening.objects.filter(patient=patient).count() == 1
    assert screening.flags == []
    screening_review(screening=screening, consultant=consultant, notes="")
    with pytest.raises(DomainError, match="already reviewed"):
        screening_submit(patient=patient, answers={"open_leg_ulcers": True})
    screening.refresh_from_db()
    assert not screening.open_leg_ulcers


def test_review_of_flags_needs_notes_and_a_consultant(consultant, nurse):
    screening = screening_submit(patient=PatientFactory(), answers={"clotting_disorder": True})
    with pytest.raises(PermissionRefused):
        screening_review(screening=screening, consultant=nurse, notes="fine")
    with pytest.raises(DomainError, match="Note what you decided"):
        screening_review(screening=screening, consultant=consultant, notes=" ")
    reviewed = screening_review(screening=screening, consultant=consultant, notes="Factor V; ok.")
    assert reviewed.reviewed_by == consultant
    assert not reviewed.needs_review


def test_unknown_questions_are_refused():
    with pytest.raises(DomainError, match="Unknown screening question"):
        screening_submit(patient=PatientFactory(), answers={"is_admin": True})


def test_sign_up_refuses_a_duplicate_address():
    patient_sign_up(email="a@example.org", first_name="A", last_name="B", password="x-long-pass-1")
    with pytest.raises(DomainError, match="already exists"):
        patient_sign_up(
            email="A@EXAMPLE.org", first_name="A", last_name="B", password="x-long-pass-1"
        )


# --- the patient's own details ---------------------------------------------------------------


def test_a_patient_updates_their_details_and_the_change_is_kept_in_history(patient):
    patient_profile_update(
        patient=patient, first_name=" Mary ", last_name="Seacole", phone=" 07700 900456 "
    )
    patient.refresh_from_db()
    assert patient.user.get_full_name() == "Mary Seacole"
    assert patient.phone == "07700 900456"
    assert patient.history.count() >= 2
    assert patient.history.latest().phone == "07700 900456"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"payer": "insured", "insurer": ""}, "Name your insurer"),
        ({"contact_by_sms": True, "phone": ""}, "mobile number"),
        ({"email": "x@example.com"}, "Unknown profile field"),
    ],
)
def test_profile_rules(patient, fields, message):
    with pytest.raises(DomainError, match=message):
        patient_profile_update(patient=patient, first_name="A", last_name="B", **fields)
    patient.refresh_from_db()
    assert patient.payer == "self" and not patient.contact_by_sms


def test_a_name_is_required(patient):
    with pytest.raises(DomainError, match="first name and your last name"):
        patient_profile_update(patient=patient, first_name="  ", last_name="B")
