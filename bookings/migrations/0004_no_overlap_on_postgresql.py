"""No double booking, enforced by PostgreSQL itself.

Exclusion constraints over ``tstzrange(start, end, '[)')`` (back-to-back appointments
touch but do not overlap) for each consultant, nurse, room and patient, over every
appointment that holds time (all but cancelled). SQLite cannot hold these: there the
service's own checks under a transaction guard a single process. The constraints are
kept out of the model state on purpose, so that SQLite never tries to build them.
"""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

from clinic.migrations._postgres import PostgreSQLOnly

COLUMNS = {
    "consultant": "consultant_id",
    "nurse": "nurse_id",
    "room": "room_id",
    "patient": "patient_id",
}


def add(name: str, column: str) -> str:
    return (
        f"ALTER TABLE bookings_appointment ADD CONSTRAINT appointment_no_overlap_{name} "
        f"EXCLUDE USING gist ({column} WITH =, tstzrange(start, \"end\", '[)') WITH &&) "
        f"WHERE (status <> 'cancelled' AND {column} IS NOT NULL)"
    )


def drop(name: str) -> str:
    return f"ALTER TABLE bookings_appointment DROP CONSTRAINT appointment_no_overlap_{name}"


class Migration(migrations.Migration):
    dependencies = [("bookings", "0003_payer_price_cancellation_waiting_list_feed")]

    operations = [
        BtreeGistExtension(),
        *[PostgreSQLOnly(add(name, column), drop(name)) for name, column in COLUMNS.items()],
    ]
