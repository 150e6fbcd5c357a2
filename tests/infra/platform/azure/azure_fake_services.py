"""The fake cloud's data-plane services: registry discovery and the registry's own endpoint,
workspace discovery and run history, Blob storage, Azure Monitor metrics, Log Analytics and the
endpoints' scoring URIs. Mixed into :class:`FakeAzureCloud`, whose state they read."""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from .azure_fake_shapes import (
    LOGS_TEMPLATE,
    METRICS_TEMPLATE,
    REGISTRY_DENIED,
    REGISTRY_MODEL_TEMPLATE,
    RP,
    STATUS_CODES,
    SUPPORTED_METRICS,
    TRAFFIC_LOG_COLUMNS,
    TRAFFIC_LOG_TABLE,
    FakeOperation,
    FakeRegistry,
    FakeWorkspace,
    TrafficRecord,
    arm_action,
    arm_denied,
    blob_denied,
    iso_minutes,
    logs_semantic_error,
    metrics_bad_request,
    newest_first,
    not_found,
    now_iso,
    percentile,
)
from .azure_replay import Exchange, Reply

#: KQL words the adapter's queries use that are not columns.
_KQL_WORDS = frozenset(
    {
        "where",
        "summarize",
        "by",
        "order",
        "sort",
        "asc",
        "desc",
        "and",
        "or",
        "not",
        "take",
        "limit",
        "project",
        "extend",
        "top",
        "true",
        "false",
        "nulls",
        "first",
        "last",
        "in",
        "has",
        "contains",
        "between",
    }
)
_KQL_IDENTIFIER = re.compile(r"(?<![\w.])([A-Za-z_]\w*)")


def unknown_columns(query: str) -> list[tuple[str, str]]:
    """(operator, name) of every name the query reads that AmlOnlineEndpointTrafficLog does not
    have: not a function call, a KQL word, a string literal or a column the query defines
    (``name = ...``) earlier."""
    text = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "''", query)
    segments = text.split("|")
    defined: set[str] = set()
    unknown: list[tuple[str, str]] = []
    for index, segment in enumerate(segments):
        words = segment.split()
        operator = words[0] if words and index else TRAFFIC_LOG_TABLE
        for match in _KQL_IDENTIFIER.finditer(segment):
            name = match.group(1)
            rest = segment[match.end() :].lstrip()
            if index == 0 and name == TRAFFIC_LOG_TABLE:
                continue
            if rest.startswith("(") or name.lower() in _KQL_WORDS:
                continue
            if rest.startswith("=") and not rest.startswith("=="):
                defined.add(name)
                continue
            if name not in TRAFFIC_LOG_COLUMNS and name not in defined:
                unknown.append((operator, name))
    return unknown


class DataPlaneServices:
    """Everything that is not Azure Resource Manager."""

    registry: FakeRegistry
    workspaces: dict[str, FakeWorkspace]
    blobs: dict[tuple[str, str], dict[str, bytes]]
    operations: dict[str, FakeOperation]
    denied: list[tuple[str | None, str]]
    blob_denied_accounts: set[str]
    lro_steps: list[str]
    traffic_log: list[TrafficRecord]
    traffic_log_table: bool
    metric_values: Callable[[str, str, datetime, str | None], float | None]
    scoring_requests: list[Exchange]
    scoring_columns: set[str] | None

    _operation: Callable[[Exchange, str, str], Reply]
    """Long-running operation polling, shared with the ARM part (:class:`FakeAzureCloud`)."""

    # ------------------------------------------------------------------------- registry
    def _registry_discovery(self, ex: Exchange) -> Reply:
        name = ex.path.rstrip("/").split("/")[-2]
        for _method, contains in self.denied:
            if contains in ex.path:
                body = copy.deepcopy(REGISTRY_DENIED)
                body["error"]["message"] = (
                    f"User/tenant/subscription is not allowed to access registry {name}"
                )
                body["error"]["messageParameters"] = {"feedName": name}
                return Reply(403, body)
        if name.lower() != self.registry.name.lower():
            return Reply(
                404, {"error": {"code": "UserError", "message": f"Registry {name} not found"}}
            )
        # No recording of a successful discovery: fields are those of RegistryDiscoveryDto.
        return Reply(
            200,
            {
                "registryName": self.registry.name,
                "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "primaryRegion": self.registry.location,
                "regions": [self.registry.location],
                "subscriptionId": self.registry.subscription,
                "resourceGroup": self.registry.resource_group,
                "workspaceName": None,
                "primaryRegionResourceProviderUri": f"https://{self.registry.host}/",
            },
        )

    def _registry(self, ex: Exchange) -> Reply | None:
        match = re.match(
            rf"^/mferp/managementfrontend/subscriptions/[^/]+/{RP}/locations/[^/]+/(mfeOperationsStatus|mfeOperationResults)/([^/]+)$",
            ex.path,
            re.I,
        )
        if match:
            return self._operation(ex, match.group(1), match.group(2))
        match = re.match(
            rf"^/mferp/managementfrontend/subscriptions/[^/]+/resourceGroups/[^/]+/{RP}/registries/([^/]+)/(.*)$",
            ex.path,
            re.I,
        )
        if not match or match.group(1).lower() != self.registry.name.lower():
            return None
        for method, contains in self.denied:
            if method in (None, ex.method) and contains in ex.path:
                return arm_denied(arm_action(ex), self.registry.arm_id)
        parts = match.group(2).strip("/").split("/")
        if parts == ["import"] and ex.method == "POST":
            return self._import(ex)
        if parts[0] != "models":
            return None
        models = self.registry.models
        if len(parts) == 1 and ex.method == "GET":
            return Reply(200, {"value": [{"name": n, "properties": {}} for n in sorted(models)]})
        name = parts[1]
        if name not in models:
            if len(parts) == 3 and ex.method == "GET":
                # The registry lists an unknown model as empty (the SDK's import path relies on it).
                return Reply(200, {"value": []})
            return not_found("ModelNotFound", f"Model container with name: {name} not found.")
        if len(parts) == 2 and ex.method == "GET":
            return Reply(
                200,
                {
                    "id": f"azureml://registries/{self.registry.name}/models/{name}",
                    "name": name,
                    "properties": {"latestVersion": max(models[name], key=int)},
                },
            )
        if len(parts) == 3 and ex.method == "GET":
            listed = newest_first(models[name].values())
            if ex.query.get("$top"):
                listed = listed[: int(ex.query["$top"])]
            return Reply(200, {"value": listed})
        if len(parts) == 4 and ex.method == "GET":
            body = models[name].get(parts[3])
            return (
                Reply(200, body)
                if body
                else not_found("ModelNotFound", f"Model {name}:{parts[3]} not found.")
            )
        return None

    def registry_copy_of(
        self, source: str, source_body: dict[str, Any], name: str, version: str
    ) -> dict[str, Any]:
        """The registry version an import of ``source`` creates.

        Body: Registry/ModelVersion/get.json (RegistryModelVersions_Get, 2024-10-01 spec example).
        ``properties.originAssetId`` = the imported ``sourceAssetId``: ASSUMED, no recording or
        spec example shows a registry version created by an import (the 2024-10-01
        ModelVersionProperties does not list the key; the service returns it as an extra).
        """
        body = copy.deepcopy(REGISTRY_MODEL_TEMPLATE)
        # Registry assets are identified by azureml:// ids, not ARM ids (the SDK parses them).
        body.update(
            id=f"azureml://registries/{self.registry.name}/models/{name}/versions/{version}",
            name=version,
            type="Microsoft.MachineLearningServices/registries/models/versions",
        )
        copied = source_body["properties"]
        body["properties"].update(
            description=copied.get("description"),
            tags=dict(copied.get("tags") or {}),
            properties=dict(copied.get("properties") or {}),
            flavors=copied.get("flavors") or {},
            modelType=copied.get("modelType"),
            jobName=copied.get("jobName"),
            modelUri=f"azureml://registries/{self.registry.name}/models/{name}/versions/{version}",
            originAssetId=source,
        )
        body["systemData"].update(
            createdAt=now_iso(),
            lastModifiedAt=now_iso(),
            createdBy="mlops-bot",
            lastModifiedBy="mlops-bot",
        )
        self.registry.models.setdefault(name, {})[version] = body
        return body

    def _import(self, ex: Exchange) -> Reply:
        """POST .../registries/<r>/import (no recording: 202 + Azure-AsyncOperation like other MFE LROs)."""
        props = ex.json()["properties"]
        source = props["sourceAssetId"]
        match = re.match(
            r"azureml://locations/([^/]+)/workspaces/([^/]+)/models/([^/]+)/versions/([^/]+)$",
            source,
        )
        assert match, f"unexpected sourceAssetId {source}"
        ws = next((w for w in self.workspaces.values() if w.workspace_id == match.group(2)), None)
        source_body = ws.models.get(match.group(3), {}).get(match.group(4)) if ws else None
        if source_body is None:
            return Reply(
                400, {"error": {"code": "UserError", "message": f"Asset {source} does not exist"}}
            )
        name, version = props.get("destinationName"), props.get("destinationVersion")

        def finish(status: str) -> None:
            self.registry_copy_of(source, source_body, name, version)

        op_id = f"ri:{uuid.uuid4()}"
        self.operations[op_id] = FakeOperation(op_id, list(self.lro_steps), finish)
        base = (
            f"https://{self.registry.host}/mferp/managementfrontend/subscriptions/{self.registry.subscription}"
            f"/{RP}/locations/{self.registry.location}"
        )
        return Reply(
            202,
            None,
            {
                "Azure-AsyncOperation": f"{base}/mfeOperationsStatus/{op_id}",
                "Location": f"{base}/mfeOperationResults/{op_id}",
                "Retry-After": "0",
            },
        )

    # ------------------------------------------------------------------------- workspace data plane
    def _workspace_dataplane(self, ex: Exchange) -> Reply | None:
        region = ex.host.split(".")[0]
        if ex.path == "/discovery":
            api = f"https://{region}.api.azureml.ms"
            return Reply(
                200,
                {
                    "api": api,
                    "catalog": api,
                    "experimentation": api,
                    "gallery": api,
                    "history": api,
                    "hyperdrive": api,
                    "labeling": api,
                    "modelmanagement": api,
                    "pipelines": api,
                    "studio": "https://ml.azure.com",
                },
            )
        children = re.match(
            r"^/history/v1\.0/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/([^/]+)/runs/([^/]+)/children$",
            ex.path,
            re.I,
        )
        if children and ex.method == "GET":
            # PagedRunList of run history (azure-ai-ml ``_restclient/runhistory/models``: value +
            # nextLink; Run fields runId, parentRunId, status, ...). No recording of this call.
            ws = self.workspaces[children.group(1).lower()]
            if children.group(2) not in ws.jobs:
                return Reply(
                    404,
                    {
                        "error": {
                            "code": "UserError",
                            "message": f"Run {children.group(2)} not found",
                        }
                    },
                )
            return Reply(
                200, {"value": ws.job_children.get(children.group(2), []), "nextLink": None}
            )
        match = re.match(
            r"^/history/v1\.0/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/([^/]+)/runs/([^/]+)/details$",
            ex.path,
            re.I,
        )
        if match:
            ws = self.workspaces[match.group(1).lower()]
            run = match.group(2)
            job = ws.jobs.get(run)
            if job is None:
                return Reply(
                    404, {"error": {"code": "UserError", "message": f"Run {run} not found"}}
                )
            log_name = f"ExperimentRun/dcid.{run}/user_logs/std_log.txt"
            url = f"https://{ws.storage_account}.blob.core.windows.net/{ws.container}/{log_name}?sv=2019-07-07&sig=sanitized"
            status = job["properties"]["status"]
            times = ws.job_times.get(run, {})
            details: dict[str, Any] = {
                "runId": run,
                "status": status,
                "logFiles": {"user_logs/std_log.txt": url},
                "startTimeUtc": times.get("start"),
                "endTimeUtc": times.get("end"),
            }
            if status == "Failed":
                script = ws.job_scripts.get(run)
                message = (
                    script.error
                    if script and script.error
                    else "Execution failed: ValueError: learning_rate must be positive"
                )
                details["error"] = {"error": {"code": "UserError", "message": message}}
            return Reply(200, details)
        return None

    # ------------------------------------------------------------------------- blob storage
    def _blob(self, ex: Exchange) -> Reply | None:
        account = ex.host.split(".")[0]
        if account in self.blob_denied_accounts:
            return blob_denied()
        container, _, blob = ex.path.lstrip("/").partition("/")
        store = self.blobs.get((account, container))
        if store is None:
            return Reply(
                404,
                "<Error><Code>ContainerNotFound</Code></Error>",
                {"Content-Type": "application/xml", "x-ms-error-code": "ContainerNotFound"},
            )
        query = ex.query
        if not blob and query.get("comp") == "list":
            return self._list_blobs(
                account, container, store, query.get("prefix", ""), query.get("delimiter")
            )
        if blob and ex.method in ("GET", "HEAD"):
            content = store.get(blob)
            if content is None:
                return Reply(404, None, {"x-ms-error-code": "BlobNotFound"})
            headers = {
                "Content-Type": "application/octet-stream",
                "x-ms-blob-type": "BlockBlob",
                "ETag": '"0x8DC0000000000"',
                "Last-Modified": format_datetime(datetime.now(UTC), usegmt=True),
            }
            wanted = ex.headers.get("x-ms-range") or ex.headers.get("Range")
            if wanted and ex.method == "GET":
                first, _, last = wanted.split("=", 1)[1].partition("-")
                end = min(int(last) if last else len(content) - 1, len(content) - 1)
                headers["Content-Range"] = f"bytes {int(first)}-{end}/{len(content)}"
                return Reply(206, content[int(first) : end + 1], headers)
            return Reply(200, content if ex.method == "GET" else None, headers)
        return None

    @staticmethod
    def _list_blobs(
        account: str, container: str, store: dict[str, bytes], prefix: str, delimiter: str | None
    ) -> Reply:
        """List Blobs (documented XML shape of the Blob service REST API)."""
        blobs, prefixes = [], set()
        for name in sorted(store):
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix) :]
            if delimiter and delimiter in rest:
                prefixes.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
            else:
                blobs.append(name)
        items = "".join(
            f"<Blob><Name>{escape(n)}</Name><Properties><Last-Modified>Mon, 01 Jan 2024 00:00:00 GMT</Last-Modified>"
            f"<Etag>0x8DC0000000000</Etag><Content-Length>{len(store[n])}</Content-Length>"
            "<Content-Type>application/octet-stream</Content-Type><BlobType>BlockBlob</BlobType>"
            "<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState></Properties></Blob>"
            for n in blobs
        ) + "".join(f"<BlobPrefix><Name>{escape(p)}</Name></BlobPrefix>" for p in sorted(prefixes))
        xml = (
            f'<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="https://{account}.blob.core.windows.net/" '
            f'ContainerName="{container}"><Prefix>{escape(prefix)}</Prefix>'
            + (f"<Delimiter>{escape(delimiter)}</Delimiter>" if delimiter else "")
            + f"<Blobs>{items}</Blobs><NextMarker /></EnumerationResults>"
        )
        return Reply(200, xml, {"Content-Type": "application/xml"})

    # ------------------------------------------------------------------------- monitoring
    def _metrics(self, ex: Exchange) -> Reply | None:
        """``metrics:getBatch`` (azure-monitor-querymetrics ``MetricsClient.query_resources``).

        The answer's shape is the recorded one (``test_metrics_client.py…test_batch_metrics_
        granularity.json``); a filtered dimension comes back in each time series'
        ``metadatavalues`` (``…test_batch_metrics_filter.json``: ``request/success eq '0'``), with
        its name in lower case (Microsoft's getBatch migration guide: ``ApiName eq '*'`` answered
        as ``apiname``). Namespaces, metric names, aggregations and dimensions outside
        :data:`SUPPORTED_METRICS` are refused with 400.
        """
        if not ex.path.endswith("/metrics:getBatch") or ex.method != "POST":
            return None
        query = ex.query
        namespace = next(
            (n for n in SUPPORTED_METRICS if n.lower() == query["metricnamespace"].lower()), None
        )
        if namespace is None:
            return metrics_bad_request(
                f"Metric namespace {query['metricnamespace']} is not supported for this resource"
            )
        definitions = {name.lower(): name for name in SUPPORTED_METRICS[namespace]}
        aggregations = [a.strip() for a in query.get("aggregation", "Average").split(",")]
        conditions = self._metric_filter(query.get("filter") or "")
        wanted = []
        for requested in query["metricnames"].split(","):
            metric = definitions.get(requested.lower())
            if metric is None:
                return metrics_bad_request(
                    f"Failed to find metric configuration for namespace {namespace}, metric: "
                    f"{requested}. Valid metrics: {', '.join(SUPPORTED_METRICS[namespace])}"
                )
            allowed, dims = SUPPORTED_METRICS[namespace][metric]
            refused = [a for a in aggregations if a.capitalize() not in allowed]
            if refused:
                return metrics_bad_request(
                    f"Metric {metric} does not support the aggregation(s) {refused}; "
                    f"supported: {sorted(allowed)}"
                )
            unknown = [d for d, _ in conditions if d.lower() not in {x.lower() for x in dims}]
            if unknown:
                return metrics_bad_request(
                    f"Metric {metric} has no dimension(s) {unknown}; its dimensions: {list(dims)}"
                )
            wanted.append(metric)
        start = datetime.fromisoformat(query["starttime"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(query["endtime"].replace("Z", "+00:00"))
        step = iso_minutes(query.get("interval", "PT5M"))
        fixed = {d.lower(): v for d, v in conditions if v != "*"}
        split_by = [d.lower() for d, v in conditions if v == "*"]
        assert split_by in ([], ["statuscode"]), f"the fake splits by statusCode only: {split_by}"
        deployment = fixed.get("deployment")
        template = METRICS_TEMPLATE["values"][0]
        values = []
        for resource in ex.json()["resourceids"]:
            entry = copy.deepcopy(template)
            entry.update(
                starttime=query["starttime"],
                endtime=query["endtime"],
                interval=query.get("interval"),
                namespace=query["metricnamespace"],
                resourceid=resource,
                resourceregion=ex.host.split(".")[0],
            )
            metrics = []
            for metric in wanted:
                metric_entry = copy.deepcopy(template["value"][0])
                metric_entry.update(
                    id=f"{resource}/providers/Microsoft.Insights/metrics/{metric}",
                    name={"value": metric, "localizedValue": metric},
                    displayDescription=metric,
                    unit="Percent" if "Percent" in metric else "Count",
                )
                splits: list[str | None] = list(STATUS_CODES) if split_by else [None]
                series = []
                for split in splits:
                    points = []
                    stamp = start
                    while stamp < end:
                        key = f"{resource}|{deployment or ''}"
                        value = self.metric_values(key, metric, stamp, split)
                        point: dict[str, Any] = {
                            "timeStamp": stamp.isoformat().replace("+00:00", "Z")
                        }
                        if value is not None:
                            for aggregation in aggregations:
                                point[aggregation.lower()] = value
                        points.append(point)
                        stamp += timedelta(minutes=step)
                    if split is not None and all(len(p) == 1 for p in points):
                        continue  # no requests with this status code: no time series
                    dimensions = {**fixed, **({"statuscode": split} if split else {})}
                    metadata = [
                        {"name": {"value": name, "localizedValue": name}, "value": value}
                        for name, value in dimensions.items()
                    ]
                    series.append({"metadatavalues": metadata, "data": points})
                metric_entry["timeseries"] = series
                metrics.append(metric_entry)
            entry["value"] = metrics
            values.append(entry)
        return Reply(200, {"values": values})

    @staticmethod
    def _metric_filter(text: str) -> list[tuple[str, str]]:
        """``A eq 'x' and B eq '*'`` -> [(A, x), (B, *)]; the only filter form the adapter sends."""
        if not text.strip():
            return []
        conditions = []
        for clause in re.split(r"\s+and\s+", text.strip(), flags=re.I):
            match = re.fullmatch(r"(\w+)\s+eq\s+'([^']*)'", clause.strip(), re.I)
            assert match, f"the fake parses only 'dim eq value' joined by and: {text!r}"
            conditions.append((match.group(1), match.group(2)))
        return conditions

    def _logs(self, ex: Exchange) -> Reply | None:
        match = re.match(r"^/v1/workspaces/([^/]+)/query$", ex.path)
        if not match or ex.method != "POST":
            return None
        request = ex.json()
        query = request["query"]
        assert query.lstrip().startswith(TRAFFIC_LOG_TABLE), query
        if not self.traffic_log_table:
            # Recorded answer of Log Analytics for a table that does not exist (SEM0100), naming
            # the table as the recording names its missing 'AppInsights'.
            return Reply(
                400,
                logs_semantic_error(
                    f"'where' operator: Failed to resolve table or column expression named "
                    f"'{TRAFFIC_LOG_TABLE}'"
                ),
            )
        unknown = unknown_columns(query)
        if unknown:
            operator, name = unknown[0]
            # Same recorded error shape; the wording for a column is KQL's, assumed (no recording).
            return Reply(
                400,
                logs_semantic_error(
                    f"'{operator}' operator: Failed to resolve scalar expression named '{name}'"
                ),
            )
        body = copy.deepcopy(LOGS_TEMPLATE)
        if "summarize" not in query:  # a probe such as "| take 1": no rows is enough
            return Reply(200, body)
        endpoint = re.search(r"EndpointName == '([^']+)'", query).group(1)
        deployment = re.search(r"DeploymentName == '([^']+)'", query)
        interval = int(re.search(r"bin\(TimeGenerated, (\d+)m\)", query).group(1))
        start_text, end_text = request["timespan"].split("/")
        start = datetime.fromisoformat(start_text.replace("Z", "+00:00"))
        end = datetime.fromisoformat(end_text.replace("Z", "+00:00"))
        error_rule = self._countif(query, "errors")
        bins: dict[datetime, list[TrafficRecord]] = {}
        for record in self.traffic_log:
            if record["EndpointName"] != endpoint or (
                deployment and record["DeploymentName"] != deployment.group(1)
            ):
                continue
            if not start <= record["TimeGenerated"] < end:
                continue
            minute = record["TimeGenerated"].replace(second=0, microsecond=0)
            slot = minute - timedelta(minutes=minute.minute % interval)
            bins.setdefault(slot, []).append(record)
        rows = []
        for slot in sorted(bins):
            records = bins[slot]
            durations = sorted(r["TotalDurationMs"] for r in records)
            errors = sum(1 for r in records if error_rule(r))
            rows.append(
                [
                    slot.isoformat().replace("+00:00", "Z"),
                    len(records),
                    errors,
                    percentile(durations, 50),
                    percentile(durations, 95),
                    percentile(durations, 99),
                ]
            )
        body["tables"][0]["columns"] = [
            {"name": "TimeGenerated", "type": "datetime"},
            {"name": "requests", "type": "long"},
            {"name": "errors", "type": "long"},
            {"name": "p50", "type": "real"},
            {"name": "p95", "type": "real"},
            {"name": "p99", "type": "real"},
        ]
        body["tables"][0]["rows"] = rows
        return Reply(200, body)

    @staticmethod
    def _countif(query: str, column: str) -> Callable[[TrafficRecord], bool]:
        """Evaluate the query's own ``<column> = countif(toint(Col) OP N or ...)`` per record, so
        that the rule the adapter writes in KQL is the rule its test exercises."""
        head = re.search(rf"{column}\s*=\s*countif\(", query)
        assert head, f"no countif for {column} in {query}"
        depth, i = 1, head.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(query[i], 0)
            i += 1
        body = query[head.end() : i - 1]
        tests = []
        for clause in re.split(r"\s+or\s+", body.strip()):
            match = re.fullmatch(r"toint\((\w+)\)\s*(>=|<=|==|!=|>|<)\s*(\d+)", clause.strip())
            assert match, f"the fake evaluates only 'toint(Col) OP N' joined by or: {body!r}"
            name, op, number = match.group(1), match.group(2), int(match.group(3))
            assert name in ("ResponseCode", "ModelStatusCode"), name
            tests.append((name, op, number))
        ops = {
            ">=": int.__ge__,
            "<=": int.__le__,
            "==": int.__eq__,
            "!=": int.__ne__,
            ">": int.__gt__,
            "<": int.__lt__,
        }
        return lambda record: any(ops[op](int(record[name]), n) for name, op, n in tests)

    # ------------------------------------------------------------------------- scoring
    def _score(self, ex: Exchange) -> Reply | None:
        endpoint = ex.host.split(".")[0]
        ws = next((w for w in self.workspaces.values() if endpoint in w.endpoints), None)
        if ws is None or ex.path != "/score":
            return None
        self.scoring_requests.append(ex)
        if ex.headers.get("Authorization") != f"Bearer key-{endpoint}":
            return Reply(401, "key_auth_access_denied", {"Content-Type": "text/plain"})
        deployment = ex.headers.get("azureml-model-deployment")
        if deployment not in ws.deployments.get(endpoint, {}):
            return Reply(404, {"message": f"deployment {deployment} not found"})
        try:
            payload = ex.json()
            rows = payload["input_data"]["data"]
            columns = payload["input_data"].get("columns") or []
        except (KeyError, TypeError, ValueError, AttributeError):
            return Reply(
                424,
                {"message": "An unexpected error occurred in scoring script: input_data missing"},
            )
        if self.scoring_columns is not None and set(columns) != self.scoring_columns:
            missing = sorted(self.scoring_columns - set(columns))
            # The model container answered 500; the endpoint turns that into 424 and names the
            # model's status and reason in these headers (Microsoft Learn, "Troubleshoot online
            # endpoint deployment and scoring": 424 Model Error; the header values are ours).
            return Reply(
                424,
                {
                    "message": f"An unexpected error occurred in scoring script: columns are missing: {missing}"
                },
                {
                    "Content-Type": "application/json",
                    "ms-azureml-model-error-statuscode": "500",
                    "ms-azureml-model-error-reason": "model_error",
                },
            )
        return Reply(
            200,
            [int(sum(float(v) for v in row if isinstance(v, int | float)) > 100) for row in rows],
        )
