"""The patient's own pages under /my/: dashboard, screening, consent signing and viewing."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment
from patients.models import Screening
from patients.services import screening_review, screening_submit
from treatments import services as treatment_services
from treatments.models import ConsentForm, Course, SignedConsent

from ..factories import (
    AppointmentFactory,
    CourseFactory,
    PatientFactory,
    ScreeningFactory,
    local,
)

pytestmark = pytest.mark.django_db

ALL_NO = dict.fromkeys(Screening.FLAG_QUESTIONS, "no")
# A session date in British Summer Time: stored 09:00 UTC, shown 10:00 clinic time.
SUMMER = local(2030, 7, 1, 10)


def page(response) -> str:
    return response.content.decode()


@pytest.fixture
def my_course(patient) -> Course:
    """A planned course of microsclerotherapy for the logged-in patient."""
    return CourseFactory(patient=patient)


@pytest.fixture
def current_form(microsclerotherapy) -> ConsentForm:
    form = treatment_services.consent_current_form(microsclerotherapy)
    assert form is not None
    return form


def sign_post(form: ConsentForm, name: str, statements=None) -> dict:
    picked = range(len(form.statements)) if statements is None else statements
    return {"form_id": str(form.pk), "typed_name": name, "statements": [str(i) for i in picked]}


def publish_new_version(treatment, *, effective_from=None) -> ConsentForm:
    previous = treatment_services.consent_current_form(treatment)
    draft = treatment_services.consent_form_new_version(
        treatment=treatment,
        title=previous.title,
        body=previous.body + "\n\nA new paragraph added in this version.",
        risks=[*previous.risks, "A newly listed risk."],
        statements=previous.statements,
        effective_from=effective_from or timezone.now() - timedelta(minutes=1),
    )
    return treatment_services.consent_form_publish(form=draft)


# --- who may see what ---------------------------------------------------------------------


def _urls(course: Course, consent: SignedConsent) -> list[str]:
    return [
        reverse("patients:dashboard"),
        reverse("patients:screening"),
        reverse("patients:consent_sign", args=[course.pk]),
        reverse("patients:consent_detail", args=[consent.pk]),
    ]


@pytest.fixture
def own_records(my_course, sign_consent) -> list[str]:
    return _urls(my_course, sign_consent(my_course))


def test_anonymous_visitors_are_sent_to_log_in(client, own_records):
    for url in own_records:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url
        assert client.post(url, {}).status_code == 302, url


@pytest.mark.parametrize("role", ["nurse", "consultant", "clinic_admin"])
def test_staff_are_refused(client, own_records, role, request):
    staff = request.getfixturevalue(role)
    client.force_login(staff.user)
    for url in own_records:
        assert client.get(url).status_code == 403, url
        assert client.post(url, {}).status_code == 403, url


def test_the_patient_opens_their_own_pages(patient_client, own_records):
    for url in own_records:
        assert patient_client.get(url).status_code == 200, url


def test_another_patients_course_and_consent_are_not_found(
    patient_client, current_form, sign_consent
):
    theirs = CourseFactory()
    their_consent = sign_consent(theirs)
    sign_url = reverse("patients:consent_sign", args=[theirs.pk])
    assert patient_client.get(sign_url).status_code == 404
    response = patient_client.post(sign_url, sign_post(current_form, theirs.patient.full_name))
    assert response.status_code == 404
    detail_url = reverse("patients:consent_detail", args=[their_consent.pk])
    assert patient_client.get(detail_url).status_code == 404
    assert SignedConsent.objects.filter(course=theirs).count() == 1


@pytest.mark.parametrize("bad_id", ["999999", "0", "2147483648", "99999999999999999999"])
def test_unknown_ids_are_not_found(patient_client, bad_id):
    assert patient_client.get(f"/my/courses/{bad_id}/consent/").status_code == 404
    assert patient_client.get(f"/my/consents/{bad_id}/").status_code == 404


def test_non_numeric_ids_are_not_found(patient_client):
    assert patient_client.get("/my/courses/abc/consent/").status_code == 404
    assert patient_client.get("/my/consents/1%3B%20DROP/").status_code == 404


def test_methods_other_than_get_and_post_are_refused(patient_client, own_records):
    dashboard, screening, sign, detail = own_records
    assert patient_client.post(dashboard).status_code == 405
    assert patient_client.post(detail).status_code == 405
    assert patient_client.delete(screening).status_code == 405
    assert patient_client.put(sign).status_code == 405


# --- the screening questionnaire ------------------------------------------------------------


def test_screening_asks_every_question_as_unticked_yes_no_radios(patient_client):
    response = patient_client.get(reverse("patients:screening"))
    html = page(response)
    assert response.status_code == 200
    for name, question in Screening.FLAG_QUESTIONS.items():
        for value in ("yes", "no"):
            assert re.search(f'type="radio"[^>]* name="{name}" value="{value}"', html)
        assert question.split("(")[0].strip()[:40] in html
    assert 'type="checkbox"' not in html
    assert "checked" not in html  # nothing answered in advance


def test_screening_submit_saves_answers_and_flags(patient_client, patient):
    answers = {
        **ALL_NO,
        "past_dvt_or_pe": "yes",
        "takes_anticoagulants": "yes",
        "other_conditions": "Asthma",
        "medicines": "Warfarin 5 mg",
    }
    response = patient_client.post(reverse("patients:screening"), answers, follow=True)
    assert response.redirect_chain[-1][0] == reverse("patients:dashboard")
    screening = Screening.objects.get(patient=patient)
    assert screening.past_dvt_or_pe and screening.takes_anticoagulants
    assert not screening.pregnant_or_breastfeeding
    assert screening.flags == [
        Screening.FLAG_QUESTIONS["past_dvt_or_pe"],
        Screening.FLAG_QUESTIONS["takes_anticoagulants"],
    ]
    assert screening.needs_review
    assert screening.medicines == "Warfarin 5 mg"
    assert "consultant will go through your answers" in page(response)
    # The questionnaire page repeats the gentle note beside the "yes" answers.
    html = page(patient_client.get(reverse("patients:screening")))
    assert 'data-testid="flag-note"' in html
    assert "blood-thinning medicine" in html


def test_screening_with_no_flags_shows_no_note(patient_client, patient):
    response = patient_client.post(reverse("patients:screening"), ALL_NO, follow=True)
    assert response.status_code == 200
    assert Screening.objects.get(patient=patient).flags == []
    assert "consultant will go through your answers" not in page(response)
    assert 'data-testid="flag-note"' not in page(patient_client.get(reverse("patients:screening")))


def test_screening_can_be_changed_until_reviewed(patient_client, patient, consultant):
    url = reverse("patients:screening")
    patient_client.post(url, {**ALL_NO, "open_leg_ulcers": "yes"})
    # Editing shows the saved answers ticked.
    html = page(patient_client.get(url))
    assert re.search('name="open_leg_ulcers" value="yes"[^>]* checked', html)
    assert re.search('name="past_dvt_or_pe" value="no"[^>]* checked', html)
    response = patient_client.post(url, {**ALL_NO, "medicines": "None"})
    assert response.status_code == 302
    screening = Screening.objects.get(patient=patient)
    assert not screening.open_leg_ulcers and screening.medicines == "None"

    screening_review(screening=screening, consultant=consultant, notes="")
    response = patient_client.get(url)
    html = page(response)
    assert 'data-testid="reviewed"' in html
    assert 'data-testid="screening-form"' not in html
    assert 'data-testid="answers"' in html

    response = patient_client.post(url, {**ALL_NO, "pregnant_or_breastfeeding": "yes"})
    assert response.status_code == 409
    assert "already reviewed your answers" in page(response)
    screening.refresh_from_db()
    assert not screening.pregnant_or_breastfeeding
    # Even a half-filled form after review gets the service's explanation, not form errors.
    response = patient_client.post(url, {"medicines": "x"})
    assert response.status_code == 409
    assert "already reviewed your answers" in page(response)
    assert Screening.objects.get(patient=patient).medicines == "None"


def test_screening_with_missing_answers_is_refused_and_keeps_what_was_saved(
    patient_client, patient
):
    screening_submit(patient=patient, answers={"medicines": "Ibuprofen"})
    answers = dict(ALL_NO)
    del answers["clotting_disorder"]
    response = patient_client.post(reverse("patients:screening"), answers)
    assert response.status_code == 400
    assert "Please answer yes or no." in page(response)
    assert Screening.objects.get(patient=patient).medicines == "Ibuprofen"

    response = patient_client.post(reverse("patients:screening"), {})
    assert response.status_code == 400
    html = page(response)
    assert html.count("Please answer yes or no.") == len(Screening.FLAG_QUESTIONS)
    assert 'data-testid="form-problems"' in html
    # Each error sits where Bootstrap shows it (not hidden away by .invalid-feedback).
    assert html.count('class="invalid-feedback d-block"') == len(Screening.FLAG_QUESTIONS)


def test_screening_refuses_a_huge_text_and_saves_nothing(patient_client, patient):
    response = patient_client.post(
        reverse("patients:screening"), {**ALL_NO, "medicines": "a" * 100_000}
    )
    assert response.status_code == 400
    assert "2,000 characters or fewer" in page(response)
    assert not Screening.objects.filter(patient=patient).exists()


def test_screening_refuses_an_answer_that_is_not_yes_or_no(patient_client, patient):
    response = patient_client.post(
        reverse("patients:screening"), {**ALL_NO, "past_dvt_or_pe": "maybe"}
    )
    assert response.status_code == 400
    assert not Screening.objects.filter(patient=patient).exists()


def test_screening_html_is_stored_as_typed_and_escaped_when_shown(
    patient_client, patient, consultant
):
    hostile = '<script>alert("x")</script><b>bold</b>'
    patient_client.post(
        reverse("patients:screening"),
        {**ALL_NO, "other_conditions": hostile, "medicines": hostile},
    )
    screening = Screening.objects.get(patient=patient)
    assert screening.other_conditions == hostile
    html = page(patient_client.get(reverse("patients:screening")))  # in the form
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    screening_review(screening=screening, consultant=consultant, notes="")
    html = page(patient_client.get(reverse("patients:screening")))  # read-only
    assert "<script>alert" not in html and "<b>bold" not in html
    assert "&lt;script&gt;" in html


def test_screening_ignores_unknown_fields(patient_client, patient):
    response = patient_client.post(reverse("patients:screening"), {**ALL_NO, "reviewed_at": "x"})
    assert response.status_code == 302
    assert Screening.objects.get(patient=patient).reviewed_at is None


def test_screening_page_query_count(patient_client, patient, django_assert_max_num_queries):
    url = reverse("patients:screening")
    ScreeningFactory(patient=patient)
    with django_assert_max_num_queries(5) as ctx:
        assert patient_client.get(url).status_code == 200
    assert len(ctx.captured_queries) <= 5


# --- signing a consent form -------------------------------------------------------------------


def test_consent_page_shows_the_exact_current_text(patient_client, my_course, current_form):
    response = patient_client.get(reverse("patients:consent_sign", args=[my_course.pk]))
    html = page(response)
    assert response.status_code == 200
    assert current_form.title in html
    assert current_form.body.split("\n\n")[0] in html
    for risk in current_form.risks:
        assert risk in html
    for index, statement in enumerate(current_form.statements):
        assert statement in html
        assert re.search(f'type="checkbox"[^>]* name="statements" value="{index}"', html)
    assert 'name="typed_name"' in html
    assert re.search(f'name="form_id" value="{current_form.pk}"', html)


def test_consent_sign_happy_path_stores_the_hash_of_the_exact_text(
    patient_client, patient, my_course, current_form
):
    url = reverse("patients:consent_sign", args=[my_course.pk])
    response = patient_client.post(url, sign_post(current_form, f"  {patient.full_name.upper()} "))
    consent = SignedConsent.objects.get(course=my_course)
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:consent_detail", args=[consent.pk])
    exact = current_form.full_text()
    assert consent.signed_text == exact
    assert consent.text_hash == hashlib.sha256(exact.encode("utf-8")).hexdigest()
    assert consent.form == current_form
    assert consent.method == SignedConsent.Method.ONLINE
    assert consent.witnessed_by is None
    assert consent.patient == patient
    assert consent.statements_accepted == current_form.statements
    followed = patient_client.get(response["Location"])
    assert "Your consent is signed and saved" in page(followed)


@pytest.mark.parametrize(
    ("name", "statements", "message"),
    [
        ("Someone Else", None, "Type your full name exactly as registered"),
        (None, [0, 1], "Tick every statement"),
        (None, [], "Tick every statement"),
        ('<script>alert("x")</script>', None, "Type your full name exactly as registered"),
    ],
)
def test_consent_sign_refusals_show_the_service_message_and_save_nothing(
    patient_client, patient, my_course, current_form, name, statements, message
):
    url = reverse("patients:consent_sign", args=[my_course.pk])
    data = sign_post(current_form, name or patient.full_name, statements)
    response = patient_client.post(url, data)
    html = page(response)
    assert response.status_code == 400
    assert message in html
    assert "<script>alert" not in html
    assert not SignedConsent.objects.filter(course=my_course).exists()


def test_consent_sign_refuses_a_second_signature(
    patient_client, patient, my_course, current_form, sign_consent
):
    first = sign_consent(my_course)
    url = reverse("patients:consent_sign", args=[my_course.pk])
    html = page(patient_client.get(url))
    assert 'data-testid="already-signed"' in html
    assert reverse("patients:consent_detail", args=[first.pk]) in html
    response = patient_client.post(url, sign_post(current_form, patient.full_name))
    assert response.status_code == 400
    assert "already signed for the course" in page(response)
    assert SignedConsent.objects.filter(course=my_course).count() == 1


def test_consent_sign_refuses_a_closed_course(
    patient_client, patient, my_course, current_form, consultant
):
    treatment_services.course_close(
        course=my_course, consultant=consultant, status=Course.Status.DISCONTINUED, reason="Moved"
    )
    url = reverse("patients:consent_sign", args=[my_course.pk])
    assert 'data-testid="course-closed"' in page(patient_client.get(url))
    response = patient_client.post(url, sign_post(current_form, patient.full_name))
    assert response.status_code == 400
    assert "This course is closed" in page(response)
    assert not SignedConsent.objects.filter(course=my_course).exists()


def test_consent_sign_refuses_a_version_the_patient_was_not_shown(
    patient_client, patient, my_course, current_form, microsclerotherapy
):
    url = reverse("patients:consent_sign", args=[my_course.pk])
    shown = sign_post(current_form, patient.full_name)  # the page was opened on version 1
    newer = publish_new_version(microsclerotherapy)
    response = patient_client.post(url, shown)
    assert response.status_code == 400
    assert "The consent form has changed since you opened this page" in page(response)
    assert newer.risks[-1] in page(response)  # the new text is shown to read
    assert not SignedConsent.objects.filter(course=my_course).exists()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"typed_name": "x"},
        {"form_id": "abc", "typed_name": "x", "statements": ["0"]},
        {"form_id": "99999999999999999999", "typed_name": "x"},
        {"form_id": "1", "typed_name": "x", "statements": ["7", "-1", "zero"]},
        {"form_id": "1", "typed_name": "n" * 5000},
    ],
)
def test_consent_sign_bad_input_is_refused(patient_client, my_course, current_form, data):
    if data.get("form_id") == "1":
        data = {**data, "form_id": str(current_form.pk)}
    response = patient_client.post(reverse("patients:consent_sign", args=[my_course.pk]), data)
    assert response.status_code == 400
    assert not SignedConsent.objects.filter(course=my_course).exists()


def test_consent_sign_without_a_published_form(patient_client, patient, my_course, current_form):
    ConsentForm.objects.filter(treatment=my_course.treatment).update(published_at=None)
    url = reverse("patients:consent_sign", args=[my_course.pk])
    assert 'data-testid="no-form"' in page(patient_client.get(url))
    response = patient_client.post(url, sign_post(current_form, patient.full_name))
    assert response.status_code == 400
    assert "no consent form to sign" in page(response)


def test_consent_sign_page_query_count(
    patient_client, my_course, current_form, django_assert_max_num_queries
):
    def sign_and_withdraw(times: int) -> None:
        for _ in range(times):
            consent = treatment_services.consent_sign(
                course=my_course,
                form=current_form,
                typed_name=my_course.patient.full_name,
                statements_accepted=list(current_form.statements),
                method=SignedConsent.Method.ONLINE,
            )
            treatment_services.consent_withdraw(consent=consent, reason="Changed my mind")

    url = reverse("patients:consent_sign", args=[my_course.pk])
    sign_and_withdraw(1)
    with django_assert_max_num_queries(7) as few:
        assert patient_client.get(url).status_code == 200
    sign_and_withdraw(29)
    with django_assert_max_num_queries(7) as many:
        response = patient_client.get(url)
    assert len(many.captured_queries) == len(few.captured_queries)
    assert 'data-testid="consent-form"' in page(response)


# --- viewing a signed consent ------------------------------------------------------------


def test_consent_detail_shows_exactly_what_was_signed(
    patient_client, patient, my_course, sign_consent
):
    consent = sign_consent(my_course)
    response = patient_client.get(reverse("patients:consent_detail", args=[consent.pk]))
    html = page(response)
    assert response.status_code == 200
    # Line breaks survive: each line of the signed text is followed by a <br>.
    first_line, second_line = consent.signed_text.split("\n")[:2]
    assert f"{first_line}<br>{second_line}<br>" in html
    assert "I confirm that:<br>" in html
    assert consent.typed_name in html
    assert "Signed online by the patient" in html
    assert timezone.localtime(consent.signed_at).strftime("%H:%M") in html
    assert consent.text_hash in html
    assert "In force" in html
    assert "d-print-none" in html


def test_consent_detail_shows_a_witness_and_a_withdrawal(patient_client, my_course, nurse):
    form = treatment_services.consent_current_form(my_course.treatment)
    consent = treatment_services.consent_sign(
        course=my_course,
        form=form,
        typed_name=my_course.patient.full_name,
        statements_accepted=list(form.statements),
        method=SignedConsent.Method.IN_CLINIC,
        witnessed_by=nurse,
    )
    treatment_services.consent_withdraw(consent=consent, reason="Changed <i>my</i> mind")
    html = page(patient_client.get(reverse("patients:consent_detail", args=[consent.pk])))
    assert nurse.display_name in html
    assert "Signed in clinic, witnessed" in html
    assert 'data-testid="withdrawn"' in html
    assert "Changed &lt;i&gt;my&lt;/i&gt; mind" in html


def test_consent_detail_escapes_a_hostile_typed_name(client, current_form):
    # A name with markup can only come from an account made outside the sign-up form.
    patient = PatientFactory(user__first_name="<b>Eve</b>", user__last_name="O'Neil")
    course = CourseFactory(patient=patient)
    consent = treatment_services.consent_sign(
        course=course,
        form=current_form,
        typed_name=patient.full_name,
        statements_accepted=list(current_form.statements),
        method=SignedConsent.Method.ONLINE,
    )
    client.force_login(patient.user)
    html = page(client.get(reverse("patients:consent_detail", args=[consent.pk])))
    assert "<b>Eve" not in html
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html
    html = page(client.get(reverse("patients:dashboard")))
    assert "<b>Eve" not in html


def test_consent_detail_query_count(
    patient_client, my_course, sign_consent, django_assert_max_num_queries
):
    consent = sign_consent(my_course)
    with django_assert_max_num_queries(5):
        patient_client.get(reverse("patients:consent_detail", args=[consent.pk]))


# --- the dashboard ----------------------------------------------------------------------


def test_dashboard_asks_for_the_screening_first(patient_client, patient):
    html = page(patient_client.get(reverse("patients:dashboard")))
    assert "Please fill in your health questionnaire before your consultation" in html
    assert reverse("patients:screening") in html
    assert f"Hello, {patient.user.first_name}" in html


def test_dashboard_shows_screening_awaiting_review_then_reviewed(
    patient_client, patient, consultant
):
    screening = screening_submit(patient=patient, answers={"open_leg_ulcers": True})
    html = page(patient_client.get(reverse("patients:dashboard")))
    assert "Please fill in your health questionnaire" not in html
    assert "The consultant will look at them" in html
    screening_review(screening=screening, consultant=consultant, notes="Healed, fine.")
    html = page(patient_client.get(reverse("patients:dashboard")))
    assert "The consultant reviewed your answers on" in html


def test_dashboard_lists_upcoming_appointments_in_local_time(
    patient_client, patient, my_course, schedule, treatment_room
):
    session = schedule(my_course, SUMMER)
    AppointmentFactory(patient=patient, start=local(2020, 1, 6, 9))  # past: not listed
    AppointmentFactory(
        patient=patient, start=local(2030, 8, 1, 11), status=Appointment.Status.CANCELLED
    )
    html = page(patient_client.get(reverse("patients:dashboard")))
    assert session.appointment.start.astimezone(UTC).hour == 9
    assert "Monday 1 July 2030" in html
    assert "10:00 to 10:30" in html
    assert "Microsclerotherapy, session 1" in html
    assert treatment_room.name in html and treatment_room.location.name in html
    assert "2020" not in html
    assert "1 August 2030" not in html


def test_dashboard_course_line_and_next_session_date(patient_client, patient, my_course, schedule):
    session = schedule(my_course, SUMMER)
    html = page(patient_client.get(reverse("patients:dashboard")))
    earliest = treatment_services.earliest_next_session_date(my_course)
    assert earliest == SUMMER.date() + timedelta(days=28)
    assert "session 1 of 3" in html
    assert "Planned" in html
    assert f"next session can be booked from {earliest:%A} {earliest.day} {earliest:%B %Y}" in html
    # The page's rule is the service's rule, on the sessions the page already loaded.
    assert treatment_services.earliest_next_session_date(my_course, [session]) == earliest


def test_dashboard_consents_read_and_sign_then_signed(
    patient_client, patient, my_course, sign_consent
):
    sign_url = reverse("patients:consent_sign", args=[my_course.pk])
    html = page(patient_client.get(reverse("patients:dashboard")))
    assert "Read and sign" in html and sign_url in html
    consent = sign_consent(my_course)
    html = page(patient_client.get(reverse("patients:dashboard")))
    assert sign_url not in html
    assert reverse("patients:consent_detail", args=[consent.pk]) in html


def test_dashboard_asks_to_sign_again_after_a_new_version(
    patient_client, patient, my_course, sign_consent, microsclerotherapy
):
    sign_consent(my_course)
    # A draft, or a version not yet in effect, changes nothing.
    treatment_services.consent_form_new_version(
        treatment=microsclerotherapy,
        title="Draft",
        body="Draft text",
        risks=[],
        statements=["Draft"],
        effective_from=timezone.now(),
    )
    assert "sign again" not in page(patient_client.get(reverse("patients:dashboard")))
    ConsentForm.objects.filter(title="Draft").delete()
    publish_new_version(microsclerotherapy, effective_from=timezone.now() + timedelta(days=3))
    assert "sign again" not in page(patient_client.get(reverse("patients:dashboard")))
    ConsentForm.objects.filter(version=2).delete()

    newer = publish_new_version(microsclerotherapy)
    html = page(patient_client.get(reverse("patients:dashboard")))
    assert 'data-testid="sign-again"' in html
    assert "New version: please read it and sign again" in html
    assert f"version {newer.version}" in html
    assert reverse("patients:consent_sign", args=[my_course.pk]) in html


def test_dashboard_does_not_ask_to_sign_for_a_closed_course(patient_client, my_course, consultant):
    treatment_services.course_close(
        course=my_course, consultant=consultant, status=Course.Status.COMPLETED, reason="Happy"
    )
    html = page(patient_client.get(reverse("patients:dashboard")))
    assert "Read and sign" not in html
    assert "Completed" in html


def test_dashboard_shows_only_the_patients_own_records(patient_client, sign_consent):
    theirs = CourseFactory()
    sign_consent(theirs)
    AppointmentFactory(patient=theirs.patient, start=local(2030, 9, 2, 9))
    html = page(patient_client.get(reverse("patients:dashboard")))
    assert "No course of treatment is planned yet" in html
    assert "You have no appointments booked" in html
    assert reverse("patients:consent_sign", args=[theirs.pk]) not in html


def _fill(patient, schedule, sign_consent, count: int, first: int = 0) -> None:
    """``count`` courses, each with a session booked, half of them with consent signed,
    and ``count`` consultations in the diary."""
    for i in range(first, first + count):
        course = CourseFactory(patient=patient)
        schedule(course, SUMMER + timedelta(hours=i))
        if i % 2 == 0:
            sign_consent(course)
        AppointmentFactory(patient=patient, start=local(2031, 1, 6, 9) + timedelta(hours=i))


def test_dashboard_query_count_does_not_grow(
    patient_client,
    patient,
    schedule,
    sign_consent,
    microsclerotherapy,
    django_assert_max_num_queries,
):
    ScreeningFactory(patient=patient)
    _fill(patient, schedule, sign_consent, 1)
    url = reverse("patients:dashboard")
    with django_assert_max_num_queries(12) as few:
        assert patient_client.get(url).status_code == 200
    _fill(patient, schedule, sign_consent, 29, first=1)
    publish_new_version(microsclerotherapy)
    with django_assert_max_num_queries(12) as many:
        response = patient_client.get(url)
    assert len(many.captured_queries) == len(few.captured_queries)
    html = page(response)
    assert html.count("Read and sign") == 30
    assert html.count("Microsclerotherapy, session 1") == 30
