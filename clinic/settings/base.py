"""Settings shared by every environment, read from environment variables.

Per-environment files (dev, test, production) import this module and change
only what differs. App code never reads os.environ directly: it reads
``django.conf.settings``.
"""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("VEINLINE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), not {raw!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from exc


# --- Core -------------------------------------------------------------------
DEBUG = env_bool("DJANGO_DEBUG", False)

_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"  # noqa: S105  # nosec B105
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable "
            "(a development default is used only when DJANGO_DEBUG is on)."
        )
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "clinic.apps.ClinicConfig",
    "patients.apps.PatientsConfig",
    "treatments.apps.TreatmentsConfig",
    "bookings.apps.BookingsConfig",
    "aftercare.apps.AftercareConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    # Sessions with their user, address and device, so people can see and end them.
    "qsessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "simple_history",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "qsessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "clinic.middleware.StaffSecurityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a lock-out into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"
ASGI_APPLICATION = "clinic.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clinic.context_processors.clinic",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A health check or a page must not hang for minutes on a dead server.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int(
        "DB_CONNECT_TIMEOUT", 5
    )

# Celery workers keep their database connection between tasks for this many seconds
# (checked before the first query of each task), instead of opening one for every task;
# 0 closes it after every task. Web processes use DB_CONN_MAX_AGE. Applied by
# clinic/celery.py when a worker starts.
WORKER_DB_CONN_MAX_AGE = env_int("WORKER_DB_CONN_MAX_AGE", 300)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Users and login ----------------------------------------------------------
AUTH_USER_MODEL = "clinic.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24  # a reset link is good for one day

# --- Time and language -----------------------------------------------------------
LANGUAGE_CODE = "en-gb"
USE_I18N = True
USE_TZ = True
# The clinic's own zone: what people see and when local reminders fire.
# Everything is stored in UTC whatever this says.
CLINIC_TIME_ZONE = os.environ.get("CLINIC_TIME_ZONE", "Europe/London")
TIME_ZONE = CLINIC_TIME_ZONE

# --- Static files -------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# In development whitenoise serves straight from the app folders, no collectstatic needed.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Email ---------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# For EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend: one file per message.
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH") or str(VAR_DIR / "mail")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Veinline clinic <clinic@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery -------------------------------------------------------------------
# Default: Celery's filesystem transport under var/, so a newcomer needs nothing
# but Python. CELERY_BROKER_URL=redis://... switches to Redis.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
CELERY_BROKER_FOLDER = VAR_DIR / "celery" / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(CELERY_BROKER_FOLDER),
        "data_folder_out": str(CELERY_BROKER_FOLDER),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": 5,
        # Longer than the longest task's time limit, so a slow task is not redelivered.
        "visibility_timeout": 60 * 60,
    }
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or (
    CELERY_BROKER_URL
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
    else f"file://{VAR_DIR / 'celery' / 'results'}"
)
CELERY_RESULT_EXPIRES = 60 * 60 * 24
CELERY_TIMEZONE = CLINIC_TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "veinline")
# Celery's Django fixup closes the database connection around every task unless this is
# set; with persistent worker connections it only recycles them every this many tasks, and
# clinic/celery.py closes them by age and on errors as Django does after a request.
CELERY_DB_REUSE_MAX = 1000 if WORKER_DB_CONN_MAX_AGE > 0 else None
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {
        "task": "clinic.tasks.heartbeat",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "dispatch-reminders": {
        "task": "aftercare.tasks.dispatch_due_reminders",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Expired sessions (rows and cached copies) go once a day, as `clearsessions` would.
    "clear-expired-sessions": {
        "task": "clinic.tasks.clear_expired_sessions",
        "schedule": 24 * 60 * 60.0,
        "options": {"expires": 60 * 60},
    },
}
HEALTHZ_TIMEOUT_SECONDS = 2

# The embedded defaults keep their files under var/; make the folders so that a fresh
# clone runs without a setup step. (A read-only var/ in production is not an error.)
for _folder in (
    CELERY_BROKER_FOLDER,
    VAR_DIR / "celery" / "processed",
    VAR_DIR / "celery" / "control",
    VAR_DIR / "celery" / "results",
    STATIC_ROOT,
):
    with contextlib.suppress(OSError):
        _folder.mkdir(parents=True, exist_ok=True)

# --- Logging ---------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Lock-outs are warnings; every log-in and clean-up at INFO is noise.
        "axes": {"level": os.environ.get("AXES_LOG_LEVEL", "WARNING")},
    },
}

# --- The clinic ------------------------------------------------------------------
CLINIC_NAME = os.environ.get("CLINIC_NAME", "Veinline")
# The address people reach the site at, for links in emails and text messages.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
SMS_BACKEND = os.environ.get("SMS_BACKEND", "aftercare.sms.ConsoleSmsBackend")
# A reminder claimed for sending but not sent within this time is claimed again.
REMINDER_STALE_CLAIM_SECONDS = env_int("REMINDER_STALE_CLAIM_SECONDS", 600)
# Reminders handed to the worker in one task (each still locked and sent on its own), and how
# long one task may go on sending before it passes the rest to a new task (below the soft
# time limit, so a slow mail server never has a batch stopped in the middle).
REMINDER_SEND_BATCH_SIZE = env_int("REMINDER_SEND_BATCH_SIZE", 50)
REMINDER_SEND_BATCH_SECONDS = env_int("REMINDER_SEND_BATCH_SECONDS", 30)
if not 0 < REMINDER_SEND_BATCH_SECONDS < CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured(
        "REMINDER_SEND_BATCH_SECONDS must be above 0 and below the task soft time limit "
        f"({CELERY_TASK_SOFT_TIME_LIMIT} s)."
    )
if REMINDER_SEND_BATCH_SIZE < 1:
    raise ImproperlyConfigured("REMINDER_SEND_BATCH_SIZE must be at least 1.")
# At most this many due reminders are claimed by one dispatch run (beat runs it every
# minute): size it for the clinic's busiest minute, e.g. every walk reminder at 09:00.
REMINDER_DISPATCH_LIMIT = env_int("REMINDER_DISPATCH_LIMIT", 5000)
if REMINDER_DISPATCH_LIMIT < 1:
    raise ImproperlyConfigured("REMINDER_DISPATCH_LIMIT must be at least 1.")

# --- Booking rules (hours/days; the clinic may change them per deployment) -----------------
BOOKING_MIN_NOTICE_HOURS = env_int("BOOKING_MIN_NOTICE_HOURS", 24)
BOOKING_HORIZON_DAYS = env_int("BOOKING_HORIZON_DAYS", 183)  # six months: a whole course
BOOKING_SLOT_STEP_MINUTES = env_int("BOOKING_SLOT_STEP_MINUTES", 15)
# Patients change or cancel online up to this many hours before; later, the clinic does.
PATIENT_CHANGE_CUTOFF_HOURS = env_int("PATIENT_CHANGE_CUTOFF_HOURS", 48)
# How long the clinical record is kept after the last treatment or contact, when a
# patient closes their account (docs/retention.md).
CLINICAL_RECORD_RETENTION_YEARS = env_int("CLINICAL_RECORD_RETENTION_YEARS", 8)


# --- Security ----------------------------------------------------------------------
# docs/security.md lists each threat, its control here, and the test that proves it.

AUTHENTICATION_BACKENDS = [
    # Counts failed log-ins and refuses a locked-out username + address (django-axes).
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, reading the roles with the user (one query less a request).
    "clinic.backends.ModelBackendWithRoles",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_USERNAME_CALLABLE = "clinic.security.axes_username"
AXES_VERBOSE = False
# Behind a proxy, set AXES_IPWARE_PROXY_COUNT (and the meta order) so the real address counts.
AXES_IPWARE_PROXY_COUNT = env_int("AXES_IPWARE_PROXY_COUNT", 0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)

# Password reset requests: at most this many per address and per email in the window.
PASSWORD_RESET_LIMIT = env_int("PASSWORD_RESET_LIMIT", 5)
PASSWORD_RESET_WINDOW_SECONDS = env_int("PASSWORD_RESET_WINDOW_SECONDS", 15 * 60)

# Two-factor authentication (django-otp, TOTP): required for every member of staff on
# every page; patients may turn it on for themselves.
STAFF_TWO_FACTOR_REQUIRED = env_bool("STAFF_TWO_FACTOR_REQUIRED", True)
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Veinline")

# Sessions: stored with their user (qsessions). Staff are signed out after 30 minutes
# without a request; everyone else after 12 hours without one.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 60 * 60)
STAFF_SESSION_IDLE_SECONDS = env_int("STAFF_SESSION_IDLE_SECONDS", 30 * 60)
SESSION_COOKIE_SAMESITE = "Lax"

# A shared cache (Redis) in production so limits hold across processes.
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL.startswith(("redis://", "rediss://"))
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Free times are kept in the cache between searches (bookings/slot_cache.py) for this many
# seconds at most; every booking or change refreshes the days it touches at once. Only with
# a shared cache: a cache of one process would not hear of another process's bookings.
SLOT_CACHE_SECONDS = env_int(
    "SLOT_CACHE_SECONDS", 300 if CACHES["default"]["BACKEND"].endswith("RedisCache") else 0
)

# Sessions (qsessions, see above) are read from the cache and written to it and to the
# database when the cache is shared (Redis): one query less on every signed-in page.
# clinic/sessions.py makes sure a session that has ended has no copy left in the cache
# (decision 0006). With a cache of one process, or SESSIONS_IN_CACHE=false, the database.
SESSIONS_IN_CACHE = CACHES["default"]["BACKEND"].endswith("RedisCache") and env_bool(
    "SESSIONS_IN_CACHE", True
)
SESSION_ENGINE = "clinic.sessions" if SESSIONS_IN_CACHE else "qsessions.backends.db"
if SESSIONS_IN_CACHE:
    # The same Redis, through a backend that copes with what qsessions hands it.
    CACHES["sessions"] = {"BACKEND": "clinic.sessions.SessionCache", "LOCATION": CACHE_URL}
    SESSION_CACHE_ALIAS = "sessions"

# Content-Security-Policy: our own scripts and styles only; no inline script anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
