"""Shapes and state of the fake Azure cloud: response templates taken from the recordings and
REST examples in ``fixtures/``, the built-in role definitions, and the state dataclasses."""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .azure_replay import Exchange, Reply, load_example, load_recording

ARM_HOST = "management.azure.com"
DISCOVERY_REGION = "eastus"
MLOPS_API = "2022-02-01-preview"
RP = "providers/Microsoft.MachineLearningServices"

# ----------------------------------------------------------------------------- fixture templates

_ENDPOINT_E2E = load_recording(
    "test_online_endpoint.pyTestOnlineEndpointtest_online_endpoint_e2e.json"
)["Entries"]
WORKSPACE_TEMPLATE = _ENDPOINT_E2E[0]["ResponseBody"]
ENDPOINT_TEMPLATE = _ENDPOINT_E2E[5]["ResponseBody"]
OPERATION_STATUS_TEMPLATE = _ENDPOINT_E2E[2]["ResponseBody"]
TOKEN_TEMPLATE = _ENDPOINT_E2E[9]["ResponseBody"]
_MODEL_CRUD = load_recording("test_model.pyTestModeltest_crud_file.json")["Entries"]
MODEL_NOT_FOUND_TEMPLATE = _MODEL_CRUD[0]["ResponseBody"]
MODEL_VERSION_TEMPLATE = _MODEL_CRUD[6]["ResponseBody"]
MODEL_CONTAINER_TEMPLATE = load_recording("test_model.pyTestModeltest_list_no_name.json")[
    "Entries"
][0]["ResponseBody"]["value"][0]
DATASTORE_TEMPLATE = load_recording("test_datastore.pyTestDatastoretest_blob_store.json")[
    "Entries"
][1]["ResponseBody"]
_PIPELINE = load_recording(
    "test_pipeline_job.pyTestPipelineJobtest_pipeline_job_with_data_transfer_import_snowflake_database.json"
)["Entries"]
PIPELINE_JOB_TEMPLATE = _PIPELINE[0]["ResponseBody"]
#: A serverless command job as the service answers its PUT (computeId null, status Starting).
COMMAND_JOB_TEMPLATE = load_recording(
    "test_command_job.pyTestCommandJobtest_command_job_serverless.json"
)["Entries"][4]["ResponseBody"]
CANCEL_ACCEPTED = _PIPELINE[1]
CANCEL_POLL_RUNNING = _PIPELINE[2]
REGISTRY_DENIED = load_recording(
    "test_online_deployment.pyTestOnlineDeploymenttest_online_deployment_create_when_registry_assets.json"
)["Entries"][0]["ResponseBody"]
METRICS_TEMPLATE = load_recording(
    "test_metrics_client.pyTestMetricsClienttest_batch_metrics_granularity.json"
)["Entries"][0]["ResponseBody"]
LOGS_TEMPLATE = load_recording("test_logs_client.pyTestLogsClienttest_logs_single_query.json")[
    "Entries"
][2]["ResponseBody"]
LOGS_MISSING_TABLE = load_recording(
    "test_logs_client.pyTestLogsClienttest_logs_single_query_with_non_200.json"
)["Entries"][2]["ResponseBody"]
#: The documented columns of AmlOnlineEndpointTrafficLog (Microsoft's Azure Monitor table
#: reference, learn.microsoft.com/azure/azure-monitor/reference/tables/amlonlineendpointtrafficlog).
#: AuthType .. ResponseCodeReason were checked against the stored copies of that page (ja-jp,
#: zh-tw); the stored copies end there, so ResponseDurationMs .. XRequestId are from the English
#: page as remembered, not re-checked here.
TRAFFIC_LOG_TABLE = "AmlOnlineEndpointTrafficLog"
TRAFFIC_LOG_COLUMNS = frozenset(
    {
        "AuthType",
        "AzureMLWorkspaceId",
        "AzureMLWorkspaceName",
        "_BilledSize",
        "DeploymentName",
        "EndpointName",
        "IdentityData",
        "_IsBillable",
        "Location",
        "Method",
        "ModelStatusCode",
        "ModelStatusReason",
        "OperationName",
        "Path",
        "Protocol",
        "RequestDurationMs",
        "RequestPayloadSize",
        "RequestThrottlingDelayMs",
        "_ResourceId",
        "ResponseCode",
        "ResponseCodeReason",
        "ResponseDurationMs",
        "ResponsePayloadSize",
        "ResponseThrottlingDelayMs",
        "SourceSystem",
        "_SubscriptionId",
        "TenantId",
        "TimeGenerated",
        "TotalDurationMs",
        "Type",
        "UserAgent",
        "XMSClientRequestId",
        "XRequestId",
    }
)


def logs_semantic_error(message: str) -> dict[str, Any]:
    """Log Analytics' 400 for a name it cannot resolve: the recorded BadArgumentError /
    SemanticError / SEM0100 body (test_logs_single_query_with_non_200.json, azure-monitor-query)
    with the innermost message naming what could not be resolved."""
    body = copy.deepcopy(LOGS_MISSING_TABLE)
    body["error"]["innererror"]["innererror"]["message"] = message
    return body


DEPLOYMENT_TEMPLATE = load_example("OnlineDeployment/ManagedOnlineDeployment/get.json")[
    "responses"
]["200"]["body"]
LIST_KEYS_TEMPLATE = load_example("Workspace/OnlineEndpoint/listKeys.json")["responses"]["200"][
    "body"
]
REGISTRY_MODEL_TEMPLATE = load_example("Registry/ModelVersion/get.json")["responses"]["200"]["body"]
DATA_VERSION_TEMPLATE = {  # no data-asset fixture: the documented DataVersionBase shape
    "id": "",
    "name": "",
    "type": "Microsoft.MachineLearningServices/workspaces/data/versions",
    "properties": {
        "description": None,
        "tags": {},
        "properties": {},
        "isArchived": False,
        "isAnonymous": False,
        "dataType": "uri_folder",
        "dataUri": "",
    },
    "systemData": {},
}

#: Azure Monitor's metric definitions for the two namespaces the adapter reads: metric name ->
#: (aggregations, dimensions). Source: Microsoft Learn, "Supported metrics for
#: Microsoft.MachineLearningServices/workspaces/onlineEndpoints" (generated include dated
#: 2024-07-30) and ".../onlineEndpoints/deployments" (generated include dated 2025-04-16), both
#: generated from Azure Monitor's metric definitions API. The whole table is listed, so that
#: anything outside it is refused with 400 as Azure Monitor does.
_MIN_MAX_AVG = frozenset({"Minimum", "Maximum", "Average"})
_AVG = frozenset({"Average"})
SUPPORTED_METRICS: dict[str, dict[str, tuple[frozenset[str], tuple[str, ...]]]] = {
    "Microsoft.MachineLearningServices/workspaces/onlineEndpoints": {
        "ConnectionsActive": (_AVG, ()),
        "DataCollectionErrorsPerMinute": (_MIN_MAX_AVG, ("deployment", "reason", "type")),
        "DataCollectionEventsPerMinute": (_MIN_MAX_AVG, ("deployment", "type")),
        "NetworkBytes": (_AVG, ()),
        "NewConnectionsPerSecond": (_AVG, ()),
        "RequestLatency": (_AVG, ("deployment",)),
        "RequestLatency_P50": (_AVG, ("deployment",)),
        "RequestLatency_P90": (_AVG, ("deployment",)),
        "RequestLatency_P95": (_AVG, ("deployment",)),
        "RequestLatency_P99": (_AVG, ("deployment",)),
        "RequestsPerMinute": (
            _AVG,
            ("deployment", "statusCode", "statusCodeClass", "modelStatusCode"),
        ),
    },
    "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments": {
        "CpuMemoryUtilizationPercentage": (_MIN_MAX_AVG, ("instanceId",)),
        "CpuUtilizationPercentage": (_MIN_MAX_AVG, ("instanceId",)),
        "DataCollectionErrorsPerMinute": (_MIN_MAX_AVG, ("instanceId", "reason", "type")),
        "DataCollectionEventsPerMinute": (_MIN_MAX_AVG, ("instanceId", "type")),
        "DeploymentCapacity": (_MIN_MAX_AVG, ("instanceId", "State")),
        "DiskUtilization": (_MIN_MAX_AVG, ("instanceId", "disk")),
        "GpuEnergyJoules": (_MIN_MAX_AVG, ("instanceId",)),
        "GpuMemoryUtilizationPercentage": (_MIN_MAX_AVG, ("instanceId",)),
        "GpuUtilizationPercentage": (_MIN_MAX_AVG, ("instanceId",)),
        "RequestLatency_P50": (_AVG, ()),
        "RequestLatency_P90": (_AVG, ()),
        "RequestLatency_P95": (_AVG, ()),
        "RequestLatency_P99": (_AVG, ()),
        "RequestsPerMinute": (_AVG, ("envoy_response_code",)),
    },
}
#: Status codes the fake endpoint's RequestsPerMinute can be split into (``statusCode`` values).
STATUS_CODES = ("200", "400", "401", "404", "408", "424", "429", "500", "502", "503", "504")


def metrics_bad_request(message: str) -> Reply:
    """Azure Monitor's refusal: ErrorResponse ``{"error": {"code", "message"}}`` (the shape
    azure-monitor-querymetrics deserializes, ``models/_models.py`` ErrorResponse / ErrorDetail).
    The message text is ours; Azure's wording is not recorded here."""
    return Reply(400, {"error": {"code": "BadRequest", "message": message}})


#: Built-in role definitions (actions as documented for each role), for the permissions API.
ROLE_ACTIONS: dict[str, dict[str, list[str]]] = {
    "AzureML Data Scientist": {
        "actions": [
            "Microsoft.MachineLearningServices/workspaces/*/read",
            "Microsoft.MachineLearningServices/workspaces/*/action",
            "Microsoft.MachineLearningServices/workspaces/*/delete",
            "Microsoft.MachineLearningServices/workspaces/*/write",
        ],
        "notActions": [
            "Microsoft.MachineLearningServices/workspaces/delete",
            "Microsoft.MachineLearningServices/workspaces/write",
            "Microsoft.MachineLearningServices/workspaces/computes/*/write",
            "Microsoft.MachineLearningServices/workspaces/computes/*/delete",
            "Microsoft.Authorization/*/write",
        ],
        "dataActions": [],
    },
    "AzureML Registry User": {
        "actions": [
            "Microsoft.MachineLearningServices/registries/read",
            "Microsoft.MachineLearningServices/registries/assets/read",
            "Microsoft.MachineLearningServices/registries/assets/write",
            "Microsoft.MachineLearningServices/registries/assets/delete",
        ],
        "notActions": [],
        "dataActions": [],
    },
    "Monitoring Reader": {
        "actions": ["*/read", "Microsoft.Support/*"],
        "notActions": [],
        "dataActions": [],
    },
    "Log Analytics Reader": {
        "actions": ["*/read", "Microsoft.OperationalInsights/workspaces/search/action"],
        "notActions": [],
        "dataActions": [],
    },
    "Storage Blob Data Reader": {
        "actions": ["Microsoft.Storage/storageAccounts/blobServices/containers/read"],
        "notActions": [],
        "dataActions": ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"],
    },
}


def now_iso(offset: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + offset).isoformat().replace("+00:00", "Z")


def not_found(code: str, message: str) -> Reply:
    body = copy.deepcopy(MODEL_NOT_FOUND_TEMPLATE)
    body["error"]["details"] = [
        {"code": code, "message": message, "details": [], "additionalInfo": []}
    ]
    return Reply(404, body)


def user_error(message: str, status: int = 400) -> Reply:
    """The workspace API's UserError answer (the recorded registry refusal's shape, another
    message)."""
    body = copy.deepcopy(REGISTRY_DENIED)
    body["error"].update(message=message, messageFormat=message, messageParameters={})
    body["error"]["innerError"] = {"code": "BadArgument", "innerError": None}
    return Reply(status, body)


def arm_denied(action: str, scope: str) -> Reply:
    """ARM's AuthorizationFailed answer (documented shape; no recording has one)."""
    return Reply(
        403,
        {
            "error": {
                "code": "AuthorizationFailed",
                "message": f"The client '11111111-2222-3333-4444-555555555555' with object id "
                f"'11111111-2222-3333-4444-555555555555' does not have authorization to perform "
                f"action '{action}' over scope '{scope}' or the scope is invalid. If access was "
                "recently granted, please refresh your credentials.",
            }
        },
    )


def blob_denied() -> Reply:
    """Blob storage's answer to an identity without a data role (documented shape)."""
    xml = (
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationPermissionMismatch</Code>'
        "<Message>This request is not authorized to perform this operation using this permission."
        "</Message></Error>"
    )
    return Reply(
        403,
        xml,
        {"Content-Type": "application/xml", "x-ms-error-code": "AuthorizationPermissionMismatch"},
    )


# ----------------------------------------------------------------------------- state


@dataclass
class FakeWorkspace:
    env: str
    subscription: str
    resource_group: str
    name: str
    location: str
    workspace_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    storage_account: str = ""
    container: str = ""
    models: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    job_statuses: dict[str, list[str]] = field(default_factory=dict)
    job_scripts: dict[str, JobScript] = field(default_factory=dict)
    job_times: dict[str, dict[str, str]] = field(default_factory=dict)
    job_children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Pipeline run -> its step runs, as run history lists them (``runs/<id>/children``)."""
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        compact = re.sub(r"[^a-z0-9]", "", self.name.lower())
        self.storage_account = self.storage_account or f"st{compact}"[:24]
        self.container = self.container or f"azureml-blobstore-{self.workspace_id}"

    @property
    def arm_id(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/{RP}/workspaces/{self.name}"

    @property
    def storage_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{self.storage_account}"
        )


@dataclass
class FakeRegistry:
    name: str
    subscription: str
    resource_group: str
    location: str
    models: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"cert-{self.location}.experiments.azureml.net"

    @property
    def arm_id(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/{RP}/registries/{self.name}"


@dataclass
class FakeOperation:
    """A long-running operation: statuses returned poll after poll, then ``finish``."""

    id: str
    statuses: list[str]
    finish: Callable[[str], None]
    error: dict[str, Any] | None = None
    started: str = field(default_factory=now_iso)
    polls: int = 0
    done: bool = False


@dataclass
class JobScript:
    """How the fake runs a model's retraining jobs: statuses GET after GET, then the outcome."""

    statuses: list[str] = field(default_factory=lambda: ["Preparing", "Running", "Completed"])
    error: str | None = None
    """Run-history error message of a failed run."""
    log: str = ""
    """``user_logs/std_log.txt`` of the run."""
    produces: dict[str, str] | None = None
    """Properties of the model version a completed run registers (None: registers nothing)."""


@dataclass
class Fault:
    """Answer the next ``times`` matching requests with ``reply`` instead of the service."""

    method: str | None
    contains: str
    reply: Reply
    times: int = 1


TrafficRecord = dict[str, Any]


# ----------------------------------------------------------------------------- helpers


def default_metric(resource: str, metric: str, stamp: datetime, split: str | None) -> float | None:
    """Deterministic numbers that look like a healthy CPU deployment (no GPU)."""
    if metric.startswith("Gpu"):
        return None
    minute = stamp.hour * 60 + stamp.minute
    if split is not None:  # a statusCode value: 2 % of the requests fail with 503
        return (
            {"200": 95.0, "400": 3.0, "503": 2.0}.get(split)
            if metric == "RequestsPerMinute"
            else None
        )
    return {
        "CpuUtilizationPercentage": 40.0 + (minute % 10),
        "CpuMemoryUtilizationPercentage": 55.0,
        "DeploymentCapacity": 2.0,
        "RequestsPerMinute": 100.0,
        "RequestLatency_P50": 20.0,
        "RequestLatency_P95": 45.0,
        "RequestLatency_P99": 80.0,
    }.get(metric)


def newest_first(bodies: Any) -> list[dict[str, Any]]:
    return sorted(
        bodies, key=lambda b: (b.get("systemData") or {}).get("createdAt", ""), reverse=True
    )


def iso_minutes(duration: str) -> int:
    match = re.match(r"^PT(?:(\d+)H)?(?:(\d+)M)?$", duration)
    hours, minutes = (int(g) if g else 0 for g in match.groups())
    return hours * 60 + minutes


def percentile(values: list[float], q: int) -> float:
    if not values:
        return 0.0
    index = max(0, min(len(values) - 1, round(q / 100 * (len(values) - 1))))
    return float(values[index])


def arm_action(ex: Exchange) -> str:
    verb = {"GET": "read", "PUT": "write", "DELETE": "delete", "POST": "action"}.get(
        ex.method, "read"
    )
    kinds = re.findall(
        r"/(workspaces|registries|onlineEndpoints|deployments|models|jobs|versions)/", ex.path + "/"
    )
    return "Microsoft.MachineLearningServices/" + "/".join(dict.fromkeys(kinds)) + f"/{verb}"
