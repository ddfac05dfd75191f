"""django-zeal (raises on an N+1) without installing it as an app.

zeal patches Django's related-object descriptors when its app is ready. The test settings
do not install it, so ``ensure_zeal_patched`` applies the same patch once, before the
first request; it stays silent outside ``zeal_context``. With ``"zeal"`` in
INSTALLED_APPS the app has already done it and this does nothing.
"""

from __future__ import annotations

from django.apps import apps

# zeal's middleware: each request it wraps runs in its own ``zeal_context``.
ZEAL_MIDDLEWARE = "zeal.middleware.zeal_middleware"

_patched = False


def ensure_zeal_patched() -> None:
    global _patched
    if _patched or apps.is_installed("zeal"):
        return
    from zeal.constants import initialize_app_registry
    from zeal.patch import patch

    initialize_app_registry()
    patch()
    _patched = True
