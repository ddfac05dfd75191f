"""Give the role groups the permissions of the clinical models (treatments, bookings,
patients' screening). Adds only; safe to run again."""

from django.db import migrations


READ_CLINICAL = [
    "treatments.view_treatment",
    "treatments.view_course",
    "treatments.view_courseextension",
    "treatments.view_consentform",
    "treatments.view_signedconsent",
    "treatments.view_sessionrecord",
    "treatments.view_stockingfitting",
    "treatments.view_adverseevent",
    "bookings.view_appointment",
    "patients.view_screening",
]

ROLE_PERMISSIONS = {
    "Nurse": READ_CLINICAL
    + [
        "treatments.add_signedconsent",
        "treatments.change_sessionrecord",
        "treatments.add_stockingfitting",
        "treatments.change_stockingfitting",
        "treatments.add_adverseevent",
        "bookings.add_appointment",
        "bookings.change_appointment",
    ],
    "Consultant": READ_CLINICAL
    + [
        "treatments.add_course",
        "treatments.change_course",
        "treatments.add_courseextension",
        "treatments.add_signedconsent",
        "treatments.change_sessionrecord",
        "treatments.add_stockingfitting",
        "treatments.add_adverseevent",
        "bookings.add_appointment",
        "bookings.change_appointment",
        "patients.change_screening",
    ],
    "Clinic admin": READ_CLINICAL
    + [
        "treatments.add_treatment",
        "treatments.change_treatment",
        "treatments.add_consentform",
        "treatments.change_consentform",
        "bookings.add_appointment",
        "bookings.change_appointment",
    ],
}


def grant(apps, schema_editor):
    from clinic.migrations import _permissions

    _permissions.grant(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0002_create_role_groups"),
        ("treatments", "0002_seed_catalogue"),
        ("bookings", "0002_appointment_links"),
        ("patients", "0002_profile_payer_contact_and_screening"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
