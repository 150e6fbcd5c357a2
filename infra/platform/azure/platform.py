"""The Azure ML adapter of the platform port.

Every environment of the chain is an Azure ML workspace; models move between them through one
Azure ML registry. This class only wires the parts together; each part lives in its own module:
``models`` (versions, registry import), ``endpoints`` (deploy, traffic, smoke test), ``training``
(jobs), ``telemetry`` (Azure Monitor, Log Analytics) and ``datasets`` (data assets, collected
production data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from azure.core.credentials import TokenCredential

from infra.platform.azure.checks import CheckJobRunner
from infra.platform.azure.clients import AzureClients
from infra.platform.azure.credentials import build_credential
from infra.platform.azure.datasets import DataReader, scored_from_collector
from infra.platform.azure.endpoints import EndpointManager
from infra.platform.azure.errors import azure_errors
from infra.platform.azure.models import ModelCatalog
from infra.platform.azure.telemetry import Telemetry
from infra.platform.azure.training import Trainer
from infra.platform.base import (
    CheckJobRequest,
    Deployment,
    EndpointState,
    JobInfo,
    MLPlatform,
    ModelVersion,
    Operation,
    ScoredRequests,
    SmokeTestResult,
)
from infra.settings import Settings


class AzurePlatform(MLPlatform):
    """Azure ML through azure-ai-ml, azure-identity, azure-monitor-* and azure-storage-blob.

    ``credential`` defaults to the one ``azure_credential:`` describes; ``client_options`` are
    passed to every SDK client (retry settings, or a replaying transport in tests).
    """

    name = "azure"

    def __init__(
        self,
        settings: Settings,
        *,
        credential: TokenCredential | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.clients = AzureClients(
            settings, credential or build_credential(settings.azure_credential), client_options
        )
        self.catalog = ModelCatalog(self.clients)
        self.endpoints = EndpointManager(self.clients, self.catalog)
        self.trainer = Trainer(self.clients, self.catalog)
        self.telemetry = Telemetry(self.clients, self.endpoints)
        self.data = DataReader(self.clients, self.endpoints)
        self.checks = CheckJobRunner(self.clients, self.endpoints, self.trainer)

    # -- health
    def check(self) -> None:
        """Every workspace answers (the registry is checked when first used, it is not cheap)."""
        for env in self.settings.env_names:
            ws = self.clients.workspace_config(env)
            with azure_errors(
                "read the workspace",
                self.clients.workspace_scope(env),
                missing=f"workspace '{ws.workspace}'",
            ):
                self.clients.workspace(env).workspaces.get(ws.workspace)

    # -- models
    def list_models(self, env: str) -> list[str]:
        return self.catalog.list_models(env)

    def list_versions(self, model: str, env: str) -> list[ModelVersion]:
        return self.catalog.list_versions(model, env)

    def get_version(self, model: str, version: str, env: str) -> ModelVersion:
        return self.catalog.get_version(model, version, env)

    def copy_version(
        self, model: str, version: str, source_env: str, target_env: str
    ) -> ModelVersion:
        return self.catalog.copy_version(model, version, source_env, target_env)

    # -- endpoints
    def endpoint_state(self, model: str, env: str) -> EndpointState:
        return self.endpoints.state(model, env)

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
        return self.endpoints.begin_deploy(
            model,
            version,
            env,
            deployment_name=deployment_name,
            instance_type=instance_type,
            instance_count=instance_count,
        )

    def smoke_test(
        self, model: str, env: str, deployment: str, sample: Mapping[str, Any] | Sequence[Any]
    ) -> SmokeTestResult:
        return self.endpoints.smoke_test(model, env, deployment, sample)

    def set_traffic(
        self,
        model: str,
        env: str,
        traffic: Mapping[str, int],
        mirror: Mapping[str, int] | None = None,
    ) -> EndpointState:
        return self.endpoints.set_traffic(model, env, traffic, mirror)

    def begin_delete_deployment(self, model: str, env: str, deployment: str) -> Operation[None]:
        return self.endpoints.begin_delete_deployment(model, env, deployment)

    # -- training
    def submit_training(
        self, model: str, env: str, parameters: Mapping[str, str], *, reason: str = ""
    ) -> JobInfo:
        return self.trainer.submit(model, env, parameters, reason=reason)

    def get_job(self, env: str, job_id: str) -> JobInfo:
        return self.trainer.get(env, job_id)

    def list_jobs(self, model: str, env: str, limit: int = 10) -> list[JobInfo]:
        return self.trainer.list(model, env, limit)

    def cancel_job(self, env: str, job_id: str) -> JobInfo:
        return self.trainer.cancel(env, job_id)

    # -- monitoring checks as command jobs
    def submit_check(self, request: CheckJobRequest) -> JobInfo:
        return self.checks.submit(request)

    def check_job(self, env: str, name: str) -> JobInfo:
        return self.checks.get(env, name)

    def cancel_check_job(self, env: str, name: str) -> JobInfo:
        return self.checks.cancel(env, name)

    def check_outputs(self, env: str, name: str) -> dict[str, bytes]:
        return self.checks.outputs(env, name)

    # -- telemetry and data
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
        # Azure Monitor cannot tell a probe from a live request: both are counted.
        del include_probes
        return self.telemetry.deployment_metrics(
            model, env, start, end, deployment=deployment, interval_minutes=interval_minutes
        )

    def reference_data(self, model: str) -> pd.DataFrame:
        return self.data.reference_data(model)

    def reference_version(self, model: str) -> str | None:
        return self.data.reference_version(model)

    def production_data(self, model: str, env: str, start: datetime, end: datetime) -> pd.DataFrame:
        return self.data.production_data(model, env, start, end)

    def scored_requests(
        self, model: str, env: str, start: datetime, end: datetime, deployments: Sequence[str]
    ) -> ScoredRequests:
        """From the data collector of each deployment (serving first); latency and errors per
        deployment come from Azure Monitor (:meth:`deployment_metrics`)."""
        collected = self.data.production_data(model, env, start, end)
        return scored_from_collector(self.data._model(model), collected, list(deployments))

    def close(self) -> None:
        self.endpoints.close()
        self.trainer.close()
        self.clients.close()
