"""Download my data: the export holds every kind of record the clinic keeps on the patient,
and nothing of anyone else; it is JSON, and its times are ISO 8601 with an offset."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from aftercare import preferences as aftercare_preferences
from aftercare import services as aftercare_services
from aftercare.models import AftercarePlan, CheckIn, Reminder
from bookings.feeds import calendar_feed_for
from bookings.models import Appointment, CalendarFeed, WaitingListEntry
from bookings.services import appointment_cancel, appointment_create, waiting_list_join
from clinic.models import Room, StaffMember
from patients.export import SECTIONS, export_data, patient_export
from patients.models import AccountClosureRequest, Patient
from patients.services import (
    account_closure_request,
    patient_profile_update,
    record_access_log,
    screening_review,
    screening_submit,
)
from treatments import services as treatment_services
from treatments.models import (
    AdverseEvent,
    Course,
    CourseExtension,
    Legs,
    SessionRecord,
    SignedConsent,
    StockingFitting,
    Treatment,
)

from ..factories import (
    ConsultingRoomFactory,
    CourseFactory,
    PatientFactory,
    RoomFactory,
    local,
)

pytestmark = pytest.mark.django_db

ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}")
LOOKS_LIKE_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T")


# --- building a patient with one of every kind of record --------------------------------------


def days_ago(days: int, hour: int = 10) -> datetime:
    day = timezone.localdate() - timedelta(days=days)
    return local(day.year, day.month, day.day, hour)


def complete_session(
    course: Course,
    *,
    start: datetime,
    nurse: StaffMember,
    room: Room,
    notes: str = "",
    adverse: bool = True,
) -> SessionRecord:
    """Book, run and complete the next session of ``course`` as the nurse would, through the
    services (consent signed online first if it is not)."""
    form = treatment_services.consent_current_form(course.treatment)
    assert form is not None
    if treatment_services.standing_consent(course, form) is None:
        treatment_services.consent_sign(
            course=course,
            form=form,
            typed_name=course.patient.full_name,
            statements_accepted=list(form.statements),
            method=SignedConsent.Method.ONLINE,
        )
    session = treatment_services.session_schedule(
        course=course,
        start=start,
        minutes=30,
        consultant=course.consultant,
        nurse=nurse,
        room=room,
        music_request="Quiet piano",
    )
    treatment_services.session_confirm_consent(session=session, nurse=nurse)
    treatment_services.session_start(session=session, by=nurse)
    areas = [a for a in course.treated_areas if a.split("_")[0] in Legs.sides(course.legs)]
    treatment_services.session_record(
        session=session,
        by=nurse,
        treated_areas=areas,
        concentration_percent="0.5",
        total_volume_ml="2.5",
        injections=18,
        discomfort=3,
        discharge_walk_minutes=12,
        notes=notes,
    )
    for leg in Legs.sides(session.legs_treated):
        treatment_services.session_fit_stocking(
            session=session, by=nurse, leg=leg, compression_class="2", length="thigh"
        )
    if adverse:
        treatment_services.session_add_adverse_event(
            session=session,
            by=nurse,
            kind="bruising",
            severity="mild",
            action_taken="Reassured; it should fade within two weeks.",
        )
    return treatment_services.session_complete(session=session, by=nurse)


@dataclass
class FullRecord:
    """One patient with one of each kind of record, and the values that mark them."""

    patient: Patient
    marker: str
    course: Course
    session: SessionRecord
    consent: SignedConsent
    plan: AftercarePlan
    cancelled: Appointment
    upcoming: Appointment


def build_full_record(
    *, marker: str, nurse: StaffMember, consultant: StaffMember, room: Room, hour: int = 10
) -> FullRecord:
    """A patient with a profile (changed once), a reviewed screening, a consultation, a
    course extended once with a completed session (stockings, an adverse event), a signed
    consent, an aftercare plan with check-ins (one with a warning symptom, which flags the
    course), reminder preferences, reminders (one sent), a waiting-list entry, a calendar
    feed and a request to close the account. ``marker`` is written into the free text so
    that a test can look for it; ``hour`` keeps two patients' sessions apart in the diary."""
    patient = PatientFactory(
        user__first_name=f"{marker}first",
        user__last_name=f"{marker}last",
        user__email=f"{marker.lower()}@example.net",
    )
    patient_profile_update(
        patient=patient,
        first_name=f"{marker}first",
        last_name=f"{marker}last",
        date_of_birth=date(1971, 4, 9),
        phone="07700 900123",
        address=f"1 {marker} Road\nLeeds",
        gp_practice=f"{marker} Surgery",
        payer=Patient.Payer.SELF_FUNDED,
        insurer=f"{marker} Insurance",
        policy_number=f"{marker}-POL",
        preauthorisation_code="",
        contact_by_email=True,
        contact_by_sms=True,
    )
    screening = screening_submit(
        patient=patient,
        answers={"takes_anticoagulants": True, "medicines": f"{marker} tablets"},
    )
    screening_review(screening=screening, consultant=consultant, notes=f"{marker} reviewed")
    patient.refresh_from_db()
    course = CourseFactory(patient=patient, consultant=consultant, plan_notes=f"{marker} advice")
    treatment_services.course_extend(
        course=course, consultant=consultant, to_sessions=4, reason=f"{marker} more veins"
    )
    session = complete_session(
        course, start=days_ago(10, hour), nurse=nurse, room=room, notes=f"{marker} nurse note"
    )
    plan = AftercarePlan.objects.get(session=session)
    aftercare_services.check_in_record(
        patient=patient,
        day=plan.starts_on,
        walked=True,
        stockings_on=True,
        bruising=True,
        pain_score=2,
        notes=f"{marker} felt fine",
    )
    aftercare_services.check_in_record(
        patient=patient,
        day=plan.starts_on + timedelta(days=1),
        stockings_on=True,
        warning_symptoms=["hot_painful_leg"],
    )
    aftercare_preferences.walk_reminders_set(patient=patient, walk_time=time(8, 30), enabled=True)
    aftercare_preferences.sms_kinds_set(patient=patient, kinds=[Reminder.Kind.DAILY_WALK])
    consultation = Treatment.objects.get(slug="initial-consultation")
    consulting_room = ConsultingRoomFactory(location=room.location)
    soon = timezone.localdate() + timedelta(days=20)
    upcoming = appointment_create(
        patient=patient,
        treatment=consultation,
        start=local(soon.year, soon.month, soon.day, hour),
        minutes=30,
        consultant=consultant,
        room=consulting_room,
        music_request=f"{marker} music",
    )
    later = soon + timedelta(days=5)
    cancelled = appointment_create(
        patient=patient,
        treatment=consultation,
        start=local(later.year, later.month, later.day, hour),
        minutes=30,
        consultant=consultant,
        room=consulting_room,
    )
    appointment_cancel(appointment=cancelled, reason=f"{marker} cannot come")
    # The confirmation of the upcoming appointment is due now: send it as the worker would.
    for reminder_id in aftercare_services.reminders_claim_due():
        aftercare_services.reminder_send(reminder_id=reminder_id)
    waiting_list_join(
        patient=patient,
        treatment=consultation,
        earliest_date=timezone.localdate() + timedelta(days=1),
        latest_date=timezone.localdate() + timedelta(days=30),
    )
    calendar_feed_for(user=patient.user)
    account_closure_request(patient=patient, reason=f"{marker} moving away")
    record_access_log(
        user=consultant.user, patient=patient, what="course review", ref=f"course:{course.pk}"
    )
    consent = SignedConsent.objects.get(course=course)
    return FullRecord(
        patient=patient,
        marker=marker,
        course=course,
        session=session,
        consent=consent,
        plan=plan,
        cancelled=cancelled,
        upcoming=upcoming,
    )


@pytest.fixture
def diary(db, consultant) -> tuple[Room, StaffMember]:
    return RoomFactory(kind=Room.Kind.TREATMENT), consultant


@pytest.fixture
def mine(diary, nurse) -> FullRecord:
    room, consultant = diary
    return build_full_record(marker="Alpha", nurse=nurse, consultant=consultant, room=room)


@pytest.fixture
def theirs(mine, diary, nurse, microsclerotherapy) -> FullRecord:
    """Another patient with one of everything, who signed a newer version of the form (so
    that the hash of the text they signed differs from ``mine``)."""
    previous = treatment_services.consent_current_form(microsclerotherapy)
    draft = treatment_services.consent_form_new_version(
        treatment=microsclerotherapy,
        title=previous.title,
        body=previous.body + "\n\nA paragraph added in version 2.",
        risks=previous.risks,
        statements=previous.statements,
        effective_from=timezone.now() - timedelta(minutes=1),
    )
    treatment_services.consent_form_publish(form=draft)
    room, consultant = diary
    return build_full_record(marker="Zulu", nurse=nurse, consultant=consultant, room=room, hour=15)


def as_json(patient: Patient) -> str:
    # Plain json.dumps: the export must need no special encoder.
    return json.dumps(patient_export(patient))


def instants(value: Any) -> list[str]:
    """Every string in the export that looks like a date with a time."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in instants(v)]
    if isinstance(value, list):
        return [s for v in value for s in instants(v)]
    if isinstance(value, str) and LOOKS_LIKE_INSTANT.match(value):
        return [value]
    return []


# --- every kind of record ---------------------------------------------------------------------


def test_the_export_holds_every_kind_of_record(mine, theirs):
    data = json.loads(as_json(mine.patient))
    patient, marker = mine.patient, mine.marker
    assert list(data) == ["about_this_file", *SECTIONS]

    assert data["account"]["email"] == patient.user.email
    assert data["account"]["first_name"] == f"{marker}first"
    assert data["account"]["joined"]
    profile = data["profile"]
    assert profile["date_of_birth"] == "1971-04-09"
    assert profile["phone"] == "07700 900123"
    assert profile["address"] == f"1 {marker} Road\nLeeds"
    assert profile["gp_practice"] == f"{marker} Surgery"
    assert profile["insurer"] == f"{marker} Insurance"
    assert profile["payer"] == "self" and profile["contact_by_sms"] is True
    assert len(data["profile_history"]) >= 2  # created, then changed

    screening = data["screening"]
    anticoagulants = next(a for a in screening["answers"] if a["field"] == "takes_anticoagulants")
    assert anticoagulants["answer"] is True
    assert len(screening["answers"]) == 7
    assert screening["medicines"] == f"{marker} tablets"
    assert screening["review_status"] == "reviewed"
    assert screening["reviewed_by"] and screening["review_notes"] == f"{marker} reviewed"
    assert data["screening_history"]

    appointments = {a["id"]: a for a in data["appointments"]}
    assert set(appointments) == set(
        Appointment.objects.filter(patient=patient).values_list("pk", flat=True)
    )
    statuses = {a["status"] for a in appointments.values()}
    assert {"completed", "booked", "cancelled"} <= statuses
    upcoming = appointments[mine.upcoming.pk]
    assert upcoming["music_request"] == f"{marker} music"
    assert upcoming["payer"] == "self"
    assert upcoming["price_quoted"] == str(mine.upcoming.price_amount)
    assert upcoming["currency"] == "GBP"
    assert appointments[mine.cancelled.pk]["cancellation_reason"] == f"{marker} cannot come"
    # Local and UTC times of the same instant.
    assert datetime.fromisoformat(upcoming["start"]) == datetime.fromisoformat(
        upcoming["start_utc"]
    )
    assert upcoming["start_utc"].endswith("+00:00")

    [course] = data["courses"]
    assert course["id"] == mine.course.pk
    assert course["planned_sessions"] == 4
    assert course["plan_notes"] == f"{marker} advice"
    assert course["extensions"][0]["reason"] == f"{marker} more veins"
    assert course["flags_for_the_consultant"][0]["reason"].startswith("Patient reported")
    [session] = course["sessions"]
    assert session["id"] == mine.session.pk and session["status"] == "completed"
    assert session["concentration_percent"] == "0.50"
    assert session["walk_before_going_home_minutes"] == 12
    assert session["notes"] == f"{marker} nurse note"
    assert session["treated_areas"]  # in words
    assert {s["leg"] for s in session["stockings"]} == {"Left leg", "Right leg"}
    assert session["adverse_events"][0]["kind"] == "bruising"

    [consent] = data["consents"]
    assert consent["text_hash_sha256"] == mine.consent.text_hash
    assert consent["signed_text"] == mine.consent.signed_text
    assert consent["form_version"] == 1 and consent["form_title"]
    assert consent["signed_at"]

    [plan] = data["aftercare_plans"]
    assert plan["id"] == mine.plan.pk
    assert len(plan["check_ins"]) == 2
    assert plan["check_ins"][0]["notes"] == f"{marker} felt fine"
    assert plan["check_ins"][1]["warning_symptoms"]

    preferences = data["reminder_preferences"]
    assert preferences["walk_time"] == "08:30"
    assert preferences["also_by_text_message"] == ["Daily walk"]
    reminders = data["reminders"]
    assert len(reminders) == Reminder.objects.filter(patient=patient).count()
    sent = [r for r in reminders if r["status"] == "sent"]
    assert sent and sent[0]["kind"] == "appointment_confirmation" and sent[0]["sent_at"]
    assert {"email", "sms"} <= {r["channel"] for r in reminders}
    assert mail.outbox  # it really went

    [entry] = data["waiting_list"]
    assert entry["status"] == "waiting" and entry["treatment"] == "Initial consultation"
    assert data["calendar_feed"]["exists"] is True
    [closure] = data["account_closure_requests"]
    assert closure["status"] == "requested" and closure["reason"] == f"{marker} moving away"
    [look] = data["record_accesses"]
    assert look["what"] == "course review" and look["who"] and look["at"]


def test_the_export_holds_nothing_of_another_patient(mine, theirs):
    text = as_json(mine.patient)
    data = json.loads(text)
    other = theirs.patient
    for value in (
        theirs.marker,
        theirs.marker.lower(),
        other.user.email,
        theirs.consent.text_hash,
        "added in version 2",
    ):
        assert value not in text, value
    assert mine.marker in text
    assert theirs.consent.text_hash != mine.consent.text_hash
    their_ids = {
        "appointments": set(Appointment.objects.filter(patient=other).values_list("pk", flat=True)),
        "courses": {theirs.course.pk},
        "consents": {theirs.consent.pk},
        "aftercare_plans": {theirs.plan.pk},
    }
    for section, ids in their_ids.items():
        assert not ids & {row["id"] for row in data[section]}, section
    sessions = {s["id"] for c in data["courses"] for s in c["sessions"]}
    assert theirs.session.pk not in sessions
    assert data["about_this_file"]["patient_id"] == mine.patient.pk


def test_times_are_iso_8601_with_an_offset(mine):
    data = patient_export(mine.patient)
    found = instants(data)
    assert len(found) > 20
    for value in found:
        assert ISO_INSTANT.fullmatch(value), value
        assert datetime.fromisoformat(value).utcoffset() is not None
    # Instants are given in the clinic's zone, dates as plain dates.
    start = data["appointments"][0]["start"]
    assert (
        datetime.fromisoformat(start).utcoffset()
        == timezone.localtime(datetime.fromisoformat(start)).utcoffset()
    )
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["aftercare_plans"][0]["starts_on"])


def test_the_export_keeps_the_calendar_address_secret(mine):
    token = CalendarFeed.objects.get(user=mine.patient.user).token
    assert token not in as_json(mine.patient)
    assert token not in str(export_data(mine.patient))


def test_a_new_patient_exports_empty_sections(patient):
    data = patient_export(patient)
    assert data["screening"] is None
    assert data["reminder_preferences"] is None
    assert data["calendar_feed"] == {"exists": False, "address_made_at": None}
    for section in ("appointments", "courses", "consents", "aftercare_plans", "reminders"):
        assert data[section] == []
    assert data["account"]["email"] == patient.user.email


def test_the_download_is_one_json_file_named_with_the_date(client, mine, theirs):
    client.force_login(mine.patient.user)
    response = client.get(reverse("patients:export_json"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="veinline-my-data-{today}.json"'
    )
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["account"]["email"] == mine.patient.user.email
    assert theirs.marker not in response.content.decode()


def test_the_printable_page_shows_the_same_data(client, mine, theirs):
    client.force_login(mine.patient.user)
    response = client.get(reverse("patients:export_print"))
    html = response.content.decode()
    assert response.status_code == 200
    for title in SECTIONS.values():
        assert title in html
    for value in (
        f"{mine.marker} Surgery",
        f"{mine.marker} tablets",
        f"{mine.marker} more veins",
        f"{mine.marker} nurse note",
        f"{mine.marker} felt fine",
        f"{mine.marker} moving away",
        mine.consent.text_hash,
        "Appointment confirmation",
        "data-print",
        "js/print.js",
    ):
        assert value in html, value
    assert theirs.marker not in html
    assert CalendarFeed.objects.get(user=mine.patient.user).token not in html


def test_counts_match_the_database(mine, theirs):
    data = patient_export(mine.patient)
    patient = mine.patient
    assert len(data["appointments"]) == Appointment.objects.filter(patient=patient).count()
    assert len(data["consents"]) == SignedConsent.objects.filter(patient=patient).count()
    assert len(data["waiting_list"]) == WaitingListEntry.objects.filter(patient=patient).count()
    stockings = StockingFitting.objects.filter(session__course__patient=patient).count()
    events = AdverseEvent.objects.filter(session__course__patient=patient).count()
    extensions = CourseExtension.objects.filter(course__patient=patient).count()
    check_ins = CheckIn.objects.filter(plan__patient=patient).count()
    closures = AccountClosureRequest.objects.filter(patient=patient).count()
    courses = data["courses"]
    assert sum(len(s["stockings"]) for c in courses for s in c["sessions"]) == stockings
    assert sum(len(s["adverse_events"]) for c in courses for s in c["sessions"]) == events
    assert sum(len(c["extensions"]) for c in courses) == extensions
    assert sum(len(p["check_ins"]) for p in data["aftercare_plans"]) == check_ins
    assert len(data["account_closure_requests"]) == closures
