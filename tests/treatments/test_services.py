"""The clinic's rules, each with a test that fails if the rule is removed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from bookings.models import Appointment
from clinic.errors import DomainError, PermissionRefused
from treatments import services
from treatments.models import (
    ConsentForm,
    Course,
    CourseExtension,
    Leg,
    Legs,
    SessionRecord,
    SignedConsent,
)

from ..factories import (
    AppointmentFactory,
    ConsultantFactory,
    CourseFactory,
    NurseFactory,
    PatientFactory,
    ScreeningFactory,
    local,
    treatment,
)

pytestmark = pytest.mark.django_db

S = SessionRecord.Status


# --- helpers ------------------------------------------------------------------------


def plan(consultation, consultant, **overrides):
    arguments = {
        "consultation": consultation,
        "consultant": consultant,
        "treatment": treatment("microsclerotherapy"),
        "planned_sessions": 3,
        "legs": Legs.BOTH,
        "treated_areas": ["left_calf_back_medial"],
    }
    arguments.update(overrides)
    return services.course_plan(**arguments)


@pytest.fixture
def consultation(consultant):
    patient = PatientFactory()
    ScreeningFactory(patient=patient)
    return AppointmentFactory(
        patient=patient, consultant=consultant, status=Appointment.Status.COMPLETED
    )


def start_session(session, nurse):
    services.session_confirm_consent(session=session, nurse=nurse)
    return services.session_start(session=session, by=nurse)


def discharge_ready(session, nurse, *, walk=10):
    services.session_record(
        session=session,
        by=nurse,
        concentration_percent="0.5",
        total_volume_ml="2.0",
        injections=12,
        discharge_walk_minutes=walk,
        discomfort=3,
    )
    for leg in Legs.sides(session.legs_treated):
        services.session_fit_stocking(
            session=session, by=nurse, leg=leg, compression_class="2", length="thigh"
        )


def run_session(course, schedule, nurse, start):
    session = schedule(course, start)
    start_session(session, nurse)
    discharge_ready(session, nurse)
    return services.session_complete(session=session, by=nurse)


# --- Rule 1: no course without a completed initial consultation ---------------------------


def test_rule1_a_course_is_planned_from_a_completed_consultation(consultation, consultant):
    course = plan(consultation, consultant)
    assert course.status == Course.Status.PLANNED
    assert course.min_gap_days == 28  # the treatment's default


@pytest.mark.parametrize(
    "status", [Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN, Appointment.Status.NO_SHOW]
)
def test_rule1_no_course_from_a_consultation_not_completed(consultation, consultant, status):
    Appointment.objects.filter(pk=consultation.pk).update(status=status)
    with pytest.raises(DomainError, match="consultation has not been completed"):
        plan(consultation, consultant)
    assert not Course.objects.exists()


def test_rule1_a_reassessment_is_not_a_consultation(consultation, consultant):
    reassessment = AppointmentFactory(
        patient=consultation.patient,
        treatment=treatment("reassessment"),
        consultant=consultant,
        status=Appointment.Status.COMPLETED,
    )
    with pytest.raises(DomainError, match="planned from a consultation"):
        plan(reassessment, consultant)


def test_only_a_consultant_plans(consultation):
    with pytest.raises(PermissionRefused):
        plan(consultation, NurseFactory())


# --- Rule 2: 2–4 planned sessions; more only after an extension -------------------------------


@pytest.mark.parametrize("sessions", [1, 5, 0])
def test_rule2_plan_outside_2_to_4_is_refused(consultation, consultant, sessions):
    with pytest.raises(DomainError, match="Plan between 2 and 4 sessions"):
        plan(consultation, consultant, planned_sessions=sessions)


@pytest.mark.parametrize("sessions", [2, 4])
def test_rule2_plan_at_the_edges_is_accepted(consultation, consultant, sessions):
    assert plan(consultation, consultant, planned_sessions=sessions).planned_sessions == sessions


def test_rule2_a_session_beyond_the_plan_is_refused_until_extended(schedule, nurse):
    course = CourseFactory(planned_sessions=2)
    schedule(course, local(2026, 1, 5))
    schedule(course, local(2026, 2, 2))
    with pytest.raises(DomainError, match="must extend the course") as refused:
        schedule(course, local(2026, 3, 2))
    assert refused.value.code == "beyond_plan"

    extension = services.course_extend(
        course=course,
        consultant=course.consultant,
        to_sessions=3,
        reason="Veins behind the left knee need one more session.",
    )
    assert (extension.from_sessions, extension.to_sessions) == (2, 3)
    assert schedule(course, local(2026, 3, 2)).number == 3


def test_rule2_an_extension_beyond_four_is_allowed_with_a_reason():
    course = CourseFactory(planned_sessions=4)
    services.course_extend(
        course=course, consultant=course.consultant, to_sessions=5, reason="Slow response."
    )
    course.refresh_from_db()
    assert course.planned_sessions == 5
    assert CourseExtension.objects.get(course=course).extended_by == course.consultant


@pytest.mark.parametrize(
    ("to", "reason", "message"),
    [(4, "  ", "reason"), (3, "Because.", "must plan more"), (2, "Because.", "must plan more")],
)
def test_rule2_extension_needs_a_reason_and_a_larger_plan(to, reason, message):
    course = CourseFactory(planned_sessions=3)
    with pytest.raises(DomainError, match=message):
        services.course_extend(
            course=course, consultant=course.consultant, to_sessions=to, reason=reason
        )
    course.refresh_from_db()
    assert course.planned_sessions == 3


def test_rule2_a_nurse_cannot_extend():
    course = CourseFactory()
    with pytest.raises(PermissionRefused):
        services.course_extend(course=course, consultant=NurseFactory(), to_sessions=4, reason="x")


# --- Rule 3: the minimum gap ------------------------------------------------------------------


def test_rule3_a_session_inside_the_gap_is_refused_naming_the_earliest_date(course, schedule):
    schedule(course, local(2026, 1, 5))
    with pytest.raises(DomainError, match="earliest allowed date is Monday 2 February 2026"):
        schedule(course, local(2026, 2, 1, 16))
    assert schedule(course, local(2026, 2, 2, 9)).number == 2


def test_rule3_the_course_gap_not_the_default_applies(schedule):
    course = CourseFactory(min_gap_days=42)
    schedule(course, local(2026, 1, 5))
    with pytest.raises(DomainError, match="earliest allowed date is Monday 16 February 2026"):
        schedule(course, local(2026, 2, 2))


def test_rule3_gap_counts_calendar_days_across_the_clock_change(schedule):
    # 2026-03-29 01:00 UTC the clocks go forward: 28 local days is 28*24-1 hours.
    course = CourseFactory()
    schedule(course, local(2026, 3, 10, 9))
    session = schedule(course, local(2026, 4, 7, 9))
    # 28 calendar days, but only 28 * 24 - 1 real hours: the clocks went forward between.
    assert session.appointment.start - local(2026, 3, 10, 9) == timedelta(days=28, hours=-1)
    assert services.local_date(session.appointment.start).isoformat() == "2026-04-07"


def test_rule3_a_moved_session_keeps_the_gap_to_the_one_after(course, schedule):
    first = schedule(course, local(2026, 1, 5))
    schedule(course, local(2026, 2, 2))
    with pytest.raises(DomainError, match="latest allowed date is Monday 5 January 2026"):
        services.session_reschedule(session=first, start=local(2026, 1, 6))
    with pytest.raises(DomainError, match="before session 2"):
        services.session_reschedule(session=first, start=local(2026, 1, 20))
    moved = services.session_reschedule(session=first, start=local(2026, 1, 5, 15))
    assert moved.appointment.start == local(2026, 1, 5, 15)


def test_rule3_an_abandoned_session_does_not_hold_the_gap(course, schedule, nurse):
    first = schedule(course, local(2026, 1, 5))
    services.session_abandon(session=first, by=nurse, reason="Patient unwell on the day.")
    again = schedule(course, local(2026, 1, 12))
    assert again.number == 1


# --- Rule 4: consent before the procedure --------------------------------------------------------


def test_rule4_no_start_without_consent(course, schedule, nurse):
    session = schedule(course, local(2026, 1, 5))
    with pytest.raises(DomainError, match="has not signed the consent form"):
        services.session_confirm_consent(session=session, nurse=nurse)
    session.refresh_from_db()
    assert session.status == S.SCHEDULED


def test_rule4_consent_is_checked_again_at_the_start(course, schedule, nurse, sign_consent):
    session = schedule(course, local(2026, 1, 5))
    consent = sign_consent(course)
    services.session_confirm_consent(session=session, nurse=nurse)
    services.consent_withdraw(consent=consent, reason="Changed my mind.")
    with pytest.raises(DomainError, match="has not signed"):
        services.session_start(session=session, by=nurse)
    session.refresh_from_db()
    assert session.status == S.CONSENT_CONFIRMED


def new_version(treatment_obj, *, effective_days_ago=1):
    current = services.consent_current_form(treatment_obj)
    draft = services.consent_form_new_version(
        treatment=treatment_obj,
        title=current.title,
        body=current.body + "\n\nA new paragraph about bruising.",
        risks=current.risks,
        statements=current.statements,
        effective_from=timezone.now() - timedelta(days=effective_days_ago),
    )
    return services.consent_form_publish(form=draft)


def test_rule4_a_new_form_version_requires_signing_again(course, schedule, nurse, sign_consent):
    session = schedule(course, local(2026, 1, 5))
    sign_consent(course)
    services.session_confirm_consent(session=session, nurse=nurse)
    v2 = new_version(course.treatment)
    assert v2.version == 2
    with pytest.raises(DomainError, match="now version 2") as refused:
        services.session_start(session=session, by=nurse)
    assert refused.value.code == "consent"
    sign_consent(course)  # signs version 2
    assert services.session_start(session=session, by=nurse).status == S.IN_PROGRESS


def test_rule4_a_version_not_yet_in_effect_is_not_current(course):
    future = new_version(course.treatment, effective_days_ago=-7)
    assert services.consent_current_form(course.treatment).version == 1
    assert future.version == 2


# --- Rule 5: a consultant and a nurse ------------------------------------------------------------


def test_rule5_no_start_without_a_nurse(course, schedule, nurse, sign_consent):
    session = schedule(course, local(2026, 1, 5))
    sign_consent(course)
    services.session_confirm_consent(session=session, nurse=nurse)
    SessionRecord.objects.filter(pk=session.pk).update(nurse=None)
    with pytest.raises(DomainError, match="Record a nurse"):
        services.session_start(session=session, by=nurse)


def test_rule5_the_nurse_must_be_a_nurse(course, schedule, nurse, sign_consent):
    session = schedule(course, local(2026, 1, 5))
    sign_consent(course)
    services.session_confirm_consent(session=session, nurse=nurse)
    SessionRecord.objects.filter(pk=session.pk).update(nurse=ConsultantFactory())
    with pytest.raises(DomainError, match="must be a nurse"):
        services.session_start(session=session, by=nurse)


def test_rule5_the_database_refuses_a_started_session_without_a_team(course, schedule, nurse):
    session = schedule(course, local(2026, 1, 5))
    with pytest.raises(IntegrityError):
        SessionRecord.objects.filter(pk=session.pk).update(status=S.IN_PROGRESS, nurse=None)


# --- Rule 6: stockings and the walk before discharge ---------------------------------------------


@pytest.fixture
def started(course, schedule, nurse, sign_consent):
    session = schedule(course, local(2026, 1, 5))
    sign_consent(course)
    return start_session(session, nurse)


def test_rule6_no_completion_without_a_stocking_on_each_treated_leg(started, nurse):
    services.session_record(session=started, by=nurse, discharge_walk_minutes=15)
    services.session_fit_stocking(
        session=started, by=nurse, leg=Leg.LEFT, compression_class="2", length="knee"
    )
    with pytest.raises(DomainError, match="right leg") as refused:
        services.session_complete(session=started, by=nurse)
    assert refused.value.code == "stockings"
    started.refresh_from_db()
    assert started.status == S.IN_PROGRESS


def test_rule6_no_completion_before_the_ten_minute_walk(started, nurse):
    discharge_ready(started, nurse, walk=9)
    with pytest.raises(DomainError, match="at least 10 minutes") as refused:
        services.session_complete(session=started, by=nurse)
    assert refused.value.code == "walk"


def test_rule6_the_walk_minutes_come_from_the_treatment(started, nurse):
    started.course.treatment.__class__.objects.filter(pk=started.course.treatment_id).update(
        discharge_walk_minutes=15
    )
    discharge_ready(started, nurse, walk=12)
    with pytest.raises(DomainError, match="at least 15 minutes"):
        services.session_complete(session=started, by=nurse)


def test_rule6_a_stocking_on_an_untreated_leg_is_refused(course, schedule, nurse, sign_consent):
    course.legs = Legs.LEFT
    course.treated_areas = ["left_foot"]
    course.save()
    session = schedule(course, local(2026, 1, 5))
    sign_consent(course)
    start_session(session, nurse)
    with pytest.raises(DomainError, match="not being treated"):
        services.session_fit_stocking(
            session=session, by=nurse, leg=Leg.RIGHT, compression_class="1", length="knee"
        )


def test_rule6_completion_with_everything_recorded(started, nurse):
    discharge_ready(started, nurse)
    done = services.session_complete(session=started, by=nurse)
    assert done.status == S.COMPLETED
    assert done.appointment.status == Appointment.Status.COMPLETED
    assert done.course.status == Course.Status.ACTIVE


# --- Rule 7: the course completes when the plan is reached ---------------------------------------


def test_rule7_the_last_planned_session_completes_the_course(schedule, nurse, sign_consent):
    course = CourseFactory(planned_sessions=2)
    sign_consent(course)
    run_session(course, schedule, nurse, local(2026, 1, 5))
    course.refresh_from_db()
    assert course.status == Course.Status.ACTIVE
    run_session(course, schedule, nurse, local(2026, 2, 2))
    course.refresh_from_db()
    assert course.status == Course.Status.COMPLETED
    assert course.closed_at is not None


@pytest.mark.parametrize("status", [Course.Status.COMPLETED, Course.Status.DISCONTINUED])
def test_rule7_a_consultant_closes_a_course_with_a_reason(status):
    course = CourseFactory()
    closed = services.course_close(
        course=course, consultant=course.consultant, status=status, reason="Patient is happy."
    )
    assert closed.status == status
    assert closed.status_reason == "Patient is happy."


def test_rule7_closing_needs_a_reason_and_a_consultant():
    course = CourseFactory()
    with pytest.raises(DomainError, match="reason"):
        services.course_close(
            course=course, consultant=course.consultant, status="completed", reason=""
        )
    with pytest.raises(PermissionRefused):
        services.course_close(
            course=course, consultant=NurseFactory(), status="completed", reason="x"
        )


def test_rule7_a_closed_course_takes_no_more_sessions(schedule):
    course = CourseFactory()
    services.course_close(
        course=course, consultant=course.consultant, status="discontinued", reason="Moved away."
    )
    with pytest.raises(DomainError, match="discontinued"):
        schedule(course, local(2026, 1, 5))
    with pytest.raises(DomainError, match="cannot become completed"):
        services.course_close(
            course=course, consultant=course.consultant, status="completed", reason="x"
        )


# --- Rule 8: screening flags block planning until reviewed --------------------------------------


def test_rule8_a_flagged_screening_blocks_planning_until_reviewed(consultation, consultant):
    from patients.services import screening_review, screening_submit

    screening = screening_submit(
        patient=consultation.patient, answers={"takes_anticoagulants": True}
    )
    with pytest.raises(DomainError, match="need a consultant's review"):
        plan(consultation, consultant)
    screening_review(screening=screening, consultant=consultant, notes="Warfarin stopped.")
    assert plan(consultation, consultant).pk


def test_rule8_no_screening_on_file_blocks_planning(consultant):
    consultation = AppointmentFactory(consultant=consultant, status=Appointment.Status.COMPLETED)
    with pytest.raises(DomainError, match="screening questionnaire"):
        plan(consultation, consultant)


# --- consent signing --------------------------------------------------------------------------


def test_consent_stores_the_exact_text_and_its_hash(course, sign_consent):
    consent = sign_consent(course)
    form = consent.form
    assert consent.signed_text == form.full_text()
    assert consent.text_hash == form.text_hash()
    assert len(consent.text_hash) == 64
    assert form.body in consent.signed_text


@pytest.mark.parametrize("name", ["Someone Else", "", "   "])
def test_consent_needs_the_patients_own_name(course, name):
    form = services.consent_current_form(course.treatment)
    with pytest.raises(DomainError, match="Type your full name"):
        services.consent_sign(
            course=course,
            form=form,
            typed_name=name,
            statements_accepted=form.statements,
            method=SignedConsent.Method.ONLINE,
        )


def test_consent_name_ignores_case_and_spacing(course):
    form = services.consent_current_form(course.treatment)
    typed = "  " + course.patient.full_name.upper().replace(" ", "   ") + " "
    consent = services.consent_sign(
        course=course,
        form=form,
        typed_name=typed,
        statements_accepted=form.statements,
        method=SignedConsent.Method.ONLINE,
    )
    assert consent.pk


def test_consent_needs_every_statement(course):
    form = services.consent_current_form(course.treatment)
    with pytest.raises(DomainError, match="Tick every statement"):
        services.consent_sign(
            course=course,
            form=form,
            typed_name=course.patient.full_name,
            statements_accepted=form.statements[:-1],
            method=SignedConsent.Method.ONLINE,
        )


def test_consent_in_clinic_is_witnessed_by_clinical_staff(course, nurse):
    form = services.consent_current_form(course.treatment)
    arguments = {
        "course": course,
        "form": form,
        "typed_name": course.patient.full_name,
        "statements_accepted": form.statements,
        "method": SignedConsent.Method.IN_CLINIC,
    }
    with pytest.raises(PermissionRefused):
        services.consent_sign(**arguments, witnessed_by=None)
    consent = services.consent_sign(**arguments, witnessed_by=nurse)
    assert consent.witnessed_by == nurse


def test_consent_cannot_be_signed_twice_or_on_an_old_version(course, sign_consent):
    sign_consent(course)
    with pytest.raises(DomainError, match="already signed"):
        sign_consent(course)
    old = services.consent_current_form(course.treatment)
    new_version(course.treatment)
    with pytest.raises(DomainError, match="not the current consent form"):
        services.consent_sign(
            course=course,
            form=old,
            typed_name=course.patient.full_name,
            statements_accepted=old.statements,
            method=SignedConsent.Method.ONLINE,
        )


def test_published_form_is_not_published_twice_and_drafts_need_content(microsclerotherapy):
    current = services.consent_current_form(microsclerotherapy)
    with pytest.raises(DomainError, match="already published"):
        services.consent_form_publish(form=current)
    empty = services.consent_form_new_version(
        treatment=microsclerotherapy, title="Draft", body="", effective_from=timezone.now()
    )
    with pytest.raises(DomainError, match="needs its text"):
        services.consent_form_publish(form=empty)
    assert ConsentForm.objects.get(pk=empty.pk).published_at is None


def test_withdrawal_keeps_the_record(course, sign_consent):
    consent = sign_consent(course)
    with pytest.raises(DomainError, match="reason"):
        services.consent_withdraw(consent=consent, reason=" ")
    services.consent_withdraw(consent=consent, reason="No longer wish to go ahead.")
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    assert SignedConsent.objects.filter(pk=consent.pk).exists()


# --- lifecycle and history ------------------------------------------------------------------------


def test_session_transitions_follow_the_map(started, nurse):
    with pytest.raises(DomainError, match="cannot become consent confirmed"):
        services.session_confirm_consent(session=started, nurse=nurse)
    discharge_ready(started, nurse)
    services.session_complete(session=started, by=nurse)
    with pytest.raises(DomainError, match="cannot become abandoned"):
        services.session_abandon(session=started, by=nurse, reason="Too late.")


def test_a_completed_session_record_cannot_be_changed(started, nurse):
    discharge_ready(started, nurse)
    services.session_complete(session=started, by=nurse)
    with pytest.raises(DomainError, match="can no longer change"):
        services.session_record(session=started, by=nurse, notes="Edited later")


def test_every_change_to_a_session_record_is_kept_in_history(started, nurse):
    services.session_record(session=started, by=nurse, discomfort=2)
    services.session_record(session=started, by=nurse, discomfort=4)
    discomforts = [h.discomfort for h in started.history.order_by("history_date")]
    assert discomforts[-2:] == [2, 4]
    statuses = [h.status for h in started.history.order_by("history_date")]
    assert statuses[:3] == [S.SCHEDULED, S.CONSENT_CONFIRMED, S.IN_PROGRESS]


def test_course_changes_are_kept_in_history():
    course = CourseFactory()
    services.course_extend(course=course, consultant=course.consultant, to_sessions=4, reason="r")
    services.course_close(
        course=course, consultant=course.consultant, status="discontinued", reason="Moved."
    )
    history = list(
        course.history.order_by("history_date").values_list("planned_sessions", "status")
    )
    assert history == [(3, "planned"), (4, "planned"), (4, "discontinued")]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("discomfort", 11, "0–10"),
        ("concentration_percent", "5.0", "0.05–3"),
        ("total_volume_ml", "0", "0.01–20"),
        ("injections", 501, "0–500"),
        ("treated_areas", ["left_moon"], "Unknown leg-map zone"),
        ("treated_areas", "left_foot", "must be a list"),
    ],
)
def test_session_record_refuses_impossible_values(started, nurse, field, value, message):
    with pytest.raises(DomainError, match=message):
        services.session_record(session=started, by=nurse, **{field: value})
    started.refresh_from_db()
    assert started.discomfort is None


def test_session_record_refuses_fields_it_does_not_own(started, nurse):
    with pytest.raises(DomainError, match="cannot be recorded here"):
        services.session_record(session=started, by=nurse, status="completed")


def test_adverse_events_need_an_action(started, nurse):
    with pytest.raises(DomainError, match="action"):
        services.session_add_adverse_event(
            session=started, by=nurse, kind="faint", severity="mild", action_taken=""
        )
    event = services.session_add_adverse_event(
        session=started, by=nurse, kind="faint", severity="mild", action_taken="Lay flat, water."
    )
    assert event.recorded_by == nurse
