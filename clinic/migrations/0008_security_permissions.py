"""Clinic admins may read the record-access log. Adds only; safe to run again."""

from django.db import migrations

ROLE_PERMISSIONS = {"Clinic admin": ["patients.view_recordaccess"]}


def grant(apps, schema_editor):
    from clinic.migrations import _permissions

    _permissions.grant(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0007_faq_price_and_closure_permissions"),
        ("patients", "0004_record_access_log"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
