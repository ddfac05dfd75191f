"""An index for the slot search: appointments that overlap a range of days.

The search asks for ``end > range start AND start < range end``. With only the index on
``start`` PostgreSQL walks every appointment since the clinic opened before reaching the
range; on ``(end, start)`` it starts at the range and checks ``start`` in the index.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("bookings", "0004_no_overlap_on_postgresql")]

    operations = [
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(fields=["end", "start"], name="appointment_end_start_idx"),
        ),
    ]
