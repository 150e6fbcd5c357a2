"""The rollout (core/rollout.py) driving the Azure adapter through its failure paths."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.rollout import HealthThresholds, Rollout, RolloutPlan
from infra.store import open_store

from .azure_fake_shapes import default_metric
from .azure_world import FEATURES_SAMPLE, MODEL


@pytest.fixture
def rollout(platform, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'bot.db'}")
    return Rollout(platform, store, sleep=lambda seconds: None)


def plan(version: str, sample=FEATURES_SAMPLE, bake_time=timedelta(0)) -> RolloutPlan:
    return RolloutPlan(
        model=MODEL,
        env="dev",
        version=version,
        steps=(10, 100),
        bake_time=bake_time,
        health=HealthThresholds(max_error_rate=0.05, max_latency_p99_ms=500),
        sample=sample,
        actor="U012ABCDEF",
    )


def serve(platform, version: str) -> str:
    name = platform.begin_deploy(MODEL, version, "dev").wait(timeout=30).name
    platform.set_traffic(MODEL, "dev", {name: 100})
    return name


def test_a_deployment_that_ends_failed_fails_the_rollout_and_keeps_the_old_split(
    platform, cloud, rollout
) -> None:
    old = serve(platform, "2")
    cloud.deployment_failures["churn-model-v3"] = {
        "code": "ResourceNotReady",
        "message": "User container has crashed",
    }
    reports = []
    result = rollout.run(plan("3"), reports.append)
    assert not result.ok and "User container has crashed" in (result.reason or "")
    assert reports[-1][0].state.value == "failed"
    state = platform.endpoint_state(MODEL, "dev")
    assert state.deployment(old).traffic == 100
    # Azure keeps a deployment whose creation failed (state Failed, quota held): it is deleted.
    assert [d.name for d in state.deployments] == [old]


def test_a_failed_smoke_test_rolls_back_by_deleting_the_new_deployment(
    platform, cloud, rollout
) -> None:
    old = serve(platform, "2")
    cloud.scoring_columns = {"tenure_months", "monthly_charges", "contract"}
    result = rollout.run(plan("3", sample=[{"unexpected": 1}]), lambda steps: None)
    assert not result.ok and "smoke test failed" in (result.reason or "")
    assert "model error: the model container failed (HTTP 424, model answered 500" in (
        result.reason or ""
    )
    state = platform.endpoint_state(MODEL, "dev")
    assert [d.name for d in state.deployments] == [old] and state.deployment(old).traffic == 100


def test_a_good_rollout_shifts_traffic_in_steps(platform, http, rollout) -> None:
    serve(platform, "2")
    result = rollout.run(plan("3"), lambda steps: None)
    assert result.ok, result.reason
    splits = [
        e.json()["properties"]["traffic"]
        for e in http.requests("PUT", "/onlineEndpoints/churn-dev?")
    ]
    assert splits[-2:] == [{"churn-model-v2": 90, "churn-model-v3": 10}, {"churn-model-v3": 100}]


@pytest.mark.parametrize(
    ("failing", "answers"),
    [
        ("5xx", {"200": 40.0, "503": 60.0}),
        # 424: the model container failed (Microsoft's "Troubleshoot online endpoints").
        ("model 424", {"200": 40.0, "424": 60.0}),
    ],
)
def test_a_new_deployment_answering_errors_is_rolled_back_on_monitor_metrics_alone(
    platform, cloud, http, rollout, failing, answers
) -> None:
    """dev has no Log Analytics workspace: the gate sees only Azure Monitor's RequestsPerMinute
    split by statusCode, whose dimension names come back in lower case."""
    old = serve(platform, "2")

    def metrics(key: str, metric: str, stamp, split):
        if split is not None and key.endswith("|churn-model-v3"):
            return answers.get(split)
        return default_metric(key, metric, stamp, split)

    cloud.metric_values = metrics
    result = rollout.run(plan("3", bake_time=timedelta(minutes=5)), lambda steps: None)
    assert not result.ok, f"a deployment failing with {failing} was shifted to 100%"
    assert "error rate 60.0% is above the limit" in (result.reason or "")
    state = platform.endpoint_state(MODEL, "dev")
    assert [d.name for d in state.deployments] == [old] and state.deployment(old).traffic == 100
    assert not http.requests("POST", "/v1/workspaces/"), "no Log Analytics in dev"
