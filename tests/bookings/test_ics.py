"""Calendar files for appointments (bookings.ics) and the private feed's token services
(bookings.feeds)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from icalendar import Calendar

from bookings.feeds import calendar_feed_by_token, calendar_feed_for, calendar_feed_reset
from bookings.ics import appointment_ics, feed_ics
from bookings.models import Appointment, CalendarFeed
from bookings.services import appointment_book, appointment_cancel, appointment_reschedule
from bookings.views_patient import feed_appointments_for_patient

from ..factories import AppointmentFactory, local, treatment

pytestmark = pytest.mark.django_db

NOW = local(2026, 3, 2, 8)  # a Monday in winter (GMT); the clocks go forward on 29 March


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def consultation(patient, when: datetime) -> Appointment:
    return appointment_book(
        patient=patient, treatment=treatment("initial-consultation"), start=when, minutes=30
    )


def loaded(appointment: Appointment) -> Appointment:
    return Appointment.objects.select_related(
        "treatment", "room__location", "consultant__user", "session_record__course"
    ).get(pk=appointment.pk)


def only_event(body: bytes):
    calendar = Calendar.from_ical(body)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


def test_one_appointment_as_a_calendar_file(open_clinic, patient, consultant):
    appointment = consultation(patient, local(2026, 3, 10, 14))
    calendar, event = only_event(
        appointment_ics(loaded(appointment), link="https://clinic.example/my/appointments/1/")
    )
    assert str(calendar["version"]) == "2.0"
    assert "Veinline" in str(calendar["prodid"])
    assert str(event["uid"]) == f"appointment-{appointment.pk}@veinline"
    # 14:00 in winter is 14:00 UTC, written in UTC.
    assert event.decoded("dtstart") == datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    assert event.decoded("dtend") == datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
    assert "20260310T140000Z" in event.to_ical().decode()
    assert str(event["summary"]).startswith("Initial consultation")
    location = str(event["location"])
    assert open_clinic.name in location
    assert "2 Test Road, Leeds" in location
    description = str(event["description"])
    assert consultant.display_name in description
    assert "https://clinic.example/my/appointments/1/" in description
    assert str(event["status"]) == "CONFIRMED"
    assert event["sequence"] == 0


def test_summer_times_are_written_in_utc(open_clinic, patient):
    appointment = consultation(patient, local(2026, 3, 30, 9))  # the Monday after clocks go
    _, event = only_event(appointment_ics(loaded(appointment)))
    assert event.decoded("dtstart") == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_a_moved_appointment_keeps_its_uid_and_raises_its_sequence(open_clinic, patient):
    appointment = consultation(patient, local(2026, 3, 10, 14))
    _, before = only_event(appointment_ics(loaded(appointment)))
    appointment_reschedule(appointment=appointment, start=local(2026, 3, 12, 9))
    _, after = only_event(appointment_ics(loaded(appointment)))
    assert after["uid"] == before["uid"]
    assert after["sequence"] > before["sequence"]
    assert after.decoded("dtstart") == datetime(2026, 3, 12, 9, 0, tzinfo=UTC)


def test_a_cancelled_appointment_says_so(open_clinic, patient):
    appointment = consultation(patient, local(2026, 3, 10, 14))
    appointment_cancel(appointment=appointment)
    _, event = only_event(appointment_ics(loaded(appointment)))
    assert str(event["status"]) == "CANCELLED"
    assert event["sequence"] >= 1
    assert "cancelled" in str(event["description"]).lower()


def test_a_session_names_its_number(open_clinic, course, consultant):
    course.consultant = consultant
    course.save()
    appointment = appointment_book(
        patient=course.patient,
        treatment=course.treatment,
        start=local(2026, 3, 10, 10),
        minutes=45,
    )
    _, event = only_event(appointment_ics(loaded(appointment)))
    assert "session 1" in str(event["summary"])
    assert event.decoded("dtend") == datetime(2026, 3, 10, 10, 45, tzinfo=UTC)
    assert "compression stockings" in str(event["description"])


def test_a_feed_holds_many_events_without_a_query_each(
    open_clinic, patient, django_assert_num_queries
):
    for day in (10, 11, 12):
        AppointmentFactory(
            patient=patient, start=local(2026, 3, day, 10), end=local(2026, 3, day, 10, 30)
        )
    appointments = feed_appointments_for_patient(patient=patient)
    with django_assert_num_queries(0):
        body = feed_ics(appointments, name="Veinline appointments", link_for=lambda a: "")
    calendar = Calendar.from_ical(body)
    assert str(calendar["x-wr-calname"]) == "Veinline appointments"
    starts = [e.decoded("dtstart") for e in calendar.walk("VEVENT")]
    assert starts == [datetime(2026, 3, d, 10, 0, tzinfo=UTC) for d in (10, 11, 12)]


# --- the feed's secret token --------------------------------------------------------


def test_a_feed_is_made_once_and_found_by_its_token(patient):
    feed = calendar_feed_for(user=patient.user)
    assert len(feed.token) >= 40
    assert calendar_feed_for(user=patient.user).token == feed.token
    assert CalendarFeed.objects.count() == 1
    assert calendar_feed_by_token(token=feed.token) == feed


def test_resetting_replaces_the_token(patient):
    old = calendar_feed_for(user=patient.user).token
    new = calendar_feed_reset(user=patient.user).token
    assert new != old
    assert calendar_feed_by_token(token=old) is None
    assert calendar_feed_by_token(token=new).user == patient.user
    assert CalendarFeed.objects.count() == 1


def test_resetting_without_a_feed_makes_one(patient):
    assert calendar_feed_reset(user=patient.user).token
    assert CalendarFeed.objects.filter(user=patient.user).count() == 1


@pytest.mark.parametrize("token", ["", "nope", "x" * 65])
def test_unknown_tokens_find_nothing(patient, token):
    calendar_feed_for(user=patient.user)
    assert calendar_feed_by_token(token=token) is None
