from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core import serializers
from django.core.management import CommandError, call_command
from django.test import override_settings

from clinic.demo import DEMO_PASSWORD
from clinic.models import Location, Room, StaffMember, User
from clinic.roles import Role, roles_of
from patients.models import Patient

pytestmark = pytest.mark.django_db

OUR_APPS = ("clinic", "patients", "treatments", "bookings", "aftercare", "auth")


def snapshot() -> str:
    objects = []
    for label in OUR_APPS:
        for model in apps.get_app_config(label).get_models():
            objects.extend(model._default_manager.order_by("pk"))
    return serializers.serialize("json", objects)


@override_settings(DEBUG=True)
def test_seed_demo_creates_the_demo_clinic_and_logins():
    call_command("seed_demo", stdout=StringIO())
    assert Location.objects.count() == 1
    assert Room.objects.filter(kind=Room.Kind.TREATMENT).count() == 2
    assert StaffMember.objects.filter(role=Role.CONSULTANT).count() == 1
    assert StaffMember.objects.filter(role=Role.NURSE).count() == 2
    assert Patient.objects.count() == 6
    for email, role in [
        ("patient@example.com", Role.PATIENT),
        ("nurse@example.com", Role.NURSE),
        ("consultant@example.com", Role.CONSULTANT),
        ("admin@example.com", Role.CLINIC_ADMIN),
    ]:
        user = User.objects.get(email=email)
        assert user.check_password(DEMO_PASSWORD)
        assert role in roles_of(user)
    assert User.objects.get(email="admin@example.com").is_superuser


@override_settings(DEBUG=True)
def test_seed_demo_twice_changes_nothing():
    call_command("seed_demo", stdout=StringIO())
    first = snapshot()
    call_command("seed_demo", stdout=StringIO())
    assert snapshot() == first


@override_settings(DEBUG=False)
def test_seed_demo_refuses_to_run_with_debug_off():
    with pytest.raises(CommandError, match="only runs with DEBUG on"):
        call_command("seed_demo")
    assert not User.objects.filter(email="patient@example.com").exists()


@override_settings(DEBUG=True)
def test_seed_demo_gives_every_screen_something_real():
    from django.utils import timezone

    from treatments.models import Course, SessionRecord
    from treatments.selectors import day_list
    from treatments.services import earliest_next_session_date

    call_command("seed_demo", stdout=StringIO())
    mid = Course.objects.get(patient__user__email="patient@example.com")
    assert mid.sessions.filter(status=SessionRecord.Status.COMPLETED).count() == 1
    assert earliest_next_session_date(mid) <= timezone.localdate()  # next window is open

    today = day_list(day=timezone.localdate())
    assert [e.session.course.patient.user.email for e in today] == ["patient2@example.com"]
    assert today[0].consent_state == "needs_signing"

    flagged = Patient.objects.get(user__email="patient3@example.com").screening
    assert flagged.needs_review


@override_settings(DEBUG=True)
def test_seed_demo_makes_the_diary_bookable():
    from datetime import timedelta

    from django.utils import timezone

    from bookings.availability import BookingWindow, free_slots
    from bookings.models import Appointment, WaitingListEntry
    from bookings.selectors import booking_option_for
    from treatments.models import Treatment

    call_command("seed_demo", stdout=StringIO())
    assert Appointment.objects.filter(
        patient__user__email="patient4@example.com", status="booked"
    ).exists()
    assert WaitingListEntry.objects.filter(patient__user__email="patient5@example.com").exists()
    # Helen can book her next session online, within her course's window.
    helen = Patient.objects.get(user__email="patient@example.com")
    micro = Treatment.objects.get(slug="microsclerotherapy")
    option = booking_option_for(patient=helen, treatment=micro)
    assert option.allowed
    today = timezone.localdate()
    slots = free_slots(
        treatment=micro,
        minutes=30,
        first_day=today,
        last_day=today + timedelta(days=60),
        patient=helen,
        course=option.course,
        window=BookingWindow(),
    )
    assert slots, "the seeded patterns leave free times for the next session"


@override_settings(DEBUG=True)
def test_seed_demo_has_a_patient_in_aftercare_with_pending_reminders():
    from django.utils import timezone

    from aftercare.models import AftercarePlan, CheckIn, Reminder

    call_command("seed_demo", stdout=StringIO())
    plan = AftercarePlan.objects.get(patient__user__email="patient6@example.com")
    assert plan.day_number(timezone.localdate()) == 3
    assert CheckIn.objects.filter(plan=plan, walked=True).count() == 2
    assert Reminder.objects.filter(plan=plan, status="pending").exists()


@override_settings(DEBUG=True)
def test_seed_demo_has_a_full_price_list_with_a_scheduled_change_and_faqs():
    from django.utils import timezone

    from treatments.models import Faq
    from treatments.selectors import price_list

    call_command("seed_demo", stdout=StringIO())
    today = timezone.localdate()
    lines = price_list(on=today)
    kinds = {line.treatment.kind for line in lines if line.current}
    assert kinds == {"consultation", "treatment", "reassessment"}
    assert any(line.package_sessions for line in lines if line.current)
    changes = [p for line in lines for p in line.upcoming]
    assert len(changes) == 1 and changes[0].effective_from > today
    assert Faq.objects.filter(is_published=True, treatment__isnull=True).count() >= 3
    assert Faq.objects.filter(treatment__slug="microsclerotherapy").exists()
