"""Deployment metrics from Azure Monitor, refined with Log Analytics when it is configured.

Azure Monitor platform metrics (``azure-monitor-querymetrics`` ``MetricsClient``, one batch call
per namespace) give utilisation per deployment and traffic per endpoint; the endpoint's
``RequestsPerMinute`` split by ``statusCode`` gives the error rate: 5xx, and 424, which a managed
online endpoint answers when the model container fails (Microsoft's "Troubleshoot online
endpoints", HTTP status codes table). When the environment has a Log Analytics workspace
receiving ``AmlOnlineEndpointTrafficLog``, latency percentiles and the error rate are recomputed
from the individual requests (which also carry the model's own status code).

Azure Monitor answers a filtered query with the dimension names in lower case (``ApiName eq '*'``
comes back as ``apiname`` in Microsoft's getBatch migration guide), and azure-monitor-querymetrics
passes them through unchanged (``_models.py``: ``{obj["name"]["value"]: ...}``), so dimension
names are matched case-insensitively here.

Instances: ``DeploymentCapacity`` ("the number of instances in the deployment", unit Count,
dimensions ``instanceId`` and ``State``, aggregations Minimum/Maximum/Average in Microsoft's
supported-metrics table for ``.../onlineEndpoints/deployments``) is queried per deployment
resource, *unsplit*, with the Average aggregation: each bin's value is taken as that deployment's
instance count averaged over the bin (2.5 = scaled from 2 to 3 halfway), and the endpoint's count
is the sum over its deployments. That reading is an assumption (no recording of this metric
exists): if the service reported it per instance, the unsplit value would be 1 whatever the
count. So the last bin is checked against the ``instance_count`` each deployment reports through
ARM (``sku.capacity``, what autoscale changes); a difference of one instance or more is logged
(:func:`capacity_mismatches`) so a wrong reading shows up in the logs rather than in silently
wrong scaling suggestions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from azure.core.exceptions import HttpResponseError
from azure.monitor.query import LogsQueryPartialResult

from infra.platform.azure.clients import AzureClients, workspace_arm_id
from infra.platform.azure.endpoints import EndpointManager
from infra.platform.azure.errors import azure_errors, error_detail
from infra.platform.base import METRIC_COLUMNS, InvalidRequestError, NotFoundError

log = logging.getLogger(__name__)

DEPLOYMENT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments"
ENDPOINT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"

#: Azure ML metric name -> port column; utilisation is measured per deployment.
RESOURCE_METRICS = {
    "CpuUtilizationPercentage": "cpu_percent",
    "CpuMemoryUtilizationPercentage": "memory_percent",
    "GpuUtilizationPercentage": "gpu_percent",
    "DeploymentCapacity": "instance_count",
}
#: Traffic is measured on the endpoint, split by its ``deployment`` dimension.
TRAFFIC_METRICS = {
    "RequestsPerMinute": "requests_per_minute",
    "RequestLatency_P50": "latency_p50_ms",
    "RequestLatency_P95": "latency_p95_ms",
    "RequestLatency_P99": "latency_p99_ms",
}
#: A managed online endpoint answers 424 when the model container fails or answers non-200.
MODEL_ERROR = 424
#: ``RequestsPerMinute`` of the endpoint has the dimensions deployment, statusCode,
#: statusCodeClass and modelStatusCode, and the aggregation Average only (Microsoft's
#: "Supported metrics for Microsoft.MachineLearningServices/workspaces/onlineEndpoints").
STATUS_DIMENSION = "statusCode"


def is_error_status(code: Any) -> bool:
    """A request that failed on the service's side: 5xx, or 424 (the model failed)."""
    try:
        value = int(str(code).strip())
    except ValueError:
        return False
    return value >= 500 or value == MODEL_ERROR


def dimension(metadata: dict[str, Any], name: str) -> Any:
    """A dimension's value whatever the case Azure Monitor spelled its name in."""
    wanted = name.lower()
    return next((v for k, v in metadata.items() if k.lower() == wanted), None)


TRAFFIC_LOG_QUERY = """AmlOnlineEndpointTrafficLog
| where EndpointName == '{endpoint}'{deployment_clause}
| summarize requests = count(),
    errors = countif(toint(ResponseCode) >= 500 or toint(ResponseCode) == 424 or toint(ModelStatusCode) >= 500),
    p50 = percentile(TotalDurationMs, 50),
    p95 = percentile(TotalDurationMs, 95),
    p99 = percentile(TotalDurationMs, 99)
    by bin(TimeGenerated, {interval}m)
| order by TimeGenerated asc"""


TRAFFIC_LOG_COLUMNS = {"TimeGenerated", "requests", "errors", "p50", "p95", "p99"}


TRAFFIC_LOG_TABLE = "AmlOnlineEndpointTrafficLog"


def _innermost_message(exc: HttpResponseError) -> str:
    """The deepest ``innererror.message`` of a Log Analytics error body ("'where' operator:
    Failed to resolve table or column expression named 'AppInsights'" in the recorded 400)."""
    try:
        body = exc.response.json() if exc.response is not None else None
    except Exception:  # no JSON body: nothing more specific than the status
        return ""
    message = ""
    node = body.get("error") if isinstance(body, dict) else None
    while isinstance(node, dict):
        message = str(node.get("message") or message)
        node = node.get("innererror") or node.get("innerError")
    return message


def missing_table(exc: HttpResponseError) -> bool:
    """Log Analytics' 400 for a table that does not exist (no diagnostic setting sends it).

    SEM0100 is also the answer for a column the table does not have; that is a mistake in the
    query, not a missing table, and must not be mistaken for "no traffic log": only a message
    naming the table itself counts."""
    detail = error_detail(exc)
    if detail.status != 400:
        return False
    if detail.code not in ("SEM0100", "SemanticError") and "resolve table" not in detail.message:
        return False
    inner = _innermost_message(exc)
    return not inner or f"'{TRAFFIC_LOG_TABLE}'" in inner


def _kql_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _timestamp(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _series(results: Iterable[Any], metric: str, aggregation: str) -> list[pd.Series]:
    """One series per (resource, time series) of ``metric`` in a MetricsClient batch result."""
    found: list[pd.Series] = []
    for result in results:
        for m in result.metrics:
            if m.name != metric:
                continue
            for ts in m.timeseries:
                points = {_timestamp(p.timestamp): getattr(p, aggregation) for p in ts.data}
                series = pd.Series(points, dtype="float64")
                series.attrs["metadata"] = dict(ts.metadata_values or {})
                # "<resource id>/providers/Microsoft.Insights/metrics/<name>" (the getBatch
                # recordings): the only place a batch result names its resource.
                series.attrs["metric_id"] = str(getattr(m, "id", "") or "")
                found.append(series)
    return found


def _deployment_of(metric_id: str) -> str | None:
    match = re.search(r"/deployments/([^/]+)/providers/", metric_id, re.IGNORECASE)
    return match.group(1) if match else None


def capacity_mismatches(parts: list[pd.Series], instance_counts: dict[str, int]) -> list[str]:
    """Deployments whose last ``DeploymentCapacity`` bin differs from their ARM ``instance_count``
    by one instance or more (see the module docstring for why this is checked)."""
    counts = {name.lower(): count for name, count in instance_counts.items()}
    found = []
    for series in parts:
        name = _deployment_of(series.attrs.get("metric_id", ""))
        values = series.dropna()
        if name is None or name.lower() not in counts or values.empty:
            continue
        last, expected = float(values.iloc[-1]), counts[name.lower()]
        if abs(last - expected) >= 1:
            found.append(
                f"deployment '{name}': DeploymentCapacity {last:g} but instance_count {expected}"
            )
    return found


class Telemetry:
    def __init__(self, clients: AzureClients, endpoints: EndpointManager) -> None:
        self.clients = clients
        self.endpoints = endpoints

    def deployment_metrics(
        self,
        model: str,
        env: str,
        start: datetime,
        end: datetime,
        *,
        deployment: str | None = None,
        interval_minutes: int = 5,
    ) -> pd.DataFrame:
        start, end = _utc(start), _utc(end)
        if end <= start:
            raise InvalidRequestError(
                f"the metrics window must end after it starts ({start} .. {end})"
            )
        if interval_minutes < 1:
            raise InvalidRequestError(
                f"interval_minutes must be at least 1, got {interval_minutes}"
            )
        state = self.endpoints.state(model, env)
        if not state.exists:
            raise NotFoundError(
                f"endpoint '{state.endpoint}' does not exist in {env}; it has no metrics"
            )
        names = (
            [state.deployment(deployment).name]
            if deployment
            else [d.name for d in state.deployments]
        )
        endpoint_id = f"{workspace_arm_id(self.clients.workspace_config(env))}/onlineEndpoints/{state.endpoint}"
        client = self.clients.metrics(self.clients.workspace_info(env).location)
        common = {"timespan": (start, end), "granularity": timedelta(minutes=interval_minutes)}
        split = f"deployment eq '{deployment}'" if deployment else None
        columns: dict[str, pd.Series] = {}

        with azure_errors(
            f"read the metrics of endpoint '{state.endpoint}'",
            self.clients.metrics_scope(env, state.endpoint),
        ):
            if names:
                usage = client.query_resources(
                    resource_ids=[f"{endpoint_id}/deployments/{n}" for n in names],
                    metric_namespace=DEPLOYMENT_NAMESPACE,
                    metric_names=list(RESOURCE_METRICS),
                    aggregations=["Average"],
                    **common,
                )
                for metric, column in RESOURCE_METRICS.items():
                    parts = _series(usage, metric, "average")
                    if column == "instance_count":
                        for mismatch in capacity_mismatches(
                            parts, {d.name: d.instance_count for d in state.deployments}
                        ):
                            log.warning("instance count of %s: %s", state.endpoint, mismatch)
                    if parts:
                        frame = pd.concat(parts, axis=1)
                        combined = (
                            frame.sum(axis=1, min_count=1)
                            if column == "instance_count"
                            else frame.mean(axis=1)
                        )
                        columns[column] = combined
            traffic = client.query_resources(
                resource_ids=[endpoint_id],
                metric_namespace=ENDPOINT_NAMESPACE,
                metric_names=list(TRAFFIC_METRICS),
                aggregations=["Average"],
                filter=split,
                **common,
            )
            for metric, column in TRAFFIC_METRICS.items():
                parts = _series(traffic, metric, "average")
                if parts:
                    frame = pd.concat(parts, axis=1)
                    columns[column] = (
                        frame.sum(axis=1, min_count=1)
                        if column == "requests_per_minute"
                        else frame.mean(axis=1)
                    )
            by_status = client.query_resources(
                resource_ids=[endpoint_id],
                metric_namespace=ENDPOINT_NAMESPACE,
                metric_names=["RequestsPerMinute"],
                # Average is the only aggregation RequestsPerMinute has; the share is the same.
                aggregations=["Average"],
                filter=" and ".join(f for f in (split, f"{STATUS_DIMENSION} eq '*'") if f),
                **common,
            )
            error_rate = self._error_rate(_series(by_status, "RequestsPerMinute", "average"))
            if error_rate is not None:
                columns["error_rate"] = error_rate

        # Per-request numbers win where the log has rows; Azure Monitor fills the other bins.
        for column, precise in self._from_traffic_log(
            env, state.endpoint, deployment, start, end, interval_minutes
        ).items():
            columns[column] = (
                precise.combine_first(columns[column]) if column in columns else precise
            )
        return self._frame(columns)

    @staticmethod
    def _error_rate(parts: list[pd.Series]) -> pd.Series | None:
        if not parts:
            return None
        frame = pd.concat(parts, axis=1).fillna(0.0)
        total = frame.sum(axis=1)
        errors = sum(
            (
                frame.iloc[:, i]
                for i, s in enumerate(parts)
                if is_error_status(dimension(s.attrs["metadata"], STATUS_DIMENSION))
            ),
            start=pd.Series(0.0, index=frame.index),
        )
        return (errors / total).where(total > 0)

    def _from_traffic_log(
        self,
        env: str,
        endpoint: str,
        deployment: str | None,
        start: datetime,
        end: datetime,
        interval: int,
    ) -> dict[str, pd.Series]:
        workspace_id = self.clients.workspace_config(env).log_analytics_workspace_id
        if not workspace_id:
            return {}
        clause = f"\n| where DeploymentName == '{_kql_string(deployment)}'" if deployment else ""
        query = TRAFFIC_LOG_QUERY.format(
            endpoint=_kql_string(endpoint), deployment_clause=clause, interval=interval
        )
        with azure_errors(
            f"query AmlOnlineEndpointTrafficLog for endpoint '{endpoint}'",
            self.clients.logs_scope(env),
        ):
            try:
                result = self.clients.logs().query_workspace(
                    workspace_id, query, timespan=(start, end)
                )
            except HttpResponseError as exc:
                if not missing_table(exc):
                    raise
                # The endpoint's diagnostic setting is off: Azure Monitor's numbers still stand.
                log.warning(
                    "Log Analytics workspace %s has no AmlOnlineEndpointTrafficLog table; enable the "
                    "endpoint's diagnostic setting to refine latency and error rates",
                    workspace_id,
                )
                return {}
        if isinstance(result, LogsQueryPartialResult):
            log.warning("partial Log Analytics result for %s: %s", endpoint, result.partial_error)
            tables = result.partial_data
        else:
            tables = result.tables
        if not tables or not tables[0].rows:
            return {}
        table = tables[0]
        frame = pd.DataFrame([list(r) for r in table.rows], columns=list(table.columns))
        if not set(frame.columns) >= TRAFFIC_LOG_COLUMNS:
            log.warning(
                "unexpected Log Analytics columns %s; ignoring the traffic log", list(frame.columns)
            )
            return {}
        frame.index = pd.DatetimeIndex(pd.to_datetime(frame["TimeGenerated"], utc=True))
        requests = frame["requests"].astype("float64")
        return {
            "error_rate": (frame["errors"].astype("float64") / requests).where(requests > 0),
            "latency_p50_ms": frame["p50"].astype("float64"),
            "latency_p95_ms": frame["p95"].astype("float64"),
            "latency_p99_ms": frame["p99"].astype("float64"),
        }

    @staticmethod
    def _frame(columns: dict[str, pd.Series]) -> pd.DataFrame:
        present = {
            c: columns[c] for c in METRIC_COLUMNS if c in columns and columns[c].notna().any()
        }
        frame = pd.DataFrame(present)
        if frame.empty:
            return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="timestamp"))
        frame.index = pd.DatetimeIndex(frame.index, name="timestamp")
        return frame.sort_index()
