"""Issue 15, item 1: queued checks run in worker processes (``mlops-bot worker``) that share only
the database. Two workers drain a queue with every item run once; a worker killed with SIGKILL in
the middle of an item leaves it to another, which runs it again.

The workers are real processes of this interpreter. Their job kind ``probe`` is registered by a
``sitecustomize`` on their PYTHONPATH (the product has no test hooks): it writes ``start`` and
``done`` lines with its pid to a log, and the item named ``hold`` blocks the first worker that
runs it until it is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from infra.store import Store, open_store
from infra.workqueue import DONE, WorkItem, WorkQueue

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
    """Worker processes on one database, and the probe's log."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db_url = f"sqlite:///{root / 'bot.db'}"
        self.log = root / "probe.log"
        self.log.touch()
        site = root / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(PROBE)
        self.config = root / "mlops-bot.yaml"
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

    def start(self) -> subprocess.Popen[bytes]:
        index = len(self.procs)
        out = (self.root / f"worker-{index}.log").open("wb")
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "bot.cli", "worker"),
                *("--config", str(self.config), "--state-dir", str(self.root / "state")),
            ],
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
    finally:
        pool.stop()
    assert pool.pids() == []
