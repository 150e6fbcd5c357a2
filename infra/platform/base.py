"""The ML platform port: everything the bot does to an ML platform, in plain Python types.

Adapters (``infra.platform.local``, ``infra.platform.azure``) implement :class:`MLPlatform`. Nothing from an SDK crosses
this boundary: callers see dataclasses, pandas DataFrames and the typed errors below, so the
Slack layer can say something useful ("the bot's identity lacks AzureML Data Scientist on
workspace X") without knowing which platform answered.
"""

from __future__ import annotations

import abc
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:  # pandas costs ~0.7 s to import; training runners import this module
    import pandas as pd

T = TypeVar("T")


# --------------------------------------------------------------------------- errors


class PlatformError(Exception):
    """Base of every platform failure; ``str(err)`` is safe to show to a Slack user."""

    retryable = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class NotFoundError(PlatformError):
    """The model, version, endpoint, deployment or job does not exist where it was looked for."""


class ConflictError(PlatformError):
    """Another operation holds the resource, or the request contradicts its current state."""


class PermissionDeniedError(PlatformError):
    """The bot's identity lacks a role; ``hint`` names the role and the scope."""


class TransientError(PlatformError):
    """Throttling, timeouts, 5xx: safe to retry."""

    retryable = True


class InvalidRequestError(PlatformError):
    """The request itself is wrong (bad traffic split, bad parameter, malformed sample)."""


# --------------------------------------------------------------------------- data


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    created: datetime
    tags: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    training_job: str | None = None
    source: str | None = None
    """Where this version came from: an environment name, ``registry``, or a job id."""


@dataclass(frozen=True)
class Deployment:
    name: str
    model_version: str
    traffic: int
    mirror_traffic: int = 0
    provisioning_state: str = "Succeeded"
    instance_type: str = ""
    instance_count: int = 1

    @property
    def healthy(self) -> bool:
        return self.provisioning_state.lower() == "succeeded"


@dataclass(frozen=True)
class EndpointState:
    model: str
    environment: str
    endpoint: str
    scoring_url: str | None
    deployments: tuple[Deployment, ...] = ()
    provisioning_state: str = "Succeeded"

    @property
    def exists(self) -> bool:
        return bool(self.deployments) or self.scoring_url is not None

    @property
    def serving(self) -> tuple[Deployment, ...]:
        """Deployments that take live traffic, largest share first."""
        return tuple(
            sorted((d for d in self.deployments if d.traffic > 0), key=lambda d: -d.traffic)
        )

    @property
    def primary(self) -> Deployment | None:
        serving = self.serving
        return serving[0] if serving else None

    @property
    def healthy(self) -> bool:
        return self.provisioning_state.lower() == "succeeded" and all(
            d.healthy for d in self.deployments
        )

    def deployment(self, name: str) -> Deployment:
        for d in self.deployments:
            if d.name == name:
                return d
        raise NotFoundError(
            f"deployment {name!r} not found on endpoint {self.endpoint!r} in {self.environment}"
        )


@dataclass(frozen=True)
class SmokeTestResult:
    ok: bool
    latency_ms: float
    detail: str
    response: Any = None


@dataclass(frozen=True)
class JobInfo:
    id: str
    model: str
    environment: str
    status: JobStatus
    created: datetime
    started: datetime | None = None
    ended: datetime | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    log_tail: str = ""
    produced_version: str | None = None
    url: str | None = None
    error: str | None = None

    @property
    def duration_seconds(self) -> float | None:
        if self.started is None:
            return None
        end = self.ended or datetime.now(self.started.tzinfo)
        return (end - self.started).total_seconds()


@dataclass(frozen=True)
class CheckJobRequest:
    """A monitoring check to run as a job on the platform's compute (``monitoring.compute:
    platform``). The bot names the job (``name``) and records the name before it submits, so a
    retried or repeated submission finds the job instead of starting a second one."""

    name: str
    kind: str
    model: str
    environment: str
    start: datetime
    end: datetime
    spec: str
    """The check's spec as one shell-safe token (``jobs.checkjob.CheckJobSpec.encode``)."""


#: Columns of :meth:`MLPlatform.deployment_metrics` frames, in this order. A metric the platform
#: cannot measure is absent (GPU on CPU instances), never filled with zeros.
METRIC_COLUMNS: tuple[str, ...] = (
    "cpu_percent",
    "memory_percent",
    "gpu_percent",
    "requests_per_minute",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "error_rate",
    "instance_count",
)


#: Columns of :attr:`ScoredRequests.frame`, in this order.
SCORED_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "correlation_id",
    "request_id",
    "deployment",
    "mirrored",
    "prediction",
    "score",
    "label",
    "latency_ms",
    "error",
)


@dataclass(frozen=True)
class ScoredRequests:
    """What some deployments of an endpoint answered in a window, live and mirrored requests
    alike (never probes), with the label where known: the raw material of a shadow comparison.
    """

    frame: pd.DataFrame
    """Columns :data:`SCORED_COLUMNS`; ``latency_ms`` / ``error`` empty when not per request."""
    joinable: bool = True
    """A mirrored copy keeps the correlation id of the request it copies, so the answers of two
    deployments can be paired."""
    note: str | None = None
    """Why the answers cannot be paired (shown to people), when they cannot."""
    per_request_latency: bool = True
    """``latency_ms`` and ``error`` are measured per request; otherwise ask
    :meth:`MLPlatform.deployment_metrics` (Azure Monitor) for each deployment."""


# --------------------------------------------------------------------------- long operations


class Operation(Generic[T]):
    """A handle on a long-running platform operation.

    Adapters run the work in a thread (or poll a remote LRO) and call :meth:`_progress` as it
    goes; callers either :meth:`wait` for the result or poll :attr:`done`. Progress callbacks
    registered with :meth:`on_progress` receive every message, including those already sent.
    """

    def __init__(self, description: str) -> None:
        self.description = description
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._messages: list[str] = []
        self._listeners: list[Callable[[str], None]] = []
        self._result: T | None = None
        self._error: BaseException | None = None

    # -- adapter side
    def _progress(self, message: str) -> None:
        with self._lock:
            self._messages.append(message)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(message)

    def _finish(self, result: T | None = None, error: BaseException | None = None) -> None:
        self._result, self._error = result, error
        self._done.set()

    @classmethod
    def run_in_thread(
        cls, description: str, work: Callable[[Callable[[str], None]], T]
    ) -> Operation[T]:
        """Start ``work(progress)`` in a daemon thread and return its handle."""
        op: Operation[T] = cls(description)

        def runner() -> None:
            try:
                op._finish(work(op._progress))
            except BaseException as exc:  # handed to the caller through result()
                op._finish(error=exc)

        threading.Thread(target=runner, name=f"op:{description}", daemon=True).start()
        return op

    @classmethod
    def completed(cls, description: str, result: T) -> Operation[T]:
        op: Operation[T] = cls(description)
        op._finish(result)
        return op

    # -- caller side
    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def messages(self) -> list[str]:
        with self._lock:
            return list(self._messages)

    def on_progress(self, listener: Callable[[str], None]) -> None:
        with self._lock:
            self._listeners.append(listener)
            past = list(self._messages)
        for message in past:
            listener(message)

    def wait(self, timeout: float | None = None) -> T:
        """Block until the operation ends; re-raise its error; TransientError on timeout."""
        if not self._done.wait(timeout):
            raise TransientError(f"{self.description}: still running after {timeout:.0f}s")
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


# --------------------------------------------------------------------------- the port


def deployment_name(model: str, version: str, taken: Iterable[str]) -> str:
    """The one naming scheme of deployments on every platform: ``<model>-v<version>``.

    The name says what a deployment serves (in the status card, in Azure ML studio), and it
    fits Azure's rule (3 to 32 letters, digits and '-', starting with a letter; lower case
    here), so the local platform and Azure name alike. Numbered (``-2``, ``-3``) when already taken, compared
    without case as Azure does.
    """
    used = {name.lower() for name in taken}
    suffix = re.sub(r"[^a-z0-9-]", "-", f"-v{version}".lower())[:12]
    room = 27 - len(suffix)
    stem = re.sub(r"[^a-z0-9-]", "-", model.lower()).strip("-")[:room].rstrip("-") or "model"
    if not stem[0].isalpha():
        stem = f"m{stem}"[:room]
    base = f"{stem}{suffix}"
    name, n = base, 2
    while name.lower() in used:
        name, n = f"{base}-{n}", n + 1
    return name


class MLPlatform(abc.ABC):
    """What the bot needs from an ML platform, per environment of the chain.

    ``model`` is the configured model name; adapters map it to their endpoint names and data
    locations from the configuration. ``env`` is an environment name from the chain.
    """

    name: str = "platform"
    remote: bool = True
    """Reads are network calls worth running in parallel (False for in-process platforms, where
    threads would only contend for the GIL)."""

    # -- health
    @abc.abstractmethod
    def check(self) -> None:
        """Raise a PlatformError when the platform cannot be reached (used by /readyz)."""

    # -- models
    @abc.abstractmethod
    def list_models(self, env: str) -> list[str]: ...

    @abc.abstractmethod
    def list_versions(self, model: str, env: str) -> list[ModelVersion]:
        """Every version of ``model`` registered in ``env``, newest first."""

    @abc.abstractmethod
    def get_version(self, model: str, version: str, env: str) -> ModelVersion: ...

    @abc.abstractmethod
    def copy_version(
        self, model: str, version: str, source_env: str, target_env: str
    ) -> ModelVersion:
        """Make ``version`` available in ``target_env`` through the registry; a no-op when it
        already is (promotion must be idempotent)."""

    # -- endpoints
    @abc.abstractmethod
    def endpoint_state(self, model: str, env: str) -> EndpointState: ...

    @abc.abstractmethod
    def begin_deploy(
        self,
        model: str,
        version: str,
        env: str,
        *,
        deployment_name: str | None = None,
        instance_type: str | None = None,
        instance_count: int | None = None,
    ) -> Operation[Deployment]:
        """Create a new deployment of ``version`` at 0% traffic (blue/green)."""

    @abc.abstractmethod
    def smoke_test(
        self, model: str, env: str, deployment: str, sample: Mapping[str, Any] | Sequence[Any]
    ) -> SmokeTestResult:
        """Score ``sample`` on that deployment only, bypassing the traffic split."""

    def probe(
        self, model: str, env: str, deployment: str, sample: Mapping[str, Any] | Sequence[Any]
    ) -> SmokeTestResult:
        """Send ``sample`` through the endpoint to ``deployment`` as a request the deployment's
        metrics count when asked for probes (the rollout's health gate uses it for evidence
        during a bake), never as production data. On Azure the smoke test already goes
        through the endpoint's scoring URI, which Monitor counts."""
        return self.smoke_test(model, env, deployment, sample)

    @abc.abstractmethod
    def set_traffic(
        self,
        model: str,
        env: str,
        traffic: Mapping[str, int],
        mirror: Mapping[str, int] | None = None,
    ) -> EndpointState:
        """Set the live split (must name existing deployments and sum to 100, or 0 when empty)."""

    @abc.abstractmethod
    def begin_delete_deployment(self, model: str, env: str, deployment: str) -> Operation[None]: ...

    # -- training
    @abc.abstractmethod
    def submit_training(
        self, model: str, env: str, parameters: Mapping[str, str], *, reason: str = ""
    ) -> JobInfo: ...

    @abc.abstractmethod
    def get_job(self, env: str, job_id: str) -> JobInfo: ...

    @abc.abstractmethod
    def list_jobs(self, model: str, env: str, limit: int = 10) -> list[JobInfo]:
        """Recent jobs of ``model`` in ``env``, newest first."""

    @abc.abstractmethod
    def cancel_job(self, env: str, job_id: str) -> JobInfo: ...

    # -- monitoring checks as platform jobs
    def submit_check(self, request: CheckJobRequest) -> JobInfo:
        """Submit a check job named ``request.name`` reading the model's reference and
        production data where they live, writing ``result.json`` and chart PNGs as outputs.
        Idempotent by name: a job of that name already submitted is returned, not repeated."""
        raise InvalidRequestError(
            f"the {self.name} platform cannot run monitoring checks as jobs; "
            "set monitoring.compute to inline"
        )

    def check_job(self, env: str, name: str) -> JobInfo:
        """A check job as it stands (NotFoundError when no job has that name)."""
        return self.get_job(env, name)

    def cancel_check_job(self, env: str, name: str) -> JobInfo:
        return self.cancel_job(env, name)

    def check_outputs(self, env: str, name: str) -> dict[str, bytes]:
        """The files a finished check job wrote (``result.json`` and the charts), by name."""
        raise InvalidRequestError(f"the {self.name} platform runs no check jobs")

    # -- telemetry and data
    @abc.abstractmethod
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
        """Infrastructure metrics: a DatetimeIndex (UTC) and columns from METRIC_COLUMNS.

        ``include_probes`` counts the requests :meth:`probe` sent (the rollout's health gate
        wants them as evidence; monitoring does not). Platforms that cannot tell a probe from
        a live request (Azure Monitor) count them either way."""

    @abc.abstractmethod
    def reference_data(self, model: str) -> pd.DataFrame:
        """The model's reference (training / baseline) data."""

    def reference_version(self, model: str) -> str | None:
        """An identity of the reference data's current content, far cheaper than reading it
        (a file's path, size and modification time; a pinned data asset version), or None
        when the platform cannot tell. Scheduled drift checks key the engine's profile cache
        with it instead of fingerprinting the whole reference on every run; a changed
        reference gets a new identity, hence a new profile."""
        return None

    @abc.abstractmethod
    def production_data(self, model: str, env: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Logged inputs, predictions, scores, labels where known and timestamps in [start, end)."""

    def scored_requests(
        self, model: str, env: str, start: datetime, end: datetime, deployments: Sequence[str]
    ) -> ScoredRequests:
        """Every request the named deployments scored in [start, end), mirrored copies
        included, probes excluded (shadow evaluation before an approval)."""
        raise InvalidRequestError(
            f"the {self.name} platform cannot read what each deployment answered"
        )

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and pools."""
