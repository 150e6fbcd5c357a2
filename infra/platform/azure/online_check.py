"""``mlops-bot check-config --online`` for Azure: can the bot's identity do its job, and if not, why.

Two kinds of evidence, per workspace and for the registry:

- *reachability*: the real calls the bot makes (read the workspace, list models and endpoints,
  list the data collector's blobs, query the traffic log, discover and read the registry). A
  failure here is what the bot would hit at run time, firewall and private endpoints included.
- *permissions*: Azure's "what may I do here" API (``Microsoft.Authorization/permissions``) for
  the write actions the bot needs but cannot try without side effects (create deployments, shift
  traffic, submit jobs, import into the registry). Missing actions are named with the built-in
  role that grants them.

Each finding is a :class:`CheckResult`; ``missing`` says what to grant or enable, one line each.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from infra.platform.base import NotFoundError, PlatformError
from infra.settings import Settings

ARM = "https://management.azure.com"
ARM_SCOPE = f"{ARM}/.default"
PERMISSIONS_API = "2022-04-01"

ML = "Microsoft.MachineLearningServices"
#: Actions the bot needs on every workspace, and why (the role that grants them in parentheses).
WORKSPACE_ACTIONS: dict[str, str] = {
    f"{ML}/workspaces/models/versions/read": "read model versions",
    f"{ML}/workspaces/onlineEndpoints/read": "read endpoints",
    f"{ML}/workspaces/onlineEndpoints/write": "create endpoints and shift traffic",
    f"{ML}/workspaces/onlineEndpoints/deployments/write": "create deployments",
    f"{ML}/workspaces/onlineEndpoints/deployments/delete": "retire deployments",
    f"{ML}/workspaces/onlineEndpoints/listKeys/action": "read endpoint keys for smoke tests",
    f"{ML}/workspaces/data/versions/write": "register the data collector's data assets",
    f"{ML}/workspaces/datastores/read": "locate collected data",
    f"{ML}/workspaces/jobs/read": "follow retraining jobs",
}
TRAINING_ACTIONS: dict[str, str] = {
    f"{ML}/workspaces/jobs/write": "submit retraining jobs",
    f"{ML}/workspaces/schedules/read": "trigger retraining schedules",
}
METRICS_ACTIONS: dict[str, str] = {"Microsoft.Insights/metrics/read": "read endpoint metrics"}
REGISTRY_ACTIONS: dict[str, str] = {
    f"{ML}/registries/assets/read": "read registry models",
    f"{ML}/registries/assets/write": "import model versions into the registry",
}


@dataclass(frozen=True)
class CheckResult:
    target: str
    """What was checked: ``workspace 'mlw-prod' (environment prod)``, ``registry 'mlreg'``..."""
    check: str
    """Which aspect: ``identity``, ``reachable``, ``permissions``, ``storage``, ``traffic log``..."""
    ok: bool
    detail: str
    missing: tuple[str, ...] = field(default_factory=tuple)
    """What to grant or enable for this check to pass."""
    warning: bool = False
    """Passed, but something will not work as expected (``ok`` stays True: not a failure)."""

    @property
    def message(self) -> str:
        """One line for the CLI: the finding, then what to do about it."""
        fix = f" -> {'; '.join(self.missing)}" if self.missing else ""
        return f"{self.check}: {self.detail}{fix}"

    def __str__(self) -> str:
        mark = "FAIL" if not self.ok else "warn" if self.warning else "ok  "
        lines = [f"[{mark}] {self.target}: {self.check}: {self.detail}"]
        lines += [f"       - {m}" for m in self.missing]
        return "\n".join(lines)


# --------------------------------------------------------------------------- permissions


def _pattern(action: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(action).replace(r"\*", ".*") + "$", re.IGNORECASE)


def allowed(action: str, permissions: Iterable[Mapping[str, Any]], *, data: bool = False) -> bool:
    """Whether any permission entry grants ``action`` (Azure wildcard semantics, notActions apply
    within their own entry)."""
    grant, deny = ("dataActions", "notDataActions") if data else ("actions", "notActions")
    for entry in permissions:
        if any(_pattern(a).match(action) for a in entry.get(grant) or ()) and not any(
            _pattern(a).match(action) for a in entry.get(deny) or ()
        ):
            return True
    return False


class PermissionReader:
    """Reads the caller's effective permissions at an ARM scope."""

    def __init__(self, credential: Any, options: Mapping[str, Any]) -> None:
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import (
            BearerTokenCredentialPolicy,
            HeadersPolicy,
            RetryPolicy,
            UserAgentPolicy,
        )

        retry = {k: v for k, v in options.items() if k.startswith("retry_")}
        policies = [
            HeadersPolicy(),
            UserAgentPolicy(user_agent="mlops-bot"),
            RetryPolicy(**retry),
            BearerTokenCredentialPolicy(credential, ARM_SCOPE),
        ]
        transport = options.get("transport")
        self._client = PipelineClient(
            ARM, policies=policies, **({"transport": transport} if transport else {})
        )

    def permissions(self, scope: str) -> list[dict[str, Any]]:
        from azure.core.rest import HttpRequest

        url: str | None = (
            f"{ARM}{scope}/providers/Microsoft.Authorization/permissions?api-version={PERMISSIONS_API}"
        )
        entries: list[dict[str, Any]] = []
        while url:
            response = self._client.send_request(HttpRequest("GET", url))
            response.raise_for_status()
            body = response.json()
            entries.extend(body.get("value") or [])
            url = body.get("nextLink")
        return entries


# --------------------------------------------------------------------------- the checks


def _claims(token: str) -> dict[str, Any]:
    """The JWT's claims, unverified: only to say *who* the bot is, never to trust it."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


class _Checker:
    def __init__(
        self, settings: Settings, credential: Any, options: Mapping[str, Any] | None
    ) -> None:
        from infra.platform.azure.clients import AzureClients
        from infra.platform.azure.credentials import build_credential

        self.settings = settings
        self.clients = AzureClients(
            settings, credential or build_credential(settings.azure_credential), options
        )
        self.results: list[CheckResult] = []
        self._permissions = PermissionReader(self.clients.credential, self.clients.options)

    def add(
        self,
        target: str,
        check: str,
        ok: bool,
        detail: str,
        missing: Iterable[str] = (),
        *,
        warning: bool = False,
    ) -> bool:
        self.results.append(CheckResult(target, check, ok, detail, tuple(missing), warning))
        return ok

    def attempt(self, target: str, check: str, work: Callable[[], str]) -> bool:
        """Run one probe; a PlatformError becomes a failed result with its hint as the fix."""
        try:
            detail = work()
        except PlatformError as err:
            return self.add(target, check, False, err.message, [err.hint] if err.hint else [])
        return self.add(target, check, True, detail)

    # -- identity
    def identity(self) -> bool:
        from infra.platform.azure.credentials import describe_credential

        how = describe_credential(self.settings.azure_credential)
        try:
            token = self.clients.credential.get_token(ARM_SCOPE).token
        except Exception as exc:  # azure-identity explains each credential it tried
            message = " ".join(str(exc).split())[:500]
            return self.add(
                "identity",
                "token",
                False,
                f"{how}: {message}",
                [
                    "configure azure_credential (kind, managed_identity_client_id) and the identity's "
                    "environment (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE)"
                ],
            )
        claims = _claims(token)
        who = claims.get("appid") or claims.get("oid") or "unknown principal"
        return self.add(
            "identity", "token", True, f"{how}: principal {who} in tenant {claims.get('tid', '?')}"
        )

    # -- permissions
    def grants(
        self, target: str, scope: str, needs: Mapping[str, tuple[str, Mapping[str, str]]]
    ) -> None:
        """``needs``: role -> (ARM scope, actions with reasons)."""
        from infra.platform.azure.errors import Scope, azure_errors

        missing: list[str] = []
        for role, (resource, actions) in needs.items():
            where = Scope(description=target, resource_id=resource, role=role)
            try:
                with azure_errors("read its own permissions", where):
                    entries = self._permissions.permissions(resource)
            except PlatformError as err:
                self.add(target, "permissions", False, err.message, [err.hint] if err.hint else [])
                return
            lacking = [reason for action, reason in actions.items() if not allowed(action, entries)]
            if lacking:
                missing.append(f"grant '{role}' on {resource} (needed to {', '.join(lacking)})")
        total = sum(len(actions) for _, actions in needs.values())
        detail = (
            f"{len(missing)} role(s) missing"
            if missing
            else f"all {total} actions the bot needs are allowed"
        )
        self.add(target, "permissions", not missing, detail, missing)

    # -- one workspace
    def workspace(self, env: str) -> None:
        from infra.platform.azure.clients import workspace_arm_id
        from infra.platform.azure.errors import METRICS_ROLE, WORKSPACE_ROLE, azure_errors

        ws = self.clients.workspace_config(env)
        scope = self.clients.workspace_scope(env)
        target = scope.description
        ml = self.clients.workspace(env)

        def reach() -> str:
            info = self.clients.workspace_info(env)
            with azure_errors("list models and endpoints", scope):
                models = sum(1 for _ in ml.models.list())
                endpoints = sum(1 for _ in ml.online_endpoints.list())
            return f"region {info.location}, {models} models, {endpoints} online endpoints"

        if not self.attempt(target, "reachable", reach):
            return
        arm_id = workspace_arm_id(ws)
        actions = dict(WORKSPACE_ACTIONS)
        if any(self.settings.training_env(m) == env for m in self.settings.models):
            actions.update(TRAINING_ACTIONS)
        self.grants(
            target,
            arm_id,
            {WORKSPACE_ROLE: (arm_id, actions), METRICS_ROLE: (arm_id, METRICS_ACTIONS)},
        )

        def storage() -> str:
            from infra.platform.azure.datasets import COLLECTOR_ROOT

            container = self._container(env)
            storage_scope = self.clients.storage_scope(env)
            with azure_errors("list the data collector's blobs", storage_scope):
                pages = container.list_blobs(
                    name_starts_with=f"{COLLECTOR_ROOT}/", results_per_page=1
                ).by_page()
                found = next(iter(next(pages, [])), None)
            state = "has collected data" if found else "no collected data yet"
            return f"datastore '{ws.datastore}' readable ({state})"

        self.attempt(f"storage of {target}", "collected data", storage)
        self.data_collection(env)
        if ws.log_analytics_workspace_id:
            self.traffic_log(env)

    def data_collection(self, env: str) -> None:
        """Warn for each deployment of a monitored environment that collects no inputs or
        outputs: drift and performance checks would see no production data from it."""
        from infra.platform.azure.errors import azure_errors

        monitored = [m for m in self.settings.models if env in self.settings.monitored_envs(m)]
        ml = self.clients.workspace(env)
        scope = self.clients.workspace_scope(env)
        for model in monitored:
            endpoint = model.endpoints.get(env)
            if not endpoint:
                continue
            target = f"endpoint '{endpoint}' in {scope.description}"
            try:
                with azure_errors(f"list the deployments of '{endpoint}'", scope):
                    deployments = list(ml.online_deployments.list(endpoint))
            except PlatformError as err:
                if isinstance(err, NotFoundError):
                    continue  # nothing deployed yet: nothing to warn about
                self.add(
                    target, "data collection", False, err.message, [err.hint] if err.hint else []
                )
                continue
            lacking = {d.name: _uncollected(d) for d in deployments}
            lacking = {name: kinds for name, kinds in lacking.items() if kinds}
            if not lacking:
                detail = f"{len(deployments)} deployment(s) collect model_inputs and model_outputs"
                self.add(target, "data collection", True, detail)
                continue
            parts = [
                f"'{name}' does not collect {', '.join(kinds)}" for name, kinds in lacking.items()
            ]
            self.add(
                target,
                "data collection",
                True,
                "; ".join(parts)
                + f": drift and performance of '{model.name}' will miss its traffic",
                [
                    "enable data_collector (collections model_inputs and model_outputs) on those "
                    "deployments; a custom scoring script must also log through the "
                    "azureml-ai-monitoring Collector (docs/azure-setup.md, section 4)"
                ],
                warning=True,
            )

    def _container(self, env: str) -> Any:
        from infra.platform.azure.datasets import datastore_container

        return datastore_container(self.clients, env, self.clients.workspace_config(env).datastore)

    def traffic_log(self, env: str) -> None:
        from azure.core.exceptions import HttpResponseError

        from infra.platform.azure.errors import azure_errors
        from infra.platform.azure.telemetry import missing_table

        ws = self.clients.workspace_config(env)
        scope = self.clients.logs_scope(env)
        try:
            with azure_errors("query the traffic log", scope):
                try:
                    self.clients.logs().query_workspace(
                        ws.log_analytics_workspace_id,
                        "AmlOnlineEndpointTrafficLog | take 1",
                        timespan=timedelta(days=1),
                    )
                except HttpResponseError as exc:
                    if not missing_table(exc):
                        raise
                    self.add(
                        scope.description,
                        "traffic log",
                        False,
                        "no AmlOnlineEndpointTrafficLog table",
                        [
                            "add a diagnostic setting on each online endpoint sending 'AmlOnlineEndpointTrafficLog' "
                            f"to Log Analytics workspace {ws.log_analytics_workspace_id}"
                        ],
                    )
                    return
        except PlatformError as err:
            self.add(
                scope.description, "traffic log", False, err.message, [err.hint] if err.hint else []
            )
            return
        self.add(scope.description, "traffic log", True, "AmlOnlineEndpointTrafficLog is queryable")

    # -- the registry
    def registry(self) -> None:
        from infra.platform.azure.errors import REGISTRY_ROLE, azure_errors

        scope = self.clients.registry_scope()
        target = scope.description

        def reach() -> str:
            client = self.clients.registry()
            with azure_errors("list registry models", scope):
                models = sum(1 for _ in client.models.list())
            return f"discovered, {models} models"

        if not self.attempt(target, "reachable", reach):
            return
        operation_scope = self.clients.registry()._operation_scope
        arm_id = (
            f"/subscriptions/{operation_scope.subscription_id}/resourceGroups/{operation_scope.resource_group_name}"
            f"/providers/{ML}/registries/{self.clients.registry_name}"
        )
        self.grants(target, arm_id, {REGISTRY_ROLE: (arm_id, REGISTRY_ACTIONS)})


def _uncollected(deployment: Any) -> list[str]:
    """Which of model_inputs / model_outputs a deployment's data collector does not collect."""
    from infra.platform.azure.datasets import INPUTS, OUTPUTS

    collector = getattr(deployment, "data_collector", None)
    collections = dict(getattr(collector, "collections", None) or {})
    lacking = []
    for kind in (INPUTS, OUTPUTS):
        collection = collections.get(kind)
        enabled = str(getattr(collection, "enabled", "") or "").strip().lower()
        if enabled != "true":
            lacking.append(kind)
    return lacking


def check_azure_access(
    settings: Settings, credential: Any = None, *, client_options: Mapping[str, Any] | None = None
) -> list[CheckResult]:
    """Check the identity, every workspace of the chain and the registry; never raises for an
    Azure problem (each becomes a failed :class:`CheckResult` saying what is missing)."""
    checker = _Checker(settings, credential, client_options)
    if not checker.identity():
        return checker.results
    for env in settings.env_names:
        checker.workspace(env)
    if settings.registry.azure is not None:
        checker.registry()
    return checker.results
