"""The appointment email a booking hands to the worker reads its appointment cheaply.

Everything the email and its calendar file show used to come in one query joining ten
tables, which PostgreSQL spent more time planning than running. It is now read in small
queries: two for a consultation, three for a treatment session.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from icalendar import Calendar

from bookings.emails import appointment_email
from bookings.models import Appointment
from bookings.selectors import appointment_for_email, session_of
from bookings.services import appointment_book, appointment_reschedule

from ..factories import AppointmentFactory, local, treatment

pytestmark = pytest.mark.django_db

LINK = "https://clinic.example/my/appointments/1/"
MOST_TABLES = 6  # in any one query of the email


def tables_joined(sql: str) -> int:
    return 1 + len(re.findall(r"\bJOIN\b", sql))


def event_of(message) -> dict:
    return Calendar.from_ical(message.attachments[0][1]).walk("VEVENT")[0]


@pytest.fixture
def consultation() -> Appointment:
    start = local(2026, 6, 2, 10)
    return AppointmentFactory(start=start, end=start + timedelta(minutes=30))


def test_a_consultation_email_reads_two_small_queries(consultation) -> None:
    with CaptureQueriesContext(connection) as queries:
        message = appointment_email(consultation.pk, LINK, kind="booked")
    assert message is not None
    assert len(queries) == 2
    assert max(tables_joined(q["sql"]) for q in queries) <= MOST_TABLES
    # No session record is looked for: a consultation never has one.
    assert not any("treatments_sessionrecord" in q["sql"] for q in queries)
    location = consultation.room.location
    assert f"With:  {consultation.consultant.display_name}" in message.body
    assert f"Where: {location.name}" in message.body
    assert message.to == [consultation.patient.user.email]
    event = event_of(message)
    assert int(event["sequence"]) == 0
    assert location.name in str(event["location"])


def test_what_is_read_is_what_the_email_needs_without_further_queries(consultation) -> None:
    changes = consultation.history.count()
    appointment = appointment_for_email(pk=consultation.pk)
    assert appointment is not None
    with CaptureQueriesContext(connection) as queries:
        assert session_of(appointment) is None
        assert appointment.consultant.user.email == consultation.consultant.user.email
        assert appointment.room.location.name == consultation.room.location.name
        assert appointment.patient.user.email == consultation.patient.user.email
        assert appointment.history_count == changes
    assert len(queries) == 0


def test_the_calendar_sequence_counts_the_changes(open_clinic, patient) -> None:
    with time_machine.travel(local(2026, 5, 4, 8), tick=False):
        booked = appointment_book(
            patient=patient,
            treatment=treatment("initial-consultation"),
            start=local(2026, 5, 8, 10),
            minutes=30,
        )
        appointment_reschedule(appointment=booked, start=local(2026, 5, 11, 14))
        appointment_reschedule(appointment=booked, start=local(2026, 5, 12, 14))
    assert booked.history.count() == 3
    message = appointment_email(booked.pk, LINK, kind="moved")
    assert message is not None
    assert int(event_of(message)["sequence"]) == 2


def test_a_session_email_reads_its_session_in_a_third_query(
    open_clinic, course, consultant
) -> None:
    course.consultant = consultant
    course.save()
    with time_machine.travel(local(2026, 5, 4, 8), tick=False):
        appointment = appointment_book(
            patient=course.patient,
            treatment=course.treatment,
            start=local(2026, 5, 5, 10),
            minutes=45,
        )
    with CaptureQueriesContext(connection) as queries:
        message = appointment_email(appointment.pk, LINK, kind="booked")
    assert message is not None
    assert len(queries) == 3
    assert max(tables_joined(q["sql"]) for q in queries) <= MOST_TABLES
    assert f"session 1 of {course.planned_sessions}" in message.body
    assert "compression stockings" in message.body
    assert "session 1" in str(event_of(message)["summary"])


def test_an_appointment_that_is_gone_reads_nothing_more(consultation) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert appointment_for_email(pk=consultation.pk + 1000) is None
    assert len(queries) == 1
