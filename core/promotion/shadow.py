"""Shadow evaluation before approval: deploy the candidate at 0% with a share of live traffic
mirrored to it, keep the request card's Evidence section current, stop mirroring after
``max_duration``, and delete the shadow deployment when the request ends without a rollout.

Every step is driven by the desk's sweep, so any replica can do it and a crash only delays it:

* a step is claimed by compare-and-set on the request row (``context["shadow"]`` carries the
  claim with its owner and time; a claim older than :data:`CLAIM_SECONDS` may be taken over);
* deploying holds the endpoint's rollout lock, and a deployment of the candidate already at 0%
  (left by a crashed claim) is adopted instead of creating a second one;
* the evidence, its verdict and the card edit that shows it are one store transaction (the
  card goes through the outbox).

The platform work of each step (deploy and mirror, measure, delete) is in
:mod:`core.promotion.shadow_platform`; this module decides when a step is due and records it.
The rollout that follows an approval reuses the shadow deployment (:mod:`core.promotion.runner`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from core.promotion.evidence import (
    CONTEXT_KEY,
    ShadowState,
    judged,
    requests_wanted,
    shadow_view,
)
from core.promotion.services import DeskServices
from core.promotion.shadow_platform import ShadowDeployments, model_task
from core.promotion.states import ApprovalSnapshot, ApprovalState, parse_time
from infra.platform.base import PlatformError
from infra.rollout_locks import EndpointBusyError, hold_endpoint
from infra.settings import ShadowPolicy
from infra.store import AuditNote, StaleStateError, retry_on_conflict

log = logging.getLogger(__name__)

CLAIM_SECONDS = 120.0
"""A deploy or refresh claim older than this was left by a dead process: take it over."""
ENDED_LOOKBACK = timedelta(days=7)
ENDED = (ApprovalState.REJECTED, ApprovalState.EXPIRED, ApprovalState.CANCELED)
#: Requests whose shadow deployment is removed: ended without a rollout, or with one that did
#: not succeed (its rollback deleted the deployment it adopted; one still taking live traffic,
#: a rollout held at a share, is kept).
REMOVABLE = (*ENDED, ApprovalState.ROLLED_BACK, ApprovalState.FAILED)


class ShadowEvaluator:
    """Starts, refreshes and removes the shadow deployments of open promotion requests."""

    def __init__(self, desk: DeskServices) -> None:
        self.desk = desk
        self.deployments = ShadowDeployments(desk.platform, desk.settings)
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()

    def _submit(self, approval_id: str, work: Any, *args: Any) -> bool:
        """Run ``work`` on the desk's pool, one step per request at a time in this process
        (the sweep comes round again before a deployment is up; the claim is per replica)."""
        with self._busy_lock:
            if approval_id in self._busy:
                return False
            self._busy.add(approval_id)

        def run() -> None:
            try:
                work(*args)
            except Exception:
                log.exception("shadow evaluation of %s failed", approval_id)
            finally:
                with self._busy_lock:
                    self._busy.discard(approval_id)

        try:
            self.desk.pool.submit(run)
        except RuntimeError:  # the desk is stopping
            with self._busy_lock:
                self._busy.discard(approval_id)
            return False
        return True

    # -- reads
    def policy(self, env: str) -> ShadowPolicy | None:
        return self.desk.rules.policy(env).shadow

    def _now(self) -> datetime:
        return self.desk.clock()

    def _claimable(self, raw: Mapping[str, Any], key: str, now: datetime) -> bool:
        claim = raw.get(key) or {}
        at = parse_time(claim.get("at"))
        return (
            at is None
            or claim.get("by") == self.desk.instance
            or (now - at).total_seconds() >= CLAIM_SECONDS
        )

    def _write(
        self,
        approval: ApprovalSnapshot,
        shadow: Mapping[str, Any],
        *,
        card: bool = False,
        audit: AuditNote | None = None,
    ) -> ApprovalSnapshot:
        """Compare-and-set ``context["shadow"]`` (StaleStateError when the row moved); with
        ``card`` the card edit, and with ``audit`` its audit row, in the same transaction."""
        with self.desk.store.transaction():
            saved = self.desk.book.update(
                approval, audit=audit, context={**approval.context, CONTEXT_KEY: dict(shadow)}
            )
            if card:
                self.desk.refresh_card(saved.id)
        return saved

    def _write_fresh(
        self,
        approval_id: str,
        change: Any,
        *,
        card: bool = True,
        states: tuple[ApprovalState, ...] = (ApprovalState.PENDING,),
        audit: AuditNote | None = None,
    ) -> ApprovalSnapshot | None:
        """Apply ``change(shadow) -> shadow | None`` to the current row, retrying lost races;
        None when the request left ``states`` or ``change`` declines."""

        def attempt() -> ApprovalSnapshot | None:
            current = self.desk.book.require(approval_id)
            if current.state not in states:
                return None
            updated = change(dict(current.context.get(CONTEXT_KEY) or {}))
            if updated is None:
                return None
            return self._write(current, updated, card=card, audit=audit)

        try:
            return retry_on_conflict(attempt)
        except StaleStateError:
            return None

    # -- the sweep
    def sweep(self) -> int:
        """One round: start due evaluations, refresh evidence, remove what ended. Returns how
        many requests were acted on."""
        acted = 0
        now = self._now()
        for approval in self.desk.book.in_states([ApprovalState.PENDING]):
            policy = self.policy(approval.target_env)
            if policy is None:
                continue
            raw = dict(approval.context.get(CONTEXT_KEY) or {})
            state = raw.get("state")
            if state in (None, ShadowState.DEPLOYING.value):
                if self._claimable(raw, "claim", now):
                    acted += self._submit(approval.id, self.start, approval, policy)
            elif state == ShadowState.MIRRORING.value:
                refreshed = parse_time(raw.get("refreshed"))
                due = refreshed is None or now - refreshed >= policy.refresh
                if due and self._claimable(raw, "refresh", now):
                    acted += self._submit(approval.id, self.refresh, approval, policy)
        for approval in self.desk.book.in_states(REMOVABLE, updated_since=now - ENDED_LOOKBACK):
            view = shadow_view(approval)
            if view is None or view.state in (ShadowState.REMOVED, ShadowState.SKIPPED):
                continue
            if view.deployment is None and view.state is not ShadowState.DEPLOYING:
                continue
            raw = dict(approval.context.get(CONTEXT_KEY) or {})
            if self._claimable(raw, "claim", now):
                acted += self._submit(approval.id, self.remove, approval)
        return acted

    # -- start
    def start(self, approval: ApprovalSnapshot, policy: ShadowPolicy) -> bool:
        """Claim the request, deploy the candidate at 0% and mirror ``policy.mirror``% to it."""
        now = self._now()
        claim = {"by": self.desk.instance, "at": now.isoformat()}
        raw = dict(approval.context.get(CONTEXT_KEY) or {})
        fresh_start = {
            "state": ShadowState.DEPLOYING.value,
            "required": policy.required,
            "mirror": policy.mirror,
            "min_requests": policy.min_requests,
            "ready": False,
            "waiting": [requests_wanted(policy, 0)],
            **{k: v for k, v in raw.items() if k in ("deployment",)},
            "claim": claim,
        }
        try:
            claimed = self._write(approval, fresh_start, card=not raw)
        except StaleStateError:
            return False  # another replica claimed it (or a vote landed): next sweep
        try:
            with hold_endpoint(
                self.desk.store,
                approval.model,
                approval.target_env,
                holder=f"shadow:{approval.id}",
                what=f"the shadow deployment of v{approval.version} (request {approval.id})",
                ttl=self.desk.settings.reliability.endpoint_lock,
            ):
                outcome = self.deployments.deploy(claimed, policy)
        except EndpointBusyError as busy:
            log.info("shadow of %s waits for the endpoint: %s", approval.id, busy)
            return False
        except PlatformError as exc:
            outcome = {"state": ShadowState.FAILED.value, "error": str(exc)}
        started = self._now()
        until = started + policy.max_duration

        def finish(shadow: dict[str, Any]) -> dict[str, Any] | None:
            if (shadow.get("claim") or {}).get("by") != self.desk.instance:
                return None  # taken over meanwhile; the other process finishes it
            shadow = {k: v for k, v in shadow.items() if k != "claim"}
            shadow.update(outcome)
            if outcome["state"] == ShadowState.MIRRORING.value:
                shadow.update(started=started.isoformat(), until=until.isoformat())
            return shadow

        note = _note(
            approval,
            outcome["state"],
            deployment=outcome.get("deployment"),
            mirror=policy.mirror,
            error=outcome.get("error"),
        )
        saved = self._write_fresh(approval.id, finish, audit=note)
        if saved is None and outcome.get("deployment"):
            current = self.desk.book.require(approval.id)
            if current.state in ENDED:
                # The request ended while we deployed: the removal sweep cleans up by name.
                self._write_fresh(
                    approval.id,
                    lambda s: {**s, "deployment": outcome["deployment"]},
                    card=False,
                    states=ENDED,
                )
            elif current.state is not ApprovalState.PENDING:
                # Approved meanwhile (no shadow required): its rollout deploys its own.
                self.deployments.delete(current, str(outcome["deployment"]))
        return saved is not None

    # -- refresh
    def refresh(self, approval: ApprovalSnapshot, policy: ShadowPolicy) -> bool:
        """Recompute the evidence over the mirroring window and show it on the card."""
        now = self._now()
        raw = dict(approval.context.get(CONTEXT_KEY) or {})
        lease = {"by": self.desk.instance, "at": now.isoformat()}
        try:
            approval = self._write(approval, {**raw, "refresh": lease})
        except StaleStateError:
            return False
        view = shadow_view(approval)
        assert view is not None
        started = view.started or now
        until = view.until or now
        end = min(now, until)
        expired = now >= until
        try:
            evidence, note = self.deployments.evidence(
                approval, view.deployment, view.serving_deployment, started, end
            )
            error = None
        except PlatformError as exc:
            evidence, note, error = view.evidence, view.note, str(exc)
        if expired and view.deployment:
            try:
                self.deployments.stop_mirror(approval)
            except PlatformError as exc:
                log.warning("stopping the mirror of %s failed: %s", approval.id, exc)
                expired = False  # try again on the next refresh
        settings = self.desk.settings
        task = model_task(settings, approval.model)
        verdict = judged(evidence, policy, settings.environment(approval.target_env).rollout, task)

        def store(shadow: dict[str, Any]) -> dict[str, Any] | None:
            if (shadow.get("refresh") or {}).get("by") != self.desk.instance:
                return None
            shadow = {k: v for k, v in shadow.items() if k != "refresh"}
            shadow.update(verdict, refreshed=self._now().isoformat(), note=note, error=error)
            if evidence is not None:
                shadow["evidence"] = evidence.as_dict()
            if expired:
                shadow["state"] = ShadowState.FINISHED.value
            return shadow

        return self._write_fresh(approval.id, store) is not None

    # -- removal
    def remove(self, approval: ApprovalSnapshot) -> bool:
        """Stop the mirror and delete the shadow deployment of a request that ended without a
        rollout (unless it serves live traffic now: then it is somebody else's)."""
        now = self._now()
        raw = dict(approval.context.get(CONTEXT_KEY) or {})
        try:
            approval = self._write(
                approval, {**raw, "claim": {"by": self.desk.instance, "at": now.isoformat()}}
            )
        except StaleStateError:
            return False
        name = raw.get("deployment")
        try:
            detail = self.deployments.delete(approval, name) if name else "nothing to remove"
        except PlatformError as exc:
            log.warning("removing the shadow deployment of %s failed: %s", approval.id, exc)
            return False

        def done(shadow: dict[str, Any]) -> dict[str, Any]:
            shadow = {k: v for k, v in shadow.items() if k != "claim"}
            return {**shadow, "state": ShadowState.REMOVED.value, "removed": detail}

        note = _note(
            approval,
            "removed",
            deployment=name,
            reason=f"the request was {approval.state.label}; {detail}",
        )
        return self._write_fresh(approval.id, done, states=REMOVABLE, audit=note) is not None


def _note(approval: ApprovalSnapshot, outcome: str, **detail: Any) -> AuditNote:
    """The audit row of a shadow step, written with the step's own state change."""
    return AuditNote(
        "mlops-bot",
        "shadow",
        outcome,
        model=approval.model,
        environment=approval.target_env,
        subject=approval.id,
        detail={"version": approval.version, **detail},
    )
