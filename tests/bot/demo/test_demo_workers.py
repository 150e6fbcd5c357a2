"""The demo with its checks in a worker process (issue 15, item 1): the scheduler queues, the
worker process runs the check against the demo's platform and posts into the sandbox."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.demo.live import DemoOptions, DemoSession
from infra.workqueue import DONE, WorkItem
from tests.scenarios.slackapp.conftest import embedded_settings


def test_the_demos_checks_run_in_a_worker_process(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_BOT_SCHEDULE", "on")
    monkeypatch.setenv("MLOPS_BOT_WORKERS", "1")
    options = DemoOptions(traffic_seconds=0)
    with DemoSession(embedded_settings(state_dir), options) as demo:
        runtime = demo.runtime
        assert runtime is not None and runtime.workers is not None
        [worker] = runtime.workers.pids()
        scheduler = demo.scheduler
        assert scheduler.work is None  # the serving process runs no check itself
        deadline = time.monotonic() + 30
        while not scheduler.is_leader:
            assert time.monotonic() < deadline, "the demo's scheduler never led"
            time.sleep(0.1)
        posts_before = len(demo.sandbox.calls_of("chat.postMessage"))
        assert scheduler.run_and_wait("drift:churn-model:prod", timeout=240)
        with runtime.store.session() as session:
            items = session.scalars(
                select(WorkItem).where(WorkItem.kind == "drift", WorkItem.state == DONE)
            ).all()
        assert items and all(f":{worker}:" in (i.claimed_by or "") for i in items)
        deadline = time.monotonic() + 30
        while len(demo.sandbox.calls_of("chat.postMessage")) <= posts_before:
            assert time.monotonic() < deadline, "the worker posted nothing into the sandbox"
            time.sleep(0.1)
