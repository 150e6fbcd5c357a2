"""Running one approved rollout: copy the version, run the canary steps, record every step on
the request and in its card's thread, and undo what was done when it fails.

:class:`RolloutTracker` is the single writer of a running rollout's row (steps, heartbeat, final
state); :class:`RolloutRunner` claims an approved request (``approved -> rolling_out``, by
compare-and-set, so exactly one process runs it) and executes it.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from core.promotion.cards import EndedLine, NoteLine, StepLine
from core.promotion.evidence import ShadowState, shadow_view
from core.promotion.ownership import HOST, OWN_START, OwnershipLostError, running
from core.promotion.services import DeskServices
from core.promotion.states import ApprovalSnapshot, ApprovalState, rollout_steps, steps_json
from core.replies import Step, StepState
from core.rollout import DEPLOY_TIMEOUT_SECONDS, Rollout, plan_for
from core.serving import current_split
from infra.durations import format_duration
from infra.platform.base import EndpointState, PlatformError
from infra.rollout_locks import EndpointBusyError, hold_endpoint
from infra.store import StaleStateError, Store, retry_on_conflict

log = logging.getLogger(__name__)

BOT_ACTOR = "mlops-bot"


def audit_step(store: Store, approval: ApprovalSnapshot, outcome: str, **detail: Any) -> None:
    """An audit row for a step of the promotion worker (resumed, retired, taken over...)."""
    store.audit(
        BOT_ACTOR,
        "promotion_step",
        outcome,
        model=approval.model,
        environment=approval.target_env,
        subject=approval.id,
        version=approval.version,
        **detail,
    )


class RolloutTracker:
    """The single writer of a running rollout's row: steps, heartbeat, final state."""

    def __init__(self, desk: DeskServices, approval: ApprovalSnapshot) -> None:
        self.desk = desk
        self.approval = approval
        self.rollout: dict[str, Any] = dict(approval.rollout)
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._posted: dict[int, str] = {}

    # -- heartbeat
    def start_heartbeat(self) -> None:
        def beat() -> None:
            while not self._stop.wait(self.desk.heartbeat_seconds):
                try:
                    self.save()
                except OwnershipLostError:
                    return
                except Exception:
                    log.exception("heartbeat of promotion %s failed", self.approval.id)

        threading.Thread(target=beat, name=f"heartbeat-{self.approval.id}", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    # -- writes
    def _cas(
        self,
        write: Callable[[ApprovalSnapshot, dict[str, Any]], ApprovalSnapshot],
        fields: dict[str, Any],
    ) -> None:
        with self.lock:
            merged = {**self.rollout, **fields, "heartbeat": self.desk.clock().isoformat()}
            first = True

            def attempt() -> ApprovalSnapshot:
                nonlocal first
                if not first:  # lost a race: still ours? then write on top of the fresh row
                    fresh = self.desk.book.require(self.approval.id)
                    if fresh.state is not ApprovalState.ROLLING_OUT or fresh.rollout.get(
                        "run"
                    ) != self.rollout.get("run"):
                        raise OwnershipLostError(self.approval.id)
                    self.approval = fresh
                first = False
                return write(self.approval, merged)

            try:
                self.approval = retry_on_conflict(attempt)
            except StaleStateError:
                raise OwnershipLostError(self.approval.id) from None
            self.rollout = dict(self.approval.rollout)

    def save(self, **fields: Any) -> None:
        self._cas(lambda a, merged: self.desk.book.update(a, rollout=merged), fields)

    def finish(self, to: ApprovalState, reason: str, **fields: Any) -> None:
        # The end, its card and its thread line commit together (a transactional outbox):
        # a crash right after the state change cannot lose the line saying so.
        with self.lock, self.desk.store.transaction():  # the tracker's lock first, always
            self._cas(
                lambda a, merged: self.desk.book.transition(
                    a, to, actor=BOT_ACTOR, reason=reason, rollout=merged
                ),
                fields,
            )
            self.desk.refresh_card(self.approval.id)
            self.desk.say(self.approval, EndedLine.of(self.approval))

    # -- steps
    @property
    def steps(self) -> list[Step]:
        return rollout_steps(self.approval)

    def set_steps(self, steps: list[Step], **fields: Any) -> None:
        # Each step's state, the card showing it and the thread line of a finished step are
        # one transaction: after a crash either the step is undone (and is run again) or its
        # line is queued.
        posted = dict(self._posted)
        with self.lock, self.desk.store.transaction():  # the tracker's lock first, always
            self.save(steps=steps_json(steps), **fields)
            self.desk.refresh_card(self.approval.id)
            for index, step in enumerate(steps):
                finished = step.state in (StepState.DONE, StepState.FAILED)
                if finished and posted.get(index) != step.state.value:
                    posted[index] = step.state.value
                    self.desk.say(self.approval, StepLine(step=step))
        self._posted = posted

    def mark(self, index: int, state: StepState, detail: str = "") -> None:
        steps = self.steps
        steps[index] = replace(steps[index], state=state, detail=detail)
        self.set_steps(steps)

    def note(self, text: str) -> None:
        notes = [*list(self.rollout.get("notes") or []), text]
        with self.lock, self.desk.store.transaction():  # the tracker's lock first, always
            self.save(notes=notes)
            self.desk.say(self.approval, NoteLine(note=text))


class RolloutRunner:
    """Claims approved requests and rolls them out, one thread of the desk's pool each."""

    def __init__(self, desk: DeskServices) -> None:
        self.desk = desk

    def start_rollout(self, approval_id: str) -> None:
        try:
            self.desk.pool.submit(self.claim_and_run, approval_id)
        except RuntimeError:  # the desk is stopping; the next start-up picks the request up
            log.info("not starting the rollout of %s: shutting down", approval_id)

    def claim_and_run(self, approval_id: str) -> None:
        # Marked as running before the claim, so a sweep in this process never mistakes the
        # freshly claimed rollout for an orphan.
        with running(approval_id):
            approval = self.desk.book.get(approval_id)
            if approval is None or approval.state is not ApprovalState.APPROVED:
                return
            try:
                claimed = self.desk.book.transition(
                    approval,
                    ApprovalState.ROLLING_OUT,
                    actor=BOT_ACTOR,
                    rollout={**self.ownership(), "attempt": 1, "steps": []},
                )
            except StaleStateError:
                return  # another thread or replica claimed it: exactly one rollout
            self.guarded_run(claimed, attempt=1)

    def ownership(self) -> dict[str, Any]:
        return {
            "owner": {
                "host": HOST,
                "pid": os.getpid(),
                "started": OWN_START,
                "instance": self.desk.instance,
            },
            "run": uuid.uuid4().hex,
            "heartbeat": self.desk.clock().isoformat(),
        }

    def guarded_run(self, approval: ApprovalSnapshot, attempt: int) -> None:
        with running(approval.id):
            tracker = RolloutTracker(self.desk, approval)
            tracker.start_heartbeat()
            try:
                # One rollout in flight per endpoint, promotions, deploys and rollbacks alike
                # (the database's lock row); re-entrant for this request, so a rollout taken
                # over after a crash holds it again.
                with hold_endpoint(
                    self.desk.store,
                    approval.model,
                    approval.target_env,
                    holder=f"promotion:{approval.id}",
                    what=f"the promotion of v{approval.version} (request {approval.id})",
                    ttl=self.desk.settings.reliability.endpoint_lock,
                ):
                    self._execute(tracker, attempt)
            except EndpointBusyError as busy:
                tracker.finish(ApprovalState.FAILED, str(busy))
            except OwnershipLostError:
                log.warning("promotion %s was taken over by another process", approval.id)
                return
            except Exception as exc:
                reference = uuid.uuid4().hex[:8]
                log.exception("promotion %s failed (reference %s)", approval.id, reference)
                self.fail_safely(
                    tracker,
                    f"the bot hit an internal error ({type(exc).__name__}, reference {reference})",
                )
            finally:
                tracker.stop()
        self.announce_end(approval.id)

    def _execute(self, tracker: RolloutTracker, attempt: int) -> None:
        approval = tracker.approval
        settings = self.desk.settings
        platform = self.desk.platform
        env = settings.environment(approval.target_env)
        copy = Step(
            f"Copy v{approval.version} from {approval.source_env} into {approval.target_env} "
            "through the registry"
        )
        retire = Step(
            f"Retire the previous deployment after {format_duration(env.rollout.retire_after)}"
        )
        try:
            model = settings.model(approval.model)
            plan = plan_for(
                settings,
                platform,
                model,
                approval.target_env,
                approval.version,
                actor=BOT_ACTOR,
                subject=approval.id,
            )
        except (KeyError, PlatformError) as exc:
            reason = f"cannot plan the rollout: {exc}"
            tracker.set_steps(
                [replace(copy, state=StepState.FAILED, detail=reason)], attempt=attempt
            )
            tracker.finish(ApprovalState.FAILED, reason)
            return
        shadow = self.shadow_deployment(approval)
        if shadow is not None:
            plan = replace(plan, existing_deployment=shadow)
        engine = Rollout.planned_steps(plan)
        tracker.set_steps([copy, *engine, retire], attempt=attempt, new_deployment=None)

        tracker.mark(0, StepState.RUNNING)
        try:
            copied = platform.copy_version(
                approval.model, approval.version, approval.source_env, approval.target_env
            )
        except PlatformError as exc:
            steps = tracker.steps
            steps[0] = replace(steps[0], state=StepState.FAILED, detail=str(exc))
            steps[1:] = [replace(s, state=StepState.SKIPPED) for s in steps[1:]]
            tracker.set_steps(steps)
            tracker.finish(ApprovalState.FAILED, f"copying v{approval.version} failed: {exc}")
            return
        tracker.mark(0, StepState.DONE, f"v{copied.version} is registered in {approval.target_env}")

        state = platform.endpoint_state(approval.model, approval.target_env)
        before = {"split": current_split(state), "deployments": [d.name for d in state.deployments]}
        tracker.save(before=before)

        def report(engine_steps: list[Step]) -> None:
            steps = tracker.steps
            steps[1 : 1 + len(engine_steps)] = engine_steps
            fields: dict[str, Any] = {}
            if tracker.rollout.get("new_deployment") is None and engine_steps[0].state in (
                StepState.RUNNING,
                StepState.DONE,
            ):
                # A reused shadow deployment is this rollout's once its mirror is stopped
                # (a takeover after a crash may then delete it like one it created).
                reused = shadow if engine_steps[0].state is StepState.DONE else None
                found = reused if shadow else self.find_new_deployment(tracker)
                if found is not None:
                    fields["new_deployment"] = found
            tracker.set_steps(steps, **fields)

        result = Rollout(
            platform, self.desk.store, sleep=self.desk.sleep, clock=self.desk.clock
        ).run(plan, report)
        steps = tracker.steps
        if result.ok:
            replaced = [n for n in before["split"] if n != result.new_deployment]
            retire_at = self.desk.clock() + env.rollout.retire_after
            if replaced:
                steps[-1] = replace(
                    steps[-1],
                    detail=f"{', '.join(replaced)} kept for rollback until "
                    f"{retire_at:%H:%M:%S} UTC",
                )
            else:
                steps[-1] = replace(
                    steps[-1], state=StepState.SKIPPED, detail="nothing served here before"
                )
            tracker.set_steps(steps, new_deployment=result.new_deployment)
            tracker.finish(
                ApprovalState.SUCCEEDED,
                f"v{approval.version} serves 100% of {approval.target_env} as deployment "
                f"{result.new_deployment}",
                retire={"at": retire_at.isoformat(), "deployments": replaced, "done": not replaced},
            )
            return
        steps[-1] = replace(steps[-1], state=StepState.SKIPPED)
        tracker.set_steps(steps)
        reason = result.reason or "the rollout failed"
        if result.held:
            reason += f"; {result.new_deployment} keeps its share until someone decides"
        failed_rollback = "rollback also failed" in reason or result.held
        tracker.finish(
            ApprovalState.FAILED if failed_rollback else ApprovalState.ROLLED_BACK, reason
        )

    def shadow_deployment(self, approval: ApprovalSnapshot) -> str | None:
        """The request's shadow deployment when the rollout can reuse it: the evaluation put
        it up, and it is still this version at 0% live traffic on the endpoint."""
        view = shadow_view(approval)
        if view is None or view.deployment is None:
            return None
        if view.state not in (ShadowState.MIRRORING, ShadowState.FINISHED):
            return None
        try:
            state = self.desk.platform.endpoint_state(approval.model, approval.target_env)
        except PlatformError:
            return None
        found = next((d for d in state.deployments if d.name == view.deployment), None)
        if found is None or found.model_version != approval.version or found.traffic:
            return None
        return found.name if found.healthy else None

    def find_new_deployment(self, tracker: RolloutTracker) -> str | None:
        """The deployment this rollout created: our version, and not there before we started."""
        approval = tracker.approval
        before = set((tracker.rollout.get("before") or {}).get("deployments") or [])
        try:
            state = self.desk.platform.endpoint_state(approval.model, approval.target_env)
        except PlatformError:
            return None
        fresh = [
            d.name
            for d in state.deployments
            if d.model_version == approval.version and d.name not in before
        ]
        return fresh[-1] if fresh else None

    def fail_safely(self, tracker: RolloutTracker, reason: str) -> None:
        """After an unexpected error: put the previous traffic back if we moved any, then fail."""
        try:
            state = self.desk.platform.endpoint_state(
                tracker.approval.model, tracker.approval.target_env
            )
            new = tracker.rollout.get("new_deployment") or self.find_new_deployment(tracker)
            if new is not None:
                restored = self.restore_previous(tracker, state, new, reason)
                if restored:
                    reason += "; traffic went back to the previous deployment"
            steps = [
                replace(s, state=StepState.SKIPPED) if s.state is StepState.PENDING else s
                for s in tracker.steps
            ]
            tracker.set_steps(steps)
            tracker.finish(ApprovalState.FAILED, reason)
        except OwnershipLostError:
            return
        except Exception:
            log.exception("could not record the failure of %s", tracker.approval.id)

    def restore_previous(
        self, tracker: RolloutTracker, state: EndpointState, new: str, reason: str
    ) -> bool:
        """Previous split back, new deployment deleted. False when there was nothing to restore."""
        approval = tracker.approval
        platform = self.desk.platform
        before = tracker.rollout.get("before") or {}
        existing = {d.name: d for d in state.deployments}
        restore = {
            name: int(share)
            for name, share in dict(before.get("split") or {}).items()
            if name in existing and int(share) > 0
        }
        current = current_split(state)
        if restore and sum(restore.values()) == 100:
            if current != restore:
                target = {name: 0 for name in existing}
                target.update(restore)
                platform.set_traffic(approval.model, approval.target_env, target)
                self.desk.store.audit(
                    BOT_ACTOR,
                    "traffic",
                    "ok",
                    model=approval.model,
                    environment=approval.target_env,
                    subject=approval.id,
                    version=approval.version,
                    before=current,
                    after=restore,
                    reason=reason,
                )
        elif current.get(new):
            return False  # the new deployment is all there is; removing it would stop serving
        if new in existing:
            platform.begin_delete_deployment(approval.model, approval.target_env, new).wait(
                DEPLOY_TIMEOUT_SECONDS
            )
        self.desk.store.audit(
            BOT_ACTOR,
            "rolled_back",
            "ok",
            model=approval.model,
            environment=approval.target_env,
            subject=approval.id,
            version=approval.version,
            deployment=new,
            reason=reason,
        )
        return True

    def announce_end(self, approval_id: str) -> None:
        approval = self.desk.book.get(approval_id)
        if approval is None or not approval.state.finished:
            return
        self.desk.refresh_card(approval_id)
        self.desk.say(approval, EndedLine.of(approval))
