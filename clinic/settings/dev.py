"""Local development: DEBUG on unless told otherwise, console email."""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")

from .base import *  # noqa: F403
from .base import env_bool

# The demo logins work with a password alone on a laptop; set STAFF_TWO_FACTOR_REQUIRED=true
# to try staff two-step log-in locally. Production requires it (base.py default).
STAFF_TWO_FACTOR_REQUIRED = env_bool("STAFF_TWO_FACTOR_REQUIRED", False)
