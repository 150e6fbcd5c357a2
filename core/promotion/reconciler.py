"""Crash reconciliation: after a restart (or when another replica died), find the rollouts
nobody runs any more and settle each one with what the platform actually serves.

- nothing deployed yet (or only a deployment that never took traffic): resumed from the start;
- the new deployment already took all the traffic: recorded as finished;
- anything in between: traffic goes back to the previous split and the new deployment is removed.

Approved requests nobody claimed are started too. The card and its thread say which.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace

from core.promotion.ownership import (
    HOST,
    OwnershipLostError,
    hold,
    process_started,
    release,
    running,
    running_here,
)
from core.promotion.runner import BOT_ACTOR, RolloutRunner, RolloutTracker, audit_step
from core.promotion.services import DeskServices
from core.promotion.states import ApprovalSnapshot, ApprovalState, parse_time
from core.replies import StepState
from core.rollout import DEPLOY_TIMEOUT_SECONDS
from core.serving import current_split
from infra.platform.base import PlatformError
from infra.store import StaleStateError

log = logging.getLogger(__name__)


class Reconciler:
    """Takes over orphaned rollouts (by compare-and-set) and reconciles them with the platform."""

    def __init__(self, desk: DeskServices, runner: RolloutRunner) -> None:
        self.desk = desk
        self.runner = runner

    def owner_gone(self, approval: ApprovalSnapshot) -> bool:
        rollout = approval.rollout
        owner = rollout.get("owner") or {}
        heartbeat = parse_time(rollout.get("heartbeat"))
        if heartbeat is None or self.desk.clock() - heartbeat > self.desk.stale_after:
            return True
        if owner.get("host") != HOST:
            return False
        pid = owner.get("pid")
        if pid == os.getpid():
            return not running_here(approval.id)
        if not isinstance(pid, int):
            return True
        started = process_started(pid)
        recorded = owner.get("started")
        if started is None:
            return True
        return recorded is not None and started >= 0 and abs(started - float(recorded)) > 1.0

    def reconcile(self) -> int:
        """Start approved requests nobody claimed and take over rollouts whose owner died."""
        handled = 0
        now = self.desk.clock()
        for approval in self.desk.book.in_states([ApprovalState.APPROVED]):
            if approval.published and now - approval.updated_at >= self.desk.approved_grace:
                self.runner.start_rollout(approval.id)
                handled += 1
        for approval in self.desk.book.in_states([ApprovalState.ROLLING_OUT]):
            if not self.owner_gone(approval):
                continue
            hold(approval.id)  # released by _recover_held; see RolloutRunner.claim_and_run for why
            try:
                taken = self.desk.book.update(
                    approval, rollout={**approval.rollout, **self.runner.ownership()}
                )
            except StaleStateError:
                release(approval.id)
                continue
            self.desk.store.audit(
                BOT_ACTOR,
                "promotion_step",
                "taken_over",
                model=approval.model,
                environment=approval.target_env,
                subject=approval.id,
                previous_owner=approval.rollout.get("owner"),
            )
            try:
                self.desk.pool.submit(self._recover_held, taken)
            except RuntimeError:  # shutting down: the next start-up reconciles it
                release(approval.id)
                continue
            handled += 1
        return handled

    def _recover_held(self, approval: ApprovalSnapshot) -> None:
        try:
            self._recover(approval)
        finally:
            release(approval.id)

    def _recover(self, approval: ApprovalSnapshot) -> None:
        with running(approval.id):
            tracker = RolloutTracker(self.desk, approval)
            tracker.start_heartbeat()
            try:
                resume_attempt = self._reconcile_with_platform(tracker)
            except OwnershipLostError:
                return
            except Exception as exc:
                log.exception("reconciling promotion %s failed", approval.id)
                self.runner.fail_safely(tracker, f"could not reconcile after a restart: {exc}")
                resume_attempt = None
            finally:
                tracker.stop()
            if resume_attempt is not None:
                self.runner.guarded_run(self.desk.book.require(approval.id), attempt=resume_attempt)
                return
        self.runner.announce_end(approval.id)

    def _reconcile_with_platform(self, tracker: RolloutTracker) -> int | None:
        """Decide what an interrupted rollout becomes; returns the attempt number to resume
        with, or None when it was settled here (finished or rolled back)."""
        approval = tracker.approval
        platform = self.desk.platform
        state = platform.endpoint_state(approval.model, approval.target_env)
        existing = {d.name: d for d in state.deployments}
        new = tracker.rollout.get("new_deployment") or self.runner.find_new_deployment(tracker)
        steps = tracker.steps
        at = next((s.label for s in steps if s.state is StepState.RUNNING), None) or next(
            (s.label for s in reversed(steps) if s.state is StepState.DONE), "the start"
        )
        attempt = int(tracker.rollout.get("attempt") or 1)
        failed = next((s for s in steps if s.state is StepState.FAILED), None)
        if failed is not None and (new is None or new not in existing):
            # The rollout had already failed and undone itself; only the record was missing.
            reason = f"{failed.label}: {failed.detail}" if failed.detail else failed.label
            tracker.note("Reconciled after a restart: the rollout had already been rolled back.")
            tracker.finish(ApprovalState.ROLLED_BACK, reason)
            return None
        before_split = dict((tracker.rollout.get("before") or {}).get("split") or {})
        untouched = (
            new is None
            or new not in existing
            or (existing[new].traffic == 0 and current_split(state) == before_split)
        )
        if untouched:
            if attempt >= self.desk.max_attempts:
                reason = (
                    f"interrupted by a restart at «{at}» {attempt} times; not resumed again "
                    "(nothing had moved traffic)"
                )
                if new is not None and new in existing:
                    platform.begin_delete_deployment(approval.model, approval.target_env, new).wait(
                        DEPLOY_TIMEOUT_SECONDS
                    )
                tracker.note(f"Not resumed after a restart: {reason}.")
                tracker.set_steps(
                    [
                        replace(s, state=StepState.SKIPPED)
                        if s.state in (StepState.PENDING, StepState.RUNNING)
                        else s
                        for s in steps
                    ]
                )
                tracker.finish(ApprovalState.FAILED, reason)
                return None
            cleanup = ""
            if new is not None and new in existing:
                platform.begin_delete_deployment(approval.model, approval.target_env, new).wait(
                    DEPLOY_TIMEOUT_SECONDS
                )
                cleanup = f"; the half-made deployment {new} was removed first"
            tracker.note(
                f"Resumed after a restart: the rollout stopped at «{at}» before any traffic "
                f"moved, so it starts again (attempt {attempt + 1}){cleanup}."
            )
            audit_step(self.desk.store, approval, "resumed", at=at, attempt=attempt + 1)
            return attempt + 1
        if existing[new].traffic == 100:
            retire_after = self.desk.settings.environment(approval.target_env).rollout.retire_after
            replaced = [n for n in before_split if n != new]
            retire_at = self.desk.clock() + retire_after
            steps = [
                replace(s, state=StepState.DONE)
                if s.state in (StepState.RUNNING,)
                or (s.state is StepState.PENDING and i < len(steps) - 1)
                else s
                for i, s in enumerate(steps)
            ]
            if replaced:
                steps[-1] = replace(
                    steps[-1],
                    detail=f"{', '.join(replaced)} kept for rollback "
                    f"until {retire_at:%H:%M:%S} UTC",
                )
            tracker.note(
                f"Reconciled after a restart: {new} already took all the traffic when the bot "
                "stopped, so the rollout is recorded as finished."
            )
            tracker.set_steps(steps, new_deployment=new)
            audit_step(self.desk.store, approval, "finished_before_restart", deployment=new)
            tracker.finish(
                ApprovalState.SUCCEEDED,
                f"v{approval.version} serves 100% of {approval.target_env} as deployment {new}",
                retire={"at": retire_at.isoformat(), "deployments": replaced, "done": not replaced},
            )
            return None
        share = existing[new].traffic
        reason = (
            f"interrupted by a restart at «{at}» with v{approval.version} taking {share}% of the "
            "traffic; rolled back to the previous deployment rather than resume unobserved"
        )
        restored = self.runner.restore_previous(tracker, state, new, reason)
        if not restored:
            raise PlatformError("the previous traffic split is unknown, so it cannot be restored")
        tracker.note(f"Rolled back after a restart: {reason}.")
        tracker.set_steps(
            [
                replace(s, state=StepState.FAILED, detail="interrupted by a restart")
                if s.state is StepState.RUNNING
                else replace(s, state=StepState.SKIPPED)
                if s.state is StepState.PENDING
                else s
                for s in steps
            ],
            new_deployment=new,
        )
        tracker.finish(ApprovalState.ROLLED_BACK, reason)
        return None
