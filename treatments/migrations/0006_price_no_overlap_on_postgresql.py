"""No two prices for the same item in force on the same day, enforced by PostgreSQL.

The item is (treatment, session length, package size); an empty length or package counts
as its own item, hence the COALESCE. Date ranges include both ends ('[]') and an empty
last day is open-ended. ``Price.clean`` gives the readable message first; this constraint
holds even when two admins save at once. Kept out of the model state so SQLite never
tries to build it.
"""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

from clinic.migrations._postgres import PostgreSQLOnly

ADD = (
    "ALTER TABLE treatments_price ADD CONSTRAINT price_no_overlapping_periods "
    "EXCLUDE USING gist (treatment_id WITH =, (COALESCE(minutes, 0)) WITH =, "
    "(COALESCE(package_sessions, 0)) WITH =, "
    "daterange(effective_from, effective_until, '[]') WITH &&)"
)
DROP = "ALTER TABLE treatments_price DROP CONSTRAINT price_no_overlapping_periods"


class Migration(migrations.Migration):
    dependencies = [("treatments", "0005_price_packages_faqs_public_pages")]

    operations = [BtreeGistExtension(), PostgreSQLOnly(ADD, DROP)]
