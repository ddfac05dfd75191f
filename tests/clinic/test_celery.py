"""A real round trip: a task goes through the configured broker to a worker process."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from clinic.celery import app
from clinic.tasks import heartbeat, noop, ping

ROOT = Path(__file__).resolve().parents[2]


def test_celery_settings_are_safe_for_redelivery():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert "heartbeat" in conf.beat_schedule
    assert conf.broker_url == settings.CELERY_BROKER_URL


def test_heartbeat_runs_in_process():
    assert heartbeat.apply().get()


def test_the_noop_task_does_nothing():
    assert noop.apply().get() is None


@pytest.mark.broker
def test_a_task_goes_through_the_broker_to_a_worker():
    queue = f"roundtrip-{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "clinic.settings.test"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "clinic",
            "worker",
            "--pool=solo",
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
    try:
        token = uuid.uuid4().hex
        result = ping.apply_async(args=[token], queue=queue)
        assert result.get(timeout=60) == f"pong:{token}"
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert "clinic.tasks.ping" in output
    assert "succeeded" in output
