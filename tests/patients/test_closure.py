"""Closing an account: the patient asks, an admin acts. Personal details that are not part
of the clinical record are erased (their history too); the clinical record is kept until
the retention date."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.test import RequestFactory
from django.urls import reverse

from aftercare.models import Reminder, ReminderPreference
from bookings.feeds import calendar_feed_for
from bookings.models import Appointment, CalendarFeed, WaitingListEntry
from clinic.errors import DomainError, PermissionRefused
from patients.models import AccountClosureRequest, Patient, Screening
from patients.services import (
    account_closure_complete,
    account_closure_request,
    account_closure_withdraw,
    patient_profile_update,
    retention_end,
)

from ..factories import (
    PASSWORD,
    AppointmentFactory,
    PatientFactory,
    ScreeningFactory,
    local,
    treatment,
)

pytestmark = pytest.mark.django_db

NOW = local(2026, 11, 2, 10)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def full_patient(**user_fields) -> Patient:
    """A patient with contact details, preferences, a feed, a waiting-list entry, reminders
    (one sent, one due), a past appointment and a screening."""
    patient = PatientFactory(**user_fields)
    patient_profile_update(
        patient=patient,
        first_name="Ada",
        last_name="Lovelace",
        phone="07700 900123",
        address="1 Example Street\nLondon",
        date_of_birth=date(1970, 5, 1),
        payer=Patient.Payer.INSURED,
        insurer="Example Health",
        policy_number="POL-123",
        preauthorisation_code="PRE-9",
        contact_by_sms=True,
    )
    patient.refresh_from_db()
    ScreeningFactory(patient=patient)
    ReminderPreference.objects.create(patient=patient, walk_time=time(8, 0))
    calendar_feed_for(user=patient.user)
    past = AppointmentFactory(
        patient=patient,
        start=datetime(2026, 9, 1, 9, tzinfo=UTC),
        end=datetime(2026, 9, 1, 9, 30, tzinfo=UTC),
        status=Appointment.Status.COMPLETED,
    )
    WaitingListEntry.objects.create(
        patient=patient,
        treatment=treatment("initial-consultation"),
        earliest_date=date(2026, 12, 1),
        latest_date=date(2026, 12, 20),
    )
    Reminder.objects.create(
        patient=patient,
        kind=Reminder.Kind.APPOINTMENT_CONFIRMATION,
        due_at=past.start - timedelta(days=7),
        status=Reminder.Status.SENT,
        sent_at=past.start - timedelta(days=7),
        provider_id="msg-1",
        idempotency_key=f"sent-{patient.pk}",
    )
    Reminder.objects.create(
        patient=patient,
        kind=Reminder.Kind.WINDOW_OPENS,
        due_at=NOW + timedelta(days=3),
        idempotency_key=f"due-{patient.pk}",
    )
    return patient


@pytest.fixture
def admin_user(clinic_admin):
    return clinic_admin.user


def test_a_patient_asks_to_close_their_account_once(patient):
    request = account_closure_request(patient=patient, reason="Moving abroad")
    assert request.status == AccountClosureRequest.Status.REQUESTED
    assert request.requested_at == NOW
    with pytest.raises(DomainError, match="already asked") as error:
        account_closure_request(patient=patient)
    assert error.value.code == "duplicate"
    assert AccountClosureRequest.objects.filter(patient=patient).count() == 1


def test_the_database_holds_one_open_request_per_patient(patient):
    account_closure_request(patient=patient)
    with pytest.raises(IntegrityError), transaction.atomic():
        AccountClosureRequest.objects.create(patient=patient, requested_at=NOW)


def test_a_withdrawn_request_can_be_followed_by_a_new_one(patient):
    first = account_closure_request(patient=patient)
    account_closure_withdraw(request=first, user=patient.user)
    first.refresh_from_db()
    assert first.status == AccountClosureRequest.Status.WITHDRAWN
    assert first.handled_by == patient.user
    with pytest.raises(DomainError, match="already withdrawn"):
        account_closure_withdraw(request=first, user=patient.user)
    assert account_closure_request(patient=patient).pk != first.pk


def test_only_the_patient_withdraws_their_own_request(patient):
    request = account_closure_request(patient=patient)
    with pytest.raises(PermissionRefused):
        account_closure_withdraw(request=request, user=PatientFactory().user)


@pytest.mark.parametrize("who", ["patient", "nurse", "consultant"])
def test_only_a_clinic_admin_closes_an_account(who, request):
    target = full_patient()
    closure = account_closure_request(patient=target)
    with pytest.raises(PermissionRefused):
        account_closure_complete(request=closure, by=request.getfixturevalue(who).user)
    target.refresh_from_db()
    assert target.phone and target.user.is_active


def test_closing_erases_personal_details_and_keeps_the_clinical_record(admin_user):
    patient = full_patient(user__email="ada@example.com")
    request = RequestFactory().post("/accounts/login/")
    assert authenticate(request, username="ada@example.com", password=PASSWORD) == patient.user
    other = full_patient(user__email="grace@example.com")
    assert patient.history.filter(phone="07700 900123").exists()
    closure = account_closure_request(patient=patient, reason="Please delete me")

    done = account_closure_complete(request=closure, by=admin_user, note="Checked by phone")

    patient.refresh_from_db()
    user = patient.user
    # The login is gone: no email, no password, inactive.
    assert not user.is_active and not user.has_usable_password()
    assert user.email.endswith("@closed.invalid") and "ada" not in user.email
    request = RequestFactory().post("/accounts/login/")
    assert authenticate(request, username="ada@example.com", password=PASSWORD) is None
    assert authenticate(request, username=user.email, password=PASSWORD) is None
    # Contact and insurance details are erased, and so are their earlier versions.
    for field in ("phone", "address", "policy_number", "preauthorisation_code"):
        assert getattr(patient, field) == ""
        assert not patient.history.exclude(**{field: ""}).exists(), field
    assert not patient.contact_by_sms and not patient.contact_by_email
    assert not CalendarFeed.objects.filter(user=user).exists()
    assert not WaitingListEntry.objects.filter(patient=patient).exists()
    assert not ReminderPreference.objects.filter(patient=patient).exists()
    # Reminders: nothing more will be sent; the record of what was sent stays, stripped.
    assert not Reminder.objects.filter(patient=patient, status=Reminder.Status.PENDING).exists()
    sent = Reminder.objects.get(patient=patient, status=Reminder.Status.SENT)
    assert sent.provider_id == ""
    # The clinical record is kept, still attributable to the person.
    assert Appointment.objects.filter(patient=patient).count() == 1
    assert Screening.objects.filter(patient=patient).exists()
    assert user.first_name == "Ada" and patient.date_of_birth == date(1970, 5, 1)
    # The request records who, when and until when the record is kept; the reason is gone.
    assert done.status == AccountClosureRequest.Status.COMPLETED
    assert done.handled_by == admin_user and done.handled_at == NOW
    assert done.retain_clinical_until == date(2034, 11, 2)
    assert done.admin_note == "Checked by phone"
    assert done.reason == "" and not done.history.exclude(reason="").exists()
    # Another patient is untouched.
    other.refresh_from_db()
    assert other.phone == "07700 900123" and other.user.is_active
    assert CalendarFeed.objects.filter(user=other.user).exists()
    assert Reminder.objects.filter(patient=other, status=Reminder.Status.PENDING).exists()


def test_a_closed_account_cannot_be_closed_again_or_edited(admin_user):
    patient = full_patient()
    closure = account_closure_request(patient=patient)
    account_closure_complete(request=closure, by=admin_user)
    with pytest.raises(DomainError, match="already completed"):
        account_closure_complete(request=closure, by=admin_user)
    with pytest.raises(DomainError, match="closed"):
        account_closure_request(patient=patient)
    with pytest.raises(DomainError, match="closed"):
        patient_profile_update(patient=patient, first_name="A", last_name="B", phone="1")


def test_appointments_still_to_come_must_be_cancelled_first(admin_user):
    patient = full_patient()
    AppointmentFactory(
        patient=patient,
        start=datetime(2026, 12, 1, 10, tzinfo=UTC),
        end=datetime(2026, 12, 1, 10, 30, tzinfo=UTC),
    )
    closure = account_closure_request(patient=patient)
    with pytest.raises(DomainError, match="Cancel them first") as error:
        account_closure_complete(request=closure, by=admin_user)
    assert error.value.code == "upcoming"
    patient.refresh_from_db()
    assert patient.phone and patient.user.is_active  # nothing was erased


def test_the_record_is_kept_for_the_set_years_after_the_later_of_last_visit_and_today(
    settings,
):
    patient = PatientFactory()
    assert retention_end(patient=patient) == date(2034, 11, 2)
    settings.CLINICAL_RECORD_RETENTION_YEARS = 10
    AppointmentFactory(
        patient=patient,
        start=datetime(2027, 2, 28, 23, 30, tzinfo=UTC),  # 28 Feb in London
        end=datetime(2027, 2, 28, 23, 59, tzinfo=UTC),
        status=Appointment.Status.CANCELLED,
    )
    assert retention_end(patient=patient) == date(2037, 2, 28)
    assert retention_end(patient=PatientFactory(), today=date(2028, 2, 29)) == date(2038, 2, 28)


# --- the admin screen ------------------------------------------------------------------------


def test_an_admin_closes_an_account_from_the_admin(client, admin_user):
    patient = full_patient()
    closure = account_closure_request(patient=patient)
    client.force_login(admin_user)
    change = reverse("admin:patients_accountclosurerequest_change", args=[closure.pk])
    assert "Close the account" in client.get(change).content.decode()
    url = reverse("admin:patients_accountclosurerequest_complete", args=[closure.pk])
    page = client.get(url)
    assert page.status_code == 200 and "2 November 2034" in page.content.decode()
    # Without the confirmation nothing happens.
    assert client.post(url, {"note": "x"}).status_code == 400
    assert AccountClosureRequest.objects.get().status == AccountClosureRequest.Status.REQUESTED
    response = client.post(url, {"note": "done", "confirm": "on"})
    assert response.status_code == 302
    assert AccountClosureRequest.objects.get().status == AccountClosureRequest.Status.COMPLETED


def test_the_admin_screen_refuses_with_a_message_when_appointments_remain(client, admin_user):
    patient = full_patient()
    AppointmentFactory(
        patient=patient,
        start=datetime(2026, 12, 1, 10, tzinfo=UTC),
        end=datetime(2026, 12, 1, 10, 30, tzinfo=UTC),
    )
    closure = account_closure_request(patient=patient)
    client.force_login(admin_user)
    url = reverse("admin:patients_accountclosurerequest_complete", args=[closure.pk])
    response = client.post(url, {"confirm": "on"})
    assert response.status_code == 409
    assert "Cancel them first" in response.content.decode()


@pytest.mark.parametrize("who", ["nurse", "consultant", "patient"])
def test_other_roles_cannot_reach_the_closure_screen(client, who, request):
    closure = account_closure_request(patient=full_patient())
    client.force_login(request.getfixturevalue(who).user)
    url = reverse("admin:patients_accountclosurerequest_complete", args=[closure.pk])
    response = client.post(url, {"confirm": "on"})
    assert response.status_code == 302 and "/admin/login/" in response.url
    assert AccountClosureRequest.objects.get().status == AccountClosureRequest.Status.REQUESTED


def test_after_closing_no_table_holds_the_patients_email_or_phone(admin_user):
    """Search every text column of every table (history, sessions and admin log included)
    for the erased details: none may remain."""
    from django.apps import apps
    from django.db import models as db_models
    from django.db.models import F
    from django.db.models.functions import Cast

    patient = full_patient(user__email="erase.me@example.com")
    account_closure_complete(request=account_closure_request(patient=patient), by=admin_user)
    found = []
    for model in apps.get_models(include_auto_created=True):
        text_fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, db_models.CharField | db_models.TextField | db_models.JSONField)
        ]
        for secret in ("erase.me@example.com", "07700 900123", "1 Example Street", "POL-123"):
            for name in text_fields:
                as_text = Cast(F(name), output_field=db_models.TextField())
                rows = model._default_manager.annotate(_text=as_text)
                if rows.filter(_text__icontains=secret).exists():
                    found.append(f"{model._meta.label}.{name}: {secret}")
    assert found == []
