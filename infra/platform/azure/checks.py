"""Monitoring checks as Azure ML command jobs (``monitoring.compute: platform``).

Each check is one command job in the monitored workspace: ``python -m jobs.checkjob`` from the
environment (or image) named by ``monitoring.platform_compute.environment``, on the cluster it
names or on serverless compute. Its inputs are the model's reference data and the endpoint's
data collector folder, mounted read-only into the job; its output folder is a fixed path in the
workspace's datastore (``mlops-bot/checks/<job name>/``), where the job writes ``result.json``
and the chart PNGs. The bot then reads those few files, never the production rows.

Submission is idempotent by name: the bot names the job and records the name first; a name that
already exists in the workspace is the job it submitted before (a restart, a retry), returned
as it is.
"""

from __future__ import annotations

import posixpath
from dataclasses import replace
from typing import Any

from azure.ai.ml import Input, Output, command

from infra.platform.azure import convert
from infra.platform.azure.clients import AzureClients
from infra.platform.azure.datasets import datastore_container
from infra.platform.azure.endpoints import EndpointManager
from infra.platform.azure.errors import azure_errors
from infra.platform.azure.training import Trainer
from infra.platform.base import (
    CheckJobRequest,
    InvalidRequestError,
    JobInfo,
    JobStatus,
    NotFoundError,
)
from infra.platform.collector import COLLECTOR_ROOT
from infra.settings import ModelConfig

#: Where a check job's outputs go in the workspace's default datastore.
OUTPUT_ROOT = "mlops-bot/checks"
EXPERIMENT = "mlops-bot-checks"
CHECK_TAG, CHECK_MODEL_TAG = "mlops-bot.check", "mlops-bot.check-of"
_FILE_SUFFIXES = (".parquet", ".csv", ".json", ".jsonl")
MAX_OUTPUT_FILES = 50


def check_command(spec: str) -> str:
    """The job's command line; ``spec`` is the shell-safe ``b64:`` token of the check."""
    return (
        f"python -m jobs.checkjob --spec {spec} --reference ${{{{inputs.reference}}}} "
        "--production ${{inputs.production}} --production-format collector "
        "--out ${{outputs.result}}"
    )


class CheckJobRunner:
    def __init__(self, clients: AzureClients, endpoints: EndpointManager, trainer: Trainer) -> None:
        self.clients = clients
        self.endpoints = endpoints
        self.trainer = trainer

    def _model(self, model: str) -> ModelConfig:
        return self.clients.model_config(model)

    def _datastore_uri(self, env: str, path: str) -> str:
        datastore = self.clients.workspace_config(env).datastore
        return f"azureml://datastores/{datastore}/paths/{path.strip('/')}/"

    def output_path(self, name: str) -> str:
        return f"{OUTPUT_ROOT}/{name}"

    def _reference_input(self, config: ModelConfig, env: str) -> Input:
        """The reference as the job's input: a data asset keeps its own type (``uri_file`` or
        ``uri_folder``; Azure refuses a mismatch), a datastore path is a file or a folder by
        its name."""
        reference = config.reference_data
        if not reference:
            raise InvalidRequestError(
                f"model '{config.name}' has no reference_data; set it to azureml:<data-asset>:"
                "<version> (readable in the monitored workspace) to run its checks as jobs"
            )
        if reference.startswith("azureml:") and not reference.startswith("azureml://"):
            name, _, version = reference[len("azureml:") :].partition(":")
            ml = self.clients.workspace(env)
            with azure_errors(
                f"read data asset '{name}'",
                self.clients.workspace_scope(env),
                missing=f"data asset '{reference}' in the monitored workspace",
            ):
                asset = (
                    ml.data.get(name, version=version)
                    if version
                    else ml.data.get(name, label="latest")
                )
            return Input(
                type=str(asset.type), path=f"azureml:{name}:{asset.version}", mode="ro_mount"
            )
        if not reference.startswith("azureml://"):
            reference = self._datastore_uri(env, reference).rstrip("/")
        kind = "uri_file" if reference.lower().endswith(_FILE_SUFFIXES) else "uri_folder"
        return Input(type=kind, path=reference, mode="ro_mount")

    def submit(self, request: CheckJobRequest) -> JobInfo:
        env = request.environment
        try:
            return self.get(env, request.name)
        except NotFoundError:
            pass  # not submitted yet
        config = self._model(request.model)
        compute = self.clients.settings.monitoring.platform_compute
        if not compute.environment:
            raise InvalidRequestError(
                "monitoring.platform_compute.environment is not set; expected the Azure ML "
                "environment (azureml:<name>:<version>) or image that holds mlops-bot"
            )
        endpoint = self.endpoints.endpoint_name(request.model, env)
        job = command(
            name=request.name,
            display_name=f"{request.kind} check of {request.model} in {env}",
            experiment_name=EXPERIMENT,
            command=check_command(request.spec),
            environment=compute.environment,
            compute=compute.cluster,
            inputs={
                "reference": self._reference_input(config, env),
                "production": Input(
                    type="uri_folder",
                    path=self._datastore_uri(env, f"{COLLECTOR_ROOT}/{endpoint}"),
                    mode="ro_mount",
                ),
            },
            outputs={
                "result": Output(
                    type="uri_folder",
                    path=self._datastore_uri(env, self.output_path(request.name)),
                    mode="rw_mount",
                )
            },
            tags={CHECK_TAG: request.kind, CHECK_MODEL_TAG: request.model},
        )
        if not compute.cluster:
            job.resources = {"instance_type": compute.instance_type, "instance_count": 1}
        ml = self.clients.workspace(env)
        with azure_errors(
            f"submit the {request.kind} check job of '{request.model}'",
            self.clients.workspace_scope(env),
            missing=f"compute '{compute.cluster}'" if compute.cluster else None,
        ):
            created = ml.jobs.create_or_update(job)
        return convert.job_info(created, model=request.model, environment=env)

    def get(self, env: str, name: str) -> JobInfo:
        ml = self.clients.workspace(env)
        with azure_errors(
            f"read check job '{name}'", self.clients.workspace_scope(env), missing=f"job '{name}'"
        ):
            job = ml.jobs.get(name)
        model = (job.tags or {}).get(CHECK_MODEL_TAG, "")
        info = convert.job_info(job, model=model, environment=env)
        info = replace(info, model=model)
        if info.status is not JobStatus.QUEUED:
            # Start and end from run history, and a failed run's error and log tail.
            info = self.trainer._with_run_details(info, env)
        return info

    def cancel(self, env: str, name: str) -> JobInfo:
        current = self.get(env, name)
        if current.status.finished:
            return current
        ml = self.clients.workspace(env)
        with azure_errors(
            f"cancel check job '{name}'", self.clients.workspace_scope(env), missing=f"job '{name}'"
        ):
            ml.jobs.begin_cancel(name).result()
        return self.get(env, name)

    def outputs(self, env: str, name: str) -> dict[str, bytes]:
        """The files directly under the job's output folder, read with the bot's identity."""
        datastore = self.clients.workspace_config(env).datastore
        container = datastore_container(self.clients, env, datastore)
        prefix = self.output_path(name) + "/"
        scope = self.clients.storage_scope(env)
        with azure_errors(f"list the outputs of check job '{name}'", scope):
            names = [
                b.name
                for b in container.list_blobs(name_starts_with=prefix)
                if "/" not in b.name[len(prefix) :]
            ]
        files: dict[str, Any] = {}
        for blob in sorted(names)[:MAX_OUTPUT_FILES]:
            with azure_errors(f"download '{blob}'", scope, missing=f"blob '{blob}'"):
                files[posixpath.basename(blob)] = container.download_blob(blob).readall()
        return files
