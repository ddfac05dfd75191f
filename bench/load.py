"""Load benchmark: gunicorn with the production settings on PostgreSQL, driven by wrk.

One command prepares the database ``veinline_bench`` (migrates it; seeds it once, then
reuses it), starts gunicorn with ``bench.settings`` on 127.0.0.1 and measures, in one run
and with the same connections and duration for each GET target:

- a bare Django view (small JSON, no database, anonymous): the baseline;
- the booking page's slot search for a month (the calendar page of a consultation) and
  for a day (the htmx panel the calendar loads when a patient picks a day);
- the patient dashboard ``/my/`` and the nurse day list ``/staff/today/``;
- booking POSTs: concurrent patients, each booking a different free consultation time
  through the confirm form the booking page uses.

    .venv/bin/python bench/load.py --duration 20 --connections 20

It prints req/s, p50/p95/p99, errors and the ratio to the bare view, the issue's targets
with PASS/MISS, and the command that repeats the run. The appointments it books and the
sessions it opens are deleted at the end, so the seeded database can be reused.
Not part of the test run; see bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from http.cookies import SimpleCookie
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from clinic.models import User
    from patients.models import Patient
    from treatments.models import Treatment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = "veinline_bench"  # the only database this script creates or drops
DB_SERVER = "postgres://postgres@127.0.0.1:5432"
CACHE_URL = "redis://127.0.0.1:6379/12"
BROKER_URL = "redis://127.0.0.1:6379/13"  # the benchmark's own: emptied at each run
HOST = "127.0.0.1"
WRK = "/usr/bin/wrk"
LUA_SCRIPT = ROOT / "bench" / "wrk" / "requests.lua"
LOG_DIR = ROOT / "var" / "bench"

# Every request carries this agent: sessions are made for it (qsessions rewrites a session
# whose agent or address changes), and what the run leaves behind is found by it.
USER_AGENT = "veinline-bench/1 (bench/load.py)"
# Written into each benchmark booking's music request, so leftovers can always be found.
BOOKING_MARKER = "bench/load.py booking"

SCALE_PATIENT = "scale-patient-0001@scale.example.com"
SCALE_NURSE = "scale-nurse-01@scale.example.com"
DEMO_PATIENT = "patient@example.com"
DEMO_NURSE = "nurse@example.com"

# The targets.
BOOKING_GET_RATIO = 0.35
POST_P95_MS = 300.0
POST_USERS = 20

HTTP_TIMEOUT = 30.0
TOKEN_FIELD = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
BOOKED = re.compile(r"/my/appointments/(\d+)/$")


# --- figures ---------------------------------------------------------------------------


@dataclass
class Figures:
    """One target's results. Latencies in milliseconds."""

    name: str
    requests: int
    seconds: float
    p50: float
    p95: float
    p99: float
    errors: int
    detail: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (the value below which ``pct`` per cent of them fall)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# --- the HTTP client (standard library) --------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


class Browser:
    """One person's browser: a cookie jar and a keep-alive connection to the server.

    Every request says it came through the clinic's HTTPS proxy (X-Forwarded-Proto), as
    production expects; a POST carries Origin and Referer like a browser's, which the
    CSRF check on HTTPS needs.
    """

    def __init__(self, port: int, cookies: dict[str, str] | None = None) -> None:
        self.port = port
        self.cookies = dict(cookies or {})
        self.connection = http.client.HTTPConnection(HOST, port, timeout=HTTP_TIMEOUT)

    @property
    def origin(self) -> str:
        return f"https://{HOST}:{self.port}"

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self._send("GET", path, None, headers or {})

    def post(self, path: str, form: dict[str, str]) -> Reply:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": self.origin,
            "Referer": self.origin + path,
        }
        return self._send("POST", path, urlencode(form).encode(), headers)

    def close(self) -> None:
        self.connection.close()

    def _send(self, method: str, path: str, body: bytes | None, extra: dict[str, str]) -> Reply:
        headers = {"User-Agent": USER_AGENT, "X-Forwarded-Proto": "https", **extra}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            self.connection.close()  # the next request opens a fresh connection
            raise
        seconds = time.perf_counter() - started
        for raw in response.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                self.cookies[name] = morsel.value
        names = {k.lower(): v for k, v in response.getheaders()}
        return Reply(response.status, names, data, seconds)


def csrf_token(reply: Reply) -> str:
    found = TOKEN_FIELD.search(reply.body)
    if found is None:
        where = reply.headers.get("location", "")
        raise BenchError(f"No CSRF token in the page (HTTP {reply.status} {where}).")
    return found.group(1).decode()


def page_problem(reply: Reply) -> str:
    """A short reason from an error page, for messages."""
    text = reply.body.decode(errors="replace")
    for pattern in (r"<p[^>]*data-testid=\"problem\"[^>]*>(.*?)</p>", r"<h1[^>]*>(.*?)</h1>"):
        found = re.search(pattern, text, re.S)
        if found:
            return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(1))).strip()[:120]
    return f"HTTP {reply.status}"


class BenchError(Exception):
    """Something the benchmark needs is missing or answered wrongly; the message says what."""


# --- the database ----------------------------------------------------------------------


def database_url() -> str:
    return f"{DB_SERVER}/{DB_NAME}"


def ensure_database(*, reset: bool) -> None:
    """Create ``veinline_bench`` when it is missing; drop it first with --reset-db."""
    import psycopg2
    from psycopg2 import sql

    connection = psycopg2.connect(f"{DB_SERVER}/postgres", connect_timeout=5)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            name = sql.Identifier(DB_NAME)
            if reset:
                print(f"Dropping database {DB_NAME} (--reset-db)")
                cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME])
            if cursor.fetchone() is None:
                print(f"Creating database {DB_NAME}")
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(name))
    finally:
        connection.close()


def manage(*args: str, settings: str = "bench.settings") -> None:
    """Run a management command in its own process (seeding needs other settings)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings}
    started = time.monotonic()
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)
    print(f"  manage.py {' '.join(args)}: {time.monotonic() - started:.1f} s")


def seed_command_exists(name: str) -> bool:
    return (ROOT / "clinic" / "management" / "commands" / f"{name}.py").exists()


def prepare_database(args: argparse.Namespace) -> None:
    """Migrate (a no-op when up to date), seed once, collect static files."""
    ensure_database(reset=args.reset_db)
    print("Preparing the database")
    manage("migrate", "--noinput", "-v0")
    django_setup()
    from clinic.models import User

    marker = SCALE_PATIENT if args.seed == "scale" else DEMO_PATIENT
    if args.skip_seed or User.objects.filter(email=marker).exists():
        print(f"  {args.seed} data already there ({marker}); not seeding again")
    else:
        seed(args)
    # The production static storage needs its manifest to render any page.
    manage("collectstatic", "--noinput", "-v0")


def seed(args: argparse.Namespace) -> None:
    """Seed an empty database: the figures are for that data alone, not mixed with
    what an earlier seed left."""
    from django.db import connections

    from clinic.models import User

    command = f"seed_{args.seed}"
    if not seed_command_exists(command):
        raise BenchError(f"manage.py {command} does not exist yet; try --seed demo.")
    if User.objects.exists():
        print(f"  {DB_NAME} holds other data; starting it afresh for the {args.seed} data")
        connections.close_all()
        ensure_database(reset=True)
        manage("migrate", "--noinput", "-v0")
    if args.seed == "scale":
        # --force: seed_scale refuses DEBUG off (its accounts share a published
        # password) unless told that this is a benchmark database.
        manage(command, "--force")
    else:
        # seed_demo runs only with DEBUG on: the development settings, on this database.
        manage(command, settings="clinic.settings.dev")


def django_setup() -> None:
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


# --- who takes part ----------------------------------------------------------------------


@dataclass
class People:
    """The people and times the run uses."""

    treatment: Treatment
    minutes: int
    month: date
    days: list[date]
    browsing: list[Patient]  # open the booking pages (may book a consultation)
    dashboard: list[Patient]  # open their dashboard (patients with a course where possible)
    booking: list[Patient]  # book in the POST phase, one booking each
    starts: list[datetime]  # one distinct free time per booking patient
    nurses: list[User] = field(default_factory=list)


def consultation() -> Treatment:
    from treatments.models import Treatment

    found = (
        Treatment.objects.filter(
            kind=Treatment.Kind.CONSULTATION, is_active=True, bookable_online=True
        )
        .order_by("pk")
        .first()
    )
    if found is None:
        raise BenchError("No consultation can be booked online: is the database seeded?")
    return found


def free_to_book() -> list[Patient]:
    """Active patients with nothing booked ahead: each may book a consultation online,
    and no benchmark time can clash with an appointment of their own."""
    from django.db.models import Exists, OuterRef
    from django.utils import timezone

    from bookings.models import Appointment
    from clinic.roles import Role
    from patients.models import Patient

    ahead = Appointment.objects.filter(
        patient=OuterRef("pk"), status=Appointment.Status.BOOKED, start__gte=timezone.now()
    )
    return list(
        Patient.objects.filter(user__is_active=True, user__groups__name=Role.PATIENT)
        .exclude(Exists(ahead))
        .select_related("user")
        .order_by("pk")
    )


def with_courses(limit: int, rng_seed: int) -> list[Patient]:
    """A fixed sample of patients with a course (a dashboard with something on it)."""
    import random

    from django.db.models import Exists, OuterRef

    from clinic.roles import Role
    from patients.models import Patient
    from treatments.models import Course

    patients = Patient.objects.filter(user__is_active=True, user__groups__name=Role.PATIENT)
    ids = list(
        patients.filter(Exists(Course.objects.filter(patient=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", flat=True)
    ) or list(patients.order_by("pk").values_list("pk", flat=True))
    chosen = sorted(random.Random(rng_seed).sample(ids, min(limit, len(ids))))
    return list(patients.filter(pk__in=chosen).select_related("user").order_by("pk"))


def add_demo_patients(count: int) -> None:
    """Demo data has six patients; the POST phase needs more, each booking once."""
    from typing import cast

    from clinic.models import User
    from patients.services import patient_sign_up

    for number in range(1, count + 1):
        email = f"bench-patient-{number:03d}@bench.example.com"
        if not User.objects.filter(email=email).exists():
            # No password: these accounts are signed in through the session engine only.
            patient_sign_up(
                email=email, first_name="Bench", last_name=f"{number:03d}", password=cast(str, None)
            )


def month_after(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def spaced_starts(found: dict[date, list[Any]], spacing: timedelta) -> list[datetime]:
    """Free starts far enough apart that no two bookings can want the same team or room,
    taken a day at a time in turn, so that concurrent bookings fall on different days."""
    per_day: list[list[datetime]] = []
    for day in sorted(found):
        chosen: list[datetime] = []
        for slot in found[day]:
            if not chosen or slot.start >= chosen[-1] + spacing:
                chosen.append(slot.start)
        per_day.append(chosen)
    return [start for group in zip_longest(*per_day) for start in group if start is not None]


def free_days(treatment: Treatment, minutes: int, patient: Patient, month: date) -> list[date]:
    """The days of a month with a free time (the calendar's buttons)."""
    from bookings.availability import BookingWindow, free_slots

    found = free_slots(
        treatment=treatment,
        minutes=minutes,
        first_day=month,
        last_day=month_after(month) - timedelta(days=1),
        patient=patient,
        window=BookingWindow(),
    )
    return [day for day, slots in sorted(found.items()) if slots]


def booking_starts(treatment: Treatment, minutes: int, patient: Patient) -> list[datetime]:
    """Distinct free times for the POST phase, from the app's own slot search."""
    from django.conf import settings
    from django.utils import timezone

    from bookings.availability import BookingWindow, free_slots

    # From three days ahead: past the booking notice and the online change cut-off.
    first = timezone.localdate() + timedelta(days=3)
    step = settings.BOOKING_SLOT_STEP_MINUTES
    spacing = math.ceil((minutes + treatment.buffer_minutes) / step) * step
    found = free_slots(
        treatment=treatment,
        minutes=minutes,
        first_day=first,
        last_day=first + timedelta(days=120),
        patient=patient,
        window=BookingWindow(),
    )
    return spaced_starts(found, timedelta(minutes=spacing))


def choose_people(args: argparse.Namespace) -> People:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    treatment = consultation()
    minutes = sorted(set(treatment.session_lengths or [30]))[0]
    if args.seed == "demo":
        add_demo_patients(args.posts + args.users)
    free = free_to_book()
    if not free:
        raise BenchError("No patient is free to book a consultation.")
    month = month_after(timezone.localdate())
    days = free_days(treatment, minutes, free[0], month)
    if not days:
        raise BenchError(f"No free consultation time in {month:%B %Y}: is the data seeded?")
    starts = booking_starts(treatment, minutes, free[0])
    posts = min(args.posts, len(free), len(starts))
    nurse_email = SCALE_NURSE if args.seed == "scale" else DEMO_NURSE
    nurses = list(get_user_model().objects.filter(email=nurse_email))
    if not nurses:
        raise BenchError(f"No nurse login {nurse_email}: is the {args.seed} data seeded?")
    return People(
        treatment=treatment,
        minutes=minutes,
        month=month,
        days=days,
        browsing=free[: args.users],
        dashboard=with_courses(args.users, rng_seed=2026),
        # The POST phase runs last, so it may book for the people who browsed.
        booking=free[:posts],
        starts=starts[:posts],
        nurses=nurses,  # type: ignore[arg-type]
    )


# --- sessions ------------------------------------------------------------------------


def open_session(user: User) -> str:
    """A logged-in session made with the session engine (qsessions) and Django's own
    ``login``, as the login view does after the password: the password hash is slow by
    design and would make preparing many patients take minutes."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import login
    from django.test import RequestFactory

    engine = import_module(settings.SESSION_ENGINE)
    request = RequestFactory().get("/", REMOTE_ADDR=HOST, HTTP_USER_AGENT=USER_AGENT)
    request.session = engine.SessionStore(ip=HOST, user_agent=USER_AGENT)
    login(request, user, backend="clinic.backends.ModelBackendWithRoles")
    request.session.save()
    return str(request.session.session_key)


def totp_device(user: User) -> Any:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name="Benchmark authenticator", defaults={"confirmed": True}
    )
    return device


def next_totp_code(device: Any) -> str:
    """The code an authenticator app would show, never one already used (django-otp
    refuses a time step at or before the last one it accepted)."""
    from django_otp.oath import TOTP, hotp

    device.refresh_from_db()
    while True:
        clock = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        clock.time = time.time()
        step = max(clock.t(), device.last_t + 1)
        if step <= clock.t() + device.tolerance:
            return f"{hotp(device.bin_key, step, device.digits):0{device.digits}d}"
        time.sleep(1)


def staff_login(port: int, user: User, password: str) -> dict[str, str]:
    """Log a member of staff in through the real forms: password, then the second step."""
    device = totp_device(user)  # before logging in: the second step needs a device
    browser = Browser(port)
    try:
        page = browser.get("/accounts/login/")
        reply = browser.post(
            "/accounts/login/",
            {
                "csrfmiddlewaretoken": csrf_token(page),
                "username": user.email,
                "password": password,
                "next": "/staff/today/",
            },
        )
        if reply.status != 302:
            raise BenchError(f"Log-in of {user.email} failed: {page_problem(reply)}")
        page = browser.get("/accounts/two-factor/?next=/staff/today/")
        code = next_totp_code(device)
        reply = browser.post(
            "/accounts/two-factor/",
            {"csrfmiddlewaretoken": csrf_token(page), "token": code, "next": "/staff/today/"},
        )
        if reply.status != 302:
            raise BenchError(f"Second step for {user.email} failed: {page_problem(reply)}")
        return browser.cookies
    finally:
        browser.close()


def forget_run_leftovers() -> None:
    """Delete what a run leaves: its bookings, sessions and log-in records (also those of
    a run that was killed before it could clean up)."""
    from axes.models import AccessLog
    from qsessions.models import Session

    from bookings.models import Appointment

    booked = Appointment.objects.filter(music_request=BOOKING_MARKER)
    ids = list(booked.values_list("pk", flat=True))
    if ids:
        booked.delete()  # their reminders go with them
        Appointment.history.model.objects.filter(id__in=ids).delete()  # type: ignore[attr-defined]
        print(f"  deleted the {len(ids)} benchmark bookings")
    Session.objects.filter(user_agent=USER_AGENT).delete()
    AccessLog.objects.filter(user_agent=USER_AGENT).delete()


# --- the server -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def gunicorn(args: argparse.Namespace, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn with the benchmark's settings, stopped (with all its workers) on the way out."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / "gunicorn.log"
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "clinic.wsgi:application",
        f"--bind={HOST}:{port}",
        f"--workers={args.workers}",
        f"--worker-class={args.worker_class}",
        f"--threads={args.threads}",
        "--timeout=60",
        "--graceful-timeout=5",
        "--log-level=warning",
    ]
    with log_path.open("wb") as log:  # the last run's log only
        log.write(f"\n--- {datetime.now().astimezone():%Y-%m-%d %H:%M:%S} {command}\n".encode())
        log.flush()
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=log, start_new_session=True
        )
    try:
        wait_until_up(port, process, log_path)
        yield process
    finally:
        stop_process_group(process)


@contextmanager
def celery_worker(args: argparse.Namespace) -> Iterator[subprocess.Popen[bytes] | None]:
    """The clinic's Celery worker (prefork, ``--celery-concurrency`` processes) on the
    benchmark's own broker database, as production runs one beside the web server: what
    the pages hand to it (emails) costs CPU on the same two cores. Beat is not run: its
    minute's dispatch would only add noise to a 20-second figure."""
    if args.no_worker:
        yield None
        return
    from redis import Redis

    Redis.from_url(BROKER_URL).flushdb()
    shutil.rmtree(LOG_DIR / "mail", ignore_errors=True)
    log_path = LOG_DIR / "celery.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "clinic",
                "worker",
                "--pool=prefork",
                f"--concurrency={args.celery_concurrency}",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        time.sleep(2)
        if process.poll() is not None:
            raise BenchError(f"The Celery worker stopped at start; see {log_path}")
        yield process
    finally:
        stop_process_group(process)


def wait_until_up(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn stopped at start; see {log_path}")
        with suppress(OSError, http.client.HTTPException):
            browser = Browser(port)
            reply = browser.get("/bench/bare/")
            browser.close()
            if reply.status == 200:
                return
            raise BenchError(f"The bare view answered {reply.status}; see {log_path}")
        time.sleep(0.3)
    raise BenchError(f"gunicorn did not answer within 60 s; see {log_path}")


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started in its own session, and everything it started."""
    if process.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


# --- GET targets with wrk ---------------------------------------------------------------


@dataclass
class GetTarget:
    name: str
    lines: list[tuple[str, dict[str, str]]]  # path and headers of each request
    expect: bytes = b""  # in every answer's body, checked before the measurement


def base_headers(session_key: str | None = None) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "X-Forwarded-Proto": "https"}
    if session_key:
        headers["Cookie"] = f"sessionid={session_key}"
    return headers


def get_targets(
    people: People, sessions: dict[int, str], nurse_cookies: list[str]
) -> list[GetTarget]:
    slug = people.treatment.slug
    month_path = f"/book/{slug}/?month={people.month:%Y-%m}"
    htmx = {"HX-Request": "true", "HX-Target": "day-times", "HX-Current-URL": month_path}
    browsing = [sessions[p.user_id] for p in people.browsing]
    return [
        GetTarget("bare view (no database)", [("/bench/bare/", base_headers())], b'"ok": true'),
        GetTarget(
            "signed-in floor (session + user only)",
            [("/bench/signed-in/", base_headers(key)) for key in browsing],
            b'"view": "signed-in"',
        ),
        GetTarget(
            f"booking page: month ({people.month:%Y-%m})",
            [(month_path, base_headers(key)) for key in browsing],
            b'data-testid="free-day"',
        ),
        GetTarget(
            "booking page: day (htmx)",
            [
                (
                    f"/book/{slug}/day/{people.days[i % len(people.days)]}/",
                    {**base_headers(k), **htmx},
                )
                for i, k in enumerate(browsing)
            ],
            b'data-testid="free-time"',
        ),
        GetTarget(
            "patient dashboard /my/",
            [("/my/", base_headers(sessions[p.user_id])) for p in people.dashboard],
        ),
        GetTarget(
            "nurse day list /staff/today/",
            [("/staff/today/", {**base_headers(), "Cookie": cookie}) for cookie in nurse_cookies],
        ),
    ]


def check_target(port: int, target: GetTarget) -> None:
    """Each request once, before measuring: a redirect to the log-in page would otherwise
    be measured as a fast page. Also warms the workers up."""
    browser = Browser(port)
    try:
        for path, headers in target.lines:
            extra = {k: v for k, v in headers.items() if k not in ("User-Agent", "Cookie")}
            browser.cookies = dict(
                part.split("=", 1) for part in headers.get("Cookie", "").split("; ") if part
            )
            reply = browser.get(path, extra)
            if reply.status != 200 or target.expect not in reply.body:
                where = reply.headers.get("location", "")
                raise BenchError(
                    f"{target.name}: GET {path} answered {reply.status} {where} "
                    f"({page_problem(reply)}) without {target.expect!r}"
                )
    finally:
        browser.close()


def write_lines(folder: Path, target: GetTarget) -> Path:
    path = folder / f"{re.sub(r'[^a-z0-9]+', '-', target.name.lower()).strip('-')}.tsv"
    rows = []
    for request_path, headers in target.lines:
        rows.append("\t".join([request_path, *(f"{k}: {v}" for k, v in headers.items())]))
    path.write_text("\n".join(rows) + "\n")
    return path


RUNNING: list[subprocess.Popen[str]] = []


def run_wrk(args: argparse.Namespace, port: int, target: GetTarget, folder: Path) -> Figures:
    lines_file = write_lines(folder, target)
    command = [
        WRK,
        f"--threads={min(args.wrk_threads, args.connections)}",
        f"--connections={args.connections}",
        f"--duration={args.duration}s",
        "--timeout=10s",
        f"--script={LUA_SCRIPT}",
        f"http://{HOST}:{port}",
        "--",
        str(lines_file),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    RUNNING.append(process)
    try:
        output, _ = process.communicate(timeout=args.duration + 60)
    finally:
        RUNNING.remove(process)
        if process.poll() is None:
            process.kill()
    found = re.search(r"^BENCH_WRK (\{.*\})$", output, re.M)
    if process.returncode != 0 or found is None:
        raise BenchError(f"wrk failed for {target.name}:\n{output}")
    data = json.loads(found.group(1))
    transport = sum(data[k] for k in ("connect", "read", "write", "timeout"))
    detail = (
        f"{data['not_200']} not 200, {transport} socket errors"
        if data["not_200"] or transport
        else ""
    )
    return Figures(
        name=target.name,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50=data["p50_us"] / 1000,
        p95=data["p95_us"] / 1000,
        p99=data["p99_us"] / 1000,
        errors=data["not_200"] + transport,
        detail=detail,
    )


# --- booking POSTs ---------------------------------------------------------------------


@dataclass
class Booking:
    """One patient's booking: their cookies and the confirm form, ready to send."""

    email: str
    cookies: dict[str, str]
    path: str
    form: dict[str, str]


def prepare_booking(
    port: int, people: People, patient: Patient, session: str, start: datetime
) -> Booking:
    """What the patient's browser does before pressing Book: it opens the confirm page for
    the chosen time (which gives it the CSRF token) and fills the form in."""
    from bookings.forms_patient import format_instant
    from bookings.models import Payer

    when = format_instant(start)
    path = f"/book/{people.treatment.slug}/confirm/"
    browser = Browser(port, {"sessionid": session})
    try:
        page = browser.get(f"{path}?{urlencode({'start': when, 'minutes': people.minutes})}")
    finally:
        browser.close()
    if page.status != 200 or b'data-testid="offer"' not in page.body:
        raise BenchError(f"Confirm page for {when} answered {page.status}: {page_problem(page)}")
    form = {
        "csrfmiddlewaretoken": csrf_token(page),
        "start": when,
        "minutes": str(people.minutes),
        "payer": Payer.SELF_FUNDED.value,
        "preauthorisation_code": "",
        "music_request": BOOKING_MARKER,
    }
    return Booking(patient.user.email, browser.cookies, path, form)


@dataclass
class Outcome:
    seconds: float
    ok: bool
    reason: str


@dataclass
class Pace:
    """How the booking users go: ``think`` seconds on average between one user's bookings
    (0: straight on, each user always has a request open), until ``stop_at``."""

    think: float
    stop_at: float = float("inf")


def book_in_turn(
    port: int, queue: list[Booking], gate: threading.Barrier, pace: Pace, out: list[Outcome]
) -> None:
    """One user thread: one connection, its bookings one after another."""
    import random

    pause = random.Random()  # spreads the users out in time
    browser = Browser(port)
    try:
        gate.wait()
        if pace.think:
            # People do not all press "Book" in the same millisecond: each user starts
            # somewhere in the first pause, as they would arrive.
            time.sleep(pace.think * pause.uniform(0, 1))
        for booking in queue:
            if time.monotonic() > pace.stop_at:
                break
            browser.cookies = dict(booking.cookies)
            try:
                reply = browser.post(booking.path, booking.form)
            except (http.client.HTTPException, OSError) as error:
                out.append(Outcome(HTTP_TIMEOUT, False, type(error).__name__))
                continue
            booked = reply.status == 302 and BOOKED.search(reply.headers.get("location", ""))
            reason = "" if booked else f"{reply.status} {page_problem(reply)}"
            out.append(Outcome(reply.seconds, bool(booked), reason))
            if pace.think:
                time.sleep(pace.think * pause.uniform(0.5, 1.5))
    finally:
        browser.close()


def run_bookings(args: argparse.Namespace, port: int, bookings: list[Booking]) -> Figures:
    users = min(args.post_users, len(bookings))
    queues = [bookings[i::users] for i in range(users)]
    gate = threading.Barrier(users + 1)
    pace = Pace(think=args.think)
    results: list[list[Outcome]] = [[] for _ in range(users)]
    threads = [
        threading.Thread(target=book_in_turn, args=(port, queue, gate, pace, out), daemon=True)
        for queue, out in zip(queues, results, strict=True)
    ]
    for thread in threads:
        thread.start()
    gate.wait()
    started = time.monotonic()
    pace.stop_at = started + args.duration
    for thread in threads:
        thread.join(timeout=args.duration + 2 * HTTP_TIMEOUT)
    elapsed = time.monotonic() - started
    outcomes = [o for out in results for o in out]
    latencies = [o.seconds * 1000 for o in outcomes]
    failures = Counter(o.reason for o in outcomes if not o.ok)
    return Figures(
        name=f"booking POST ({users} users{f', think {args.think:g} s' if args.think else ''})",
        requests=len(outcomes),
        seconds=elapsed,
        p50=percentile(latencies, 50),
        p95=percentile(latencies, 95),
        p99=percentile(latencies, 99),
        errors=sum(failures.values()),
        detail="; ".join(f"{n} x {reason}" for reason, n in failures.most_common(3)),
    )


# --- the report ------------------------------------------------------------------------


def table(figures: list[Figures]) -> str:
    bare = figures[0].rps if figures else 0.0
    heads = ["req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "x bare"]
    rows = [f"{'target':<34} " + " ".join(f"{h:>8}" for h in heads)]
    for f in figures:
        ratio = f.rps / bare if bare else float("nan")
        rows.append(
            f"{f.name:<34} {f.rps:8.1f} {f.p50:8.1f} {f.p95:8.1f} {f.p99:8.1f} "
            f"{f.errors:8d} {ratio:8.2f}"
        )
        if f.detail:
            rows.append(f"{'':<36}{f.detail}")
    return "\n".join(rows)


def verdicts(figures: list[Figures], post_users: int) -> list[tuple[str, bool]]:
    bare = figures[0].rps
    found = []
    for f in figures:
        if f.name.startswith("booking page"):
            ratio = f.rps / bare if bare else 0.0
            found.append(
                (
                    f"{f.name}: {ratio:.2f} x bare view req/s (target >= {BOOKING_GET_RATIO})",
                    ratio >= BOOKING_GET_RATIO and f.errors == 0,
                )
            )
        elif f.name.startswith("booking POST"):
            found.append(
                (
                    f"booking POST p95 {f.p95:.0f} ms at {post_users} users, {f.errors} errors "
                    f"(target < {POST_P95_MS:.0f} ms at {POST_USERS} users, 0 errors)",
                    f.p95 < POST_P95_MS and f.errors == 0 and post_users >= POST_USERS,
                )
            )
    return found


def json_safe(row: dict[str, Any]) -> dict[str, Any]:
    """NaN (a target not measured) is not JSON: it becomes null."""
    return {k: None if isinstance(v, float) and v != v else v for k, v in row.items()}


def repeat_command() -> str:
    return shlex.join([".venv/bin/python", "bench/load.py", *sys.argv[1:]])


# --- the run ----------------------------------------------------------------------------


def ensure_wrk() -> None:
    if Path(WRK).exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise BenchError("wrk is missing: install the Debian package (apt-get install wrk).")
    print("Installing wrk (apt-get install wrk)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q", "wrk"],
        check=True,
        env=env,
    )


def set_environment(args: argparse.Namespace) -> None:
    """What a deployment sets in the environment, for the driver and gunicorn alike."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": database_url(),
            # A new key each run: the sessions are made afresh anyway.
            "SECRET_KEY": secrets.token_urlsafe(50),
            # Production keeps its cache in Redis (README); the benchmark's own db number.
            "CACHE_URL": CACHE_URL,
            "DB_CONN_MAX_AGE": str(args.conn_max_age),
            # A Celery worker runs beside gunicorn as in production; emails go to files.
            "CELERY_BROKER_URL": BROKER_URL,
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(LOG_DIR / "mail"),
        }
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Load benchmark: gunicorn + production settings + PostgreSQL, driven by wrk.",
    )
    parser.add_argument("--duration", type=int, default=20, help="seconds per target (20)")
    parser.add_argument("--connections", type=int, default=20, help="wrk connections (20)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (2, the cores)")
    parser.add_argument("--seed", choices=["scale", "demo"], default="scale")
    parser.add_argument("--skip-seed", action="store_true", help="never seed (already seeded)")
    parser.add_argument("--reset-db", action="store_true", help=f"drop and recreate {DB_NAME}")
    parser.add_argument("--users", type=int, default=50, help="patients whose cookies GETs use")
    parser.add_argument("--posts", type=int, default=200, help="bookings at most (one per patient)")
    parser.add_argument("--post-users", type=int, default=POST_USERS, help="concurrent bookers")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds a booking user waits between bookings (0: none, the default)",
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (3)")
    parser.add_argument(
        "--celery-concurrency", type=int, default=1, help="Celery worker processes (1)"
    )
    parser.add_argument("--no-worker", action="store_true", help="run no Celery worker")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (sync)")
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument(
        "--conn-max-age", type=int, default=60, help="DB_CONN_MAX_AGE (production default 60)"
    )
    parser.add_argument(
        "--only", nargs="*", help="measure only targets whose name has one of these words"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--profile",
        nargs="+",
        metavar="WORD",
        help="instead of measuring, profile the GET targets whose name has one of these "
        "words (e.g. month day dashboard nurse) in this process",
    )
    parser.add_argument(
        "--profile-requests", type=int, default=20, help="requests per profiled target (20)"
    )
    parser.add_argument(
        "--profile-functions",
        action="store_true",
        help="with --profile: cProfile's table of the functions that take the most time by "
        "themselves (template lookups, lazy strings), instead of pyinstrument's call tree",
    )
    args = parser.parse_args(argv)
    if args.duration < 1 or args.duration > 600:
        parser.error("--duration must be between 1 and 600 seconds")
    if args.connections < 1 or args.users < 1 or args.post_users < 1:
        parser.error("--connections, --users and --post-users must be at least 1")
    return args


def wanted(args: argparse.Namespace, name: str) -> bool:
    return not args.only or any(word.lower() in name.lower() for word in args.only)


def logged_in_targets(port: int, people: People) -> list[GetTarget]:
    """The GET targets with their sessions: patients' made with the session engine, the
    nurse's through the real log-in and two-step forms."""
    from clinic.demo import DEMO_PASSWORD

    sessions = {p.user_id: open_session(p.user) for p in {*people.browsing, *people.dashboard}}
    nurse_cookies = []
    for nurse in people.nurses:
        jar = staff_login(port, nurse, DEMO_PASSWORD)
        nurse_cookies.append("; ".join(f"{k}={v}" for k, v in jar.items()))
    return get_targets(people, sessions, nurse_cookies)


def prepare_bookings(args: argparse.Namespace, port: int, people: People) -> list[Booking]:
    print(f"Preparing {len(people.booking)} bookings (each patient opens the confirm page)")
    keys = {p.user_id: open_session(p.user) for p in people.booking}

    def prepare(pair: tuple[Patient, datetime]) -> Booking:
        patient, start = pair
        return prepare_booking(port, people, patient, keys[patient.user_id], start)

    # As many at a time as the server has workers: quicker, without queueing.
    with ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        return list(pool.map(prepare, zip(people.booking, people.starts, strict=True)))


def measure(args: argparse.Namespace, port: int, people: People) -> list[Figures]:
    targets = logged_in_targets(port, people)
    if args.profile:
        for target in targets:
            if any(word.lower() in target.name.lower() for word in args.profile):
                profile_target(target, args.profile_requests, by_function=args.profile_functions)
        if any(word.lower() == "post" for word in args.profile) and people.booking:
            profile_posts(prepare_bookings(args, port, people), args.profile_requests)
        return []
    figures = []
    with tempfile.TemporaryDirectory(prefix="veinline-load-") as folder:
        for target in targets:
            if target.name.startswith("bare") or wanted(args, target.name):
                figures.append(measure_get(args, port, target, Path(folder)))
    if wanted(args, "booking POST") and people.booking:
        bookings = prepare_bookings(args, port, people)
        print(f"Measuring booking POSTs ({args.post_users} users, at most {args.duration} s)")
        figures.append(run_bookings(args, port, bookings))
    return figures


def measure_get(args: argparse.Namespace, port: int, target: GetTarget, folder: Path) -> Figures:
    try:
        check_target(port, target)
    except BenchError as error:
        if target.name.startswith("bare"):
            raise  # without the baseline no ratio means anything
        # One broken page should not cost the figures of the others.
        print(f"NOT MEASURED: {error}")
        nan = float("nan")
        return Figures(
            target.name, 0, 0.0, nan, nan, nan, errors=1, detail=f"not measured: {error}"
        )
    print(f"Measuring {target.name} ({args.duration} s)")
    return run_wrk(args, port, target, folder)


def profile_target(target: GetTarget, count: int, *, by_function: bool = False) -> None:
    """Where one target's time goes: its requests in this process (no server, no wrk),
    with the queries of one request and a profile of ``count`` of them (pyinstrument
    when installed, else cProfile; cProfile by own time with ``by_function``)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=HOST)

    def one(number: int) -> None:
        path, headers = target.lines[number % len(target.lines)]
        response = client.get(path, headers=headers)
        if response.status_code != 200:
            raise BenchError(f"{target.name}: GET {path} answered {response.status_code}")

    one(0)  # templates, URL resolvers and connections warm
    with CaptureQueriesContext(connection) as queries:
        one(1)
    sql_ms = sum(float(q["time"]) for q in queries.captured_queries) * 1000
    print(f"\n=== {target.name}: {len(queries.captured_queries)} queries, {sql_ms:.1f} ms in SQL")
    for query in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:5]:
        print(f"  {float(query['time']) * 1000:6.1f} ms  {query['sql'][:160]}")
    started = time.perf_counter()
    try:
        if by_function:
            raise ImportError  # cProfile's table instead
        from pyinstrument import Profiler
    except ImportError:
        import cProfile
        import pstats

        with cProfile.Profile() as profile:
            for number in range(count):
                one(number)
        pstats.Stats(profile).sort_stats("tottime" if by_function else "cumulative").print_stats(40)
    else:
        profiler = Profiler(interval=0.0005)
        with profiler:
            for number in range(count):
                one(number)
        print(profiler.output_text(unicode=False, color=False))
    per_request = (time.perf_counter() - started) / count * 1000
    print(f"{count} requests, {per_request:.1f} ms each with the profiler on")


def profile_posts(bookings: list[Booking], count: int) -> None:
    """Where a booking POST's time goes: ``count`` bookings made in this process, each by
    its own patient, with the queries of the first and a profile of the rest."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=HOST)

    def one(booking: Booking) -> None:
        client.cookies.clear()
        client.cookies.load(booking.cookies)
        response = client.post(
            booking.path,
            booking.form,
            headers={"User-Agent": USER_AGENT, "X-Forwarded-Proto": "https"},
        )
        if response.status_code != 302 or not BOOKED.search(response.get("Location", "")):
            raise BenchError(f"POST {booking.path} answered {response.status_code}")

    if len(bookings) < 2:
        raise BenchError("Profiling needs at least two bookings (--posts).")
    with CaptureQueriesContext(connection) as queries:
        one(bookings[0])
    sql_ms = sum(float(q["time"]) for q in queries.captured_queries) * 1000
    print(f"\n=== booking POST: {len(queries.captured_queries)} queries, {sql_ms:.1f} ms in SQL")
    for query in queries.captured_queries:
        print(f"  {float(query['time']) * 1000:6.1f} ms  {query['sql'][:150]}")
    rest = bookings[1 : count + 1]
    started = time.perf_counter()
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    with profiler:
        for booking in rest:
            one(booking)
    print(profiler.output_text(unicode=False, color=False))
    per_request = (time.perf_counter() - started) / len(rest) * 1000
    print(f"{len(rest)} bookings, {per_request:.1f} ms each with the profiler on")


def print_report(
    args: argparse.Namespace, figures: list[Figures], people: People
) -> dict[str, Any]:
    print()
    print(table(figures))
    print()
    results = verdicts(figures, min(args.post_users, len(people.booking)))
    for text, ok in results:
        print(f"{'PASS' if ok else 'MISS'}  {text}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\ngunicorn {args.workers} x {args.worker_class}"
        f"{f' x {args.threads} threads' if args.threads > 1 else ''}, "
        f"DB_CONN_MAX_AGE={args.conn_max_age}, wrk {args.connections} connections, "
        f"{args.duration} s per target, {os.cpu_count()} CPUs, load average now {load}"
    )
    print(f"Repeat: {repeat_command()}")
    return {
        "command": repeat_command(),
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "seed": args.seed,
        "server": {
            "workers": args.workers,
            "worker_class": args.worker_class,
            "threads": args.threads,
            "conn_max_age": args.conn_max_age,
        },
        "connections": args.connections,
        "duration": args.duration,
        "cpus": os.cpu_count(),
        "results": [json_safe({**asdict(f), "rps": f.rps}) for f in figures],
        "targets": [{"target": text, "pass": ok} for text, ok in results],
    }


def stop_on_sigterm() -> None:
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    set_environment(args)
    try:
        ensure_wrk()
        prepare_database(args)
        forget_run_leftovers()
        people = choose_people(args)
        print(
            f"{len(people.browsing)} patients browse, "
            f"{len(people.dashboard)} open their dashboard, "
            f"{len(people.booking)} book; consultation '{people.treatment.slug}' "
            f"({people.minutes} min); month {people.month:%Y-%m} has {len(people.days)} free days"
        )
        port = free_port()
        try:
            with celery_worker(args), gunicorn(args, port):
                figures = measure(args, port, people)
        finally:
            for process in list(RUNNING):
                process.kill()
            forget_run_leftovers()
        if args.profile:
            return 0
        summary = print_report(args, figures, people)
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2) + "\n")
            print(f"Figures written to {args.json}")
    except BenchError as error:
        print(f"\nbench/load.py: {error}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        print(f"\nbench/load.py: {shlex.join(map(str, error.cmd))} failed", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted; the server is stopped and the run's data removed.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
