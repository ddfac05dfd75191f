"""The machinery of the query-budget sweep: the URLconf walk, how a page is named and
requested, and how its queries are counted (and N+1s caught by django-zeal)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from zeal import NPlusOneError, zeal_context

from .world import PerfWorld

# --- walking the URLconf ----------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # with namespaces: "booking:appointment"; "" for an unnamed pattern
    route: str  # the full pattern: "my/appointments/<int:pk>/"


def walk(
    resolver: URLResolver | None = None, prefix: str = "", namespaces: tuple[str, ...] = ()
) -> Iterator[Route]:
    """Every URL pattern of the site, as Django resolves them."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = (*namespaces, entry.namespace) if entry.namespace else namespaces
            yield from walk(entry, route, inner)
        elif isinstance(entry, URLPattern):
            name = ":".join((*namespaces, entry.name)) if entry.name else ""
            yield Route(name=name, route=route)


# --- pages ------------------------------------------------------------------------------------

Kwargs = Callable[[PerfWorld], dict[str, Any]]


def no_kwargs(world: PerfWorld) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Page:
    """How to open one page: who asks (a role of ``clients_for``), the URL's parameters and
    query string for the world's objects, and the status the page answers with."""

    role: str
    kwargs: Kwargs = no_kwargs
    query: Kwargs = no_kwargs
    status: int = 200
    args: Callable[[PerfWorld], list[Any]] | None = None  # for a regex route's groups

    def url(self, name: str, world: PerfWorld) -> str:
        if self.args is not None:
            path = reverse(name, args=self.args(world))
        else:
            path = reverse(name, kwargs=self.kwargs(world) or None)
        query = self.query(world)
        return f"{path}?{urlencode(query)}" if query else path


# --- clients, one per role --------------------------------------------------------------------


def verified_staff_client(user: Any) -> Client:
    """A member of staff signed in and past the second factor, as in production (where
    STAFF_TWO_FACTOR_REQUIRED is on and django-otp reads the device on each request)."""
    client = Client()
    client.force_login(user)
    device = TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    # The first request starts the idle clock in the session (a write); get it done.
    client.get("/healthz")
    return client


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def clients_for(world: PerfWorld) -> dict[str, Client]:
    return {
        "visitor": Client(),
        "patient": signed_in(world.patient.user),
        "nurse": verified_staff_client(world.nurse.user),
        "consultant": verified_staff_client(world.consultant.user),
        "admin": verified_staff_client(world.clinic_admin.user),
        "superuser": verified_staff_client(world.superuser),
    }


# --- measuring --------------------------------------------------------------------------------


# A first visit may write what later visits only read: the access log's first row for a
# member of staff, the idle clock in a new session.
WRITES = ("INSERT", "UPDATE", "DELETE", "SAVEPOINT")


@dataclass
class Measurement:
    url: str
    status: int
    queries: list[str] = field(default_factory=list)
    nplusone: str = ""  # django-zeal's message when the page has an N+1

    @property
    def count(self) -> int:
        return len(self.queries)

    @property
    def wrote(self) -> bool:
        return any(query.lstrip().upper().startswith(WRITES) for query in self.queries)


def open_page(client: Client, url: str) -> Measurement:
    """One request under django-zeal (which raises on an N+1: the message is kept), its
    queries counted."""
    with CaptureQueriesContext(connection) as captured:
        try:
            with zeal_context():
                status = client.get(url).status_code
        except NPlusOneError as error:
            return Measurement(url=url, status=0, nplusone=str(error))
    return Measurement(
        url=url, status=status, queries=[query["sql"] for query in captured.captured_queries]
    )


def measure(client: Client, url: str) -> Measurement:
    """The page as it is usually opened: once, or again when the first visit wrote
    something (the repeat is what every later visit costs)."""
    first = open_page(client, url)
    if first.nplusone or not first.wrote:
        return first
    return open_page(client, url)
