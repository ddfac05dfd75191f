"""Starting prices (self-funded, GBP) and the buffer after treatment sessions.

Admins change them afterwards; get-or-create makes this safe to run again.
"""

import datetime
from decimal import Decimal

from django.db import migrations

PRICES = [
    ("initial-consultation", None, "195.00"),
    ("microsclerotherapy", 30, "260.00"),
    ("microsclerotherapy", 45, "340.00"),
    ("foam-sclerotherapy", None, "450.00"),
    ("reassessment", None, "90.00"),
]
BUFFERS = {"microsclerotherapy": 10, "foam-sclerotherapy": 10}


def seed(apps, schema_editor):
    Treatment = apps.get_model("treatments", "Treatment")
    Price = apps.get_model("treatments", "Price")
    start = datetime.date(2026, 1, 1)
    for slug, minutes, amount in PRICES:
        treatment = Treatment.objects.filter(slug=slug).first()
        if treatment is None:
            continue
        Price.objects.get_or_create(
            treatment=treatment,
            minutes=minutes,
            effective_from=start,
            defaults={"amount": Decimal(amount), "currency": "GBP"},
        )
    for slug, minutes in BUFFERS.items():
        Treatment.objects.filter(slug=slug, buffer_minutes=0).update(buffer_minutes=minutes)


class Migration(migrations.Migration):
    dependencies = [("treatments", "0003_buffer_and_prices")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
