"""The aftercare pages: the patient's "today" (also on /my/), ticks and side effects, the
one-tap check-in link, reminder preferences, the nurses' list with flags, and the admin."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
import time_machine
from django.contrib import admin
from django.urls import reverse

from aftercare import services
from aftercare.admin import ReminderAdmin
from aftercare.models import AftercarePlan, CheckIn, CourseFlag, Reminder
from treatments import services as treatment_services
from treatments.models import Legs

from ..factories import (
    ClinicAdminFactory,
    ConsultantFactory,
    CourseFactory,
    NurseFactory,
    PatientFactory,
    local,
)

pytestmark = pytest.mark.django_db

Kind = Reminder.Kind
SESSION_DAY = date(2026, 5, 4)  # a Monday: day 1 of the plan
DAY2 = date(2026, 5, 5)
DAY3 = date(2026, 5, 6)
DAY3_NOON = local(2026, 5, 6, 12)


@pytest.fixture(autouse=True)
def consent_forms_in_force_early():
    """These tests travel back to 2026: the seeded consent forms must be in force then."""
    from treatments.models import ConsentForm

    ConsentForm.objects.update(effective_from=local(2025, 1, 1))


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


@pytest.fixture
def plan(course, schedule, nurse, sign_consent) -> AftercarePlan:
    """The course's session 1 completed on Monday 4 May 2026 at 10:00: the plan runs from
    then (stockings to day 7, 10 May; walks to day 28)."""
    with time_machine.travel(local(2026, 5, 4, 12), tick=False):
        session = complete_session(course, schedule, nurse, sign_consent, local(2026, 5, 4, 10))
    return AftercarePlan.objects.get(session=session)


@pytest.fixture
def day3(plan):
    """Wednesday 6 May 2026 at noon: day 3 of the plan."""
    with time_machine.travel(DAY3_NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def me(client, plan, day3):
    """The plan's patient, logged in on day 3."""
    client.force_login(plan.patient.user)
    return client


def html(response) -> str:
    return response.content.decode()


def tick(client, what="walked", **extra):
    return client.post(reverse("aftercare:tick"), {"what": what, **extra})


# --- who may open what ------------------------------------------------------------------

PATIENT_PAGES = [
    ("get", "aftercare:today"),
    ("get", "aftercare:preferences"),
    ("post", "aftercare:tick"),
    ("post", "aftercare:side_effects"),
    ("post", "aftercare:preferences_sms"),
    ("post", "aftercare:resubscribe"),
]


def _login_as(client, who):
    factories = {
        "nurse": NurseFactory,
        "consultant": ConsultantFactory,
        "clinic_admin": ClinicAdminFactory,
    }
    if who == "patient":
        client.force_login(PatientFactory().user)
    elif who != "anonymous":
        client.force_login(factories[who]().user)


@pytest.mark.parametrize(("method", "name"), PATIENT_PAGES)
@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 302), ("nurse", 403), ("consultant", 403), ("clinic_admin", 403)],
)
def test_patient_pages_are_for_patients_only(client, method, name, who, status):
    _login_as(client, who)
    response = getattr(client, method)(reverse(name))
    assert response.status_code == status
    if status == 302:
        assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("anonymous", 302),
        ("patient", 403),
        ("clinic_admin", 403),
        ("nurse", 200),
        ("consultant", 200),
    ],
)
def test_the_nurses_list_is_for_nurses_and_consultants(client, who, status):
    _login_as(client, who)
    assert client.get(reverse("aftercare:staff_list")).status_code == status


@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 302), ("patient", 403), ("clinic_admin", 403), ("nurse", 302)],
)
def test_only_nurses_and_consultants_close_flags(client, plan, who, status):
    flag = CourseFlag.objects.create(course=plan.course, reason="Patient reported: hot leg")
    _login_as(client, who)
    response = client.post(
        reverse("aftercare:flag_resolve", args=[flag.pk]), {"resolution": "Called her."}
    )
    assert response.status_code == status
    flag.refresh_from_db()
    assert (flag.resolved_at is not None) == (who == "nurse")


@pytest.mark.parametrize(
    "name", ["aftercare:tick", "aftercare:side_effects", "aftercare:preferences_sms"]
)
def test_actions_refuse_get(me, name):
    assert me.get(reverse(name)).status_code == 405


def test_the_list_refuses_post(nurse_client):
    assert nurse_client.post(reverse("aftercare:staff_list")).status_code == 405


# --- "today" on the dashboard and its own page ---------------------------------------------


def test_the_dashboard_shows_day_3_of_7(me):
    response = me.get(reverse("patients:dashboard"))
    assert response.status_code == 200
    page = html(response)
    assert 'data-testid="aftercare-today"' in page
    assert "Day 3 of 7" in page
    assert "(both legs)" in page
    assert "No swimming" in page
    assert "I walked 20 minutes today" in page
    assert "My stockings are on today" in page
    # The buttons tick the day the page showed, even if pressed after midnight.
    assert 'name="day" value="2026-05-06"' in page


def test_no_block_when_no_plan_runs(patient_client):
    response = patient_client.get(reverse("patients:dashboard"))
    assert response.status_code == 200
    assert 'data-testid="aftercare-today"' not in html(response)
    page = html(patient_client.get(reverse("aftercare:today")))
    assert 'data-testid="no-plan"' in page


def test_no_block_once_the_plan_has_ended(client, plan):
    with time_machine.travel(local(2026, 6, 1, 12), tick=False):  # the day after day 28
        client.force_login(plan.patient.user)
        assert "aftercare-today" not in html(client.get(reverse("patients:dashboard")))


def test_after_day_7_the_stockings_are_off_but_the_walk_goes_on(client, plan):
    with time_machine.travel(local(2026, 5, 12, 12), tick=False):  # day 9
        client.force_login(plan.patient.user)
        page = html(client.get(reverse("aftercare:today")))
    assert "Day 9 since your session" in page
    assert "of 7" not in page
    assert "My stockings are on today" not in page
    assert "you can swim again" in page
    assert "I walked 20 minutes today" in page


def test_the_last_stocking_day_says_they_come_off_tonight(client, plan):
    with time_machine.travel(local(2026, 5, 10, 12), tick=False):
        client.force_login(plan.patient.user)
        page = html(client.get(reverse("aftercare:today")))
    assert "Day 7 of 7" in page
    assert "they can come off tonight" in page


def test_the_today_page_shows_instructions_symptoms_and_past_days(me, plan):
    AftercarePlan.objects.filter(pk=plan.pk).update(
        extra_instructions="Avoid hot baths <b>for a week</b>."
    )
    CheckIn.objects.create(plan=plan, day=SESSION_DAY, walked=True, stockings_on=True)
    CheckIn.objects.create(plan=plan, day=DAY2, walked=False, bruising=True, pain_score=3)
    page = html(me.get(reverse("aftercare:today")))
    assert "Avoid hot baths &lt;b&gt;for a week&lt;/b&gt;." in page
    for label in services.WARNING_SYMPTOMS.values():
        assert label in page
    assert page.count('data-testid="past-day"') == 2  # days 1 and 2; today is above
    assert 'data-day="2026-05-04"' in page
    assert "Bruising." in page and "Pain 3 of 10." in page
    assert "I did walk" in page  # day 2 was not walked: it can still be ticked


# --- ticks --------------------------------------------------------------------------------


def test_ticking_the_walk_from_the_dashboard(me, plan):
    response = tick(me, back="dashboard")
    assert response.status_code == 302
    assert response.url == reverse("patients:dashboard")
    check_in = CheckIn.objects.get(plan=plan, day=DAY3)
    assert check_in.walked is True
    assert check_in.stockings_on is None
    page = html(me.get(reverse("patients:dashboard")))
    assert 'data-testid="walk-done"' in page
    assert "I walked 20 minutes today" not in page
    # Today's walk reminder is no longer needed.
    reminder = Reminder.objects.get(plan=plan, kind=Kind.DAILY_WALK, day=DAY3)
    assert reminder.status == "cancelled"


def test_ticking_the_stockings_and_undoing_it(me, plan):
    assert tick(me, "stockings_on").url == reverse("aftercare:today")
    assert CheckIn.objects.get(plan=plan, day=DAY3).stockings_on is True
    assert 'data-testid="stockings-done"' in html(me.get(reverse("aftercare:today")))
    tick(me, "stockings_on", value="no")
    assert CheckIn.objects.get(plan=plan, day=DAY3).stockings_on is False


def test_an_earlier_day_can_be_ticked(me, plan):
    tick(me, day="2026-05-05")
    assert CheckIn.objects.get(plan=plan, day=DAY2).walked is True
    assert not CheckIn.objects.filter(plan=plan, day=DAY3).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"what": "walked", "day": "2026-02-30"}, "not a date we recognise"),
        ({"what": "walked", "day": "yesterday"}, "not a date we recognise"),
        ({"what": "walked", "day": "2026-05-07"}, "today or earlier"),
        ({"what": "walked", "day": "2026-05-01"}, "no aftercare plan running"),
        ({"what": "dance"}, "did not understand"),
        ({"what": "stockings_on", "day": "2026-05-11"}, "today or earlier"),
    ],
)
def test_bad_ticks_are_refused_and_save_nothing(me, plan, data, message):
    response = me.post(reverse("aftercare:tick"), data)
    assert response.status_code == 400
    assert message in html(response)
    assert not CheckIn.objects.exists()


def test_stockings_cannot_be_ticked_after_day_7(client, plan):
    with time_machine.travel(local(2026, 5, 12, 12), tick=False):
        client.force_login(plan.patient.user)
        response = tick(client, "stockings_on")
    assert response.status_code == 400
    assert "could already come off" in html(response)


def test_a_patient_without_a_plan_cannot_tick(patient_client):
    response = tick(patient_client)
    assert response.status_code == 400
    assert "no aftercare plan running" in html(response)
    assert not CheckIn.objects.exists()


def test_ticks_only_reach_the_patients_own_plan(client, plan, day3):
    other = PatientFactory()
    client.force_login(other.user)
    assert tick(client).status_code == 400
    assert not CheckIn.objects.filter(plan=plan).exists()


# --- side effects and warning symptoms -------------------------------------------------


def test_side_effects_are_saved(me, plan):
    response = me.post(
        reverse("aftercare:side_effects"),
        {"bruising": "on", "swelling": "on", "pain_score": "4", "notes": "<script>x</script>"},
    )
    assert response.status_code == 302
    check_in = CheckIn.objects.get(plan=plan, day=DAY3)
    assert (check_in.bruising, check_in.redness, check_in.swelling) == (True, False, True)
    assert check_in.pain_score == 4
    assert check_in.notes == "<script>x</script>"
    assert not CourseFlag.objects.exists()
    page = html(me.get(reverse("aftercare:today")))
    assert 'data-testid="urgent"' not in page
    assert "<script>x</script>" not in page


def test_a_warning_symptom_shows_what_to_do_and_flags_the_course(me, plan):
    location = plan.session.appointment.room.location
    location.phone = "0113 496 0000"
    location.save()
    response = me.post(reverse("aftercare:side_effects"), {"warning_symptoms": ["hot_painful_leg"]})
    assert response.status_code == 302
    assert response.url.endswith("#what-to-do-now")
    flag = CourseFlag.objects.get(course=plan.course)
    assert "hot, painful or swollen" in flag.reason
    assert flag.resolved_at is None
    page = html(me.get(reverse("aftercare:today")))
    assert 'data-testid="urgent"' in page
    assert "Call the clinic now on" in page
    assert 'href="tel:01134960000"' in page
    assert 'data-testid="call-999"' not in page
    # The dashboard shows it too.
    assert 'data-testid="urgent"' in html(me.get(reverse("patients:dashboard")))


def test_chest_pain_says_call_999(me, plan):
    me.post(reverse("aftercare:side_effects"), {"warning_symptoms": ["chest_pain_breathless"]})
    page = html(me.get(reverse("aftercare:today")))
    assert 'data-testid="call-999"' in page
    assert "call 999 now" in page
    assert CourseFlag.objects.filter(course=plan.course).count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"pain_score": "11"},
        {"pain_score": "-1"},
        {"pain_score": "99999999999999999999"},
        {"pain_score": "lots"},
        {"warning_symptoms": ["made_up"]},
        {"notes": "x" * 2001},
    ],
)
def test_bad_side_effects_are_refused(me, data):
    response = me.post(reverse("aftercare:side_effects"), data)
    assert response.status_code == 400
    assert not CheckIn.objects.exists()
    assert not CourseFlag.objects.exists()


def test_side_effects_without_a_plan_are_refused(patient_client):
    response = patient_client.post(reverse("aftercare:side_effects"), {"bruising": "on"})
    assert response.status_code == 400
    assert "no aftercare plan running" in html(response)


# --- the one-tap check-in link -------------------------------------------------------------


def link(patient, day, action="walked"):
    token = services.check_in_token(patient_id=patient.pk, day=day, action=action)
    return reverse("aftercare:check_in_link", args=[token])


def test_the_link_shows_a_button_and_ticks_nothing_until_pressed(client, plan, day3):
    url = link(plan.patient, DAY3)
    response = client.get(url)  # a mail scanner opening the link
    assert response.status_code == 200
    assert "I walked for at least 20 minutes on Wednesday 6 May" in html(response)
    assert not CheckIn.objects.exists()
    response = client.post(url)
    assert response.status_code == 200
    assert 'data-testid="check-in-done"' in html(response)
    assert CheckIn.objects.get(plan=plan, day=DAY3).walked is True


def test_a_stockings_link_ticks_the_stockings(client, plan, day3):
    client.post(link(plan.patient, DAY3, "stockings_on"))
    check_in = CheckIn.objects.get(plan=plan, day=DAY3)
    assert (check_in.stockings_on, check_in.walked) == (True, None)


def test_another_days_link_ticks_that_day_only(client, plan, day3):
    client.post(link(plan.patient, DAY2))
    assert CheckIn.objects.get(plan=plan, day=DAY2).walked is True
    assert not CheckIn.objects.filter(day=DAY3).exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_bad_links_are_refused(client, plan, day3, method):
    good = services.check_in_token(patient_id=plan.patient.pk, day=DAY3, action="walked")
    for token in ["nonsense", good[:-3] + "abc", good.replace(":", ":x", 1)]:
        response = getattr(client, method)(reverse("aftercare:check_in_link", args=[token]))
        assert response.status_code == 400, token
        assert "not valid" in html(response)
    assert not CheckIn.objects.exists()


def test_an_expired_link_is_refused(client, plan):
    with time_machine.travel(local(2026, 5, 5, 9), tick=False):
        url = link(plan.patient, DAY2)
    with time_machine.travel(local(2026, 5, 8, 9), tick=False):  # three days later
        response = client.post(url)
    assert response.status_code == 400
    assert "expired" in html(response)
    assert not CheckIn.objects.exists()


def test_a_changed_action_is_refused(client, plan, day3):
    from django.core import signing

    token = signing.dumps(
        {"p": plan.patient.pk, "d": DAY3.isoformat(), "a": "delete_everything"},
        salt=services.CHECK_IN_SALT,
    )
    assert client.post(reverse("aftercare:check_in_link", args=[token])).status_code == 400
    assert not CheckIn.objects.exists()


def test_a_link_for_a_future_day_is_refused_when_pressed(client, plan, day3):
    response = client.post(link(plan.patient, DAY3 + timedelta(days=1)))
    assert response.status_code == 400
    assert "today or earlier" in html(response)


# --- reminder preferences -----------------------------------------------------------------


def walk_reminder(plan, day):
    return Reminder.objects.get(plan=plan, kind=Kind.DAILY_WALK, day=day, channel="email")


def test_preferences_page_shows_the_walk_time(me):
    page = html(me.get(reverse("aftercare:preferences")))
    assert 'value="09:00"' in page
    assert 'data-testid="no-phone"' in page  # the factory patient has no phone number


def test_changing_the_walk_time_moves_pending_walk_reminders(me, plan):
    response = me.post(
        reverse("aftercare:preferences"), {"walk_time": "18:30", "walk_reminders": "on"}
    )
    assert response.status_code == 302
    assert walk_reminder(plan, date(2026, 5, 20)).due_at == local(2026, 5, 20, 18, 30)
    assert walk_reminder(plan, DAY3).due_at == local(2026, 5, 6, 18, 30)
    assert plan.patient.reminder_preference.walk_time == time(18, 30)
    assert 'value="18:30"' in html(me.get(reverse("aftercare:preferences")))


def test_turning_walk_reminders_off_cancels_them_and_on_brings_back_those_ahead(me, plan):
    me.post(reverse("aftercare:preferences"), {"walk_time": "09:00"})
    walks = Reminder.objects.filter(plan=plan, kind=Kind.DAILY_WALK)
    assert not walks.filter(status="pending").exists()
    me.post(reverse("aftercare:preferences"), {"walk_time": "10:00", "walk_reminders": "on"})
    # Day 3's 10:00 has passed (it is noon); days 4 to 28 are ahead.
    pending = walks.filter(status="pending")
    assert sorted(r.day for r in pending) == [
        date(2026, 5, 7) + timedelta(days=n) for n in range(25)
    ]
    assert walk_reminder(plan, date(2026, 5, 7)).due_at == local(2026, 5, 7, 10)


@pytest.mark.parametrize("walk_time", ["25:00", "noon", "", "9"])
def test_a_bad_walk_time_is_refused(me, plan, walk_time):
    response = me.post(
        reverse("aftercare:preferences"), {"walk_time": walk_time, "walk_reminders": "on"}
    )
    assert response.status_code == 400
    assert walk_reminder(plan, date(2026, 5, 20)).due_at == local(2026, 5, 20, 9)


def test_text_messages_need_a_phone_number(me, plan):
    response = me.post(reverse("aftercare:preferences_sms"), {"kinds": ["daily_walk"]})
    assert response.status_code == 400
    assert "no phone number" in html(response)
    assert services.preference_for(plan.patient).sms_kinds == []


def test_choosing_text_messages_adds_texts_to_pending_reminders(me, plan):
    patient = plan.patient
    patient.phone = "07700 900123"
    patient.save()
    response = me.post(reverse("aftercare:preferences_sms"), {"kinds": ["daily_walk"]})
    assert response.status_code == 302
    texts = Reminder.objects.filter(plan=plan, kind=Kind.DAILY_WALK, channel="sms")
    emails = Reminder.objects.filter(
        plan=plan, kind=Kind.DAILY_WALK, channel="email", status="pending"
    )
    assert texts.count() == emails.count() > 0
    assert texts.get(day=date(2026, 5, 20)).due_at == local(2026, 5, 20, 9)
    page = html(me.get(reverse("aftercare:preferences")))
    assert 'value="daily_walk" id="sms-daily_walk" checked' in page
    me.post(reverse("aftercare:preferences_sms"), {})
    assert not texts.filter(status="pending").exists()
    assert services.preference_for(patient).sms_kinds == []


def test_texts_turned_off_and_on_again_come_back_in_a_fixed_number_of_queries(me, plan):
    """About 25 walk reminders wait: their text copies are made, and later brought back,
    in a few queries, not one or two per reminder."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    patient = plan.patient
    patient.phone = "07700 900123"
    patient.save()
    texts = Reminder.objects.filter(plan=plan, kind=Kind.DAILY_WALK, channel="sms")
    with CaptureQueriesContext(connection) as made:
        me.post(reverse("aftercare:preferences_sms"), {"kinds": ["daily_walk"]})
    waiting = texts.filter(status="pending").count()
    assert waiting > 20
    me.post(reverse("aftercare:preferences_sms"), {})
    assert not texts.filter(status="pending").exists()
    with CaptureQueriesContext(connection) as revived:
        me.post(reverse("aftercare:preferences_sms"), {"kinds": ["daily_walk"]})
    assert texts.filter(status="pending").count() == waiting
    assert texts.get(day=date(2026, 5, 20)).due_at == local(2026, 5, 20, 9)
    assert len(made) <= 20
    assert len(revived) <= 20


def test_an_unknown_kind_is_refused(me):
    assert me.post(reverse("aftercare:preferences_sms"), {"kinds": ["spam"]}).status_code == 400
    assert me.post(reverse("aftercare:resubscribe"), {"kind": "spam"}).status_code == 400


def test_starting_a_kind_again_after_unsubscribing(me, plan):
    services.reminder_unsubscribe(patient=plan.patient, kind=Kind.DAILY_WALK)
    page = html(me.get(reverse("aftercare:preferences")))
    assert "Start again" in page and "Daily walk" in page
    assert not Reminder.objects.filter(plan=plan, kind=Kind.DAILY_WALK, status="pending").exists()
    response = me.post(reverse("aftercare:resubscribe"), {"kind": "daily_walk"})
    assert response.status_code == 302
    assert services.preference_for(plan.patient).unsubscribed_kinds == []
    assert walk_reminder(plan, date(2026, 5, 20)).status == "pending"
    assert 'data-testid="unsubscribed"' in html(me.get(reverse("aftercare:preferences")))


# --- the nurses' list -------------------------------------------------------------------


def test_the_list_shows_adherence_and_flags(nurse_client, plan, day3):
    CheckIn.objects.create(plan=plan, day=SESSION_DAY, walked=True, stockings_on=True)
    CheckIn.objects.create(plan=plan, day=DAY2, walked=True, stockings_on=False)
    services.check_in_record(
        patient=plan.patient, day=DAY3, stockings_on=True, warning_symptoms=["skin_breakdown"]
    )
    response = nurse_client.get(reverse("aftercare:staff_list"))
    assert response.status_code == 200
    page = html(response)
    assert plan.patient.full_name in page
    assert "Day 3" in page
    assert "2 / 3" in page  # walks: days 1 and 2 of 3
    assert "not yet today" in page
    assert "2 / 3" in page and "both legs" in page  # stockings: days 1 and 3
    assert "Skin breaking down" in page
    assert reverse("treatments:course_review", args=[plan.course_id]) in page
    lines = response.context["lines"]
    assert (lines[0].walked_days, lines[0].stocking_days_ticked) == (2, 2)
    assert len(lines[0].open_flags) == 1


def test_the_list_counts_stockings_only_to_day_7(nurse_client, plan):
    for n in range(9):
        CheckIn.objects.create(
            plan=plan, day=SESSION_DAY + timedelta(days=n), walked=n % 2 == 0, stockings_on=True
        )
    with time_machine.travel(local(2026, 5, 12, 12), tick=False):  # day 9
        nurse_client.force_login(NurseFactory().user)
        response = nurse_client.get(reverse("aftercare:staff_list"))
    line = response.context["lines"][0]
    assert (line.stocking_days_ticked, line.stocking_days_so_far) == (7, 7)
    assert (line.walked_days, line.days_so_far) == (5, 9)
    assert line.walked_today is True
    assert "walked today" in html(response)


def test_the_list_leaves_out_plans_not_running_today(nurse_client, plan):
    with time_machine.travel(local(2026, 6, 1, 12), tick=False):
        nurse_client.force_login(NurseFactory().user)
        response = nurse_client.get(reverse("aftercare:staff_list"))
    assert response.context["lines"] == []
    assert 'data-testid="aftercare-empty"' in html(response)


def test_closing_a_flag(nurse_client, nurse, plan, day3):
    services.check_in_record(patient=plan.patient, day=DAY3, warning_symptoms=["hot_painful_leg"])
    flag = CourseFlag.objects.get()
    url = reverse("aftercare:flag_resolve", args=[flag.pk])
    response = nurse_client.post(url, {"resolution": "   "})
    assert response.status_code == 400
    assert "Say what was done" in html(response)
    flag.refresh_from_db()
    assert flag.resolved_at is None
    response = nurse_client.post(url, {"resolution": "Called her; seen by Dr Kaur today."})
    assert response.status_code == 302
    flag.refresh_from_db()
    assert flag.resolved_by == nurse
    assert flag.resolution == "Called her; seen by Dr Kaur today."
    assert flag.resolved_at is not None
    assert "hot, painful" not in html(nurse_client.get(reverse("aftercare:staff_list")))
    again = nurse_client.post(url, {"resolution": "Again"})
    assert again.status_code == 409
    assert "already closed" in html(again)


def test_a_consultant_closes_a_flag(consultant_client, consultant, plan, day3):
    flag = CourseFlag.objects.create(course=plan.course, reason="Patient reported: chest pain")
    url = reverse("aftercare:flag_resolve", args=[flag.pk])
    assert consultant_client.post(url, {"resolution": "Sent to A&E."}).status_code == 302
    flag.refresh_from_db()
    assert flag.resolved_by == consultant


def test_closing_a_missing_flag_is_404(nurse_client):
    url = reverse("aftercare:flag_resolve", args=[999999])
    assert nurse_client.post(url, {"resolution": "x"}).status_code == 404
    assert nurse_client.post(url, {"resolution": ""}).status_code == 404


# --- query counts ---------------------------------------------------------------------------


def test_today_page_query_count_does_not_grow(client, plan, django_assert_max_num_queries):
    with time_machine.travel(local(2026, 5, 5, 12), tick=False):
        client.force_login(plan.patient.user)
        CheckIn.objects.create(plan=plan, day=SESSION_DAY, walked=True)
        with django_assert_max_num_queries(9) as few:
            assert client.get(reverse("aftercare:today")).status_code == 200
    for n in range(1, 26):
        CheckIn.objects.create(
            plan=plan, day=SESSION_DAY + timedelta(days=n), walked=True, bruising=True
        )
    with time_machine.travel(local(2026, 5, 30, 12), tick=False):
        client.force_login(plan.patient.user)
        with django_assert_max_num_queries(9) as many:
            response = client.get(reverse("aftercare:today"))
    assert html(response).count('data-testid="past-day"') == 26
    assert len(many.captured_queries) == len(few.captured_queries)


def test_dashboard_with_aftercare_query_count_does_not_grow(
    client, plan, django_assert_max_num_queries
):
    with time_machine.travel(local(2026, 5, 5, 12), tick=False):
        client.force_login(plan.patient.user)
        with django_assert_max_num_queries(20) as few:
            assert "Day 2 of 7" in html(client.get(reverse("patients:dashboard")))
    for n in range(0, 20):
        CheckIn.objects.create(plan=plan, day=SESSION_DAY + timedelta(days=n), walked=True)
    with time_machine.travel(local(2026, 5, 23, 12), tick=False):
        client.force_login(plan.patient.user)
        with django_assert_max_num_queries(20) as many:
            assert "Day 20 since" in html(client.get(reverse("patients:dashboard")))
    assert len(many.captured_queries) == len(few.captured_queries)


def _plans(count, schedule, first=0):
    """``count`` patients whose session was on Monday 4 May, each with check-ins and a flag."""
    made = []
    for i in range(first, first + count):
        course = CourseFactory()
        session = schedule(course, local(2026, 5, 4, 9) + timedelta(minutes=30 * i))
        plan = services.aftercare_plan_create(session=session)
        CheckIn.objects.create(plan=plan, day=SESSION_DAY, walked=True, stockings_on=True)
        CourseFlag.objects.create(course=course, reason=f"Patient reported: thing {i}")
        made.append(plan)
    return made


def test_the_list_query_count_is_the_same_for_1_and_30_patients(
    client, nurse, schedule, django_assert_max_num_queries
):
    with time_machine.travel(local(2026, 5, 4, 8), tick=False):
        _plans(1, schedule)
    with time_machine.travel(DAY3_NOON, tick=False):
        client.force_login(nurse.user)
        with django_assert_max_num_queries(8) as few:
            response = client.get(reverse("aftercare:staff_list"))
        assert len(response.context["lines"]) == 1
    with time_machine.travel(local(2026, 5, 4, 8), tick=False):
        _plans(29, schedule, first=1)
    with time_machine.travel(DAY3_NOON, tick=False):
        client.force_login(nurse.user)
        with django_assert_max_num_queries(8) as many:
            response = client.get(reverse("aftercare:staff_list"))
    assert len(response.context["lines"]) == 30
    assert html(response).count('data-testid="flag"') == 30
    assert len(many.captured_queries) == len(few.captured_queries)


# --- the admin ------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, clinic_admin):
    client.force_login(clinic_admin.user)
    return client


def _reminders(plan):
    failed = walk_reminder(plan, date(2026, 5, 20))
    Reminder.objects.filter(pk=failed.pk).update(
        status="failed", attempts=5, last_error="SMTPError: refused"
    )
    return failed


def test_failed_reminders_are_counted_in_the_title_and_can_be_filtered(admin_client, plan):
    failed = _reminders(plan)
    url = reverse("admin:aftercare_reminder_changelist")
    response = admin_client.get(url)
    assert response.status_code == 200
    page = html(response)
    assert "Reminders: 1 failed" in page
    assert "?status=failed" in page
    response = admin_client.get(url, {"status": "failed"})
    assert list(response.context["cl"].result_list) == [failed]
    response = admin_client.get(url, {"q": plan.patient.user.email})
    assert response.context["cl"].result_count == Reminder.objects.filter(plan=plan).count()


def test_try_again_sets_failed_reminders_pending(admin_client, plan):
    failed = _reminders(plan)
    sent = walk_reminder(plan, date(2026, 5, 21))
    Reminder.objects.filter(pk=sent.pk).update(status="sent", sent_at=local(2026, 5, 21, 9))
    response = admin_client.post(
        reverse("admin:aftercare_reminder_changelist"),
        {"action": "try_again", "_selected_action": [failed.pk, sent.pk]},
    )
    assert response.status_code == 302
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)
    assert sent.status == "sent"


def test_try_again_is_for_clinic_admins_only(rf, nurse):
    request = rf.get("/")
    request.user = nurse.user
    model_admin = ReminderAdmin(Reminder, admin.site)
    assert "try_again" not in model_admin.get_actions(request)


@pytest.mark.parametrize("model", [AftercarePlan, CheckIn, CourseFlag, Reminder])
def test_aftercare_records_are_read_only_in_the_admin(admin_client, plan, model):
    CheckIn.objects.create(plan=plan, day=SESSION_DAY, walked=True)
    CourseFlag.objects.create(course=plan.course, reason="x")
    obj = model.objects.first()
    info = f"admin:aftercare_{model._meta.model_name}"
    assert admin_client.get(reverse(f"{info}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"{info}_change", args=[obj.pk])).status_code == 200
    assert admin_client.get(reverse(f"{info}_add")).status_code == 403
    assert admin_client.post(reverse(f"{info}_delete", args=[obj.pk])).status_code == 403
    if model is not Reminder:
        history = admin_client.get(reverse(f"{info}_history", args=[obj.pk]))
        assert history.status_code == 200
