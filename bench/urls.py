"""The clinic's URLs plus ``/bench/bare/``, the load benchmark's baseline.

The bare view answers a small JSON document without touching the database. An anonymous
request (no cookie) passes the whole middleware stack without a query: the session is
loaded lazily and, with no session cookie, never read (checked by ``bench/load.py`` before
it measures).
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, include, path
from django.views.decorators.http import require_GET


@require_GET
def bare_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True, "view": "bare"})


@login_required
@require_GET
def signed_in_view(request: HttpRequest) -> JsonResponse:
    """The floor of any signed-in page: the session and the user are read, nothing else
    is done. No page of a signed-in patient can be cheaper than this."""
    return JsonResponse({"ok": True, "view": "signed-in", "user": request.user.pk})


urlpatterns: list[URLPattern | URLResolver] = [
    path("bench/bare/", bare_view, name="bench_bare"),
    path("bench/signed-in/", signed_in_view, name="bench_signed_in"),
    path("", include("clinic.urls")),
]
