"""Seeding the demo: the state it leaves, idempotence, and the drift it plants."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bot.demo.data import DRIFTING_FEATURES, generate_churn_data
from bot.demo.seed import MARKER_FILE, REFERENCE_ROWS, SeedPlan, SeedSummary, seed_demo
from bot.demo.traffic import simulate_traffic
from infra.defaults import DEMO_MODEL, demo_config
from infra.platform.base import JobStatus
from infra.platform.local import LocalPlatform
from infra.settings import Settings
from tests.bot.demo.seeded import QUICK_VERSIONS

SMALL_PLAN = SeedPlan(
    history_rows=3_000, requests_per_day={0: 40, 1: 10, 2: 5}, versions=QUICK_VERSIONS
)


def settings_for(state_dir: Path) -> Settings:
    return Settings.model_validate(demo_config()).model_copy(
        update={"resolved_state_dir": str(state_dir)}
    )


@dataclass
class Seeded:
    settings: Settings
    summary: SeedSummary
    messages: list[tuple[str, float]]

    def platform(self) -> LocalPlatform:
        return LocalPlatform(self.settings)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    settings = settings_for(tmp_path_factory.mktemp("demo") / "state")
    messages: list[tuple[str, float]] = []
    summary = seed_demo(settings, lambda m, f: messages.append((m, f)), plan=SMALL_PLAN)
    return Seeded(settings, summary, messages)


@pytest.fixture
def platform(seeded: Seeded) -> Iterator[LocalPlatform]:
    opened = seeded.platform()
    yield opened
    opened.close()


def snapshot(settings: Settings) -> dict[str, Any]:
    """What a second seeding must not change."""
    platform = LocalPlatform(settings)
    try:
        state: dict[str, Any] = {}
        for env in settings.env_names:
            state[env] = (
                platform.list_versions(DEMO_MODEL, env),
                platform.endpoint_state(DEMO_MODEL, env),
                [(j.id, j.status) for j in platform.list_jobs(DEMO_MODEL, env, limit=50)],
                sorted(
                    str(p.relative_to(settings.state_path))
                    for p in platform.layout.envs[env].traffic(DEMO_MODEL).rglob("*.parquet")
                ),
            )
        state["marker"] = json.loads((settings.state_path / MARKER_FILE).read_text())
        state["reference"] = platform.reference_data(DEMO_MODEL)
        return state
    finally:
        platform.close()


def test_three_versions_serve_dev_preprod_and_prod(seeded: Seeded, platform: LocalPlatform) -> None:
    summary = seeded.summary
    assert summary.seeded
    assert summary.versions == {"v1": "1", "v2": "2", "v3": "3"}
    assert summary.serving == {"prod": "1", "preprod": "2", "dev": "3"}
    for env, version in summary.serving.items():
        state = platform.endpoint_state(DEMO_MODEL, env)
        assert state.primary is not None and state.primary.model_version == version
        assert state.primary.traffic == 100 and state.healthy
    assert [v.version for v in platform.list_versions(DEMO_MODEL, "dev")] == ["3", "2", "1"]
    prod_version = platform.get_version(DEMO_MODEL, "1", "prod")
    assert prod_version.source == "registry" and prod_version.metrics["accuracy"] > 0.7
    jobs = platform.list_jobs(DEMO_MODEL, "dev")
    assert [j.status for j in jobs] == [JobStatus.COMPLETED] * 3
    assert seeded.messages[-1] == ("Demo seeded", 1.0)
    fractions = [f for _, f in seeded.messages]
    assert fractions == sorted(fractions)


def test_reference_data_is_the_scored_baseline(platform: LocalPlatform) -> None:
    reference = platform.reference_data(DEMO_MODEL)
    assert len(reference) == min(REFERENCE_ROWS, SMALL_PLAN.history_rows)
    assert {"prediction", "score", "churned", "gender", "monthly_charges"} <= set(reference.columns)
    assert reference["score"].between(0, 1).all()


def test_a_month_of_labelled_traffic_is_logged(seeded: Seeded, platform: LocalPlatform) -> None:
    summary = seeded.summary
    data = platform.production_data(DEMO_MODEL, "prod", summary.start, summary.end)
    assert len(data) == summary.requests["prod"] == 40 * 30
    # Every request's outcome is recorded; a label shows a day after its request (the demo's
    # models[].local.label_delay), so the newest day is unlabelled until then.
    assert data["churned"].notna().sum() > 0

    def read_at(now: datetime) -> pd.DataFrame:
        at = LocalPlatform(seeded.settings, clock=lambda: now)
        try:
            return at.production_data(DEMO_MODEL, "prod", summary.start, summary.end)
        finally:
            at.close()

    at_the_end = read_at(summary.end)
    young = at_the_end["timestamp"] >= summary.end - timedelta(days=1)
    assert young.any() and (~young).any()
    assert at_the_end.loc[~young, "churned"].notna().all()
    assert at_the_end.loc[young, "churned"].isna().all()
    assert read_at(summary.end + timedelta(days=1))["churned"].notna().all()
    assert (data["model_version"] == "1").all()
    assert data["timestamp"].min() >= summary.start and data["timestamp"].max() < summary.end
    assert len(platform.traffic_days(DEMO_MODEL, "prod")) in (30, 31)
    metrics = platform.deployment_metrics(
        DEMO_MODEL, "prod", summary.end - timedelta(days=1), summary.end, interval_minutes=60
    )
    assert len(metrics) == 24 and metrics["requests_per_minute"].sum() > 0


def test_drift_starts_on_the_known_day_and_accuracy_drops(
    seeded: Seeded, platform: LocalPlatform
) -> None:
    summary = seeded.summary
    assert summary.drift_start == summary.start + timedelta(days=20)
    data = platform.production_data(DEMO_MODEL, "prod", summary.start, summary.end)
    after = data["timestamp"] >= summary.drift_start
    before_rows, after_rows = data[~after], data[after]
    assert before_rows["monthly_charges"].mean() + 6 < after_rows["monthly_charges"].mean()
    assert before_rows["support_calls"].mean() + 0.4 < after_rows["support_calls"].mean()
    share = lambda rows: (rows["contract"] == "month-to-month").mean()  # noqa: E731
    assert share(before_rows) + 0.1 < share(after_rows)

    def accuracy(rows: pd.DataFrame) -> float:
        return float((rows["prediction"] == rows["churned"]).mean())

    assert accuracy(before_rows) > 0.75
    assert accuracy(after_rows) < accuracy(before_rows) - 0.1


def test_seeding_again_changes_nothing(seeded: Seeded) -> None:
    before = snapshot(seeded.settings)
    again = seed_demo(seeded.settings, plan=SMALL_PLAN)
    assert not again.seeded
    assert (again.versions, again.serving, again.start) == (
        seeded.summary.versions,
        seeded.summary.serving,
        seeded.summary.start,
    )
    after = snapshot(seeded.settings)
    reference_before, reference_after = before.pop("reference"), after.pop("reference")
    pd.testing.assert_frame_equal(reference_before, reference_after)
    assert after == before


def test_an_interrupted_seed_resumes_without_duplicates(seeded: Seeded, tmp_path: Path) -> None:
    copy = tmp_path / "state"
    shutil.copytree(seeded.settings.state_path, copy)
    marker = copy / MARKER_FILE
    state = json.loads(marker.read_text())
    state["complete"] = False
    marker.write_text(json.dumps(state))
    settings = settings_for(copy)
    before = snapshot(settings)
    resumed = seed_demo(settings, plan=SMALL_PLAN)
    assert resumed.seeded  # it walked the steps again...
    after = snapshot(settings)
    for env in settings.env_names:  # ...and found each one done
        assert after[env] == before[env]


def test_simulated_live_traffic_is_scored_and_labelled(seeded: Seeded, tmp_path: Path) -> None:
    copy = tmp_path / "state"
    shutil.copytree(seeded.settings.state_path, copy)
    settings = settings_for(copy)
    # The seed's traffic ends at the top of the hour it ran in, and the window below starts
    # there: in the first minute of that hour "now" would put some of the calm minute before
    # it. So the calm minute ends at least a minute after the seeded traffic.
    calm_end = max(datetime.now(UTC), seeded.summary.end + timedelta(minutes=1, seconds=1))
    # Read a day after the traffic, when the labels recorded with it have arrived.
    platform = LocalPlatform(settings, clock=lambda: calm_end + timedelta(days=1, minutes=5))
    try:
        calm = simulate_traffic(
            platform, settings, DEMO_MODEL, "prod", 150, drifted=False, seed=1, now=calm_end
        )
        later = calm_end + timedelta(minutes=2)
        drifted = simulate_traffic(
            platform, settings, DEMO_MODEL, "prod", 150, drifted=True, seed=2, now=later
        )
        assert calm.requests == drifted.requests == 150 and calm.errors == 0
        assert calm.by_deployment == {"churn-model-v1": 150}
        assert calm.accuracy is not None and drifted.accuracy is not None
        assert drifted.accuracy < calm.accuracy
        window = platform.production_data(
            DEMO_MODEL, "prod", seeded.summary.end, later + timedelta(minutes=1)
        )
        assert len(window) == 300 and window["churned"].notna().all()
        recent = window["timestamp"] > later - timedelta(minutes=1, seconds=1)
        assert (
            window[recent]["monthly_charges"].mean() > window[~recent]["monthly_charges"].mean() + 5
        )
    finally:
        platform.close()


def test_the_generator_is_deterministic_and_drifts_only_after_the_start() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end, drift = start + timedelta(days=10), start + timedelta(days=5)
    one = generate_churn_data(2_000, seed=3, start=start, end=end, drift_start=drift)
    two = generate_churn_data(2_000, seed=3, start=start, end=end, drift_start=drift)
    pd.testing.assert_frame_equal(one, two)
    assert one["timestamp"].is_monotonic_increasing
    early = one[one["timestamp"] < drift]
    baseline = generate_churn_data(2_000, seed=4, start=start, end=end)
    assert abs(early["monthly_charges"].mean() - baseline["monthly_charges"].mean()) < 3
    late = one[one["timestamp"] >= drift]
    assert late["monthly_charges"].mean() > early["monthly_charges"].mean() + 6
    assert set(DRIFTING_FEATURES) <= set(one.columns)
