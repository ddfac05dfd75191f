"""Create the four role groups with their model permissions.

Safe to run again: groups are fetched or created, permissions added, never removed.
Later migrations add the permissions of models that do not exist yet.
"""

from django.db import migrations

ROLE_PERMISSIONS = {
    "Patient": [],
    "Nurse": [
        "clinic.view_location",
        "clinic.view_room",
        "clinic.view_staffmember",
        "patients.view_patient",
    ],
    "Consultant": [
        "clinic.view_location",
        "clinic.view_room",
        "clinic.view_staffmember",
        "patients.view_patient",
    ],
    "Clinic admin": [
        "clinic.add_location",
        "clinic.change_location",
        "clinic.view_location",
        "clinic.add_room",
        "clinic.change_room",
        "clinic.view_room",
        "clinic.add_staffmember",
        "clinic.change_staffmember",
        "clinic.view_staffmember",
        "clinic.add_user",
        "clinic.change_user",
        "clinic.view_user",
        "patients.view_patient",
    ],
}


def create_role_groups(apps, schema_editor):
    from clinic.migrations import _permissions

    _permissions.grant(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0001_initial"),
        ("patients", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
