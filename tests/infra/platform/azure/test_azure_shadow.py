"""Shadow evaluation on Azure ML, through the real SDK against the fake cloud: the endpoint's
``mirrorTraffic`` as the SDK sends it, and the two deployments' collected answers paired by
correlation id (or, when the collector gave the mirrored copies their own ids, not paired and
said so)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from .azure_world import MODEL
from .test_azure_data import END, START, collect
from .test_azure_endpoints import deploy

ROW = {"tenure_months": 12, "monthly_charges": 50.0, "contract": "monthly"}


def labels(cloud, **values: int) -> None:
    frame = pd.DataFrame({"correlationid": list(values), "churned": list(values.values())})
    cloud.put_blob(
        cloud.workspace_for("prod"), "labels/churn-labels.csv", frame.to_csv(index=False).encode()
    )


def test_mirror_traffic_is_sent_to_azure_and_cleared_again(platform, http) -> None:
    deploy(platform, "2")
    deploy(platform, "3")
    platform.set_traffic(MODEL, "dev", {"churn-model-v2": 100})
    state = platform.set_traffic(
        MODEL, "dev", {"churn-model-v2": 100}, mirror={"churn-model-v3": 20}
    )
    put = http.requests("PUT", "/onlineEndpoints/churn-dev?")[-1].json()["properties"]
    assert put["mirrorTraffic"] == {"churn-model-v3": 20}
    assert put["traffic"]["churn-model-v2"] == 100
    assert state.deployment("churn-model-v3").mirror_traffic == 20

    # The shadow ends (a rejected request, or its rollout taking it over): mirroring stops.
    state = platform.set_traffic(MODEL, "dev", {"churn-model-v2": 100}, mirror={})
    put = http.requests("PUT", "/onlineEndpoints/churn-dev?")[-1].json()["properties"]
    assert not put.get("mirrorTraffic")
    assert state.deployment("churn-model-v3").mirror_traffic == 0
    platform.begin_delete_deployment(MODEL, "dev", "churn-model-v3").wait(30)


def test_collected_answers_of_both_deployments_pair_by_correlation_id(platform, cloud) -> None:
    when = START + timedelta(minutes=5)
    for deployment, outputs in (("churn-model-v3", [1, 0]), ("churn-model-v4", [1, 1])):
        collect(cloud, "prod", "churn-prod", deployment, when, [ROW, ROW], outputs, "req-1")
    collect(cloud, "prod", "churn-prod", "churn-model-v3", when, [ROW], [0], "req-2")
    labels(cloud, **{"req-1": 1})

    scored = platform.scored_requests(
        MODEL, "prod", START, END, ["churn-model-v3", "churn-model-v4"]
    )
    assert scored.joinable and scored.note is None and not scored.per_request_latency
    frame = scored.frame
    assert sorted(frame.loc[frame["deployment"] == "churn-model-v4", "correlation_id"]) == [
        "req-1",
        "req-1",
    ]
    assert list(frame.loc[frame["mirrored"], "deployment"].unique()) == ["churn-model-v4"]
    assert sorted(frame["prediction"].tolist()) == [0, 0, 1, 1, 1]
    assert frame.loc[frame["correlation_id"] == "req-1", "label"].tolist() == [1, 1, 1, 1]


def test_answers_that_cannot_be_paired_are_said_so(platform, cloud) -> None:
    when = START + timedelta(minutes=5)
    collect(cloud, "prod", "churn-prod", "churn-model-v3", when, [ROW], [1], "live-1")
    collect(cloud, "prod", "churn-prod", "churn-model-v4", when, [ROW], [0], "mirror-1")
    labels(cloud)
    scored = platform.scored_requests(
        MODEL, "prod", START, END, ["churn-model-v3", "churn-model-v4"]
    )
    assert not scored.joinable
    assert "cannot be paired" in scored.note and "distributions only" in scored.note


def test_evidence_on_azure_pairs_collected_answers_and_takes_latency_from_monitor(
    platform, cloud, azure_settings
) -> None:
    """The shadow evaluation's evidence on Azure: predictions from the data collector of both
    deployments, latency and errors per deployment from Azure Monitor."""
    from types import SimpleNamespace

    from core.promotion.shadow import ShadowEvaluator
    from core.promotion.states import ApprovalSnapshot, ApprovalState

    for version in ("2", "3"):
        platform.copy_version(MODEL, version, "dev", "prod")
        platform.begin_deploy(MODEL, version, "prod").wait(timeout=30)
    platform.set_traffic(MODEL, "prod", {"churn-model-v2": 100}, mirror={"churn-model-v3": 20})
    when = START + timedelta(minutes=5)
    for i in range(4):
        for deployment, output in (("churn-model-v2", i % 2), ("churn-model-v3", 1)):
            collect(cloud, "prod", "churn-prod", deployment, when, [ROW], [output], f"req-{i}")
    labels(cloud, **{f"req-{i}": 1 for i in range(4)})
    approval = ApprovalSnapshot(
        id="0123456789ab",
        model=MODEL,
        version="3",
        source_env="preprod",
        target_env="prod",
        requester="U1",
        state=ApprovalState.PENDING,
        required=2,
        created_at=START,
        updated_at=START,
        expires_at=END,
        channel=None,
        message_ts=None,
        reason=None,
        rollout={},
        context={},
        row_version=0,
    )
    desk = SimpleNamespace(platform=platform, settings=azure_settings)
    evidence, note = ShadowEvaluator(desk).deployments.evidence(  # type: ignore[arg-type]
        approval, "churn-model-v3", "churn-model-v2", START, END
    )
    assert note is None and evidence is not None
    assert (evidence.paired, evidence.labelled) == (4, 4)
    assert evidence.agreement == 0.5
    assert (evidence.serving_accuracy, evidence.candidate_accuracy) == (0.5, 1.0)
    # Azure Monitor's series of each deployment (the fake's default shape: p50 20 ms, p99 80
    # ms, 2% errors), not the collector's rows, which carry no latency.
    for summary in (evidence.candidate_latency, evidence.serving_latency):
        assert (summary.p50_ms, summary.p99_ms) == (20.0, 80.0)
        assert summary.error_rate == pytest.approx(0.02) and summary.requests > 0
