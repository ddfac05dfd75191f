"""Writes about patients."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from qsessions.models import Session

from clinic.errors import DomainError, PermissionRefused
from clinic.models import StaffMember, User, normalise_email
from clinic.roles import Role
from clinic.services import user_set_roles
from clinic.sessions import end_sessions

from .models import AccountClosureRequest, Patient, RecordAccess, Screening


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


PROFILE_FIELDS = (
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


@transaction.atomic
def patient_profile_update(
    *, patient: Patient, first_name: str, last_name: str, **fields: object
) -> Patient:
    """Save the patient's own details; every change leaves a history entry.

    An insured patient names their insurer; text messages need a phone number; a closed
    account cannot be edited.
    """
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise DomainError(f"Unknown profile field: {', '.join(sorted(unknown))}.")
    patient = (
        Patient.objects.select_for_update(of=("self",)).select_related("user").get(pk=patient.pk)
    )
    if not patient.user.is_active:
        raise DomainError("This account is closed.", code="closed")
    first_name, last_name = (first_name or "").strip(), (last_name or "").strip()
    if not first_name or not last_name:
        raise DomainError("Please give both your first name and your last name.")
    for name, value in fields.items():
        setattr(patient, name, value.strip() if isinstance(value, str) else value)
    if patient.payer == Patient.Payer.INSURED and not patient.insurer:
        raise DomainError("Name your insurer, or choose self-funded.", code="insurer")
    if patient.contact_by_sms and not patient.phone:
        raise DomainError("Add a mobile number to get text messages.", code="phone")
    user = patient.user
    if (user.first_name, user.last_name) != (first_name, last_name):
        user.first_name, user.last_name = first_name, last_name
        user.save(update_fields=["first_name", "last_name"])
    patient.save()
    return patient


# --- Closing an account -------------------------------------------------------------------


@transaction.atomic
def account_closure_request(*, patient: Patient, reason: str = "") -> AccountClosureRequest:
    """The patient asks the clinic to close their account; an admin acts on it.

    One open request at a time (also a database constraint).
    """
    patient = (
        Patient.objects.select_for_update(of=("self",)).select_related("user").get(pk=patient.pk)
    )
    if AccountClosureRequest.objects.filter(
        patient=patient, status=AccountClosureRequest.Status.REQUESTED
    ).exists():
        raise DomainError(
            "You have already asked us to close your account; we will be in touch.",
            code="duplicate",
        )
    if not patient.user.is_active:
        raise DomainError("This account is already closed.", code="closed")
    return AccountClosureRequest.objects.create(
        patient=patient, reason=(reason or "").strip()[:2000], requested_at=timezone.now()
    )


def _lock_open_request(request: AccountClosureRequest) -> AccountClosureRequest:
    locked = AccountClosureRequest.objects.select_for_update(of=("self",)).get(pk=request.pk)
    if locked.status != AccountClosureRequest.Status.REQUESTED:
        raise DomainError(
            f"This request is already {locked.get_status_display().lower()}.", code="handled"
        )
    return locked


@transaction.atomic
def account_closure_withdraw(*, request: AccountClosureRequest, user: User) -> None:
    """The patient changes their mind before an admin has acted."""
    request = _lock_open_request(request)
    if request.patient.user_id != user.pk:
        raise PermissionRefused("Only the patient can withdraw their own request.")
    request.status = AccountClosureRequest.Status.WITHDRAWN
    request.handled_at = timezone.now()
    request.handled_by = user
    request.save(update_fields=["status", "handled_at", "handled_by"])


def retention_end(*, patient: Patient, today: date | None = None) -> date:
    """The last day the clinical record must be kept: N years after the later of the last
    appointment and today (docs/retention.md)."""
    from bookings.models import Appointment

    today = today or timezone.localdate()
    last = (
        Appointment.objects.filter(patient=patient)
        .order_by("-start")
        .values_list("start", flat=True)
        .first()
    )
    anchor = max(today, timezone.localtime(last).date()) if last else today
    years = settings.CLINICAL_RECORD_RETENTION_YEARS
    try:
        return anchor.replace(year=anchor.year + years)
    except ValueError:  # 29 February
        return anchor.replace(year=anchor.year + years, day=28)


@transaction.atomic
def account_closure_complete(
    *, request: AccountClosureRequest, by: User, note: str = ""
) -> AccountClosureRequest:
    """An admin closes the account: the login and everything that is not part of the
    clinical record is erased; the clinical record is kept until ``retain_clinical_until``.

    Refused while the patient has appointments still to come: those are cancelled first,
    with the patient, so nobody is left expecting a visit that no one can remind them of.
    """
    from aftercare.models import ReminderPreference
    from bookings.models import Appointment, CalendarFeed, WaitingListEntry

    if not (by.is_superuser or by.has_perm("patients.change_accountclosurerequest")):
        raise PermissionRefused("Only a clinic admin can close an account.")
    request = _lock_open_request(request)
    patient = (
        Patient.objects.select_for_update(of=("self",))
        .select_related("user")
        .get(pk=request.patient_id)
    )
    upcoming = Appointment.objects.filter(
        patient=patient,
        start__gt=timezone.now(),
        status__in=[Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN],
    )
    if upcoming.exists():
        raise DomainError(
            "This patient still has appointments to come. Cancel them first.", code="upcoming"
        )
    _erase_personal_data(patient)
    CalendarFeed.objects.filter(user=patient.user).delete()
    WaitingListEntry.objects.filter(patient=patient).delete()
    ReminderPreference.objects.filter(patient=patient).delete()
    request.status = AccountClosureRequest.Status.COMPLETED
    request.handled_at = timezone.now()
    request.handled_by = by
    request.admin_note = (note or "").strip()
    request.retain_clinical_until = retention_end(patient=patient)
    request.reason = ""  # the patient's own words are not part of the clinical record
    request.save()
    request.history.update(reason="")
    return request


# Contact and account details that are not part of the clinical record.
ERASED_PATIENT_FIELDS = {
    "phone": "",
    "address": "",
    "policy_number": "",
    "preauthorisation_code": "",
    "contact_by_email": False,
    "contact_by_sms": False,
}


def _erase_personal_data(patient: Patient) -> None:
    from aftercare.models import Reminder

    user = patient.user
    # The name stays with the clinical record it identifies; the login goes.
    user.email = f"closed-{user.pk}@closed.invalid"
    user.set_unusable_password()
    user.is_active = False
    user.save(update_fields=["email", "password", "is_active"])
    # Signed out everywhere; the sessions' rows and cached copies held the address and
    # browser each was used from.
    end_sessions(Session.objects.filter(user=user))
    for name, value in ERASED_PATIENT_FIELDS.items():
        setattr(patient, name, value)
    patient.save()
    # Earlier versions in the history would still hold the erased details.
    patient.history.update(**ERASED_PATIENT_FIELDS)
    Reminder.objects.filter(
        patient=patient,
        status__in=[Reminder.Status.PENDING, Reminder.Status.SENDING, Reminder.Status.FAILED],
    ).update(status=Reminder.Status.CANCELLED, last_error="")
    Reminder.objects.filter(patient=patient).update(last_error="", provider_id="")


# --- Who looked at a record -------------------------------------------------------------------


def record_access_log(
    *, user: User, patient: Patient | int, what: str, ref: str = "", reason: str = ""
) -> RecordAccess | None:
    """Note that a member of staff opened a page showing this patient's record.

    A patient looking at their own record is not logged. The label and reference say
    which record, never what it holds (no health data goes into this table).
    """
    patient_id = patient if isinstance(patient, int) else patient.pk
    if Patient.objects.filter(pk=patient_id, user_id=user.pk).exists():
        return None
    return RecordAccess.objects.create(
        user=user,
        patient_id=patient_id,
        what=what[:120],
        ref=ref[:80],
        reason=(reason or "").strip()[:255],
        at=timezone.now(),
    )
