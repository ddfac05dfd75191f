"""The nurse's screens: the day list and the session screen with its actions."""

from __future__ import annotations

from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment
from clinic.models import StaffMember
from treatments import services
from treatments.models import (
    AdverseEvent,
    ConsentForm,
    Course,
    Legs,
    SessionRecord,
    SignedConsent,
    StockingFitting,
)

from ..factories import (
    ClinicAdminFactory,
    CourseFactory,
    NurseFactory,
    PatientFactory,
    RoomFactory,
    local,
)

pytestmark = pytest.mark.django_db

S = SessionRecord.Status
DAY_URL = reverse("treatments:day_list")


def url(name: str, session: SessionRecord) -> str:
    return reverse(f"treatments:{name}", args=[session.pk])


def body(response) -> str:
    return response.content.decode()


def fresh(session: SessionRecord) -> SessionRecord:
    return SessionRecord.objects.get(pk=session.pk)


def publish_new_version(treatment, *, statements: list[str] | None = None) -> ConsentForm:
    """Version 2 of the treatment's form, in effect from an hour ago."""
    form = services.consent_form_new_version(
        treatment=treatment,
        title="Consent to microsclerotherapy (revised)",
        body="Revised wording about the treatment and its aftercare.",
        risks=["Bruising.", "Brown staining."],
        statements=statements or ["I have read the revised form.", "I understand the risks."],
        effective_from=timezone.now() - timedelta(hours=1),
    )
    return services.consent_form_publish(form=form)


def start(session: SessionRecord, nurse: StaffMember) -> SessionRecord:
    services.session_confirm_consent(session=session, nurse=nurse)
    return services.session_start(session=session, by=nurse)


RECORD = {
    "legs_treated": Legs.BOTH,
    "treated_areas": ["left_calf_back_medial", "right_knee_back"],
    "sclerosant": "Sodium tetradecyl sulphate (STS)",
    "concentration_percent": "0.5",
    "total_volume_ml": "2.5",
    "injections": "14",
    "discomfort": "3",
    "music_requested": "Nina Simone",
    "notes": "Tolerated well.",
    "discharge_walk_minutes": "12",
}


@pytest.fixture
def unsigned_session(course, schedule):
    """Session 1 of ``course`` at 10:00 today, no consent signed yet."""
    today = timezone.localdate()
    return schedule(course, local(today.year, today.month, today.day, 10))


@pytest.fixture
def started(session_today, nurse):
    return start(session_today, nurse)


# --- who may open the pages ----------------------------------------------------------


ROLE_TABLE = [
    ("anonymous", 302),
    ("patient", 403),
    ("clinic_admin", 403),
    ("nurse", 200),
    ("consultant", 200),
]


def log_in_as(client, role: str, nurse, consultant) -> None:
    people = {
        "patient": lambda: PatientFactory().user,
        "clinic_admin": lambda: ClinicAdminFactory().user,
        "nurse": lambda: nurse.user,
        "consultant": lambda: consultant.user,
    }
    if role != "anonymous":
        client.force_login(people[role]())


@pytest.mark.parametrize(("role", "expected"), ROLE_TABLE)
def test_day_list_access_by_role(client, nurse, consultant, role, expected):
    log_in_as(client, role, nurse, consultant)
    response = client.get(DAY_URL)
    assert response.status_code == expected
    if role == "anonymous":
        assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(("role", "expected"), ROLE_TABLE)
def test_session_screen_access_by_role(client, session_today, nurse, consultant, role, expected):
    log_in_as(client, role, nurse, consultant)
    response = client.get(url("session_detail", session_today))
    assert response.status_code == expected
    if role == "anonymous":
        assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("role", ["anonymous", "patient", "clinic_admin"])
def test_actions_are_refused_to_other_roles(client, session_today, nurse, consultant, role):
    log_in_as(client, role, nurse, consultant)
    response = client.post(url("session_confirm_consent", session_today))
    assert response.status_code in (302, 403)
    assert response.status_code == (302 if role == "anonymous" else 403)
    assert fresh(session_today).status == S.SCHEDULED


def test_unknown_session_is_404(nurse_client):
    assert nurse_client.get("/staff/sessions/999999/").status_code == 404
    assert nurse_client.post("/staff/sessions/999999/start/").status_code == 404
    assert nurse_client.get("/staff/sessions/999999/take-consent/").status_code == 404


def test_actions_only_accept_post(nurse_client, session_today):
    for name in ["session_confirm_consent", "session_start", "session_complete"]:
        assert nurse_client.get(url(name, session_today)).status_code == 405
    assert fresh(session_today).status == S.SCHEDULED


# --- the day list ----------------------------------------------------------------------


def test_day_list_shows_todays_sessions_in_order_with_consent_badges(
    nurse_client, nurse, schedule, sign_consent, microsclerotherapy
):
    today = timezone.localdate()
    at = lambda hour: local(today.year, today.month, today.day, hour)  # noqa: E731
    resign = CourseFactory(patient__user__first_name="Rhiannon", patient__user__last_name="Old")
    unsigned = CourseFactory(patient__user__first_name="Una", patient__user__last_name="Never")
    signed = CourseFactory(patient__user__first_name="Sian", patient__user__last_name="New")
    sign_consent(resign)  # version 1, which is about to be replaced
    # Booked out of time order, so the list must sort them.
    late = schedule(unsigned, at(14))
    early = schedule(signed, at(9))
    middle = schedule(resign, at(11))
    publish_new_version(microsclerotherapy)
    sign_consent(signed)  # signs version 2
    other_day = schedule(CourseFactory(), at(10) + timedelta(days=1))

    response = nurse_client.get(DAY_URL)

    assert response.status_code == 200
    html = body(response)
    rows = [early, middle, late]
    positions = [html.index(f'data-session="{s.pk}"') for s in rows]
    assert positions == sorted(positions)
    assert f'data-session="{other_day.pk}"' not in html

    def row(session):
        start = html.index(f'data-session="{session.pk}"')
        return html[start : html.index("</tr>", start)]

    assert 'data-consent="signed">Signed<' in row(early)
    assert "Sian New" in row(early)
    assert 'data-consent="needs_resigning">Needs re-signing (new form version)<' in row(middle)
    assert 'data-consent="needs_signing">Needs signing<' in row(late)
    assert "09:00" in row(early)
    assert "1 of 3" in row(early)
    assert early.appointment.room.name in row(early)
    assert nurse.display_name in row(early)
    assert signed.consultant.display_name in row(early)
    assert url("session_detail", early) in row(early)
    assert 'data-status="scheduled"' in row(early)


def test_day_list_says_when_a_day_is_empty(nurse_client):
    response = nurse_client.get(DAY_URL, {"day": "2026-05-05"})
    assert response.status_code == 200
    assert "No treatment sessions are booked for Tuesday 5 May 2026" in body(response)


def test_day_list_leaves_out_cancelled_sessions(nurse_client, course, schedule, nurse):
    session = schedule(course, local(2026, 5, 5, 10))
    services.session_abandon(session=session, by=nurse, reason="Patient unwell.")
    html = body(nurse_client.get(DAY_URL, {"day": "2026-05-05"}))
    assert f'data-session="{session.pk}"' not in html


@pytest.mark.parametrize(
    "bad",
    ["tomorrow", "2026-02-30", "2026-13-01", "2026-W13-1", "20260329", "0001-01-01", "x" * 500],
)
def test_day_list_refuses_a_day_that_is_not_a_date(nurse_client, bad):
    response = nurse_client.get(DAY_URL, {"day": bad})
    assert response.status_code == 400
    assert "not a date we recognise" in body(response)


def test_day_list_around_the_clock_changes(nurse_client, course, schedule):
    # 00:30 local on the days the clocks change: 00:30 GMT in March, 23:30 UTC the day
    # before in October (still BST at that hour).
    spring = schedule(course, local(2026, 3, 29, 0, 30))
    autumn = schedule(course, local(2026, 10, 25, 0, 30))
    assert autumn.appointment.start.astimezone(UTC).day == 24

    def listed(day: str) -> str:
        response = nurse_client.get(DAY_URL, {"day": day})
        assert response.status_code == 200
        return body(response)

    assert f'data-session="{spring.pk}"' in listed("2026-03-29")
    assert f'data-session="{spring.pk}"' not in listed("2026-03-28")
    assert f'data-session="{autumn.pk}"' in listed("2026-10-25")
    assert f'data-session="{autumn.pk}"' not in listed("2026-10-24")
    html = listed("2026-10-25")
    assert "00:30" in html


def test_day_list_refresh_returns_the_table_alone_for_htmx(nurse_client, session_today):
    response = nurse_client.get(DAY_URL, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = body(response)
    assert html.lstrip().startswith('<div id="day-table"')
    assert "<html" not in html
    assert f'data-session="{session_today.pk}"' in html
    assert "HX-Request" in response["Vary"]


def _sessions_on(day, nurse, count: int) -> None:
    """``count`` sessions on one day, in two rooms with two nurses, half of them signed."""
    rooms = [RoomFactory(), RoomFactory()]
    other_nurse = NurseFactory()
    for index in range(count):
        course = CourseFactory()
        if index % 2:
            form = services.consent_current_form(course.treatment)
            services.consent_sign(
                course=course,
                form=form,
                typed_name=course.patient.full_name,
                statements_accepted=list(form.statements),
                method=SignedConsent.Method.ONLINE,
            )
        services.session_schedule(
            course=course,
            start=local(day.year, day.month, day.day, 8) + timedelta(minutes=15 * index),
            minutes=30,
            consultant=course.consultant,
            nurse=nurse if index % 2 else other_nurse,
            room=rooms[index % 2],
        )


def test_day_list_query_count_does_not_grow(nurse_client, nurse, django_assert_max_num_queries):
    one_day = timezone.localdate() + timedelta(days=3)
    busy_day = one_day + timedelta(days=1)
    _sessions_on(one_day, nurse, 1)
    _sessions_on(busy_day, nurse, 30)

    with django_assert_max_num_queries(12) as one:
        response = nurse_client.get(DAY_URL, {"day": one_day.isoformat()})
    assert body(response).count('data-testid="day-row"') == 1
    with django_assert_max_num_queries(12) as thirty:
        response = nurse_client.get(DAY_URL, {"day": busy_day.isoformat()})
    html = body(response)
    assert html.count('data-testid="day-row"') == 30
    assert html.count('data-consent="signed"') == 15
    assert len(thirty.captured_queries) == len(one.captured_queries)


# --- the session screen: consent ----------------------------------------------------------


def test_session_screen_shows_patient_course_and_consent(nurse_client, session_today):
    response = nurse_client.get(url("session_detail", session_today))
    html = body(response)
    assert response.status_code == 200
    assert session_today.course.patient.full_name in html
    assert "1 of 3 planned" in html
    assert "28 days" in html
    assert 'data-consent="signed"' in html
    assert url("session_confirm_consent", session_today) in html
    assert url("session_take_consent", session_today) not in html
    assert url("session_start", session_today) not in html


def test_unsigned_session_offers_consent_on_the_tablet(nurse_client, unsigned_session):
    html = body(nurse_client.get(url("session_detail", unsigned_session)))
    assert 'data-consent="needs_signing"' in html
    assert url("session_take_consent", unsigned_session) in html
    assert url("session_confirm_consent", unsigned_session) not in html


def test_older_version_signed_says_needs_re_signing(
    nurse_client, session_today, microsclerotherapy
):
    publish_new_version(microsclerotherapy)
    html = body(nurse_client.get(url("session_detail", session_today)))
    assert 'data-consent="needs_resigning"' in html
    assert "Needs re-signing (new form version)" in html
    assert "it is now version 2" in html
    assert url("session_take_consent", session_today) in html
    assert url("session_confirm_consent", session_today) not in html


def test_take_consent_shows_the_exact_current_form(nurse_client, unsigned_session):
    form = services.consent_current_form(unsigned_session.course.treatment)
    response = nurse_client.get(url("session_take_consent", unsigned_session))
    assert response.status_code == 200
    html = body(response)
    assert form.title in html
    assert form.body.split("\n")[0][:80] in html
    for text in [*form.risks, *form.statements]:
        assert text in html
    assert f'value="{form.pk}"' in html


def _consent_post(form: ConsentForm, name: str, ticked: int | None = None) -> dict:
    count = len(form.statements) if ticked is None else ticked
    data = {"consent_form": str(form.pk), "typed_name": name}
    data.update({f"statement_{i}": "on" for i in range(count)})
    return data


def test_take_consent_refusals_show_the_service_message(nurse_client, unsigned_session):
    course = unsigned_session.course
    form = services.consent_current_form(course.treatment)
    take = url("session_take_consent", unsigned_session)

    wrong_name = nurse_client.post(take, _consent_post(form, "Someone Else"))
    assert wrong_name.status_code == 400
    assert "Type your full name exactly as registered" in body(wrong_name)

    not_ticked = nurse_client.post(take, _consent_post(form, course.patient.full_name, 1))
    assert not_ticked.status_code == 400
    assert "Tick every statement" in body(not_ticked)

    no_name = nurse_client.post(take, {"consent_form": str(form.pk)})
    assert no_name.status_code == 400

    hostile = nurse_client.post(take, {"consent_form": "abc", "typed_name": "x" * 5000})
    assert hostile.status_code == 400
    assert not SignedConsent.objects.filter(course=course).exists()


def test_take_consent_refuses_a_form_replaced_while_open(
    nurse_client, unsigned_session, microsclerotherapy
):
    course = unsigned_session.course
    old = services.consent_current_form(course.treatment)
    publish_new_version(microsclerotherapy)
    response = nurse_client.post(
        url("session_take_consent", unsigned_session), _consent_post(old, course.patient.full_name)
    )
    assert response.status_code == 400
    assert "updated while it was open" in body(response)
    assert "Revised wording" in body(response)
    assert not SignedConsent.objects.filter(course=course).exists()


def test_take_consent_when_already_signed_goes_back(nurse_client, session_today):
    response = nurse_client.get(url("session_take_consent", session_today))
    assert response.status_code == 302
    assert response.url == url("session_detail", session_today)


def test_take_consent_after_the_session_started_is_a_conflict(nurse_client, started):
    response = nurse_client.get(url("session_take_consent", started))
    assert response.status_code == 409
    assert "already started" in body(response)


def test_a_new_version_after_confirming_stops_the_start(
    nurse_client, nurse, session_today, microsclerotherapy
):
    services.session_confirm_consent(session=session_today, nurse=nurse)
    publish_new_version(microsclerotherapy)
    response = nurse_client.post(url("session_start", session_today))
    assert response.status_code == 400
    assert "The consent form has changed (now version 2)" in body(response)
    assert fresh(session_today).status == S.CONSENT_CONFIRMED


# --- the session screen: the happy path ---------------------------------------------------


def test_full_session_through_the_screens(nurse_client, nurse, unsigned_session):
    session = unsigned_session
    course = session.course
    form = services.consent_current_form(course.treatment)

    # The patient signs on the tablet, witnessed by the nurse.
    response = nurse_client.post(
        url("session_take_consent", session), _consent_post(form, course.patient.full_name)
    )
    assert response.status_code == 302
    assert response.url == url("session_detail", session)
    consent = SignedConsent.objects.get(course=course)
    assert consent.method == SignedConsent.Method.IN_CLINIC
    assert consent.witnessed_by == nurse
    assert consent.form == form

    page = nurse_client.get(response.url)
    assert "Consent signed (version 1)" in body(page)
    assert url("session_confirm_consent", session) in body(page)

    response = nurse_client.post(url("session_confirm_consent", session), follow=True)
    assert "Consent confirmed" in body(response)
    assert fresh(session).status == S.CONSENT_CONFIRMED
    assert url("session_start", session) in body(response)

    response = nurse_client.post(url("session_start", session), follow=True)
    assert "Session started" in body(response)
    assert fresh(session).status == S.IN_PROGRESS
    assert Course.objects.get(pk=course.pk).status == Course.Status.ACTIVE
    html = body(response)
    for name in ["session_record", "session_stockings", "session_adverse_event"]:
        assert url(name, session) in html
    assert url("session_complete", session) in html
    assert 'value="left_calf_back_medial"' in html  # the leg map as checkboxes

    response = nurse_client.post(url("session_record", session), RECORD)
    assert response.status_code == 302
    recorded = fresh(session)
    assert recorded.treated_areas == RECORD["treated_areas"]
    assert recorded.concentration_percent == Decimal("0.5")
    assert recorded.total_volume_ml == Decimal("2.5")
    assert recorded.injections == 14
    assert recorded.discomfort == 3
    assert recorded.discharge_walk_minutes == 12
    assert recorded.music_requested == "Nina Simone"

    for leg in ["left", "right"]:
        data = {"leg": leg, "compression_class": "2", "length": "thigh"}
        response = nurse_client.post(url("session_stockings", session), data)
        assert response.status_code == 302
    assert set(StockingFitting.objects.filter(session=session).values_list("leg", flat=True)) == {
        "left",
        "right",
    }

    response = nurse_client.post(
        url("session_adverse_event", session),
        {"kind": "faint", "severity": "mild", "action_taken": "Lay flat, recovered."},
    )
    assert response.status_code == 302

    response = nurse_client.post(url("session_complete", session), follow=True)
    assert "Session complete" in body(response)
    done = fresh(session)
    assert done.status == S.COMPLETED
    assert done.appointment.status == Appointment.Status.COMPLETED
    course.refresh_from_db()
    assert course.sessions.filter(status=S.COMPLETED).count() == 1
    assert course.status == Course.Status.ACTIVE  # 1 of 3 done

    summary = body(nurse_client.get(url("session_detail", session)))
    assert 'data-testid="session-summary"' in summary
    assert "Left calf, inner" in summary
    assert "Right back of the knee" in summary
    assert "Left leg: thigh length, class 2 (medium)" in summary
    assert "Feeling faint / fainting" in summary
    assert url("session_record", session) not in summary
    assert url("session_abandon", session) not in summary


def test_the_last_planned_session_completes_the_course(nurse_client, nurse, schedule):
    course = CourseFactory(planned_sessions=2)
    first = schedule(course, local(2026, 1, 5, 10))
    second = schedule(course, local(2026, 2, 9, 10))
    form = services.consent_current_form(course.treatment)
    nurse_client.post(
        url("session_take_consent", first), _consent_post(form, course.patient.full_name)
    )
    for session in (first, second):
        nurse_client.post(url("session_confirm_consent", session))
        nurse_client.post(url("session_start", session))
        nurse_client.post(url("session_record", session), RECORD)
        for leg in ["left", "right"]:
            nurse_client.post(
                url("session_stockings", session),
                {"leg": leg, "compression_class": "1", "length": "knee"},
            )
        response = nurse_client.post(url("session_complete", session))
        assert response.status_code == 302
    course.refresh_from_db()
    assert course.status == Course.Status.COMPLETED
    html = body(nurse_client.get(url("session_detail", second)))
    assert "2 of 2 planned" in html
    assert '<dd class="col-7" data-testid="course-status">Completed</dd>' in html


# --- refusals ----------------------------------------------------------------------------------


def test_start_without_consent_is_refused(nurse_client, unsigned_session):
    response = nurse_client.post(url("session_start", unsigned_session))
    assert response.status_code == 409
    assert "has not signed the consent form" in body(response)
    assert fresh(unsigned_session).status == S.SCHEDULED


def test_confirm_without_consent_shows_the_service_message(nurse_client, unsigned_session):
    response = nurse_client.post(url("session_confirm_consent", unsigned_session))
    assert response.status_code == 400
    assert "has not signed the consent form" in body(response)
    assert fresh(unsigned_session).status == S.SCHEDULED


def test_start_before_confirming_is_a_conflict(nurse_client, session_today):
    response = nurse_client.post(url("session_start", session_today))
    assert response.status_code == 409
    assert "A session that is scheduled cannot become in progress" in body(response)
    assert fresh(session_today).status == S.SCHEDULED


def test_complete_without_stockings_is_refused(nurse_client, nurse, started):
    services.session_record(session=started, by=nurse, discharge_walk_minutes=15)
    response = nurse_client.post(url("session_complete", started))
    assert response.status_code == 400
    assert "Record the compression stocking fitted on the left leg and the right leg" in body(
        response
    )
    assert fresh(started).status == S.IN_PROGRESS


def test_complete_with_a_five_minute_walk_is_refused(nurse_client, nurse, started):
    services.session_record(session=started, by=nurse, discharge_walk_minutes=5)
    for leg in ["left", "right"]:
        services.session_fit_stocking(
            session=started, by=nurse, leg=leg, compression_class="2", length="thigh"
        )
    response = nurse_client.post(url("session_complete", started))
    assert response.status_code == 400
    assert "must walk for at least 10 minutes before going home (recorded: 5)" in body(response)
    assert fresh(started).status == S.IN_PROGRESS


def test_complete_a_scheduled_session_is_a_conflict(nurse_client, session_today):
    response = nurse_client.post(url("session_complete", session_today))
    assert response.status_code == 409
    assert "Only a session in progress can be completed" in body(response)


def test_stockings_before_the_start_are_a_conflict(nurse_client, session_today):
    response = nurse_client.post(
        url("session_stockings", session_today),
        {"leg": "left", "compression_class": "2", "length": "thigh"},
    )
    assert response.status_code == 409
    assert "Stockings are recorded while the session is in progress" in body(response)
    assert not StockingFitting.objects.exists()


def test_stocking_on_an_untreated_leg_is_refused(nurse_client, nurse, started):
    services.session_record(session=started, by=nurse, legs_treated=Legs.LEFT, treated_areas=[])
    response = nurse_client.post(
        url("session_stockings", started),
        {"leg": "right", "compression_class": "2", "length": "thigh"},
    )
    assert response.status_code == 400
    assert "That leg is not being treated in this session" in body(response)


@pytest.mark.parametrize(
    "changes",
    [
        {"injections": "lots"},
        {"discomfort": "11"},
        {"discomfort": "-1"},
        {"concentration_percent": "abc"},
        {"concentration_percent": "5"},
        {"total_volume_ml": "1e400"},
        {"discharge_walk_minutes": "99999999999999999999"},
        {"treated_areas": ["left_elbow"]},
        {"legs_treated": "middle"},
        {"notes": "x" * 10_001},
        {"sclerosant": ""},
    ],
    ids=lambda c: next(iter(c)),
)
def test_hostile_record_input_is_refused_and_nothing_changes(nurse_client, started, changes):
    before = fresh(started)
    response = nurse_client.post(url("session_record", started), {**RECORD, **changes})
    assert response.status_code == 400
    assert "some answers need correcting" in body(response)
    after = fresh(started)
    for name in ["treated_areas", "injections", "discomfort", "concentration_percent", "notes"]:
        assert getattr(after, name) == getattr(before, name)


def test_area_on_an_untreated_leg_shows_the_service_message(nurse_client, started):
    data = {**RECORD, "legs_treated": Legs.LEFT, "treated_areas": ["right_foot"]}
    response = nurse_client.post(url("session_record", started), data)
    assert response.status_code == 400
    assert "Every treated area must be on a leg being treated" in body(response)
    assert fresh(started).legs_treated == Legs.BOTH


def test_a_long_note_with_html_is_kept_and_shown_safely(nurse_client, nurse, started):
    note = "<script>alert(1)</script>" + "a" * (10_000 - 25)
    response = nurse_client.post(url("session_record", started), {**RECORD, "notes": note})
    assert response.status_code == 302
    assert fresh(started).notes == note
    services.session_fit_stocking(
        session=started, by=nurse, leg="left", compression_class="1", length="knee"
    )
    services.session_fit_stocking(
        session=started, by=nurse, leg="right", compression_class="1", length="knee"
    )
    services.session_complete(session=started, by=nurse)
    html = body(nurse_client.get(url("session_detail", started)))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_record_after_completion_is_a_conflict(nurse_client, nurse, started):
    services.session_abandon(session=started, by=nurse, reason="Patient felt faint.")
    response = nurse_client.post(url("session_record", started), RECORD)
    assert response.status_code == 409
    assert "its record can no longer change" in body(response)


def test_bad_stocking_and_adverse_event_input_is_refused(nurse_client, started):
    bad_leg = nurse_client.post(
        url("session_stockings", started), {"leg": "both", "compression_class": "9"}
    )
    assert bad_leg.status_code == 400
    no_action = nurse_client.post(
        url("session_adverse_event", started), {"kind": "faint", "severity": "mild"}
    )
    assert no_action.status_code == 400
    unknown_kind = nurse_client.post(
        url("session_adverse_event", started),
        {"kind": "explosion", "severity": "mild", "action_taken": "None"},
    )
    assert unknown_kind.status_code == 400
    assert not StockingFitting.objects.exists()
    assert not AdverseEvent.objects.exists()


def test_adverse_event_before_the_start_is_a_conflict(nurse_client, session_today):
    response = nurse_client.post(
        url("session_adverse_event", session_today),
        {"kind": "faint", "severity": "mild", "action_taken": "Lay flat."},
    )
    assert response.status_code == 409
    assert "recorded for a session that has started" in body(response)


def test_abandon_needs_a_reason_and_is_final(nurse_client, session_today):
    abandon = url("session_abandon", session_today)
    response = nurse_client.post(abandon, {"reason": "   "})
    assert response.status_code == 400
    assert fresh(session_today).status == S.SCHEDULED

    response = nurse_client.post(abandon, {"reason": "Patient has a cold."}, follow=True)
    assert "marked as not going ahead" in body(response)
    abandoned = fresh(session_today)
    assert abandoned.status == S.ABANDONED
    assert abandoned.abandoned_reason == "Patient has a cold."
    assert "Patient has a cold." in body(response)

    again = nurse_client.post(abandon, {"reason": "Again"})
    assert again.status_code == 409
    assert "A session that is abandoned cannot become abandoned" in body(again)


def test_staff_without_an_active_record_are_refused_by_the_service(
    nurse_client, nurse, session_today
):
    StaffMember.objects.filter(pk=nurse.pk).update(is_active=False)
    response = nurse_client.post(url("session_confirm_consent", session_today))
    assert response.status_code == 403
    assert "no active staff record" in body(response)
    assert fresh(session_today).status == S.SCHEDULED


def test_the_consultant_can_run_the_session_too(consultant_client, session_today):
    response = consultant_client.post(url("session_confirm_consent", session_today))
    assert response.status_code == 302
    assert fresh(session_today).status == S.CONSENT_CONFIRMED


# --- query counts ------------------------------------------------------------------------------


def _add_event(session, index: int) -> None:
    services.session_add_adverse_event(
        session=session,
        by=NurseFactory(),
        kind="bruising",
        severity="mild",
        action_taken=f"Reassured ({index}).",
    )


def test_session_screen_query_count_does_not_grow(
    nurse_client, nurse, started, django_assert_max_num_queries
):
    # One stocking and one event (an empty prefetch skips its nested lookups, so the
    # fair comparison is one row against many).
    services.session_fit_stocking(
        session=started, by=NurseFactory(), leg="left", compression_class="2", length="thigh"
    )
    _add_event(started, 0)
    # The first look adds a row to the access log; the measured looks are repeats (1 query).
    nurse_client.get(url("session_detail", started))
    with django_assert_max_num_queries(17) as few:
        response = nurse_client.get(url("session_detail", started))
    assert body(response).count("Reassured (") == 1

    services.session_fit_stocking(
        session=started, by=NurseFactory(), leg="right", compression_class="2", length="thigh"
    )
    for index in range(1, 30):
        _add_event(started, index)
    with django_assert_max_num_queries(17) as many:
        response = nurse_client.get(url("session_detail", started))
    assert body(response).count("Reassured (") == 30
    assert len(many.captured_queries) == len(few.captured_queries)


def test_finished_session_summary_query_count_does_not_grow(
    nurse_client, nurse, started, django_assert_max_num_queries
):
    services.session_record(session=started, by=nurse, discharge_walk_minutes=10)
    for leg in ["left", "right"]:
        services.session_fit_stocking(
            session=started, by=nurse, leg=leg, compression_class="2", length="thigh"
        )
    _add_event(started, 0)
    services.session_complete(session=started, by=nurse)
    # The first look adds a row to the access log; the measured looks are repeats (1 query).
    nurse_client.get(url("session_detail", started))
    with django_assert_max_num_queries(17) as few:
        nurse_client.get(url("session_detail", started))
    for index in range(1, 30):
        _add_event(started, index)
    with django_assert_max_num_queries(17) as many:
        response = nurse_client.get(url("session_detail", started))
    assert body(response).count("Reassured (") == 30
    assert len(many.captured_queries) == len(few.captured_queries)
