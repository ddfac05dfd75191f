"""Permissions of the booking-engine models for the role groups. Adds only; safe to rerun."""

from django.db import migrations

ROLE_PERMISSIONS = {
    "Nurse": [
        "clinic.view_openinghours",
        "clinic.view_closure",
        "clinic.view_workingpattern",
        "clinic.view_staffexception",
        "treatments.view_price",
        "bookings.view_waitinglistentry",
    ],
    "Consultant": [
        "clinic.view_openinghours",
        "clinic.view_closure",
        "clinic.view_workingpattern",
        "clinic.view_staffexception",
        "treatments.view_price",
        "bookings.view_waitinglistentry",
    ],
    "Clinic admin": [
        "clinic.add_openinghours",
        "clinic.change_openinghours",
        "clinic.view_openinghours",
        "clinic.add_closure",
        "clinic.change_closure",
        "clinic.view_closure",
        "clinic.add_workingpattern",
        "clinic.change_workingpattern",
        "clinic.view_workingpattern",
        "clinic.add_staffexception",
        "clinic.change_staffexception",
        "clinic.view_staffexception",
        "treatments.add_price",
        "treatments.change_price",
        "treatments.view_price",
        "bookings.view_waitinglistentry",
    ],
}


def grant(apps, schema_editor):
    from clinic.migrations import _permissions

    _permissions.grant(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0004_availability_hours_patterns_exceptions"),
        ("treatments", "0004_seed_prices_and_buffers"),
        ("bookings", "0004_no_overlap_on_postgresql"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
