"""The admin: the catalogue and consent form versions are edited here; clinical records are
only read, with their history, and nothing clinical is ever deleted."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment
from clinic.models import User
from treatments import services
from treatments.models import (
    AdverseEvent,
    ConsentForm,
    Course,
    CourseExtension,
    SessionRecord,
    SignedConsent,
    StockingFitting,
    Treatment,
)

from ..factories import AppointmentFactory, CourseFactory, treatment

pytestmark = pytest.mark.django_db

CLINICAL_MODELS = [
    Course,
    SessionRecord,
    SignedConsent,
    CourseExtension,
    StockingFitting,
    AdverseEvent,
    Appointment,
]
HISTORY_MODELS = [m for m in CLINICAL_MODELS if m is not CourseExtension]


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def admin_client(client, clinic_admin):
    """A clinic admin (not a superuser): what the role's permissions allow."""
    client.force_login(clinic_admin.user)
    return client


@pytest.fixture
def superuser_client(client):
    user = User.objects.create_superuser(email="root@example.org", password="x-Root-pass-77")
    client.force_login(user)
    return client


def treatment_form_data(obj: Treatment, **changes) -> dict:
    data = {
        "name": obj.name,
        "slug": obj.slug,
        "kind": obj.kind,
        "summary": obj.summary,
        "description": obj.description,
        "min_planned_sessions": obj.min_planned_sessions,
        "max_planned_sessions": obj.max_planned_sessions,
        "min_gap_days_lowest": obj.min_gap_days_lowest,
        "default_min_gap_days": obj.default_min_gap_days,
        "min_gap_days_highest": obj.min_gap_days_highest,
        "session_lengths": json.dumps(obj.session_lengths),
        "stocking_days": obj.stocking_days,
        "daily_walk_minutes": obj.daily_walk_minutes,
        "discharge_walk_minutes": obj.discharge_walk_minutes,
        "default_sclerosant": obj.default_sclerosant,
    }
    for flag in ("bookable_online", "is_active", "requires_consultation"):
        if getattr(obj, flag):
            data[flag] = "on"
    data.update(changes)
    return data


def consent_form_data(form: ConsentForm, **changes) -> dict:
    effective = timezone.localtime(form.effective_from)
    data = {
        "treatment": form.treatment_id,
        "title": form.title,
        "body": form.body,
        "risks": "\n".join(form.risks),
        "statements": "\n".join(form.statements),
        "effective_from_0": effective.strftime("%d/%m/%Y"),
        "effective_from_1": effective.strftime("%H:%M:%S"),
    }
    data.update(changes)
    return data


def published_form() -> ConsentForm:
    return ConsentForm.objects.get(treatment__slug="microsclerotherapy", version=1)


def draft_from(form: ConsentForm) -> ConsentForm:
    return services.consent_form_new_version(
        treatment=form.treatment,
        title=form.title,
        body=form.body,
        risks=list(form.risks),
        statements=list(form.statements),
        effective_from=timezone.now(),
    )


# --- who may open the admin ---------------------------------------------------------


@pytest.mark.parametrize("who", ["nurse", "consultant", "patient"])
def test_nurses_consultants_and_patients_cannot_open_the_admin(client, who, request):
    person = request.getfixturevalue(who)
    client.force_login(person.user)
    for url in [reverse("admin:index"), admin_url(Treatment, "changelist")]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("admin:login")), url


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    response = client.get(admin_url(Treatment, "changelist"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


# --- the catalogue ---------------------------------------------------------------------


def test_a_clinic_admin_lists_the_treatments_with_their_rules(admin_client):
    response = admin_client.get(admin_url(Treatment, "changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    for text in ["Microsclerotherapy", "Foam sclerotherapy", "2–4", "28–42, default 28"]:
        assert text in html, text


def test_a_clinic_admin_edits_a_treatments_rules(admin_client, clinic_admin, microsclerotherapy):
    url = admin_url(Treatment, "change", microsclerotherapy.pk)
    assert admin_client.get(url).status_code == 200
    data = treatment_form_data(
        microsclerotherapy,
        summary="Very fine injections for thread veins.",
        default_min_gap_days=35,
        session_lengths="[30, 45, 60]",
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    microsclerotherapy.refresh_from_db()
    assert microsclerotherapy.summary == "Very fine injections for thread veins."
    assert microsclerotherapy.default_min_gap_days == 35
    assert microsclerotherapy.session_lengths == [30, 45, 60]
    edit = microsclerotherapy.history.latest()  # the edit is in the history: who and what
    assert edit.history_user == clinic_admin.user
    assert edit.default_min_gap_days == 35


@pytest.mark.parametrize(
    "changes",
    [
        {"min_gap_days_lowest": 20, "default_min_gap_days": 20},
        {"default_min_gap_days": 20},
        {"min_gap_days_highest": 60},
    ],
)
def test_a_gap_outside_four_to_six_weeks_is_a_form_error_not_a_500(
    admin_client, microsclerotherapy, changes
):
    url = admin_url(Treatment, "change", microsclerotherapy.pk)
    response = admin_client.post(url, treatment_form_data(microsclerotherapy, **changes))
    assert response.status_code == 200
    assert "The minimum gap must lie within 28–42 days" in response.content.decode()
    microsclerotherapy.refresh_from_db()
    assert microsclerotherapy.min_gap_days_lowest == 28
    assert microsclerotherapy.default_min_gap_days == 28
    assert microsclerotherapy.min_gap_days_highest == 42


def test_a_planned_sessions_range_upside_down_is_a_form_error(admin_client, microsclerotherapy):
    url = admin_url(Treatment, "change", microsclerotherapy.pk)
    data = treatment_form_data(microsclerotherapy, min_planned_sessions=5)
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "Planned sessions: the minimum must be at least 1" in response.content.decode()
    microsclerotherapy.refresh_from_db()
    assert microsclerotherapy.min_planned_sessions == 2


@pytest.mark.parametrize("lengths", ['"thirty"', "[1]", "[30, 45.5]", "[]", "{"])
def test_bad_session_lengths_are_a_form_error(admin_client, microsclerotherapy, lengths):
    url = admin_url(Treatment, "change", microsclerotherapy.pk)
    response = admin_client.post(
        url, treatment_form_data(microsclerotherapy, session_lengths=lengths)
    )
    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    microsclerotherapy.refresh_from_db()
    assert microsclerotherapy.session_lengths == [30, 45]


def test_huge_numbers_are_a_form_error(admin_client, microsclerotherapy):
    url = admin_url(Treatment, "change", microsclerotherapy.pk)
    data = treatment_form_data(microsclerotherapy, max_planned_sessions=10**20)
    response = admin_client.post(url, data)
    assert response.status_code == 200
    microsclerotherapy.refresh_from_db()
    assert microsclerotherapy.max_planned_sessions == 4


def test_treatments_are_not_deleted_but_retired(superuser_client, microsclerotherapy):
    url = admin_url(Treatment, "delete", microsclerotherapy.pk)
    assert superuser_client.post(url, {"post": "yes"}).status_code == 403
    assert Treatment.objects.filter(pk=microsclerotherapy.pk).exists()


# --- consent form versions ----------------------------------------------------------


def test_consent_forms_are_listed_per_treatment_with_version_and_publication(admin_client):
    draft_from(published_form())
    response = admin_client.get(admin_url(ConsentForm, "changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Consent to microsclerotherapy of thread veins" in html
    assert "Consent to foam sclerotherapy" in html
    assert 'alt="True"' in html and 'alt="False"' in html  # published and draft


def test_a_published_version_is_shown_read_only(admin_client):
    form = published_form()
    response = admin_client.get(admin_url(ConsentForm, "change", form.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "is published and can no longer be changed" in html
    assert 'name="title"' not in html
    assert 'name="_save"' not in html
    assert "<li>Stinging or discomfort during the injections.</li>" in html


@pytest.mark.parametrize("client_fixture", ["admin_client", "superuser_client"])
def test_a_published_version_cannot_be_changed_through_the_admin(client_fixture, request):
    client = request.getfixturevalue(client_fixture)
    form = published_form()
    before = (form.title, form.body, form.text_hash())
    response = client.post(
        admin_url(ConsentForm, "change", form.pk),
        consent_form_data(form, title="Changed after signing", body="Different text."),
    )
    assert response.status_code == 403
    form.refresh_from_db()
    assert (form.title, form.body, form.text_hash()) == before


def test_a_published_version_cannot_be_deleted(superuser_client):
    form = published_form()
    response = superuser_client.post(admin_url(ConsentForm, "delete", form.pk), {"post": "yes"})
    assert response.status_code == 403
    assert ConsentForm.objects.filter(pk=form.pk).exists()


def test_a_draft_is_edited_one_item_per_line(admin_client):
    draft = draft_from(published_form())
    url = admin_url(ConsentForm, "change", draft.pk)
    page = admin_client.get(url).content.decode()
    assert 'name="title"' in page
    assert "is a draft" in page
    data = consent_form_data(
        draft,
        title="Consent to microsclerotherapy (2027)",
        risks="Bruising.\n\n  Brown staining.  \n",
        statements="I have read this.\r\nI understand the risks.",
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    draft.refresh_from_db()
    assert draft.title == "Consent to microsclerotherapy (2027)"
    assert draft.risks == ["Bruising.", "Brown staining."]
    assert draft.statements == ["I have read this.", "I understand the risks."]
    assert draft.version == 2
    assert draft.published_at is None


def test_a_draft_needs_at_least_one_statement(admin_client):
    draft = draft_from(published_form())
    response = admin_client.post(
        admin_url(ConsentForm, "change", draft.pk), consent_form_data(draft, statements="  \n ")
    )
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    draft.refresh_from_db()
    assert draft.statements


def test_a_new_consent_form_gets_the_next_version_number(admin_client):
    source = published_form()
    data = consent_form_data(source, title="A fresh form")
    response = admin_client.post(admin_url(ConsentForm, "add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    created = ConsentForm.objects.get(title="A fresh form")
    assert created.version == 2
    assert created.published_at is None
    assert created.treatment == source.treatment


def test_the_publish_action_publishes_a_draft(admin_client):
    draft = draft_from(published_form())
    response = admin_client.post(
        admin_url(ConsentForm, "changelist"),
        {"action": "publish_selected", "_selected_action": [draft.pk]},
        follow=True,
    )
    assert response.status_code == 200
    draft.refresh_from_db()
    assert draft.published_at is not None
    assert "is published" in response.content.decode()
    assert services.consent_current_form(draft.treatment) == draft


def test_the_publish_action_refuses_an_already_published_version(admin_client):
    form = published_form()
    published_at = form.published_at
    response = admin_client.post(
        admin_url(ConsentForm, "changelist"),
        {"action": "publish_selected", "_selected_action": [form.pk]},
        follow=True,
    )
    assert "This version is already published." in response.content.decode()
    form.refresh_from_db()
    assert form.published_at == published_at


def test_the_publish_button_publishes_a_draft(admin_client):
    draft = draft_from(published_form())
    page = admin_client.get(admin_url(ConsentForm, "change", draft.pk)).content.decode()
    publish_url = reverse("admin:treatments_consentform_publish", args=[draft.pk])
    assert publish_url in page
    assert admin_client.get(publish_url).status_code == 405
    response = admin_client.post(publish_url)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.is_published


def test_a_draft_without_a_statement_is_not_published(admin_client):
    draft = draft_from(published_form())
    ConsentForm.objects.filter(pk=draft.pk).update(statements=[])
    response = admin_client.post(
        reverse("admin:treatments_consentform_publish", args=[draft.pk]), follow=True
    )
    assert "at least one statement" in response.content.decode()
    draft.refresh_from_db()
    assert not draft.is_published


def test_the_new_version_action_copies_the_content_into_version_n_plus_1(admin_client):
    source = published_form()
    response = admin_client.post(
        admin_url(ConsentForm, "changelist"),
        {"action": "new_version_from_selected", "_selected_action": [source.pk]},
    )
    copy = ConsentForm.objects.get(treatment=source.treatment, version=2)
    assert response.status_code == 302
    assert response.url == admin_url(ConsentForm, "change", copy.pk)
    assert (copy.title, copy.body, copy.risks, copy.statements) == (
        source.title,
        source.body,
        source.risks,
        source.statements,
    )
    assert copy.published_at is None
    assert copy.effective_from >= source.effective_from
    # The current form stays version 1 until the copy is published.
    assert services.consent_current_form(source.treatment) == source


def test_the_new_version_action_takes_exactly_one(admin_client):
    forms = list(ConsentForm.objects.values_list("pk", flat=True))
    assert len(forms) == 2
    before = ConsentForm.objects.count()
    response = admin_client.post(
        admin_url(ConsentForm, "changelist"),
        {"action": "new_version_from_selected", "_selected_action": forms},
        follow=True,
    )
    assert "Choose exactly one version to copy." in response.content.decode()
    assert ConsentForm.objects.count() == before


def test_the_new_version_button_numbers_after_the_newest(admin_client):
    source = published_form()
    draft_from(source)  # version 2 exists already
    page = admin_client.get(admin_url(ConsentForm, "change", source.pk)).content.decode()
    url = reverse("admin:treatments_consentform_new_version", args=[source.pk])
    assert url in page
    response = admin_client.post(url)
    copy = ConsentForm.objects.get(treatment=source.treatment, version=3)
    assert response.url == admin_url(ConsentForm, "change", copy.pk)


def test_a_published_version_offers_no_publish_button(admin_client):
    form = published_form()
    page = admin_client.get(admin_url(ConsentForm, "change", form.pk)).content.decode()
    assert reverse("admin:treatments_consentform_publish", args=[form.pk]) not in page
    response = admin_client.post(
        reverse("admin:treatments_consentform_publish", args=[form.pk]), follow=True
    )
    assert "already published" in response.content.decode()


# --- clinical records: read-only, with history, never deleted -----------------------


@pytest.fixture
def clinical_records(session_today, nurse, consultant):
    """One of each clinical record: a started session with a stocking and an event."""
    course = session_today.course
    services.session_confirm_consent(session=session_today, nurse=nurse)
    services.session_start(session=session_today, by=nurse)
    services.session_fit_stocking(
        session=session_today, by=nurse, leg="left", compression_class="2", length="knee"
    )
    services.session_add_adverse_event(
        session=session_today,
        by=nurse,
        kind="bruising",
        severity="mild",
        action_taken="Reassured; cold compress.",
    )
    services.course_extend(
        course=course, consultant=course.consultant, to_sessions=4, reason="More veins than hoped."
    )
    return {
        Course: course,
        SessionRecord: session_today,
        SignedConsent: SignedConsent.objects.get(course=course),
        CourseExtension: CourseExtension.objects.get(course=course),
        StockingFitting: StockingFitting.objects.get(session=session_today),
        AdverseEvent: AdverseEvent.objects.get(session=session_today),
        Appointment: session_today.appointment,
    }


@pytest.mark.parametrize("model", CLINICAL_MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("client_fixture", ["admin_client", "superuser_client"])
def test_clinical_records_render_read_only(clinical_records, model, client_fixture, request):
    client = request.getfixturevalue(client_fixture)
    obj = clinical_records[model]
    listing = client.get(admin_url(model, "changelist"))
    assert listing.status_code == 200
    assert admin_url(model, "change", obj.pk) in listing.content.decode()
    assert 'value="delete_selected"' not in listing.content.decode()
    page = client.get(admin_url(model, "change", obj.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html
    assert "Delete" not in html.split('id="content-main"')[1].split("</form>")[0]
    assert client.get(admin_url(model, "add")).status_code == 403


@pytest.mark.parametrize("model", CLINICAL_MODELS, ids=lambda m: m.__name__)
def test_no_clinical_record_can_be_deleted_even_by_a_superuser(
    clinical_records, model, superuser_client
):
    obj = clinical_records[model]
    model_admin = admin.site._registry[model]
    request = type("R", (), {"user": User.objects.get(email="root@example.org")})()
    assert model_admin.has_delete_permission(request, obj) is False
    assert model_admin.has_change_permission(request, obj) is False
    assert model_admin.has_add_permission(request) is False
    response = superuser_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"})
    assert response.status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


def test_a_clinical_record_cannot_be_changed_by_posting_to_its_page(
    clinical_records, superuser_client
):
    session = clinical_records[SessionRecord]
    response = superuser_client.post(
        admin_url(SessionRecord, "change", session.pk), {"notes": "Edited in the admin"}
    )
    assert response.status_code == 403
    session.refresh_from_db()
    assert session.notes == ""


@pytest.mark.parametrize("model", HISTORY_MODELS, ids=lambda m: m.__name__)
def test_the_history_of_clinical_records_is_visible(clinical_records, model, admin_client):
    obj = clinical_records[model]
    response = admin_client.get(admin_url(model, "history", obj.pk))
    assert response.status_code == 200
    record = obj.history.earliest()
    version_url = reverse(
        f"admin:{model._meta.app_label}_{model._meta.model_name}_simple_history",
        args=[obj.pk, record.history_id],
    )
    assert admin_client.get(version_url).status_code == 200


def test_a_clinical_record_cannot_be_reverted_from_its_history(clinical_records, superuser_client):
    session = clinical_records[SessionRecord]
    first = session.history.earliest()
    url = reverse("admin:treatments_sessionrecord_simple_history", args=[session.pk, first.pk])
    response = superuser_client.post(url, {"status": "scheduled", "notes": "Reverted"})
    assert response.status_code == 403
    session.refresh_from_db()
    assert session.status == SessionRecord.Status.IN_PROGRESS


def test_appointments_are_filtered_by_status_treatment_and_date(admin_client, clinical_records):
    cancelled = AppointmentFactory(status=Appointment.Status.CANCELLED)
    url = admin_url(Appointment, "changelist")
    html = admin_client.get(url, {"status__exact": "cancelled"}).content.decode()
    assert admin_url(Appointment, "change", cancelled.pk) in html
    assert admin_url(Appointment, "change", clinical_records[Appointment].pk) not in html
    start = timezone.localtime(cancelled.start)
    by_day = admin_client.get(
        url, {"start__year": start.year, "start__month": start.month, "start__day": start.day}
    )
    assert by_day.status_code == 200
    assert admin_url(Appointment, "change", cancelled.pk) in by_day.content.decode()
    by_treatment = admin_client.get(
        url, {"treatment__id__exact": treatment("microsclerotherapy").pk}
    )
    assert by_treatment.status_code == 200
    assert admin_url(Appointment, "change", cancelled.pk) not in by_treatment.content.decode()


@pytest.mark.parametrize("model", [Appointment, SessionRecord, Course], ids=lambda m: m.__name__)
def test_clinical_lists_do_not_grow_in_queries(
    admin_client, schedule, model, django_assert_max_num_queries
):
    start = timezone.localtime() + timedelta(days=3)
    start = start.replace(hour=8, minute=0, second=0, microsecond=0)
    schedule(CourseFactory(), start)
    url = admin_url(model, "changelist")
    with django_assert_max_num_queries(15) as one:
        admin_client.get(url)
    for n in range(1, 30):
        schedule(CourseFactory(), start + timedelta(minutes=30 * n))
    with django_assert_max_num_queries(15) as many:
        response = admin_client.get(url)
    assert response.status_code == 200
    assert len(many.captured_queries) == len(one.captured_queries)


def test_treated_areas_are_shown_by_name(clinical_records, admin_client):
    course = clinical_records[Course]
    html = admin_client.get(admin_url(Course, "change", course.pk)).content.decode()
    assert "Left calf, inner, Right back of the knee" in html
    assert "left_calf_back_medial" not in html
