"""The platform side of a shadow evaluation: deploy the candidate at 0% and mirror a share of
live traffic to it, stop the mirror, delete the shadow deployment, and measure the evidence
(the candidate's answers, latency and errors against the serving deployment's).

These steps only talk to the :class:`~infra.platform.base.MLPlatform` port. Deciding when to
take them, claiming them against other replicas and recording what happened on the request
stays in :mod:`core.promotion.shadow`; here a step either does its platform work or raises
:class:`~infra.platform.base.PlatformError`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pandas as pd

from core.promotion.evidence import CONTEXT_KEY, ShadowState
from core.promotion.states import ApprovalSnapshot
from core.rollout import DEPLOY_TIMEOUT_SECONDS
from engine.shadow import LatencySummary, ShadowComparison, compare_shadow
from infra.platform.base import EndpointState, MLPlatform, PlatformError
from infra.settings import Settings, ShadowPolicy


def model_task(settings: Settings, model: str) -> str:
    """The model's task; a model no longer configured is judged as a classifier."""
    try:
        return settings.model(model).task
    except KeyError:
        return "classification"


def live_split(state: EndpointState) -> dict[str, int]:
    """The live traffic split as it stands, to set again with a different mirror."""
    return {d.name: d.traffic for d in state.deployments if d.traffic > 0}


class ShadowDeployments:
    """Deploys, mirrors to, measures and removes a request's shadow deployment."""

    def __init__(self, platform: MLPlatform, settings: Settings) -> None:
        self.platform = platform
        self.settings = settings

    # -- deploy
    def deploy(self, approval: ApprovalSnapshot, policy: ShadowPolicy) -> dict[str, Any]:
        """Deploy (or adopt) the candidate at 0% and mirror ``policy.mirror``% to it. Returns
        the shadow fields to record: mirroring with the deployment's name, or skipped when
        there is nothing to compare with."""
        platform = self.platform
        model, env, version = approval.model, approval.target_env, approval.version
        state = platform.endpoint_state(model, env)
        serving = state.primary
        if serving is None:
            return {
                "state": ShadowState.SKIPPED.value,
                "ready": True,
                "waiting": [],
                "note": f"nothing serves {env} yet, so there is nothing to compare with",
            }
        if serving.model_version == version:
            return {
                "state": ShadowState.SKIPPED.value,
                "ready": True,
                "waiting": [],
                "note": f"v{version} already serves {env}",
            }
        platform.copy_version(model, version, approval.source_env, env)
        existing = self._existing_shadow(state, approval)
        if existing is None:
            deployment = platform.begin_deploy(model, version, env).wait(DEPLOY_TIMEOUT_SECONDS)
            name = deployment.name
        else:
            name = existing
        try:
            platform.set_traffic(model, env, live_split(state), mirror={name: policy.mirror})
        except PlatformError:
            if existing is None:  # nothing half-made is left behind
                platform.begin_delete_deployment(model, env, name).wait(DEPLOY_TIMEOUT_SECONDS)
            raise
        return {
            "state": ShadowState.MIRRORING.value,
            "deployment": name,
            "serving_deployment": serving.name,
            "serving_version": serving.model_version,
        }

    @staticmethod
    def _existing_shadow(state: EndpointState, approval: ApprovalSnapshot) -> str | None:
        """The candidate's deployment at 0% live traffic: ours from an earlier (crashed)
        attempt, recorded on the request, or else one of the same version."""
        recorded = (approval.context.get(CONTEXT_KEY) or {}).get("deployment")
        idle = [
            d.name
            for d in state.deployments
            if d.model_version == approval.version and d.traffic == 0 and d.healthy
        ]
        if recorded in idle:
            return str(recorded)
        return idle[-1] if idle else None

    # -- stop and remove
    def stop_mirror(self, approval: ApprovalSnapshot) -> None:
        """Mirror nothing any more, keeping the live split as it is."""
        state = self.platform.endpoint_state(approval.model, approval.target_env)
        self.platform.set_traffic(approval.model, approval.target_env, live_split(state), mirror={})

    def delete(self, approval: ApprovalSnapshot, name: str) -> str:
        """Stop mirroring to ``name`` and delete it, unless it takes live traffic now (then it
        is not the shadow any more). Returns what was done, for the audit trail."""
        platform = self.platform
        state = platform.endpoint_state(approval.model, approval.target_env)
        found = next((d for d in state.deployments if d.name == name), None)
        if found is None:
            return f"{name} was already gone"
        if found.traffic:
            return f"kept {name}: it serves live traffic now"
        if found.mirror_traffic:
            platform.set_traffic(approval.model, approval.target_env, live_split(state), mirror={})
        platform.begin_delete_deployment(approval.model, approval.target_env, name).wait(
            DEPLOY_TIMEOUT_SECONDS
        )
        return f"removed {name}"

    # -- evidence
    def evidence(
        self,
        approval: ApprovalSnapshot,
        candidate: str | None,
        serving: str | None,
        start: datetime,
        end: datetime,
    ) -> tuple[ShadowComparison | None, str | None]:
        """The comparison of the candidate with the serving deployment over [start, end)."""
        if candidate is None or serving is None or end <= start:
            return None, None
        scored = self.platform.scored_requests(
            approval.model, approval.target_env, start, end, [serving, candidate]
        )
        frame = scored.frame
        task = model_task(self.settings, approval.model)
        old = frame[(frame["deployment"] == serving) & ~frame["mirrored"].astype(bool)]
        new = frame[frame["deployment"] == candidate]
        comparison = compare_shadow(old, new, task=task, joinable=scored.joinable)
        if not scored.per_request_latency:
            comparison = self._with_monitor_latency(
                approval, comparison, serving, candidate, start, end
            )
        return comparison, scored.note

    def _with_monitor_latency(
        self,
        approval: ApprovalSnapshot,
        comparison: ShadowComparison,
        serving: str,
        candidate: str,
        start: datetime,
        end: datetime,
    ) -> ShadowComparison:
        """Latency and errors per deployment from the platform's metrics (Azure Monitor)."""
        summaries = {}
        for name in (serving, candidate):
            metrics = self.platform.deployment_metrics(
                approval.model, approval.target_env, start, end, deployment=name, interval_minutes=5
            )
            summaries[name] = metrics_summary(metrics, 5)
        return replace(
            comparison,
            serving_latency=summaries[serving],
            candidate_latency=summaries[candidate],
            candidate_requests=max(comparison.candidate_requests, summaries[candidate].requests),
        )


def metrics_summary(metrics: pd.DataFrame, interval_minutes: int) -> LatencySummary:
    """Requests, latency and error rate of a deployment from bucketed metrics: p50 weighted by
    the requests of each bucket, p99 the worst bucket's (a bound, not the exact percentile)."""
    if metrics.empty or "requests_per_minute" not in metrics:
        return LatencySummary()
    counts = metrics["requests_per_minute"].fillna(0) * interval_minutes
    total = float(counts.sum())
    if total <= 0:
        return LatencySummary()

    def weighted(column: str) -> float | None:
        if column not in metrics:
            return None
        values = metrics[column]
        mask = values.notna() & (counts > 0)
        return (
            float((values[mask] * counts[mask]).sum() / counts[mask].sum()) if mask.any() else None
        )

    p99 = (
        metrics["latency_p99_ms"].dropna()
        if "latency_p99_ms" in metrics
        else pd.Series(dtype=float)
    )
    return LatencySummary(
        requests=round(total),
        p50_ms=weighted("latency_p50_ms"),
        p99_ms=float(p99.max()) if len(p99) else None,
        error_rate=weighted("error_rate"),
    )
