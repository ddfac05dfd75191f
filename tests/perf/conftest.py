"""The query-budget sweep opens every page under django-zeal (``sweep.measure``), so zeal's
patch is applied as soon as this folder is collected, before any test runs."""

from .zeal_support import ensure_zeal_patched

ensure_zeal_patched()
