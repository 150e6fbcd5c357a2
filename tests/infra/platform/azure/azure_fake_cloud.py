"""A small, stateful stand-in for the Azure services the adapter talks to.

It answers at the HTTP level (see :mod:`azure_replay`) so the real SDKs do all the work. Bodies
are the recorded ones from ``fixtures/`` (the Azure SDK test-proxy recordings and the REST
specification's examples) with names, ids and states filled in, so the shapes stay Azure's.
Where no fixture exists (registry discovery and import, blob listings, authorization permissions)
the bodies follow the documented REST shapes; each such place says so.

Services: Azure Resource Manager for three workspaces (models, online endpoints and deployments
with long-running operations, jobs, schedules, data assets, datastores, permissions), registry
discovery and the registry data plane, run history, Blob storage, Azure Monitor metrics, Log
Analytics and the endpoints' scoring URIs.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .azure_fake_services import DataPlaneServices
from .azure_fake_shapes import (
    ARM_HOST,
    CANCEL_ACCEPTED,
    CANCEL_POLL_RUNNING,
    COMMAND_JOB_TEMPLATE,
    DATA_VERSION_TEMPLATE,
    DATASTORE_TEMPLATE,
    DEPLOYMENT_TEMPLATE,
    DISCOVERY_REGION,
    ENDPOINT_TEMPLATE,
    LIST_KEYS_TEMPLATE,
    MLOPS_API,
    MODEL_CONTAINER_TEMPLATE,
    MODEL_VERSION_TEMPLATE,
    OPERATION_STATUS_TEMPLATE,
    PIPELINE_JOB_TEMPLATE,
    ROLE_ACTIONS,
    RP,
    TOKEN_TEMPLATE,
    WORKSPACE_TEMPLATE,
    FakeOperation,
    FakeRegistry,
    FakeWorkspace,
    Fault,
    JobScript,
    TrafficRecord,
    arm_action,
    arm_denied,
    default_metric,
    newest_first,
    not_found,
    now_iso,
    user_error,
)
from .azure_replay import Exchange, Reply, load_example

__all__ = ["FakeAzureCloud", "FakeRegistry", "FakeWorkspace", "JobScript", "arm_denied"]


class FakeAzureCloud(DataPlaneServices):
    def __init__(self, registry: FakeRegistry) -> None:
        self.registry = registry
        self.workspaces: dict[str, FakeWorkspace] = {}
        self.blobs: dict[tuple[str, str], dict[str, bytes]] = {}
        self.operations: dict[str, FakeOperation] = {}
        self.faults: list[Fault] = []
        self.denied: list[tuple[str | None, str]] = []
        self.blob_denied_accounts: set[str] = set()
        self.deployment_failures: dict[str, dict[str, Any]] = {}
        """deployment name -> ARM error that its creation ends with."""
        self.lro_steps = ["Updating", "Succeeded"]
        self.computes: dict[str, set[str]] = {}
        """Workspace name -> its compute clusters (a command job's ``computeId``)."""
        self.command_runner: Callable[[FakeWorkspace, str, dict[str, Any]], None] | None = None
        """Runs a command job when it completes (writes its outputs); raising fails the job."""
        self.traffic_log: list[TrafficRecord] = []
        self.traffic_log_table = True
        self.metric_values: Callable[[str, str, datetime, str | None], float | None] = (
            default_metric
        )
        self.role_assignments: dict[str, set[str]] = {}
        """ARM scope prefix -> roles of the bot there; empty means every role everywhere."""
        self.scoring_requests: list[Exchange] = []
        self.scoring_columns: set[str] | None = None
        """When set, scoring requests must have exactly these columns (else 424, as a model would)."""
        self.job_scripts: dict[str, JobScript] = {}
        """Model name (the job's ``mlops-bot.model`` tag) -> how its jobs run."""
        self._lock = threading.RLock()
        self._names = itertools.count(1)

    # -- setup
    def add_workspace(self, ws: FakeWorkspace) -> FakeWorkspace:
        self.workspaces[ws.name.lower()] = ws
        self.blobs.setdefault((ws.storage_account, ws.container), {})
        return ws

    def register_model(
        self,
        ws: FakeWorkspace,
        name: str,
        version: str,
        *,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        job: str | None = None,
        created: datetime | None = None,
    ) -> dict[str, Any]:
        body = copy.deepcopy(MODEL_VERSION_TEMPLATE)
        body["id"] = f"{ws.arm_id}/models/{name}/versions/{version}"
        body["name"] = version
        props = body["properties"]
        props["description"] = f"{name} version {version}"
        props["tags"] = dict(tags or {})
        props["properties"] = dict(properties or {})
        props["jobName"] = job
        props["modelUri"] = (
            f"azureml://subscriptions/{ws.subscription}/resourceGroups/{ws.resource_group}"
            f"/workspaces/{ws.name}/datastores/workspaceblobstore/paths/models/{name}/{version}"
        )
        stamp = (created or datetime.now(UTC)).isoformat()
        body["systemData"]["createdAt"] = body["systemData"]["lastModifiedAt"] = stamp
        with self._lock:
            ws.models.setdefault(name, {})[version] = body
        return body

    def import_into_registry(self, ws: FakeWorkspace, name: str, version: str) -> dict[str, Any]:
        """Seed the registry with ``ws``'s ``name:version`` as an import would leave it."""
        source = (
            f"azureml://locations/{ws.location}/workspaces/{ws.workspace_id}"
            f"/models/{name}/versions/{version}"
        )
        return self.registry_copy_of(source, ws.models[name][version], name, version)

    def add_schedule(self, ws: FakeWorkspace, name: str) -> None:
        body = copy.deepcopy(load_example("Schedule/get.json")["responses"]["200"]["body"])
        body.update(id=f"{ws.arm_id}/schedules/{name}", name=name)
        ws.schedules[name] = body

    def put_blob(self, ws: FakeWorkspace, name: str, content: bytes) -> None:
        self.blobs[(ws.storage_account, ws.container)][name] = content

    def fail_next(self, method: str | None, contains: str, reply: Reply, times: int = 1) -> None:
        self.faults.append(Fault(method, contains, reply, times))

    def deny(self, contains: str, method: str | None = None) -> None:
        self.denied.append((method, contains))

    def workspace_for(self, env: str) -> FakeWorkspace:
        return next(ws for ws in self.workspaces.values() if ws.env == env)

    # -- entry point
    def __call__(self, ex: Exchange) -> Reply | None:
        with self._lock:
            for fault in self.faults:
                if (
                    fault.times > 0
                    and (fault.method in (None, ex.method))
                    and fault.contains in ex.url
                ):
                    fault.times -= 1
                    return fault.reply
            host = ex.host
            if host == ARM_HOST:
                return self._arm(ex)
            if host == f"{DISCOVERY_REGION}.api.azureml.ms" and "/registrymanagement/" in ex.path:
                return self._registry_discovery(ex)
            if host == self.registry.host:
                return self._registry(ex)
            if host.endswith(".api.azureml.ms"):
                return self._workspace_dataplane(ex)
            if host.endswith(".blob.core.windows.net"):
                return self._blob(ex)
            if host.endswith(".metrics.monitor.azure.com"):
                return self._metrics(ex)
            if host == "api.loganalytics.io":
                return self._logs(ex)
            if host.endswith(".inference.ml.azure.com"):
                return self._score(ex)
        return None

    # ------------------------------------------------------------------------- ARM
    def _arm(self, ex: Exchange) -> Reply | None:
        path = ex.path
        for method, contains in self.denied:
            if method in (None, ex.method) and contains in path:
                return arm_denied(arm_action(ex), path)
        if path.endswith("/providers/Microsoft.Authorization/permissions"):
            return self._permissions(path[: -len("/providers/Microsoft.Authorization/permissions")])
        op = re.match(
            rf"^/subscriptions/[^/]+/{RP}/locations/[^/]+/(mfeOperationsStatus|mfeOperationResults)/([^/]+)$",
            path,
            re.I,
        )
        if op:
            return self._operation(ex, op.group(1), op.group(2))
        ws_match = re.match(
            rf"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/{RP}/workspaces/([^/]+)(/.*)?$",
            path,
            re.I,
        )
        if not ws_match:
            return None
        ws = self.workspaces.get(ws_match.group(3).lower())
        if ws is None:
            return Reply(
                404,
                {
                    "error": {
                        "code": "ResourceNotFound",
                        "message": f"The Resource '{RP}/workspaces/{ws_match.group(3)}' under resource group '{ws_match.group(2)}' was not found.",
                    }
                },
            )
        rest = (ws_match.group(4) or "").strip("/")
        parts = rest.split("/") if rest else []
        handler = {
            "": self._workspace_get,
            "models": self._models,
            "onlineEndpoints": self._endpoints,
            "jobs": self._jobs,
            "schedules": self._schedules,
            "data": self._data,
            "datastores": self._datastores,
        }.get(parts[0] if parts else "")
        if handler is None:
            return None
        return handler(ex, ws, parts[1:])

    def _workspace_get(self, ex: Exchange, ws: FakeWorkspace, parts: list[str]) -> Reply | None:
        if ex.method != "GET":
            return None
        body = copy.deepcopy(WORKSPACE_TEMPLATE)
        body.update(id=ws.arm_id, name=ws.name, location=ws.location)
        props = body["properties"]
        props.update(
            workspaceId=ws.workspace_id,
            storageAccount=ws.storage_id,
            friendlyName=ws.name,
            discoveryUrl=f"https://{ws.location}.api.azureml.ms/discovery",
        )
        return Reply(200, body)

    # -- models
    def _models(self, ex: Exchange, ws: FakeWorkspace, parts: list[str]) -> Reply | None:
        if not parts and ex.method == "GET":
            return Reply(200, {"value": [self._container_body(ws, n) for n in sorted(ws.models)]})
        name = parts[0]
        versions = ws.models.get(name)
        if versions is None:
            return not_found("ModelNotFound", f"Model container with name: {name} not found.")
        if len(parts) == 1 and ex.method == "GET":
            return Reply(200, self._container_body(ws, name))
        if len(parts) == 2 and ex.method == "GET":
            listed = newest_first(versions.values())
            if ex.query.get("$top"):
                listed = listed[: int(ex.query["$top"])]
            return Reply(200, {"value": listed})
        if len(parts) == 3 and ex.method == "GET":
            body = versions.get(parts[2])
            if body is None:
                return not_found("ModelNotFound", f"Model {name}:{parts[2]} not found.")
            return Reply(200, body)
        return None

    def _container_body(self, ws: FakeWorkspace, name: str) -> dict[str, Any]:
        body = copy.deepcopy(MODEL_CONTAINER_TEMPLATE)
        versions = ws.models[name]
        latest = max(versions, key=lambda v: int(v) if v.isdigit() else 0)
        body.update(id=f"{ws.arm_id}/models/{name}", name=name)
        body["properties"].update(
            latestVersion=latest, nextVersion=str(int(latest) + 1) if latest.isdigit() else None
        )
        return body

    # -- endpoints and deployments
    def _endpoints(self, ex: Exchange, ws: FakeWorkspace, parts: list[str]) -> Reply | None:
        if not parts:
            return (
                Reply(200, {"value": list(ws.endpoints.values())}) if ex.method == "GET" else None
            )
        name = parts[0]
        if len(parts) == 1:
            if ex.method == "GET":
                body = ws.endpoints.get(name)
                return (
                    Reply(200, body)
                    if body
                    else not_found("EndpointNotFound", f"Endpoint {name} not found.")
                )
            if ex.method == "PUT":
                return self._put_endpoint(ex, ws, name)
            if ex.method == "DELETE":
                return self._delete(ws, "oeidp", lambda: ws.endpoints.pop(name, None))
            return None
        if name not in ws.endpoints:
            return not_found("EndpointNotFound", f"Endpoint {name} not found.")
        if parts[1] == "listKeys" and ex.method == "POST":
            return Reply(
                200, dict(LIST_KEYS_TEMPLATE, primaryKey=f"key-{name}", secondaryKey=f"key2-{name}")
            )
        if parts[1] == "token" and ex.method == "POST":
            return Reply(200, dict(TOKEN_TEMPLATE))
        if parts[1] == "deployments":
            return self._deployments(ex, ws, name, parts[2:])
        return None

    def _put_endpoint(self, ex: Exchange, ws: FakeWorkspace, name: str) -> Reply:
        request = ex.json()
        existing = ws.endpoints.get(name)
        body = copy.deepcopy(existing or ENDPOINT_TEMPLATE)
        arm_id = f"{ws.arm_id}/onlineEndpoints/{name}"
        props = body["properties"]
        requested = request.get("properties", {})
        known = {d.lower() for d in ws.deployments.get(name, {})}
        for label in ("traffic", "mirrorTraffic"):
            unknown = [d for d in (requested.get(label) or {}) if d.lower() not in known]
            if unknown:
                return Reply(
                    400,
                    {
                        "error": {
                            "code": "BadArgument",
                            "message": f"Deployments {unknown} do not exist.",
                        }
                    },
                )
        if existing is None:
            body.update(id=arm_id, name=name, location=ws.location, tags=request.get("tags") or {})
            props.update(
                description=requested.get("description"),
                authMode=requested.get("authMode", "Key"),
                scoringUri=f"https://{name}.{ws.location}.inference.ml.azure.com/score",
                swaggerUri=f"https://{name}.{ws.location}.inference.ml.azure.com/swagger.json",
            )
            props["properties"]["azureml.onlineendpointid"] = arm_id.lower()
        props["traffic"] = {k: v for k, v in (requested.get("traffic") or {}).items()}
        props["mirrorTraffic"] = {k: v for k, v in (requested.get("mirrorTraffic") or {}).items()}
        props["provisioningState"] = "Creating" if existing is None else "Updating"
        ws.endpoints[name] = body
        ws.deployments.setdefault(name, {})

        def finish(status: str) -> None:
            body["properties"]["provisioningState"] = status

        return self._start(ws, "oeidp", body, finish, status=201)

    def _deployments(
        self, ex: Exchange, ws: FakeWorkspace, endpoint: str, parts: list[str]
    ) -> Reply | None:
        deployments = ws.deployments.setdefault(endpoint, {})
        if not parts:
            return Reply(200, {"value": list(deployments.values())}) if ex.method == "GET" else None
        name = parts[0]
        if len(parts) == 2 and parts[1] == "getLogs" and ex.method == "POST":
            if name not in deployments:
                return not_found("DeploymentNotFound", f"Deployment {name} not found.")
            return Reply(
                200,
                {
                    "content": f"Starting the inference server for {name}...\n"
                    "ERROR: model failed to load: out of memory\n"
                },
            )
        if len(parts) != 1:
            return None
        if ex.method == "GET":
            body = deployments.get(name)
            return (
                Reply(200, body)
                if body
                else not_found("DeploymentNotFound", f"Deployment {name} not found.")
            )
        if ex.method == "PUT":
            return self._put_deployment(ex, ws, endpoint, name)
        if ex.method == "DELETE":
            if name not in deployments:
                return Reply(204)
            live = ws.endpoints[endpoint]["properties"]
            if any(
                k.lower() == name.lower() and v
                for k, v in {**live["traffic"], **live["mirrorTraffic"]}.items()
            ):
                return Reply(
                    400,
                    {
                        "error": {
                            "code": "BadArgument",
                            "message": "Cannot delete a deployment with traffic.",
                        }
                    },
                )
            return self._delete(ws, "odidp", lambda: deployments.pop(name, None))
        return None

    def _put_deployment(self, ex: Exchange, ws: FakeWorkspace, endpoint: str, name: str) -> Reply:
        request = ex.json()
        requested = request.get("properties", {})
        body = copy.deepcopy(DEPLOYMENT_TEMPLATE)
        body.update(
            id=f"{ws.arm_id}/onlineEndpoints/{endpoint}/deployments/{name}",
            name=name,
            type="Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
            location=ws.location,
            kind="Managed",
            tags=request.get("tags") or {},
            sku=request.get("sku") or {"name": "Default", "capacity": 1},
        )
        body.pop("identity", None)
        props = body["properties"]
        # Keep the example's service defaults (scale, request settings, probes); drop its
        # placeholder "string" values, which the request replaces.
        for key in (
            "description",
            "properties",
            "codeConfiguration",
            "environmentId",
            "environmentVariables",
            "instanceType",
            "model",
            "modelMountPath",
        ):
            props.pop(key, None)
        props.update({k: v for k, v in requested.items() if k != "provisioningState"})
        props["provisioningState"] = "Creating"
        # The SDK sends dataCollectionMode "enabled"/"disabled" but reads back only "Enabled"
        # (azure-ai-ml 1.35 ``DeploymentCollection._to_rest_object`` / ``_from_rest_object``);
        # ARM answers with the spec's enum spelling (DataCollectionMode: Enabled, Disabled in
        # mfe.json 2024-10-01). Assumed normalised; no recording has a data collector.
        for collection in ((props.get("dataCollector") or {}).get("collections") or {}).values():
            mode = str(collection.get("dataCollectionMode") or "")
            if mode:
                collection["dataCollectionMode"] = mode.capitalize()
        body["systemData"].update(
            createdAt=now_iso(),
            lastModifiedAt=now_iso(),
            createdBy="mlops-bot",
            lastModifiedBy="mlops-bot",
        )
        ws.deployments.setdefault(endpoint, {})[name] = body
        failure = self.deployment_failures.pop(name, None)

        def finish(status: str) -> None:
            body["properties"]["provisioningState"] = status

        return self._start(ws, "odidp", body, finish, status=201, error=failure)

    # -- long-running operations (shapes from the online endpoint recording)
    def _start(
        self,
        ws: FakeWorkspace,
        kind: str,
        body: Any,
        finish: Callable[[str], None],
        *,
        status: int,
        error: dict[str, Any] | None = None,
    ) -> Reply:
        op_id = f"{kind}:{ws.workspace_id}:{uuid.uuid4()}"
        steps = list(self.lro_steps)
        if error is not None:
            steps[-1] = "Failed"
        self.operations[op_id] = FakeOperation(op_id, steps, finish, error=error)
        url = (
            f"https://{ARM_HOST}/subscriptions/{ws.subscription}/{RP}/locations/{ws.location}"
            f"/mfeOperationsStatus/{op_id}?api-version={MLOPS_API}"
        )
        return Reply(status, body, {"Azure-AsyncOperation": url, "Retry-After": "0"})

    def _delete(self, ws: FakeWorkspace, kind: str, remove: Callable[[], Any]) -> Reply:
        op_id = f"{kind}:{ws.workspace_id}:{uuid.uuid4()}"
        self.operations[op_id] = FakeOperation(op_id, list(self.lro_steps), lambda status: remove())
        base = f"https://{ARM_HOST}/subscriptions/{ws.subscription}/{RP}/locations/{ws.location}"
        return Reply(
            202,
            "null",
            {
                "Azure-AsyncOperation": f"{base}/mfeOperationsStatus/{op_id}?api-version={MLOPS_API}",
                "Location": f"{base}/mfeOperationResults/{op_id}?api-version={MLOPS_API}",
                "Retry-After": "0",
            },
        )

    def _operation(self, ex: Exchange, kind: str, op_id: str) -> Reply:
        op = self.operations.get(op_id)
        if op is None:
            return Reply(
                404, {"error": {"code": "NotFound", "message": f"operation {op_id} not found"}}
            )
        if kind.lower() == "mfeoperationresults":
            # As recorded for job cancel: 202 with an empty object while running, then 200, no body.
            if not op.done:
                op.polls += 1
                if op.polls < len(op.statuses):
                    return Reply(
                        CANCEL_POLL_RUNNING["StatusCode"],
                        CANCEL_POLL_RUNNING["ResponseBody"],
                        {"Location": ex.url, "Retry-After": "0"},
                    )
                op.done = True
                op.finish(op.statuses[-1])
            return Reply(200, None)
        status = op.statuses[min(op.polls, len(op.statuses) - 1)]
        op.polls += 1
        if status in ("Succeeded", "Failed", "Canceled") and not op.done:
            op.done = True
            op.finish(status)
        body = copy.deepcopy(OPERATION_STATUS_TEMPLATE)
        body.update(
            id=f"/subscriptions/x/{RP}/locations/x/mfeOperationsStatus/{op_id}",
            name=op_id,
            status=status,
            startTime=op.started,
        )
        if op.done:
            body["endTime"] = now_iso()
        if status == "Failed" and op.error:
            body["error"] = op.error
        return Reply(200, body, {"Retry-After": "0"})

    # -- jobs (shapes from the pipeline and command job recordings)
    def _jobs(self, ex: Exchange, ws: FakeWorkspace, parts: list[str]) -> Reply | None:
        if not parts:
            if ex.method != "GET":
                return None
            jobs = sorted(
                ws.jobs.values(), key=lambda j: j["systemData"]["createdAt"], reverse=True
            )
            return Reply(200, {"value": jobs})
        name = parts[0]
        if len(parts) == 1 and ex.method == "PUT":
            return self._put_job(ex, ws, name)
        job = ws.jobs.get(name)
        if job is None:
            return not_found("JobNotFound", f"Job {name} not found.")
        if len(parts) == 1 and ex.method == "GET":
            queue = ws.job_statuses.get(name) or []
            if queue:
                self._set_job_status(ws, name, queue.pop(0))
            return Reply(200, job)
        if len(parts) == 2 and parts[1] == "cancel" and ex.method == "POST":
            op_id = f"jc:{ws.workspace_id}:{name}"

            def finish(status: str) -> None:
                self._set_job_status(ws, name, "Canceled")
                ws.job_statuses[name] = []

            self.operations[op_id] = FakeOperation(op_id, ["Running", "Succeeded"], finish)
            location = (
                f"https://{ARM_HOST}/subscriptions/{ws.subscription}/{RP}/locations/{ws.location}"
                f"/mfeOperationResults/{op_id}?api-version=2023-04-01-preview"
            )
            return Reply(
                CANCEL_ACCEPTED["StatusCode"],
                CANCEL_ACCEPTED["ResponseBody"],
                {"Location": location, "Retry-After": "0"},
            )
        return None

    def job_body(self, ws: FakeWorkspace, name: str, properties: dict[str, Any]) -> dict[str, Any]:
        body = copy.deepcopy(PIPELINE_JOB_TEMPLATE)
        body.update(id=f"{ws.arm_id}/jobs/{name}", name=name)
        props = body["properties"]
        props.update({k: v for k, v in properties.items() if v is not None})
        props["status"] = "NotStarted"
        props.setdefault("displayName", name)
        props["services"] = json.loads(
            json.dumps(PIPELINE_JOB_TEMPLATE["properties"]["services"]).replace(
                "test_920052336258", name
            )
        )
        body["systemData"] = {
            "createdAt": now_iso(),
            "createdBy": "mlops-bot",
            "createdByType": "Application",
        }
        return body

    def _put_job(self, ex: Exchange, ws: FakeWorkspace, name: str) -> Reply:
        properties = ex.json().get("properties", {})
        if properties.get("jobType") == "Command":
            refused = self._refuse_command_job(ws, properties)
            if refused is not None:
                return refused
            body = self.command_job_body(ws, name, properties)
        else:
            body = self.job_body(ws, name, properties)
        ws.jobs[name] = body
        model = (body["properties"].get("tags") or {}).get("mlops-bot.model", "")
        script = self.job_scripts.get(model, JobScript())
        ws.job_scripts[name] = script
        ws.job_statuses[name] = list(script.statuses)
        return Reply(201, body, {"Location": f"https://{ARM_HOST}{ws.arm_id}/jobs/{name}"})

    def _refuse_command_job(self, ws: FakeWorkspace, props: dict[str, Any]) -> Reply | None:
        """What the service refuses in a command job: ``command`` and ``environmentId`` are
        required (REST spec, CommandJob), a ``computeId`` must name a compute of the workspace,
        and every data input and output needs its ``uri``. No ``computeId`` at all is serverless
        compute, which the service accepts (the serverless recording has ``computeId: null``)."""
        if not str(props.get("command") or "").strip():
            return user_error("Command job must have a non-empty 'command'.")
        if not props.get("environmentId"):
            return user_error("Command job must have an 'environmentId'.")
        compute = props.get("computeId")
        if compute:
            cluster = str(compute).rstrip("/").rsplit("/", 1)[-1]
            if cluster not in self.computes.get(ws.name, set()):
                return user_error(f"Compute {cluster} not found in workspace {ws.name}.", 404)
        for side in ("inputs", "outputs"):
            for key, value in (props.get(side) or {}).items():
                kind = value.get("jobInputType") or value.get("jobOutputType")
                data = kind in ("uri_file", "uri_folder", "mltable") and side == "inputs"
                if data and not value.get("uri"):
                    return user_error(f"Input '{key}' of type {kind} must have a 'uri'.")
        return None

    def command_job_body(
        self, ws: FakeWorkspace, name: str, properties: dict[str, Any]
    ) -> dict[str, Any]:
        body = copy.deepcopy(COMMAND_JOB_TEMPLATE)
        body.update(id=f"{ws.arm_id}/jobs/{name}", name=name)
        props = body["properties"]
        props.update({k: v for k, v in properties.items() if v is not None})
        props["computeId"] = properties.get("computeId")
        props["status"] = "Starting"
        props.setdefault("displayName", name)
        props["services"] = json.loads(
            json.dumps(COMMAND_JOB_TEMPLATE["properties"]["services"]).replace(
                "test_334734506738", name
            )
        )
        body["systemData"] = {
            "createdAt": now_iso(),
            "createdBy": "mlops-bot",
            "createdByType": "Application",
        }
        return body

    def complete_job(self, ws: FakeWorkspace, name: str, status: str = "Completed") -> None:
        self._set_job_status(ws, name, status)
        ws.job_statuses[name] = []

    def _set_job_status(self, ws: FakeWorkspace, name: str, status: str) -> None:
        """What the service does as a run moves on: times, outputs, logs."""
        job = ws.jobs[name]
        if job["properties"]["status"] == status:
            return
        if (
            status == "Completed"
            and job["properties"].get("jobType") == "Command"
            and self.command_runner is not None
        ):
            # The command runs on the compute: it may write outputs, or fail.
            try:
                self.command_runner(ws, name, job["properties"])
            except Exception as exc:  # run history reports the command's failure
                status = "Failed"
                ws.job_scripts[name] = JobScript(statuses=[], error=str(exc), log=f"{exc}\n")
        job["properties"]["status"] = status
        times = ws.job_times.setdefault(name, {})
        if status not in ("NotStarted", "Starting", "Preparing", "Queued"):
            times.setdefault("start", now_iso())
        if status in ("Completed", "Failed", "Canceled"):
            times.setdefault("end", now_iso())
        script = ws.job_scripts.get(name, JobScript())
        if script.log:
            self.put_blob(
                ws, f"ExperimentRun/dcid.{name}/user_logs/std_log.txt", script.log.encode()
            )
        model = (job["properties"].get("tags") or {}).get("mlops-bot.model")
        if status == "Completed" and script.produces is not None and model:
            versions = ws.models.get(model, {})
            number = str(max((int(v) for v in versions if v.isdigit()), default=0) + 1)
            registered_by, tags = name, None
            if job["properties"].get("jobType") == "Pipeline":
                # A pipeline registers its model from a step: the version's jobName is the step's
                # (child) run, never the pipeline's. The step tags it with the pipeline run when the
                # template passes it on (the mlops_bot_pipeline_run input).
                registered_by = f"{name}_register_{uuid.uuid4().hex[:8]}"
                ws.job_children.setdefault(name, []).append(
                    {
                        "runId": registered_by,
                        "parentRunId": name,
                        "rootRunId": name,
                        "experimentId": job["properties"].get("experimentName"),
                        "status": "Completed",
                        "displayName": "register",
                        "runType": "azureml.StepRun",
                        "tags": {},
                        "properties": {},
                    }
                )
                run_input = (job["properties"].get("inputs") or {}).get("mlops_bot_pipeline_run")
                if run_input and run_input.get("value"):
                    tags = {"mlops-bot.pipeline-run": str(run_input["value"])}
            self.register_model(
                ws, model, number, properties=script.produces, job=registered_by, tags=tags
            )

    def _schedules(self, ex: Exchange, ws: FakeWorkspace, parts: list[str]) -> Reply | None:
        if len(parts) == 2 and parts[1] == "trigger" and ex.method == "POST":
            schedule = parts[0]
            if schedule not in ws.schedules:
                return not_found("ScheduleNotFound", f"Schedule {schedule} not found.")
            job_name = f"{schedule}-{next(self._names)}"
            body = self.job_body(
                ws,
                job_name,
                {
                    "jobType": "Pipeline",
                    "experimentName": schedule,
                    "tags": {"mlops-bot.model": "churn-model"},
                },
            )
            ws.jobs[job_name] = body
            ws.job_statuses[job_name] = ["Running"]
            return Reply(200, {"submissionId": job_name, "scheduleActionType": "CreateJob"})
        return None

    # -- data assets and datastores
    def _data(self, ex: Exchange, ws: FakeWorkspace, parts: list[str]) -> Reply | None:
        if not parts:
            return None
        name = parts[0]
        versions = ws.data.setdefault(name, {})
        if len(parts) == 3 and ex.method == "PUT":
            body = copy.deepcopy(DATA_VERSION_TEMPLATE)
            body.update(id=f"{ws.arm_id}/data/{name}/versions/{parts[2]}", name=parts[2])
            body["properties"].update(ex.json().get("properties", {}))
            body["systemData"] = {"createdAt": now_iso(), "createdBy": "mlops-bot"}
            versions[parts[2]] = body
            return Reply(201, body)
        if len(parts) == 3 and ex.method == "GET":
            body = versions.get(parts[2])
            return (
                Reply(200, body)
                if body
                else not_found("DataVersionNotFound", f"Data {name}:{parts[2]} not found.")
            )
        if len(parts) == 2 and ex.method == "GET":
            if not versions:
                return not_found("DataContainerNotFound", f"Data container {name} not found.")
            return Reply(
                200, {"value": newest_first(versions.values())[: int(ex.query.get("$top", 100))]}
            )
        if len(parts) == 1 and ex.method == "GET":
            if not versions:
                return not_found("DataContainerNotFound", f"Data container {name} not found.")
            latest = newest_first(versions.values())[0]["name"]
            return Reply(
                200,
                {
                    "id": f"{ws.arm_id}/data/{name}",
                    "name": name,
                    "properties": {"latestVersion": latest, "dataType": "uri_folder"},
                },
            )
        return None

    def add_data_asset(
        self, ws: FakeWorkspace, name: str, version: str, path: str, data_type: str = "uri_file"
    ) -> None:
        body = copy.deepcopy(DATA_VERSION_TEMPLATE)
        body.update(id=f"{ws.arm_id}/data/{name}/versions/{version}", name=version)
        body["properties"].update(dataType=data_type, dataUri=path)
        body["systemData"] = {"createdAt": now_iso(), "createdBy": "someone"}
        ws.data.setdefault(name, {})[version] = body

    def _datastores(self, ex: Exchange, ws: FakeWorkspace, parts: list[str]) -> Reply | None:
        if len(parts) == 1 and ex.method == "GET":
            body = copy.deepcopy(DATASTORE_TEMPLATE)
            body.update(id=f"{ws.arm_id}/datastores/{parts[0]}", name=parts[0])
            body["properties"].update(
                accountName=ws.storage_account,
                containerName=ws.container,
                isDefault=parts[0] == "workspaceblobstore",
                credentials={"credentialsType": "None"},
            )
            return Reply(200, body)
        return None

    # -- authorization
    def _permissions(self, scope: str) -> Reply:
        roles: set[str] = set()
        if not self.role_assignments:
            roles = set(ROLE_ACTIONS)
        for prefix, granted in self.role_assignments.items():
            if scope.lower().startswith(prefix.lower()):
                roles |= granted
        value = [dict(copy.deepcopy(ROLE_ACTIONS[r]), notDataActions=[]) for r in sorted(roles)]
        return Reply(200, {"value": value})
