"""Benchmark: dispatch N due reminders through the broker to one Celery worker.

Run against PostgreSQL and Redis (a scratch database is migrated and filled):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/veinline_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/13 \\
    .venv/bin/python bench/reminders_dispatch.py --count 1000

It prints the time from the dispatcher's first claim to the last reminder marked sent,
the number sent, and duplicates (messages beyond one per reminder; must be 0).
Not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()

    mail_dir = Path(tempfile.mkdtemp(prefix="veinline-bench-mail-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings.test")
    os.environ["TEST_EMAIL_BACKEND"] = "django.core.mail.backends.filebased.EmailBackend"
    os.environ["TEST_EMAIL_FILE_PATH"] = str(mail_dir)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True, env=os.environ
    )

    import django

    django.setup()
    from django.utils import timezone

    from aftercare.models import Reminder
    from aftercare.tasks import dispatch_due_reminders
    from clinic.models import User
    from patients.models import Patient

    run = uuid.uuid4().hex[:8]
    users = User.objects.bulk_create(
        [
            User(email=f"bench-{run}-{i}@example.org", first_name="Bench", last_name=str(i))
            for i in range(50)
        ]
    )
    patients = Patient.objects.bulk_create([Patient(user=u) for u in users])
    due = timezone.now() - timezone.timedelta(minutes=1)
    Reminder.objects.bulk_create(
        [
            Reminder(
                patient=patients[i % len(patients)],
                kind=Reminder.Kind.REASSESSMENT_INVITATION,
                due_at=due,
                idempotency_key=f"bench:{run}:{i}",
            )
            for i in range(args.count)
        ]
    )
    ids = list(
        Reminder.objects.filter(idempotency_key__startswith=f"bench:{run}:").values_list(
            "pk", flat=True
        )
    )
    queue = f"bench-{run}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "clinic",
            "worker",
            "--pool=prefork",
            f"--concurrency={args.concurrency}",
            "--queues",
            queue,
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=os.environ,
    )
    try:
        time.sleep(3)  # let the worker connect
        started = time.perf_counter()
        claimed = 0
        while claimed < len(ids):
            n = dispatch_due_reminders(limit=1000, queue=queue)
            if n == 0:
                break
            claimed += n
        while Reminder.objects.filter(pk__in=ids, status="sent").count() < len(ids):
            if time.perf_counter() - started > 600:
                break
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    sent = Reminder.objects.filter(pk__in=ids, status="sent").count()
    keys: list[str] = []
    for path in mail_dir.glob("*"):
        keys += re.findall(r"^X-Veinline-Reminder: (\S+)$", path.read_text(), flags=re.M)
    keys = [k for k in keys if k.startswith(f"bench:{run}:")]
    duplicates = len(keys) - len(set(keys))
    print(f"reminders: {len(ids)}  sent: {sent}  messages: {len(keys)}  duplicates: {duplicates}")
    print(f"time: {elapsed:.2f} s  throughput: {sent / elapsed:.0f} reminders/s")
    print(
        "repeat: DATABASE_URL=... CELERY_BROKER_URL=redis://... "
        f".venv/bin/python bench/reminders_dispatch.py --count {args.count}"
    )


if __name__ == "__main__":
    main()
