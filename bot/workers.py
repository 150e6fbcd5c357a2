"""The local worker processes of ``serve`` (and of the demo): queued checks run here, not in the
process that acks Slack.

Processes, not threads: checks are CPU-bound Python (charts, statistics) and threads of the
serving process share its GIL with the acks, which is what made Slack slow during a cycle
(issue 15). Each worker is a fresh interpreter (``python -m bot.cli worker``), so it imports only
what a check needs, not the Slack app; it reads the serving process's effective settings from a
file in the state directory and its secrets (Slack token, database URL) from its environment,
never from its command line. A worker that dies is started again (its half-done run is taken
over when its claim is released); every worker stops when ``serve`` stops, and by itself when
its parent is gone. With ``workers.metrics_port`` set, worker *i* serves ``/metrics`` and
``/healthz`` on that port + *i* (``serve``'s ``/readyz`` lists the range).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from infra.settings import Secrets, Settings

log = logging.getLogger(__name__)

RESTART_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before restarting a worker that died, by how many times in a row it died early."""
EARLY_DEATH = 30.0
"""A worker that ran at least this long before dying starts again at the shortest backoff."""


def settings_file(settings: Settings, directory: Path) -> Path:
    """Write ``settings`` (as this process resolved them: demo schedules, state directory) for
    worker processes to read; secrets are not part of it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"settings-{os.getpid()}.json"
    document = {
        "settings": settings.model_dump(mode="json"),
        "state_dir": settings.resolved_state_dir,
        "source": settings.source,
    }
    path.write_text(json.dumps(document))
    path.chmod(0o600)
    return path


def load_settings_file(path: str | os.PathLike[str]) -> Settings:
    document = json.loads(Path(path).read_text())
    settings = Settings.model_validate(document["settings"])
    return settings.model_copy(
        update={"resolved_state_dir": document["state_dir"], "source": document.get("source")}
    )


def worker_environment(secrets: Secrets, database_url: str) -> dict[str, str]:
    """The worker's environment: this one plus the secrets this process was given in code
    (the demo's sandbox token and database), which a child would not find otherwise."""
    env = dict(os.environ)
    values = {
        "SLACK_BOT_TOKEN": secrets.slack_bot_token,
        "SLACK_API_URL": secrets.slack_api_url,
        "MLOPS_BOT_DATABASE_URL": database_url,
    }
    env.update({k: v for k, v in values.items() if v})
    # Run from a checkout too (benchmarks, tests): the child finds the same packages.
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


class WorkerProcesses:
    """``count`` worker processes, kept running until :meth:`stop`."""

    def __init__(
        self,
        settings: Settings,
        secrets: Secrets,
        count: int,
        *,
        database_url: str,
        threads: int = 1,
        log_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.secrets = secrets
        self.database_url = database_url
        self.count = count
        self.threads = threads
        self.directory = settings.state_path / "workers"
        self.log_dir = log_dir or self.directory
        self._procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self._started_at: list[float] = [0.0] * count
        self._deaths: list[int] = [0] * count
        self._restart_at: list[float] = [0.0] * count
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._watch: threading.Thread | None = None
        self._settings_path: Path | None = None
        self.restarts = 0

    def start(self) -> None:
        self._settings_path = settings_file(self.settings, self.directory)
        self._env = worker_environment(self.secrets, self.database_url)
        with self._lock:
            for index in range(self.count):
                self._spawn(index)
        self._watch = threading.Thread(
            target=self._watch_loop, name="worker-processes", daemon=True
        )
        self._watch.start()
        log.info("started %d worker processes for the queued checks", self.count)
        if self.metrics_ports():
            log.info("the workers serve /metrics and /healthz on port %s", self.metrics_ports())

    def _spawn(self, index: int) -> None:
        command = [
            sys.executable,
            "-m",
            "bot.cli",
            "worker",
            "--settings-file",
            str(self._settings_path),
            "--parent",
            str(os.getpid()),
            "--threads",
            str(self.threads),
            "--nice",
            str(self.settings.workers.nice),
            "--metrics-port",
            str(self.metrics_port(index) or 0),
        ]
        output = (self.log_dir / f"worker-{index}.log").open("ab")
        try:
            self._procs[index] = subprocess.Popen(
                command, env=self._env, stdout=output, stderr=subprocess.STDOUT
            )
        finally:
            output.close()  # the child holds its own descriptor
        self._started_at[index] = time.monotonic()

    def _watch_loop(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                if self._stop.is_set():
                    return
                now = time.monotonic()
                for index, proc in enumerate(self._procs):
                    if proc is None or proc.poll() is None:
                        continue
                    if not self._restart_at[index]:
                        lived = now - self._started_at[index]
                        self._deaths[index] = 0 if lived >= EARLY_DEATH else self._deaths[index] + 1
                        delay = RESTART_BACKOFF[min(self._deaths[index], len(RESTART_BACKOFF) - 1)]
                        self._restart_at[index] = now + delay
                        log.warning(
                            "worker process %d (pid %d) exited with %s; starting it again in %gs",
                            index,
                            proc.pid,
                            proc.returncode,
                            delay,
                        )
                    elif now >= self._restart_at[index]:
                        self._restart_at[index] = 0.0
                        self.restarts += 1
                        self._spawn(index)

    def metrics_port(self, index: int) -> int | None:
        """Worker ``index``'s ``/metrics`` port: ``workers.metrics_port + index``, the same
        across its restarts (a static scrape list stays right); None when off."""
        base = self.settings.workers.metrics_port
        return base + index if base else None

    def metrics_ports(self) -> str | None:
        """The pool's metrics ports as an operator writes them (``9101-9104``); None: off."""
        first, last = self.metrics_port(0), self.metrics_port(self.count - 1)
        if first is None or last is None:
            return None
        return str(first) if first == last else f"{first}-{last}"

    def describe(self) -> str:
        """For ``serve``'s ``/readyz``: how many run, and where their metrics are."""
        text = f"{len(self.pids())}/{self.count} processes running"
        ports = self.metrics_ports()
        return f"{text}; /metrics on port {ports}" if ports else text

    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self._procs if p is not None and p.poll() is None]

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every worker (each finishes or abandons its run: the claim is taken over),
        then SIGKILL what is still there after ``timeout``."""
        self._stop.set()
        with self._lock:
            procs = [p for p in self._procs if p is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._watch is not None:
            self._watch.join(5)
        if self._settings_path is not None:
            self._settings_path.unlink(missing_ok=True)
