"""A scripted ML platform for scheduling scenarios: data that drifts when told to, metrics that
spike when told to, training jobs that finish when told to.

The scheduler, the checks, the monitoring engine, the store and Slack are all real in these
tests; only the ML platform is this small in-memory implementation of the port, so a test can
say "from now on production traffic drifts" and count what the bot posts.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from infra.platform.base import (
    Deployment,
    EndpointState,
    JobInfo,
    JobStatus,
    MLPlatform,
    ModelVersion,
    NotFoundError,
    Operation,
    SmokeTestResult,
)

NUMERIC = ("tenure", "charges", "calls", "usage")
CATEGORICAL = ("plan",)
PLANS = ("basic", "plus", "pro")
ROWS_PER_DAY = 480
REFERENCE_ROWS = 2000


def _frame(rng: np.random.Generator, n: int, *, drifted: bool) -> pd.DataFrame:
    shift = 1.5 if drifted else 0.0
    frame = pd.DataFrame({name: rng.normal(shift, 1.0, n) for name in NUMERIC})
    weights = (0.1, 0.2, 0.7) if drifted else (0.5, 0.3, 0.2)
    frame["plan"] = rng.choice(PLANS, size=n, p=weights)
    signal = frame["tenure"] - frame["calls"] + rng.normal(0, 0.5, n)
    frame["label"] = (signal > 0).astype(int)
    # The model learned the reference relation; under drift it is right less often.
    noise = rng.normal(0, 1.6 if drifted else 0.3, n)
    frame["score"] = 1 / (1 + np.exp(-(signal + noise)))
    frame["prediction"] = (frame["score"] > 0.5).astype(int)
    return frame


class ScriptedPlatform(MLPlatform):
    name = "scripted"

    def __init__(self) -> None:
        self.drifted = False
        self.rows_per_day = ROWS_PER_DAY
        """Traffic volume: above ~1,000 rows a window the drift check switches KS → Wasserstein."""
        self.overloaded = False
        self.jobs: dict[str, JobInfo] = {}
        self.submissions: list[tuple[str, str, dict[str, str], str]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.reference = _frame(np.random.default_rng(0), REFERENCE_ROWS, drifted=False)
        self.labelled = True
        """False: production windows come without labels (they arrive weeks later)."""
        self.labels_until: datetime | None = None
        """Rows from this moment on come without labels (a label delay, as on the demo)."""

    # -- health and models
    def check(self) -> None:
        return None

    def list_models(self, env: str) -> list[str]:
        return ["churn"]

    def list_versions(self, model: str, env: str) -> list[ModelVersion]:
        return [self.get_version(model, "1", env)]

    def get_version(self, model: str, version: str, env: str) -> ModelVersion:
        return ModelVersion(
            model, version, datetime(2026, 1, 1, tzinfo=UTC), metrics={"accuracy": 0.9}
        )

    def copy_version(
        self, model: str, version: str, source_env: str, target_env: str
    ) -> ModelVersion:
        return self.get_version(model, version, target_env)

    # -- endpoints
    def endpoint_state(self, model: str, env: str) -> EndpointState:
        return EndpointState(
            model, env, f"{model}-{env}", "http://scoring.invalid", (Deployment("blue", "1", 100),)
        )

    def begin_deploy(self, model: str, version: str, env: str, **_: Any) -> Operation[Deployment]:
        return Operation.completed("deploy", Deployment("green", version, 0))

    def smoke_test(
        self, model: str, env: str, deployment: str, sample: Mapping[str, Any] | Sequence[Any]
    ) -> SmokeTestResult:
        return SmokeTestResult(True, 5.0, "ok")

    def set_traffic(
        self,
        model: str,
        env: str,
        traffic: Mapping[str, int],
        mirror: Mapping[str, int] | None = None,
    ) -> EndpointState:
        return self.endpoint_state(model, env)

    def begin_delete_deployment(self, model: str, env: str, deployment: str) -> Operation[None]:
        return Operation.completed("delete", None)

    # -- training
    def submit_training(
        self, model: str, env: str, parameters: Mapping[str, str], *, reason: str = ""
    ) -> JobInfo:
        with self._lock:
            job_id = f"job-{next(self._ids)}"
            job = JobInfo(
                job_id, model, env, JobStatus.QUEUED, datetime.now(UTC), parameters=dict(parameters)
            )
            self.jobs[job_id] = job
            self.submissions.append((model, env, dict(parameters), reason))
            return job

    def finish(self, job_id: str, status: JobStatus = JobStatus.COMPLETED) -> JobInfo:
        """Test control: end a job (a completed one produces version 2)."""
        with self._lock:
            job = self.jobs[job_id]
            now = datetime.now(UTC)
            done = replace(
                job,
                status=status,
                started=job.created,
                ended=now,
                metrics={"accuracy": 0.93} if status is JobStatus.COMPLETED else {},
                produced_version="2" if status is JobStatus.COMPLETED else None,
                log_tail="" if status is JobStatus.COMPLETED else "Traceback: out of memory",
                error=None if status is JobStatus.COMPLETED else "out of memory",
            )
            self.jobs[job_id] = done
            return done

    def get_job(self, env: str, job_id: str) -> JobInfo:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise NotFoundError(f"job {job_id} not found") from None

    def list_jobs(self, model: str, env: str, limit: int = 10) -> list[JobInfo]:
        return sorted(self.jobs.values(), key=lambda j: j.created, reverse=True)[:limit]

    def cancel_job(self, env: str, job_id: str) -> JobInfo:
        return self.finish(job_id, JobStatus.CANCELED)

    # -- data
    def deployment_metrics(
        self,
        model: str,
        env: str,
        start: datetime,
        end: datetime,
        *,
        deployment: str | None = None,
        interval_minutes: int = 5,
        include_probes: bool = False,
    ) -> pd.DataFrame:
        index = pd.date_range(start, end, freq=f"{interval_minutes}min", tz=UTC, inclusive="left")
        rng = np.random.default_rng(int(start.timestamp()))
        cpu = 95.0 if self.overloaded else 45.0
        return pd.DataFrame(
            {
                "cpu_percent": rng.normal(cpu, 2.0, len(index)).clip(0, 100),
                "memory_percent": rng.normal(50.0, 2.0, len(index)),
                "requests_per_minute": rng.normal(120.0, 5.0, len(index)),
                "latency_p50_ms": rng.normal(40.0, 2.0, len(index)),
                "latency_p95_ms": rng.normal(90.0, 5.0, len(index)),
                "latency_p99_ms": rng.normal(150.0, 10.0, len(index)),
                "error_rate": np.full(len(index), 0.001),
                "instance_count": np.full(len(index), 2),
            },
            index=index,
        )

    def reference_data(self, model: str) -> pd.DataFrame:
        return self.reference.copy()

    def production_data(self, model: str, env: str, start: datetime, end: datetime) -> pd.DataFrame:
        hours = max((end - start) / timedelta(hours=1), 1.0)
        rows = int(self.rows_per_day * hours / 24)
        rng = np.random.default_rng(int(end.timestamp()))
        frame = _frame(rng, rows, drifted=self.drifted)
        frame.insert(0, "timestamp", pd.date_range(start, end, periods=rows, tz=UTC))
        if not self.labelled:
            frame["label"] = pd.NA
        elif self.labels_until is not None:
            frame.loc[frame["timestamp"] >= self.labels_until, "label"] = pd.NA
        return frame
