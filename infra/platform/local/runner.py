"""Runs one training job of the embedded platform: ``python -m infra.platform.local.runner ...``.

Started detached by :meth:`LocalPlatform.submit_training`; everything it needs is in the job's
row (the command line was fixed at submission), so it does not read the bot's configuration.
It moves the job queued -> running, runs the training script with its output captured to
``output.log``, and on success registers the model the script wrote in ``--out`` (with
``metrics.json`` and optional ``tags.json``) as a new version, marking the job completed with
``produced_version``. A failing script marks the job failed with the last line of its output.
Cancellation (SIGTERM to the process group) stops the script; the canceller records the status.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from infra.platform.base import JobStatus
from infra.platform.local.db import Database, utcnow
from infra.platform.local.jobs import (
    CHECK_COLUMNS,
    CHECK_KIND,
    CHECK_WINDOW,
    INPUTS_DIR,
    OUTPUT_LOG,
    OUTPUTS_DIR,
    PRODUCTION_INPUT,
    JobStore,
    last_line,
    log_tail,
)
from infra.platform.local.layout import EnvLayout, StateLayout
from infra.platform.local.versions import SharedRegistry, VersionStore, find_artifact

METRICS_FILE = "metrics.json"
TAGS_FILE = "tags.json"


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run one training job of the local platform.")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--env", required=True)
    parser.add_argument("--env-dir", required=True)
    parser.add_argument("--registry-dir", required=True)
    parser.add_argument("--job-id", required=True)
    return parser.parse_args(argv)


def _numeric_metrics(path: Path) -> dict[str, float]:
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path.name} must hold a JSON object of metric names to numbers")
    return {
        str(k): float(v)
        for k, v in raw.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


def _string_tags(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path.name} must hold a JSON object of tag names to values")
    return {str(k): str(v) for k, v in raw.items()}


def _script_environment(row: Any, outputs: Path, env_name: str) -> dict[str, str]:
    environ = dict(os.environ)
    environ.update(
        {
            "MLOPS_JOB_ID": row.id,
            "MLOPS_MODEL": row.model,
            "MLOPS_ENVIRONMENT": env_name,
            "MLOPS_OUTPUT_DIR": str(outputs),
            "PYTHONUNBUFFERED": "1",
        }
    )
    # Jobs share the machine with the bot: one math thread each unless the operator says more.
    environ.setdefault("OMP_NUM_THREADS", "1")
    return environ


def _mount_production(
    db: Database, env: EnvLayout, model: str, parameters: dict[str, str], inputs: Path
) -> int:
    """Write the check's production window to the job's inputs, as the platform mounts a data
    asset into a job: read here, in the platform's process, never in the bot's."""
    from datetime import datetime
    from types import SimpleNamespace

    from infra.platform.local import monitoring
    from infra.platform.local.telemetry import TrafficLog

    start, _, end = parameters[CHECK_WINDOW].partition("/")
    columns = SimpleNamespace(**json.loads(parameters[CHECK_COLUMNS]))
    records = TrafficLog(env).read(
        model, datetime.fromisoformat(start), datetime.fromisoformat(end)
    )
    frame = monitoring.production_data(records, db, model, columns)
    inputs.mkdir(parents=True, exist_ok=True)
    partial = inputs / f".{PRODUCTION_INPUT}.part"
    frame.to_parquet(partial, index=False)
    partial.replace(inputs / PRODUCTION_INPUT)
    return len(frame)


def run(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    env = EnvLayout(args.env, Path(args.env_dir))
    layout = StateLayout(
        root=Path(args.state_dir), registry=Path(args.registry_dir), envs={env.name: env}
    )
    db = Database(env.db)
    store = JobStore(db, env)
    row = store.row(args.job_id)
    if not store.transition(row.id, [JobStatus.QUEUED.value], JobStatus.RUNNING, started=utcnow()):
        return 0  # cancelled before it started

    work_dir = Path(row.work_dir)
    outputs = work_dir / OUTPUTS_DIR
    outputs.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    child: subprocess.Popen[bytes] | None = None

    def on_terminate(_signum: int, _frame: FrameType | None) -> None:
        stop.set()
        if child is not None and child.poll() is None:
            child.terminate()

    signal.signal(signal.SIGTERM, on_terminate)
    parameters = dict(row.parameters or {})
    is_check = CHECK_KIND in parameters
    if is_check:
        try:
            rows = _mount_production(db, env, row.model, parameters, work_dir / INPUTS_DIR)
        except Exception as exc:  # the job's failure, with its reason, as a script's would be
            store.transition(
                row.id,
                [JobStatus.RUNNING.value],
                JobStatus.FAILED,
                ended=utcnow(),
                error=f"reading the production data failed: {exc}",
            )
            return 1
        with (work_dir / OUTPUT_LOG).open("ab") as log:
            log.write(f"mounted {rows} production rows as {PRODUCTION_INPUT}\n".encode())
    with (work_dir / OUTPUT_LOG).open("ab") as log:
        log.write(("$ " + " ".join(row.command) + "\n").encode())
        log.flush()
        child = subprocess.Popen(
            row.command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(work_dir),
            env=_script_environment(row, outputs, env.name),
        )
        if stop.is_set():
            child.terminate()
        code = child.wait()

    running = [JobStatus.RUNNING.value]
    if stop.is_set():
        store.transition(row.id, running, JobStatus.CANCELED, ended=utcnow(), error="canceled")
        return 1
    if code != 0:
        reason = last_line(log_tail(work_dir / OUTPUT_LOG)) or "no output"
        store.transition(
            row.id,
            running,
            JobStatus.FAILED,
            ended=utcnow(),
            error=f"{'check' if is_check else 'training script'} exited with code {code}: {reason}",
        )
        return 1
    if is_check:  # a check job produces its outputs, no model version
        store.transition(row.id, running, JobStatus.COMPLETED, ended=utcnow())
        return 0
    try:
        metrics = _numeric_metrics(outputs / METRICS_FILE)
        tags = {f"param.{k}": v for k, v in (row.parameters or {}).items()}
        tags.update(_string_tags(outputs / TAGS_FILE))
        if row.reason:
            tags["reason"] = row.reason
        versions = VersionStore(db, layout, env, SharedRegistry(layout.registry))
        produced = versions.register_file(
            row.model,
            find_artifact(outputs),
            metrics=metrics,
            tags=tags,
            training_job=row.id,
            source=row.id,
        )
    except Exception as exc:  # any registration problem is the job's failure, with its reason
        store.transition(
            row.id,
            running,
            JobStatus.FAILED,
            ended=utcnow(),
            error=f"registering the model failed: {exc}",
        )
        return 1
    store.transition(
        row.id,
        running,
        JobStatus.COMPLETED,
        ended=utcnow(),
        metrics=metrics,
        produced_version=produced.version,
    )
    return 0


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
