"""The reminder outbox: rows with their cause, moved and cancelled with it, sent once."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aftercare import services
from aftercare.models import AftercarePlan, CourseFlag, Reminder, ReminderPreference
from aftercare.sms import outbox as sms_outbox
from bookings.services import appointment_book, appointment_cancel, appointment_reschedule
from clinic.errors import DomainError
from treatments import services as treatment_services
from treatments.models import Legs

from ..factories import PatientFactory, local, treatment

pytestmark = pytest.mark.django_db

Kind = Reminder.Kind
NOW = local(2026, 5, 4, 8)


@pytest.fixture(autouse=True)
def consent_forms_in_force_early():
    """These tests travel back to 2026: the seeded consent forms must be in force then."""
    from treatments.models import ConsentForm

    ConsentForm.objects.update(effective_from=local(2025, 1, 1))


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def book_consultation(patient, start):
    return appointment_book(
        patient=patient, treatment=treatment("initial-consultation"), start=start, minutes=30
    )


def kinds(appointment):
    return sorted(
        (r.kind, r.status, r.due_at)
        for r in Reminder.objects.filter(appointment=appointment).order_by("due_at")
    )


def test_booking_makes_confirmation_and_two_reminders(frozen, open_clinic, patient):
    appointment = book_consultation(patient, local(2026, 5, 8, 10))
    rows = {r.kind: r for r in Reminder.objects.filter(appointment=appointment)}
    assert set(rows) == {
        Kind.APPOINTMENT_CONFIRMATION,
        Kind.APPOINTMENT_REMINDER_48H,
        Kind.APPOINTMENT_REMINDER_2H,
    }
    assert rows[Kind.APPOINTMENT_REMINDER_48H].due_at == local(2026, 5, 6, 10)
    assert rows[Kind.APPOINTMENT_REMINDER_2H].due_at == local(2026, 5, 8, 8)


def test_reminders_48h_and_2h_are_right_across_the_clock_change(open_clinic, patient):
    with time_machine.travel(local(2026, 3, 25, 8), tick=False):
        # Monday 30 March 10:00 BST; 48 h before is Saturday 28 March 09:00 GMT (10:00 local
        # would be wrong: the clocks went forward in between).
        from clinic.models import OpeningHours

        appointment = book_consultation(patient, local(2026, 3, 30, 10))
    rows = {r.kind: r for r in Reminder.objects.filter(appointment=appointment)}
    assert rows[Kind.APPOINTMENT_REMINDER_48H].due_at == appointment.start - timedelta(hours=48)
    assert rows[Kind.APPOINTMENT_REMINDER_48H].due_at == local(2026, 3, 28, 9)
    assert OpeningHours.objects.exists()


def test_reschedule_moves_pending_reminders_and_cancel_cancels_them(frozen, open_clinic, patient):
    appointment = book_consultation(patient, local(2026, 5, 8, 10))
    appointment_reschedule(appointment=appointment, start=local(2026, 5, 12, 14))
    pending = {
        r.kind: r.due_at for r in Reminder.objects.filter(appointment=appointment, status="pending")
    }
    assert pending[Kind.APPOINTMENT_REMINDER_48H] == local(2026, 5, 10, 14)
    assert pending[Kind.APPOINTMENT_REMINDER_2H] == local(2026, 5, 12, 12)
    appointment_cancel(appointment=appointment)
    assert not Reminder.objects.filter(appointment=appointment, status="pending").exists()


def test_the_same_send_delivered_three_times_sends_one_message(frozen, open_clinic, patient):
    appointment = book_consultation(patient, local(2026, 5, 8, 10))
    confirmation = Reminder.objects.get(appointment=appointment, kind=Kind.APPOINTMENT_CONFIRMATION)
    assert services.reminders_claim_due() == [confirmation.pk]
    for _ in range(3):
        services.reminder_send(reminder_id=confirmation.pk)
    assert len(mail.outbox) == 1
    confirmation.refresh_from_db()
    assert confirmation.status == "sent"
    assert confirmation.attempts == 1
    assert "Booked" in mail.outbox[0].subject


def test_a_cancelled_appointment_sends_no_reminder_even_if_claimed(frozen, open_clinic, patient):
    appointment = book_consultation(patient, local(2026, 5, 8, 10))
    reminder = Reminder.objects.get(appointment=appointment, kind=Kind.APPOINTMENT_REMINDER_48H)
    Reminder.objects.filter(pk=reminder.pk).update(status="sending")
    appointment_cancel(appointment=appointment)
    services.reminder_send(reminder_id=reminder.pk)
    assert mail.outbox == []


def test_claimed_but_never_sent_rows_are_claimed_again(frozen, open_clinic, patient):
    book_consultation(patient, local(2026, 5, 8, 10))
    first = services.reminders_claim_due()
    assert len(first) == 1
    assert services.reminders_claim_due() == []  # already claimed
    frozen.shift(timedelta(minutes=11))  # the hand-over was lost (broker down)
    assert services.reminders_claim_due() == first


def test_sms_waits_for_the_end_of_quiet_hours(open_clinic):
    patient = PatientFactory(phone="07700 900123")
    with time_machine.travel(local(2026, 5, 4, 8), tick=False):
        services.preference_for(patient)
        preference = patient.reminder_preference
        preference.sms_kinds = [Kind.APPOINTMENT_CONFIRMATION]
        preference.save()
    with time_machine.travel(local(2026, 5, 4, 22, 30), tick=False):
        appointment = appointment_book(
            patient=patient,
            treatment=treatment("initial-consultation"),
            start=local(2026, 5, 7, 10),
            minutes=30,
        )
        sms = Reminder.objects.get(appointment=appointment, channel="sms")
        services.reminders_claim_due()
        assert services.reminder_send(reminder_id=sms.pk) == "pending"
        sms.refresh_from_db()
        assert sms.due_at == local(2026, 5, 5, 8)
        assert sms_outbox == [] or all("07700" not in to for to, _ in sms_outbox)


def test_unsubscribe_stops_that_kind_only(frozen, open_clinic, patient):
    appointment = book_consultation(patient, local(2026, 5, 8, 10))
    services.reminder_unsubscribe(patient=patient, kind=Kind.APPOINTMENT_REMINDER_2H)
    statuses = {r.kind: r.status for r in Reminder.objects.filter(appointment=appointment)}
    assert statuses[Kind.APPOINTMENT_REMINDER_2H] == "cancelled"
    assert statuses[Kind.APPOINTMENT_REMINDER_48H] == "pending"


# --- aftercare plans -------------------------------------------------------------------------


def complete_session(course, schedule, nurse, sign_consent, start):
    sign_consent(course)
    session = schedule(course, start)
    treatment_services.session_confirm_consent(session=session, nurse=nurse)
    treatment_services.session_start(session=session, by=nurse)
    treatment_services.session_record(session=session, by=nurse, discharge_walk_minutes=10)
    for leg in Legs.sides(session.legs_treated):
        treatment_services.session_fit_stocking(
            session=session, by=nurse, leg=leg, compression_class="2", length="thigh"
        )
    return treatment_services.session_complete(session=session, by=nurse)


def test_completing_a_session_makes_the_aftercare_plan(course, schedule, nurse, sign_consent):
    with time_machine.travel(local(2026, 5, 4, 12), tick=False):
        session = complete_session(course, schedule, nurse, sign_consent, local(2026, 5, 4, 10))
    plan = AftercarePlan.objects.get(session=session)
    assert plan.starts_on == date(2026, 5, 4)
    assert plan.stockings_until == date(2026, 5, 10)  # day 7
    assert plan.stocking_legs == ["left", "right"]
    assert plan.walk_until == date(2026, 5, 31)  # until the next window opens (28 days)
    walks = Reminder.objects.filter(plan=plan, kind=Kind.DAILY_WALK).order_by("due_at")
    assert walks.count() == 27  # day 2 to day 28
    assert walks[0].due_at == local(2026, 5, 5, 9)
    off = Reminder.objects.get(plan=plan, kind=Kind.STOCKINGS_OFF)
    assert off.due_at == local(2026, 5, 10, 18)
    opens = Reminder.objects.get(plan=plan, kind=Kind.WINDOW_OPENS)
    assert opens.due_at == local(2026, 6, 1, 9)


def preference_reads(queries: CaptureQueriesContext) -> int:
    return sum(
        1
        for query in queries.captured_queries
        if query["sql"].lstrip().startswith("SELECT")
        and "aftercare_reminderpreference" in query["sql"]
    )


def test_the_reminder_preference_is_read_once_per_plan_not_per_reminder(
    course, schedule, nurse, sign_consent
):
    """Completing a session makes about 30 reminders (a walk for every day until the next
    window): the patient's preference is read once for all of them."""
    with (
        time_machine.travel(local(2026, 5, 4, 12), tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        session = complete_session(course, schedule, nurse, sign_consent, local(2026, 5, 4, 10))
    assert Reminder.objects.filter(plan__session=session).count() > 20
    assert preference_reads(queries) <= 2  # the plan's, and the session booking's


def test_a_plans_reminders_go_in_at_once_not_one_query_each(course, schedule, nurse, sign_consent):
    """About 30 reminders with their own days, in one insert (reminders made one at a
    time were a query each; django-zeal flagged the repeated reads)."""
    with (
        time_machine.travel(local(2026, 5, 4, 12), tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        session = complete_session(course, schedule, nurse, sign_consent, local(2026, 5, 4, 10))
    plan_reminders = Reminder.objects.filter(plan__session=session)
    assert plan_reminders.count() > 20
    reminder_queries = [
        q["sql"] for q in queries.captured_queries if '"aftercare_reminder"' in q["sql"]
    ]
    # The session's booking confirmation (one insert) and the plan's (one insert).
    assert len(reminder_queries) <= 3, reminder_queries
    walks = plan_reminders.filter(kind=Kind.DAILY_WALK).order_by("day")
    assert [r.day for r in walks] == sorted({r.day for r in walks})
    assert all(r.due_at == local(r.day.year, r.day.month, r.day.day, 9) for r in walks)


def test_the_reminder_preference_is_read_once_per_booking(frozen, open_clinic, patient):
    with CaptureQueriesContext(connection) as queries:
        appointment = book_consultation(patient, local(2026, 5, 8, 10))
    assert Reminder.objects.filter(appointment=appointment).count() == 3
    assert preference_reads(queries) == 1


@pytest.mark.parametrize(
    ("session_day", "walk_day"),
    [
        (date(2026, 3, 26), date(2026, 3, 28)),  # the day before the spring change
        (date(2026, 3, 26), date(2026, 3, 30)),  # the day after
        (date(2026, 10, 22), date(2026, 10, 24)),  # the day before the autumn change
        (date(2026, 10, 22), date(2026, 10, 26)),  # the day after
    ],
)
def test_walk_reminders_stay_at_nine_local_across_the_clock_changes(
    course, schedule, nurse, sign_consent, session_day, walk_day
):
    start = local(session_day.year, session_day.month, session_day.day, 10)
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        session = complete_session(course, schedule, nurse, sign_consent, start)
    reminder = Reminder.objects.get(plan__session=session, kind=Kind.DAILY_WALK, day=walk_day)
    local_due = reminder.due_at.astimezone(local(2026, 1, 1).tzinfo)
    assert local_due.time() == time(9, 0)
    assert local_due.date() == walk_day


def test_ticking_the_walk_skips_todays_reminder(course, schedule, nurse, sign_consent):
    with time_machine.travel(local(2026, 5, 4, 12), tick=False):
        session = complete_session(course, schedule, nurse, sign_consent, local(2026, 5, 4, 10))
    with time_machine.travel(local(2026, 5, 5, 8), tick=False):
        services.check_in_record(patient=course.patient, day=date(2026, 5, 5), walked=True)
    reminder = Reminder.objects.get(
        plan__session=session, kind=Kind.DAILY_WALK, day=date(2026, 5, 5)
    )
    assert reminder.status == "cancelled"


def test_a_warning_symptom_flags_the_course(course, schedule, nurse, sign_consent):
    with time_machine.travel(local(2026, 5, 4, 12), tick=False):
        complete_session(course, schedule, nurse, sign_consent, local(2026, 5, 4, 10))
    with time_machine.travel(local(2026, 5, 6, 12), tick=False):
        services.check_in_record(
            patient=course.patient, day=date(2026, 5, 6), warning_symptoms=["hot_painful_leg"]
        )
        with pytest.raises(DomainError, match="today or earlier"):
            services.check_in_record(patient=course.patient, day=date(2026, 5, 7), walked=True)
    flag = CourseFlag.objects.get(course=course)
    assert "hot, painful" in flag.reason


def test_check_in_links_are_bound_to_patient_day_and_action(course, schedule, nurse, sign_consent):
    token = services.check_in_token(
        patient_id=course.patient.pk, day=date(2026, 5, 5), action="walked"
    )
    data = services.check_in_token_read(token)
    assert data == {"p": course.patient.pk, "d": "2026-05-05", "a": "walked"}
    with pytest.raises(DomainError, match="not valid"):
        services.check_in_token_read(token[:-2] + "xx")
    with (
        time_machine.travel(local(2026, 5, 9, 12), tick=False),
        pytest.raises(DomainError, match="expired"),
    ):
        services.check_in_token_read(
            services.check_in_token(patient_id=1, day=date(2026, 5, 5), action="walked"),
            max_age=timedelta(seconds=-1),
        )


def test_a_session_reminder_links_to_an_unsigned_consent(frozen, open_clinic, course, consultant):
    course.consultant = consultant
    course.save()
    appointment = appointment_book(
        patient=course.patient, treatment=course.treatment, start=local(2026, 5, 8, 10), minutes=30
    )
    reminder = Reminder.objects.get(appointment=appointment, kind=Kind.APPOINTMENT_REMINDER_48H)
    frozen.move_to(local(2026, 5, 6, 10, 1))
    services.reminders_claim_due()
    services.reminder_send(reminder_id=reminder.pk)
    body = mail.outbox[-1].body
    assert f"/my/courses/{course.pk}/consent/" in body


def test_no_consent_link_once_signed(frozen, open_clinic, course, consultant, sign_consent):
    course.consultant = consultant
    course.save()
    sign_consent(course)
    appointment = appointment_book(
        patient=course.patient, treatment=course.treatment, start=local(2026, 5, 8, 10), minutes=30
    )
    reminder = Reminder.objects.get(appointment=appointment, kind=Kind.APPOINTMENT_REMINDER_48H)
    frozen.move_to(local(2026, 5, 6, 10, 1))
    services.reminders_claim_due()
    services.reminder_send(reminder_id=reminder.pk)
    assert "/consent/" not in mail.outbox[-1].body


@pytest.mark.parametrize(
    ("session_day", "walk_day"),
    [
        (date(2026, 3, 26), date(2026, 3, 28)),
        (date(2026, 3, 26), date(2026, 3, 30)),
        (date(2026, 10, 22), date(2026, 10, 24)),
        (date(2026, 10, 22), date(2026, 10, 26)),
    ],
)
def test_the_walk_reminder_goes_out_at_nine_local_not_before(
    course, schedule, nurse, sign_consent, session_day, walk_day
):
    start = local(session_day.year, session_day.month, session_day.day, 10)
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        complete_session(course, schedule, nurse, sign_consent, start)
    walk = Reminder.objects.get(kind=Kind.DAILY_WALK, day=walk_day)
    with time_machine.travel(local(walk_day.year, walk_day.month, walk_day.day, 8, 59), tick=False):
        assert walk.pk not in services.reminders_claim_due(limit=1000)
    with time_machine.travel(local(walk_day.year, walk_day.month, walk_day.day, 9, 0), tick=False):
        assert walk.pk in services.reminders_claim_due(limit=1000)
        assert services.reminder_send(reminder_id=walk.pk) == "sent"
    assert "walk" in mail.outbox[-1].subject.lower()


def test_a_bookings_reminders_are_made_in_one_insert_and_only_once(frozen, open_clinic, patient):
    """Made in one statement, not one query per reminder and channel; a second run (a
    retried request, a reschedule back to the same time) adds nothing."""
    from aftercare.services import reminders_for_appointment

    ReminderPreference.objects.update_or_create(
        patient=patient,
        defaults={"sms_kinds": [Kind.APPOINTMENT_REMINDER_48H, Kind.APPOINTMENT_REMINDER_2H]},
    )
    patient.phone = "07700 900123"
    patient.save(update_fields=["phone"])
    with CaptureQueriesContext(connection) as queries:
        appointment = book_consultation(patient, local(2026, 5, 8, 10))
    made = Reminder.objects.filter(appointment=appointment)
    assert made.count() == 5  # confirmation by email; 48 h and 2 h by email and SMS
    inserts = [
        q
        for q in queries.captured_queries
        if q["sql"].startswith("INSERT") and 'INTO "aftercare_reminder" (' in q["sql"]
    ]
    assert len(inserts) == 1
    reminders_for_appointment(appointment=appointment)
    assert Reminder.objects.filter(appointment=appointment).count() == 5
