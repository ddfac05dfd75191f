"""Local development: DEBUG on unless told otherwise, console email."""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")

from .base import *  # noqa: F403
