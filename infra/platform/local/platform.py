"""The embedded ML platform: the port implemented with SQLite, files and subprocesses.

It is the default when no Azure is configured and the one the demo and the tests drive, so it
behaves like the real thing in the ways the bot can observe: deployments load and validate
their model, traffic splits route real scoring requests, request logs feed production data and
metrics, and retraining runs a real script in a detached process that registers a new version.
This module wires the pieces together; each concern lives in its own module of the package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

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
)
from infra.platform.local.db import check_databases
from infra.platform.local.endpoints import SUCCEEDED, to_deployment
from infra.platform.local.environments import Environments, EnvStores
from infra.platform.local.jobs import check_parameters, resolve_script
from infra.platform.local.layout import StateLayout
from infra.platform.local.serving import (
    ModelCache,
    is_empty,
    sample_frame,
    score_with_config,
    smoke_result,
)
from infra.platform.local.traffic import LocalTraffic
from infra.platform.local.versions import SharedRegistry

LOCAL_INSTANCE_TYPE = "local-process"


class LocalPlatform(MLPlatform):
    """The port on the local disk: one directory (and SQLite file) per environment."""

    name = "local"
    remote = False

    def __init__(
        self,
        settings: Any,
        *,
        job_page: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``job_page``: URL template (``{environment}``, ``{job_id}``) of a page that shows a
        training job's log, used as the job's link (the demo serves one on the sandbox page);
        without it jobs have no link, since a local file path opens nothing for Slack users.
        ``clock``: "now" for which labels have arrived (``models[].local.label_delay``); tests
        pin it with the bot's clock."""
        self.settings = settings
        self.job_page = job_page
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.layout = StateLayout.from_settings(settings)
        self.registry = SharedRegistry(self.layout.registry)
        self.envs = Environments(settings, self.layout, self.registry, job_page)
        self._models = ModelCache()
        self.traffic = LocalTraffic(self.envs, self._models, lambda: self.clock())

    # ------------------------------------------------------------------ lookups
    def _env(self, env: str) -> EnvStores:
        return self.envs.open(env)

    def _model(self, model: str) -> Any:
        return self.envs.model(model)

    def training_data_dir(self, model: str) -> Path:
        """Where the retraining script reads data unless a ``data`` parameter says otherwise."""
        return self.layout.data_dir(model) / "training"

    def reference_data_path(self, model: str) -> Path:
        return self.envs.reference_data_path(model)

    # ------------------------------------------------------------------ health
    def check(self) -> None:
        databases = lambda: [self._env(env).db for env in self.layout.envs]  # noqa: E731
        check_databases(self.layout.root, self.layout.registry, databases)

    # ------------------------------------------------------------------ models
    def list_models(self, env: str) -> list[str]:
        return self._env(env).versions.models()

    def list_versions(self, model: str, env: str) -> list[ModelVersion]:
        return self._env(env).versions.list(model)

    def get_version(self, model: str, version: str, env: str) -> ModelVersion:
        return self._env(env).versions.get(model, str(version))

    def copy_version(
        self, model: str, version: str, source_env: str, target_env: str
    ) -> ModelVersion:
        source = self._env(source_env)
        if source_env == target_env:
            return source.versions.get(model, str(version))
        return self._env(target_env).versions.import_from(source.versions, model, str(version))

    def register_model_file(
        self,
        model: str,
        env: str,
        artifact: Path,
        *,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
        source: str | None = None,
    ) -> ModelVersion:
        """Register an existing model file (a pickled estimator) as the next version in ``env``."""
        return self._env(env).versions.register_file(
            model, Path(artifact), metrics=metrics, tags=tags, source=source
        )

    # ------------------------------------------------------------------ endpoints
    def endpoint_state(self, model: str, env: str) -> EndpointState:
        return self.envs.endpoint_state(model, env)

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
        config = self._model(model)
        store = self._env(env)
        version_row = store.versions.row(model, str(version))
        rollout = self.settings.environment(env).rollout
        endpoint = config.endpoint(env)
        name = store.endpoints.create(
            endpoint=endpoint,
            model=model,
            version=version_row.version,
            name=deployment_name,
            instance_type=instance_type or rollout.instance_type or LOCAL_INSTANCE_TYPE,
            instance_count=instance_count
            if instance_count is not None
            else (rollout.instance_count or 1),
        )
        artifact = self.layout.resolve(version_row.artifact)

        def work(progress: Callable[[str], None]) -> Deployment:
            progress(
                f"Creating deployment {name} of {model} v{version_row.version} on {endpoint} ({env})"
            )
            try:
                progress("Loading the model artifact")
                loaded = self._models.load(artifact)
                sample = self.traffic.default_sample(config)
                if sample is None:
                    progress("No sample request or reference data to validate with; model loaded")
                else:
                    progress(f"Validating the model on {len(sample)} sample row(s)")
                    failures = [e for e in score_with_config(config, loaded, sample).errors if e]
                    if failures:
                        raise InvalidRequestError(
                            f"the model could not score the sample request: {failures[0]}"
                        )
            except Exception as exc:
                store.endpoints.set_state(endpoint, name, "Failed", error=str(exc))
                progress(f"Deployment {name} failed: {exc}")
                if isinstance(exc, PlatformError):
                    raise
                raise PlatformError(f"deployment {name} failed: {exc}") from exc
            store.endpoints.set_state(endpoint, name, SUCCEEDED)
            progress(f"Deployment {name} is ready at 0% traffic")
            return to_deployment(store.endpoints.row(endpoint, name))

        return Operation.run_in_thread(f"deploy {model} v{version_row.version} to {env}", work)

    def smoke_test(
        self, model: str, env: str, deployment: str, sample: Mapping[str, Any] | Sequence[Any]
    ) -> SmokeTestResult:
        """Score ``sample`` on one deployment only. An empty sample means the configured
        ``sample_request``, else the first reference rows."""
        config = self._model(model)
        store = self._env(env)
        row = store.endpoints.row(config.endpoint(env), deployment)
        if row.provisioning_state != SUCCEEDED:
            reason = f": {row.error}" if row.error else ""
            return SmokeTestResult(
                ok=False,
                latency_ms=0.0,
                detail=f"deployment {deployment} is {row.provisioning_state}, not serving{reason}",
            )
        frame = self.traffic.default_sample(config) if is_empty(sample) else sample_frame(sample)
        if frame is None:
            raise InvalidRequestError(
                f"no sample to send: pass one, set sample_request for {model}, or provide reference data"
            )
        try:
            loaded = self._models.load(store.versions.artifact_path(model, row.model_version))
        except PlatformError as exc:
            return SmokeTestResult(ok=False, latency_ms=0.0, detail=str(exc))
        return smoke_result(config, loaded, frame, f"{deployment} (v{row.model_version})")

    def set_traffic(
        self,
        model: str,
        env: str,
        traffic: Mapping[str, int],
        mirror: Mapping[str, int] | None = None,
    ) -> EndpointState:
        """Set the live split (and the mirror split; ``None`` keeps the current mirror)."""
        endpoint = self._model(model).endpoint(env)
        self._env(env).endpoints.set_traffic(endpoint, traffic, mirror)
        return self.endpoint_state(model, env)

    def begin_delete_deployment(self, model: str, env: str, deployment: str) -> Operation[None]:
        endpoint = self._model(model).endpoint(env)
        store = self._env(env)
        row = store.endpoints.mark_deleting(endpoint, deployment)

        def work(progress: Callable[[str], None]) -> None:
            progress(
                f"Deleting deployment {deployment} (v{row.model_version}) from {endpoint} ({env})"
            )
            store.endpoints.delete(endpoint, deployment)
            progress(f"Deployment {deployment} deleted")

        return Operation.run_in_thread(f"delete {deployment} from {endpoint}", work)

    # ------------------------------------------------------------------ scoring (traffic.py)
    def probe(
        self, model: str, env: str, deployment: str, sample: Mapping[str, Any] | Sequence[Any]
    ) -> SmokeTestResult:
        """Score ``sample`` through the endpoint pinned to ``deployment`` and log it marked as
        a probe: the deployment's metrics count it when asked to (the health gate), production
        data and monitoring never see it. A deployment that is not healthy gets the smoke
        test instead, which says why it is not serving."""
        state = self.endpoint_state(model, env)
        if not state.deployment(deployment).healthy:
            return self.smoke_test(model, env, deployment, sample)
        return self.traffic.probe(model, env, state, deployment, sample)

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
        """Score rows through the endpoint as live traffic and log them as production data.

        Each row goes to a deployment drawn by the live split; mirror deployments score their
        share in the shadow. ``timestamps`` backdate the records (the demo's history); by
        default rows are stamped now. All rows of a call are one request unless
        ``request_ids`` says otherwise. Returns one row per input, in order, with the columns of
        :data:`infra.platform.local.routing.RESULT_COLUMNS`.
        """
        return self.traffic.score(
            model,
            env,
            rows,
            timestamps=timestamps,
            correlation_ids=correlation_ids,
            request_ids=request_ids,
            seed=seed,
        )

    def record_labels(self, model: str, env: str, labels: pd.DataFrame | Mapping[str, Any]) -> int:
        """Record ground truth for scored rows by correlation id (labels usually arrive late).

        ``labels`` is a mapping of correlation id to label, or a frame with ``correlation_id``
        and the model's target column. A later label for the same id replaces the earlier one.
        """
        return self.traffic.record_labels(model, env, labels)

    def traffic_days(self, model: str, env: str) -> list[str]:
        """Days (``YYYY-MM-DD``) with logged requests for ``model`` in ``env``."""
        return self.traffic.days(model, env)

    def flush(self) -> None:
        """Write buffered request logs now (reads do this themselves)."""
        self.traffic.flush()

    # ------------------------------------------------------------------ training
    def submit_training(
        self, model: str, env: str, parameters: Mapping[str, str], *, reason: str = ""
    ) -> JobInfo:
        """Start the model's retraining script in a detached runner.

        Parameters (the configured defaults overridden by ``parameters``) become the script's
        ``--kebab-case`` options; ``data`` (default: :meth:`training_data_dir`) is ``--data``
        and the platform adds ``--out``, the directory the script leaves its model in.
        """
        config = self._model(model)
        store = self._env(env)
        merged = {**config.retraining.parameters, **{str(k): str(v) for k, v in parameters.items()}}
        check_parameters(merged)
        script = resolve_script(config.retraining.pipeline, self.settings.source, self.layout.root)
        data = self.layout.resolve(merged.get("data") or self.training_data_dir(model))
        return store.jobs.submit(
            self.layout, model=model, script=script, data=data, parameters=merged, reason=reason
        )

    def get_job(self, env: str, job_id: str) -> JobInfo:
        return self._env(env).jobs.current(job_id)

    def submit_check(self, request: CheckJobRequest) -> JobInfo:
        """Run the check through the job runner, like training: a detached process that reads
        the request log itself (what a job mounting the data asset does on Azure)."""
        config = self._model(request.model)
        store = self._env(request.environment)
        store.traffic.flush()  # what was scored so far is in the window the job reads
        return store.jobs.submit_check(
            self.layout,
            job_id=request.name,
            model=request.model,
            kind=request.kind,
            spec=request.spec,
            reference=self.reference_data_path(request.model),
            window=(request.start, request.end),
            columns=config.columns.model_dump(),
        )

    def check_outputs(self, env: str, name: str) -> dict[str, bytes]:
        return self._env(env).jobs.outputs(name)

    def job_log(self, env: str, job_id: str) -> str:
        """The whole output of a training job (local platform only: the demo's job page)."""
        return self._env(env).jobs.full_log(job_id)

    def list_jobs(self, model: str, env: str, limit: int = 10) -> list[JobInfo]:
        return self._env(env).jobs.latest(model, limit)

    def cancel_job(self, env: str, job_id: str) -> JobInfo:
        """Cancel a queued or running job (cancelling a cancelled job changes nothing)."""
        return self._env(env).jobs.cancel(job_id)

    # ------------------------------------------------------------------ telemetry and data
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
        """Request metrics from the request log, plus CPU and memory measured while scoring.

        The endpoint's series counts live requests only; a deployment's series includes the
        mirrored requests it served. Probes count only with ``include_probes``. There is no
        GPU column: scoring runs on the CPU.
        """
        return self.traffic.deployment_metrics(
            model,
            env,
            start,
            end,
            deployment=deployment,
            interval_minutes=interval_minutes,
            include_probes=include_probes,
        )

    def reference_data(self, model: str) -> pd.DataFrame:
        return self.traffic.reference_data(model)

    def reference_version(self, model: str) -> str | None:
        """Path, inode, size and modification time (ns): an edit in place or a file replaced
        by a rename both change it."""
        path = self.reference_data_path(model)
        try:
            st = path.stat()
        except OSError:
            return None
        return f"file:{path}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"

    def production_data(self, model: str, env: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Logged requests joined with the labels arrived by now (``local.label_delay``)."""
        return self.traffic.production_data(model, env, start, end)

    def scored_requests(
        self, model: str, env: str, start: datetime, end: datetime, deployments: Sequence[str]
    ) -> ScoredRequests:
        """Each deployment's answers over the window, live and mirrored copies paired by
        correlation id, with latency and errors per request."""
        return self.traffic.scored_requests(model, env, start, end, deployments)

    def close(self) -> None:
        """Write buffered request logs and close the databases (runners keep running)."""
        self.flush()
        self.envs.close()
