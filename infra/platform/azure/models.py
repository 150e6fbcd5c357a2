"""Model versions across the workspaces and the registry, and promotion through the registry.

A version is trained and registered in a workspace (usually dev). Promotion imports it into the
Azure ML registry with a ``WorkspaceAssetReference`` sent through the *registry's* ``MLClient``
(``models.share()`` is experimental and builds its own clients, ignoring our client options);
every other workspace then deploys it from ``azureml://registries/<registry>/models/<name>/versions/<v>``.
So the versions an environment can serve are its own workspace's plus the registry's.
"""

from __future__ import annotations

from azure.ai.ml.constants._common import ASSET_ID_FORMAT
from azure.ai.ml.entities import Model
from azure.ai.ml.entities._assets.workspace_asset_reference import WorkspaceAssetReference
from azure.ai.ml.exceptions import ValidationException
from azure.core.exceptions import HttpResponseError

from infra.platform.azure import convert
from infra.platform.azure.clients import AzureClients
from infra.platform.azure.errors import azure_errors, is_not_found
from infra.platform.base import ModelVersion, NotFoundError

REGISTRY_SOURCE = "registry"


def registry_model_uri(registry: str, model: str, version: str) -> str:
    return f"azureml://registries/{registry}/models/{model}/versions/{version}"


def _newest_first(versions: list[ModelVersion]) -> list[ModelVersion]:
    def key(v: ModelVersion) -> tuple[float, int, str]:
        number = int(v.version) if v.version.isdigit() else -1
        return (v.created.timestamp(), number, v.version)

    return sorted(versions, key=key, reverse=True)


class ModelCatalog:
    """Reads versions from workspaces and the registry; imports versions into the registry."""

    def __init__(self, clients: AzureClients) -> None:
        self.clients = clients

    # -- reads
    def list_models(self, env: str) -> list[str]:
        with azure_errors("list the models", self.clients.workspace_scope(env)):
            names = {str(m.name) for m in self.clients.workspace(env).models.list()}
        return sorted(names)

    def workspace_versions(self, model: str, env: str) -> list[ModelVersion]:
        with azure_errors(
            f"list the versions of model '{model}'", self.clients.workspace_scope(env)
        ):
            try:
                found = list(self.clients.workspace(env).models.list(name=model))
            except HttpResponseError as exc:
                if is_not_found(exc):
                    return []
                raise
        return [convert.model_version(m, source=env) for m in found]

    def registry_versions(self, model: str) -> list[ModelVersion]:
        with azure_errors(f"list the versions of model '{model}'", self.clients.registry_scope()):
            try:
                found = list(self.clients.registry().models.list(name=model))
            except HttpResponseError as exc:
                if is_not_found(exc):
                    return []
                raise
        return [convert.model_version(m, source=REGISTRY_SOURCE) for m in found]

    def list_versions(self, model: str, env: str) -> list[ModelVersion]:
        """The workspace's own versions plus the registry's (the workspace copy wins on a tie)."""
        own = self.workspace_versions(model, env)
        known = {v.version for v in own}
        shared = [v for v in self.registry_versions(model) if v.version not in known]
        return _newest_first(own + shared)

    def workspace_version(self, model: str, version: str, env: str) -> ModelVersion | None:
        with azure_errors(
            f"read version {version} of model '{model}'", self.clients.workspace_scope(env)
        ):
            try:
                found: Model = self.clients.workspace(env).models.get(model, version=version)
            except HttpResponseError as exc:
                if is_not_found(exc):
                    return None
                raise
        return convert.model_version(found, source=env)

    def registry_version(self, model: str, version: str) -> ModelVersion | None:
        with azure_errors(
            f"read version {version} of model '{model}'", self.clients.registry_scope()
        ):
            try:
                found: Model = self.clients.registry().models.get(model, version=version)
            except HttpResponseError as exc:
                if is_not_found(exc):
                    return None
                raise
        return convert.model_version(found, source=REGISTRY_SOURCE)

    def get_version(self, model: str, version: str, env: str) -> ModelVersion:
        found = self.workspace_version(model, version, env) or self.registry_version(model, version)
        if found is None:
            raise NotFoundError(
                f"version {version} of model '{model}' is neither in "
                f"{self.clients.workspace_scope(env).description} nor in "
                f"{self.clients.registry_scope().description}"
            )
        return found

    # -- promotion
    def copy_version(
        self, model: str, version: str, source_env: str, target_env: str
    ) -> ModelVersion:
        """Import ``version`` from ``source_env``'s workspace into the registry, once.

        ``target_env`` deploys from the registry, so nothing is copied into its workspace.
        """
        self.clients.workspace_config(target_env)  # an unknown target is a NotFoundError
        existing = self.registry_version(model, version)
        if existing is not None:
            return existing
        if self.workspace_version(model, version, source_env) is None:
            raise NotFoundError(
                f"version {version} of model '{model}' is not in "
                f"{self.clients.workspace_scope(source_env).description} nor in "
                f"{self.clients.registry_scope().description}; nothing to promote"
            )
        info = self.clients.workspace_info(source_env)
        reference = WorkspaceAssetReference(
            name=model,
            version=version,
            asset_id=ASSET_ID_FORMAT.format(
                info.location, info.workspace_id, "models", model, version
            ),
        )
        action = f"import version {version} of model '{model}' from {source_env} into the registry"
        with azure_errors(action, self.clients.registry_scope()):
            try:
                self.clients.registry().models.create_or_update(reference)
            except ValidationException as exc:
                # Another replica imported it between our check and our call: the goal is met.
                if "already exists" not in str(exc):
                    raise
        imported = self.registry_version(model, version)
        if imported is None:
            raise NotFoundError(
                f"the registry accepted the import of version {version} of model '{model}' "
                "but does not list it yet; retry the promotion in a minute"
            )
        return imported
