"""Managed online endpoints: state, blue/green deployments, traffic, smoke tests, deletion.

A new deployment copies the serving deployment's runtime (environment, scoring code, probes,
request settings) and swaps only the model, so custom-container and scoring-script models roll
out the same way MLflow models do; with nothing serving yet it deploys the model alone (MLflow
no-code deployment). Every deployment the bot creates has the data collector on for model inputs
and outputs, which is where drift monitoring reads production data.

The smoke test posts to the scoring URI with ``requests`` and the ``azureml-model-deployment``
header instead of ``online_endpoints.invoke``: invoke sets that header on the SDK's shared pipeline
and later calls of the process keep sending it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from azure.ai.ml.entities import (
    DataCollector,
    DeploymentCollection,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
)
from azure.core.exceptions import ResourceNotFoundError

from infra.platform.azure import convert
from infra.platform.azure.clients import AzureClients
from infra.platform.azure.errors import azure_errors
from infra.platform.azure.lro import follow
from infra.platform.azure.models import ModelCatalog
from infra.platform.base import (
    ConflictError,
    Deployment,
    EndpointState,
    InvalidRequestError,
    NotFoundError,
    Operation,
    PlatformError,
    SmokeTestResult,
)
from infra.platform.base import deployment_name as free_deployment_name

DEFAULT_INSTANCE_TYPE = "Standard_DS3_v2"
DEPLOYMENT_HEADER = "azureml-model-deployment"
VERSION_TAG = "mlops-bot.version"
#: Azure allows mirroring to one deployment, at most half of the traffic.
MAX_MIRROR_PERCENT = 50
SMOKE_TIMEOUT_SECONDS = 60
#: A managed online endpoint answers 424 when the model container fails or answers non-200
#: (Microsoft Learn, "Troubleshoot online endpoint deployment and scoring", HTTP status codes).
MODEL_ERROR_STATUS = 424
LOG_TAIL_LINES = 20

_DEPLOYMENT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{2,31}$")
_COLLECTIONS = ("model_inputs", "model_outputs")


def data_collector() -> DataCollector:
    """Collect every request's inputs and outputs into the workspace blob datastore.

    The rolling rate is set, not left to the service default, because the data reader walks the
    collector's hourly ``YYYY/MM/DD/HH`` folders (RollingRateType ``Hour`` in azure-ai-ml 1.35's
    ``_restclient/arm_ml_service/models/_enums.py``)."""
    return DataCollector(
        collections={name: DeploymentCollection(enabled="true") for name in _COLLECTIONS},
        sampling_rate=1.0,
        rolling_rate="Hour",
    )


def scoring_payload(sample: Mapping[str, Any] | Sequence[Any]) -> Any:
    """The request body for a sample: mappings go as they are; a list of rows becomes the
    ``input_data`` split layout that MLflow scoring servers expect."""
    if isinstance(sample, Mapping):
        return dict(sample)
    rows = list(sample)
    if rows and all(isinstance(r, Mapping) for r in rows):
        columns = list(dict.fromkeys(k for r in rows for k in r))
        return {
            "input_data": {
                "columns": columns,
                "index": list(range(len(rows))),
                "data": [[r.get(c) for c in columns] for r in rows],
            }
        }
    return {"input_data": rows}


def check_split(
    state: EndpointState, traffic: Mapping[str, int], mirror: Mapping[str, int]
) -> tuple[dict[str, int], dict[str, int]]:
    """Refuse a split Azure would refuse, with the reason, before calling Azure."""
    names = {d.name.lower(): d.name for d in state.deployments}
    for label, split in (("traffic", traffic), ("mirror traffic", mirror)):
        for name, share in split.items():
            if name.lower() not in names:
                raise InvalidRequestError(
                    f"{label} names deployment {name!r}, which is not on endpoint "
                    f"'{state.endpoint}' in {state.environment}; deployments: {sorted(names.values()) or 'none'}"
                )
            if not isinstance(share, int) or isinstance(share, bool) or not 0 <= share <= 100:
                raise InvalidRequestError(
                    f"{label} for {name!r} must be a whole percentage 0-100, got {share!r}"
                )
    live = {names[k.lower()]: v for k, v in traffic.items()}
    total = sum(live.values())
    if total not in (0, 100):
        raise InvalidRequestError(
            f"traffic must add up to 100 (or 0 to stop serving), got {total}: {live}"
        )
    mirrored = {names[k.lower()]: v for k, v in mirror.items() if v}
    if len(mirrored) > 1:
        raise InvalidRequestError(f"Azure mirrors traffic to one deployment only, got {mirrored}")
    for name, share in mirrored.items():
        if share > MAX_MIRROR_PERCENT:
            raise InvalidRequestError(
                f"Azure mirrors at most {MAX_MIRROR_PERCENT}% of traffic, got {share}% to {name!r}"
            )
        if live.get(name):
            raise InvalidRequestError(
                f"deployment {name!r} cannot take live and mirrored traffic at once"
            )
    return live, mirrored


class EndpointManager:
    """Reads and changes one model's endpoint in one environment's workspace."""

    def __init__(self, clients: AzureClients, catalog: ModelCatalog) -> None:
        self.clients = clients
        self.catalog = catalog
        self.session = requests.Session()

    def endpoint_name(self, model: str, env: str) -> str:
        config = self.clients.model_config(model)
        self.clients.workspace_config(env)
        return config.endpoint(env)

    # -- reads
    def state(self, model: str, env: str) -> EndpointState:
        name = self.endpoint_name(model, env)
        ml = self.clients.workspace(env)
        with azure_errors(f"read endpoint '{name}'", self.clients.workspace_scope(env)):
            try:
                endpoint = ml.online_endpoints.get(name)
            except ResourceNotFoundError:
                return EndpointState(model=model, environment=env, endpoint=name, scoring_url=None)
            azure_deployments = list(ml.online_deployments.list(name))
        deployments = tuple(
            sorted(
                (
                    convert.deployment(d, endpoint.traffic or {}, endpoint.mirror_traffic or {})
                    for d in azure_deployments
                ),
                key=lambda d: d.name,
            )
        )
        return EndpointState(
            model=model,
            environment=env,
            endpoint=name,
            scoring_url=endpoint.scoring_uri,
            deployments=deployments,
            provisioning_state=convert.text(endpoint.provisioning_state, "Unknown"),
        )

    # -- deploy
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
        """Validate and prepare synchronously (bad input fails at once), deploy in a worker."""
        state = self.state(model, env)
        model_uri = self._model_reference(model, version, env)
        name = deployment_name or free_deployment_name(
            model, version, (d.name for d in state.deployments)
        )
        if not _DEPLOYMENT_NAME.match(name):
            raise InvalidRequestError(
                f"deployment name {name!r} must be 3-32 letters, digits or '-', starting with a letter"
            )
        if any(d.name.lower() == name.lower() for d in state.deployments):
            raise ConflictError(
                f"deployment '{name}' already exists on endpoint '{state.endpoint}' in {env}",
                hint="pick another deployment name or delete the old deployment first",
            )
        template = self._serving_deployment(state, env)
        rollout = self.clients.settings.environment(env).rollout
        spec = ManagedOnlineDeployment(
            name=name,
            endpoint_name=state.endpoint,
            model=model_uri,
            instance_type=instance_type
            or rollout.instance_type
            or (template.instance_type if template else None)
            or DEFAULT_INSTANCE_TYPE,
            instance_count=instance_count
            or rollout.instance_count
            or (template.instance_count if template else None)
            or 1,
            data_collector=data_collector(),
            tags={convert.MODEL_TAG: model, VERSION_TAG: version},
            **self._runtime_of(template),
        )
        ml = self.clients.workspace(env)

        def work(progress: Any) -> Deployment:
            info = self.clients.workspace_info(env)  # the region, for quota messages
            scope_with_region = self.clients.workspace_scope(env)
            if not state.exists:
                progress(f"creating endpoint {state.endpoint} in {env} ({info.location})")
                endpoint = ManagedOnlineEndpoint(
                    name=state.endpoint, auth_mode="key", tags={convert.MODEL_TAG: model}
                )
                with azure_errors(f"create endpoint '{state.endpoint}'", scope_with_region):
                    follow(
                        ml.online_endpoints.begin_create_or_update(endpoint),
                        progress,
                        lambda s: f"endpoint {state.endpoint}: {s}",
                    )
            progress(
                f"creating deployment {name}: {model} v{version} on "
                f"{spec.instance_count} x {spec.instance_type}, 0% traffic"
            )
            action = (
                f"create deployment '{name}' ({model} v{version}) on endpoint '{state.endpoint}'"
            )
            try:
                with azure_errors(action, scope_with_region):
                    follow(
                        ml.online_deployments.begin_create_or_update(spec),
                        progress,
                        lambda s: f"deployment {name}: {s}",
                    )
            except PlatformError as err:
                raise self._with_logs(err, env, state.endpoint, name) from err
            return self.state(model, env).deployment(name)

        return Operation.run_in_thread(f"deploy {model} v{version} to {env}", work)

    def _model_reference(self, model: str, version: str, env: str) -> str:
        """The registry's reference for a promoted version, even when the workspace has a
        same-numbered model of its own (see ``ModelCatalog.resolve``)."""
        resolved = self.catalog.resolve(model, version, env)
        if resolved is not None:
            return resolved.reference
        raise NotFoundError(
            f"version {version} of model '{model}' is neither in "
            f"{self.clients.workspace_scope(env).description} nor in "
            f"{self.clients.registry_scope().description}; promote it first"
        )

    def _serving_deployment(self, state: EndpointState, env: str) -> Any:
        primary = state.primary or (state.deployments[0] if state.deployments else None)
        if primary is None:
            return None
        with azure_errors(f"read deployment '{primary.name}'", self.clients.workspace_scope(env)):
            return self.clients.workspace(env).online_deployments.get(primary.name, state.endpoint)

    @staticmethod
    def _runtime_of(template: Any) -> dict[str, Any]:
        """Everything but the model and the size, from the deployment being replaced."""
        if template is None:
            return {}
        runtime = {
            "environment": template.environment,
            "code_configuration": template.code_configuration,
            "environment_variables": template.environment_variables,
            "request_settings": template.request_settings,
            "liveness_probe": template.liveness_probe,
            "readiness_probe": template.readiness_probe,
            "scale_settings": template.scale_settings,
            "app_insights_enabled": template.app_insights_enabled,
        }
        return {k: v for k, v in runtime.items() if v is not None}

    def _with_logs(self, err: PlatformError, env: str, endpoint: str, name: str) -> PlatformError:
        """Add the container's last log lines to a failed deployment's error, when Azure has any."""
        try:
            logs = self.clients.workspace(env).online_deployments.get_logs(
                name, endpoint, lines=LOG_TAIL_LINES
            )
        except Exception:  # logs are a courtesy; the original failure is what matters
            return err
        tail = "\n".join(str(logs).strip().splitlines()[-LOG_TAIL_LINES:])
        if not tail:
            return err
        return type(err)(f"{err.message}\nlast log lines of {name}:\n{tail}", hint=err.hint)

    # -- traffic
    def set_traffic(
        self,
        model: str,
        env: str,
        traffic: Mapping[str, int],
        mirror: Mapping[str, int] | None = None,
    ) -> EndpointState:
        state = self.state(model, env)
        if not state.exists:
            raise NotFoundError(
                f"endpoint '{state.endpoint}' does not exist in {env}; deploy a version first"
            )
        live, mirrored = check_split(state, traffic, mirror or {})
        ml = self.clients.workspace(env)
        action = f"set traffic {live or 'to none'} on endpoint '{state.endpoint}'"
        with azure_errors(
            action, self.clients.workspace_scope(env), missing=f"endpoint '{state.endpoint}'"
        ):
            endpoint = ml.online_endpoints.get(state.endpoint)
            endpoint.traffic = dict(live)
            endpoint.mirror_traffic = dict(mirrored)
            ml.online_endpoints.begin_create_or_update(endpoint).result()
        return self.state(model, env)

    # -- delete
    def begin_delete_deployment(self, model: str, env: str, deployment: str) -> Operation[None]:
        state = self.state(model, env)
        target = state.deployment(deployment)
        if target.traffic or target.mirror_traffic:
            raise ConflictError(
                f"deployment '{deployment}' still takes {target.traffic}% of traffic "
                f"(+{target.mirror_traffic}% mirrored) on endpoint '{state.endpoint}' in {env}",
                hint="shift its traffic to another deployment first",
            )
        ml = self.clients.workspace(env)
        scope = self.clients.workspace_scope(env)

        def work(progress: Any) -> None:
            progress(f"deleting deployment {deployment} from {state.endpoint} in {env}")
            with azure_errors(
                f"delete deployment '{deployment}'", scope, missing=f"deployment '{deployment}'"
            ):
                follow(
                    ml.online_deployments.begin_delete(deployment, state.endpoint),
                    progress,
                    lambda s: f"deleting {deployment}: {s}",
                )

        return Operation.run_in_thread(f"delete {deployment} from {state.endpoint}", work)

    # -- smoke test
    def smoke_test(
        self, model: str, env: str, deployment: str, sample: Mapping[str, Any] | Sequence[Any]
    ) -> SmokeTestResult:
        state = self.state(model, env)
        state.deployment(deployment)
        if not state.scoring_url:
            raise NotFoundError(f"endpoint '{state.endpoint}' in {env} has no scoring URI yet")
        ml = self.clients.workspace(env)
        with azure_errors(
            f"read the keys of endpoint '{state.endpoint}'", self.clients.workspace_scope(env)
        ):
            credentials = ml.online_endpoints.get_keys(state.endpoint)
        secret = getattr(credentials, "primary_key", None) or getattr(
            credentials, "access_token", None
        )
        headers = {
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/json",
            DEPLOYMENT_HEADER: deployment,
        }
        body = json.dumps(scoring_payload(sample), default=str)
        started = time.perf_counter()
        try:
            response = self.session.post(
                state.scoring_url, data=body, headers=headers, timeout=SMOKE_TIMEOUT_SECONDS
            )
        except requests.RequestException as exc:
            latency = (time.perf_counter() - started) * 1000
            return SmokeTestResult(ok=False, latency_ms=latency, detail=f"request failed: {exc}")
        latency = (time.perf_counter() - started) * 1000
        try:
            payload: Any = response.json()
        except ValueError:
            payload = response.text
        if isinstance(payload, list):
            # Azure ML's MLflow server answers a bare list; MLflow 2 servers {"predictions": [...]}.
            payload = {"predictions": payload}
        if response.status_code != 200:
            text = response.text.strip().replace("\n", " ")[:300]
            what = f"answered HTTP {response.status_code}"
            if response.status_code == MODEL_ERROR_STATUS:
                # 424 is the endpoint's way of saying the model container failed; the model's own
                # status and reason are in these headers ("Troubleshoot online endpoints").
                model_status = response.headers.get("ms-azureml-model-error-statuscode")
                model_reason = response.headers.get("ms-azureml-model-error-reason")
                what = (
                    "model error: the model container failed (HTTP 424"
                    + (f", model answered {model_status}" if model_status else "")
                    + (f": {model_reason}" if model_reason else "")
                    + ")"
                )
            return SmokeTestResult(
                ok=False,
                latency_ms=latency,
                detail=f"{deployment} {what} in {latency:.0f} ms: {text}",
                response=payload,
            )
        return SmokeTestResult(
            ok=True,
            latency_ms=latency,
            detail=f"{deployment} answered HTTP 200 in {latency:.0f} ms",
            response=payload,
        )

    def close(self) -> None:
        self.session.close()
