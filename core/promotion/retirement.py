"""Retirement: once a successful rollout's grace period ends, delete the deployments it
replaced (unless one serves traffic again), and say so on the card and in its thread."""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import replace
from datetime import timedelta

from core.promotion.cards import StepLine
from core.promotion.runner import audit_step
from core.promotion.services import DeskServices
from core.promotion.states import (
    ApprovalSnapshot,
    ApprovalState,
    parse_time,
    rollout_steps,
    steps_json,
)
from core.replies import StepState
from core.rollout import DEPLOY_TIMEOUT_SECONDS
from infra.platform.base import PlatformError
from infra.store import StaleStateError, retry_on_conflict

log = logging.getLogger(__name__)

RETIRE_RETRY_SECONDS = 60.0
RETIRE_LOOKBACK = timedelta(days=30)


class Retirement:
    """Deletes the deployments successful rollouts replaced, when their grace period is over."""

    def __init__(self, desk: DeskServices) -> None:
        self.desk = desk

    def retire_due(self) -> int:
        """Delete the deployments a successful rollout replaced, once their grace period ended."""
        now = self.desk.clock()
        retired = 0
        for approval in self.desk.book.in_states(
            [ApprovalState.SUCCEEDED], updated_since=now - RETIRE_LOOKBACK
        ):
            retire = dict(approval.rollout.get("retire") or {})
            due = parse_time(retire.get("at"))
            if not retire or retire.get("done") or due is None or now < due:
                continue
            retry_at = parse_time(retire.get("retry_at"))
            if retry_at is not None and now < retry_at:
                continue
            claimed_retire = {
                **retire,
                "retry_at": (now + timedelta(seconds=RETIRE_RETRY_SECONDS)).isoformat(),
            }
            try:
                claimed = self.desk.book.update(
                    approval, rollout={**approval.rollout, "retire": claimed_retire}
                )
            except StaleStateError:
                continue  # another replica is on it
            if self.retire(claimed):
                retired += 1
        return retired

    def retire(self, approval: ApprovalSnapshot) -> bool:
        platform = self.desk.platform
        retire = dict(approval.rollout.get("retire") or {})
        removed, kept = [], []
        try:
            state = platform.endpoint_state(approval.model, approval.target_env)
            existing = {d.name: d for d in state.deployments}
            for name in retire.get("deployments") or []:
                deployment = existing.get(name)
                if deployment is None:
                    continue
                if deployment.traffic or deployment.mirror_traffic:
                    kept.append(name)
                    continue
                platform.begin_delete_deployment(approval.model, approval.target_env, name).wait(
                    DEPLOY_TIMEOUT_SECONDS
                )
                removed.append(name)
        except PlatformError as exc:
            log.warning("retiring the old deployment of %s failed: %s", approval.id, exc)
            return False
        detail = (
            "; ".join(
                part
                for part in (
                    f"removed {', '.join(removed)}" if removed else "",
                    f"kept {', '.join(kept)}: it serves traffic again" if kept else "",
                )
                if part
            )
            or "already gone"
        )
        steps = rollout_steps(approval)
        if steps:
            steps[-1] = replace(steps[-1], state=StepState.DONE, detail=detail)
        latest = approval

        def attempt() -> ApprovalSnapshot:
            nonlocal latest
            try:
                return self.desk.book.update(
                    latest,
                    rollout={
                        **latest.rollout,
                        "steps": steps_json(steps),
                        "retire": {**retire, "done": True, "removed": removed, "kept": kept},
                    },
                )
            except StaleStateError:
                latest = self.desk.book.require(latest.id)
                raise

        # The retirement, its audit row, the card and its thread line: one transaction.
        with self.desk.store.transaction():
            with suppress(StaleStateError):
                latest = retry_on_conflict(attempt)
            approval = latest
            audit_step(self.desk.store, approval, "retired", removed=removed, kept=kept)
            self.desk.refresh_card(approval.id)
            if steps:
                self.desk.say(approval, StepLine(step=steps[-1]))
        return True
