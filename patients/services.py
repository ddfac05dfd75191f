"""Writes about patients."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.errors import DomainError, PermissionRefused
from clinic.models import StaffMember, User, normalise_email
from clinic.roles import Role
from clinic.services import user_set_roles

from .models import Patient, Screening


@transaction.atomic
def patient_sign_up(*, email: str, first_name: str, last_name: str, password: str) -> Patient:
    """Open an account for a new patient: a login, the Patient role and an empty profile.

    The email address is the login and must not already have an account (compared
    without regard to case).
    """
    email = normalise_email(email)
    if User.objects.filter(email__iexact=email).exists():
        raise DomainError("An account with this email address already exists.", code="duplicate")
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email,
                password=password,
                first_name=first_name.strip(),
                last_name=last_name.strip(),
            )
    except IntegrityError as exc:  # two sign-ups with one address at the same moment
        raise DomainError(
            "An account with this email address already exists.", code="duplicate"
        ) from exc
    user_set_roles(user=user, roles={Role.PATIENT})
    return Patient.objects.create(user=user)


SCREENING_ANSWER_FIELDS = (*Screening.FLAG_QUESTIONS, "other_conditions", "medicines")


@transaction.atomic
def screening_submit(*, patient: Patient, answers: dict[str, object]) -> Screening:
    """Save the patient's screening answers; they may change them until a consultant reviews.

    Any "yes" to a flagged question waits for a consultant's review, which blocks planning
    a course until it is done (see ``treatments.services.course_plan``).
    """
    unknown = set(answers) - set(SCREENING_ANSWER_FIELDS)
    if unknown:
        raise DomainError(f"Unknown screening question: {', '.join(sorted(unknown))}.")
    screening = Screening.objects.select_for_update(of=("self",)).filter(patient=patient).first()
    if screening is not None and screening.is_reviewed:
        raise DomainError(
            "A consultant has already reviewed your answers. If something has changed, "
            "please call the clinic so that they can update it with you."
        )
    if screening is None:
        screening = Screening(patient=patient)
    for field in Screening.FLAG_QUESTIONS:
        setattr(screening, field, bool(answers.get(field, False)))
    screening.other_conditions = str(answers.get("other_conditions", "") or "").strip()
    screening.medicines = str(answers.get("medicines", "") or "").strip()
    screening.submitted_at = timezone.now()
    screening.save()
    return screening


@transaction.atomic
def screening_review(
    *, screening: Screening, consultant: StaffMember | None, notes: str
) -> Screening:
    """A consultant reviews the answers; planning may then go ahead."""
    if (
        consultant is None
        or not consultant.is_active
        or consultant.role != StaffMember.StaffRole.CONSULTANT
    ):
        raise PermissionRefused("Only a consultant can review a screening.")
    screening = Screening.objects.select_for_update(of=("self",)).get(pk=screening.pk)
    if screening.is_reviewed:
        raise DomainError("This screening has already been reviewed.")
    notes = (notes or "").strip()
    if screening.flags and not notes:
        raise DomainError("Note what you decided about the flagged answers.")
    screening.reviewed_at = timezone.now()
    screening.reviewed_by = consultant
    screening.review_notes = notes
    screening.save(update_fields=["reviewed_at", "reviewed_by", "review_notes"])
    return screening
