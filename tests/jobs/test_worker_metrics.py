"""The worker's metrics wiring (issue 15, item 5): what a worker loop counts (items claimed,
finished by outcome, their duration, claim renewals, items given up), the state it reports
(in flight, threads alive, last claim), the worker runtime's metrics (platform calls through
the guard, breakers, the queue's backlog) and the small HTTP server that serves them."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.runtime import JobRuntime, build_worker_runtime, wire_worker_metrics
from infra.metrics import Metrics
from infra.metrics_http import start_metrics_server
from infra.settings import Secrets, load_settings
from infra.workqueue import DONE, FAILED, Claimed, WorkQueue
from jobs.context import MonitorContext
from jobs.worker import WorkLoop


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    done = threading.Event()
    deadline = datetime.now(UTC) + timedelta(seconds=timeout)
    while not condition():
        assert datetime.now(UTC) < deadline, "timed out"
        done.wait(0.02)


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobRuntime]:
    for name in ("MLOPS_BOT_DATABASE_URL", "MLOPS_BOT_CONFIG", "MLOPS_BOT_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "mlops-bot.yaml"
    config.write_text("platform: local\n")
    made = build_worker_runtime(load_settings(config, state_dir=tmp_path / "state"), Secrets())
    yield made
    made.close()


def loop_on(runtime: JobRuntime, runner: Any, **queue_options: Any) -> WorkLoop:
    queue = WorkQueue(runtime.context.store, "worker-1", metrics=runtime.metrics, **queue_options)
    loop = WorkLoop(runtime.context, queue, runner=runner, poll_seconds=0.05)
    wire_worker_metrics(runtime, loop)
    return loop


def test_the_worker_runtime_counts_into_one_registry_and_reads_its_state(
    runtime: JobRuntime,
) -> None:
    metrics = runtime.metrics
    assert metrics is not None
    # Checks time themselves in the context's metrics (jobs.run): the same registry.
    assert runtime.context.metrics is metrics
    # Platform calls go through the guard, which counts them there too.
    runtime.context.platform.check()
    assert value(metrics, "mlops_bot_platform_call_seconds_count", operation="check") == 1
    assert value(metrics, "mlops_bot_platform_breakers_open") == 0
    # The queue's backlog is read at scrape time; the loop's state once a loop is wired.
    assert value(metrics, "mlops_bot_work_queue_depth") == 0
    assert value(metrics, "mlops_bot_worker_in_flight") is None
    WorkQueue(runtime.context.store, "scheduler").enqueue("probe", "m", "prod", datetime.now(UTC))
    assert value(metrics, "mlops_bot_work_queue_depth") == 1
    loop_on(runtime, lambda ctx, item: None)
    assert value(metrics, "mlops_bot_worker_in_flight") == 0
    assert value(metrics, "mlops_bot_worker_threads", state="alive") == 0  # not started
    assert value(metrics, "mlops_bot_worker_last_claim_timestamp_seconds") is None
    # No leases are held by a worker: the leader series stays empty.
    assert value(metrics, "mlops_bot_leader", role="scheduler") is None


def test_a_loop_counts_claims_outcomes_durations_and_reports_in_flight(
    runtime: JobRuntime,
) -> None:
    metrics = runtime.metrics
    assert metrics is not None
    seen_in_flight: list[float | None] = []

    def runner(ctx: MonitorContext, item: Claimed) -> None:
        seen_in_flight.append(value(metrics, "mlops_bot_worker_in_flight"))
        if item.model == "broken":
            raise RuntimeError("boom")

    loop = loop_on(runtime, runner)
    queue = WorkQueue(runtime.context.store, "scheduler")
    now = datetime.now(UTC)
    ok = queue.enqueue("drift", "fine", "prod", now)
    bad = queue.enqueue("drift", "broken", "prod", now + timedelta(seconds=1))
    before = datetime.now(UTC).timestamp()
    assert loop.run_one() and loop.run_one() and not loop.run_one()
    assert queue.state_of(ok) == DONE and queue.state_of(bad) == FAILED  # type: ignore[arg-type]
    assert seen_in_flight == [1, 1]  # each run was in flight while it ran
    assert value(metrics, "mlops_bot_worker_in_flight") == 0
    assert value(metrics, "mlops_bot_work_items_claimed_total", kind="drift") == 2
    assert value(metrics, "mlops_bot_work_items_finished_total", kind="drift", outcome="done") == 1
    assert (
        value(metrics, "mlops_bot_work_items_finished_total", kind="drift", outcome="failed") == 1
    )
    assert value(metrics, "mlops_bot_work_item_seconds_count", kind="drift", outcome="done") == 1
    last = value(metrics, "mlops_bot_worker_last_claim_timestamp_seconds")
    assert last is not None and last >= before
    polled = value(metrics, "mlops_bot_worker_last_poll_timestamp_seconds")
    assert polled is not None and polled >= last


def test_renewals_and_items_given_up_are_counted(runtime: JobRuntime) -> None:
    metrics = runtime.metrics
    assert metrics is not None
    release = threading.Event()
    loop = loop_on(runtime, lambda ctx, item: release.wait(10), claim=timedelta(seconds=0.3))
    queue = WorkQueue(runtime.context.store, "scheduler")
    queue.enqueue("utilization", "m", "prod", datetime.now(UTC))
    loop.start()
    try:
        # The heartbeat renews the running item's claim every third of its length.
        wait_for(
            lambda: (
                (value(metrics, "mlops_bot_work_claim_renewals_total", result="renewed") or 0) >= 2
            )
        )
        alive, details = loop.health()
        assert alive and details["in_flight"] == 1 and details["last_claim"] is not None
    finally:
        release.set()
        loop.stop()
    alive, details = loop.health()
    assert not alive and details["threads_alive"] == 0  # a stopped loop is not healthy

    # A run whose workers kept dying: the next claimant gives it up, and counts it.
    clock = [datetime.now(UTC)]
    dying = WorkQueue(runtime.context.store, "gone-1", claim=timedelta(seconds=1), max_attempts=1)
    dying.clock = lambda: clock[0]
    queue.enqueue("drift", "cursed", "prod", clock[0])
    assert dying.claim() is not None  # ... and its worker dies without renewing
    taker = WorkQueue(
        runtime.context.store, "worker-2", max_attempts=1, metrics=metrics, clock=lambda: clock[0]
    )
    clock[0] += timedelta(seconds=5)
    assert taker.claim() is None
    assert value(metrics, "mlops_bot_work_items_given_up_total", kind="drift") == 1


def test_the_metrics_server_serves_metrics_and_health(runtime: JobRuntime) -> None:
    metrics = runtime.metrics
    assert metrics is not None
    loop = loop_on(runtime, lambda ctx, item: None)
    server = start_metrics_server(metrics, "127.0.0.1", 0, loop.health)
    base = f"http://127.0.0.1:{server.port}"
    try:
        loop.start()
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            assert b"mlops_bot_worker_in_flight 0.0" in response.read()
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as response:
            health = json.loads(response.read())
        assert health["status"] == "ok" and health["threads_alive"] == 1
        assert health["last_claim"] is None  # nothing claimed yet
        loop.stop()
        with pytest.raises(urllib.error.HTTPError) as failing:
            urllib.request.urlopen(f"{base}/healthz", timeout=10)
        assert failing.value.code == 503
        assert json.loads(failing.value.read())["status"] == "failing"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/slack/events", timeout=10)
        assert missing.value.code == 404
    finally:
        loop.stop()
        server.stop()


def test_a_worker_serving_metrics_loads_no_slack_app() -> None:
    """The worker's metrics server is the stdlib's, not Bolt's: a worker imports no Slack app."""
    code = (
        "import sys, bot.cli.worker, infra.metrics_http\n"
        "from bot.runtime import build_worker_runtime, wire_worker_metrics\n"
        "print(sorted(m for m in sys.modules if m.startswith('slack_bolt')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"


def test_serves_readyz_names_the_pools_metrics_ports(tmp_path: Path) -> None:
    """Worker *i* of serve's pool serves on ``workers.metrics_port + i`` (the same port after a
    restart); serve's ``/readyz`` lists the range."""
    from types import SimpleNamespace

    from bot.runtime import readiness
    from bot.workers import WorkerProcesses

    config = tmp_path / "mlops-bot.yaml"
    config.write_text("platform: local\nworkers:\n  metrics_port: 9101\n")
    settings = load_settings(config, state_dir=tmp_path / "state")
    pool = WorkerProcesses(settings, Secrets(), 3, database_url="sqlite://")
    assert [pool.metrics_port(i) for i in range(3)] == [9101, 9102, 9103]
    off = WorkerProcesses(
        settings.model_copy(
            update={"workers": settings.workers.model_copy(update={"metrics_port": 0})}
        ),
        Secrets(),
        3,
        database_url="sqlite://",
    )
    assert off.metrics_port(0) is None and off.describe() == "0/3 processes running"
    runtime = SimpleNamespace(
        socket_mode=None,
        workers=pool,
        store=SimpleNamespace(ping=lambda: None),
        platform=SimpleNamespace(check=lambda: None),
    )
    ok, checks = readiness(runtime)  # type: ignore[arg-type]
    assert ok  # a detail, not a condition: queued checks wait for the workers
    assert checks["workers"] == "0/3 processes running; /metrics on port 9101-9103"
