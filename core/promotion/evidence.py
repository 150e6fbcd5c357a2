"""Shadow evidence on a promotion request: what the card shows and what the Approve gate asks.

The shadow evaluation (:mod:`core.promotion.shadow`) keeps its state under the request's
``context["shadow"]`` (written only by compare-and-set on the request row). This module reads it
back as a :class:`ShadowView` and judges the evidence: which gates still hold Approve back and
on which lines the candidate is worse than the version serving now. Card, confirm dialog and the
vote check all read the same stored verdict, so what a person sees is what a click is held to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.promotion.states import ApprovalSnapshot, parse_time
from engine.shadow import PSI_BINS, ShadowComparison
from infra.settings import RolloutPolicy, ShadowPolicy

CONTEXT_KEY = "shadow"

#: Differences smaller than these are the noise of a small window, not a worse model.
ACCURACY_TOLERANCE = 0.01
ERROR_RATE_TOLERANCE = 0.005
LATENCY_RATIO = 1.25
LATENCY_FLOOR_MS = 5.0
#: A score distribution this far from the serving version's (PSI) is flagged.
PSI_FLAG = 0.25
#: ... once the candidate has about ten requests per bin: with 3 mirrored requests seven of the
#: ten bins are empty and PSI reads 4, a "shift" made by the empty bins alone.
PSI_MIN_REQUESTS = 10 * PSI_BINS


class ShadowState(StrEnum):
    DEPLOYING = "deploying"
    """The candidate is being deployed at 0% with mirrored traffic."""
    MIRRORING = "mirroring"
    FINISHED = "finished"
    """``max_duration`` passed: mirroring stopped, the deployment stays for the rollout."""
    SKIPPED = "skipped"
    """Nothing serves the target yet: there is nothing to compare with."""
    FAILED = "failed"
    REMOVED = "removed"
    """The request ended without a rollout and the shadow deployment was deleted."""


@dataclass(frozen=True)
class ShadowView:
    """``context["shadow"]`` of a request, as typed values."""

    state: ShadowState
    required: bool
    mirror: int
    min_requests: int
    deployment: str | None = None
    serving_deployment: str | None = None
    serving_version: str | None = None
    started: datetime | None = None
    until: datetime | None = None
    refreshed: datetime | None = None
    evidence: ShadowComparison | None = None
    note: str | None = None
    error: str | None = None
    ready: bool = False
    waiting: tuple[str, ...] = ()
    """What still holds Approve back (plain sentences)."""
    worse: tuple[str, ...] = ()
    """Evidence lines on which the candidate is worse than the serving version."""

    @property
    def requests(self) -> int:
        return self.evidence.candidate_requests if self.evidence else 0

    @property
    def blocks_approval(self) -> bool:
        return self.required and not self.ready


def shadow_view(approval: ApprovalSnapshot) -> ShadowView | None:
    raw = approval.context.get(CONTEXT_KEY)
    if not isinstance(raw, Mapping) or not raw.get("state"):
        return None
    try:
        state = ShadowState(str(raw["state"]))
    except ValueError:
        return None
    evidence = raw.get("evidence")
    return ShadowView(
        state=state,
        required=bool(raw.get("required", True)),
        mirror=int(raw.get("mirror") or 0),
        min_requests=int(raw.get("min_requests") or 0),
        deployment=raw.get("deployment"),
        serving_deployment=raw.get("serving_deployment"),
        serving_version=raw.get("serving_version"),
        started=parse_time(raw.get("started")),
        until=parse_time(raw.get("until")),
        refreshed=parse_time(raw.get("refreshed")),
        evidence=ShadowComparison.from_dict(evidence) if isinstance(evidence, Mapping) else None,
        note=raw.get("note"),
        error=raw.get("error"),
        ready=bool(raw.get("ready")),
        waiting=tuple(raw.get("waiting") or ()),
        worse=tuple(raw.get("worse") or ()),
    )


def approval_gate(approval: ApprovalSnapshot, policy: ShadowPolicy | None) -> str | None:
    """Why Approve is held back by the shadow policy, or None when it is not."""
    if policy is None or not policy.required:
        return None
    view = shadow_view(approval)
    env = approval.target_env
    rule = f"approval.shadow of {env} asks for shadow evidence before approval"
    if view is None:
        return f"the shadow evaluation has not started yet ({rule})"
    if view.ready:
        return None
    if view.state is ShadowState.FAILED:
        return f"the shadow deployment failed: {view.error or 'unknown error'} ({rule})"
    if view.state is ShadowState.DEPLOYING:
        return f"the candidate is still being deployed for the shadow evaluation ({rule})"
    reasons = "; ".join(view.waiting) or "the evidence is not in yet"
    return f"the shadow evaluation is not complete: {reasons} ({rule})"


# --------------------------------------------------------------------------- judging evidence


def _pct(value: float) -> str:
    return f"{value:.1%}"


def worse_lines(evidence: ShadowComparison, task: str = "classification") -> list[str]:
    """The lines on which the candidate is worse than the serving version on the same window."""
    worse = []
    old, new = evidence.serving_accuracy, evidence.candidate_accuracy
    if old is not None and new is not None:
        if task == "classification" and new < old - ACCURACY_TOLERANCE:
            worse.append(
                f"accuracy {_pct(new)} vs {_pct(old)} on the same {evidence.labelled} labelled "
                "requests"
            )
        if task != "classification" and new > old * (1 + ACCURACY_TOLERANCE) + 1e-12:
            worse.append(f"MAE {new:.3g} vs {old:.3g} on {evidence.labelled} labelled requests")
    cand, serv = evidence.candidate_latency, evidence.serving_latency
    if (
        cand.error_rate is not None
        and serv.error_rate is not None
        and cand.error_rate > serv.error_rate + ERROR_RATE_TOLERANCE
    ):
        worse.append(f"error rate {_pct(cand.error_rate)} vs {_pct(serv.error_rate)}")
    for label, a, b in (("p50", cand.p50_ms, serv.p50_ms), ("p99", cand.p99_ms, serv.p99_ms)):
        if a is not None and b is not None and a > b * LATENCY_RATIO and a - b > LATENCY_FLOOR_MS:
            worse.append(f"{label} latency {a:.0f} ms vs {b:.0f} ms")
    if (
        evidence.psi is not None
        and evidence.psi > PSI_FLAG
        and evidence.candidate_requests >= PSI_MIN_REQUESTS
    ):
        worse.append(f"score distribution shifted (PSI {evidence.psi:.3f}, above {PSI_FLAG})")
    return worse


def requests_wanted(policy: ShadowPolicy, seen: int) -> str:
    """The minimum not met yet, one spelling for the card, the refusal and the audit."""
    so_far = f"{seen} so far" if seen else "none yet"
    return f"at least {policy.min_requests} mirrored requests ({so_far})"


def waiting_for(
    evidence: ShadowComparison | None,
    policy: ShadowPolicy,
    rollout: RolloutPolicy,
) -> list[str]:
    """The gates not passed yet: the minimum of mirrored requests, the rollout's health limits
    on the candidate, and the optional agreement and PSI limits."""
    if evidence is None:
        return [requests_wanted(policy, 0)]
    waiting = []
    if evidence.candidate_requests < policy.min_requests:
        waiting.append(requests_wanted(policy, evidence.candidate_requests))
    cand = evidence.candidate_latency
    if cand.error_rate is not None and cand.error_rate > rollout.max_error_rate:
        waiting.append(
            f"the candidate's error rate {_pct(cand.error_rate)} is above the rollout limit "
            f"of {_pct(rollout.max_error_rate)}"
        )
    if cand.p99_ms is not None and cand.p99_ms > rollout.max_latency_p99_ms:
        waiting.append(
            f"the candidate's p99 latency {cand.p99_ms:.0f} ms is above the rollout limit of "
            f"{rollout.max_latency_p99_ms:.0f} ms"
        )
    if policy.min_agreement is not None:
        if evidence.agreement is None:
            waiting.append("prediction agreement cannot be measured yet (no paired requests)")
        elif evidence.agreement < policy.min_agreement:
            waiting.append(
                f"agreement {_pct(evidence.agreement)} is below approval.shadow.min_agreement "
                f"{_pct(policy.min_agreement)}"
            )
    if policy.max_psi is not None and evidence.psi is not None and evidence.psi > policy.max_psi:
        waiting.append(
            f"score shift PSI {evidence.psi:.3f} is above approval.shadow.max_psi "
            f"{policy.max_psi:g}"
        )
    return waiting


def judged(
    evidence: ShadowComparison | None,
    policy: ShadowPolicy,
    rollout: RolloutPolicy,
    task: str,
) -> dict[str, Any]:
    """The verdict fields stored beside the evidence: ready, waiting, worse."""
    waiting = waiting_for(evidence, policy, rollout)
    return {
        "ready": not waiting,
        "waiting": waiting,
        "worse": worse_lines(evidence, task) if evidence is not None else [],
    }
