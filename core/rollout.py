"""Blue/green rollout through the platform port: deploy at 0%, smoke test, stepped traffic shift
with health checks, automatic rollback on any failure.

Used by direct deploys (``/mlops deploy``) and by approved promotions. It reports every step to a
callback (which edits the Slack card) and writes each traffic change to the audit log, so
``/mlops rollback`` knows what the split was before. :func:`plan_for` makes the plan of a
rollout from the environment's configured policy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from core.replies import Step, StepState
from core.serving import current_split, split_with
from infra.platform.base import Deployment, EndpointState, MLPlatform, PlatformError
from infra.settings import ModelConfig, Settings
from infra.store import Store

log = logging.getLogger(__name__)

DEPLOY_TIMEOUT_SECONDS = 30 * 60


@dataclass(frozen=True)
class HealthThresholds:
    max_error_rate: float
    max_latency_p99_ms: float


@dataclass(frozen=True)
class EvidencePolicy:
    """What the health gate does for evidence: probe the new deployment during each bake, and
    how long to wait for a first observation before holding or rolling back."""

    probe_traffic: bool = True
    probe_requests: int = 5
    wait: timedelta = timedelta(minutes=2)
    on_none: Literal["hold", "rollback"] = "rollback"


@dataclass(frozen=True)
class RolloutPlan:
    model: str
    env: str
    version: str
    steps: tuple[int, ...]
    bake_time: timedelta
    health: HealthThresholds
    sample: Mapping[str, Any] | Sequence[Any]
    actor: str
    instance_type: str | None = None
    instance_count: int | None = None
    subject: str | None = None
    """Audit subject (an approval id) so the trail of a promotion lists its rollout steps."""
    evidence: EvidencePolicy = field(default_factory=EvidencePolicy)
    existing_deployment: str | None = None
    """A deployment of ``version`` already up at 0% (the shadow evaluation's): the rollout
    stops its mirror and shifts traffic to it instead of deploying again."""


@dataclass
class RolloutResult:
    ok: bool
    steps: list[Step]
    new_deployment: str | None = None
    previous_split: dict[str, int] = field(default_factory=dict)
    reason: str | None = None
    held: bool = False
    """Stopped at a share with no evidence (policy ``hold``): nothing was rolled back."""


class HealthCheckFailed(Exception):
    pass


class NoEvidence(HealthCheckFailed):
    """No request reached the new deployment during the bake and the wait after it."""


class Rollout:
    def __init__(
        self,
        platform: MLPlatform,
        store: Store,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.platform = platform
        self.store = store
        self.sleep = sleep
        self.clock = clock

    @staticmethod
    def planned_steps(plan: RolloutPlan) -> list[Step]:
        first = (
            Step(f"Use the shadow deployment {plan.existing_deployment} of v{plan.version} (0%)")
            if plan.existing_deployment
            else Step(f"Deploy v{plan.version} at 0% traffic")
        )
        steps = [first, Step("Smoke test with the sample request")]
        for share in plan.steps:
            label = f"Shift {share}% of traffic"
            if share < 100 and plan.bake_time.total_seconds() > 0:
                label += f", bake {int(plan.bake_time.total_seconds())}s and check health"
            steps.append(Step(label))
        return steps

    def run(self, plan: RolloutPlan, report: Callable[[list[Step]], None]) -> RolloutResult:
        steps = self.planned_steps(plan)
        result = RolloutResult(ok=False, steps=steps)

        def mark(index: int, state: StepState, detail: str = "") -> None:
            steps[index] = replace(steps[index], state=state, detail=detail)
            report(list(steps))

        state = self.platform.endpoint_state(plan.model, plan.env)
        result.previous_split = current_split(state)
        index = 0
        try:
            mark(index, StepState.RUNNING)
            if plan.existing_deployment:
                deployment = self.adopt(plan, state)
                result.new_deployment = deployment.name
                mark(index, StepState.DONE, f"deployment {deployment.name}, mirror stopped")
            else:
                operation = self.platform.begin_deploy(
                    plan.model,
                    plan.version,
                    plan.env,
                    instance_type=plan.instance_type,
                    instance_count=plan.instance_count,
                )
                deployment = operation.wait(DEPLOY_TIMEOUT_SECONDS)
                result.new_deployment = deployment.name
                self._audit(plan, "deployment_created", deployment=deployment.name)
                mark(index, StepState.DONE, f"deployment {deployment.name}")

            index = 1
            mark(index, StepState.RUNNING)
            smoke = self.platform.smoke_test(plan.model, plan.env, deployment.name, plan.sample)
            if not smoke.ok:
                raise HealthCheckFailed(f"smoke test failed: {smoke.detail}")
            mark(index, StepState.DONE, f"answered in {smoke.latency_ms:.0f} ms")

            split = dict(result.previous_split)
            for offset, share in enumerate(plan.steps):
                index = 2 + offset
                mark(index, StepState.RUNNING)
                target = split_with(split, deployment.name, share)
                self.set_traffic(plan, split, target)
                split = {k: v for k, v in target.items() if v > 0}
                shifted_at = self.clock()
                detail = f"{deployment.name} at {share}%"
                if share < 100 and plan.bake_time.total_seconds() > 0:
                    self.bake(plan, deployment.name, plan.bake_time.total_seconds())
                    detail += "; " + self.gate(plan, deployment.name, shifted_at)
                mark(index, StepState.DONE, detail)
            result.ok = True
            self._audit(plan, "rollout_succeeded", deployment=deployment.name)
            return result
        except NoEvidence as exc:
            if plan.evidence.on_none != "hold":
                return self._fail(plan, result, state, steps, index, report, str(exc))
            reason = f"{exc}; held at this share (rollout.on_no_evidence: hold)"
            mark(index, StepState.FAILED, reason)
            for later in range(index + 1, len(steps)):
                steps[later] = replace(steps[later], state=StepState.SKIPPED)
            result.reason, result.held = reason, True
            self._audit(plan, "rollout_held", deployment=result.new_deployment, reason=reason)
            report(list(steps))
            return result
        except (PlatformError, HealthCheckFailed) as exc:
            return self._fail(plan, result, state, steps, index, report, str(exc))

    def adopt(self, plan: RolloutPlan, state: EndpointState) -> Deployment:
        """Take over the shadow deployment: still ``plan.version`` at 0% live traffic and
        healthy (else a PlatformError fails the step), its mirror stopped so that it can take
        live traffic (Azure refuses both at once) and can be deleted on a rollback."""
        name = str(plan.existing_deployment)
        deployment = state.deployment(name)
        if deployment.model_version != plan.version or deployment.traffic or not deployment.healthy:
            raise PlatformError(
                f"the shadow deployment {name} is no longer v{plan.version} at 0% and healthy"
            )
        if deployment.mirror_traffic:
            self.platform.set_traffic(plan.model, plan.env, current_split(state), mirror={})
        self._audit(plan, "shadow_adopted", deployment=name)
        return deployment

    def _fail(
        self,
        plan: RolloutPlan,
        result: RolloutResult,
        state: EndpointState,
        steps: list[Step],
        index: int,
        report: Callable[[list[Step]], None],
        reason: str,
    ) -> RolloutResult:
        """Mark the step failed, skip the rest and roll back."""
        if result.new_deployment is None:
            # A creation that failed can still leave its deployment on the endpoint (Azure
            # keeps it in state Failed, holding its quota): it is ours to delete.
            result.new_deployment = self._left_behind(plan, state)
        steps[index] = replace(steps[index], state=StepState.FAILED, detail=reason)
        report(list(steps))
        for later in range(index + 1, len(steps)):
            steps[later] = replace(steps[later], state=StepState.SKIPPED)
        result.reason = reason
        self.roll_back(plan, result)
        report(list(steps))
        return result

    def _left_behind(self, plan: RolloutPlan, before: EndpointState) -> str | None:
        """The deployment of ``plan.version`` that appeared during a failed creation, if any."""
        try:
            after = self.platform.endpoint_state(plan.model, plan.env)
        except PlatformError:
            return None
        known = {d.name for d in before.deployments}
        new = [
            d.name
            for d in after.deployments
            if d.name not in known and d.model_version == plan.version
        ]
        return new[0] if len(new) == 1 else None

    def bake(self, plan: RolloutPlan, deployment: str, seconds: float) -> None:
        """Wait ``seconds``, sending probe requests through the endpoint when the policy says
        so (spread evenly), so the gate sees the deployment answer real requests."""
        if not plan.evidence.probe_traffic:
            self.sleep(seconds)
            return
        count = max(1, plan.evidence.probe_requests)
        for _ in range(count):
            self.sleep(seconds / count)
            try:
                self.platform.probe(plan.model, plan.env, deployment, plan.sample)
            except PlatformError as exc:
                log.warning("probe of %s in %s failed: %s", deployment, plan.env, exc)

    def gate(self, plan: RolloutPlan, deployment: str, since: datetime) -> str:
        """The health verdict of the bake, which needs at least one observed request: with none
        it waits up to ``evidence.wait`` (probing on) and then raises :class:`NoEvidence`."""
        verdict = self.check_health(plan, deployment, since)
        waited = 0.0
        limit = plan.evidence.wait.total_seconds()
        while verdict is None and waited < limit:
            pause = min(10.0, limit - waited)
            self.bake(plan, deployment, pause)
            waited += pause
            verdict = self.check_health(plan, deployment, since)
        if verdict is None:
            how = "with probes" if plan.evidence.probe_traffic else "probes are off"
            raise NoEvidence(
                f"no request reached {deployment} during the bake and {int(limit)}s after it "
                f"({how}); no traffic is not evidence of health"
            )
        return verdict

    def check_health(self, plan: RolloutPlan, deployment: str, since: datetime) -> str | None:
        """The health verdict from the deployment's metrics since ``since``; None when no
        request was observed. Raises :class:`HealthCheckFailed` over a limit."""
        metrics = self.platform.deployment_metrics(
            plan.model,
            plan.env,
            since - timedelta(minutes=1),
            self.clock(),
            deployment=deployment,
            interval_minutes=1,
            include_probes=True,
        )
        if (
            metrics.empty
            or "requests_per_minute" not in metrics
            or metrics["requests_per_minute"].sum() == 0
        ):
            return None
        error_rate = (
            float(metrics["error_rate"].fillna(0).mean()) if "error_rate" in metrics else 0.0
        )
        p99 = float(metrics["latency_p99_ms"].max()) if "latency_p99_ms" in metrics else 0.0
        if error_rate > plan.health.max_error_rate:
            raise HealthCheckFailed(
                f"error rate {error_rate:.1%} is above the limit of {plan.health.max_error_rate:.1%}"
            )
        if p99 > plan.health.max_latency_p99_ms:
            raise HealthCheckFailed(
                f"p99 latency {p99:.0f} ms is above the limit of {plan.health.max_latency_p99_ms:.0f} ms"
            )
        requests = int(metrics["requests_per_minute"].sum())
        counted = f"{requests} request" + ("" if requests == 1 else "s")
        return f"healthy over {counted} (errors {error_rate:.1%}, p99 {p99:.0f} ms)"

    def set_traffic(self, plan: RolloutPlan, before: dict[str, int], after: dict[str, int]) -> None:
        self.platform.set_traffic(plan.model, plan.env, after)
        self._audit(plan, "traffic", before=before, after={k: v for k, v in after.items() if v > 0})

    def roll_back(self, plan: RolloutPlan, result: RolloutResult) -> None:
        """Put the previous split back and delete the new deployment; never raise."""
        if result.new_deployment is None:
            return
        try:
            state = self.platform.endpoint_state(plan.model, plan.env)
            current = current_split(state)
            if result.previous_split and current != result.previous_split:
                restore = {d.name: 0 for d in state.deployments}
                restore.update(result.previous_split)
                self.set_traffic(plan, current, restore)
            self.platform.begin_delete_deployment(plan.model, plan.env, result.new_deployment).wait(
                DEPLOY_TIMEOUT_SECONDS
            )
            self._audit(plan, "rolled_back", deployment=result.new_deployment, reason=result.reason)
        except PlatformError as exc:
            log.exception("rollback of %s in %s failed", plan.model, plan.env)
            result.reason = f"{result.reason}; rollback also failed: {exc}"
            self._audit(plan, "rollback_failed", deployment=result.new_deployment, error=str(exc))

    def _audit(self, plan: RolloutPlan, action: str, **detail: Any) -> None:
        self.store.audit(
            plan.actor,
            action,
            "ok" if "fail" not in action else "failed",
            model=plan.model,
            environment=plan.env,
            subject=plan.subject,
            version=plan.version,
            **detail,
        )


def previous_split(
    store: Store, model: str, env: str, current: dict[str, int]
) -> dict[str, int] | None:
    """The split before the latest traffic change that produced ``current`` (for rollback)."""
    for entry in store.audit_trail(model=model, environment=env, limit=200):
        if entry.action != "traffic":
            continue
        after = {k: int(v) for k, v in dict(entry.detail.get("after", {})).items() if int(v) > 0}
        if after == current:
            before = {
                k: int(v) for k, v in dict(entry.detail.get("before", {})).items() if int(v) > 0
            }
            return before or None
    return None


# --------------------------------------------------------------------------- plans


def sample_request(platform: MLPlatform, model: ModelConfig) -> Any:
    """The model's configured smoke-test payload, else the first reference rows' features."""
    if model.sample_request is not None:
        return model.sample_request
    reference = platform.reference_data(model.name)
    features = [c for c in model.features.all if c in reference.columns] or list(reference.columns)
    return {"input_data": reference[features].head(2).to_dict(orient="records")}


def plan_for(
    settings: Settings,
    platform: MLPlatform,
    model: ModelConfig,
    env: str,
    version: str,
    *,
    actor: str,
    final_traffic: int = 100,
    subject: str | None = None,
) -> RolloutPlan:
    policy = settings.environment(env).rollout
    steps = (*[s for s in policy.steps if s < final_traffic], final_traffic)
    return RolloutPlan(
        model=model.name,
        env=env,
        version=version,
        steps=steps,
        bake_time=policy.bake_time,
        health=HealthThresholds(policy.max_error_rate, policy.max_latency_p99_ms),
        sample=sample_request(platform, model),
        actor=actor,
        instance_type=policy.instance_type,
        instance_count=policy.instance_count,
        subject=subject,
        evidence=EvidencePolicy(
            probe_traffic=policy.probe_traffic,
            probe_requests=policy.probe_requests,
            wait=policy.evidence_wait,
            on_none=policy.on_no_evidence,
        ),
    )
