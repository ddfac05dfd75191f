"""The Celery app. Settings come from Django's settings under the CELERY_ namespace."""

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings.dev")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def keep_database_connections(**kwargs: Any) -> None:
    """In a worker, keep the database connection between tasks (``WORKER_DB_CONN_MAX_AGE``).

    Opening a PostgreSQL connection for every task costs more than a small task itself.
    Celery's Django fixup leaves connections open when ``CELERY_DB_REUSE_MAX`` is set; here
    they get Django's own care at both ends of each task instead, as after a web request:
    closed when older than the maximum age or after an error, and checked before their
    first use. Runs in the worker's main process, before the pool's processes start.
    """
    from django.conf import settings

    max_age = settings.WORKER_DB_CONN_MAX_AGE
    if max_age <= 0:
        return
    for database in settings.DATABASES.values():
        database["CONN_MAX_AGE"] = max_age
        database["CONN_HEALTH_CHECKS"] = True
    signals.task_prerun.connect(close_old_database_connections)
    signals.task_postrun.connect(close_old_database_connections)


def close_old_database_connections(sender: Any = None, **kwargs: Any) -> None:
    """Django's end-of-request clean-up, around a task (never an eager one: that runs inside
    its caller, whose transaction must not lose its connection)."""
    from django.db import close_old_connections

    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()
