"""The consultant's screens: the desk, planning a course, course review and its actions,
and the screening review."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from bookings.models import Appointment
from clinic.models import StaffMember
from patients.models import Screening
from treatments import services
from treatments.models import (
    AdverseEvent,
    Course,
    CourseExtension,
    SessionRecord,
    StockingFitting,
)

from ..factories import (
    AppointmentFactory,
    ClinicAdminFactory,
    ConsultantFactory,
    CourseFactory,
    PatientFactory,
    ScreeningFactory,
    local,
    treatment,
)

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "patient", "nurse", "consultant", "clinic_admin"]


# --- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture
def as_role(client: Client, patient, nurse, consultant):
    """Log the test client in with a role: ``as_role("nurse")``."""

    def _as(role: str) -> Client:
        people = {
            "patient": lambda: patient.user,
            "nurse": lambda: nurse.user,
            "consultant": lambda: consultant.user,
            "clinic_admin": lambda: ClinicAdminFactory().user,
        }
        if role != "anonymous":
            client.force_login(people[role]())
        return client

    return _as


@pytest.fixture
def consultation(db) -> Appointment:
    """A completed initial consultation whose patient sent a screening with no flags."""
    appointment = AppointmentFactory(status=Appointment.Status.COMPLETED)
    ScreeningFactory(patient=appointment.patient)
    return appointment


def plan_data(**overrides) -> dict:
    data = {
        "treatment": treatment("microsclerotherapy").pk,
        "planned_sessions": "3",
        "min_gap_days": "28",
        "legs": "both",
        "treated_areas": ["left_calf_back_medial", "right_knee_back"],
        "plan_notes": "Avoid hot baths for two days.",
    }
    data.update(overrides)
    return data


def plan_url(appointment: Appointment) -> str:
    return reverse("treatments:course_plan", args=[appointment.pk])


def review_url(course: Course) -> str:
    return reverse("treatments:course_review", args=[course.pk])


def extend_url(course: Course) -> str:
    return reverse("treatments:course_extend", args=[course.pk])


def close_url(course: Course) -> str:
    return reverse("treatments:course_close", args=[course.pk])


def screening_url(patient_pk: int) -> str:
    return reverse("treatments:screening_review", args=[patient_pk])


def expect_role_result(response, role: str, allowed: set[str]) -> None:
    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    elif role in allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403


# --- who may open each page -----------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_consultant_home_is_for_consultants(as_role, role):
    response = as_role(role).get(reverse("treatments:consultant_home"))
    expect_role_result(response, role, {"consultant"})


@pytest.mark.parametrize("role", ROLES)
def test_course_plan_is_for_consultants(as_role, role, consultation):
    response = as_role(role).get(plan_url(consultation))
    expect_role_result(response, role, {"consultant"})


@pytest.mark.parametrize("role", ROLES)
def test_course_review_is_for_nurses_and_consultants(as_role, role, course):
    response = as_role(role).get(review_url(course))
    expect_role_result(response, role, {"nurse", "consultant"})


@pytest.mark.parametrize("role", ROLES)
def test_screening_review_is_for_consultants(as_role, role, consultation):
    response = as_role(role).get(screening_url(consultation.patient_id))
    expect_role_result(response, role, {"consultant"})


@pytest.mark.parametrize("role", ["anonymous", "patient", "nurse", "clinic_admin"])
@pytest.mark.parametrize("action", ["extend", "close"])
def test_only_consultants_may_extend_or_close(as_role, role, action, course):
    data = (
        {"to_sessions": "4", "reason": "More veins than expected."}
        if action == "extend"
        else {"status": "discontinued", "reason": "Patient moved away."}
    )
    url = extend_url(course) if action == "extend" else close_url(course)
    response = as_role(role).post(url, data)
    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    else:
        assert response.status_code == 403
    course.refresh_from_db()
    assert course.planned_sessions == 3
    assert course.status == Course.Status.PLANNED
    assert not CourseExtension.objects.exists()


def test_actions_answer_post_only(consultant_client, course):
    assert consultant_client.get(extend_url(course)).status_code == 405
    assert consultant_client.get(close_url(course)).status_code == 405


def test_nurse_sees_the_course_but_not_the_actions(nurse_client, course):
    page = nurse_client.get(review_url(course)).content.decode()
    assert course.patient.full_name in page
    assert 'data-testid="extend-form"' not in page
    assert 'data-testid="close-form"' not in page


def test_consultant_sees_the_actions_on_an_open_course(consultant_client, course):
    page = consultant_client.get(review_url(course)).content.decode()
    assert 'data-testid="extend-form"' in page
    assert 'data-testid="close-form"' in page


@pytest.mark.parametrize(
    "name", ["course_review", "course_plan", "screening_review", "course_extend", "course_close"]
)
def test_unknown_ids_are_404(consultant_client, name):
    url = reverse(f"treatments:{name}", args=[987654])
    response = (
        consultant_client.post(url, {"reason": "x", "to_sessions": "4", "status": "completed"})
        if name in ("course_extend", "course_close")
        else consultant_client.get(url)
    )
    assert response.status_code == 404


def test_non_numeric_ids_are_404(consultant_client):
    assert consultant_client.get("/staff/courses/abc/").status_code == 404
    assert consultant_client.get("/staff/consultations/1%20OR%201=1/plan/").status_code == 404


# --- the consultant's desk ------------------------------------------------------------------


def test_home_lists_consultations_awaiting_a_plan_with_screening_badges(consultant_client):
    none_on_file = AppointmentFactory(status=Appointment.Status.COMPLETED)
    flagged = AppointmentFactory(status=Appointment.Status.COMPLETED)
    ScreeningFactory(patient=flagged.patient, clotting_disorder=True)
    clear = AppointmentFactory(status=Appointment.Status.COMPLETED)
    ScreeningFactory(patient=clear.patient)
    reviewed = AppointmentFactory(status=Appointment.Status.COMPLETED)
    screening = ScreeningFactory(patient=reviewed.patient, takes_anticoagulants=True)
    from patients.services import screening_review

    screening_review(screening=screening, consultant=ConsultantFactory(), notes="Fine to go on.")
    booked = AppointmentFactory()  # not completed: not listed

    page = consultant_client.get(reverse("treatments:consultant_home")).content.decode()
    for appointment in (none_on_file, flagged, clear, reviewed):
        assert plan_url(appointment) in page
    assert plan_url(booked) not in page
    assert "No screening on file" in page
    assert "Screening needs review" in page
    assert "Screening: no flags" in page
    assert "Screening reviewed" in page
    assert screening_url(flagged.patient_id) in page
    assert page.count("Plan course") == 4


def test_home_lists_open_courses_with_review_links(consultant_client, course):
    closed = CourseFactory(status=Course.Status.COMPLETED)
    page = consultant_client.get(reverse("treatments:consultant_home")).content.decode()
    assert review_url(course) in page
    assert review_url(closed) not in page
    # A consultation a course was planned from no longer waits for a plan.
    assert plan_url(course.consultation) not in page


def test_home_query_count_does_not_grow(consultant_client, django_assert_max_num_queries):
    def add_rows(n: int) -> None:
        for i in range(n):
            appointment = AppointmentFactory(status=Appointment.Status.COMPLETED)
            if i % 2:
                ScreeningFactory(patient=appointment.patient, open_leg_ulcers=True)
            CourseFactory()

    add_rows(1)
    with django_assert_max_num_queries(5) as one:
        response = consultant_client.get(reverse("treatments:consultant_home"))
    assert response.content.decode().count('data-testid="awaiting-row"') == 1
    add_rows(29)
    with django_assert_max_num_queries(5) as many:
        response = consultant_client.get(reverse("treatments:consultant_home"))
    page = response.content.decode()
    assert page.count('data-testid="awaiting-row"') == 30
    assert page.count('data-testid="open-course-row"') == 30
    assert len(many.captured_queries) == len(one.captured_queries)


# --- planning a course ------------------------------------------------------------------------


def test_plan_form_prefills_the_treatment_defaults(consultant_client, consultation):
    response = consultant_client.get(plan_url(consultation))
    form = response.context["form"]
    micro = treatment("microsclerotherapy")
    assert form.initial["treatment"] == micro
    assert form.initial["planned_sessions"] == micro.min_planned_sessions == 2
    assert form.initial["min_gap_days"] == 28
    page = response.content.decode()
    assert "Left thigh, front, inner" in page
    assert "Right top of the foot" in page
    assert "Initial consultation" not in [str(t) for t in form.fields["treatment"].queryset]


def test_plan_form_prefills_from_another_treatment(consultant_client, consultation):
    foam = treatment("foam-sclerotherapy")
    response = consultant_client.get(plan_url(consultation), {"treatment": foam.pk})
    assert response.context["form"].initial["treatment"] == foam
    assert response.context["form"].initial["planned_sessions"] == foam.min_planned_sessions
    # Junk in the query string falls back to the usual treatment.
    response = consultant_client.get(plan_url(consultation), {"treatment": "9" * 40})
    assert response.status_code == 200
    assert response.context["form"].initial["treatment"] == treatment("microsclerotherapy")


def test_plan_a_course_from_a_completed_consultation(consultant_client, consultant, consultation):
    response = consultant_client.post(plan_url(consultation), plan_data())
    course = Course.objects.get()
    assert response.status_code == 302
    assert response["Location"] == review_url(course)
    assert course.patient == consultation.patient
    assert course.consultation == consultation
    assert course.consultant == consultant  # the logged-in consultant, not a form field
    assert course.planned_sessions == 3
    assert course.min_gap_days == 28
    assert course.legs == "both"
    assert course.treated_areas == ["left_calf_back_medial", "right_knee_back"]
    assert course.plan_notes == "Avoid hot baths for two days."
    page = consultant_client.get(response["Location"]).content.decode()
    assert "is planned: 3 sessions" in page
    home = consultant_client.get(reverse("treatments:consultant_home")).content.decode()
    assert plan_url(consultation) not in home


def test_plan_ignores_a_consultant_named_in_the_form(consultant_client, consultant, consultation):
    other = ConsultantFactory()
    consultant_client.post(plan_url(consultation), plan_data(consultant=other.pk))
    assert Course.objects.get().consultant == consultant


def test_plan_refused_when_the_consultation_is_not_completed(consultant_client):
    booked = AppointmentFactory()
    ScreeningFactory(patient=booked.patient)
    response = consultant_client.post(plan_url(booked), plan_data())
    assert response.status_code == 400
    assert "has not been completed yet" in response.content.decode()
    assert not Course.objects.exists()


def test_plan_refused_from_an_appointment_that_is_not_a_consultation(consultant_client, course):
    session_appt = AppointmentFactory(
        patient=course.patient,
        treatment=treatment("reassessment"),
        status=Appointment.Status.COMPLETED,
    )
    response = consultant_client.post(plan_url(session_appt), plan_data())
    assert response.status_code == 400
    assert "not from another appointment" in response.content.decode()
    assert Course.objects.count() == 1


def test_plan_refused_while_the_screening_awaits_review(consultant_client):
    appointment = AppointmentFactory(status=Appointment.Status.COMPLETED)
    ScreeningFactory(patient=appointment.patient, past_dvt_or_pe=True)
    response = consultant_client.post(plan_url(appointment), plan_data())
    page = response.content.decode()
    assert response.status_code == 400
    assert "need a consultant&#x27;s review" in page
    assert "Review the screening now" in page
    assert screening_url(appointment.patient_id) in page
    assert not Course.objects.exists()


def test_plan_refused_without_a_screening(consultant_client):
    appointment = AppointmentFactory(status=Appointment.Status.COMPLETED)
    response = consultant_client.post(plan_url(appointment), plan_data())
    assert response.status_code == 400
    assert "has not filled in the medical screening" in response.content.decode()
    assert not Course.objects.exists()


@pytest.mark.parametrize("sessions", ["5", "1"])
def test_plan_refuses_sessions_outside_the_range(consultant_client, consultation, sessions):
    response = consultant_client.post(plan_url(consultation), plan_data(planned_sessions=sessions))
    assert response.status_code == 400
    assert "Plan between 2 and 4 sessions of Microsclerotherapy" in response.content.decode()
    assert not Course.objects.exists()


@pytest.mark.parametrize("gap", ["20", "50"])
def test_plan_refuses_a_gap_outside_four_to_six_weeks(consultant_client, consultation, gap):
    response = consultant_client.post(plan_url(consultation), plan_data(min_gap_days=gap))
    assert response.status_code == 400
    assert "must be 28 to 42 days" in response.content.decode()
    assert not Course.objects.exists()


def test_plan_refuses_areas_off_the_chosen_legs(consultant_client, consultation):
    response = consultant_client.post(
        plan_url(consultation), plan_data(legs="left", treated_areas=["right_knee_back"])
    )
    assert response.status_code == 400
    assert "must be on a leg being treated" in response.content.decode()
    assert not Course.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [
        {"planned_sessions": "three"},
        {"planned_sessions": "9" * 30},
        {"planned_sessions": "-2"},
        {"min_gap_days": "1e9"},
        {"treatment": "1 OR 1=1"},
        {"treatment": str(10**12)},
        {"legs": "middle"},
        {"treated_areas": ["left_knee_front", "<script>alert(1)</script>"]},
        {"plan_notes": "x" * 6000},
        {"legs": ""},
    ],
)
def test_plan_hostile_input_is_refused_and_nothing_saved(
    consultant_client, consultation, overrides
):
    response = consultant_client.post(plan_url(consultation), plan_data(**overrides))
    assert response.status_code == 400
    assert not Course.objects.exists()
    assert "<script>alert(1)</script>" not in response.content.decode()


def test_plan_refuses_a_consultation_or_reassessment_as_the_treatment(
    consultant_client, consultation
):
    response = consultant_client.post(
        plan_url(consultation), plan_data(treatment=treatment("reassessment").pk)
    )
    assert response.status_code == 400
    assert "Choose one of the treatments listed" in response.content.decode()
    assert not Course.objects.exists()


def test_plan_notes_with_html_are_shown_escaped(consultant_client, consultation):
    consultant_client.post(
        plan_url(consultation), plan_data(plan_notes="<b onmouseover=x>bold</b>")
    )
    course = Course.objects.get()
    page = consultant_client.get(review_url(course)).content.decode()
    assert "<b onmouseover=x>" not in page
    assert "&lt;b onmouseover=x&gt;bold&lt;/b&gt;" in page


def test_plan_with_an_inactive_staff_record_is_403(client, consultation):
    consultant = ConsultantFactory()
    client.force_login(consultant.user)
    StaffMember.objects.filter(pk=consultant.pk).update(is_active=False)
    response = client.post(plan_url(consultation), plan_data())
    assert response.status_code == 403
    assert not Course.objects.exists()


# --- the course review ------------------------------------------------------------------------


def test_review_shows_patient_plan_screening_consents_and_extensions(
    consultant_client, consultant, course, sign_consent
):
    course.patient.date_of_birth = local(1980, 5, 17).date()
    course.patient.save()
    ScreeningFactory(patient=course.patient, sclerosant_allergy=True)
    sign_consent(course)
    services.course_extend(
        course=course, consultant=consultant, to_sessions=4, reason="New veins on the calf."
    )
    page = consultant_client.get(review_url(course)).content.decode()
    assert course.patient.full_name in page
    assert "17 May 1980" in page
    assert "Microsclerotherapy" in page
    assert "0 of 4 completed" in page
    assert "28 days (4.0 weeks)" in page
    assert "Both legs" in page
    assert "Left calf, inner; Right back of the knee" in page
    assert "Screening needs review" in page
    assert "reacted badly to a sclerosant" in page
    assert "version 1" in page
    assert "Signed online by the patient" in page
    assert "3 → 4 sessions" in page
    assert "New veins on the calf." in page
    assert consultant.display_name in page


def test_review_timeline_in_order_with_local_times_and_gaps(
    consultant_client, course, schedule, sign_consent
):
    sign_consent(course)
    schedule(course, local(2026, 3, 4, 9))  # GMT
    second = schedule(course, local(2026, 4, 8, 9))  # BST: 08:00 UTC, shown as 09:00
    SessionRecord.objects.filter(pk=second.pk).update(
        status=SessionRecord.Status.ABANDONED, abandoned_reason="Patient had a cold."
    )
    schedule(course, local(2026, 4, 15, 14))
    response = consultant_client.get(review_url(course))
    page = response.content.decode()
    assert page.count('data-testid="timeline-session"') == 3
    assert page.index("Wed 4 Mar 2026, 09:00") < page.index("Wed 8 Apr 2026, 09:00")
    assert page.index("Wed 8 Apr 2026, 09:00") < page.index("Wed 15 Apr 2026, 14:00")
    assert "Did not go ahead: Patient had a cold." in page
    # The gap is counted from the last session that went ahead: 4 March to 15 April.
    assert "6.0 weeks after the previous session" in page
    assert "shorter than the minimum" not in page


def test_review_highlights_a_gap_below_the_minimum(consultant_client, course, schedule, nurse):
    schedule(course, local(2026, 3, 4, 9))
    # A session booked before the rule existed (made directly): 21 days later.
    appointment = AppointmentFactory(
        patient=course.patient,
        treatment=course.treatment,
        start=local(2026, 3, 25, 9),
        nurse=nurse,
    )
    SessionRecord.objects.create(course=course, number=2, appointment=appointment)
    page = consultant_client.get(review_url(course)).content.decode()
    assert "3.0 weeks after the previous session (shorter than the minimum)" in page
    assert "border-danger" in page


def test_review_shows_what_was_recorded_in_a_session(
    consultant_client, course, schedule, sign_consent, nurse
):
    consent = sign_consent(course)
    session = schedule(course, local(2026, 3, 4, 9))
    # The record is written directly: this page only reads it (the nurse's services are
    # tested with the nurse's screens).
    SessionRecord.objects.filter(pk=session.pk).update(
        status=SessionRecord.Status.COMPLETED,
        consent=consent,
        treated_areas=["left_calf_back_medial"],
        concentration_percent=Decimal("0.50"),
        total_volume_ml=Decimal("2.50"),
        discomfort=3,
        discharge_walk_minutes=10,
    )
    for leg in ("left", "right"):
        StockingFitting.objects.create(
            session=session, leg=leg, compression_class="2", length="knee", fitted_by=nurse
        )
    AdverseEvent.objects.create(
        session=session,
        kind="faint",
        severity="mild",
        action_taken="Lay down, water.",
        recorded_by=nurse,
    )
    page = consultant_client.get(review_url(course)).content.decode()
    assert "1 of 3 completed" in page
    assert "Left calf, inner" in page
    assert "0.50 %" in page
    assert "2.50 mL in total" in page
    assert "3 out of 10" in page
    assert "Left leg: Knee length, Class 2 (medium)" in page
    assert "Feeling faint / fainting (mild): Lay down, water." in page


def test_review_query_count_is_the_same_for_1_and_30_sessions(
    consultant_client, schedule, sign_consent, nurse, django_assert_max_num_queries
):
    def build(sessions: int, hour: int) -> Course:
        course = CourseFactory(planned_sessions=sessions)
        ScreeningFactory(patient=course.patient)
        sign_consent(course)
        start = local(2026, 1, 5, hour)
        for i in range(sessions):
            session = schedule(course, start + timedelta(days=28 * i))
            StockingFitting.objects.create(
                session=session, leg="left", compression_class="2", length="knee", fitted_by=nurse
            )
            AdverseEvent.objects.create(
                session=session,
                kind="bruising",
                severity="mild",
                action_taken="Reassured.",
                recorded_by=nurse,
            )
        return course

    small, big = build(1, hour=9), build(30, hour=14)
    # A first look writes the access-log row; measure repeat looks (one query).
    consultant_client.get(review_url(small))
    consultant_client.get(review_url(big))
    with django_assert_max_num_queries(13) as one:
        response = consultant_client.get(review_url(small))
    assert response.content.decode().count('data-testid="timeline-session"') == 1
    with django_assert_max_num_queries(13) as many:
        response = consultant_client.get(review_url(big))
    assert response.content.decode().count('data-testid="timeline-session"') == 30
    assert len(many.captured_queries) == len(one.captured_queries)


# --- extending and closing -------------------------------------------------------------------


def test_review_extend_then_complete(consultant_client, consultant, course):
    response = consultant_client.post(
        extend_url(course), {"to_sessions": "5", "reason": "More veins behind the knee."}
    )
    assert response.status_code == 302
    assert response["Location"] == review_url(course)
    course.refresh_from_db()
    assert course.planned_sessions == 5
    extension = CourseExtension.objects.get()
    assert (extension.from_sessions, extension.to_sessions) == (3, 5)
    assert extension.extended_by == consultant
    assert (
        "now plans 5 sessions (was 3)" in consultant_client.get(review_url(course)).content.decode()
    )

    response = consultant_client.post(
        close_url(course), {"status": "completed", "reason": "Legs clear; patient happy."}
    )
    assert response.status_code == 302
    course.refresh_from_db()
    assert course.status == Course.Status.COMPLETED
    assert course.outcome == "Legs clear; patient happy."
    assert course.closed_at is not None
    page = consultant_client.get(review_url(course)).content.decode()
    assert "The course is now completed." in page
    # A closed course offers no more actions.
    assert 'data-testid="extend-form"' not in page


def test_review_discontinue(consultant_client, course):
    response = consultant_client.post(
        close_url(course), {"status": "discontinued", "reason": "Pregnant: treatment paused."}
    )
    assert response.status_code == 302
    course.refresh_from_db()
    assert course.status == Course.Status.DISCONTINUED
    assert course.status_reason == "Pregnant: treatment paused."
    assert (
        "Pregnant: treatment paused." in consultant_client.get(review_url(course)).content.decode()
    )


@pytest.mark.parametrize("reason", ["", "   "])
def test_extend_without_a_reason_is_refused(consultant_client, course, reason):
    response = consultant_client.post(extend_url(course), {"to_sessions": "4", "reason": reason})
    assert response.status_code == 400
    assert "Give the reason for extending the course." in response.content.decode()
    course.refresh_from_db()
    assert course.planned_sessions == 3
    assert not CourseExtension.objects.exists()


@pytest.mark.parametrize("to_sessions", ["3", "2"])
def test_extend_to_fewer_is_refused(consultant_client, course, to_sessions):
    response = consultant_client.post(
        extend_url(course), {"to_sessions": to_sessions, "reason": "Fewer veins."}
    )
    assert response.status_code == 400
    assert "already plans 3 sessions; an extension must plan more" in response.content.decode()
    course.refresh_from_db()
    assert course.planned_sessions == 3


def test_extend_by_more_than_four_is_refused(consultant_client, course):
    response = consultant_client.post(extend_url(course), {"to_sessions": "8", "reason": "Many."})
    assert response.status_code == 400
    assert "at most four sessions at a time" in response.content.decode()


@pytest.mark.parametrize("reason", ["", "  "])
def test_close_without_a_reason_is_refused(consultant_client, course, reason):
    response = consultant_client.post(close_url(course), {"status": "completed", "reason": reason})
    assert response.status_code == 400
    assert "Give the reason." in response.content.decode()
    course.refresh_from_db()
    assert course.status == Course.Status.PLANNED


def test_closing_a_closed_course_is_refused(consultant_client, course, consultant):
    services.course_close(
        course=course, consultant=consultant, status="discontinued", reason="Moved away."
    )
    response = consultant_client.post(close_url(course), {"status": "completed", "reason": "x"})
    assert response.status_code == 400
    assert "cannot become completed" in response.content.decode()
    course.refresh_from_db()
    assert course.status == Course.Status.DISCONTINUED
    assert course.status_reason == "Moved away."


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("extend", {"to_sessions": "9" * 40, "reason": "Huge."}),
        ("extend", {"to_sessions": "four", "reason": "Words."}),
        ("extend", {"reason": "No number."}),
        ("extend", {"to_sessions": "5", "reason": "r" * 3000}),
        ("close", {"status": "deleted", "reason": "Not a status."}),
        ("close", {"status": "planned", "reason": "Back to the start."}),
        ("close", {"reason": "No status."}),
    ],
)
def test_action_hostile_input_is_refused_and_nothing_changes(
    consultant_client, course, action, data
):
    url = extend_url(course) if action == "extend" else close_url(course)
    response = consultant_client.post(url, data)
    assert response.status_code == 400
    course.refresh_from_db()
    assert course.planned_sessions == 3
    assert course.status == Course.Status.PLANNED
    assert not CourseExtension.objects.exists()


def test_extension_reason_with_html_is_escaped(consultant_client, course):
    consultant_client.post(
        extend_url(course), {"to_sessions": "4", "reason": "<img src=x onerror=alert(1)>"}
    )
    page = consultant_client.get(review_url(course)).content.decode()
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


# --- the screening review ---------------------------------------------------------------------


def test_screening_page_highlights_flagged_answers(consultant_client):
    screening = ScreeningFactory(
        takes_anticoagulants=True,
        open_leg_ulcers=True,
        other_conditions="Asthma",
        medicines="Warfarin <5mg>",
    )
    page = consultant_client.get(screening_url(screening.patient_id)).content.decode()
    assert page.count('data-testid="flagged-answer"') == 2
    assert page.count("Yes: needs review") == 2
    for question in Screening.FLAG_QUESTIONS.values():
        assert question.replace("'", "&#x27;") in page
    assert "Asthma" in page
    assert "Warfarin &lt;5mg&gt;" in page
    assert "Screening needs review" in page


def test_screening_page_is_404_without_a_screening(consultant_client):
    patient = PatientFactory()
    assert consultant_client.get(screening_url(patient.pk)).status_code == 404


def test_flagged_screening_needs_notes(consultant_client):
    screening = ScreeningFactory(pregnant_or_breastfeeding=True)
    response = consultant_client.post(screening_url(screening.patient_id), {"notes": "  "})
    assert response.status_code == 400
    assert "Note what you decided about the flagged answers." in response.content.decode()
    screening.refresh_from_db()
    assert screening.reviewed_at is None


def test_screening_without_flags_may_be_reviewed_without_notes(consultant_client, consultant):
    screening = ScreeningFactory()
    response = consultant_client.post(screening_url(screening.patient_id), {})
    assert response.status_code == 302
    screening.refresh_from_db()
    assert screening.reviewed_by == consultant


def test_screening_already_reviewed_is_refused(consultant_client, consultant):
    screening = ScreeningFactory(clotting_disorder=True)
    from patients.services import screening_review

    screening_review(screening=screening, consultant=consultant, notes="First look.")
    response = consultant_client.post(screening_url(screening.patient_id), {"notes": "Again."})
    assert response.status_code == 400
    assert "already been reviewed" in response.content.decode()
    screening.refresh_from_db()
    assert screening.review_notes == "First look."


def test_screening_notes_too_long_are_refused(consultant_client):
    screening = ScreeningFactory(clotting_disorder=True)
    response = consultant_client.post(screening_url(screening.patient_id), {"notes": "n" * 6000})
    assert response.status_code == 400
    screening.refresh_from_db()
    assert screening.reviewed_at is None


def test_screening_review_unblocks_planning(consultant_client, consultant):
    appointment = AppointmentFactory(status=Appointment.Status.COMPLETED)
    screening = ScreeningFactory(patient=appointment.patient, past_dvt_or_pe=True)

    refused = consultant_client.post(plan_url(appointment), plan_data())
    assert refused.status_code == 400
    assert not Course.objects.exists()

    review = consultant_client.post(
        screening_url(appointment.patient_id), {"notes": "DVT in 2009, fully treated. Go ahead."}
    )
    assert review.status_code == 302
    assert review["Location"] == screening_url(appointment.patient_id)
    screening.refresh_from_db()
    assert screening.reviewed_by == consultant
    assert screening.review_notes == "DVT in 2009, fully treated. Go ahead."

    page = consultant_client.get(review["Location"]).content.decode()
    assert "the screening is reviewed" in page
    assert 'data-testid="review-done"' in page
    assert plan_url(appointment) in page  # back to the consultation waiting for a plan

    planned = consultant_client.post(plan_url(appointment), plan_data())
    assert planned.status_code == 302
    assert Course.objects.get().patient == appointment.patient


def test_screening_page_query_count(consultant_client, django_assert_max_num_queries):
    appointment = AppointmentFactory(status=Appointment.Status.COMPLETED)
    screening = ScreeningFactory(patient=appointment.patient, clotting_disorder=True)
    # A first look writes the access-log row; measure repeat looks (one query).
    consultant_client.get(screening_url(screening.patient_id))
    with django_assert_max_num_queries(6):
        response = consultant_client.get(screening_url(screening.patient_id))
    assert response.status_code == 200


def test_plan_page_query_count(consultant_client, consultation, django_assert_max_num_queries):
    # A first look writes the access-log row; measure repeat looks (one query).
    consultant_client.get(plan_url(consultation))
    with django_assert_max_num_queries(9):
        response = consultant_client.get(plan_url(consultation))
    assert response.status_code == 200


def test_desk_shows_sessions_done_of_planned(
    consultant_client, course, schedule, nurse, sign_consent
):
    sign_consent(course)
    session = schedule(course, local(2026, 1, 5))
    services.session_confirm_consent(session=session, nurse=nurse)
    services.session_start(session=session, by=nurse)
    services.session_record(session=session, by=nurse, discharge_walk_minutes=10)
    for leg in ("left", "right"):
        services.session_fit_stocking(
            session=session, by=nurse, leg=leg, compression_class="2", length="knee"
        )
    services.session_complete(session=session, by=nurse)
    schedule(course, local(2026, 2, 2))  # booked, not done: not counted
    html = consultant_client.get(reverse("treatments:consultant_home")).content.decode()
    assert "1 of 3" in html


def test_review_shows_aftercare_flags(consultant_client, course):
    from aftercare.models import CourseFlag

    CourseFlag.objects.create(course=course, reason="Patient reported: a hot, painful leg")
    html = consultant_client.get(reverse("treatments:course_review", args=[course.pk])).content
    assert b"a hot, painful leg" in html
