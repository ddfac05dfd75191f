"""Settings come from the environment; production refuses to start without a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "debug": settings.DEBUG,
    "engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "broker": settings.CELERY_BROKER_URL,
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "time_zone": settings.TIME_ZONE,
    "clinic_time_zone": settings.CLINIC_TIME_ZONE,
    "use_tz": settings.USE_TZ,
    "email_backend": settings.EMAIL_BACKEND,
    "secret_key": settings.SECRET_KEY,
}))
"""

CLEARED = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CLINIC_TIME_ZONE",
    "EMAIL_BACKEND",
    "DJANGO_DEBUG",
)


PRINT_DELIVERY_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "batch_size": settings.REMINDER_SEND_BATCH_SIZE,
    "batch_seconds": settings.REMINDER_SEND_BATCH_SECONDS,
    "worker_conn_max_age": settings.WORKER_DB_CONN_MAX_AGE,
    "db_reuse_max": settings.CELERY_DB_REUSE_MAX,
    "web_conn_max_age": settings.DATABASES["default"]["CONN_MAX_AGE"],
}))
"""


def load_settings(
    module: str, script: str = PRINT_SETTINGS, **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in CLEARED}
    clean.update(env, DJANGO_SETTINGS_MODULE=module)
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_development_defaults_need_nothing_but_python():
    result = load_settings("clinic.settings.dev")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["debug"] is True
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["db_name"].endswith("var/db.sqlite3")
    assert values["broker"] == "filesystem://"
    assert values["time_zone"] == "Europe/London"
    assert values["use_tz"] is True
    assert values["email_backend"] == "django.core.mail.backends.console.EmailBackend"


def test_environment_variables_are_read():
    result = load_settings(
        "clinic.settings.dev",
        DATABASE_URL="postgres://clinic:secret@db.internal:5433/veinline",
        CELERY_BROKER_URL="redis://cache.internal:6380/2",
        ALLOWED_HOSTS="clinic.example.com, www.clinic.example.com",
        CLINIC_TIME_ZONE="Europe/Dublin",
        SECRET_KEY="s3cret-from-env",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["db_name"] == "veinline"
    assert values["broker"] == "redis://cache.internal:6380/2"
    assert values["allowed_hosts"] == ["clinic.example.com", "www.clinic.example.com"]
    assert values["time_zone"] == "Europe/Dublin"
    assert values["secret_key"] == "s3cret-from-env"


def test_production_refuses_to_start_without_a_secret_key():
    result = load_settings("clinic.settings.production")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_starts_with_a_secret_key_and_debug_off():
    result = load_settings("clinic.settings.production", SECRET_KEY="x" * 60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["debug"] is False


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_malformed_boolean_is_refused_not_guessed(value):
    result = load_settings("clinic.settings.dev", DJANGO_DEBUG=value)
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be a boolean" in result.stderr


def test_reminder_batches_and_worker_connections_have_safe_defaults():
    result = load_settings("clinic.settings.production", PRINT_DELIVERY_SETTINGS, SECRET_KEY="x")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["batch_size"] == 50
    assert 0 < values["batch_seconds"] < 60  # below the soft time limit
    # Workers keep their connection (and Celery's fixup lets them), and so do production
    # web processes, for a minute.
    assert values["worker_conn_max_age"] > 0
    assert values["db_reuse_max"]
    assert values["web_conn_max_age"] == 60


def test_web_processes_keep_their_connection_only_in_production():
    development = load_settings("clinic.settings.dev", PRINT_DELIVERY_SETTINGS)
    assert json.loads(development.stdout)["web_conn_max_age"] == 0
    switched_off = load_settings(
        "clinic.settings.production", PRINT_DELIVERY_SETTINGS, SECRET_KEY="x", DB_CONN_MAX_AGE="0"
    )
    assert json.loads(switched_off.stdout)["web_conn_max_age"] == 0


def test_reminder_batches_and_worker_connections_come_from_the_environment():
    result = load_settings(
        "clinic.settings.dev",
        PRINT_DELIVERY_SETTINGS,
        REMINDER_SEND_BATCH_SIZE="20",
        REMINDER_SEND_BATCH_SECONDS="10",
        WORKER_DB_CONN_MAX_AGE="0",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert (values["batch_size"], values["batch_seconds"]) == (20, 10)
    assert (values["worker_conn_max_age"], values["db_reuse_max"]) == (0, None)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REMINDER_SEND_BATCH_SECONDS", "60", "below the task soft time limit"),
        ("REMINDER_SEND_BATCH_SECONDS", "0", "below the task soft time limit"),
        ("REMINDER_SEND_BATCH_SIZE", "0", "at least 1"),
        ("REMINDER_DISPATCH_LIMIT", "0", "REMINDER_DISPATCH_LIMIT must be at least 1"),
        ("WORKER_DB_CONN_MAX_AGE", "long", "must be a whole number"),
    ],
)
def test_unsafe_reminder_delivery_settings_are_refused(name, value, message):
    result = load_settings("clinic.settings.dev", **{name: value})
    assert result.returncode != 0
    assert message in result.stderr
