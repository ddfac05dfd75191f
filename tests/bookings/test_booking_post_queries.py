"""The patient's booking POST: a fixed, small number of queries.

The booking itself checks the rules, searches the day afresh, locks the people and the
room, checks clashes, inserts the appointment with its history and reminders. Its query
count must not grow with what the patient or the clinic already has.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aftercare.models import ReminderPreference
from bookings.forms_patient import format_instant
from bookings.models import Appointment
from bookings.services import appointment_book
from treatments.models import Treatment

from ..factories import AppointmentFactory, local, treatment

pytestmark = pytest.mark.django_db

# The POST's queries: session, user, roles, patient, treatment, the rules' facts (1),
# the day's search (7), the locks, which also read the team (3), clashes (1), price (1),
# the insert and its history (2), the reminder preference and reminders (2), waiting
# list (1), plus one savepoint (2 statements: the test's own transaction turns the
# booking's transaction into one). It was 33 when the team was read before it was locked,
# and 29 while the appointment and its insert had a savepoint each.
BUDGET = 25
NOW = local(2026, 5, 25, 8)


def book(client, start):
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/book/initial-consultation/confirm/",
            {"start": format_instant(start), "minutes": 30, "payer": "self"},
        )
    assert response.status_code == 302, response.content.decode()[:500]
    return len(queries)


def test_a_booking_post_stays_within_its_budget_however_much_is_booked(
    patient_client, patient, open_clinic
) -> None:
    # Made at the patient's first booking (3 queries more, once).
    ReminderPreference.objects.get_or_create(patient=patient)
    with time_machine.travel(NOW, tick=False):
        first = book(patient_client, local(2026, 6, 2, 10))
        Appointment.objects.filter(patient=patient).update(status=Appointment.Status.CANCELLED)
        # A busy diary and a patient with a long history.
        room = open_clinic.rooms.first()
        consultant = Appointment.objects.filter(patient=patient).first().consultant
        for day in range(20):
            start = local(2026, 4, 1, 9) + timedelta(days=day)
            AppointmentFactory(
                patient=patient,
                start=start,
                end=start + timedelta(minutes=30),
                consultant=consultant,
                room=room,
                status=Appointment.Status.COMPLETED,
            )
        for hour in (9, 11, 14):
            AppointmentFactory(
                start=local(2026, 6, 3, hour),
                end=local(2026, 6, 3, hour) + timedelta(minutes=30),
                consultant=consultant,
                room=room,
            )
        again = book(patient_client, local(2026, 6, 3, 10))
    assert first == again
    assert first <= BUDGET


def test_an_option_worked_out_for_another_treatment_is_not_trusted(patient, open_clinic) -> None:
    """The service takes the rules' answer from the page only for the same treatment:
    given one for another, it works the rules out again and refuses a reassessment
    before any session."""
    from bookings.selectors import booking_option_for
    from clinic.errors import DomainError

    consultation = booking_option_for(patient=patient, treatment=treatment("initial-consultation"))
    assert consultation.allowed
    reassessment = Treatment.objects.get(slug="reassessment")
    with time_machine.travel(NOW, tick=False), pytest.raises(DomainError):
        appointment_book(
            patient=patient,
            treatment=reassessment,
            start=local(2026, 6, 2, 10),
            minutes=30,
            option=consultation,
        )


def test_an_option_worked_out_for_another_patient_is_not_trusted(patient, open_clinic) -> None:
    """Another patient's answer (someone free to book a consultation) does not let this
    patient book a second consultation: the service works the rules out for them."""
    from bookings.selectors import booking_option_for
    from clinic.errors import DomainError

    from ..factories import PatientFactory

    consultation = treatment("initial-consultation")
    with time_machine.travel(NOW, tick=False):
        appointment_book(
            patient=patient, treatment=consultation, start=local(2026, 6, 2, 10), minutes=30
        )
        theirs = booking_option_for(patient=PatientFactory(), treatment=consultation)
        assert theirs.allowed
        with pytest.raises(DomainError, match="already have a consultation"):
            appointment_book(
                patient=patient,
                treatment=consultation,
                start=local(2026, 6, 3, 10),
                minutes=30,
                option=theirs,
            )
