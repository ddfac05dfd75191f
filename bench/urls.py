"""The clinic's URLs plus ``/bench/bare/``, the load benchmark's baseline.

The bare view answers a small JSON document without touching the database. An anonymous
request (no cookie) passes the whole middleware stack without a query: the session is
loaded lazily and, with no session cookie, never read (checked by ``bench/load.py`` before
it measures).
"""

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, include, path
from django.views.decorators.http import require_GET


@require_GET
def bare_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True, "view": "bare"})


urlpatterns: list[URLPattern | URLResolver] = [
    path("bench/bare/", bare_view, name="bench_bare"),
    path("", include("clinic.urls")),
]
