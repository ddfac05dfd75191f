"""Reminder delivery through a real broker and real worker processes.

- The broker down: booking still works at once and writes its reminder rows; a dispatcher
  run fails fast; once the broker is back every due reminder is sent exactly once.
- Two dispatchers at once over 200 due reminders: each is sent exactly once.
- The same batch sent twice at once (a redelivered task): each is sent exactly once.
- A worker killed (SIGKILL) while sending: the reminder is sent later, exactly once.

The worker tests need PostgreSQL (the worker process reads the rows the test commits) and
Redis; they are skipped elsewhere with the reason printed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection, connections
from django.test import override_settings
from django.utils import timezone

from aftercare import services
from aftercare.models import Reminder
from aftercare.tasks import dispatch_due_reminders

from ..factories import PatientFactory

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: worker processes and racing dispatchers share the database",
    ),
]
needs_redis = pytest.mark.skipif(
    not str(settings.CELERY_BROKER_URL).startswith("redis"),
    reason="needs a Redis broker (CELERY_BROKER_URL=redis://...)",
)
CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"


def make_due(count: int) -> list[int]:
    patients = PatientFactory.create_batch(min(count, 20))
    now = timezone.now()
    rows = [
        Reminder(
            patient=patients[i % len(patients)],
            kind=Reminder.Kind.REASSESSMENT_INVITATION,
            due_at=now - timezone.timedelta(minutes=1),
            idempotency_key=f"test:{uuid.uuid4().hex}",
        )
        for i in range(count)
    ]
    return [r.pk for r in Reminder.objects.bulk_create(rows)]


def database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def child_env(mail_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings.test",
        "DATABASE_URL": database_url(),
        "TEST_EMAIL_BACKEND": "tests.support.email.SlowFileEmailBackend",
        "TEST_EMAIL_FILE_PATH": str(mail_dir),
        **extra,
    }


def sent_keys(mail_dir: Path) -> list[str]:
    keys: list[str] = []
    for path in mail_dir.glob("*"):
        keys += re.findall(r"^X-Veinline-Reminder: (\S+)$", path.read_text(), flags=re.M)
    return keys


def wait_until(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


class Worker:
    def __init__(self, queue: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "clinic",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "--queues",
                queue,
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--hostname",
                f"{queue}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def kill_pool_child(self) -> int:
        children = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert children, "the worker has no pool process"
        os.kill(int(children[0]), signal.SIGKILL)
        return int(children[0])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def queue() -> str:
    return f"reminders-{uuid.uuid4().hex[:8]}"


def statuses(ids: list[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Reminder.objects.filter(pk__in=ids).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_two_dispatchers_at_once_send_each_reminder_once(reference_data):
    ids = make_due(200)
    claimed: list[list[int]] = [[], []]
    barrier = threading.Barrier(2)

    def dispatcher(n: int) -> None:
        barrier.wait()
        try:
            while batch := services.reminders_claim_due(limit=20):
                claimed[n] += batch
                for reminder_id in batch:
                    services.reminder_send(reminder_id=reminder_id)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dispatcher, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not set(claimed[0]) & set(claimed[1])
    assert sorted(claimed[0] + claimed[1]) == sorted(ids)
    assert claimed[0] and claimed[1], "both dispatchers took part"
    assert len(mail.outbox) == 200
    assert len({m.extra_headers["X-Veinline-Reminder"] for m in mail.outbox}) == 200
    assert statuses(ids) == {"sent": 200}


def test_the_same_batch_sent_twice_at_once_sends_each_reminder_once(reference_data):
    """A batch delivered twice (redelivery) running at the same time as its copy: one
    sender waits for each row lock, then finds the reminder sent."""
    ids = make_due(100)
    assert sorted(services.reminders_claim_due(limit=1000)) == sorted(ids)
    outcomes: list[dict] = [{}, {}]
    barrier = threading.Barrier(2)

    def sender(n: int, order: list[int]) -> None:
        barrier.wait()
        try:
            outcomes[n] = services.reminders_send(reminder_ids=order)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=sender, args=(0, ids)),
        threading.Thread(target=sender, args=(1, ids[::-1])),  # they meet in the middle
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(outcome.status == "sent" for o in outcomes for outcome in o.values())
    assert len(outcomes[0]) == len(outcomes[1]) == 100
    assert len(mail.outbox) == 100
    assert len({m.extra_headers["X-Veinline-Reminder"] for m in mail.outbox}) == 100
    assert statuses(ids) == {"sent": 100}
    assert set(Reminder.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}


def test_completing_a_session_is_fast_with_the_broker_down(
    reference_data, course, schedule, nurse, sign_consent
):
    from treatments import services as clinical
    from treatments.models import Legs

    sign_consent(course)
    session = schedule(course, timezone.now() - timezone.timedelta(hours=1))
    clinical.session_confirm_consent(session=session, nurse=nurse)
    clinical.session_start(session=session, by=nurse)
    clinical.session_record(session=session, by=nurse, discharge_walk_minutes=10)
    for leg in Legs.sides(session.legs_treated):
        clinical.session_fit_stocking(
            session=session, by=nurse, leg=leg, compression_class="2", length="knee"
        )
    with override_settings(CELERY_BROKER_URL=CLOSED_PORT_BROKER):
        started = time.monotonic()
        clinical.session_complete(session=session, by=nurse)
        assert time.monotonic() - started < 1.0
    assert Reminder.objects.filter(plan__session=session, kind="daily_walk").count() >= 20


@needs_redis
def test_broker_down_then_back_sends_every_reminder_once(reference_data, queue, tmp_path):
    from bookings.services import appointment_create

    from ..factories import ConsultantFactory, ConsultingRoomFactory, treatment

    mail_dir = tmp_path / "mail"
    with override_settings(CELERY_BROKER_URL=CLOSED_PORT_BROKER):
        started = time.monotonic()
        appointment = appointment_create(
            patient=PatientFactory(),
            treatment=treatment("initial-consultation"),
            start=timezone.now() + timezone.timedelta(days=5),
            minutes=30,
            consultant=ConsultantFactory(),
            room=ConsultingRoomFactory(),
        )
        assert time.monotonic() - started < 1.0
    assert Reminder.objects.filter(appointment=appointment).count() == 3
    ids = list(
        Reminder.objects.filter(status="pending", due_at__lte=timezone.now()).values_list(
            "pk", flat=True
        )
    ) + make_due(9)

    # The dispatcher with the broker down fails fast and loses nothing.
    started = time.monotonic()
    down = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); "
            "from aftercare.tasks import dispatch_due_reminders; "
            f"dispatch_due_reminders(queue={queue!r})",
        ],
        cwd=ROOT,
        env=child_env(mail_dir, CELERY_BROKER_URL=CLOSED_PORT_BROKER),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode != 0
    assert time.monotonic() - started < 15
    assert statuses(ids).get("sending", 0) >= 1

    # The broker is back: the next run claims the stuck rows again and the worker sends.
    worker = Worker(queue, child_env(mail_dir))
    try:
        up = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); "
                "from aftercare.tasks import dispatch_due_reminders; "
                f"print(dispatch_due_reminders(queue={queue!r}))",
            ],
            cwd=ROOT,
            env=child_env(mail_dir, REMINDER_STALE_CLAIM_SECONDS="0"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert up.returncode == 0, up.stderr
        assert wait_until(lambda: statuses(ids) == {"sent": len(ids)}), statuses(ids)
    finally:
        worker.stop()
    keys = sent_keys(mail_dir)
    assert len(keys) == len(ids) == len(set(keys))


@needs_redis
def test_a_worker_killed_while_sending_sends_later_exactly_once(reference_data, queue, tmp_path):
    mail_dir = tmp_path / "mail"
    ids = make_due(1)
    worker = Worker(queue, child_env(mail_dir, SLOW_EMAIL_SECONDS="3"))
    try:
        assert dispatch_due_reminders(queue=queue) == 1
        assert wait_until(lambda: worker.saw("Task aftercare.tasks.send_reminders"), 30)
        time.sleep(1.0)  # inside the slow send
        worker.kill_pool_child()
        assert wait_until(lambda: statuses(ids) == {"sent": 1}, 60), (
            statuses(ids),
            "".join(worker.lines[-30:]),
        )
    finally:
        worker.stop()
    assert worker.saw("WorkerLostError") or worker.saw("exited with 'signal 9")
    assert len(sent_keys(mail_dir)) == 1
    assert Reminder.objects.get(pk=ids[0]).attempts == 1
