"""Model versions across the workspaces and the registry, and promotion through the registry.

A version is trained and registered in a workspace (usually dev). Promotion imports it into the
Azure ML registry with a ``WorkspaceAssetReference`` sent through the *registry's* ``MLClient``
(``models.share()`` is experimental and builds its own clients, ignoring our client options);
every other workspace then deploys it from ``azureml://registries/<registry>/models/<name>/versions/<v>``.
So the versions an environment can serve are its own workspace's plus the registry's.

A version *number* does not identify a model across workspaces: prod may hold a stray local
``churn:3`` while the registry's ``churn:3`` was imported from dev. So a registry version is
matched to a workspace version by provenance, not by number: the registry reports the asset it
was imported from as ``properties.originAssetId`` and a workspace version's asset id is
``azureml://locations/<region>/workspaces/<workspace-id>/models/<name>/versions/<v>`` (the SDK's
``ASSET_ID_FORMAT``, the very id the import sends as ``sourceAssetId``). :meth:`ModelCatalog.resolve`
decides which of two same-numbered versions an environment means; listing, deploying and
promotion all go through it.

Not verified against a recording: ``originAssetId`` is in neither the 2024-10-01 REST spec's
``ModelVersionProperties`` nor azure-ai-ml 1.35's ``Model`` entity, so it is read from the raw
body (``ModelOperations._get``, which keeps unknown keys; ``Model._from_rest_object`` drops them).
A registry version without it cannot be told apart by provenance; it is then trusted by number
and a warning is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from azure.ai.ml.constants._common import ASSET_ID_FORMAT
from azure.ai.ml.entities import Model
from azure.ai.ml.entities._assets.workspace_asset_reference import WorkspaceAssetReference
from azure.ai.ml.exceptions import ValidationException
from azure.core.exceptions import HttpResponseError

from infra.platform.azure import convert
from infra.platform.azure.clients import AzureClients
from infra.platform.azure.errors import azure_errors, is_not_found
from infra.platform.base import ConflictError, ModelVersion, NotFoundError

log = logging.getLogger(__name__)

REGISTRY_SOURCE = "registry"
#: Key of the registry model version's ``properties`` naming the workspace asset it was imported
#: from (see the module docstring: an assumption, no public recording shows it).
ORIGIN_KEY = "originAssetId"


@dataclass(frozen=True)
class RegistryCopy:
    """A registry version and the workspace asset the registry says it was imported from."""

    version: ModelVersion
    origin: str | None


@dataclass(frozen=True)
class Resolved:
    """What an environment means by ``<model>:<version>``: its own workspace version or the
    registry's, and the reference a deployment uses for it."""

    version: ModelVersion
    reference: str
    """``azureml:<name>:<v>`` (the workspace's own) or ``azureml://registries/...`` (the registry's)."""


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
        """The workspace's own versions plus the registry's; on a number both have, the one
        :meth:`resolve` says ``env`` means."""
        own = {v.version: v for v in self.workspace_versions(model, env)}
        shared = {v.version: v for v in self.registry_versions(model)}
        merged = {**shared, **own}
        for number in own.keys() & shared.keys():
            resolved = self.resolve(model, number, env)
            if resolved is not None:
                merged[number] = resolved.version
        return _newest_first(list(merged.values()))

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

    def registry_copy(self, model: str, version: str) -> RegistryCopy | None:
        """The registry's version with its origin, or None when the registry has no such version."""
        with azure_errors(
            f"read version {version} of model '{model}'", self.clients.registry_scope()
        ):
            try:
                # The raw body: Model._from_rest_object drops properties.originAssetId.
                rest = self.clients.registry().models._get(model, version)
            except HttpResponseError as exc:
                if is_not_found(exc):
                    return None
                raise
            found = Model._from_rest_object(rest)
        properties = rest.get("properties") if hasattr(rest, "get") else None
        origin = (properties or {}).get(ORIGIN_KEY) if hasattr(properties, "get") else None
        return RegistryCopy(
            convert.model_version(found, source=REGISTRY_SOURCE), str(origin) if origin else None
        )

    def registry_version(self, model: str, version: str) -> ModelVersion | None:
        copy = self.registry_copy(model, version)
        return copy.version if copy else None

    def workspace_asset_id(self, model: str, version: str, env: str) -> str:
        """The id a workspace version has for the registry (``sourceAssetId`` / ``originAssetId``)."""
        info = self.clients.workspace_info(env)
        return ASSET_ID_FORMAT.format(info.location, info.workspace_id, "models", model, version)

    def _trains_in(self, model: str, env: str) -> bool:
        try:
            config = self.clients.settings.model(model)
        except KeyError:
            return env == self.clients.settings.env_names[0]
        return self.clients.settings.training_env(config) == env

    def _same_model(self, copy: RegistryCopy, model: str, env: str) -> bool | None:
        """True/False when the registry's origin says whether ``copy`` is ``env``'s own version;
        None when the registry does not say."""
        if copy.origin is None:
            return None
        own_id = self.workspace_asset_id(model, copy.version.version, env)
        return copy.origin.strip().lower() == own_id.lower()

    def resolve(self, model: str, version: str, env: str) -> Resolved | None:
        """Which ``<model>:<version>`` ``env`` means when both its workspace and the registry have
        one: the workspace's own when the registry's was imported from it (the same model) or
        when ``env`` is where the model trains; otherwise the registry's (promoted versions
        arrive through the registry, a same-numbered local model is not the promoted one)."""
        own = self.workspace_version(model, version, env)
        if own is not None and self._trains_in(model, env):
            # The training environment means its own work whatever the registry holds (and
            # does not need the registry to be reachable to say so).
            return Resolved(own, f"azureml:{model}:{version}")
        copy = self.registry_copy(model, version)
        registry_ref = registry_model_uri(self.clients.registry_name, model, version)
        if copy is None:
            return Resolved(own, f"azureml:{model}:{version}") if own else None
        if own is None:
            return Resolved(copy.version, registry_ref)
        same = self._same_model(copy, model, env)
        if same:  # imported from this very workspace: the same model
            return Resolved(own, f"azureml:{model}:{version}")
        if same is None:
            log.warning(
                "registry version %s of model %s does not say which workspace it came from "
                "(no %s); %s uses it by number",
                version,
                model,
                ORIGIN_KEY,
                env,
            )
        return Resolved(copy.version, registry_ref)

    def get_version(self, model: str, version: str, env: str) -> ModelVersion:
        found = self.resolve(model, version, env)
        if found is None:
            raise NotFoundError(
                f"version {version} of model '{model}' is neither in "
                f"{self.clients.workspace_scope(env).description} nor in "
                f"{self.clients.registry_scope().description}"
            )
        return found.version

    # -- promotion
    def copy_version(
        self, model: str, version: str, source_env: str, target_env: str
    ) -> ModelVersion:
        """Import ``version`` from ``source_env``'s workspace into the registry, once.

        ``target_env`` deploys from the registry, so nothing is copied into its workspace.
        """
        self.clients.workspace_config(target_env)  # an unknown target is a NotFoundError
        existing = self.registry_copy(model, version)
        own = self.workspace_version(model, version, source_env)
        if existing is not None:
            if own is None:
                return existing.version  # the source serves the registry's copy itself
            same = self._same_model(existing, model, source_env)
            if same is not False or not self._trains_in(model, source_env):
                if same is None:
                    log.warning(
                        "registry version %s of model %s has no %s; taking it for %s's by number",
                        version,
                        model,
                        ORIGIN_KEY,
                        source_env,
                    )
                return existing.version
            raise ConflictError(
                f"the registry already has a version {version} of model '{model}', imported from "
                f"{existing.origin}, not from {self.clients.workspace_scope(source_env).description}: "
                f"{source_env}'s version {version} is a different model. Register it again in "
                f"{source_env} (it gets a new version number) and promote that one"
            )
        if own is None:
            raise NotFoundError(
                f"version {version} of model '{model}' is not in "
                f"{self.clients.workspace_scope(source_env).description} nor in "
                f"{self.clients.registry_scope().description}; nothing to promote"
            )
        reference = WorkspaceAssetReference(
            name=model,
            version=version,
            asset_id=self.workspace_asset_id(model, version, source_env),
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
