"""Demo data for development: one clinic with staff and patients to log in as.

Every step is get-or-create, so running the seed twice changes nothing.
"""

from __future__ import annotations

from django.db import transaction

from patients.models import Patient
from patients.services import patient_sign_up

from .models import Location, Room, StaffMember, User
from .services import staff_member_create, staff_member_save

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - development only; seed_demo refuses without DEBUG

DEMO_LOGINS = [
    ("patient@example.com", "Patient"),
    ("nurse@example.com", "Nurse"),
    ("consultant@example.com", "Consultant"),
    ("admin@example.com", "Clinic admin (superuser)"),
]

STAFF = [
    # email, title, first, last, role
    ("consultant@example.com", "Mr", "Anil", "Mehta", StaffMember.StaffRole.CONSULTANT),
    ("nurse@example.com", "", "Grace", "Okafor", StaffMember.StaffRole.NURSE),
    ("nurse2@example.com", "", "Tom", "Birch", StaffMember.StaffRole.NURSE),
]

PATIENTS = [
    ("patient@example.com", "Helen", "Carter"),
    ("patient2@example.com", "Priya", "Shah"),
    ("patient3@example.com", "Margaret", "Doyle"),
]


def seed_location() -> Location:
    location, _ = Location.objects.get_or_create(
        slug="central",
        defaults={
            "name": "Veinline Central Clinic",
            "address": "1 Example Street\nLondon\nW1A 1AA",
            "phone": "020 7946 0000",
            "email": "clinic@example.com",
        },
    )
    for name, kind in [
        ("Treatment room 1", Room.Kind.TREATMENT),
        ("Treatment room 2", Room.Kind.TREATMENT),
        ("Consulting room", Room.Kind.CONSULTING),
    ]:
        Room.objects.get_or_create(location=location, name=name, defaults={"kind": kind})
    return location


def seed_people(location: Location) -> None:
    for email, title, first, last, role in STAFF:
        if not StaffMember.objects.filter(user__email=email).exists():
            staff_member_create(
                email=email,
                first_name=first,
                last_name=last,
                role=role,
                title=title,
                password=DEMO_PASSWORD,
                locations=[location],
            )
    if not User.objects.filter(email="admin@example.com").exists():
        admin = User.objects.create_superuser(
            email="admin@example.com",
            password=DEMO_PASSWORD,
            first_name="Alex",
            last_name="Admin",
        )
        staff = staff_member_save(
            staff_member=StaffMember(user=admin, role=StaffMember.StaffRole.CLINIC_ADMIN)
        )
        staff.locations.set([location])
    for email, first, last in PATIENTS:
        if not Patient.objects.filter(user__email=email).exists():
            patient_sign_up(email=email, first_name=first, last_name=last, password=DEMO_PASSWORD)


@transaction.atomic
def seed_demo() -> None:
    location = seed_location()
    seed_people(location)
