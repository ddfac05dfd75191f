"""Benchmark 3: reminder dispatch through Redis to one Celery worker, against the broker's ceiling.

One command, against PostgreSQL and Redis (the database is created and migrated when
missing; use a scratch database, the run adds its rows to it):

    .venv/bin/python bench/reminders_dispatch.py
    .venv/bin/python bench/reminders_dispatch.py --count 10000 \\
        --database-url postgres://postgres@127.0.0.1:5432/veinline_bench_reminders \\
        --broker-url redis://127.0.0.1:6379/6

(``DATABASE_URL`` and ``CELERY_BROKER_URL`` are the defaults when set.)

It starts ONE worker (prefork pool, ``--concurrency`` processes, 2 by default: one per core
of the benchmark machine) on a queue of its own, warms it up, then in the same run:

A. Reminders: N due reminders (email, written by Django's file email backend) go the real
   way: the dispatch task that beat runs (``aftercare.tasks.dispatch_due_reminders``,
   published through Redis like a beat tick, ``--dispatch-limit`` rows per tick) claims them
   and hands them to the send tasks, which send and mark them sent. Reminders/s is counted
   from the first claim to the last reminder marked sent (``claimed_at`` and ``sent_at``).
B. No-op: ``clinic.tasks.noop`` (it does nothing) is published N times to the same worker;
   tasks/s is counted from the first publish until all N are done (the queue is empty and
   the worker, asked through Celery's remote control, has none running or reserved).

``--rounds R`` alternates A and B R times with N/R each and adds them up, which keeps the
ratio steadier when other work comes and goes on the machine.

It prints both throughputs, their ratio (the target is A >= 0.5 x B), the duplicates
(messages beyond one per reminder: must be 0) and the command to repeat the run. The worker
is stopped at the end, also on an error or Ctrl-C. ``--profile-worker out.svg`` records
the worker's processes with py-spy during phase A, waiting included (a flame graph; ``.txt``
gives collapsed stacks, ``.json`` speedscope; py-spy is in requirements-bench.txt).

Not part of the test run. The figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/veinline_bench_reminders"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/6"
KEY_PREFIX = "bench:"  # every reminder a run makes; leftovers of a broken run are cancelled
PATIENTS = 200
STUCK_SECONDS = 120  # no progress for this long ends the run with an error


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="reminders, and no-op tasks")
    parser.add_argument(
        "--concurrency", type=int, default=2, help="processes of the worker's prefork pool"
    )
    parser.add_argument(
        "--dispatch-limit", type=int, default=1000, help="reminders one dispatch run claims"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="reminders per send task (default: the REMINDER_SEND_BATCH_SIZE setting)",
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    )
    parser.add_argument(
        "--broker-url", default=os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER_URL
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="alternate A and B this many times, count/rounds each (steadier on a busy machine)",
    )
    parser.add_argument("--profile-worker", metavar="FILE", help="py-spy flame graph of phase A")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be PostgreSQL (the worker and this script share it)")
    if not args.broker_url.startswith("redis://"):
        parser.error("--broker-url must be Redis")
    if min(args.count, args.concurrency, args.dispatch_limit, args.rounds) < 1:
        parser.error("--count, --concurrency, --dispatch-limit and --rounds must be at least 1")
    return args


def main() -> None:
    args = parse_args()
    # SIGTERM ends the run like Ctrl-C, so the worker is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work_dir = Path(tempfile.mkdtemp(prefix="veinline-bench-reminders-"))
    mail_dir = work_dir / "mail"
    mail_dir.mkdir()
    worker_log = work_dir / "worker.log"
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "clinic.settings.test",
            "DATABASE_URL": args.database_url,
            "CELERY_BROKER_URL": args.broker_url,
            "CELERY_RESULT_BACKEND": args.broker_url,
            "TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "TEST_EMAIL_FILE_PATH": str(mail_dir),
        }
    )
    try:
        prepare_database(args.database_url)
        import django

        django.setup()
        run = uuid.uuid4().hex[:8]
        queue = f"bench-{run}"
        cancel_leftovers()
        reminders: list[PhaseA] = []
        noops: list[PhaseB] = []
        with worker(queue, args.concurrency, worker_log) as process:
            warm_up(run, queue, args)
            for turn, count in enumerate(shares(args.count, args.rounds)):
                # The worker is profiled in the first turn of phase A only.
                profile = args.profile_worker if turn == 0 else None
                reminders.append(
                    phase_reminders(run, f"a{turn}", count, queue, args, process.pid, profile)
                )
                noops.append(phase_noop(queue, count, process.pid))
        keys = sent_keys(mail_dir, f"{KEY_PREFIX}{run}:a")
        report(args, PhaseA.total(reminders), PhaseB.total(noops), keys)
    except Exception:
        if worker_log.exists():
            tail = worker_log.read_text(errors="replace").splitlines()[-40:]
            print("the worker's last log lines:", *tail, sep="\n", file=sys.stderr)
        raise
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


# --- set-up ------------------------------------------------------------------------------------


def prepare_database(url: str) -> None:
    """Create the database when missing, then migrate it."""
    import psycopg2
    from psycopg2 import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    server = urlunsplit(parts._replace(path="/postgres"))
    connection = psycopg2.connect(server)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    connection.close()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True, env=os.environ
    )


def cancel_leftovers() -> None:
    """A run that was stopped half-way leaves claimed rows; they must not be sent in this
    one. Other due rows (not the benchmark's) would be sent too: say so."""
    from django.conf import settings
    from django.db.models import Q
    from django.utils import timezone

    from aftercare.models import Reminder

    Reminder.objects.filter(
        idempotency_key__startswith=KEY_PREFIX, status__in=["pending", "sending"]
    ).update(status="cancelled", last_error="Left over by an earlier benchmark run")
    now = timezone.now()
    stale = now - timedelta(seconds=settings.REMINDER_STALE_CLAIM_SECONDS)
    others = Reminder.objects.filter(
        Q(status="pending", due_at__lte=now) | Q(status="sending", claimed_at__lt=stale)
    ).count()
    if others:
        print(f"note: {others} other due reminders in this database will be sent as well")


def make_reminders(run: str, label: str, count: int) -> tuple[int, int]:
    """``count`` due reminders for ``PATIENTS`` patients; returns their first and last id."""
    from django.utils import timezone

    from aftercare.models import Reminder, ReminderPreference
    from clinic.models import User
    from patients.models import Patient

    users = User.objects.bulk_create(
        [
            User(email=f"{label}-{run}-{i}@bench.invalid", first_name="Bench", last_name=str(i))
            for i in range(min(count, PATIENTS))
        ]
    )
    patients = Patient.objects.bulk_create([Patient(user=user) for user in users])
    ReminderPreference.objects.bulk_create([ReminderPreference(patient=p) for p in patients])
    due = timezone.now() - timedelta(minutes=1)
    rows = Reminder.objects.bulk_create(
        [
            Reminder(
                patient=patients[i % len(patients)],
                kind=Reminder.Kind.REASSESSMENT_INVITATION,
                due_at=due,
                idempotency_key=f"{KEY_PREFIX}{run}:{label}:{i}",
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    return min(r.pk for r in rows), max(r.pk for r in rows)


@contextmanager
def worker(queue: str, concurrency: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """One worker process on the run's own queue, its output in ``log``; stopped (warm, then
    killed) on the way out."""
    from clinic.tasks import ping

    output = log.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "clinic",
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--queues",
            queue,
            "--hostname",
            worker_name(queue),
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=os.environ,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the pool goes down with it
    )
    try:
        token = uuid.uuid4().hex
        result = ping.apply_async(args=(token,), queue=queue)
        reply = result.get(timeout=60)
        result.forget()
        if reply != f"pong:{token}":
            raise RuntimeError(f"the worker did not answer the ping: {reply!r}")
        yield process
    finally:
        stop(process)
        output.close()
        forget_queue(queue)


def forget_queue(queue: str) -> None:
    """Remove the run's queue from Redis (its list and kombu's bindings), messages a
    stopped run left in it included."""
    from redis import Redis

    redis = Redis.from_url(os.environ["CELERY_BROKER_URL"])
    redis.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with suppress(ProcessLookupError):
        process.terminate()  # warm shutdown: tasks in hand finish
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def dispatch(queue: str, limit: int, batch_size: int | None) -> None:
    """Publish the dispatch task through the broker, as a beat tick does."""
    from aftercare.tasks import dispatch_due_reminders

    kwargs: dict[str, Any] = {"limit": limit, "queue": queue}
    # (Before batches, the dispatch task had no batch size: the bench still runs there.)
    takes_batch_size = "batch_size" in inspect.signature(dispatch_due_reminders.run).parameters
    if batch_size is not None and takes_batch_size:
        kwargs["batch_size"] = batch_size
    dispatch_due_reminders.apply_async(kwargs=kwargs, queue=queue)


def warm_up(run: str, queue: str, args: argparse.Namespace) -> None:
    """Every pool process sends some reminders and runs some no-ops first (imports, URL
    resolver, templates, database connection), so neither phase pays for starting up."""
    first, last = make_reminders(run, "warm", 20 * args.concurrency)
    dispatch(queue, 20 * args.concurrency, 1)
    wait_for(lambda: (sum(unfinished(first, last)) == 0, unfinished(first, last)))
    noop_until_done(queue, 20 * args.concurrency)


# --- the phases --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cpu:
    """CPU seconds used by the worker (main and pool processes) and by this script."""

    worker: float = 0.0
    script: float = 0.0

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(self.worker - other.worker, self.script - other.script)

    def __add__(self, other: Cpu) -> Cpu:
        return Cpu(self.worker + other.worker, self.script + other.script)

    def per_item(self, count: int) -> str:
        worker, script = (1000 * seconds / count for seconds in (self.worker, self.script))
        return f"worker {worker:.2f} ms, this script {script:.2f} ms"


def cpu_now(worker_pid: int) -> Cpu:
    """From Linux's /proc (zero for the worker elsewhere): the load-independent figure."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def used(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / tick  # utime and stime

    children = Path(f"/proc/{worker_pid}/task/{worker_pid}/children")
    try:
        pool = [int(pid) for pid in children.read_text().split()]
    except OSError:
        pool = []
    return Cpu(sum(used(pid) for pid in [worker_pid, *pool]), time.process_time())


@dataclass(frozen=True)
class PhaseA:
    count: int
    sent: int
    seconds: float  # first claim to last marked sent
    wall_seconds: float  # first publish to seeing all finished
    statuses: dict[str, int]
    cpu: Cpu

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    @classmethod
    def total(cls, turns: list[PhaseA]) -> PhaseA:
        statuses: dict[str, int] = {}
        for turn in turns:
            for status, n in turn.statuses.items():
                statuses[status] = statuses.get(status, 0) + n
        return cls(
            count=sum(t.count for t in turns),
            sent=sum(t.sent for t in turns),
            seconds=sum(t.seconds for t in turns),
            wall_seconds=sum(t.wall_seconds for t in turns),
            statuses=statuses,
            cpu=sum((t.cpu for t in turns), Cpu()),
        )


@dataclass(frozen=True)
class PhaseB:
    count: int
    seconds: float  # first publish to last done
    publish_seconds: float
    cpu: Cpu

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @classmethod
    def total(cls, turns: list[PhaseB]) -> PhaseB:
        return cls(
            count=sum(t.count for t in turns),
            seconds=sum(t.seconds for t in turns),
            publish_seconds=sum(t.publish_seconds for t in turns),
            cpu=sum((t.cpu for t in turns), Cpu()),
        )


def shares(count: int, rounds: int) -> list[int]:
    """``count`` split into ``rounds`` nearly equal parts (none empty)."""
    rounds = min(rounds, count)
    return [count // rounds + (1 if i < count % rounds else 0) for i in range(rounds)]


def phase_reminders(
    run: str,
    label: str,
    count: int,
    queue: str,
    args: argparse.Namespace,
    worker_pid: int,
    profile: str | None,
) -> PhaseA:
    from django.db.models import Max, Min

    from aftercare.models import Reminder

    first, last = make_reminders(run, label, count)
    profiler = start_profiler(worker_pid, profile) if profile else None
    cpu = cpu_now(worker_pid)
    try:
        started = time.time()
        for _ in range(math.ceil(count / args.dispatch_limit)):
            dispatch(queue, args.dispatch_limit, args.batch_size)
        last_tick = time.monotonic()

        def finished() -> tuple[bool, object]:
            nonlocal last_tick
            pending, sending = unfinished(first, last)
            if pending and time.monotonic() - last_tick > 10:
                dispatch(queue, args.dispatch_limit, args.batch_size)  # another beat tick
                last_tick = time.monotonic()
            return pending + sending == 0, (pending, sending)

        wait_for(finished, interval=0.25)
        wall = time.time() - started
        cpu = cpu_now(worker_pid) - cpu
    finally:
        if profiler is not None and profile is not None:
            stop_profiler(profiler, profile)
    rows = rows_of(run, label, first, last)
    span = rows.aggregate(first_claim=Min("claimed_at"), last_sent=Max("sent_at"))
    seconds = (span["last_sent"] - span["first_claim"]).total_seconds() if span["last_sent"] else 0
    return PhaseA(
        count=count,
        sent=rows.filter(status=Reminder.Status.SENT).count(),
        seconds=seconds,
        wall_seconds=wall,
        statuses=counts(run, label, first, last),
        cpu=cpu,
    )


def phase_noop(queue: str, count: int, worker_pid: int) -> PhaseB:
    cpu = cpu_now(worker_pid)
    started = time.time()
    published = noop_until_done(queue, count)
    seconds = time.time() - started
    cpu = cpu_now(worker_pid) - cpu
    return PhaseB(count=count, seconds=seconds, publish_seconds=published, cpu=cpu)


def noop_until_done(queue: str, count: int) -> float:
    """Publish ``count`` no-op tasks (one producer connection) and wait until all ran;
    returns how long publishing took. The no-op does nothing at all (not even count itself):
    all ran when the queue is empty (its length in Redis) and the worker reports no task
    running or reserved, twice in a row."""
    from redis import Redis

    from clinic.celery import app
    from clinic.tasks import noop

    redis = Redis.from_url(os.environ["CELERY_BROKER_URL"])
    inspect = app.control.inspect(destination=[worker_name(queue)], timeout=5, limit=1)
    started = time.time()
    with app.producer_or_acquire() as producer:
        for _ in range(count):
            noop.apply_async(queue=queue, producer=producer)
    published = time.time() - started
    idle_seen = 0

    def done() -> tuple[bool, object]:
        nonlocal idle_seen
        waiting = redis.llen(queue)
        # Reserved before running: asked in this order, a task cannot slip between them.
        in_hand = -1 if waiting else in_worker(inspect.reserved()) + in_worker(inspect.active())
        idle_seen = idle_seen + 1 if waiting == 0 and in_hand == 0 else 0
        return idle_seen >= 2, (waiting, in_hand)

    wait_for(done, interval=0.02)
    return published


def worker_name(queue: str) -> str:
    return f"{queue}@{socket.gethostname()}"


def in_worker(reply: dict[str, list[Any]] | None) -> int:
    """Tasks in an inspect reply; unknown (a big number) when the worker did not answer."""
    if not reply:
        return 1_000_000
    return sum(len(tasks) for tasks in reply.values())


# --- helpers -----------------------------------------------------------------------------------


def rows_of(run: str, label: str, first: int, last: int) -> Any:
    from aftercare.models import Reminder

    return Reminder.objects.filter(
        pk__range=(first, last), idempotency_key__startswith=f"{KEY_PREFIX}{run}:{label}:"
    )


def counts(run: str, label: str, first: int, last: int) -> dict[str, int]:
    from django.db.models import Count

    rows = rows_of(run, label, first, last).order_by().values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows}


def unfinished(first: int, last: int) -> tuple[int, int]:
    """Reminders of a phase still pending and still being sent (the ids are the phase's own:
    a cheap query, as it runs several times a second while the worker is busy)."""
    from django.db.models import Count

    from aftercare.models import Reminder

    rows = (
        Reminder.objects.filter(pk__range=(first, last), status__in=["pending", "sending"])
        .order_by()
        .values("status")
        .annotate(n=Count("pk"))
    )
    counted = {row["status"]: row["n"] for row in rows}
    return counted.get("pending", 0), counted.get("sending", 0)


def wait_for(check: Callable[[], tuple[bool, object]], interval: float = 0.1) -> None:
    """Poll ``check()`` (done, progress) until done; an error when the progress has not
    changed for ``STUCK_SECONDS``."""
    progress: object = None
    deadline = time.monotonic() + STUCK_SECONDS
    while True:
        done, now = check()
        if done:
            return
        if now != progress:
            progress, deadline = now, time.monotonic() + STUCK_SECONDS
        elif time.monotonic() > deadline:
            raise RuntimeError(f"no progress for {STUCK_SECONDS} s: is the worker running?")
        time.sleep(interval)


def sent_keys(mail_dir: Path, prefix: str) -> list[str]:
    keys: list[str] = []
    for path in mail_dir.glob("*"):
        keys += re.findall(r"^X-Veinline-Reminder: (\S+)$", path.read_text(), flags=re.M)
    return [key for key in keys if key.startswith(prefix)]


def start_profiler(worker_pid: int, output: str) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    # Waiting (for the database, the disk, the broker) counts as well as running: --idle.
    kind = {".txt": "raw", ".json": "speedscope"}.get(Path(output).suffix, "flamegraph")
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(worker_pid), "--subprocesses", "--idle"]
        + ["--format", kind, "--output", output],
        stdout=subprocess.DEVNULL,
    )


def stop_profiler(profiler: subprocess.Popen[bytes], output: str) -> None:
    profiler.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
    try:
        profiler.wait(timeout=60)
    except subprocess.TimeoutExpired:
        profiler.kill()
    print(f"worker profile (phase A): {output}")


def masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urlunsplit(parts)


def report(args: argparse.Namespace, a: PhaseA, b: PhaseB, keys: list[str]) -> None:
    from django.conf import settings

    batch = args.batch_size or getattr(settings, "REMINDER_SEND_BATCH_SIZE", 1)
    duplicates = len(keys) - len(set(keys))
    rounds = f", alternating in {args.rounds} rounds" if args.rounds > 1 else ""
    print(
        f"worker: 1 process, prefork pool, concurrency {args.concurrency}, prefetch multiplier "
        f"{settings.CELERY_WORKER_PREFETCH_MULTIPLIER}, acks_late "
        f"{settings.CELERY_TASK_ACKS_LATE}; broker {masked(args.broker_url)}{rounds}"
    )
    print(
        f"A reminders: {a.count}  sent: {a.sent}  messages: {len(keys)}  "
        f"duplicates: {duplicates}  statuses: {a.statuses}"
    )
    print(
        f"  first claim to last sent: {a.seconds:.2f} s  -> {a.per_second:.0f} reminders/s  "
        f"(publish to all seen done: {a.wall_seconds:.2f} s; dispatch limit "
        f"{args.dispatch_limit}, up to {batch} reminders per send task)"
    )
    print(f"  CPU per reminder: {a.cpu.per_item(a.count)} (polling the database)")
    print(
        f"B no-op tasks: {b.count}  first publish to last done: {b.seconds:.2f} s  -> "
        f"{b.per_second:.0f} tasks/s  (publishing took {b.publish_seconds:.2f} s)"
    )
    print(f"  CPU per no-op: {b.cpu.per_item(b.count)} (publishing)")
    ratio = a.per_second / b.per_second if b.per_second else 0.0
    verdict = "meets" if ratio >= 0.5 else "misses"
    print(f"ratio A/B: {ratio:.2f}  ({verdict} the target >= 0.5)")
    command = [
        ".venv/bin/python",
        "bench/reminders_dispatch.py",
        f"--count={args.count}",
        f"--concurrency={args.concurrency}",
        f"--dispatch-limit={args.dispatch_limit}",
        f"--rounds={args.rounds}",
        f"--database-url={masked(args.database_url)}",
        f"--broker-url={masked(args.broker_url)}",
    ]
    if args.batch_size:
        command.append(f"--batch-size={args.batch_size}")
    print("repeat: " + shlex.join(command))
    if duplicates or a.sent != a.count or len(set(keys)) != a.count:
        sys.exit(1)


if __name__ == "__main__":
    main()
