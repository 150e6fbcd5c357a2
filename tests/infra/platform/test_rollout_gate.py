"""Issue 14 item 9: the rollout's health gate does not pass on no evidence.

Runs the real :class:`core.rollout.Rollout` on the embedded platform (real deployments, real
scoring, metrics from the request log), bare and behind :class:`GuardedPlatform` as the bot
runs it (the guard once fell back to the port's default ``probe``, a smoke test the request log
never sees, so every promotion waited out ``evidence_wait`` and rolled back). The clock's sleep
is real but short: bake times are fractions of a second.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.rollout import EvidencePolicy, HealthThresholds, Rollout, RolloutPlan
from infra.platform.base import MLPlatform
from infra.platform.guard import GuardedPlatform
from infra.store import open_store
from tests.infra.platform.conftest import PlatformHarness


def _plan(h: PlatformHarness, version: str, evidence: EvidencePolicy) -> RolloutPlan:
    return RolloutPlan(
        model=h.model,
        env=h.envs[0],
        version=version,
        steps=(10, 100),
        bake_time=timedelta(seconds=0.3),
        health=HealthThresholds(max_error_rate=0.05, max_latency_p99_ms=60_000),
        sample=h.sample,
        actor="U0ALICE",
        evidence=evidence,
    )


@pytest.fixture(params=["bare", "guarded"])
def served(
    local_env: PlatformHarness, tmp_path: Path, request: pytest.FixtureRequest
) -> tuple[PlatformHarness, Rollout, str]:
    """v1 serves 100% of dev; a second version waits to be rolled out. No live traffic."""
    h = local_env
    if request.param == "guarded":
        h = replace(h, platform=GuardedPlatform(h.platform))
    rollout = Rollout(h.platform, open_store(f"sqlite:///{tmp_path / 'bot.db'}"))
    first = replace(_plan(h, h.known_version, EvidencePolicy()), steps=(100,))
    assert rollout.run(first, lambda steps: None).ok
    return h, rollout, h.seed_version(h.envs[0]).version


def test_probes_give_the_gate_evidence_when_no_live_traffic_comes(served) -> None:  # type: ignore[no-untyped-def]
    h, rollout, candidate = served
    result = rollout.run(_plan(h, candidate, EvidencePolicy(probe_requests=3)), lambda s: None)
    assert result.ok, result.reason
    detail = result.steps[2].detail
    assert re.search(r"healthy over (1 request|\d+ requests) \(errors", detail), detail
    assert "no traffic" not in " ".join(s.detail for s in result.steps)


def test_no_evidence_rolls_back_after_the_wait_saying_why(served) -> None:  # type: ignore[no-untyped-def]
    h, rollout, candidate = served
    policy = EvidencePolicy(probe_traffic=False, wait=timedelta(seconds=0.2), on_none="rollback")
    result = rollout.run(_plan(h, candidate, policy), lambda s: None)
    assert not result.ok and not result.held
    assert "no request reached" in (result.reason or "")
    assert "no traffic is not evidence of health" in (result.reason or "")
    state = h.platform.endpoint_state(h.model, h.envs[0])
    assert [d.model_version for d in state.serving] == [h.known_version]
    assert result.new_deployment not in {d.name for d in state.deployments}


def test_no_evidence_holds_at_the_share_when_the_policy_says_hold(served) -> None:  # type: ignore[no-untyped-def]
    h, rollout, candidate = served
    policy = EvidencePolicy(probe_traffic=False, wait=timedelta(seconds=0.2), on_none="hold")
    result = rollout.run(_plan(h, candidate, policy), lambda s: None)
    assert not result.ok and result.held
    assert "held at this share" in (result.reason or "")
    split = {
        d.model_version: d.traffic
        for d in h.platform.endpoint_state(h.model, h.envs[0]).deployments
    }
    assert split == {h.known_version: 90, candidate: 10}


def test_probes_are_not_production_data_nor_live_traffic(served) -> None:  # type: ignore[no-untyped-def]
    """The gate's probes prove the deployment answers; drift, performance and utilization
    checks must not read them as users' requests."""
    h, rollout, candidate = served
    env = h.envs[0]
    start = datetime.now(UTC) - timedelta(minutes=1)
    result = rollout.run(_plan(h, candidate, EvidencePolicy(probe_requests=4)), lambda s: None)
    assert result.ok, result.reason
    end = datetime.now(UTC) + timedelta(minutes=1)
    assert h.platform.production_data(h.model, env, start, end).empty
    live = h.platform.deployment_metrics(h.model, env, start, end, interval_minutes=1)
    assert live["requests_per_minute"].sum() == 0
    new = result.new_deployment
    seen = h.platform.deployment_metrics(
        h.model, env, start, end, deployment=new, interval_minutes=1, include_probes=True
    )
    assert seen["requests_per_minute"].sum() >= 4
    unseen = h.platform.deployment_metrics(
        h.model, env, start, end, deployment=new, interval_minutes=1
    )
    assert unseen["requests_per_minute"].sum() == 0

    h.send_traffic(env, 3)  # live requests (stamped over the last 5 minutes) still count
    earlier = start - timedelta(minutes=10)
    assert len(h.platform.production_data(h.model, env, earlier, end)) == 3


def test_the_guard_forwards_every_method_of_the_port() -> None:
    """A port method the guard does not override silently runs the port's default (or the
    inner adapter unguarded): every method of :class:`MLPlatform` is overridden."""
    port = {
        name
        for name, value in vars(MLPlatform).items()
        if callable(value) and not name.startswith("_")
    }
    missing = sorted(name for name in port if name not in vars(GuardedPlatform))
    assert not missing, f"GuardedPlatform does not forward {missing}"
