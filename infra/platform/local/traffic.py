"""The traffic side of the local platform: requests scored through an endpoint's live and
mirror splits (and probes pinned to one deployment), written to the request log, and read back
as what the monitoring jobs and the shadow evaluation see: request metrics, production data
joined with the labels arrived so far, and the scored requests of each deployment.

Deployments and jobs live in :mod:`infra.platform.local.platform`; this is everything that goes
through the request log, so the rules about what counts as live, mirrored or a probe are in one
place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from infra.platform.base import (
    ConflictError,
    Deployment,
    EndpointState,
    InvalidRequestError,
    NotFoundError,
    ScoredRequests,
    SmokeTestResult,
)
from infra.platform.local import monitoring, telemetry
from infra.platform.local.environments import Environments
from infra.platform.local.routing import Requests, route
from infra.platform.local.serving import (
    BatchResult,
    ModelCache,
    default_sample,
    is_empty,
    pinned_to,
    sample_frame,
    score_with_config,
)


class LocalTraffic:
    """Scores requests into the request log and reads the log back, per environment."""

    def __init__(
        self, envs: Environments, models: ModelCache, clock: Callable[[], datetime]
    ) -> None:
        """``models`` is the platform's cache of loaded artifacts (deploying loads them too);
        ``clock`` is "now" for which labels have arrived."""
        self.envs = envs
        self.models = models
        self.clock = clock

    def reference_data(self, model: str) -> pd.DataFrame:
        return monitoring.read_reference(self.envs.reference_data_path(model), model)

    def default_sample(self, config: Any) -> pd.DataFrame | None:
        """The configured ``sample_request``, else the first reference rows, else None."""
        return default_sample(config, lambda: self.reference_data(config.name))

    def _scorer(self, model: str, env: str) -> Callable[[Deployment, pd.DataFrame], BatchResult]:
        """Scores a batch on the deployment routing chose, with that deployment's version."""
        config = self.envs.model(model)
        versions = self.envs.open(env).versions

        def on_deployment(deployment: Deployment, frame: pd.DataFrame) -> BatchResult:
            artifact = versions.artifact_path(model, deployment.model_version)
            return score_with_config(config, self.models.load(artifact), frame)

        return on_deployment

    def probe(
        self,
        model: str,
        env: str,
        state: EndpointState,
        deployment: str,
        sample: Mapping[str, Any] | Sequence[Any],
    ) -> SmokeTestResult:
        """Score ``sample`` on the healthy ``deployment`` of ``state`` and log it marked as a
        probe, which only the health gate's metrics count."""
        config = self.envs.model(model)
        frame = self.default_sample(config) if is_empty(sample) else sample_frame(sample)
        if frame is None:
            raise InvalidRequestError(f"no sample to probe {deployment} with")
        started = time.perf_counter()
        answers, records = route(
            Requests.build(frame, now=datetime.now(UTC)),
            pinned_to(state, deployment),
            self._scorer(model, env),
            probe=True,
        )
        log = self.envs.open(env).traffic
        for batch in records:
            log.append(model, batch)
        failed = int(answers["error"].sum())
        return SmokeTestResult(
            ok=failed == 0,
            latency_ms=(time.perf_counter() - started) * 1000,
            detail=f"{failed} of {len(answers)} probe row(s) failed" if failed else "ok",
        )

    def score(
        self,
        model: str,
        env: str,
        rows: pd.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, Any],
        *,
        timestamps: Sequence[datetime] | pd.Series | datetime | None = None,
        correlation_ids: Sequence[str] | None = None,
        request_ids: Sequence[str] | None = None,
        seed: int | None = None,
    ) -> pd.DataFrame:
        """Route ``rows`` by the live split (mirror deployments score their share in the
        shadow) and log every scored copy; see :meth:`LocalPlatform.score`."""
        state = self.envs.endpoint_state(model, env)
        if not state.exists:
            raise NotFoundError(f"endpoint {state.endpoint} does not exist in {env}")
        if not state.serving:
            raise ConflictError(
                f"endpoint {state.endpoint} in {env} has no deployment taking traffic"
            )
        requests = Requests.build(
            sample_frame(rows),
            now=datetime.now(UTC),
            timestamps=timestamps,
            correlation_ids=correlation_ids,
            request_ids=request_ids,
        )
        answers, records = route(requests, state, self._scorer(model, env), seed=seed)
        log = self.envs.open(env).traffic
        for batch in records:
            log.append(model, batch)
        return answers

    def record_labels(self, model: str, env: str, labels: pd.DataFrame | Mapping[str, Any]) -> int:
        values = monitoring.label_values(labels, self.envs.model(model).columns.target)
        return telemetry.record_labels(self.envs.open(env).db, model, values)

    def days(self, model: str, env: str) -> list[str]:
        return self.envs.open(env).traffic.days(model)

    def flush(self) -> None:
        """Write buffered request logs of every opened environment."""
        for store in self.envs.opened():
            store.traffic.flush()

    def deployment_metrics(
        self,
        model: str,
        env: str,
        start: datetime,
        end: datetime,
        *,
        deployment: str | None,
        interval_minutes: int,
        include_probes: bool,
    ) -> pd.DataFrame:
        monitoring.check_window(start, end, interval_minutes)
        state = self.envs.endpoint_state(model, env)
        if not state.exists:
            raise NotFoundError(f"endpoint {state.endpoint} does not exist in {env}")
        return monitoring.deployment_metrics(
            self.envs.open(env).traffic.read(model, start, end),
            state,
            start,
            end,
            deployment=deployment,
            interval_minutes=interval_minutes,
            include_probes=include_probes,
        )

    def production_data(self, model: str, env: str, start: datetime, end: datetime) -> pd.DataFrame:
        config = self.envs.model(model)
        store = self.envs.open(env)
        records = store.traffic.read(model, start, end)
        return monitoring.production_data(
            records, store.db, model, config.columns, self._labels_arrived_before(config)
        )

    def _labels_arrived_before(self, config: Any) -> datetime | None:
        """Requests made before this have their labels (``models[].local.label_delay``)."""
        delay = config.local.label_delay
        return self.clock() - delay if delay > timedelta(0) else None

    def scored_requests(
        self, model: str, env: str, start: datetime, end: datetime, deployments: Sequence[str]
    ) -> ScoredRequests:
        """Mirrored copies keep the correlation id of the live request (routing copies the row),
        so the two deployments' answers pair up; latency and errors are measured per request."""
        config = self.envs.model(model)
        store = self.envs.open(env)
        monitoring.check_window(start, end, 1)
        frame = monitoring.scored_requests(
            store.traffic.read(model, start, end),
            store.db,
            model,
            self.envs.endpoint_state(model, env),
            deployments,
            self._labels_arrived_before(config),
        )
        return ScoredRequests(frame)
