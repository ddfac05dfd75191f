"""The staff calendars (week view), booking, moving and cancelling on a patient's behalf,
and the staff calendar feed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import icalendar
import pytest
import time_machine
from django.urls import reverse

from bookings.availability import BookingWindow, free_slots
from bookings.models import Appointment, CalendarFeed, WaitingListEntry
from bookings.services import (
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    waiting_list_join,
)
from clinic.errors import DomainError
from clinic.models import Closure, OpeningHours, Room
from treatments.models import SessionRecord

from ..factories import (
    AppointmentFactory,
    ClinicAdminFactory,
    ConsultantFactory,
    ConsultingRoomFactory,
    LocationFactory,
    NurseFactory,
    PatientFactory,
    local,
    treatment,
)

pytestmark = pytest.mark.django_db

Status = Appointment.Status

# Monday 4 May 2026, 08:00 clinic time; the clinic is open Mon–Fri 09:00–17:00.
NOW = local(2026, 5, 4, 8)
TODAY = date(2026, 5, 4)

WEEK = reverse("bookings:week")
BOOK = reverse("bookings:book_for_patient")
FEED_SETTINGS = reverse("bookings:staff_feed_settings")


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def consultation():
    return treatment("initial-consultation")


def reschedule_url(appointment: Appointment) -> str:
    return reverse("bookings:reschedule", args=[appointment.pk])


def cancel_url(appointment: Appointment) -> str:
    return reverse("bookings:cancel", args=[appointment.pk])


def feed_url(token: str) -> str:
    return reverse("bookings:staff_feed", args=[token])


def slot_value(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def book_data(patient, day: date, start: datetime | None = None, **extra) -> dict:
    data = {
        "patient": patient.pk,
        "option": "initial-consultation",
        "minutes": "30",
        "day": day.isoformat(),
        "payer": "self",
        "preauthorisation_code": "",
        "music_request": "",
    }
    if start is not None:
        data["start"] = slot_value(start)
    data.update(extra)
    return data


def book_online(patient, start: datetime) -> Appointment:
    return appointment_book(patient=patient, treatment=consultation(), start=start, minutes=30)


@pytest.fixture
def clinic_admin_client(client, clinic_admin):
    client.force_login(clinic_admin.user)
    return client


@pytest.fixture
def booked(open_clinic, patient) -> Appointment:
    """A consultation on Friday 8 May at 10:00, booked online by the patient."""
    return book_online(patient, local(2026, 5, 8, 10))


# --- who may open which page ------------------------------------------------------------


@pytest.fixture
def pages(booked):
    return [
        WEEK,
        BOOK,
        reschedule_url(booked),
        cancel_url(booked),
        FEED_SETTINGS,
    ]


def test_anonymous_visitors_are_sent_to_log_in(client, pages, booked, patient):
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login")), url
    client.post(cancel_url(booked), {"reason": "x"})
    client.post(reschedule_url(booked), {"start": slot_value(local(2026, 5, 11, 10))})
    client.post(BOOK, book_data(patient, TODAY, local(2026, 5, 4, 15)))
    client.post(FEED_SETTINGS)
    booked.refresh_from_db()
    assert (booked.status, booked.start) == (Status.BOOKED, local(2026, 5, 8, 10))
    assert Appointment.objects.count() == 1
    assert not CalendarFeed.objects.exists()


def test_patients_are_refused(patient_client, pages, booked, patient):
    for url in pages:
        assert patient_client.get(url).status_code == 403, url
    assert patient_client.post(cancel_url(booked), {"reason": "x"}).status_code == 403
    response = patient_client.post(
        reschedule_url(booked), {"start": slot_value(local(2026, 5, 11, 10))}
    )
    assert response.status_code == 403
    response = patient_client.post(BOOK, book_data(patient, TODAY, local(2026, 5, 4, 15)))
    assert response.status_code == 403
    assert patient_client.post(FEED_SETTINGS).status_code == 403
    booked.refresh_from_db()
    assert (booked.status, booked.start) == (Status.BOOKED, local(2026, 5, 8, 10))
    assert Appointment.objects.count() == 1
    assert not CalendarFeed.objects.exists()


@pytest.mark.parametrize("factory", [NurseFactory, ConsultantFactory, ClinicAdminFactory])
def test_nurses_consultants_and_clinic_admins_may_use_the_pages(client, pages, factory):
    client.force_login(factory().user)
    for url in pages:
        assert client.get(url).status_code == 200, url


def test_a_login_without_a_staff_record_cannot_act(client, booked, patient):
    # A superuser counts as a clinic admin but has no staff record to book in the name of.
    from clinic.models import User

    admin = User.objects.create_superuser(email="root@example.org", password="x-Strong-93-pw")
    client.force_login(admin)
    assert client.post(cancel_url(booked), {"reason": "Unwell"}).status_code == 403
    booked.refresh_from_db()
    assert booked.status == Status.BOOKED
    assert client.get(FEED_SETTINGS).status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        reverse("bookings:reschedule", args=[999999]),
        reverse("bookings:cancel", args=[999999]),
        reverse("bookings:reschedule", args=[2**63 + 5]),
        reverse("bookings:cancel", args=[2**63 + 5]),
    ],
)
def test_an_unknown_appointment_is_a_404(nurse_client, url):
    assert nurse_client.get(url).status_code == 404
    assert nurse_client.post(url, {"reason": "x", "start": "x"}).status_code == 404


# --- the week -------------------------------------------------------------------------


def week_of(response) -> dict[date, list[int]]:
    return {d.day: [a.pk for a in d.appointments] for d in response.context["days"]}


def test_the_week_runs_monday_to_sunday_from_any_day(nurse_client, open_clinic):
    response = nurse_client.get(WEEK, {"start": "2026-05-06"})  # a Wednesday
    assert response.status_code == 200
    days = [d.day for d in response.context["days"]]
    assert days == [date(2026, 5, 4) + timedelta(days=n) for n in range(7)]
    html = response.content.decode()
    assert "Week of 4 May to 10 May 2026" in html
    assert f"{WEEK}?start=2026-04-27" in html
    assert f"{WEEK}?start=2026-05-11" in html


def test_the_week_shows_this_week_by_default(nurse_client):
    response = nurse_client.get(WEEK)
    assert response.context["monday"] == date(2026, 5, 4)


def test_the_week_shows_each_appointment_with_who_where_what(
    nurse_client, open_clinic, consultant, nurse, patient
):
    consulting = open_clinic.rooms.get(kind=Room.Kind.CONSULTING)
    first = AppointmentFactory(
        start=local(2026, 5, 5, 9), end=local(2026, 5, 5, 9, 30), room=consulting
    )
    second = AppointmentFactory(
        start=local(2026, 5, 5, 14),
        end=local(2026, 5, 5, 14, 45),
        room=open_clinic.rooms.get(kind=Room.Kind.TREATMENT),
        treatment=treatment("microsclerotherapy"),
        consultant=consultant,
        nurse=nurse,
        status=Status.NO_SHOW,
    )
    AppointmentFactory(start=local(2026, 5, 11, 9), end=local(2026, 5, 11, 9, 30))

    response = nurse_client.get(WEEK, {"start": "2026-05-04"})

    assert week_of(response)[date(2026, 5, 5)] == [first.pk, second.pk]
    assert sum(len(v) for v in week_of(response).values()) == 2
    html = response.content.decode()
    block = html[html.index(f'data-testid="appointment-{second.pk}"') :]
    block = block[: block.index("</div>\n        </div>")]
    for text in [
        "14:00–14:45",
        second.patient.full_name,
        "Microsclerotherapy",
        consultant.display_name,
        nurse.display_name,
        "Treatment room",
        "Did not attend",
        'data-testid="flag-no-show"',
    ]:
        assert text in block, text


def test_the_week_shows_opening_hours_and_closures(nurse_client, open_clinic):
    Closure.objects.create(location=open_clinic, date=date(2026, 5, 6), reason="Staff training")
    Closure.objects.create(location=None, date=date(2026, 5, 8), reason="Bank holiday")
    OpeningHours.objects.create(location=open_clinic, weekday=5, opens=time(9), closes=time(12))

    response = nurse_client.get(WEEK, {"start": "2026-05-04", "location": open_clinic.pk})

    days = {d.day: d for d in response.context["days"]}
    assert days[date(2026, 5, 4)].hours == ["09:00–17:00"]
    assert days[date(2026, 5, 6)].hours == []
    assert days[date(2026, 5, 6)].closures == ["Staff training"]
    assert days[date(2026, 5, 8)].closures == ["Bank holiday"]
    assert days[date(2026, 5, 9)].hours == ["09:00–12:00"]
    assert days[date(2026, 5, 10)].hours == []
    html = response.content.decode()
    assert "Closed: Staff training" in html
    assert "Closed: Bank holiday" in html
    assert "Open 09:00–12:00" in html


def test_the_week_for_every_location_names_each_locations_hours(nurse_client, open_clinic):
    york = LocationFactory(name="York", slug="york")
    OpeningHours.objects.create(location=york, weekday=0, opens=time(10), closes=time(13))
    OpeningHours.objects.create(location=york, weekday=0, opens=time(14), closes=time(18))
    Closure.objects.create(location=york, date=date(2026, 5, 5), reason="Flooded")

    response = nurse_client.get(WEEK, {"start": "2026-05-04"})

    days = {d.day: d for d in response.context["days"]}
    assert days[date(2026, 5, 4)].hours == [
        "Test Clinic: 09:00–17:00",
        "York: 10:00–13:00, 14:00–18:00",
    ]
    assert days[date(2026, 5, 5)].hours == ["Test Clinic: 09:00–17:00"]
    assert days[date(2026, 5, 5)].closures == ["York: Flooded"]


def test_the_week_of_one_location_leaves_out_the_others(nurse_client, open_clinic):
    york = LocationFactory(name="York", slug="york")
    OpeningHours.objects.create(location=york, weekday=0, opens=time(10), closes=time(13))
    here = AppointmentFactory(
        start=local(2026, 5, 4, 9),
        end=local(2026, 5, 4, 9, 30),
        room=ConsultingRoomFactory(location=open_clinic),
    )
    there = AppointmentFactory(
        start=local(2026, 5, 4, 9),
        end=local(2026, 5, 4, 9, 30),
        room=ConsultingRoomFactory(location=york),
    )
    everywhere = nurse_client.get(WEEK, {"start": "2026-05-04"})
    assert set(week_of(everywhere)[date(2026, 5, 4)]) == {here.pk, there.pk}

    response = nurse_client.get(WEEK, {"start": "2026-05-04", "location": york.pk})

    assert week_of(response)[date(2026, 5, 4)] == [there.pk]
    assert response.context["days"][0].hours == ["10:00–13:00"]
    assert f"start=2026-05-11&amp;location={york.pk}" in response.content.decode()


def test_the_week_the_clocks_go_back(nurse_client):
    # Sunday 25 October 2026: 02:00 BST becomes 01:00 GMT; the local day has 25 hours.
    saturday = AppointmentFactory(start=local(2026, 10, 24, 9), end=local(2026, 10, 24, 9, 30))
    early_sunday = AppointmentFactory(
        start=datetime(2026, 10, 24, 23, 30, tzinfo=UTC),  # 00:30 BST on Sunday
        end=datetime(2026, 10, 24, 23, 45, tzinfo=UTC),
    )
    second_one_thirty = AppointmentFactory(
        start=datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # 01:30 GMT, the second 01:30
        end=datetime(2026, 10, 25, 1, 45, tzinfo=UTC),
    )
    sunday = AppointmentFactory(
        start=datetime(2026, 10, 25, 9, tzinfo=UTC),  # 09:00 GMT
        end=datetime(2026, 10, 25, 9, 30, tzinfo=UTC),
    )
    late_sunday = AppointmentFactory(
        start=datetime(2026, 10, 25, 23, 30, tzinfo=UTC),
        end=datetime(2026, 10, 25, 23, 45, tzinfo=UTC),
    )
    AppointmentFactory(  # Monday 26 October 00:15 GMT: next week
        start=datetime(2026, 10, 26, 0, 15, tzinfo=UTC),
        end=datetime(2026, 10, 26, 0, 30, tzinfo=UTC),
    )
    AppointmentFactory(  # Sunday 18 October 23:30 BST: the week before
        start=datetime(2026, 10, 18, 22, 30, tzinfo=UTC),
        end=datetime(2026, 10, 18, 22, 45, tzinfo=UTC),
    )

    response = nurse_client.get(WEEK, {"start": "2026-10-21"})

    week = week_of(response)
    assert list(week) == [date(2026, 10, 19) + timedelta(days=n) for n in range(7)]
    assert week[date(2026, 10, 24)] == [saturday.pk]
    assert week[date(2026, 10, 25)] == [
        early_sunday.pk,
        second_one_thirty.pk,
        sunday.pk,
        late_sunday.pk,
    ]
    assert sum(len(v) for v in week.values()) == 5
    html = response.content.decode()
    sunday_cell = html[html.index('data-testid="day-2026-10-25"') :]
    for text in ["00:30–00:45", "01:30–01:45", "09:00–09:30", "23:30–23:45"]:
        assert text in sunday_cell, text
    saturday_cell = html[
        html.index('data-testid="day-2026-10-24"') : html.index('data-testid="day-2026-10-25"')
    ]
    assert "09:00–09:30" in saturday_cell


def test_the_week_the_clocks_go_forward(nurse_client):
    # Sunday 29 March 2026: 01:00 GMT becomes 02:00 BST; the local day has 23 hours.
    monday = AppointmentFactory(
        start=datetime(2026, 3, 23, 0, 0, tzinfo=UTC), end=datetime(2026, 3, 23, 0, 30, tzinfo=UTC)
    )
    before_change = AppointmentFactory(
        start=datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # 00:30 GMT
        end=datetime(2026, 3, 29, 0, 45, tzinfo=UTC),
    )
    after_change = AppointmentFactory(
        start=datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # 02:00 BST
        end=datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
    )
    late_sunday = AppointmentFactory(
        start=datetime(2026, 3, 29, 22, 30, tzinfo=UTC),  # 23:30 BST
        end=datetime(2026, 3, 29, 22, 45, tzinfo=UTC),
    )
    AppointmentFactory(  # 00:30 BST on Monday 30 March is 23:30 UTC on Sunday: next week
        start=datetime(2026, 3, 29, 23, 30, tzinfo=UTC),
        end=datetime(2026, 3, 29, 23, 45, tzinfo=UTC),
    )

    response = nurse_client.get(WEEK, {"start": "2026-03-29"})

    week = week_of(response)
    assert list(week)[0] == date(2026, 3, 23)
    assert week[date(2026, 3, 23)] == [monday.pk]
    assert week[date(2026, 3, 29)] == [before_change.pk, after_change.pk, late_sunday.pk]
    assert sum(len(v) for v in week.values()) == 4
    html = response.content.decode()
    sunday_cell = html[html.index('data-testid="day-2026-03-29"') :]
    for text in ["00:30–00:45", "02:00–02:30", "23:30–23:45"]:
        assert text in sunday_cell, text
    assert "00:00–00:30" in html


@pytest.mark.parametrize(
    "query",
    [
        {"start": "2026-02-30"},
        {"start": "yesterday"},
        {"start": "<script>x</script>"},
        {"start": "9999-12-31"},
        {"location": "abc"},
        {"location": "99999999999999999999"},
    ],
)
def test_bad_week_input_is_a_400(nurse_client, query):
    response = nurse_client.get(WEEK, query)
    assert response.status_code == 400
    assert "<script>x</script>" not in response.content.decode()


def _week_rows(monday: date, count: int, room: Room, nurse, consultant) -> None:
    for n in range(count):
        day = monday + timedelta(days=n % 7)
        start = local(day.year, day.month, day.day, 8) + timedelta(minutes=30 * (n // 7))
        AppointmentFactory(
            start=start,
            end=start + timedelta(minutes=30),
            room=room,
            nurse=nurse if n % 2 else None,
            consultant=consultant,
            late_change=bool(n % 3),
        )


@pytest.mark.parametrize("by_location", [False, True])
def test_the_week_query_count_does_not_grow_with_appointments(
    nurse_client, open_clinic, nurse, consultant, django_assert_max_num_queries, by_location
):
    room = open_clinic.rooms.get(kind=Room.Kind.CONSULTING)
    extra = {"location": open_clinic.pk} if by_location else {}
    _week_rows(date(2026, 5, 4), 1, room, nurse, consultant)
    with django_assert_max_num_queries(10) as one:
        response = nurse_client.get(WEEK, {"start": "2026-05-04", **extra})
    assert sum(len(d.appointments) for d in response.context["days"]) == 1

    _week_rows(date(2026, 5, 11), 40, room, nurse, consultant)
    with django_assert_max_num_queries(10) as forty:
        response = nurse_client.get(WEEK, {"start": "2026-05-11", **extra})
    assert sum(len(d.appointments) for d in response.context["days"]) == 40
    assert len(forty.captured_queries) == len(one.captured_queries)


# --- booking on a patient's behalf ------------------------------------------------------


def test_the_booking_page_starts_with_the_patient(nurse_client, open_clinic):
    response = nurse_client.get(BOOK)
    assert response.status_code == 200
    assert "form" not in response.context
    assert "Choose a patient" in response.content.decode()


def test_choosing_a_patient_offers_what_they_may_book(nurse_client, open_clinic, patient):
    response = nurse_client.get(BOOK, {"patient": patient.pk})
    assert response.status_code == 200
    form = response.context["form"]
    assert [key for key, _ in form.fields["option"].choices] == ["initial-consultation"]
    html = response.content.decode()
    # Booked only through the clinic, and not yet possible: listed with the reason.
    assert "Foam sclerotherapy cannot be booked now" in html
    assert "Microsclerotherapy cannot be booked now" in html
    assert "slots" not in response.context


def test_an_htmx_refresh_returns_the_panel_only(nurse_client, open_clinic, patient):
    response = nurse_client.get(BOOK, {"patient": patient.pk}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="book-panel"')
    assert "<html" not in html
    assert 'name="option"' in html


def test_staff_see_todays_free_times_inside_the_notice(nurse_client, open_clinic, patient):
    response = nurse_client.get(BOOK, book_data(patient, TODAY))
    assert response.status_code == 200
    starts = [s.slot.start for s in response.context["slots"]]
    assert starts[0] == local(2026, 5, 4, 9)
    assert starts[-1] == local(2026, 5, 4, 16, 30)
    assert len(starts) == 31
    # The patient online sees nothing on this day: 24 hours' notice.
    online = free_slots(
        treatment=consultation(),
        minutes=30,
        first_day=TODAY,
        last_day=TODAY,
        patient=patient,
        window=BookingWindow(),
    )
    assert TODAY not in online
    assert f'value="{slot_value(local(2026, 5, 4, 9))}"' in response.content.decode()


def test_free_times_already_past_are_not_offered(nurse_client, nurse, open_clinic, patient):
    with time_machine.travel(local(2026, 5, 4, 12, 5), tick=False):
        # Logged in at 08:00 and idle since: staff sessions end after 30 minutes.
        assert nurse_client.get(BOOK, book_data(patient, TODAY)).status_code == 302
        nurse_client.force_login(nurse.user)
        response = nurse_client.get(BOOK, book_data(patient, TODAY))
    assert response.context["slots"][0].slot.start == local(2026, 5, 4, 12, 15)


def test_staff_book_inside_24_hours_which_the_patient_could_not(
    nurse_client, nurse, open_clinic, patient
):
    start = local(2026, 5, 4, 15)
    with pytest.raises(DomainError, match="24 hours"):
        book_online(patient, start)

    response = nurse_client.post(BOOK, book_data(patient, TODAY, start, music_request="Abba"))

    assert response.status_code == 302
    assert response.url == f"{reverse('bookings:diary')}?day=2026-05-04"
    appointment = Appointment.objects.get(patient=patient)
    assert appointment.start == start
    assert appointment.treatment == consultation()
    assert not appointment.booked_online
    assert appointment.music_request == "Abba"
    page = nurse_client.get(response.url).content.decode()
    assert f"Initial consultation booked for {patient.full_name}" in page


def test_staff_book_a_course_session_for_the_patient(nurse_client, open_clinic, course, consultant):
    course.consultant = consultant
    course.save()
    patient = course.patient
    key = f"microsclerotherapy:{course.pk}"
    response = nurse_client.get(
        BOOK, {"patient": patient.pk, "option": key, "day": "2026-05-05", "minutes": "45"}
    )
    assert response.status_code == 200
    assert response.context["choice"].course == course
    assert response.context["slots"][0].nurse is not None

    response = nurse_client.post(
        BOOK,
        book_data(patient, date(2026, 5, 5), local(2026, 5, 5, 11), option=key, minutes="45"),
    )

    assert response.status_code == 302
    session = SessionRecord.objects.get(course=course)
    assert session.number == 1
    assert session.appointment.minutes == 45


def test_the_course_gap_shows_the_reason_and_no_times(
    nurse_client, open_clinic, course, consultant
):
    course.consultant = consultant
    course.save()
    appointment_book(
        patient=course.patient,
        treatment=course.treatment,
        start=local(2026, 5, 5, 10),
        minutes=30,
        by_staff=consultant,
    )
    key = f"microsclerotherapy:{course.pk}"
    response = nurse_client.get(
        BOOK, {"patient": course.patient.pk, "option": key, "day": "2026-05-12", "minutes": "30"}
    )
    assert response.context["slots"] == []
    html = response.content.decode()
    assert "can be booked from Tuesday 2 June 2026" in html
    assert "There are no free times on this day" in html


def test_a_time_taken_meanwhile_is_a_409(nurse_client, open_clinic, patient):
    start = local(2026, 5, 5, 10)
    book_online(PatientFactory(), start)
    response = nurse_client.post(BOOK, book_data(patient, date(2026, 5, 5), start))
    assert response.status_code == 409
    assert "that time was just taken" in response.content.decode()
    assert not Appointment.objects.filter(patient=patient).exists()
    # the free times of that day are shown again, without the taken one
    assert start not in [s.slot.start for s in response.context["slots"]]


def test_an_insured_booking_needs_the_code(nurse_client, open_clinic, patient):
    response = nurse_client.post(
        BOOK, book_data(patient, date(2026, 5, 5), local(2026, 5, 5, 10), payer="insured")
    )
    assert response.status_code == 400
    assert "pre-authorisation code" in response.content.decode()
    assert not Appointment.objects.exists()


def test_a_second_consultation_is_refused_with_the_rule(nurse_client, open_clinic, patient):
    book_online(patient, local(2026, 5, 8, 10))
    response = nurse_client.post(BOOK, book_data(patient, date(2026, 5, 5), local(2026, 5, 5, 10)))
    assert response.status_code == 400
    assert Appointment.objects.filter(patient=patient).count() == 1


@pytest.mark.parametrize(
    "field, value",
    [
        ("patient", "abc"),
        ("patient", "99999999999999999999"),
        ("option", "microsclerotherapy"),
        ("option", "<b>x</b>"),
        ("minutes", "45"),
        ("minutes", "100000000000000000000"),
        ("day", "2026-02-30"),
        ("day", "2026-05-01"),
        ("start", "tomorrow"),
        ("start", "2026-05-05T10:00:00"),
        ("start", "2026-05-01T10:00:00+01:00"),
        ("start", "x" * 500),
        ("payer", "the queen"),
    ],
)
def test_hostile_booking_input_is_a_400(nurse_client, open_clinic, patient, field, value):
    data = book_data(patient, date(2026, 5, 5), local(2026, 5, 5, 10))
    data[field] = value
    response = nurse_client.post(BOOK, data)
    assert response.status_code == 400
    assert "<b>x</b>" not in response.content.decode()
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    "query",
    [{"day": "2026-02-30"}, {"day": "1999-01-01"}, {"patient": "abc"}],
)
def test_hostile_booking_queries_are_a_400(nurse_client, open_clinic, patient, query):
    data = {"patient": patient.pk, "option": "initial-consultation", "minutes": "30"}
    data.update(query)
    assert nurse_client.get(BOOK, data).status_code == 400


def test_a_changed_patient_falls_back_to_what_they_may_book(nurse_client, open_clinic, patient):
    # The treatment left over from another patient is not an error on the page.
    response = nurse_client.get(
        BOOK, {"patient": patient.pk, "option": "microsclerotherapy:99", "minutes": "45"}
    )
    assert response.status_code == 200
    assert response.context["form"]["option"].value() == "initial-consultation"
    assert response.context["form"]["minutes"].value() == "30"


def test_the_booking_page_query_count_does_not_grow(
    nurse_client, open_clinic, patient, consultant, django_assert_max_num_queries
):
    room = open_clinic.rooms.get(kind=Room.Kind.CONSULTING)
    query = {"patient": patient.pk, "option": "initial-consultation", "minutes": "30"}

    AppointmentFactory(
        start=local(2026, 5, 5, 9), end=local(2026, 5, 5, 9, 15), room=room, consultant=consultant
    )
    # A first look writes the access-log row; measure repeat looks (one query).
    nurse_client.get(BOOK, {**query, "day": "2026-05-05"})
    with django_assert_max_num_queries(31) as few:
        response = nurse_client.get(BOOK, {**query, "day": "2026-05-05"})
    assert len(response.context["slots"]) == 30

    for n in range(30):
        start = local(2026, 5, 6, 9) + timedelta(minutes=15 * n)
        AppointmentFactory(
            start=start, end=start + timedelta(minutes=15), room=room, consultant=consultant
        )
    with django_assert_max_num_queries(31) as many:
        response = nurse_client.get(BOOK, {**query, "day": "2026-05-06"})
    assert len(response.context["slots"]) == 1
    assert len(many.captured_queries) == len(few.captured_queries)


# --- cancelling on the patient's behalf -------------------------------------------------


def test_staff_cancel_inside_the_cutoff_which_the_patient_could_not(
    nurse_client, nurse, open_clinic, patient
):
    appointment = appointment_book(
        patient=patient,
        treatment=consultation(),
        start=local(2026, 5, 5, 16),
        minutes=30,
        by_staff=nurse,
    )
    with pytest.raises(DomainError, match="call the clinic"):
        appointment_cancel(appointment=appointment)

    page = nurse_client.get(cancel_url(appointment))
    assert page.status_code == 200
    assert "marked as a late cancellation" in page.content.decode()

    response = nurse_client.post(cancel_url(appointment), {"reason": "Called in unwell."})

    assert response.status_code == 302
    assert response.url == f"{reverse('bookings:diary')}?day=2026-05-05"
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    assert appointment.late_change
    assert appointment.cancellation_reason == "Called in unwell."
    assert appointment.cancelled_at == NOW
    diary = nurse_client.get(response.url).content.decode()
    assert "marked as a late change" in diary
    assert 'data-testid="flag-late"' in diary
    assert "Called in unwell." in diary


def test_a_cancellation_in_good_time_is_not_late(nurse_client, booked):
    page = nurse_client.get(cancel_url(booked)).content.decode()
    assert "late-warning" not in page
    assert nurse_client.post(cancel_url(booked), {"reason": "Holiday"}).status_code == 302
    booked.refresh_from_db()
    assert booked.status == Status.CANCELLED
    assert not booked.late_change


def test_cancelling_frees_the_time_for_booking_again(nurse_client, booked, patient):
    friday = {"patient": PatientFactory().pk, "option": "initial-consultation", "minutes": "30"}
    friday["day"] = "2026-05-08"
    before = nurse_client.get(BOOK, friday).context["slots"]
    assert booked.start not in [s.slot.start for s in before]

    nurse_client.post(cancel_url(booked), {"reason": "Found another date."})

    after = nurse_client.get(BOOK, friday).context["slots"]
    assert booked.start in [s.slot.start for s in after]


def test_cancelling_offers_the_time_to_the_waiting_list(nurse_client, booked):
    waiting = PatientFactory()
    waiting_list_join(
        patient=waiting,
        treatment=consultation(),
        earliest_date=date(2026, 5, 8),
        latest_date=date(2026, 5, 9),
    )
    nurse_client.post(cancel_url(booked), {"reason": "Found another date."})
    entry = WaitingListEntry.objects.get(patient=waiting)
    assert entry.status == WaitingListEntry.Status.OFFERED
    assert entry.offered_start == booked.start


def test_cancelling_a_session_keeps_its_record(nurse_client, open_clinic, course, consultant):
    course.consultant = consultant
    course.save()
    appointment = appointment_book(
        patient=course.patient,
        treatment=course.treatment,
        start=local(2026, 5, 6, 10),
        minutes=30,
        by_staff=consultant,
    )
    response = nurse_client.post(cancel_url(appointment), {"reason": "Patient has a cold."})
    assert response.status_code == 302
    session = SessionRecord.objects.get(appointment=appointment)
    assert session.status == SessionRecord.Status.ABANDONED
    assert session.abandoned_reason == "Patient has a cold."


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_a_cancellation_needs_a_reason(nurse_client, booked, reason):
    response = nurse_client.post(cancel_url(booked), {"reason": reason})
    assert response.status_code == 400
    booked.refresh_from_db()
    assert booked.status == Status.BOOKED


def test_cancelling_twice_is_a_409(nurse_client, booked):
    nurse_client.post(cancel_url(booked), {"reason": "Holiday"})
    page = nurse_client.get(cancel_url(booked)).content.decode()
    assert "so it cannot be cancelled" in page
    response = nurse_client.post(cancel_url(booked), {"reason": "Again"})
    assert response.status_code == 409
    booked.refresh_from_db()
    assert booked.cancellation_reason == "Holiday"


def test_html_in_the_reason_is_shown_as_text(nurse_client, booked):
    nurse_client.post(cancel_url(booked), {"reason": "<script>alert(1)</script>"})
    diary = nurse_client.get(f"{reverse('bookings:diary')}?day=2026-05-08").content.decode()
    assert "<script>alert(1)</script>" not in diary
    assert "&lt;script&gt;" in diary


# --- moving on the patient's behalf -----------------------------------------------------


def test_the_move_page_shows_free_times_without_the_current_one(nurse_client, booked):
    response = nurse_client.get(reschedule_url(booked))
    assert response.status_code == 200
    assert response.context["day"] == date(2026, 5, 8)
    starts = [s.slot.start for s in response.context["slots"]]
    assert booked.start not in starts
    # its own time does not block the times next to it
    assert local(2026, 5, 8, 9, 45) in starts
    assert local(2026, 5, 8, 10, 15) in starts

    other = nurse_client.get(reschedule_url(booked), {"day": "2026-05-11"})
    assert local(2026, 5, 11, 10) in [s.slot.start for s in other.context["slots"]]


def test_staff_move_inside_the_cutoff_and_it_is_flagged(nurse_client, nurse, open_clinic, patient):
    appointment = appointment_book(
        patient=patient,
        treatment=consultation(),
        start=local(2026, 5, 5, 9),
        minutes=30,
        by_staff=nurse,
    )
    with pytest.raises(DomainError, match="call the clinic"):
        appointment_reschedule(appointment=appointment, start=local(2026, 5, 5, 14))
    assert "late-warning" in nurse_client.get(reschedule_url(appointment)).content.decode()

    response = nurse_client.post(
        reschedule_url(appointment),
        {"day": "2026-05-04", "start": slot_value(local(2026, 5, 4, 14))},
    )

    assert response.status_code == 302
    assert response.url == f"{reverse('bookings:diary')}?day=2026-05-04"
    appointment.refresh_from_db()
    assert appointment.start == local(2026, 5, 4, 14)
    assert appointment.late_change
    assert "marked as a late change" in nurse_client.get(response.url).content.decode()


def test_a_move_in_good_time_is_not_late(nurse_client, booked):
    response = nurse_client.post(
        reschedule_url(booked), {"start": slot_value(local(2026, 5, 11, 10))}
    )
    assert response.status_code == 302
    booked.refresh_from_db()
    assert booked.start == local(2026, 5, 11, 10)
    assert not booked.late_change


def test_moving_frees_the_old_time(nurse_client, booked):
    nurse_client.post(reschedule_url(booked), {"start": slot_value(local(2026, 5, 11, 10))})
    query = {
        "patient": PatientFactory().pk,
        "option": "initial-consultation",
        "minutes": "30",
        "day": "2026-05-08",
    }
    assert booked.start in [s.slot.start for s in nurse_client.get(BOOK, query).context["slots"]]


def test_a_session_move_that_breaks_the_gap_names_the_neighbour(
    nurse_client, open_clinic, course, consultant
):
    course.consultant = consultant
    course.save()
    first = appointment_book(
        patient=course.patient,
        treatment=course.treatment,
        start=local(2026, 5, 5, 10),
        minutes=30,
        by_staff=consultant,
    )
    second = appointment_book(
        patient=course.patient,
        treatment=course.treatment,
        start=local(2026, 6, 2, 10),
        minutes=30,
        by_staff=consultant,
    )
    page = nurse_client.get(reschedule_url(second), {"day": "2026-05-19"})
    assert local(2026, 5, 19, 10) in [s.slot.start for s in page.context["slots"]]

    response = nurse_client.post(
        reschedule_url(second), {"day": "2026-05-19", "start": slot_value(local(2026, 5, 19, 10))}
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "at least 28 days after session 1" in html
    assert "Tuesday 2 June 2026" in html
    second.refresh_from_db()
    assert second.start == local(2026, 6, 2, 10)
    # and moving the first one too close to the second names the second
    response = nurse_client.post(
        reschedule_url(first), {"start": slot_value(local(2026, 5, 20, 10))}
    )
    assert response.status_code == 400
    assert "before session 2" in response.content.decode()


def test_a_time_taken_meanwhile_is_a_409_on_moving(nurse_client, booked):
    start = local(2026, 5, 11, 10)
    book_online(PatientFactory(), start)
    response = nurse_client.post(reschedule_url(booked), {"start": slot_value(start)})
    assert response.status_code == 409
    assert "just taken" in response.content.decode()
    booked.refresh_from_db()
    assert booked.start == local(2026, 5, 8, 10)


def test_a_cancelled_appointment_cannot_be_moved(nurse_client, booked):
    nurse_client.post(cancel_url(booked), {"reason": "Holiday"})
    page = nurse_client.get(reschedule_url(booked))
    assert "so it cannot be moved" in page.content.decode()
    assert page.context["slots"] == []
    response = nurse_client.post(
        reschedule_url(booked), {"start": slot_value(local(2026, 5, 11, 10))}
    )
    assert response.status_code == 409
    booked.refresh_from_db()
    assert booked.start == local(2026, 5, 8, 10)


@pytest.mark.parametrize(
    "start", ["", "soon", "2026-05-11T10:00:00", "2026-05-01T10:00:00+00:00", "9" * 100]
)
def test_hostile_move_input_is_a_400(nurse_client, booked, start):
    response = nurse_client.post(reschedule_url(booked), {"start": start})
    assert response.status_code == 400
    booked.refresh_from_db()
    assert booked.start == local(2026, 5, 8, 10)


@pytest.mark.parametrize("day", ["2026-02-30", "2026-05-01", "<b>x</b>"])
def test_a_bad_day_on_the_move_page_is_a_400(nurse_client, booked, day):
    response = nurse_client.get(reschedule_url(booked), {"day": day})
    assert response.status_code == 400
    assert "<b>x</b>" not in response.content.decode()


def test_the_move_page_query_count_does_not_grow(
    nurse_client, booked, consultant, open_clinic, django_assert_max_num_queries
):
    room = open_clinic.rooms.get(kind=Room.Kind.CONSULTING)
    # A first look writes the access-log row; measure repeat looks (one query).
    nurse_client.get(reschedule_url(booked), {"day": "2026-05-11"})
    with django_assert_max_num_queries(21) as few:
        response = nurse_client.get(reschedule_url(booked), {"day": "2026-05-11"})
    assert len(response.context["slots"]) == 31
    for n in range(30):
        start = local(2026, 5, 12, 9) + timedelta(minutes=15 * n)
        AppointmentFactory(
            start=start, end=start + timedelta(minutes=15), room=room, consultant=consultant
        )
    with django_assert_max_num_queries(21) as many:
        response = nurse_client.get(reschedule_url(booked), {"day": "2026-05-12"})
    assert len(response.context["slots"]) == 1
    assert len(many.captured_queries) == len(few.captured_queries)


# --- the staff calendar feed ------------------------------------------------------------


def parse(response) -> icalendar.Calendar:
    assert response["Content-Type"].startswith("text/calendar")
    return icalendar.Calendar.from_ical(response.content)


def test_the_feed_page_creates_then_resets_the_address(consultant_client, consultant, client):
    page = consultant_client.get(FEED_SETTINGS)
    assert "Create my calendar address" in page.content.decode()
    assert not CalendarFeed.objects.exists()

    assert consultant_client.post(FEED_SETTINGS).status_code == 302
    feed = CalendarFeed.objects.get(user=consultant.user)
    assert len(feed.token) >= 43
    page = consultant_client.get(FEED_SETTINGS).content.decode()
    assert f"http://testserver{feed_url(feed.token)}" in page
    old = feed.token

    assert consultant_client.post(FEED_SETTINGS).status_code == 302
    feed.refresh_from_db()
    assert feed.token != old
    client.logout()
    assert client.get(feed_url(old)).status_code == 404
    assert client.get(feed_url(feed.token)).status_code == 200


def test_the_feed_lists_the_staff_members_appointments(client, consultant, nurse, open_clinic):
    feed = CalendarFeed.objects.create(user=nurse.user, token="nurse-token-123")
    treatment_room = open_clinic.rooms.get(kind=Room.Kind.TREATMENT)
    patient = PatientFactory(user__first_name="Ada", user__last_name="Lovelace")
    as_nurse = AppointmentFactory(
        patient=patient,
        start=local(2026, 5, 6, 10),
        end=local(2026, 5, 6, 10, 45),
        nurse=nurse,
        consultant=consultant,
        room=treatment_room,
        treatment=treatment("microsclerotherapy"),
    )
    past = AppointmentFactory(
        start=NOW - timedelta(days=29), end=NOW - timedelta(days=29) + timedelta(minutes=30),
        nurse=nurse, status=Status.COMPLETED,
    )  # fmt: skip
    AppointmentFactory(start=NOW - timedelta(days=31), end=NOW - timedelta(days=31, minutes=-30),
                       nurse=nurse)  # fmt: skip
    AppointmentFactory(start=NOW + timedelta(days=181), end=NOW + timedelta(days=181, minutes=30),
                       nurse=nurse)  # fmt: skip
    AppointmentFactory(start=local(2026, 5, 7, 10), end=local(2026, 5, 7, 10, 30), nurse=nurse,
                       status=Status.CANCELLED)  # fmt: skip
    AppointmentFactory(start=local(2026, 5, 7, 11), end=local(2026, 5, 7, 11, 30))  # not hers

    response = client.get(feed_url(feed.token))

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    events = parse(response).walk("VEVENT")
    assert [str(e["uid"]) for e in events] == [
        f"appointment-{past.pk}@veinline",
        f"appointment-{as_nurse.pk}@veinline",
    ]
    event = events[1]
    assert event.decoded("dtstart") == as_nurse.start
    assert event.decoded("dtend") == as_nurse.end
    assert str(event["summary"]) == "Microsclerotherapy: Ada L."
    assert "Lovelace" not in response.content.decode()
    assert "Treatment room" in str(event["location"])
    assert consultant.display_name in str(event["description"])


def test_a_consultants_feed_has_their_appointments(client, consultant, booked):
    AppointmentFactory(start=local(2026, 5, 7, 11), end=local(2026, 5, 7, 11, 30))  # not theirs
    feed = CalendarFeed.objects.create(user=consultant.user, token="consultant-token")
    events = parse(client.get(feed_url(feed.token))).walk("VEVENT")
    assert [str(e["uid"]) for e in events] == [f"appointment-{booked.pk}@veinline"]


@pytest.mark.parametrize("token", ["nope", "x" * 65, "%3Cscript%3E", "a" * 43])
def test_an_unknown_token_is_a_404(client, token):
    CalendarFeed.objects.create(user=NurseFactory().user, token="the-real-token")
    assert client.get(feed_url(token)).status_code == 404


def test_a_patients_token_is_not_a_staff_feed(client, patient):
    feed = CalendarFeed.objects.create(user=patient.user, token="patient-token")
    assert client.get(feed_url(feed.token)).status_code == 404


def test_a_former_staff_members_feed_stops(client, nurse):
    feed = CalendarFeed.objects.create(user=nurse.user, token="leaver-token")
    nurse.is_active = False
    nurse.save()
    assert client.get(feed_url(feed.token)).status_code == 404


def test_the_feed_is_get_only(client, nurse):
    feed = CalendarFeed.objects.create(user=nurse.user, token="nurse-token")
    assert client.post(feed_url(feed.token)).status_code == 405


def test_the_feed_query_count_does_not_grow(client, nurse, django_assert_max_num_queries):
    feed = CalendarFeed.objects.create(user=nurse.user, token="nurse-token")
    AppointmentFactory(start=local(2026, 5, 6, 9), end=local(2026, 5, 6, 9, 30), nurse=nurse)
    with django_assert_max_num_queries(3) as one:
        assert len(parse(client.get(feed_url(feed.token))).walk("VEVENT")) == 1
    for n in range(40):
        start = local(2026, 5, 7, 9) + timedelta(hours=n)
        AppointmentFactory(start=start, end=start + timedelta(minutes=30), nurse=nurse)
    with django_assert_max_num_queries(3) as many:
        assert len(parse(client.get(feed_url(feed.token))).walk("VEVENT")) == 41
    assert len(many.captured_queries) == len(one.captured_queries)
