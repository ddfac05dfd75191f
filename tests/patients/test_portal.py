"""The patient portal under /my/: dashboard, details, own record, download and print of
everything held, and the request to close the account."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from aftercare.models import AftercarePlan, CheckIn, Reminder
from bookings.models import Appointment
from clinic.errors import DomainError
from patients.models import AccountClosureRequest, Patient
from patients.services import account_closure_request, account_closure_withdraw
from treatments.models import SignedConsent

from ..factories import AppointmentFactory, CourseFactory, PatientFactory, local
from .test_export import build_full_record, complete_session, days_ago

pytestmark = pytest.mark.django_db

PAGES = [
    "patients:dashboard",
    "patients:profile",
    "patients:record",
    "patients:export_json",
    "patients:export_print",
    "patients:close_account",
    "patients:retention",
]
POSTS = ["patients:profile", "patients:close_account", "patients:close_account_withdraw"]


def html(response) -> str:
    return response.content.decode()


# --- who may open the pages -------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES + POSTS)
def test_visitors_are_sent_to_log_in(client, name):
    url = reverse(name)
    response = client.post(url) if name in POSTS else client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", ["nurse", "consultant", "clinic_admin"])
def test_staff_are_refused(client, role, request):
    client.force_login(request.getfixturevalue(role).user)
    for name in PAGES:
        assert client.get(reverse(name)).status_code == 403, name
    for name in POSTS:
        assert client.post(reverse(name), {"confirm": "on"}).status_code == 403, name
    assert not AccountClosureRequest.objects.exists()


def test_the_patient_opens_every_page(patient_client):
    for name in PAGES:
        assert patient_client.get(reverse(name)).status_code == 200, name


def test_wrong_methods_are_refused(patient_client):
    assert patient_client.post(reverse("patients:record")).status_code == 405
    assert patient_client.post(reverse("patients:export_json")).status_code == 405
    assert patient_client.post(reverse("patients:export_print")).status_code == 405
    assert patient_client.get(reverse("patients:close_account_withdraw")).status_code == 405
    assert patient_client.delete(reverse("patients:profile")).status_code == 405


def test_every_portal_page_has_the_portal_navigation(patient_client):
    for name in ("dashboard", "profile", "screening", "record", "close_account"):
        page = html(patient_client.get(reverse(f"patients:{name}")))
        assert 'aria-label="Your account"' in page, name
        portal_nav = page.split('aria-label="Your account"', 1)[1].split("</nav>", 1)[0]
        assert portal_nav.count('aria-current="page"') == 1, name


# --- the details page ----------------------------------------------------------------------------


GOOD = {
    "first_name": "Helen",
    "last_name": "Carter-Jones",
    "date_of_birth": "1968-02-29",
    "phone": "+44 7700 900123",
    "address": "1 Example Street\nLondon\nW1A 1AA",
    "gp_practice": "Riverside Surgery, Leeds",
    "payer": "insured",
    "insurer": "Example Health",
    "policy_number": "EH-123",
    "preauthorisation_code": "PA-77",
    "contact_by_email": "on",
    "contact_by_sms": "on",
}


def snapshot(patient: Patient) -> tuple:
    patient = Patient.objects.select_related("user").get(pk=patient.pk)
    fields = [f.attname for f in Patient._meta.concrete_fields]
    return (
        tuple(getattr(patient, f) for f in fields),
        patient.user.first_name,
        patient.user.last_name,
        patient.history.count(),
    )


def test_the_details_page_shows_the_saved_details_and_the_login_read_only(patient_client, patient):
    patient.phone = "0113 496 0000"
    patient.gp_practice = "Riverside Surgery"
    patient.save()
    page = html(patient_client.get(reverse("patients:profile")))
    assert 'value="0113 496 0000"' in page
    assert 'value="Riverside Surgery"' in page
    assert patient.user.email in page
    assert 'name="email"' not in page  # shown, not editable
    assert "please call or email the clinic" in page
    assert reverse("aftercare:preferences") in page
    assert reverse("patients:screening") in page
    for name in GOOD:
        assert f'name="{name}"' in page, name
    assert page.count("<legend") >= 4  # grouped, with a legend each


def test_saving_the_details_writes_them_and_a_history_entry(patient_client, patient):
    before = patient.history.count()
    response = patient_client.post(reverse("patients:profile"), GOOD)
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:profile")
    patient = Patient.objects.select_related("user").get(pk=patient.pk)
    assert patient.user.first_name == "Helen" and patient.user.last_name == "Carter-Jones"
    assert patient.date_of_birth == date(1968, 2, 29)
    assert patient.phone == "+44 7700 900123"
    assert patient.address == "1 Example Street\nLondon\nW1A 1AA"
    assert patient.payer == Patient.Payer.INSURED
    assert patient.insurer == "Example Health" and patient.preauthorisation_code == "PA-77"
    assert patient.contact_by_email and patient.contact_by_sms
    assert patient.history.count() == before + 1
    assert patient.history.first().phone == "+44 7700 900123"
    page = html(patient_client.get(reverse("patients:profile")))
    assert "Your details are saved" in page


def test_the_date_of_birth_can_be_typed_the_british_way(patient_client, patient):
    response = patient_client.post(
        reverse("patients:profile"), {**GOOD, "date_of_birth": "24/03/1975"}
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.date_of_birth == date(1975, 3, 24)


def test_unticking_contact_choices_saves_them_off(patient_client, patient):
    data = {k: v for k, v in GOOD.items() if not k.startswith("contact_by")}
    assert patient_client.post(reverse("patients:profile"), data).status_code == 302
    patient.refresh_from_db()
    assert not patient.contact_by_email and not patient.contact_by_sms


TOMORROW = (timezone.localdate() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"date_of_birth": TOMORROW}, "date_of_birth", "cannot be in the future"),
        ({"date_of_birth": "1899-12-31"}, "date_of_birth", "from 1900"),
        ({"date_of_birth": "31/02/1980"}, "date_of_birth", "day/month/year"),
        ({"date_of_birth": "yesterday"}, "date_of_birth", "day/month/year"),
        ({"insurer": ""}, "insurer", "Name your insurer"),
        ({"insurer": "   "}, "insurer", "Name your insurer"),
        ({"phone": ""}, "phone", "Add a mobile number"),
        ({"phone": "call me maybe"}, "phone", "Enter a phone number in digits"),
        ({"phone": "123"}, "phone", "Enter a phone number in digits"),
        ({"phone": "07700\n900123"}, "phone", "hidden control character"),
        ({"first_name": ""}, "first_name", "Please give your first name"),
        ({"last_name": "   "}, "last_name", "Please give your last name"),
        ({"first_name": "1234"}, "first_name", "in letters"),
        ({"first_name": "x" * 151}, "first_name", "150 characters or fewer"),
        ({"gp_practice": "g" * 201}, "gp_practice", "200 characters or fewer"),
        ({"insurer": "i" * 121}, "insurer", "120 characters or fewer"),
        ({"policy_number": "p" * 61}, "policy_number", "60 characters or fewer"),
        ({"address": "a" * 501}, "address", "500 characters or fewer"),
        ({"phone": "0" * 41}, "phone", "40 characters or fewer"),
        ({"payer": "free"}, "payer", "Choose self-funded or insured"),
        ({"payer": ""}, "payer", ""),
        ({"first_name": '<script>alert("x")</script>'}, "first_name", "&lt; and &gt;"),
        ({"last_name": "Carter\u202egnp.exe"}, "last_name", "hidden control character"),
        ({"gp_practice": "Surgery\x00"}, "gp_practice", ""),
        ({"address": "1 Road\x07\nLeeds"}, "address", "hidden control character"),
        ({"insurer": "<b>Example</b>"}, "insurer", "&lt; and &gt;"),
    ],
)
def test_bad_details_are_refused_and_nothing_is_saved(
    patient_client, patient, change, field, message
):
    before = snapshot(patient)
    response = patient_client.post(reverse("patients:profile"), {**GOOD, **change})
    page = html(response)
    assert response.status_code == 400
    assert snapshot(patient) == before
    assert 'data-testid="form-problems"' in page
    if message:
        assert message in page
    # The message sits with its field, which is marked invalid.
    assert f"error_1_id_{field}" in page
    assert 'aria-invalid="true"' in page or "is-invalid" in page
    assert "<script>alert" not in page


def test_a_refusal_is_tied_to_its_field(patient_client):
    page = html(patient_client.post(reverse("patients:profile"), {**GOOD, "insurer": ""}))
    assert 'id="id_insurer_error"' in page
    assert 'aria-describedby="id_insurer_helptext id_insurer_error"' in page
    assert 'aria-invalid="true"' in page


def test_a_refusal_without_a_field_is_shown_at_the_top(patient_client, monkeypatch):
    # An account closed while the page was open: the service refuses, the page says so.
    from patients import views

    def closed(**kwargs):
        raise DomainError("This account is closed.", code="closed")

    monkeypatch.setattr(views, "patient_profile_update", closed)
    response = patient_client.post(reverse("patients:profile"), GOOD)
    assert response.status_code == 400
    assert "This account is closed." in html(response)


def test_the_details_page_query_count(patient_client, patient, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        assert patient_client.get(reverse("patients:profile")).status_code == 200


# --- closing the account ---------------------------------------------------------------------


def test_the_close_page_explains_what_is_erased_and_what_is_kept(patient_client, settings):
    settings.CLINICAL_RECORD_RETENTION_YEARS = 8
    page = html(patient_client.get(reverse("patients:close_account")))
    assert "What we erase" in page and "What we keep" in page
    assert "for 8 years" in page
    assert reverse("patients:retention") in page
    assert reverse("patients:export_json") in page
    assert 'name="confirm"' in page and 'name="reason"' in page
    kept = timezone.localdate().replace(year=timezone.localdate().year + 8)
    assert f"{kept:%-d %B %Y}" in page
    retention = html(patient_client.get(reverse("patients:retention")))
    assert "8 years" in retention


def test_closing_needs_the_box_ticked(patient_client, patient):
    response = patient_client.post(reverse("patients:close_account"), {"reason": "Moving"})
    assert response.status_code == 400
    assert "Please tick the box" in html(response)
    assert not AccountClosureRequest.objects.exists()


def test_a_reason_that_is_too_long_is_refused(patient_client):
    response = patient_client.post(
        reverse("patients:close_account"), {"reason": "r" * 2001, "confirm": "on"}
    )
    assert response.status_code == 400
    assert "2,000 characters or fewer" in html(response)
    assert not AccountClosureRequest.objects.exists()


def test_request_then_duplicate_then_withdraw_then_ask_again(patient_client, patient):
    url = reverse("patients:close_account")
    response = patient_client.post(url, {"reason": "Moving <abroad>", "confirm": "on"})
    assert response.status_code == 302
    request = AccountClosureRequest.objects.get(patient=patient)
    assert request.status == AccountClosureRequest.Status.REQUESTED
    assert request.reason == "Moving <abroad>"

    page = html(patient_client.get(url))
    assert 'data-testid="open-request"' in page
    assert "Moving &lt;abroad&gt;" in page
    assert 'data-testid="withdraw-form"' in page
    assert 'data-testid="close-form"' not in page

    # A second request: a clear message, the first one untouched, nothing lost.
    again = patient_client.post(url, {"reason": "Second thoughts", "confirm": "on"})
    assert again.status_code == 409
    assert "already asked us to close your account" in html(again)
    assert AccountClosureRequest.objects.filter(patient=patient).count() == 1
    request.refresh_from_db()
    assert request.reason == "Moving <abroad>"

    withdrawn = patient_client.post(reverse("patients:close_account_withdraw"))
    assert withdrawn.status_code == 302
    request.refresh_from_db()
    assert request.status == AccountClosureRequest.Status.WITHDRAWN
    assert request.handled_by == patient.user and request.handled_at is not None
    page = html(patient_client.get(url))
    assert "Your request is withdrawn" in page
    assert 'data-testid="earlier-requests"' in page
    assert 'data-testid="close-form"' in page

    nothing = patient_client.post(reverse("patients:close_account_withdraw"))
    assert nothing.status_code == 409
    assert "no open request to withdraw" in html(nothing)

    assert patient_client.post(url, {"confirm": "on"}).status_code == 302
    assert AccountClosureRequest.objects.filter(patient=patient).count() == 2


def test_a_patient_cannot_withdraw_someone_elses_request(patient_client, patient):
    other = PatientFactory()
    theirs = account_closure_request(patient=other, reason="")
    response = patient_client.post(reverse("patients:close_account_withdraw"))
    assert response.status_code == 409
    theirs.refresh_from_db()
    assert theirs.status == AccountClosureRequest.Status.REQUESTED
    assert 'data-testid="open-request"' not in html(
        patient_client.get(reverse("patients:close_account"))
    )


def test_the_close_page_query_count(patient_client, patient, django_assert_max_num_queries):
    for _ in range(3):
        account_closure_withdraw(
            request=account_closure_request(patient=patient), user=patient.user
        )
    with django_assert_max_num_queries(6):
        assert patient_client.get(reverse("patients:close_account")).status_code == 200


# --- the dashboard -----------------------------------------------------------------------------


def sent_reminder(patient: Patient, n: int, kind=Reminder.Kind.DAILY_WALK) -> Reminder:
    when = timezone.now() - timedelta(hours=n + 1)
    return Reminder.objects.create(
        patient=patient,
        kind=kind,
        due_at=when,
        status=Reminder.Status.SENT,
        sent_at=when,
        idempotency_key=f"test:{patient.pk}:{n}",
    )


def test_the_dashboard_shows_the_next_appointment_with_what_can_be_done(
    patient_client, patient, settings
):
    settings.PATIENT_CHANGE_CUTOFF_HOURS = 48
    later = AppointmentFactory(patient=patient, start=local(2031, 3, 5, 11))
    first = AppointmentFactory(patient=patient, start=local(2030, 7, 1, 10))
    page = html(patient_client.get(reverse("patients:dashboard")))
    assert 'data-testid="next-appointment"' in page
    assert "Monday 1 July 2030" in page and "10:00 to 10:30" in page  # UK summer time
    assert reverse("booking:reschedule", args=[first.pk]) in page
    assert reverse("booking:appointment", args=[first.pk]) + "#cancel" in page
    assert reverse("booking:appointment_ics", args=[first.pk]) in page
    assert "Later appointments" in page and "5 March 2031" in page
    assert reverse("booking:reschedule", args=[later.pk]) not in page


def test_an_appointment_inside_the_cut_off_says_to_call(patient_client, patient, settings):
    settings.PATIENT_CHANGE_CUTOFF_HOURS = 48
    soon = timezone.now() + timedelta(hours=5)
    appointment = AppointmentFactory(patient=patient, start=soon)
    page = html(patient_client.get(reverse("patients:dashboard")))
    assert 'data-testid="next-call"' in page
    assert reverse("booking:reschedule", args=[appointment.pk]) not in page
    assert reverse("booking:appointment_ics", args=[appointment.pk]) in page


def test_the_dashboard_shows_the_last_five_messages_sent_in_local_time(patient_client, patient):
    for n in range(7):
        sent_reminder(patient, n)
    Reminder.objects.create(
        patient=patient,
        kind=Reminder.Kind.STOCKINGS_OFF,
        due_at=timezone.now() + timedelta(days=1),
        idempotency_key="pending",
    )
    other = sent_reminder(PatientFactory(), 99, kind=Reminder.Kind.WAITING_LIST_OFFER)
    page = html(patient_client.get(reverse("patients:dashboard")))
    assert page.count('data-testid="message"') == 5
    assert "Daily walk" in page
    assert "Stockings can come off" not in page  # not sent yet
    assert other.get_kind_display() not in page
    newest = timezone.localtime(
        Reminder.objects.filter(patient=patient, status="sent").order_by("-sent_at")[0].sent_at
    )
    assert f"{newest:%H:%M}" in page


def test_the_dashboard_course_line(patient_client, patient, schedule):
    course = CourseFactory(patient=patient)
    schedule(course, local(2030, 7, 1, 10))
    page = html(patient_client.get(reverse("patients:dashboard")))
    assert "session 1 of 3" in page
    assert "next session can be booked from Monday 29 July 2030" in page


def _fill_dashboard(patient, schedule, sign_consent, count, first=0):
    for i in range(first, first + count):
        course = CourseFactory(patient=patient)
        schedule(course, local(2030, 7, 1, 9) + timedelta(hours=i))
        if i % 2:
            sign_consent(course)
        AppointmentFactory(patient=patient, start=local(2031, 1, 6, 9) + timedelta(hours=i))
        sent_reminder(patient, i)


def test_dashboard_query_count_with_one_and_many(
    patient_client, patient, schedule, sign_consent, django_assert_max_num_queries
):
    url = reverse("patients:dashboard")
    _fill_dashboard(patient, schedule, sign_consent, 1)
    with django_assert_max_num_queries(9) as few:
        assert patient_client.get(url).status_code == 200
    _fill_dashboard(patient, schedule, sign_consent, 29, first=1)
    with django_assert_max_num_queries(9) as many:
        page = html(patient_client.get(url))
    assert len(many.captured_queries) == len(few.captured_queries)
    assert page.count('data-testid="message"') == 5
    assert page.count('data-testid="course-line"') == 30


# --- the patient's record --------------------------------------------------------------------


@pytest.fixture
def record(nurse, treatment_room, consultant):
    """A patient with one of every kind of record (``test_export.build_full_record``)."""
    return build_full_record(marker="Mine", nurse=nurse, consultant=consultant, room=treatment_room)


def test_the_record_shows_appointments_sessions_consents_and_aftercare(client, record):
    client.force_login(record.patient.user)
    response = client.get(reverse("patients:record"))
    page = html(response)
    assert response.status_code == 200
    consultation = record.course.consultation
    assert f'data-testid="past-{consultation.pk}"' in page
    assert f'data-testid="past-{record.cancelled.pk}"' in page  # cancelled, though ahead
    assert f'data-testid="past-{record.upcoming.pk}"' not in page
    assert "You also have 1 appointment to come" in page
    session_appointment = record.session.appointment
    assert f"£{session_appointment.price_amount}" in page
    # The session in plain words.
    assert "Session 1," in page
    assert "Mine advice" in page
    assert "Left calf, inner" in page or "left calf, inner" in page
    assert "Sodium tetradecyl sulphate (STS) at 0.50% strength" in page
    assert "18 small injections" in page
    assert "left leg, thigh length, class 2 (medium)" in page
    assert "walked for 12 minutes before going home" in page
    assert "bruising (mild)" in page
    assert "Mine more veins" in page  # why sessions were added
    # The nurse's own working notes are not shown here (they are in the download).
    assert "Mine nurse note" not in page
    assert reverse("patients:consent_detail", args=[record.consent.pk]) in page
    assert f'data-testid="plan-{record.plan.pk}"' in page
    assert "Mine felt fine" in page
    assert "A hot, painful or swollen leg" in page
    assert reverse("patients:export_json") in page
    assert reverse("patients:export_print") in page


def test_the_record_shows_nothing_of_another_patient(patient_client, patient, record):
    page = html(patient_client.get(reverse("patients:record")))
    assert "Mine" not in page
    assert reverse("patients:consent_detail", args=[record.consent.pk]) not in page
    assert (
        patient_client.get(reverse("patients:consent_detail", args=[record.consent.pk])).status_code
        == 404
    )
    assert (
        patient_client.get(reverse("patients:consent_sign", args=[record.course.pk])).status_code
        == 404
    )
    assert "Mine" not in html(patient_client.get(reverse("patients:export_print")))
    assert "Mine" not in html(patient_client.get(reverse("patients:export_json")))


def test_the_consent_page_prints_well(client, record):
    client.force_login(record.patient.user)
    page = html(client.get(reverse("patients:consent_detail", args=[record.consent.pk])))
    assert "js/print.js" in page and "data-print" in page
    assert "d-print-none" in page and "d-print-block" in page
    assert record.consent.text_hash in page


# --- query counts that do not grow ----------------------------------------------------------


def add_rows(patient: Patient, *, nurse, room, count: int, offset: int) -> None:
    """``count`` more of each row a record holds: completed sessions (each its own course,
    with stockings, an adverse event and an aftercare plan), check-ins, consultations in the
    past, sent reminders, closure requests."""
    for i in range(offset, offset + count):
        course = CourseFactory(patient=patient)
        session = complete_session(
            course, start=days_ago(40, 0) + timedelta(hours=i), nurse=nurse, room=room
        )
        plan = AftercarePlan.objects.get(session=session)
        CheckIn.objects.create(plan=plan, day=plan.starts_on, walked=True, pain_score=1)
        AppointmentFactory(
            patient=patient,
            start=local(2025, 6, 2, 9) + timedelta(hours=i),
            status=Appointment.Status.COMPLETED,
        )
        sent_reminder(patient, 1000 + i)
        account_closure_withdraw(
            request=account_closure_request(patient=patient), user=patient.user
        )


@pytest.mark.parametrize(
    ("name", "budget"),
    [
        ("patients:dashboard", 12),
        ("patients:record", 13),
        ("patients:export_print", 24),
        ("patients:export_json", 24),
    ],
)
def test_pages_with_one_and_thirty_rows_run_the_same_queries(
    patient_client, patient, nurse, treatment_room, name, budget, django_assert_max_num_queries
):
    url = reverse(name)
    add_rows(patient, nurse=nurse, room=treatment_room, count=1, offset=0)
    with django_assert_max_num_queries(budget) as few:
        assert patient_client.get(url).status_code == 200
    add_rows(patient, nurse=nurse, room=treatment_room, count=29, offset=1)
    with django_assert_max_num_queries(budget) as many:
        response = patient_client.get(url)
    assert response.status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)
    if name == "patients:record":
        assert html(response).count('data-testid="session-') == 30
    assert SignedConsent.objects.filter(patient=patient).count() == 30
