"""Clinic admins may delete availability rows (a mistaken closure, an old pattern).

These are settings of the diary, not clinical records; appointments keep their own times.
Adds only; safe to run again.
"""

from django.db import migrations

ROLE_PERMISSIONS = {
    "Clinic admin": [
        "clinic.delete_openinghours",
        "clinic.delete_closure",
        "clinic.delete_workingpattern",
        "clinic.delete_staffexception",
    ],
}


def grant(apps, schema_editor):
    from clinic.migrations import _permissions

    _permissions.grant(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("clinic", "0005_availability_permissions")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
