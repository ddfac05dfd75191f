"""Clinic admins write FAQs, may remove a price that is not yet in force, and act on
patients' requests to close their accounts. Nurses and consultants may read FAQs (prices
they could already read). Adds only; safe to run again.
"""

from django.db import migrations

ROLE_PERMISSIONS = {
    "Clinic admin": [
        "treatments.add_faq",
        "treatments.change_faq",
        "treatments.delete_faq",
        "treatments.view_faq",
        "treatments.delete_price",
        "patients.view_accountclosurerequest",
        "patients.change_accountclosurerequest",
    ],
    "Nurse": ["treatments.view_faq"],
    "Consultant": ["treatments.view_faq"],
}


def grant(apps, schema_editor):
    from clinic.migrations import _permissions

    _permissions.grant(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0006_admins_remove_availability_rows"),
        ("treatments", "0007_public_page_text"),
        ("patients", "0003_account_closure_requests"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
