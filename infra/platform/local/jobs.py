"""Training jobs: rows in the environment database, run by detached runner processes.

The bot only inserts a queued row and starts ``python -m infra.platform.local.runner`` in its own
session; the runner moves the row through running -> completed/failed and registers the model.
Status therefore survives a bot restart. A runner that died without reporting (killed, machine
rebooted) is noticed when the job is read: its pid is gone, or belongs to a younger process.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Row, select, update
from sqlalchemy.exc import IntegrityError

import infra
from infra.platform.base import (
    ConflictError,
    InvalidRequestError,
    JobInfo,
    JobStatus,
    NotFoundError,
)
from infra.platform.local.db import Database, jobs, utcnow
from infra.platform.local.layout import EnvLayout, StateLayout

OUTPUT_LOG = "output.log"
RUNNER_LOG = "runner.log"
OUTPUTS_DIR = "outputs"
TAIL_LINES = 40
TAIL_CHARS = 4000
_UNFINISHED = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
_CREATE_TIME_SLACK = 1.0
SPAWN_GRACE = timedelta(seconds=30)
#: The ``reason`` of a monitoring check job (``monitoring.compute: platform``): such jobs share
#: the table and the runner with training jobs but are no training runs, so the model's job
#: list (``/mlops jobs``, the status card's last training) leaves them out.
CHECK_REASON = "[monitoring check]"
#: Parameters of a check job the runner reads to prepare its inputs (dotted, so no training
#: parameter can take the name: :func:`check_parameters` refuses dots).
CHECK_KIND, CHECK_WINDOW, CHECK_COLUMNS = "mlops.check", "mlops.window", "mlops.columns"
INPUTS_DIR = "inputs"
PRODUCTION_INPUT = "production.parquet"


def log_tail(path: Path, lines: int = TAIL_LINES, limit: int = TAIL_CHARS) -> str:
    """The last ``lines`` lines of a log file (at most ``limit`` characters), or ``""``."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit * 4))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    tail = "\n".join(text.splitlines()[-lines:])
    return tail[-limit:]


def last_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()
    return ""


def process_alive(pid: int | None, started: float | None) -> bool:
    """Whether ``pid`` still runs *and* is the process that was started at ``started``."""
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(process.create_time() - started) < _CREATE_TIME_SLACK
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def terminate_group(pid: int | None, started: float | None) -> None:
    """Stop a runner and the script it started (they share a process group)."""
    if not process_alive(pid, started):
        return
    assert pid is not None
    try:
        if hasattr(os, "killpg"):
            os.killpg(pid, signal.SIGTERM)
        else:  # pragma: no cover - Windows
            psutil.Process(pid).terminate()
    except (ProcessLookupError, PermissionError, psutil.Error):
        pass


class JobStore:
    def __init__(self, db: Database, env: EnvLayout, job_page: str | None = None) -> None:
        self.db = db
        self.env = env
        self.job_page = job_page
        """URL template (``{environment}``, ``{job_id}``) of a page showing a job's log."""

    def full_log(self, job_id: str, limit: int = 2_000_000) -> str:
        """The job's whole output (its last ``limit`` characters), for the job's page."""
        self.row(job_id)  # NotFoundError for an unknown job
        path = self.work_dir(job_id) / OUTPUT_LOG
        if not path.exists():
            return ""
        return path.read_text(errors="replace")[-limit:]

    def work_dir(self, job_id: str) -> Path:
        return self.env.jobs / job_id

    # -- rows
    def create(
        self,
        *,
        job_id: str,
        model: str,
        parameters: Mapping[str, str],
        reason: str,
        command: Sequence[str],
    ) -> None:
        work_dir = self.work_dir(job_id)
        (work_dir / OUTPUTS_DIR).mkdir(parents=True, exist_ok=True)
        with self.db.write() as conn:
            conn.execute(
                jobs.insert().values(
                    id=job_id,
                    model=model,
                    status=JobStatus.QUEUED.value,
                    created=utcnow(),
                    parameters=dict(parameters),
                    metrics={},
                    reason=reason,
                    command=list(command),
                    work_dir=str(work_dir),
                )
            )

    def find(self, job_id: str) -> Row[Any] | None:
        with self.db.read() as conn:
            return conn.execute(select(jobs).where(jobs.c.id == job_id)).first()

    def row(self, job_id: str) -> Row[Any]:
        found = self.find(job_id)
        if found is None:
            raise NotFoundError(f"job {job_id!r} not found in {self.env.name}")
        return found

    def recent(self, model: str, limit: int) -> list[Row[Any]]:
        with self.db.read() as conn:
            return list(
                conn.execute(
                    select(jobs)
                    .where(jobs.c.model == model, jobs.c.reason != CHECK_REASON)
                    .order_by(jobs.c.created.desc(), jobs.c.id.desc())
                    .limit(limit)
                ).all()
            )

    def transition(
        self, job_id: str, allowed_from: Iterable[str], to: JobStatus, **values: Any
    ) -> bool:
        """Compare-and-set the status; False when the job was no longer in ``allowed_from``."""
        with self.db.write() as conn:
            result = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(list(allowed_from)))
                .values(status=to.value, **values)
            )
            return result.rowcount == 1

    def set_runner(self, job_id: str, pid: int, started: float | None) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(runner_pid=pid, runner_started=started)
            )

    def reconcile(self, row: Row[Any]) -> Row[Any]:
        """Mark a job failed when its runner is gone without having reported a result."""
        if row.status not in _UNFINISHED or process_alive(row.runner_pid, row.runner_started):
            return row
        if row.runner_pid is None and utcnow() - row.created < SPAWN_GRACE:
            return row  # submitted a moment ago; its runner is being started
        runner_log = log_tail(Path(row.work_dir) / RUNNER_LOG, lines=10)
        detail = f": {last_line(runner_log)}" if runner_log else ""
        self.transition(
            row.id,
            _UNFINISHED,
            JobStatus.FAILED,
            ended=utcnow(),
            error=f"the training runner (pid {row.runner_pid}) stopped without reporting{detail}",
        )
        return self.row(row.id)

    def info(self, row: Row[Any]) -> JobInfo:
        work_dir = Path(row.work_dir)
        tail = log_tail(work_dir / OUTPUT_LOG)
        if row.status == JobStatus.FAILED.value and not tail:
            tail = log_tail(work_dir / RUNNER_LOG)
        return JobInfo(
            id=row.id,
            model=row.model,
            environment=self.env.name,
            status=JobStatus(row.status),
            created=row.created,
            started=row.started,
            ended=row.ended,
            parameters=dict(row.parameters or {}),
            metrics=dict(row.metrics or {}),
            log_tail=tail,
            produced_version=row.produced_version,
            # A file:// path is no link anyone in Slack can open (and it shows the server's
            # directories): link the page that serves the log when there is one, else nothing.
            url=self.job_page.format(environment=self.env.name, job_id=row.id)
            if self.job_page
            else None,
            error=row.error,
        )

    # -- the job as the port reports it
    def current(self, job_id: str) -> JobInfo:
        """The job now, after noticing a runner that died without reporting."""
        return self.info(self.reconcile(self.row(job_id)))

    def latest(self, model: str, limit: int) -> list[JobInfo]:
        return [self.info(self.reconcile(r)) for r in self.recent(model, limit)]

    def submit(
        self,
        layout: StateLayout,
        *,
        model: str,
        script: Path,
        data: Path,
        parameters: Mapping[str, str],
        reason: str,
    ) -> JobInfo:
        """Queue a job running ``script`` on ``data`` and start its detached runner.

        ``parameters`` must already be checked (:func:`check_parameters`). A runner that cannot
        be started leaves the job failed, with the reason, rather than raising.
        """
        job_id = new_job_id(model)
        work_dir = self.work_dir(job_id)
        command = training_command(script, data, work_dir / OUTPUTS_DIR, parameters)
        self.create(
            job_id=job_id, model=model, parameters=parameters, reason=reason, command=command
        )
        return self.start(layout, job_id)

    def submit_check(
        self,
        layout: StateLayout,
        *,
        job_id: str,
        model: str,
        kind: str,
        spec: str,
        reference: Path,
        window: tuple[datetime, datetime],
        columns: Mapping[str, str | None],
    ) -> JobInfo:
        """Queue a monitoring check job named ``job_id`` and start its runner; a job of that
        name that exists already is returned as it is (a retried submission starts nothing).

        The runner first writes the production window into the job's inputs (the platform
        "mounts" its data), then runs ``python -m jobs.checkjob`` on it."""
        if self.find(job_id) is not None:
            return self.current(job_id)
        work_dir = self.work_dir(job_id)
        (work_dir / INPUTS_DIR).mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "jobs.checkjob",
            "--spec",
            spec,
            "--reference",
            str(reference),
            "--production",
            str(work_dir / INPUTS_DIR / PRODUCTION_INPUT),
            "--out",
            str(work_dir / OUTPUTS_DIR),
        ]
        parameters = {
            CHECK_KIND: kind,
            CHECK_WINDOW: f"{window[0].isoformat()}/{window[1].isoformat()}",
            CHECK_COLUMNS: json.dumps(dict(columns), sort_keys=True),
        }
        try:
            self.create(
                job_id=job_id,
                model=model,
                parameters=parameters,
                reason=CHECK_REASON,
                command=command,
            )
        except IntegrityError:  # a concurrent submission of the same name won
            return self.current(job_id)
        return self.start(layout, job_id)

    def outputs(self, job_id: str) -> dict[str, bytes]:
        """The files a job left in its outputs folder (top level only)."""
        self.row(job_id)  # NotFoundError for an unknown job
        folder = self.work_dir(job_id) / OUTPUTS_DIR
        if not folder.is_dir():
            return {}
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}

    def start(self, layout: StateLayout, job_id: str) -> JobInfo:
        """Start the detached runner of a queued job."""
        work_dir = self.work_dir(job_id)
        try:
            runner = spawn_runner(layout, self.env, job_id, work_dir)
        except OSError as exc:
            self.transition(
                job_id,
                _UNFINISHED,
                JobStatus.FAILED,
                ended=utcnow(),
                error=f"could not start the runner: {exc}",
            )
            return self.current(job_id)
        try:
            started: float | None = psutil.Process(runner.pid).create_time()
        except psutil.Error:
            started = None  # already over; reconcile reads the status it left behind
        self.set_runner(job_id, runner.pid, started)
        # Reap the runner when it exits so it never lingers as a zombie of the bot process.
        threading.Thread(target=runner.wait, name=f"reap:{job_id}", daemon=True).start()
        return self.current(job_id)

    def cancel(self, job_id: str) -> JobInfo:
        """Cancel a queued or running job (cancelling a cancelled job changes nothing)."""
        row = self.reconcile(self.row(job_id))
        if row.status == JobStatus.CANCELED.value:
            return self.info(row)
        if row.status not in _UNFINISHED:
            raise ConflictError(f"job {job_id} already {row.status}; there is nothing to cancel")
        if self.transition(
            job_id, _UNFINISHED, JobStatus.CANCELED, ended=utcnow(), error="canceled on request"
        ):
            terminate_group(row.runner_pid, row.runner_started)
        return self.current(job_id)


def spawn_runner(
    layout: StateLayout, env: EnvLayout, job_id: str, work_dir: Path
) -> subprocess.Popen[bytes]:
    """Start the runner detached (own session), so it outlives a bot restart and can be
    cancelled as a process group."""
    project_root = str(Path(infra.__file__).resolve().parent.parent)
    child_env = dict(os.environ)
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (project_root, child_env.get("PYTHONPATH", "")) if p
    )
    command = [
        sys.executable,
        "-m",
        "infra.platform.local.runner",
        "--state-dir",
        str(layout.root),
        "--env",
        env.name,
        "--env-dir",
        str(env.root),
        "--registry-dir",
        str(layout.registry),
        "--job-id",
        job_id,
    ]
    with (work_dir / RUNNER_LOG).open("ab") as runner_log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=runner_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=child_env,
            cwd=str(work_dir),
        )


# --------------------------------------------------------------------------- submission

PARAMETER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
RESERVED_PARAMETERS = ("out",)


def new_job_id(model: str) -> str:
    return f"{model}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def check_parameters(parameters: Mapping[str, str]) -> None:
    """Parameter names become ``--kebab-case`` options, so they must be plain identifiers."""
    for key, value in parameters.items():
        if key in RESERVED_PARAMETERS:
            raise InvalidRequestError(
                f"parameter {key!r} is set by the platform and cannot be given"
            )
        if not PARAMETER_NAME.match(key):
            raise InvalidRequestError(
                f"parameter name {key!r} is invalid; expected letters, digits and underscores"
            )
        if any(ch in value for ch in "\r\n\x00"):
            raise InvalidRequestError(f"parameter {key} contains control characters")


def resolve_script(configured: str | None, config_file: str | None, state_root: Path) -> Path:
    """The retraining script: the configured path (relative to the configuration file, the
    working directory or the state directory), else the shipped demo script (``scripts/train_churn.py``)."""
    if not configured:
        return Path(__file__).with_name("scripts") / "train_churn.py"
    candidate = Path(configured).expanduser()
    if not candidate.is_absolute():
        source = Path(config_file) if config_file else None
        bases = [source.parent] if source is not None and source.is_file() else []
        bases += [Path.cwd(), state_root]
        candidate = next((b / candidate for b in bases if (b / candidate).is_file()), candidate)
    if not candidate.is_file():
        raise InvalidRequestError(
            f"retraining script {configured!r} not found "
            "(models[].retraining.pipeline must be a Python script on the local platform)"
        )
    return candidate


def training_command(
    script: Path, data: Path, outputs: Path, parameters: Mapping[str, str]
) -> list[str]:
    """``python script --data D --out O --learning-rate 0.1 ...`` (``data`` is not repeated)."""
    command = [sys.executable, str(script), "--data", str(data), "--out", str(outputs)]
    for key, value in parameters.items():
        if key != "data":
            command += [f"--{key.replace('_', '-')}", value]
    return command
