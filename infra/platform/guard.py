"""Deadlines, retries and a breaker around any platform adapter.

A platform call that never returns must not hold a Slack command, a scheduled check or a
rollout forever, and one model's hung workspace must not starve the others. So every call of
the port goes through :class:`GuardedPlatform`:

* it runs under a deadline (reads: a minute, data reads: five, changes: half an hour, the same
  budget as a deployment); past it the caller gets a :class:`TransientError` that says what did
  not answer, and goes on;
* a data file that cannot be read (corrupt parquet, an empty file) becomes an
  :class:`InvalidRequestError` naming the data, not an unexplained crash;
* a failed idempotent call (reads, ``set_traffic``, ``copy_version``...) that the adapter marks
  as transient is tried again a couple of times with a short backoff; creating calls
  (``begin_deploy``, ``submit_training``) are not, since a retry could create a second one;
* while a call for one model and environment is past its deadline and still running, the next
  calls for that same pair fail at once instead of piling up more stuck threads; other models
  and environments are not affected.

Calls run on reused daemon threads (:mod:`infra.platform.daemon_threads`). The stuck call keeps
its thread until the adapter returns (Python cannot kill a thread); the breaker bounds how many
there can be.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from infra.platform.base import (
    CheckJobRequest,
    Deployment,
    EndpointState,
    InvalidRequestError,
    JobInfo,
    MLPlatform,
    ModelVersion,
    Operation,
    PlatformError,
    ScoredRequests,
    SmokeTestResult,
    TransientError,
)
from infra.platform.daemon_threads import DaemonThreads

try:
    from pyarrow import ArrowException
except ImportError:  # pragma: no cover - pyarrow is a dependency

    class ArrowException(Exception):  # type: ignore[no-redef]
        pass


if TYPE_CHECKING:
    import pandas as pd

    from infra.metrics import Metrics

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Deadlines:
    """Seconds each kind of call may take before the caller stops waiting."""

    read: float = 60.0
    data: float = 300.0
    change: float = 1800.0


@dataclass
class _Call:
    key: str
    what: str
    deadline: float


class GuardedPlatform(MLPlatform):
    """An :class:`MLPlatform` that delegates to ``inner`` under deadlines, retries and a breaker.

    Adapter-specific methods that are not part of the port pass straight through."""

    def __init__(
        self,
        inner: MLPlatform,
        *,
        deadlines: Deadlines | None = None,
        retries: int = 2,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        metrics: Metrics | None = None,
    ) -> None:
        self.inner = inner
        self.metrics = metrics
        """Where call latencies and errors are counted (None: nowhere)."""
        self.deadlines = deadlines or Deadlines()
        self.retries = retries
        self.backoff = backoff_seconds
        self.sleep = sleep
        self.name = inner.name
        self.remote = inner.remote
        self._lock = threading.Lock()
        self._outstanding: list[_Call] = []
        self._threads = DaemonThreads("platform-call")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    # ------------------------------------------------------------------ the machinery

    def open_breakers(self) -> list[str]:
        """The models and environments whose calls are refused at once right now (a call for
        them is past its deadline and still running): the breaker state ``/metrics`` shows."""
        now = time.monotonic()
        with self._lock:
            return sorted({c.key for c in self._outstanding if c.deadline < now})

    def _open_breaker(self, key: str) -> _Call | None:
        now = time.monotonic()
        with self._lock:
            return next((c for c in self._outstanding if c.key == key and c.deadline < now), None)

    def _call(
        self,
        what: str,
        key: str,
        seconds: float,
        fn: Callable[[], T],
        *,
        idempotent: bool = True,
    ) -> T:
        if self.metrics is None:
            return self._attempts(what, key, seconds, fn, idempotent=idempotent)
        started = time.perf_counter()
        try:
            return self._attempts(what, key, seconds, fn, idempotent=idempotent)
        except Exception as exc:
            self.metrics.platform_errors.labels(what, _error_label(exc)).inc()
            raise
        finally:
            self.metrics.platform_seconds.labels(what).observe(time.perf_counter() - started)

    def _attempts(
        self, what: str, key: str, seconds: float, fn: Callable[[], T], *, idempotent: bool
    ) -> T:
        attempts = 1 + (self.retries if idempotent else 0)
        for attempt in range(1, attempts + 1):
            try:
                return self._once(what, key, seconds, fn)
            except TransientError as exc:
                if getattr(exc, "deadline_passed", False) or attempt == attempts:
                    raise
                wait = self.backoff * 2 ** (attempt - 1)
                log.info("%s failed transiently (%s); retry %d in %.1fs", what, exc, attempt, wait)
                self.sleep(wait)
        raise AssertionError("unreachable")

    def _once(self, what: str, key: str, seconds: float, fn: Callable[[], T]) -> T:
        stuck = self._open_breaker(key)
        if stuck is not None:
            error = TransientError(
                f"the platform has not answered {stuck.what} for {key} yet; not waiting on "
                f"{what} too",
                hint="it is hanging; the bot retries at the next run",
            )
            error.deadline_passed = True  # type: ignore[attr-defined]
            error.breaker_open = True  # type: ignore[attr-defined]
            raise error
        call = _Call(key, what, time.monotonic() + seconds)
        done = threading.Event()
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = fn()
            except BaseException as exc:  # handed to the caller
                outcome["error"] = exc
            finally:
                with self._lock:
                    if call in self._outstanding:
                        self._outstanding.remove(call)
                done.set()

        with self._lock:
            self._outstanding.append(call)
        self._threads.start(run)
        if not done.wait(seconds):
            log.error("platform call %s for %s did not answer within %.0fs", what, key, seconds)
            error = TransientError(
                f"the platform did not answer {what} for {key} within {seconds:g}s",
                hint="nothing was changed by the bot; it retries at the next run",
            )
            error.deadline_passed = True  # type: ignore[attr-defined]
            raise error
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def _read(self, what: str, key: str, fn: Callable[[], T]) -> T:
        return self._call(what, key, self.deadlines.read, fn)

    def _data(self, what: str, key: str, fn: Callable[[], T]) -> T:
        def read() -> T:
            try:
                return fn()
            except PlatformError:
                raise
            except (OSError, ValueError, ArrowException) as exc:
                # A damaged or foreign file (corrupt parquet, an empty file, a CSV that is not
                # one) is the data's fault, not a bug: say which data, and what the reader said.
                raise InvalidRequestError(
                    f"the {what.replace('_', ' ')} of {key} cannot be read: {exc}",
                    hint="the file is damaged or not in the expected format",
                ) from exc

        return self._call(what, key, self.deadlines.data, read)

    def _change(self, what: str, key: str, fn: Callable[[], T], *, idempotent: bool) -> T:
        return self._call(what, key, self.deadlines.change, fn, idempotent=idempotent)

    # ------------------------------------------------------------------ the port

    def check(self) -> None:
        self._read("check", "platform", self.inner.check)

    def list_models(self, env: str) -> list[str]:
        return self._read("list_models", _key(None, env), lambda: self.inner.list_models(env))

    def list_versions(self, model: str, env: str) -> list[ModelVersion]:
        return self._read(
            "list_versions", _key(model, env), lambda: self.inner.list_versions(model, env)
        )

    def get_version(self, model: str, version: str, env: str) -> ModelVersion:
        return self._read(
            "get_version", _key(model, env), lambda: self.inner.get_version(model, version, env)
        )

    def copy_version(
        self, model: str, version: str, source_env: str, target_env: str
    ) -> ModelVersion:
        return self._change(
            "copy_version",
            _key(model, target_env),
            lambda: self.inner.copy_version(model, version, source_env, target_env),
            idempotent=True,  # the port requires it to be a no-op when already there
        )

    def endpoint_state(self, model: str, env: str) -> EndpointState:
        return self._read(
            "endpoint_state", _key(model, env), lambda: self.inner.endpoint_state(model, env)
        )

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
        return self._change(
            "begin_deploy",
            _key(model, env),
            lambda: self.inner.begin_deploy(
                model,
                version,
                env,
                deployment_name=deployment_name,
                instance_type=instance_type,
                instance_count=instance_count,
            ),
            idempotent=False,
        )

    def smoke_test(
        self, model: str, env: str, deployment: str, sample: Mapping[str, Any] | Sequence[Any]
    ) -> SmokeTestResult:
        return self._read(
            "smoke_test",
            _key(model, env),
            lambda: self.inner.smoke_test(model, env, deployment, sample),
        )

    def probe(
        self, model: str, env: str, deployment: str, sample: Mapping[str, Any] | Sequence[Any]
    ) -> SmokeTestResult:
        return self._read(
            "probe",
            _key(model, env),
            lambda: self.inner.probe(model, env, deployment, sample),
        )

    def set_traffic(
        self,
        model: str,
        env: str,
        traffic: Mapping[str, int],
        mirror: Mapping[str, int] | None = None,
    ) -> EndpointState:
        return self._change(
            "set_traffic",
            _key(model, env),
            lambda: self.inner.set_traffic(model, env, traffic, mirror),
            idempotent=True,  # setting the same split twice is the same split
        )

    def begin_delete_deployment(self, model: str, env: str, deployment: str) -> Operation[None]:
        return self._change(
            "begin_delete_deployment",
            _key(model, env),
            lambda: self.inner.begin_delete_deployment(model, env, deployment),
            idempotent=False,
        )

    def submit_training(
        self, model: str, env: str, parameters: Mapping[str, str], *, reason: str = ""
    ) -> JobInfo:
        return self._change(
            "submit_training",
            _key(model, env),
            lambda: self.inner.submit_training(model, env, parameters, reason=reason),
            idempotent=False,
        )

    def get_job(self, env: str, job_id: str) -> JobInfo:
        return self._read("get_job", _key(None, env), lambda: self.inner.get_job(env, job_id))

    def list_jobs(self, model: str, env: str, limit: int = 10) -> list[JobInfo]:
        return self._read(
            "list_jobs", _key(model, env), lambda: self.inner.list_jobs(model, env, limit)
        )

    def cancel_job(self, env: str, job_id: str) -> JobInfo:
        return self._change(
            "cancel_job",
            _key(None, env),
            lambda: self.inner.cancel_job(env, job_id),
            idempotent=True,
        )

    def submit_check(self, request: CheckJobRequest) -> JobInfo:
        # Idempotent by name (the adapters return the job of that name when it exists), so a
        # transient failure may be retried without starting a second job.
        return self._change(
            "submit_check",
            _key(request.model, request.environment),
            lambda: self.inner.submit_check(request),
            idempotent=True,
        )

    def check_job(self, env: str, name: str) -> JobInfo:
        return self._read("check_job", _key(None, env), lambda: self.inner.check_job(env, name))

    def cancel_check_job(self, env: str, name: str) -> JobInfo:
        return self._change(
            "cancel_check_job",
            _key(None, env),
            lambda: self.inner.cancel_check_job(env, name),
            idempotent=True,
        )

    def check_outputs(self, env: str, name: str) -> dict[str, bytes]:
        return self._read(
            "check_outputs", _key(None, env), lambda: self.inner.check_outputs(env, name)
        )

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
        return self._data(
            "deployment_metrics",
            _key(model, env),
            lambda: self.inner.deployment_metrics(
                model,
                env,
                start,
                end,
                deployment=deployment,
                interval_minutes=interval_minutes,
                include_probes=include_probes,
            ),
        )

    def reference_data(self, model: str) -> pd.DataFrame:
        return self._data(
            "reference_data", _key(model, None), lambda: self.inner.reference_data(model)
        )

    def reference_version(self, model: str) -> str | None:
        # A stat, not a call worth a retry or the breaker: unknown (None) on any failure, and
        # the caller fingerprints the data it read instead.
        try:
            return self.inner.reference_version(model)
        except Exception:  # an optimisation must never fail a check
            log.debug("reference version of %s unknown", model, exc_info=True)
            return None

    def production_data(self, model: str, env: str, start: datetime, end: datetime) -> pd.DataFrame:
        return self._data(
            "production_data",
            _key(model, env),
            lambda: self.inner.production_data(model, env, start, end),
        )

    def scored_requests(
        self, model: str, env: str, start: datetime, end: datetime, deployments: Sequence[str]
    ) -> ScoredRequests:
        return self._data(
            "scored_requests",
            _key(model, env),
            lambda: self.inner.scored_requests(model, env, start, end, deployments),
        )

    def close(self) -> None:
        self.inner.close()


def _error_label(exc: BaseException) -> str:
    """A bounded label for a failed call: the breaker, the deadline, or the error class."""
    if getattr(exc, "breaker_open", False):
        return "breaker_open"
    if getattr(exc, "deadline_passed", False):
        return "deadline"
    return type(exc).__name__


def _key(model: str | None, env: str | None) -> str:
    return f"{model or 'any model'} in {env or 'any environment'}"


def guarded(platform: MLPlatform, **options: Any) -> MLPlatform:
    """``platform`` under deadlines (a platform that is already guarded is returned as is,
    counting into ``metrics`` if given and it counted nowhere yet)."""
    if isinstance(platform, GuardedPlatform):
        if platform.metrics is None and options.get("metrics") is not None:
            platform.metrics = options["metrics"]
        return platform
    return GuardedPlatform(platform, **options)
