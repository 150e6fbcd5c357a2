"""Issue 15, item 1: queued checks run in worker processes (``mlops-bot worker``) that share only
the database. Two workers drain a queue with every item run once; a worker killed with SIGKILL in
the middle of an item leaves it to another, which runs it again.

The workers are real processes of this interpreter. Each worker may serve ``/metrics`` and ``/healthz`` (``--metrics-port``); one runs a real drift
check of the seeded demo from the queue and counts it there.

Their job kind ``probe`` is registered by a
``sitecustomize`` on their PYTHONPATH (the product has no test hooks): it writes ``start`` and
``done`` lines with its pid to a log, and the item named ``hold`` blocks the first worker that
runs it until it is killed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot.sandbox import seed
from infra.store import Store, default_database_url, open_store
from infra.workqueue import DONE, PENDING, RUNNING, WorkItem, WorkQueue
from tests.fakes.slack_server import FakeSlackServer

PROBE = textwrap.dedent(
    """
    import os
    import time

    if os.environ.get("PROBE_LOG"):
        from jobs import run as _run

        def _note(line):
            with open(os.environ["PROBE_LOG"], "a") as log:
                log.write(line + "\\n")

        def probe(ctx, model, env, **_):
            _note(f"start {os.getpid()} {model}")
            marker = os.environ["PROBE_LOG"] + ".held"
            if model == "hold" and not os.path.exists(marker):
                open(marker, "w").close()
                time.sleep(600)  # until the test kills this worker
            time.sleep(float(os.environ.get("PROBE_SECONDS", "0.2")))
            _note(f"done {os.getpid()} {model}")

        _run.RUNNERS["probe"] = probe
    """
)


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class Workers:
    """Worker processes on one database, and the probe's log. With ``state``: on that state
    directory (the seeded demo's copy) with the embedded demo configuration instead."""

    def __init__(self, root: Path, state: Path | None = None) -> None:
        self.root = root
        self.state = state
        self.db_url = default_database_url(state) if state else f"sqlite:///{root / 'bot.db'}"
        self.log = root / "probe.log"
        self.log.touch()
        site = root / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(PROBE)
        self.config = root / "mlops-bot.yaml"
        if state is None:  # (with a state directory the demo's embedded configuration)
            # Short claims so an abandoned item is taken over within the test's patience.
            self.config.write_text("platform: local\nworkers:\n  claim: 2s\n  poll: 0.1s\n")
        self.env = {
            **os.environ,
            "MLOPS_BOT_DATABASE_URL": self.db_url,
            "PYTHONPATH": os.pathsep.join(
                [str(site), str(Path(__file__).resolve().parents[3])]
                + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
            ),
            "PROBE_LOG": str(self.log),
            "PROBE_SECONDS": "0.3",
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.store: Store = open_store(self.db_url)  # migrated before any worker starts

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        index = len(self.procs)
        out = (self.root / f"worker-{index}.log").open("wb")
        where = (
            ("--state-dir", str(self.state))
            if self.state
            else ("--config", str(self.config), "--state-dir", str(self.root / "state"))
        )
        proc = subprocess.Popen(
            [*(sys.executable, "-m", "bot.cli", "worker"), *where, *extra],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        self.procs.append(proc)
        return proc

    def wait_ready(self, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
        """The worker logged that it runs queued checks (imports done, loop started)."""
        index = self.procs.index(proc)
        path = self.root / f"worker-{index}.log"

        def ready() -> bool:
            assert proc.poll() is None, f"worker exited: {path.read_text()[-2000:]}"
            return "runs queued checks" in path.read_text()

        wait_until(ready, timeout, "a worker to start")

    def lines(self) -> list[tuple[str, int, str]]:
        result = []
        for line in self.log.read_text().splitlines():
            what, pid, model = line.split()
            result.append((what, int(pid), model))
        return result

    def items(self) -> list[WorkItem]:
        with self.store.session() as session:
            return list(session.scalars(select(WorkItem).order_by(WorkItem.id)).all())

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.store.close()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    made = Workers(tmp_path)
    yield made
    made.close()


def test_two_worker_processes_drain_a_queue_and_run_each_item_once(workers: Workers) -> None:
    first, second = workers.start(), workers.start()
    workers.wait_ready(first)
    workers.wait_ready(second)
    queue = WorkQueue(workers.store, "scheduler")
    slot = datetime.now(UTC)
    models = [f"m{i:02d}" for i in range(16)]
    for model in models:
        assert queue.enqueue("probe", model, "prod", slot) is not None
    assert queue.enqueue("probe", "m00", "prod", slot) is None  # a slot is queued once

    wait_until(
        lambda: all(i.state == DONE for i in workers.items()), 120, "the queue to be drained"
    )
    items = workers.items()
    assert len(items) == len(models) and all(i.attempts == 1 for i in items)
    starts = [(pid, model) for what, pid, model in workers.lines() if what == "start"]
    assert sorted(model for _, model in starts) == models  # each item ran exactly once
    assert {pid for pid, _ in starts} == {first.pid, second.pid}  # both took part
    assert queue.depth() == 0


def test_a_worker_killed_mid_item_leaves_it_to_another_that_runs_it_again(
    workers: Workers,
) -> None:
    doomed = workers.start()
    workers.wait_ready(doomed)
    queue = WorkQueue(workers.store, "scheduler")
    item = queue.enqueue("probe", "hold", "prod", datetime.now(UTC))
    assert item is not None
    wait_until(lambda: ("start", doomed.pid, "hold") in workers.lines(), 60, "the item to start")
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(10)
    running = workers.items()[0]
    assert running.state == "running" and str(doomed.pid) in (running.claimed_by or "")

    successor = workers.start()
    wait_until(lambda: workers.items()[0].state == DONE, 120, "the item to run again")
    row = workers.items()[0]
    assert row.attempts == 2 and str(successor.pid) in (row.claimed_by or "")
    lines = workers.lines()
    assert lines.count(("start", doomed.pid, "hold")) == 1
    assert ("done", successor.pid, "hold") in lines
    assert not any(what == "done" and pid == doomed.pid for what, pid, _ in lines)


def test_serves_pool_starts_a_worker_again_when_one_dies(
    workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve``'s local pool: a worker killed from outside is replaced, and the replacement
    runs what is queued."""
    from bot.workers import WorkerProcesses
    from infra.settings import Secrets, load_settings

    settings = load_settings(workers.config, state_dir=workers.root / "state")
    port = free_port()  # worker 0 of the pool serves its metrics on workers.metrics_port + 0
    settings = settings.model_copy(
        update={
            "workers": settings.workers.model_copy(
                update={"metrics_port": port, "metrics_host": "127.0.0.1"}
            )
        }
    )
    pool = WorkerProcesses(
        settings, Secrets(), 1, database_url=workers.db_url, log_dir=workers.root
    )
    # The pool passes this process's environment on (the probe and its log).
    monkeypatch.setenv("PROBE_LOG", str(workers.log))
    monkeypatch.setenv("PYTHONPATH", workers.env["PYTHONPATH"])
    try:
        pool.start()
        [first] = wait_until(pool.pids, 30, "the worker to start")  # type: ignore[misc]
        os.kill(first, signal.SIGKILL)
        replacement = wait_until(
            lambda: [p for p in pool.pids() if p != first], 60, "a replacement worker"
        )
        assert pool.restarts == 1
        queue = WorkQueue(workers.store, "scheduler")
        item = queue.enqueue("probe", "after-restart", "prod", datetime.now(UTC))
        assert item is not None
        wait_until(lambda: queue.state_of(item) == DONE, 120, "the replacement to run it")
        assert ("done", replacement[0], "after-restart") in workers.lines()  # type: ignore[index]
        # The replacement serves on the same port (a static scrape list stays right), and
        # serve's /readyz says where the pool's metrics are.
        assert health(port)["finished"] == 1
        assert pool.describe() == f"1/1 processes running; /metrics on port {port}"
    finally:
        pool.stop()
    assert pool.pids() == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int, path: str = "/metrics") -> dict[tuple[str, frozenset], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def health(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        return dict(json.loads(response.read()))


def test_a_worker_serves_metrics_and_counts_the_check_it_ran_from_the_queue(
    tmp_path: Path, state_dir: Path, slack_server: FakeSlackServer
) -> None:
    """Issue 15, item 5: a worker process started with ``--metrics-port`` serves ``/metrics``
    and ``/healthz``; a drift check of the seeded demo queued for it is timed by kind and
    outcome there, with the platform calls it made and the work item's counters."""
    workers = Workers(tmp_path, state=state_dir)
    workers.env.update(SLACK_BOT_TOKEN=seed.BOT_TOKEN, SLACK_API_URL=slack_server.base_url)
    port = free_port()
    try:
        worker = workers.start("--metrics-port", str(port), "--metrics-host", "127.0.0.1")
        workers.wait_ready(worker)
        before = health(port)
        assert before["status"] == "ok" and before["last_claim"] is None
        queue = WorkQueue(workers.store, "scheduler")
        item = queue.enqueue("drift", "churn-model", "prod", datetime.now(UTC))
        assert item is not None
        wait_until(
            lambda: queue.state_of(item) not in (None, PENDING, RUNNING),
            120,
            "the worker to run the check",
        )
        log = (tmp_path / "worker-0.log").read_text()
        assert queue.state_of(item) == DONE, log[-3000:]

        samples = scrape(port)
        count = lambda name, **labels: samples.get((name, frozenset(labels.items())))  # noqa: E731
        assert count("mlops_bot_check_duration_seconds_count", kind="drift", outcome="ok") == 1
        assert (count("mlops_bot_check_duration_seconds_sum", kind="drift", outcome="ok") or 0) > 0
        assert count("mlops_bot_work_items_claimed_total", kind="drift") == 1
        assert count("mlops_bot_work_items_finished_total", kind="drift", outcome="done") == 1
        assert (
            count("mlops_bot_platform_call_seconds_count", operation="production_data") or 0
        ) >= 1
        assert count("mlops_bot_platform_breakers_open") == 0
        assert count("mlops_bot_work_queue_depth") == 0
        assert count("mlops_bot_worker_in_flight") == 0
        assert count("mlops_bot_worker_threads", state="alive") == 1
        # It posted the summary itself (through the outbox), like any worker.
        wait_until(lambda: slack_server.messages(seed.MLOPS_CHANNEL), 30, "the drift summary")
        after = health(port)
        assert after["status"] == "ok" and after["last_claim"] is not None
        assert after["finished"] == 1
    finally:
        workers.close()
