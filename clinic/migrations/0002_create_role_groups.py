"""Create the four role groups with their model permissions.

Safe to run again: groups are fetched or created, permissions added, never removed.
Later migrations add the permissions of models that do not exist yet.
"""

from django.contrib.auth.management import create_permissions
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


def ensure_permissions_exist(apps):
    # Permissions are normally made after migrate finishes; make them now so the
    # groups below can point at them on a fresh database.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def create_role_groups(apps, schema_editor):
    ensure_permissions_exist(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for code in codes:
            app_label, codename = code.split(".")
            permission = Permission.objects.get(
                content_type__app_label=app_label, codename=codename
            )
            group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0001_initial"),
        ("patients", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
