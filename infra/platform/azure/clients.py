"""One place that builds and caches every Azure SDK client the adapter uses.

Each environment is an Azure ML workspace with its own ``MLClient``; the registry has one more.
Clients are built on first use (building the registry client already calls Azure's registry
discovery service), cached, and all receive the same ``client_options``: production uses them for
retry settings, tests pass a transport that replays HTTP. Nothing here talks to Slack or knows
about the port's dataclasses.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.ai.ml import MLClient
from azure.core.credentials import TokenCredential
from azure.monitor.query import LogsQueryClient
from azure.monitor.querymetrics import MetricsClient
from azure.storage.blob import BlobServiceClient

from infra.platform.azure import sdk_patches
from infra.platform.azure.errors import (
    LOGS_ROLE,
    METRICS_ROLE,
    REGISTRY_ROLE,
    STORAGE_ROLE,
    WORKSPACE_ROLE,
    Scope,
    azure_errors,
)
from infra.platform.base import NotFoundError
from infra.settings import AzureWorkspace, ModelConfig, Settings

K = TypeVar("K")
V = TypeVar("V")

#: Bounded retries: a chat command should fail within a minute, not after azure-core's default
#: ten attempts with two-minute backoffs. 429 and 5xx are retried, honouring Retry-After.
DEFAULT_CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 4,
    "retry_backoff_factor": 0.8,
    "retry_backoff_max": 30,
    "user_agent": "mlops-bot",
}

#: Keyword arguments every azure-core client understands (the ML client takes more, such as
#: ``polling_interval``, that the monitor and storage clients would pass on to the transport).
_CORE_OPTIONS = {
    "transport",
    "retry_total",
    "retry_backoff_factor",
    "retry_backoff_max",
    "retry_mode",
    "logging_enable",
    "connection_timeout",
    "read_timeout",
    "proxies",
    "user_agent",
    "headers_policy",
}

STORAGE_SUFFIX = "core.windows.net"


@dataclass(frozen=True)
class WorkspaceInfo:
    """What the adapter needs to know about a workspace beyond its name."""

    name: str
    location: str
    workspace_id: str
    """The workspace GUID, used in ``azureml://locations/.../workspaces/<guid>/...`` asset ids."""
    storage_account_id: str | None
    discovery_url: str | None


def workspace_arm_id(ws: AzureWorkspace) -> str:
    return (
        f"/subscriptions/{ws.subscription_id}/resourceGroups/{ws.resource_group}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{ws.workspace}"
    )


class _Cache:
    """A thread-safe build-once map: two Slack commands must not build two clients."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[Any, Any] = {}

    def get(self, key: K, build: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                return self._items[key]
        value = build()
        with self._lock:
            return self._items.setdefault(key, value)

    def peek(self, key: Any) -> Any:
        with self._lock:
            return self._items.get(key)

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._items.values())


class AzureClients:
    """Lazily built SDK clients for one configuration, plus the scopes used in error messages."""

    def __init__(
        self,
        settings: Settings,
        credential: TokenCredential,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.credential = credential
        self.options: dict[str, Any] = {**DEFAULT_CLIENT_OPTIONS, **(client_options or {})}
        self._cache = _Cache()
        sdk_patches.apply()

    # -- coordinates
    def workspace_config(self, env: str) -> AzureWorkspace:
        try:
            ws = self.settings.environment(env).azure
        except KeyError:
            raise NotFoundError(
                f"environment {env!r} is not configured; expected one of {self.settings.env_names}"
            ) from None
        if ws is None:  # settings validation makes this unreachable for platform: azure
            raise ValueError(f"environment {env!r} has no 'azure:' workspace")
        return ws

    def model_config(self, model: str) -> ModelConfig:
        try:
            return self.settings.model(model)
        except KeyError:
            known = [m.name for m in self.settings.models]
            raise NotFoundError(
                f"model '{model}' is not configured; configured models: {known}"
            ) from None

    @property
    def registry_name(self) -> str:
        registry = self.settings.registry.azure
        if registry is None:
            raise ValueError("registry.azure.name is not configured")
        return registry.name

    # -- scopes (what to grant, where) for error messages
    def workspace_scope(self, env: str) -> Scope:
        ws = self.workspace_config(env)
        info = self._cache.peek(("info", env))
        return Scope(
            description=f"workspace '{ws.workspace}' (environment {env})",
            resource_id=workspace_arm_id(ws),
            role=WORKSPACE_ROLE,
            region=info.location if info else None,
        )

    def registry_scope(self) -> Scope:
        registry = self.settings.registry.azure
        name = self.registry_name
        discovered = self._cache.peek(("registry",))
        if discovered is not None:  # discovery told us where the registry lives
            subscription = discovered._operation_scope.subscription_id
            group = discovered._operation_scope.resource_group_name
        else:
            subscription = registry.subscription_id if registry else None
            group = registry.resource_group if registry else None
        if subscription and group:
            resource_id = (
                f"/subscriptions/{subscription}/resourceGroups/{group}"
                f"/providers/Microsoft.MachineLearningServices/registries/{name}"
            )
        else:
            resource_id = f"the registry '{name}'"
        return Scope(
            description=f"registry '{name}'",
            resource_id=resource_id,
            role=REGISTRY_ROLE,
            region=registry.location if registry else None,
        )

    def storage_scope(self, env: str) -> Scope:
        info = self.workspace_info(env)
        resource = (
            info.storage_account_id
            or f"the storage account of {self.workspace_scope(env).description}"
        )
        return Scope(
            description=f"the storage of workspace '{info.name}' (environment {env})",
            resource_id=resource,
            role=STORAGE_ROLE,
            region=info.location,
        )

    def metrics_scope(self, env: str, endpoint: str) -> Scope:
        ws = self.workspace_config(env)
        return Scope(
            description=f"Azure Monitor metrics of endpoint '{endpoint}' (environment {env})",
            resource_id=f"{workspace_arm_id(ws)}/onlineEndpoints/{endpoint}",
            role=METRICS_ROLE,
        )

    def logs_scope(self, env: str) -> Scope:
        ws = self.workspace_config(env)
        return Scope(
            description=f"Log Analytics workspace {ws.log_analytics_workspace_id} (environment {env})",
            resource_id=f"the Log Analytics workspace {ws.log_analytics_workspace_id}",
            role=LOGS_ROLE,
        )

    # -- clients
    def _ml_options(self) -> dict[str, Any]:
        # The SDK's own usage telemetry is off: a bot should not phone home on every call.
        return {**self.options, "enable_telemetry": False, "show_progress": False}

    def _core_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.options.items() if k in _CORE_OPTIONS}

    def workspace(self, env: str) -> MLClient:
        ws = self.workspace_config(env)

        def build() -> MLClient:
            return MLClient(
                self.credential,
                subscription_id=ws.subscription_id,
                resource_group_name=ws.resource_group,
                workspace_name=ws.workspace,
                **self._ml_options(),
            )

        return self._cache.get(("workspace", env), build)

    def registry(self) -> MLClient:
        registry = self.settings.registry.azure

        def build() -> MLClient:
            # Building it calls registry discovery (which region, subscription, resource group).
            with azure_errors("discover the registry", self.registry_scope()):
                return MLClient(
                    self.credential,
                    subscription_id=registry.subscription_id if registry else None,
                    resource_group_name=registry.resource_group if registry else None,
                    registry_name=self.registry_name,
                    **self._ml_options(),
                )

        return self._cache.get(("registry",), build)

    def workspace_info(self, env: str) -> WorkspaceInfo:
        ws = self.workspace_config(env)

        def build() -> WorkspaceInfo:
            with azure_errors(
                "read the workspace",
                self.workspace_scope(env),
                missing=f"workspace '{ws.workspace}'",
            ):
                workspace = self.workspace(env).workspaces.get(ws.workspace)
            return WorkspaceInfo(
                name=ws.workspace,
                location=str(workspace.location),
                workspace_id=str(workspace._workspace_id),
                storage_account_id=workspace.storage_account,
                discovery_url=workspace.discovery_url,
            )

        return self._cache.get(("info", env), build)

    def metrics(self, region: str) -> MetricsClient:
        def build() -> MetricsClient:
            return MetricsClient(
                f"https://{region}.metrics.monitor.azure.com",
                self.credential,
                **self._core_options(),
            )

        return self._cache.get(("metrics", region), build)

    def logs(self) -> LogsQueryClient:
        return self._cache.get(
            ("logs",), lambda: LogsQueryClient(self.credential, **self._core_options())
        )

    def blob_service(self, account_url: str) -> BlobServiceClient:
        def build() -> BlobServiceClient:
            return BlobServiceClient(
                account_url, credential=self.credential, **self._core_options()
            )

        return self._cache.get(("blob", account_url), build)

    def close(self) -> None:
        for client in self._cache.values():
            close = getattr(client, "close", None)
            if callable(close) and not isinstance(client, MLClient | WorkspaceInfo):
                close()
