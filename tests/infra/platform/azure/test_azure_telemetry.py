"""Deployment metrics from Azure Monitor (MetricsClient) and Log Analytics (LogsQueryClient)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from infra.platform.base import (
    METRIC_COLUMNS,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)

from .azure_fake_shapes import default_metric
from .azure_world import LOG_ANALYTICS_ID, MODEL

END = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
START = END - timedelta(hours=1)


def serving(platform, env: str, versions: tuple[str, ...] = ("3",)) -> None:
    for version in versions:
        if env != "dev":
            platform.copy_version(MODEL, version, "dev", env)
        platform.begin_deploy(MODEL, version, env).wait(timeout=30)
    platform.set_traffic(MODEL, env, {f"churn-model-v{versions[0]}": 100})


def test_metrics_of_one_deployment_from_azure_monitor(platform, http) -> None:
    serving(platform, "dev")
    frame = platform.deployment_metrics(MODEL, "dev", START, END, deployment="churn-model-v3")
    assert list(frame.columns) == [c for c in METRIC_COLUMNS if c != "gpu_percent"], (
        "no GPU on a CPU SKU"
    )
    assert (
        isinstance(frame.index, pd.DatetimeIndex)
        and str(frame.index.tz) == "UTC"
        and len(frame) == 12
    )
    first = frame.iloc[0]
    assert (first.latency_p50_ms, first.latency_p95_ms, first.latency_p99_ms) == (20.0, 45.0, 80.0)
    assert first.error_rate == pytest.approx(0.02) and first.instance_count == 2.0
    assert 40.0 <= first.cpu_percent < 50.0 and first.memory_percent == 55.0

    calls = http.requests("POST", "westeurope.metrics.monitor.azure.com")
    usage, traffic, status = (c.query for c in calls)
    assert (
        usage["metricnamespace"]
        == "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments"
    )
    assert usage["interval"] == "PT5M" and usage["aggregation"] == "Average"
    assert (
        calls[0]
        .json()["resourceids"][0]
        .endswith("/onlineEndpoints/churn-dev/deployments/churn-model-v3")
    )
    assert traffic["filter"] == "deployment eq 'churn-model-v3'"
    assert status["filter"] == "deployment eq 'churn-model-v3' and statusCode eq '*'"
    assert status["aggregation"] == "Average", "RequestsPerMinute has no other aggregation"


def test_whole_endpoint_sums_capacity_over_deployments(platform) -> None:
    serving(platform, "dev", ("3", "2"))
    frame = platform.deployment_metrics(MODEL, "dev", START, END, interval_minutes=15)
    assert len(frame) == 4 and (frame.instance_count == 4.0).all()


def test_traffic_log_refines_latency_and_errors_when_log_analytics_is_configured(
    platform, cloud, http
) -> None:
    serving(platform, "prod")
    base = START + timedelta(minutes=1)
    cloud.traffic_log.extend(
        {
            "EndpointName": "churn-prod",
            "DeploymentName": "churn-model-v3",
            "TimeGenerated": base + timedelta(seconds=i),
            "ResponseCode": "500" if i % 10 == 0 else "200",
            "ModelStatusCode": "200",
            "TotalDurationMs": 10.0 + i,
        }
        for i in range(100)
    )
    frame = platform.deployment_metrics(MODEL, "prod", START, END, deployment="churn-model-v3")
    first = frame.loc[START]
    assert first.error_rate == pytest.approx(0.10)
    assert (first.latency_p50_ms, first.latency_p99_ms) == (60.0, 108.0)
    assert frame.loc[START + timedelta(minutes=5)].latency_p50_ms == 20.0, (
        "Azure Monitor where no log rows"
    )
    query = http.requests("POST", f"/v1/workspaces/{LOG_ANALYTICS_ID}/query")[0].json()
    assert (
        "AmlOnlineEndpointTrafficLog" in query["query"]
        and "DeploymentName == 'churn-model-v3'" in query["query"]
    )


def test_metrics_of_a_missing_endpoint_or_without_monitoring_reader(platform, cloud) -> None:
    with pytest.raises(NotFoundError, match="churn-dev"):
        platform.deployment_metrics(MODEL, "dev", START, END)
    serving(platform, "dev")
    cloud.fail_next("POST", "metrics:getBatch", cloud_forbidden())
    with pytest.raises(
        PermissionDeniedError, match=r"'Monitoring Reader' role on .*/onlineEndpoints/churn-dev"
    ):
        platform.deployment_metrics(MODEL, "dev", START, END)


def cloud_forbidden():
    from .azure_fake_cloud import arm_denied

    return arm_denied("Microsoft.Insights/metrics/read", "/subscriptions/x")


def test_error_rate_reads_lower_case_dimension_names_and_counts_model_failures(
    platform, cloud, http
) -> None:
    """Azure Monitor answers ``statusCode eq '*'`` with ``statuscode`` metadata (the fake answers
    as Azure does); 5xx and 424 (the model container failed) are errors, 4xx others are not."""
    serving(platform, "dev")
    shares = {"200": 80.0, "404": 5.0, "424": 10.0, "503": 5.0}
    cloud.metric_values = lambda key, metric, stamp, split: (
        shares.get(split) if split is not None else default_metric(key, metric, stamp, None)
    )
    frame = platform.deployment_metrics(MODEL, "dev", START, END, deployment="churn-model-v3")
    assert list(frame.error_rate) == pytest.approx([0.15] * len(frame))
    answer = http.requests("POST", "metrics:getBatch")[-1]
    assert answer.query["filter"].endswith("statusCode eq '*'")


@pytest.mark.parametrize(
    ("namespace", "metric", "aggregation", "filter_"),
    [
        (
            "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
            "ErrorRate",
            "Average",
            None,
        ),
        (
            "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
            "RequestsPerMinute",
            "Total",
            None,
        ),
        (
            "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
            "RequestLatency_P99",
            "Average",
            "statusCode eq '*'",
        ),
        (
            "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
            "CpuUtilizationPercentage",
            "Average",
            "deployment eq 'blue'",
        ),
        ("Microsoft.MachineLearningServices/workspaces", "RequestsPerMinute", "Average", None),
    ],
)
def test_the_fake_monitor_refuses_what_azure_monitor_does_not_define(
    platform, cloud, namespace, metric, aggregation, filter_
) -> None:
    serving(platform, "dev")
    client = platform.clients.metrics("westeurope")
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as raised:
        client.query_resources(
            resource_ids=["/subscriptions/s/resourceGroups/r/providers/x/onlineEndpoints/e"],
            metric_namespace=namespace,
            metric_names=[metric],
            aggregations=[aggregation],
            filter=filter_,
            timespan=(START, END),
        )
    assert raised.value.status_code == 400


def test_deployment_capacity_is_checked_against_the_deployments_instance_count(
    platform, cloud, caplog
) -> None:
    """DeploymentCapacity (unsplit, Average) is read as the deployment's instance count; a last
    bin that disagrees with the deployment's ARM instance_count is logged, not silently used."""
    serving(platform, "dev")
    instances = platform.endpoint_state(MODEL, "dev").deployment("churn-model-v3").instance_count
    cloud.metric_values = lambda key, metric, stamp, split: (
        float(instances)
        if metric == "DeploymentCapacity"
        else default_metric(key, metric, stamp, split)
    )
    with caplog.at_level("WARNING", logger="infra.platform.azure.telemetry"):
        frame = platform.deployment_metrics(MODEL, "dev", START, END)
    assert (frame.instance_count == instances).all()
    assert "DeploymentCapacity" not in caplog.text

    # Read per instance (1 whatever the count), the metric would disagree once scaled out.
    cloud.metric_values = lambda key, metric, stamp, split: (
        float(instances + 2)
        if metric == "DeploymentCapacity"
        else default_metric(key, metric, stamp, split)
    )
    with caplog.at_level("WARNING", logger="infra.platform.azure.telemetry"):
        platform.deployment_metrics(MODEL, "dev", START, END)
    assert (
        f"deployment 'churn-model-v3': DeploymentCapacity {instances + 2} but instance_count "
        f"{instances}" in caplog.text
    )


def test_the_fake_log_analytics_knows_only_the_documented_traffic_log_columns(platform) -> None:
    """A column AmlOnlineEndpointTrafficLog does not document gets Log Analytics' 400 in the
    recorded shape (BadArgumentError > SemanticError > SEM0100, test_logs_single_query_with_non_200
    of azure-monitor-query); documented ones are answered."""
    from azure.core.exceptions import HttpResponseError

    from infra.platform.azure.errors import error_detail

    logs = platform.clients.logs()
    window = (START, END)
    ok = logs.query_workspace(
        LOG_ANALYTICS_ID,
        "AmlOnlineEndpointTrafficLog | where EndpointName == 'x' and ResponseCode >= 500 | take 1",
        timespan=window,
    )
    assert ok.tables is not None
    for column in ("StatusCode", "DurationMs", "statusCodeClass"):
        with pytest.raises(HttpResponseError) as refused:
            logs.query_workspace(
                LOG_ANALYTICS_ID,
                f"AmlOnlineEndpointTrafficLog | where {column} >= 500 | take 1",
                timespan=window,
            )
        detail = error_detail(refused.value)
        assert (detail.status, detail.code) == (400, "SEM0100")
        body = refused.value.response.json()["error"]
        assert body["code"] == "BadArgumentError"
        assert f"named '{column}'" in body["innererror"]["innererror"]["message"]


def test_a_query_naming_an_unknown_column_is_an_error_not_a_missing_table(
    platform, cloud, monkeypatch
) -> None:
    """SEM0100 also answers a misspelt column; taking it for "no diagnostic setting" would hide
    the mistake behind Azure Monitor's numbers for ever."""
    from infra.platform.azure import telemetry

    serving(platform, "prod")
    monkeypatch.setattr(
        telemetry,
        "TRAFFIC_LOG_QUERY",
        telemetry.TRAFFIC_LOG_QUERY.replace("TotalDurationMs", "DurationMs"),
    )
    with pytest.raises(InvalidRequestError, match="AmlOnlineEndpointTrafficLog"):
        platform.deployment_metrics(MODEL, "prod", START, END)

    cloud.traffic_log_table = False  # the table itself missing: Azure Monitor's numbers stand
    frame = platform.deployment_metrics(MODEL, "prod", START, END)
    assert frame.latency_p50_ms.notna().all()
