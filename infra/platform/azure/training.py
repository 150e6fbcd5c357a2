"""Retraining on Azure ML: submit the model's pipeline job, or trigger an existing schedule.

``retraining.pipeline`` is either a job YAML (loaded with ``load_job``; ``/mlops retrain``
parameters override its top-level inputs) or ``schedule:<name>`` (``schedules.trigger`` runs the
schedule's own job once; it takes no overrides). Jobs are tagged with the model so the bot can
find them again; a failed job's error and the tail of its log come from run history.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from azure.ai.ml import load_job
from azure.core.exceptions import AzureError

from infra.platform.azure import convert
from infra.platform.azure.clients import AzureClients
from infra.platform.azure.errors import azure_errors
from infra.platform.azure.models import ModelCatalog
from infra.platform.base import (
    InvalidRequestError,
    JobInfo,
    JobStatus,
    ModelVersion,
    NotFoundError,
)
from infra.settings import ModelConfig

SCHEDULE_PREFIX = "schedule:"
#: How many of a workspace's most recent jobs /mlops status scans for a model's jobs.
MAX_JOBS_SCANNED = 200
LOG_TAIL_LINES = 30
#: Waits between the GETs of a job a schedule trigger just created: the trigger answers with the
#: job's name before the job can be read (a GET at once may be a 404), so read it for up to ~15 s.
TRIGGERED_JOB_WAITS = (0.5, 1.0, 2.0, 4.0, 8.0)
#: Log files worth showing for a failed job, best first (command jobs, then pipeline jobs).
_LOG_PREFERENCE = (
    "user_logs/std_log.txt",
    "azureml-logs/70_driver_log.txt",
    "logs/azureml/stderrlogs.txt",
    "logs/azureml/executionlogs.txt",
)


def _coerce(value: str, like: Any) -> Any:
    """Give an override the type of the YAML default it replaces (Azure checks input types)."""
    if isinstance(like, bool):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(like, int):
        try:
            return int(value)
        except ValueError:
            return float(value)
    if isinstance(like, float):
        return float(value)
    return value


class Trainer:
    def __init__(self, clients: AzureClients, catalog: ModelCatalog) -> None:
        self.clients = clients
        self.catalog = catalog
        self.session = requests.Session()
        self.sleep: Callable[[float], None] = time.sleep

    def _model(self, model: str) -> ModelConfig:
        return self.clients.model_config(model)

    # -- submit
    def submit(
        self, model: str, env: str, parameters: Mapping[str, str], *, reason: str = ""
    ) -> JobInfo:
        config = self._model(model)
        retraining = config.retraining
        pipeline = retraining.pipeline
        if not pipeline:
            raise InvalidRequestError(
                f"model '{model}' has no retraining pipeline; set models[].retraining.pipeline to a "
                "pipeline job YAML or to schedule:<azure-ml-schedule-name>"
            )
        overrides = {
            k: str(v) for k, v in parameters.items() if retraining.parameters.get(k) != str(v)
        }
        allowed = retraining.allowed_parameters
        if allowed is not None:
            refused = sorted(k for k in overrides if k not in allowed)
            if refused:
                raise InvalidRequestError(
                    f"parameters {refused} may not be set from Slack for '{model}'; allowed: {list(allowed)}"
                )
        ml = self.clients.workspace(env)
        scope = self.clients.workspace_scope(env)
        if pipeline.startswith(SCHEDULE_PREFIX):
            schedule = pipeline[len(SCHEDULE_PREFIX) :].strip()
            if overrides:
                raise InvalidRequestError(
                    f"'{model}' retrains through the Azure ML schedule '{schedule}', which runs its own "
                    f"job definition; it cannot take the parameters {sorted(overrides)}"
                )
            with azure_errors(
                f"trigger schedule '{schedule}'", scope, missing=f"schedule '{schedule}'"
            ):
                triggered = ml.schedules.trigger(schedule)
            return self._triggered_job(ml, str(triggered.job_name), model, env)

        job = self._load(pipeline, model)
        values = {**retraining.parameters, **{k: str(v) for k, v in parameters.items()}}
        inputs = job.inputs or {}
        unknown = sorted(k for k in values if k not in inputs)
        if unknown:
            raise InvalidRequestError(
                f"{pipeline} has no inputs {unknown}; its inputs are {sorted(inputs) or 'none'}"
            )
        for key, value in values.items():
            current = inputs[key]
            typed = _coerce(value, getattr(current, "_data", current))
            try:
                # Pipeline inputs are updated in place (``job.inputs.name = value``, as documented);
                # assigning by key would replace the input object with a bare value.
                setattr(job.inputs, key, typed)
            except AttributeError:
                job.inputs[key] = typed
        if convert.PIPELINE_RUN_INPUT in inputs:
            # Name the run ourselves so the register step can tag the model with it.
            job.name = job.name or f"{model}-retrain-{uuid.uuid4().hex[:12]}"
            setattr(job.inputs, convert.PIPELINE_RUN_INPUT, job.name)
        job.tags = {**(job.tags or {}), convert.MODEL_TAG: model}
        if reason:
            job.tags[convert.REASON_TAG] = reason[:256]
        job.experiment_name = job.experiment_name or model
        with azure_errors(f"submit the retraining job of '{model}'", scope):
            created = ml.jobs.create_or_update(job)
        return convert.job_info(created, model=model, environment=env)

    def _triggered_job(self, ml: Any, job_name: str, model: str, env: str) -> JobInfo:
        """The job a trigger created. A 404 here means "not readable yet", not "no schedule": the
        job exists (the trigger named it), so it is read again a few times, and if it still is not
        visible it is reported queued rather than as a failure (retrying the command would start
        a second run)."""
        scope = self.clients.workspace_scope(env)
        for wait in (*TRIGGERED_JOB_WAITS, None):
            try:
                with azure_errors(f"read job '{job_name}'", scope, missing=f"job '{job_name}'"):
                    job = ml.jobs.get(job_name)
            except NotFoundError:
                if wait is None:
                    break
                self.sleep(wait)
                continue
            return convert.job_info(job, model=model, environment=env)
        return JobInfo(
            id=job_name,
            model=model,
            environment=env,
            status=JobStatus.QUEUED,
            created=datetime.now(UTC),
        )

    def _load(self, pipeline: str, model: str) -> Any:
        path = Path(pipeline).expanduser()
        source = self.clients.settings.source
        if not path.is_absolute() and source and Path(source).exists():
            path = Path(source).parent / path
        if not path.exists():
            raise InvalidRequestError(
                f"the retraining pipeline of '{model}' ({path}) does not exist"
            )
        try:
            return load_job(source=path)
        except Exception as exc:  # the SDK's schema errors: show them, they name the bad key
            raise InvalidRequestError(f"{path} is not a valid Azure ML job YAML: {exc}") from exc

    # -- read
    def get(self, env: str, job_id: str) -> JobInfo:
        ml = self.clients.workspace(env)
        with azure_errors(
            f"read job '{job_id}'", self.clients.workspace_scope(env), missing=f"job '{job_id}'"
        ):
            job = ml.jobs.get(job_id)
        tags = job.tags or {}
        info = convert.job_info(
            job, model=tags.get(convert.MODEL_TAG) or job.experiment_name or "", environment=env
        )
        if info.status is not JobStatus.QUEUED:
            info = self._with_run_details(info, env)
        if info.status is JobStatus.COMPLETED and info.model:
            produced = self._produced(info.model, env, job_id)
            if produced:
                newest = max(produced, key=lambda v: v.created)
                info = replace(info, produced_version=newest.version, metrics=dict(newest.metrics))
        return info

    def _produced(self, model: str, env: str, job_id: str) -> list[ModelVersion]:
        """The versions a run registered: tagged with the run by the pipeline's register step,
        else registered by the run itself (a command job) or by one of its child steps."""
        versions = self.catalog.workspace_versions(model, env)
        tagged = [v for v in versions if v.tags.get(convert.PIPELINE_RUN_TAG) == job_id]
        if tagged:
            return tagged
        direct = [v for v in versions if v.training_job == job_id]
        if direct or not any(v.training_job for v in versions):
            return direct
        ml = self.clients.workspace(env)
        try:
            children = {
                c.name for c in ml.jobs.list(parent_job_name=job_id) if c is not None and c.name
            }
        except AzureError:  # run history unreachable: nothing found is the honest answer
            return []
        return [v for v in versions if v.training_job in children]

    def list(self, model: str, env: str, limit: int = 10) -> list[JobInfo]:
        ml = self.clients.workspace(env)
        with azure_errors(f"list the jobs of '{model}'", self.clients.workspace_scope(env)):
            recent = list(itertools.islice(ml.jobs.list(), MAX_JOBS_SCANNED))
        mine = [j for j in recent if j is not None and self._belongs_to(j, model)]
        infos = [convert.job_info(j, model=model, environment=env) for j in mine]
        return sorted(infos, key=lambda j: j.created, reverse=True)[:limit]

    @staticmethod
    def _belongs_to(job: Any, model: str) -> bool:
        tag = (job.tags or {}).get(convert.MODEL_TAG)
        return tag == model if tag else job.experiment_name == model

    def cancel(self, env: str, job_id: str) -> JobInfo:
        current = self.get(env, job_id)
        if current.status.finished:
            return current
        ml = self.clients.workspace(env)
        with azure_errors(
            f"cancel job '{job_id}'", self.clients.workspace_scope(env), missing=f"job '{job_id}'"
        ):
            ml.jobs.begin_cancel(job_id).result()
        return self.get(env, job_id)

    # -- failure details
    def _with_run_details(self, info: JobInfo, env: str) -> JobInfo:
        """Start and end times from run history, and for a failed run its error and log tail.

        Best effort: run history is a separate service (found through the workspace's discovery
        URL); without it the job status alone still stands.
        """
        ml = self.clients.workspace(env)
        try:
            details = ml.jobs._runs_operations.get_run_details(info.id)
        except Exception:  # the status from the jobs API is what matters
            return info
        info = replace(
            info,
            started=info.started or convert.parse_time(getattr(details, "start_time_utc", None)),
            ended=info.ended or convert.parse_time(getattr(details, "end_time_utc", None)),
        )
        if info.status is not JobStatus.FAILED:
            return info
        error = getattr(getattr(getattr(details, "error", None), "error", None), "message", None)
        return replace(
            info,
            error=error,
            log_tail=self._log_tail(dict(getattr(details, "log_files", None) or {})),
        )

    def _log_tail(self, logs: dict[str, str]) -> str:
        chosen = next((name for name in _LOG_PREFERENCE if name in logs), None)
        if chosen is None:
            chosen = next((n for n in sorted(logs) if n.endswith(".txt")), None)
        if chosen is None:
            return ""
        try:
            # Log URLs carry their own SAS token: no Authorization header.
            response = self.session.get(logs[chosen], timeout=30)
            response.raise_for_status()
        except requests.RequestException:
            return ""
        lines = response.text.rstrip().splitlines()[-LOG_TAIL_LINES:]
        return f"{chosen}:\n" + "\n".join(lines)

    def close(self) -> None:
        self.session.close()
