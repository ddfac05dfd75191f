"""The staff diary: the day's appointments and their status moves, booking a consultation,
booking the next session of a course."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment
from clinic.models import Room
from treatments.models import SessionRecord

from ..factories import (
    LONDON,
    AppointmentFactory,
    ClinicAdminFactory,
    ConsultantFactory,
    ConsultingRoomFactory,
    CourseFactory,
    NurseFactory,
    PatientFactory,
    RoomFactory,
    local,
    treatment,
)

pytestmark = pytest.mark.django_db

Status = Appointment.Status
DIARY = reverse("bookings:diary")
CONSULTATION_NEW = reverse("bookings:consultation_new")


# --- helpers ------------------------------------------------------------------------


def ahead(days: int) -> date:
    """A clinic-local day some way ahead, so that the form's "not in the past" holds."""
    return timezone.localdate() + timedelta(days=days)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return local(day.year, day.month, day.day, hour, minute)


def last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def next_clock_change(month: int) -> date:
    """The next last-Sunday-of-``month`` (3: clocks forward, 10: clocks back) ahead of today."""
    year = timezone.localdate().year
    while last_sunday(year, month) <= timezone.localdate():
        year += 1
    return last_sunday(year, month)


def diary_url(day: date) -> str:
    return f"{DIARY}?day={day.isoformat()}"


def status_url(appointment: Appointment) -> str:
    return reverse("bookings:appointment_status", args=[appointment.pk])


def session_url(course) -> str:
    return reverse("bookings:session_new", args=[course.pk])


@pytest.fixture
def consulting_room(db) -> Room:
    return ConsultingRoomFactory()


@pytest.fixture
def clinic_admin_client(client, clinic_admin):
    client.force_login(clinic_admin.user)
    return client


def consultation_data(patient, consultant, room, day: date, time: str = "10:00", **extra):
    data = {
        "patient": patient.pk,
        "treatment": treatment("initial-consultation").pk,
        "day": day.isoformat(),
        "time": time,
        "minutes": 30,
        "consultant": consultant.pk,
        "room": room.pk,
        "notes": "",
    }
    data.update(extra)
    return data


def session_data(course, nurse, room, day: date, time: str = "10:00", **extra):
    data = {
        "day": day.isoformat(),
        "time": time,
        "minutes": 30,
        "consultant": course.consultant.pk,
        "nurse": nurse.pk,
        "room": room.pk,
        "music_request": "",
    }
    data.update(extra)
    return data


# --- who may open the diary ---------------------------------------------------------


@pytest.fixture
def pages(course):
    return [DIARY, CONSULTATION_NEW, session_url(course)]


def test_anonymous_visitors_are_sent_to_log_in(client, pages):
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login")), url
    appointment = AppointmentFactory()
    response = client.post(status_url(appointment), {"status": Status.CHECKED_IN})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_patients_are_refused(patient_client, pages):
    for url in pages:
        assert patient_client.get(url).status_code == 403, url
    appointment = AppointmentFactory()
    response = patient_client.post(status_url(appointment), {"status": Status.CANCELLED})
    assert response.status_code == 403
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


@pytest.mark.parametrize("factory", [NurseFactory, ConsultantFactory, ClinicAdminFactory])
def test_nurses_consultants_and_clinic_admins_may_use_the_diary(client, pages, factory):
    client.force_login(factory().user)
    for url in pages:
        assert client.get(url).status_code == 200, url


def test_the_status_move_is_post_only(nurse_client):
    appointment = AppointmentFactory()
    assert nurse_client.get(status_url(appointment)).status_code == 405


# --- the diary of a day -------------------------------------------------------------


def test_the_diary_lists_a_days_appointments_by_room_in_time_order(nurse_client, schedule, course):
    day = ahead(10)
    room = ConsultingRoomFactory(name="Blue room")
    late = AppointmentFactory(start=at(day, 15), end=at(day, 15, 30), room=room)
    early = AppointmentFactory(start=at(day, 9), end=at(day, 9, 30), room=room)
    elsewhere = AppointmentFactory(
        start=at(day, 8), end=at(day, 8, 30), room=ConsultingRoomFactory(name="Green room")
    )
    session = schedule(course, at(day, 11))
    AppointmentFactory(start=at(day + timedelta(days=1), 8), end=at(day + timedelta(days=1), 9))

    response = nurse_client.get(diary_url(day))

    assert response.status_code == 200
    rows = [entry.appointment.pk for entry in response.context["entries"]]
    assert rows == [elsewhere.pk, early.pk, session.appointment.pk, late.pk]
    groups = [
        (g.room.name, [e.appointment.pk for e in g.entries]) for g in response.context["rooms"]
    ]
    assert groups == [
        ("Blue room", [early.pk, late.pk]),
        ("Green room", [elsewhere.pk]),
        (session.appointment.room.name, [session.appointment.pk]),
    ]
    html = response.content.decode()
    assert html.index("Blue room") < html.index(early.patient.full_name)
    assert html.index(early.patient.full_name) < html.index(late.patient.full_name)
    assert html.index(late.patient.full_name) < html.index("Green room")
    for text in [
        "09:00–09:30",
        "Initial consultation",
        early.consultant.display_name,
        early.room.name,
        "Microsclerotherapy",
        "Session 1 of 3",
        session.nurse.display_name,
        "Booked",
    ]:
        assert text in html, text
    assert reverse("treatments:session_detail", args=[session.pk]) in html
    assert session_url(course) in html
    assert reverse("bookings:consultation_new") in html


def test_the_diary_shows_today_by_default(nurse_client):
    today = timezone.localdate()
    response = nurse_client.get(DIARY)
    assert response.status_code == 200
    assert response.context["day"] == today


def test_the_diary_day_follows_the_clinic_clock_on_the_day_the_clocks_change(nurse_client):
    # On the last Sunday of March the local day is 23 hours long.
    day = last_sunday(2026, 3)
    late = AppointmentFactory(start=at(day, 23, 30), end=at(day, 23, 59))
    AppointmentFactory(
        start=at(day + timedelta(days=1), 0, 15), end=at(day + timedelta(days=1), 0, 45)
    )
    response = nurse_client.get(diary_url(day))
    assert [e.appointment.pk for e in response.context["entries"]] == [late.pk]
    assert "23:30–23:59" in response.content.decode()


@pytest.mark.parametrize(
    "day",
    ["2026-13-01", "2026-02-30", "yesterday", "2026-W10-1", "20260302", "9999-12-31",
     "0001-01-01", "<script>alert(1)</script>", "2026-03-02T10:00"],
)  # fmt: skip
def test_an_invalid_day_is_a_400_with_a_clear_message(nurse_client, day):
    response = nurse_client.get(DIARY, {"day": day})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Give the day as year-month-day" in html
    assert "<script>alert(1)</script>" not in html


def test_consultation_moves_offered_are_those_the_map_allows(nurse_client):
    day = ahead(3)
    booked = AppointmentFactory(start=at(day, 9), end=at(day, 9, 30))
    checked_in = AppointmentFactory(
        start=at(day, 10), end=at(day, 10, 30), status=Status.CHECKED_IN
    )
    done = AppointmentFactory(start=at(day, 11), end=at(day, 11, 30), status=Status.COMPLETED)

    entries = {e.appointment.pk: e for e in nurse_client.get(diary_url(day)).context["entries"]}

    assert [v for v, _ in entries[booked.pk].moves] == [
        Status.CHECKED_IN,
        Status.COMPLETED,
        Status.NO_SHOW,
        Status.CANCELLED,
    ]
    assert [v for v, _ in entries[checked_in.pk].moves] == [Status.COMPLETED, Status.CANCELLED]
    assert entries[done.pk].moves == []


def test_a_treatment_session_is_only_checked_in_from_the_diary(nurse_client, schedule, course):
    day = ahead(3)
    schedule(course, at(day, 10))
    entries = nurse_client.get(diary_url(day)).context["entries"]
    assert [v for v, _ in entries[0].moves] == [Status.CHECKED_IN]


def test_checking_in_moves_the_appointment_and_returns_to_its_day(nurse_client):
    day = ahead(3)
    appointment = AppointmentFactory(start=at(day, 9), end=at(day, 9, 30))

    response = nurse_client.post(status_url(appointment), {"status": Status.CHECKED_IN})

    assert response.status_code == 302
    assert response.url == diary_url(day)
    appointment.refresh_from_db()
    assert appointment.status == Status.CHECKED_IN
    page = nurse_client.get(response.url).content.decode()
    assert "checked in" in page


@pytest.mark.parametrize("target", [Status.COMPLETED, Status.NO_SHOW, Status.CANCELLED])
def test_a_booked_consultation_can_be_completed_missed_or_cancelled(nurse_client, target):
    appointment = AppointmentFactory(start=at(ahead(2), 9), end=at(ahead(2), 9, 30))
    response = nurse_client.post(status_url(appointment), {"status": target})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == target


def test_the_cancel_button_cancels_through_the_booking_service(nurse_client):
    # Inside the patient cut-off: the cancellation is recorded, flagged and its time freed.
    appointment = AppointmentFactory(start=at(ahead(1), 9), end=at(ahead(1), 9, 30))
    response = nurse_client.post(status_url(appointment), {"status": Status.CANCELLED})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    assert appointment.cancelled_at is not None
    assert appointment.cancellation_reason == "Cancelled by the clinic."
    assert appointment.late_change
    page = nurse_client.get(response.url).content.decode()
    assert "Marked as a late cancellation." in page
    assert 'data-testid="flag-late"' in page


def test_the_cancel_button_frees_the_time_for_the_waiting_list(nurse_client, open_clinic):
    from bookings.models import WaitingListEntry
    from bookings.services import waiting_list_join

    day = ahead(7)
    while day.weekday() > 4:  # the clinic is open on weekdays
        day += timedelta(days=1)
    waiting = PatientFactory()
    waiting_list_join(
        patient=waiting,
        treatment=treatment("initial-consultation"),
        earliest_date=day,
        latest_date=day,
    )
    room = open_clinic.rooms.get(kind=Room.Kind.CONSULTING)
    consultant = open_clinic.patterns.first().staff
    appointment = AppointmentFactory(
        start=at(day, 10), end=at(day, 10, 30), room=room, consultant=consultant
    )
    assert nurse_client.post(status_url(appointment), {"status": Status.CANCELLED}).status_code == (
        302
    )
    entry = WaitingListEntry.objects.get(patient=waiting)
    assert entry.status == WaitingListEntry.Status.OFFERED
    assert entry.offered_start == at(day, 10)


def test_a_checked_in_consultation_can_still_be_cancelled_from_the_diary(nurse_client):
    appointment = AppointmentFactory(
        start=at(ahead(1), 9), end=at(ahead(1), 9, 30), status=Status.CHECKED_IN
    )
    response = nurse_client.post(status_url(appointment), {"status": Status.CANCELLED})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED


def test_a_booked_appointment_offers_move_and_cancel_pages(nurse_client):
    day = ahead(3)
    booked = AppointmentFactory(start=at(day, 9), end=at(day, 9, 30))
    done = AppointmentFactory(start=at(day, 10), end=at(day, 10, 30), status=Status.COMPLETED)
    html = nurse_client.get(diary_url(day)).content.decode()
    assert reverse("bookings:reschedule", args=[booked.pk]) in html
    assert reverse("bookings:cancel", args=[booked.pk]) in html
    assert reverse("bookings:reschedule", args=[done.pk]) not in html
    assert reverse("bookings:cancel", args=[done.pk]) not in html


def test_the_diary_flags_late_changes_and_no_shows(nurse_client):
    day = ahead(3)
    moved = AppointmentFactory(start=at(day, 9), end=at(day, 9, 30), late_change=True)
    missed = AppointmentFactory(start=at(day, 10), end=at(day, 10, 30), status=Status.NO_SHOW)
    plain = AppointmentFactory(start=at(day, 11), end=at(day, 11, 30))
    cancelled = AppointmentFactory(
        start=at(day, 12),
        end=at(day, 12, 30),
        status=Status.CANCELLED,
        late_change=True,
        cancellation_reason="Unwell <b>today</b>",
    )
    html = nurse_client.get(diary_url(day)).content.decode()

    def row(appointment: Appointment) -> str:
        start = html.index(f'data-testid="appointment-{appointment.pk}"')
        return html[start : html.index("</tr>", start)]

    assert "Late change" in row(moved)
    assert 'data-testid="flag-no-show"' in row(missed)
    assert "flag-" not in row(plain)
    assert "Late cancellation" in row(cancelled)
    assert "Unwell &lt;b&gt;today&lt;/b&gt;" in row(cancelled)


# --- the location filter ----------------------------------------------------------


def test_the_diary_shows_one_location_when_asked(nurse_client):
    from ..factories import LocationFactory

    day = ahead(4)
    leeds = LocationFactory(name="Leeds", slug="leeds")
    york = LocationFactory(name="York", slug="york")
    here = AppointmentFactory(
        start=at(day, 9), end=at(day, 9, 30), room=ConsultingRoomFactory(location=leeds)
    )
    there = AppointmentFactory(
        start=at(day, 9), end=at(day, 9, 30), room=ConsultingRoomFactory(location=york)
    )

    everywhere = nurse_client.get(diary_url(day))
    assert {e.appointment.pk for e in everywhere.context["entries"]} == {here.pk, there.pk}
    assert "York" in everywhere.content.decode()

    response = nurse_client.get(DIARY, {"day": day.isoformat(), "location": leeds.pk})
    assert response.status_code == 200
    assert [e.appointment.pk for e in response.context["entries"]] == [here.pk]
    assert response.context["location"] == leeds
    html = response.content.decode()
    assert there.patient.full_name not in html
    # the day links keep the location
    assert f"day={(day + timedelta(days=1)).isoformat()}&amp;location={leeds.pk}" in html


@pytest.mark.parametrize("value", ["abc", "999999", "99999999999999999999", "<b>1</b>", "-1"])
def test_an_unknown_location_is_a_400(nurse_client, value):
    response = nurse_client.get(DIARY, {"location": value})
    assert response.status_code == 400
    html = response.content.decode()
    assert "That location is not one of the clinic" in html
    assert "<b>1</b>" not in html


def test_an_inactive_location_is_not_offered(nurse_client):
    from ..factories import LocationFactory

    closed = LocationFactory(name="Old site", slug="old-site", is_active=False)
    assert nurse_client.get(DIARY, {"location": closed.pk}).status_code == 400


def test_a_move_the_map_refuses_is_a_409_with_the_services_message(nurse_client):
    day = ahead(2)
    appointment = AppointmentFactory(start=at(day, 9), end=at(day, 9, 30), status=Status.COMPLETED)
    response = nurse_client.post(status_url(appointment), {"status": Status.CHECKED_IN})
    assert response.status_code == 409
    assert "An appointment that is completed cannot become checked in." in (
        response.content.decode()
    )
    assert response.context["day"] == day
    appointment.refresh_from_db()
    assert appointment.status == Status.COMPLETED


def test_a_session_cannot_be_completed_from_the_diary(nurse_client, schedule, course):
    session = schedule(course, at(ahead(4), 10))
    response = nurse_client.post(status_url(session.appointment), {"status": Status.COMPLETED})
    assert response.status_code == 409
    assert "from its session screen" in response.content.decode()
    session.appointment.refresh_from_db()
    assert session.appointment.status == Status.BOOKED


def test_a_session_can_be_checked_in_from_the_diary(nurse_client, schedule, course):
    session = schedule(course, at(ahead(4), 10))
    response = nurse_client.post(status_url(session.appointment), {"status": Status.CHECKED_IN})
    assert response.status_code == 302
    session.appointment.refresh_from_db()
    assert session.appointment.status == Status.CHECKED_IN


@pytest.mark.parametrize("value", ["flying", "", "<b>x</b>"])
def test_an_unknown_status_is_a_400(nurse_client, value):
    appointment = AppointmentFactory(start=at(ahead(2), 9), end=at(ahead(2), 9, 30))
    response = nurse_client.post(status_url(appointment), {"status": value})
    assert response.status_code == 400
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


@pytest.mark.parametrize("pk", [999999, 2**63 + 5])
def test_an_unknown_appointment_is_a_404(nurse_client, pk):
    url = reverse("bookings:appointment_status", args=[pk])
    assert nurse_client.post(url, {"status": Status.CHECKED_IN}).status_code == 404


def _diary_rows(day: date, count: int, nurse, room) -> None:
    """``count`` appointments on ``day``: consultations and treatment sessions in turn."""
    from treatments import services

    for n in range(count):
        start = at(day, 7) + timedelta(minutes=30 * n)
        if n % 2:
            AppointmentFactory(start=start, end=start + timedelta(minutes=30))
        else:
            course = CourseFactory()
            services.session_schedule(
                course=course,
                start=start,
                minutes=30,
                consultant=course.consultant,
                nurse=nurse,
                room=room,
            )


@pytest.mark.parametrize("by_location", [False, True])
def test_the_diary_query_count_does_not_grow_with_appointments(
    nurse_client, nurse, treatment_room, django_assert_max_num_queries, by_location
):
    query = {"location": treatment_room.location_id} if by_location else {}
    day = ahead(5)
    _diary_rows(day, 1, nurse, treatment_room)
    with django_assert_max_num_queries(8) as one:
        response = nurse_client.get(DIARY, {"day": day.isoformat(), **query})
    assert len(response.context["entries"]) == 1

    other_day = ahead(6)
    _diary_rows(other_day, 30, nurse, treatment_room)
    with django_assert_max_num_queries(8) as thirty:
        response = nurse_client.get(DIARY, {"day": other_day.isoformat(), **query})
    assert len(response.context["entries"]) == 30
    assert len(thirty.captured_queries) == len(one.captured_queries)


# --- a consultation in the diary ---------------------------------------------------


def test_a_consultation_is_put_in_the_diary(nurse_client, consultant, consulting_room, patient):
    day = ahead(14)
    data = consultation_data(patient, consultant, consulting_room, day, "14:30")
    data["notes"] = "Prefers afternoons."

    response = nurse_client.post(CONSULTATION_NEW, data)

    assert response.status_code == 302
    assert response.url == diary_url(day)
    appointment = Appointment.objects.get(patient=patient)
    assert timezone.localtime(appointment.start) == at(day, 14, 30)
    assert appointment.start.utcoffset() is not None
    assert appointment.minutes == 30
    assert appointment.consultant == consultant
    assert appointment.room == consulting_room
    assert appointment.notes == "Prefers afternoons."
    assert appointment.status == Status.BOOKED


def test_local_time_is_stored_as_the_right_instant_in_summer(
    nurse_client, consultant, consulting_room, patient
):
    day = next_clock_change(3) + timedelta(days=7)  # British Summer Time
    response = nurse_client.post(
        CONSULTATION_NEW, consultation_data(patient, consultant, consulting_room, day, "09:00")
    )
    assert response.status_code == 302
    appointment = Appointment.objects.get(patient=patient)
    assert appointment.start == datetime(day.year, day.month, day.day, 9, tzinfo=LONDON)
    assert appointment.start.astimezone(LONDON).utcoffset() == timedelta(hours=1)


def test_a_reassessment_can_be_booked(nurse_client, consultant, consulting_room, patient):
    data = consultation_data(
        patient, consultant, consulting_room, ahead(9), treatment=treatment("reassessment").pk
    )
    data["minutes"] = 20
    assert nurse_client.post(CONSULTATION_NEW, data).status_code == 302
    assert Appointment.objects.get(patient=patient).treatment.slug == "reassessment"


def test_a_clash_is_refused_with_the_services_message(
    nurse_client, consultant, consulting_room, patient
):
    day = ahead(14)
    AppointmentFactory(consultant=consultant, start=at(day, 10), end=at(day, 10, 30))

    response = nurse_client.post(
        CONSULTATION_NEW, consultation_data(patient, consultant, consulting_room, day, "10:15")
    )

    assert response.status_code == 400
    assert f"{consultant} already has an appointment at that time." in (response.content.decode())
    assert not Appointment.objects.filter(patient=patient).exists()


def test_a_length_the_treatment_does_not_offer_is_refused(
    nurse_client, consultant, consulting_room, patient
):
    data = consultation_data(
        patient, consultant, consulting_room, ahead(9), treatment=treatment("reassessment").pk
    )
    data["minutes"] = 30
    response = nurse_client.post(CONSULTATION_NEW, data)
    assert response.status_code == 400
    assert "Reassessment is booked for 15 or 20 minutes." in response.content.decode()
    assert not Appointment.objects.filter(patient=patient).exists()


def test_a_local_time_that_does_not_exist_is_refused(
    nurse_client, consultant, consulting_room, patient
):
    # 01:00–02:00 does not happen on the night the clocks go forward.
    day = next_clock_change(3)
    response = nurse_client.post(
        CONSULTATION_NEW, consultation_data(patient, consultant, consulting_room, day, "01:30")
    )
    assert response.status_code == 400
    assert "There is no 01:30 on" in response.content.decode()
    assert "the clocks go forward" in response.content.decode()
    assert not Appointment.objects.filter(patient=patient).exists()


def test_the_example_missing_time_of_march_2026_is_refused(
    nurse_client, consultant, consulting_room, patient
):
    response = nurse_client.post(
        CONSULTATION_NEW,
        consultation_data(patient, consultant, consulting_room, date(2026, 3, 29), "01:30"),
    )
    assert response.status_code == 400
    assert "There is no 01:30 on 29 March 2026" in response.content.decode()


def test_a_local_time_that_happens_twice_is_refused(
    nurse_client, consultant, consulting_room, patient
):
    day = next_clock_change(10)
    response = nurse_client.post(
        CONSULTATION_NEW, consultation_data(patient, consultant, consulting_room, day, "01:30")
    )
    assert response.status_code == 400
    assert "happens twice" in response.content.decode()
    assert not Appointment.objects.filter(patient=patient).exists()


def test_a_day_in_the_past_is_refused(nurse_client, consultant, consulting_room, patient):
    response = nurse_client.post(
        CONSULTATION_NEW,
        consultation_data(patient, consultant, consulting_room, ahead(-1), "10:00"),
    )
    assert response.status_code == 400
    assert "That day has passed" in response.content.decode()


@pytest.mark.parametrize(
    "field, value",
    [
        ("patient", "abc"),
        ("patient", "99999999999999999999"),
        ("patient", ""),
        ("consultant", "-1"),
        ("room", "1 OR 1=1"),
        ("day", "31/02/2027"),
        ("day", "9999-12-31"),
        ("time", "25:00"),
        ("minutes", "100000000000000000000"),
        ("minutes", "45"),
    ],
)
def test_hostile_or_missing_input_is_a_400(
    nurse_client, consultant, consulting_room, patient, field, value
):
    data = consultation_data(patient, consultant, consulting_room, ahead(9))
    data[field] = value
    response = nurse_client.post(CONSULTATION_NEW, data)
    assert response.status_code == 400
    assert not Appointment.objects.exists()


def test_a_treatment_session_cannot_be_booked_as_a_consultation(
    nurse_client, consultant, consulting_room, patient
):
    data = consultation_data(
        patient, consultant, consulting_room, ahead(9), treatment=treatment("microsclerotherapy").pk
    )
    assert nurse_client.post(CONSULTATION_NEW, data).status_code == 400
    assert not Appointment.objects.exists()


def test_a_nurse_cannot_be_booked_as_the_consultant(nurse_client, nurse, consulting_room, patient):
    response = nurse_client.post(
        CONSULTATION_NEW, consultation_data(patient, nurse, consulting_room, ahead(9))
    )
    assert response.status_code == 400
    assert not Appointment.objects.exists()


def test_html_in_the_notes_is_shown_as_text(nurse_client, consultant, consulting_room, patient):
    day = ahead(9)
    data = consultation_data(patient, consultant, consulting_room, day)
    data["notes"] = "<script>alert('x')</script>"
    assert nurse_client.post(CONSULTATION_NEW, data).status_code == 302
    html = nurse_client.get(diary_url(day)).content.decode()
    assert "<script>alert('x')</script>" not in html
    assert "&lt;script&gt;" in html


def test_the_consultation_form_query_count_does_not_grow(
    nurse_client, django_assert_max_num_queries
):
    PatientFactory()
    with django_assert_max_num_queries(10) as few:
        nurse_client.get(CONSULTATION_NEW)
    PatientFactory.create_batch(30)
    ConsultantFactory.create_batch(5)
    ConsultingRoomFactory.create_batch(5)
    with django_assert_max_num_queries(10) as many:
        response = nurse_client.get(CONSULTATION_NEW)
    assert response.content.decode().count('<option value="') >= 31
    assert len(many.captured_queries) == len(few.captured_queries)


# --- the next session of a course ---------------------------------------------------


def test_the_session_form_says_which_session_and_the_earliest_date(nurse_client, course, schedule):
    response = nurse_client.get(session_url(course))
    html = response.content.decode()
    assert "Session 1 of 3" in html
    assert "this is the first session of the course" in html
    assert response.context["form"]["consultant"].value() == course.consultant.pk

    first = ahead(7)
    schedule(course, at(first, 10))
    html = nurse_client.get(session_url(course)).content.decode()
    earliest = first + timedelta(days=28)
    assert "Session 2 of 3" in html
    assert f"Earliest date: {earliest:%A} {earliest.day} {earliest:%B %Y}" in html


def test_the_next_session_is_booked(nurse_client, course, nurse, treatment_room):
    day = ahead(7)
    data = session_data(course, nurse, treatment_room, day, "11:00", minutes=45)
    data["music_request"] = "Nina Simone"

    response = nurse_client.post(session_url(course), data)

    assert response.status_code == 302
    assert response.url == diary_url(day)
    session = SessionRecord.objects.get(course=course)
    assert session.number == 1
    assert session.nurse == nurse
    assert session.consultant == course.consultant
    assert session.music_requested == "Nina Simone"
    appointment = session.appointment
    assert timezone.localtime(appointment.start) == at(day, 11)
    assert appointment.minutes == 45
    assert appointment.room == treatment_room


def test_a_session_beyond_the_plan_is_refused(nurse_client, nurse, treatment_room, schedule):
    course = CourseFactory(planned_sessions=2)
    first = ahead(3)
    schedule(course, at(first, 10))
    schedule(course, at(first + timedelta(days=28), 10))

    page = nurse_client.get(session_url(course)).content.decode()
    assert "All 2 planned sessions are booked or done" in page

    response = nurse_client.post(
        session_url(course),
        session_data(course, nurse, treatment_room, first + timedelta(days=60)),
    )
    assert response.status_code == 400
    assert "All 2 planned sessions of this course are booked or done." in (
        response.content.decode()
    )
    assert course.sessions.count() == 2


def test_a_session_inside_the_gap_is_refused_naming_the_earliest_date(
    nurse_client, course, nurse, treatment_room, schedule
):
    first = ahead(3)
    schedule(course, at(first, 10))

    response = nurse_client.post(
        session_url(course),
        session_data(course, nurse, treatment_room, first + timedelta(days=10)),
    )

    assert response.status_code == 400
    earliest = first + timedelta(days=28)
    assert f"The earliest allowed date is {earliest:%A} {earliest.day} {earliest:%B %Y}." in (
        response.content.decode()
    )
    assert course.sessions.count() == 1


def test_a_session_clash_is_refused(nurse_client, course, nurse, treatment_room):
    day = ahead(5)
    AppointmentFactory(nurse=nurse, start=at(day, 10), end=at(day, 11))
    response = nurse_client.post(
        session_url(course), session_data(course, nurse, treatment_room, day, "10:30")
    )
    assert response.status_code == 400
    assert "already has an appointment at that time" in response.content.decode()
    assert not course.sessions.exists()


def test_a_session_needs_a_treatment_room(nurse_client, course, nurse, consulting_room):
    response = nurse_client.post(
        session_url(course), session_data(course, nurse, consulting_room, ahead(5))
    )
    assert response.status_code == 400
    assert not course.sessions.exists()


def test_a_session_length_must_be_one_the_treatment_offers(
    nurse_client, course, nurse, treatment_room
):
    response = nurse_client.post(
        session_url(course), session_data(course, nurse, treatment_room, ahead(5), minutes=60)
    )
    assert response.status_code == 400
    assert not course.sessions.exists()


def test_a_closed_course_takes_no_more_sessions(nurse_client, nurse, treatment_room):
    course = CourseFactory(status="discontinued", status_reason="Patient moved away.")
    html = nurse_client.get(session_url(course)).content.decode()
    assert "no more sessions can be booked" in html
    response = nurse_client.post(
        session_url(course), session_data(course, nurse, treatment_room, ahead(5))
    )
    assert response.status_code == 400
    assert "no more sessions" in response.content.decode()


@pytest.mark.parametrize("course_id", [999999, 2**63 + 5])
def test_an_unknown_course_is_a_404(nurse_client, course_id):
    assert nurse_client.get(f"/staff/diary/courses/{course_id}/sessions/new/").status_code == 404


def test_the_session_form_query_count_does_not_grow(
    nurse_client, course, schedule, django_assert_max_num_queries
):
    RoomFactory()
    # A first look writes the access-log row; measure repeat looks (one query).
    nurse_client.get(session_url(course))
    with django_assert_max_num_queries(13) as few:
        nurse_client.get(session_url(course))
    first = ahead(3)
    for n in range(3):
        schedule(course, at(first + timedelta(days=28 * n), 10))
    NurseFactory.create_batch(10)
    RoomFactory.create_batch(10)
    with django_assert_max_num_queries(13) as many:
        html = nurse_client.get(session_url(course)).content.decode()
    assert "All 3 planned sessions are booked or done" in html
    assert len(many.captured_queries) == len(few.captured_queries)
