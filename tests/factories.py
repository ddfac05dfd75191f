"""factory_boy factories shared by the whole suite."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth.models import Group

from clinic.models import Location, Room, StaffMember, User
from clinic.roles import Role
from patients.models import Patient

PASSWORD = "a-Strong-test-pass-93"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs: Any) -> None:
        if create and extracted:
            self.groups.add(*Group.objects.filter(name__in=extracted))
        if create:
            self.save()


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    user = factory.SubFactory(UserFactory, roles=[Role.PATIENT])


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location
        django_get_or_create = ("slug",)

    name = "Test Clinic"
    slug = "test-clinic"
    address = "2 Test Road\nLeeds"


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    location = factory.SubFactory(LocationFactory)
    name = factory.Sequence(lambda n: f"Room {n}")
    kind = Room.Kind.TREATMENT


class StaffMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMember
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    role = StaffMember.StaffRole.NURSE

    @factory.post_generation
    def sync_role(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            from clinic.services import staff_member_save

            staff_member_save(staff_member=self)


class NurseFactory(StaffMemberFactory):
    role = StaffMember.StaffRole.NURSE


class ConsultantFactory(StaffMemberFactory):
    role = StaffMember.StaffRole.CONSULTANT
    title = "Dr"


class ClinicAdminFactory(StaffMemberFactory):
    role = StaffMember.StaffRole.CLINIC_ADMIN


# --- clinical ---------------------------------------------------------------------------

from datetime import UTC, datetime, timedelta  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from bookings.models import Appointment  # noqa: E402
from patients.models import Screening  # noqa: E402
from treatments.models import Course, Legs, Treatment  # noqa: E402

LONDON = ZoneInfo("Europe/London")


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """An aware datetime in the clinic's zone (Europe/London in tests)."""
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def treatment(slug: str) -> Treatment:
    """A row of the seeded catalogue (migration treatments/0002)."""
    return Treatment.objects.get(slug=slug)


class ConsultingRoomFactory(RoomFactory):
    name = factory.Sequence(lambda n: f"Consulting room {n}")
    kind = Room.Kind.CONSULTING


class ScreeningFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Screening

    patient = factory.SubFactory(PatientFactory)
    submitted_at = factory.LazyFunction(lambda: datetime.now(tz=LONDON))


class AppointmentFactory(factory.django.DjangoModelFactory):
    """A consultation in the diary (status booked unless told otherwise)."""

    class Meta:
        model = Appointment

    patient = factory.SubFactory(PatientFactory)
    treatment = factory.LazyFunction(lambda: treatment("initial-consultation"))
    # UTC arithmetic: wall-clock steps from a local time would land in the hour skipped in
    # March and end before they start.
    start = factory.Sequence(
        lambda n: local(2026, 3, 2, 9).astimezone(UTC) + timedelta(minutes=30 * n)
    )
    end = factory.LazyAttribute(lambda o: o.start + timedelta(minutes=30))
    consultant = factory.SubFactory(ConsultantFactory)
    room = factory.SubFactory(ConsultingRoomFactory)


class CourseFactory(factory.django.DjangoModelFactory):
    """A planned course of microsclerotherapy on both legs, 3 sessions, 28-day gap."""

    class Meta:
        model = Course

    patient = factory.SubFactory(PatientFactory)
    treatment = factory.LazyFunction(lambda: treatment("microsclerotherapy"))
    consultant = factory.SubFactory(ConsultantFactory)
    consultation = factory.SubFactory(
        AppointmentFactory,
        patient=factory.SelfAttribute("..patient"),
        consultant=factory.SelfAttribute("..consultant"),
        status=Appointment.Status.COMPLETED,
    )
    planned_sessions = 3
    min_gap_days = 28
    legs = Legs.BOTH
    treated_areas = factory.LazyFunction(lambda: ["left_calf_back_medial", "right_knee_back"])
