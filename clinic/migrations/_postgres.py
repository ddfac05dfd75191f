"""Shared by migrations that add what only PostgreSQL can hold (exclusion constraints).

SQLite, the one-command local default, skips them; there the services' own checks under
a transaction guard a single process (docs/decisions/0003-no-double-booking.md).
"""

from django.db import migrations


class PostgreSQLOnly(migrations.RunSQL):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
