"""The test suite: fast hashing, in-memory email, DEBUG on for the dev default key."""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")

from .base import *  # noqa: F403

DEBUG = False  # tests see the app as a visitor would; templates still get the debug key above
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A test that runs a real worker in another process reads its mail from files instead.
EMAIL_BACKEND = os.environ.get(
    "TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend"
)
EMAIL_FILE_PATH = os.environ.get("TEST_EMAIL_FILE_PATH", "")
WHITENOISE_USE_FINDERS = True
SMS_BACKEND = "aftercare.sms.MemorySmsBackend"
# Staff pages are tested as a logged-in member of staff (force_login); the tests of
# two-factor authentication itself turn this on (tests/clinic/test_two_factor.py).
STAFF_TWO_FACTOR_REQUIRED = False
SESSION_ENGINE = "tests.support.sessions"
# The suite runs in one process per worker, so the slot cache is safe with its local
# cache, and every booking test goes through it (tests/conftest.py empties it per test).
SLOT_CACHE_SECONDS = 300
