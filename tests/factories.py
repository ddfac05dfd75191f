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
