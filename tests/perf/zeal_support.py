"""django-zeal (raises on an N+1) without installing it as an app.

zeal patches Django's related-object descriptors when its app is ready. The test settings
do not install it, so ``ensure_zeal_patched`` applies the same patch once, before the
first request; it stays silent outside ``zeal_context``. With ``"zeal"`` in
INSTALLED_APPS the app has already done it and only the allow-list below is added.

The allow-list
--------------
zeal also reports the same model read twice with ``.get()`` from the same line of our
code in one request. That finds loops, but also two single reads that happen to share a
line. The cases below are of the second kind: a fixed number of rows per request,
whatever the data, and no way to read them in one query short of rewriting Django or
qsessions. Each is allowed only for its model and only inside the one method that makes
the reads, so the same model read in a loop anywhere else is still reported.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.apps import apps

# zeal's middleware: each request it wraps runs in its own ``zeal_context``.
ZEAL_MIDDLEWARE = "zeal.middleware.zeal_middleware"

_patched = False
_allowed = False


def ensure_zeal_patched() -> None:
    global _patched
    if not _patched and not apps.is_installed("zeal"):
        from zeal.constants import initialize_app_registry
        from zeal.patch import patch

        initialize_app_registry()
        patch()
        _patched = True
    _allow_known_single_reads()


def _reads_allowed(method: Callable[..., Any], model: str) -> Callable[..., Any]:
    """``method`` with its ``.get()`` reads of ``model`` not reported by zeal. Reads of
    other models inside it are not counted either (zeal's ``zeal_ignore`` counts inside
    on a copy), so only methods that read nothing else are wrapped."""
    from zeal import zeal_ignore

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with zeal_ignore([{"model": model, "field": "get()"}]):
            return method(*args, **kwargs)

    return wrapper


def _allow_known_single_reads() -> None:
    global _allowed
    if _allowed:
        return
    from django.contrib.sessions.backends.base import SessionBase

    from bookings.forms import StaffChoiceField

    # Signing in, and changing the password, give the session a new key (Django's
    # ``cycle_key``). Saving it under the new key, qsessions first reads that row to keep
    # its creation time; then Django reads the row of the old key to delete it. Two rows,
    # once per request. The session middleware saves the session again at the end of the
    # request, which qsessions' read makes a third ``Session.get()``: with the cached
    # engine (clinic/sessions.py) all of them come from its ``save``. Only the two inside
    # ``cycle_key`` are let through; the middleware's stays counted, and is alone.
    SessionBase.cycle_key = _reads_allowed(  # type: ignore[method-assign]
        SessionBase.cycle_key, "qsessions.Session"
    )
    # A form with a consultant and a nurse (booking a session) checks each choice with
    # one read of its own: two fields, two rows, however many staff there are.
    StaffChoiceField.to_python = _reads_allowed(  # type: ignore[method-assign]
        StaffChoiceField.to_python, "clinic.StaffMember"
    )
    _allowed = True
