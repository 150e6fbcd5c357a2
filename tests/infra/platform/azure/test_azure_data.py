"""Reference data from a data asset; production data from the data collector's JSONL blobs."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from infra.platform.base import PermissionDeniedError

from .azure_world import MODEL

END = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
START = END - timedelta(hours=2)


def cloud_event(
    kind: str, endpoint: str, deployment: str, when: datetime, correlation: str, data: list
) -> str:
    """One line as the Azure ML data collector writes it (CloudEvents 1.0 envelope)."""
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": f"/subscriptions/x/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/onlineEndpoints/{endpoint}/deployments/{deployment}",
            "type": f"azureml.inference.{kind}",
            "datacontenttype": "application/json",
            "time": when.isoformat().replace("+00:00", "Z"),
            "data": data,
            "path": "/score",
            "method": "POST",
            "contentrange": "bytes 0-99/100",
            "correlationid": correlation,
            "xrequestid": correlation,
            "modelversion": "default",
            "collectdatatype": "pandas.core.frame.DataFrame",
            "agent": "azureml-ai-monitoring/1.0.0",
        }
    )


def collect(
    cloud,
    env: str,
    endpoint: str,
    deployment: str,
    when: datetime,
    rows: list[dict],
    outputs: list,
    correlation: str,
) -> None:
    ws = cloud.workspace_for(env)
    folder = (
        f"modelDataCollector/{endpoint}/{deployment}/{{kind}}/{when:%Y/%m/%d/%H}/instance-1.jsonl"
    )
    for kind, data in (("model_inputs", rows), ("model_outputs", outputs)):
        name = folder.format(kind=kind)
        existing = cloud.blobs[(ws.storage_account, ws.container)].get(name, b"")
        line = cloud_event(kind, endpoint, deployment, when, correlation, data)
        cloud.put_blob(ws, name, existing + line.encode() + b"\n")


def test_production_data_joins_inputs_outputs_and_labels_in_the_window_only(
    platform, cloud, http
) -> None:
    row = {"tenure_months": 12, "monthly_charges": 50.0, "contract": "monthly"}
    collect(
        cloud,
        "prod",
        "churn-prod",
        "churn-model-v3",
        START + timedelta(minutes=5),
        [row, dict(row, tenure_months=40)],
        [1, 0],
        "req-1",
    )
    collect(
        cloud,
        "prod",
        "churn-prod",
        "churn-model-v3",
        START + timedelta(minutes=70),
        [dict(row, contract="yearly")],
        [0],
        "req-2",
    )
    collect(
        cloud,
        "prod",
        "churn-prod",
        "churn-model-v4",
        END - timedelta(minutes=1),
        [row],
        [{"prediction": 1, "score": 0.8}],
        "req-3",
    )
    collect(
        cloud,
        "prod",
        "churn-prod",
        "churn-model-v3",
        START - timedelta(hours=3),
        [row],
        [1],
        "too-old",
    )
    labels = pd.DataFrame({"correlationid": ["req-1", "req-2"], "churned": [1, 0]})
    cloud.put_blob(
        cloud.workspace_for("prod"), "labels/churn-labels.csv", labels.to_csv(index=False).encode()
    )

    frame = platform.production_data(MODEL, "prod", START, END)
    assert list(frame["correlationid"]) == ["req-1", "req-1", "req-2", "req-3"]
    assert list(frame["prediction"]) == [1, 0, 0, 1]
    assert list(frame["tenure_months"]) == [12, 40, 12, 12]
    assert frame["score"].iloc[3] == 0.8 and pd.isna(frame["score"].iloc[0])
    assert list(frame["churned"].fillna(-1)) == [1, 1, 0, -1]
    assert list(frame["deployment"]) == ["churn-model-v3"] * 3 + ["churn-model-v4"]
    assert str(frame["timestamp"].dt.tz) == "UTC" and frame["timestamp"].is_monotonic_increasing

    downloads = [e.path for e in http.requests("GET") if e.path.endswith(".jsonl")]
    assert downloads and not any("/03/02/07/" in p for p in downloads), (
        "blobs outside the window are not read"
    )
    assert all(
        e.headers["Authorization"].startswith("Bearer ")
        for e in http.requests("GET", ".blob.core.windows.net")
    )


def test_no_collected_data_is_an_empty_frame_with_the_expected_columns(platform) -> None:
    frame = platform.production_data(MODEL, "prod", START, END)
    assert frame.empty and {"tenure_months", "prediction", "timestamp"} <= set(frame.columns)


def test_reference_data_comes_from_the_registered_data_asset(platform, cloud) -> None:
    dev = cloud.workspace_for("dev")
    reference = pd.DataFrame(
        {
            "tenure_months": [1, 2, 3],
            "monthly_charges": [10.0, 20.0, 30.0],
            "contract": ["monthly", "yearly", "monthly"],
            "churned": [1, 0, 0],
        }
    )
    buffer = io.BytesIO()
    reference.to_parquet(buffer)
    cloud.put_blob(dev, "reference/churn/train.parquet", buffer.getvalue())
    cloud.add_data_asset(
        dev,
        "churn-reference",
        "1",
        "azureml://datastores/workspaceblobstore/paths/reference/churn/",
        "uri_folder",
    )
    frame = platform.reference_data(MODEL)
    pd.testing.assert_frame_equal(frame, reference)


def test_unreadable_storage_names_the_storage_role_and_account(platform, cloud) -> None:
    prod = cloud.workspace_for("prod")
    cloud.blob_denied_accounts.add(prod.storage_account)
    with pytest.raises(PermissionDeniedError) as denied:
        platform.production_data(MODEL, "prod", START, END)
    assert "'Storage Blob Data Reader' role on" in str(denied.value)
    assert prod.storage_id in str(denied.value)


def test_collected_data_is_read_where_the_collectors_data_asset_points(platform, cloud) -> None:
    """The collector registers <endpoint>-<deployment>-<collection> as a uri_folder data asset
    (Microsoft's "Collect production data from models deployed for real-time inferencing"); a
    deployment that sends a collection elsewhere is read there, not at the default path."""
    platform.copy_version(MODEL, "3", "dev", "prod")
    platform.begin_deploy(MODEL, "3", "prod").wait(timeout=30)
    prod = cloud.workspace_for("prod")
    custom = "collected/churn/{kind}"
    for kind in ("model_inputs", "model_outputs"):
        cloud.add_data_asset(
            prod,
            f"churn-prod-churn-model-v3-{kind}",
            "1",
            f"azureml://subscriptions/{prod.subscription}/resourcegroups/{prod.resource_group}"
            f"/workspaces/{prod.name}/datastores/workspaceblobstore/paths/{custom.format(kind=kind)}",
            data_type="uri_folder",
        )
    when = START + timedelta(minutes=10)
    row = {"tenure_months": 7, "monthly_charges": 20.0, "contract": "monthly"}
    for kind, data in (("model_inputs", [row]), ("model_outputs", [1])):
        line = cloud_event(kind, "churn-prod", "churn-model-v3", when, "req-custom", data)
        cloud.put_blob(
            prod, f"{custom.format(kind=kind)}/{when:%Y/%m/%d/%H}/i-1.jsonl", line.encode() + b"\n"
        )

    labels = pd.DataFrame({"correlationid": ["req-custom"], "churned": [1]})
    cloud.put_blob(prod, "labels/churn-labels.csv", labels.to_csv(index=False).encode())

    frame = platform.production_data(MODEL, "prod", START, END)
    assert list(frame["correlationid"]) == ["req-custom"]
    assert list(frame["prediction"]) == [1] and list(frame["tenure_months"]) == [7]


def test_only_a_pinned_reference_asset_version_names_the_references_content(platform, http) -> None:
    """``azureml:<name>:<version>`` is immutable: it keys the drift check's profile cache with no
    call to Azure. A label or ``latest`` may move under the same name: unknown."""
    model = platform.settings.model(MODEL)
    assert model.reference_data == "azureml:churn-reference:1"
    before = len(http.requests())
    pinned = platform.reference_version(MODEL)
    assert pinned is not None and "churn-reference:1" in pinned
    assert len(http.requests()) == before  # no call made to tell
    for floating in ("azureml:churn-reference@latest", "azureml:churn-reference", None):
        object.__setattr__(model, "reference_data", floating)
        assert platform.reference_version(MODEL) is None
