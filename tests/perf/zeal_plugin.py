"""Every request made by any test runs under django-zeal, which raises
``zeal.NPlusOneError`` when a page loads the same relation row by row, or reads the same
model with ``.get()`` again and again from one line.

When tests/conftest.py names it in ``pytest_plugins`` it is on for the whole suite, and
``-p no:tests.perf.zeal_plugin`` leaves it out of a run. Otherwise it is loaded by hand:

    .venv/bin/python -m pytest -p tests.perf.zeal_plugin tests/patients

Only the requests are watched (zeal's own middleware, put first), not a test's set-up:
factories read rows one at a time by design. A test that must allow a known N+1 wraps
the request, or the part of it, in ``zeal.zeal_ignore()``. Reads zeal reports that are
not N+1s are allowed in ``zeal_support`` (see there). The same can be had without this
plugin by installing zeal in the test settings (``"zeal"`` in INSTALLED_APPS and its
middleware first in MIDDLEWARE).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import override_settings

from .zeal_support import ZEAL_MIDDLEWARE, ensure_zeal_patched


@pytest.fixture(autouse=True)
def _zeal_on_every_request() -> Iterator[None]:
    ensure_zeal_patched()
    if ZEAL_MIDDLEWARE in settings.MIDDLEWARE:
        yield
        return
    # Clients load the middleware on their first request, so every client of the test
    # (pytest-django's ``client`` too) gets it.
    with override_settings(MIDDLEWARE=[ZEAL_MIDDLEWARE, *settings.MIDDLEWARE]):
        yield
