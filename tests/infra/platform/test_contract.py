"""The contract every ML platform adapter must honour, run against each adapter in ADAPTERS.

The tests talk only to the port (:class:`infra.platform.base.MLPlatform`) and the harness, so the
same assertions hold for the embedded platform and for Azure ML.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from infra.platform.base import (
    METRIC_COLUMNS,
    ConflictError,
    Deployment,
    InvalidRequestError,
    JobStatus,
    NotFoundError,
)
from tests.infra.platform.conftest import PlatformHarness


def deploy(h: PlatformHarness, env: str, version: str, *, traffic: bool = True) -> Deployment:
    deployment = h.platform.begin_deploy(h.model, version, env).wait(timeout=60)
    if traffic:
        h.platform.set_traffic(h.model, env, {deployment.name: 100})
    return deployment


# --------------------------------------------------------------------------- health and models


def test_check_passes_on_a_working_platform(platform_env: PlatformHarness) -> None:
    platform_env.platform.check()


def test_known_version_is_listed_with_its_details(platform_env: PlatformHarness) -> None:
    h = platform_env
    env = h.envs[0]
    assert h.model in h.platform.list_models(env)
    versions = h.platform.list_versions(h.model, env)
    assert h.known_version in [v.version for v in versions]
    got = h.platform.get_version(h.model, h.known_version, env)
    assert got.name == h.model and got.version == h.known_version
    assert got.created.tzinfo is not None


def test_versions_are_listed_newest_first(platform_env: PlatformHarness) -> None:
    h = platform_env
    newer = h.seed_version(h.envs[0])
    versions = [v.version for v in h.platform.list_versions(h.model, h.envs[0])]
    assert versions[0] == newer.version
    assert versions.index(newer.version) < versions.index(h.known_version)


def test_missing_version_is_not_found_and_named(platform_env: PlatformHarness) -> None:
    h = platform_env
    with pytest.raises(NotFoundError) as caught:
        h.platform.get_version(h.model, "999", h.envs[0])
    message = str(caught.value)
    assert h.model in message and "999" in message and h.envs[0] in message


def test_unknown_environment_is_not_found(platform_env: PlatformHarness) -> None:
    with pytest.raises(NotFoundError, match="nowhere"):
        platform_env.platform.list_versions(platform_env.model, "nowhere")


# --------------------------------------------------------------------------- registry


def test_copy_goes_through_the_registry_and_twice_is_a_no_op(platform_env: PlatformHarness) -> None:
    h = platform_env
    source, target = h.envs[0], h.envs[-1]
    original = h.platform.get_version(h.model, h.known_version, source)
    first = h.platform.copy_version(h.model, h.known_version, source, target)
    second = h.platform.copy_version(h.model, h.known_version, source, target)
    assert first == second
    assert first.version == h.known_version and first.source == "registry"
    assert dict(first.metrics) == dict(original.metrics)
    assert [v.version for v in h.platform.list_versions(h.model, target)] == [h.known_version]


def test_copy_of_a_missing_version_is_not_found(platform_env: PlatformHarness) -> None:
    h = platform_env
    with pytest.raises(NotFoundError):
        h.platform.copy_version(h.model, "999", h.envs[0], h.envs[1])
    assert h.platform.list_versions(h.model, h.envs[1]) == []


# --------------------------------------------------------------------------- endpoints


def test_deploy_starts_at_zero_then_traffic_shifts(platform_env: PlatformHarness) -> None:
    h = platform_env
    env = h.envs[0]
    assert not h.platform.endpoint_state(h.model, env).exists
    operation = h.platform.begin_deploy(h.model, h.known_version, env)
    blue = operation.wait(timeout=60)
    assert operation.messages, "a deployment reports progress"
    assert blue.traffic == 0 and blue.healthy and blue.model_version == h.known_version
    state = h.platform.set_traffic(h.model, env, {blue.name: 100})
    assert state.primary is not None and state.primary.name == blue.name

    newer = h.seed_version(env)
    green = h.platform.begin_deploy(h.model, newer.version, env).wait(timeout=60)
    assert green.name != blue.name and green.traffic == 0
    assert h.platform.endpoint_state(h.model, env).deployment(blue.name).traffic == 100

    state = h.platform.set_traffic(h.model, env, {blue.name: 90, green.name: 10})
    assert {d.name: d.traffic for d in state.deployments} == {blue.name: 90, green.name: 10}
    state = h.platform.set_traffic(h.model, env, {green.name: 100})
    assert state.primary is not None and state.primary.model_version == newer.version
    assert state.deployment(blue.name).traffic == 0


def test_deploying_a_missing_version_is_not_found(platform_env: PlatformHarness) -> None:
    h = platform_env
    with pytest.raises(NotFoundError):
        h.platform.begin_deploy(h.model, "999", h.envs[0]).wait(timeout=60)


def test_deployment_names_must_be_unique(platform_env: PlatformHarness) -> None:
    h = platform_env
    first = deploy(h, h.envs[0], h.known_version, traffic=False)
    with pytest.raises(ConflictError):
        h.platform.begin_deploy(
            h.model, h.known_version, h.envs[0], deployment_name=first.name
        ).wait(60)


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        ({"__first__": 60}, "100"),
        ({"__first__": 60, "__second__": 60}, "100"),
        ({"__first__": 100, "ghost": 0}, "ghost"),
        ({"__first__": 101}, "0-100"),
    ],
)
def test_a_bad_traffic_split_is_refused_and_changes_nothing(
    platform_env: PlatformHarness, split: dict[str, int], expected: str
) -> None:
    h = platform_env
    env = h.envs[0]
    first = deploy(h, env, h.known_version)
    second = deploy(h, env, h.seed_version(env).version, traffic=False)
    names = {"__first__": first.name, "__second__": second.name}
    before = h.platform.endpoint_state(h.model, env)
    with pytest.raises(InvalidRequestError) as caught:
        h.platform.set_traffic(h.model, env, {names.get(k, k): v for k, v in split.items()})
    assert expected in str(caught.value)
    assert h.platform.endpoint_state(h.model, env) == before


def test_mirror_traffic_goes_to_an_idle_deployment_only(platform_env: PlatformHarness) -> None:
    h = platform_env
    env = h.envs[0]
    live = deploy(h, env, h.known_version)
    shadow = deploy(h, env, h.seed_version(env).version, traffic=False)
    state = h.platform.set_traffic(h.model, env, {live.name: 100}, mirror={shadow.name: 20})
    assert state.deployment(shadow.name).mirror_traffic == 20
    with pytest.raises(InvalidRequestError):
        h.platform.set_traffic(h.model, env, {live.name: 100}, mirror={live.name: 10})
    state = h.platform.set_traffic(h.model, env, {live.name: 100}, mirror={})
    assert state.deployment(shadow.name).mirror_traffic == 0


def test_traffic_on_a_missing_endpoint_is_not_found(platform_env: PlatformHarness) -> None:
    h = platform_env
    with pytest.raises(NotFoundError):
        h.platform.set_traffic(h.model, h.envs[-1], {"blue": 100})


def test_smoke_test_scores_the_sample_on_that_deployment(platform_env: PlatformHarness) -> None:
    h = platform_env
    env = h.envs[0]
    idle = deploy(h, env, h.known_version, traffic=False)
    result = h.platform.smoke_test(h.model, env, idle.name, h.sample)
    assert result.ok, result.detail
    assert result.latency_ms > 0
    assert len(result.response["predictions"]) == len(h.sample)


def test_smoke_test_reports_a_sample_the_model_cannot_score(platform_env: PlatformHarness) -> None:
    h = platform_env
    env = h.envs[0]
    idle = deploy(h, env, h.known_version, traffic=False)
    result = h.platform.smoke_test(h.model, env, idle.name, [{"unexpected": 1}])
    assert not result.ok
    assert result.detail


def test_smoke_test_of_an_unknown_deployment_is_not_found(platform_env: PlatformHarness) -> None:
    h = platform_env
    deploy(h, h.envs[0], h.known_version)
    with pytest.raises(NotFoundError):
        h.platform.smoke_test(h.model, h.envs[0], "nosuch", h.sample)


def test_delete_deployment_only_once_it_takes_no_traffic(platform_env: PlatformHarness) -> None:
    h = platform_env
    env = h.envs[0]
    old = deploy(h, env, h.known_version)
    new = deploy(h, env, h.seed_version(env).version, traffic=False)
    with pytest.raises(ConflictError):
        h.platform.begin_delete_deployment(h.model, env, old.name).wait(timeout=60)
    h.platform.set_traffic(h.model, env, {new.name: 100})
    h.platform.begin_delete_deployment(h.model, env, old.name).wait(timeout=60)
    state = h.platform.endpoint_state(h.model, env)
    assert [d.name for d in state.deployments] == [new.name]
    with pytest.raises(NotFoundError):
        h.platform.begin_delete_deployment(h.model, env, old.name).wait(timeout=60)


# --------------------------------------------------------------------------- training


def test_training_job_produces_a_new_version(platform_env: PlatformHarness) -> None:
    h = platform_env
    env = h.envs[0]
    submitted = h.platform.submit_training(h.model, env, h.training_parameters, reason="contract")
    assert submitted.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    job = h.wait_job(env, submitted)
    assert job.status == JobStatus.COMPLETED, f"{job.error}\n{job.log_tail}"
    assert job.started is not None and job.ended is not None and job.ended >= job.started
    assert job.produced_version and job.produced_version != h.known_version
    assert "accuracy" in job.metrics and 0 <= job.metrics["accuracy"] <= 1
    assert dict(job.parameters).items() >= dict(h.training_parameters).items()
    produced = h.platform.get_version(h.model, job.produced_version, env)
    assert produced.training_job == job.id
    assert produced.metrics["accuracy"] == job.metrics["accuracy"]
    assert h.platform.list_versions(h.model, env)[0].version == job.produced_version
    assert h.platform.list_jobs(h.model, env)[0].id == job.id


def test_failing_training_gives_a_failed_job_with_its_log(platform_env: PlatformHarness) -> None:
    h = platform_env
    env = h.envs[0]
    job = h.wait_job(env, h.platform.submit_training(h.failing_model, env, {}))
    assert job.status == JobStatus.FAILED
    assert job.error and "boom" in job.error
    assert "boom" in job.log_tail
    assert job.produced_version is None
    assert h.platform.list_versions(h.failing_model, env) == []


def test_a_running_job_can_be_cancelled(platform_env: PlatformHarness) -> None:
    h = platform_env
    env = h.envs[0]
    job = h.platform.submit_training(h.slow_model, env, {})
    h.wait_job(env, job, until=lambda info: info.status == JobStatus.RUNNING)
    cancelled = h.platform.cancel_job(env, job.id)
    assert cancelled.status == JobStatus.CANCELED
    assert h.platform.cancel_job(env, job.id).status == JobStatus.CANCELED
    assert h.platform.get_job(env, job.id).status == JobStatus.CANCELED


def test_unknown_job_is_not_found(platform_env: PlatformHarness) -> None:
    with pytest.raises(NotFoundError):
        platform_env.platform.get_job(platform_env.envs[0], "no-such-job")


def test_bad_training_parameters_are_refused(platform_env: PlatformHarness) -> None:
    h = platform_env
    with pytest.raises(InvalidRequestError):
        h.platform.submit_training(h.model, h.envs[0], {"learning rate": "0.1"})
    assert h.platform.list_jobs(h.model, h.envs[0]) == []


# --------------------------------------------------------------------------- telemetry and data


def test_deployment_metrics_are_a_utc_time_series(platform_env: PlatformHarness) -> None:
    h = platform_env
    env = h.envs[0]
    served = deploy(h, env, h.known_version)
    h.send_traffic(env, 40)
    end = datetime.now(UTC) + timedelta(minutes=1)
    start = end - timedelta(hours=1)
    for deployment in (None, served.name):
        metrics = h.platform.deployment_metrics(
            h.model, env, start, end, deployment=deployment, interval_minutes=5
        )
        assert isinstance(metrics.index, pd.DatetimeIndex) and str(metrics.index.tz) == "UTC"
        assert set(metrics.columns) <= set(METRIC_COLUMNS)
        assert list(metrics.columns) == [c for c in METRIC_COLUMNS if c in metrics.columns]
        assert metrics["requests_per_minute"].sum() > 0
        assert (metrics["latency_p99_ms"].dropna() >= metrics["latency_p50_ms"].dropna()).all()


def test_reference_data_has_the_model_features(platform_env: PlatformHarness) -> None:
    reference = platform_env.platform.reference_data(platform_env.model)
    assert not reference.empty
    assert set(platform_env.sample[0]) <= set(reference.columns)


def test_production_data_holds_the_window_only(platform_env: PlatformHarness) -> None:
    h = platform_env
    env = h.envs[0]
    deploy(h, env, h.known_version)
    h.send_traffic(env, 25)
    now = datetime.now(UTC)
    data = h.platform.production_data(
        h.model, env, now - timedelta(hours=1), now + timedelta(minutes=1)
    )
    assert len(data) == 25
    assert {"timestamp", "prediction"} <= set(data.columns)
    assert set(h.sample[0]) <= set(data.columns)
    earlier = h.platform.production_data(
        h.model, env, now - timedelta(days=3), now - timedelta(days=2)
    )
    assert earlier.empty


def test_deployment_names_are_one_scheme_on_every_platform() -> None:
    from infra.platform.base import deployment_name

    assert deployment_name("churn-model", "4", []) == "churn-model-v4"
    assert deployment_name("churn-model", "4", ["CHURN-MODEL-V4"]) == "churn-model-v4-2"
    assert deployment_name("churn-model", "4", ["churn-model-v4", "churn-model-v4-2"]) == (
        "churn-model-v4-3"
    )
    assert deployment_name("9_Lives", "1", []) == "m9-lives-v1"
    long = deployment_name("a" * 60, "123", [])
    assert len(long) <= 32 and long.endswith("-v123")
