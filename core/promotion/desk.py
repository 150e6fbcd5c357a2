"""The promotion worker: posts request cards, rolls approved requests out, retires what they
replaced, and after a restart finds interrupted rollouts and resumes or rolls them back.

The store is the source of truth and the card is always rendered from it, so whichever thread or
replica edits the card last shows the latest state. One process owns a running rollout: the
``approved -> rolling_out`` compare-and-set names it (host, process, a run token) and it keeps a
heartbeat; a rollout whose owner died (its process is gone, or its heartbeat went stale on
another host) is taken over, again by compare-and-set, and reconciled with the platform:

- nothing deployed yet (or only a deployment that never took traffic): resumed from the start;
- the new deployment already took all the traffic: recorded as finished;
- anything in between: traffic goes back to the previous split and the new deployment is removed.

The card and its thread say which.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.slack.blocks import approval as texts
from commands.rollouts import plan_for
from core.access import AccessPolicy
from core.promotion.approvals import (
    CAS_ATTEMPTS,
    ActionResult,
    ApprovalBook,
    ApprovalCardReply,
    ApprovalRules,
    ApprovalSnapshot,
    ApprovalState,
    CardLinkReply,
    ClickLocation,
    Outcome,
    parse_time,
    rollout_steps,
    steps_json,
)
from core.publisher import Publisher, digest, key_of
from core.replies import MessageRef, Step, StepState
from core.rollout import DEPLOY_TIMEOUT_SECONDS, Rollout
from core.serving import current_split
from infra.platform.base import EndpointState, MLPlatform, PlatformError
from infra.settings import Settings
from infra.store import StaleStateError, Store

log = logging.getLogger(__name__)

CARD_HOOK = "approval-card"
"""The outbox hook name under which a late-delivered request card is recorded."""

BOT_ACTOR = "mlops-bot"
HOST = socket.gethostname()
PUBLISH_CLAIM_SECONDS = 60.0
PUBLISH_RETRY_SECONDS = 30.0
RETIRE_RETRY_SECONDS = 60.0
RETIRE_LOOKBACK = timedelta(days=30)

# Rollouts running in this process, whichever desk started them: a restarted desk in the same
# process must not take over a rollout whose thread is still alive.
_RUNNING: Counter[str] = Counter()
_RUNNING_LOCK = threading.Lock()


def _hold(approval_id: str) -> None:
    with _RUNNING_LOCK:
        _RUNNING[approval_id] += 1


def _release(approval_id: str) -> None:
    with _RUNNING_LOCK:
        _RUNNING[approval_id] -= 1
        if _RUNNING[approval_id] <= 0:
            del _RUNNING[approval_id]


@contextmanager
def _running(approval_id: str) -> Iterator[None]:
    _hold(approval_id)
    try:
        yield
    finally:
        _release(approval_id)


def _process_started(pid: int) -> float | None:
    """Creation time of a live process, None when it is gone (or a zombie)."""
    try:
        import psutil

        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return float(process.create_time())
    except ImportError:  # pragma: no cover - psutil ships with the local platform
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return -1.0
    except Exception:
        return None


_OWN_START = _process_started(os.getpid())


class OwnershipLostError(Exception):
    """Another process took this rollout over (it thought we were dead): stop touching it."""


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 3600:
        return f"{seconds / 3600:g}h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds}s"


@dataclass(frozen=True)
class SweepReport:
    published: int = 0
    expired: int = 0
    reconciled: int = 0
    retired: int = 0


# --------------------------------------------------------------------------- one rollout's writer


class _Tracker:
    """The single writer of a running rollout's row: steps, heartbeat, final state."""

    def __init__(self, desk: PromotionDesk, approval: ApprovalSnapshot) -> None:
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
            for _ in range(CAS_ATTEMPTS):
                try:
                    self.approval = write(self.approval, merged)
                    self.rollout = dict(self.approval.rollout)
                    return
                except StaleStateError:
                    fresh = self.desk.book.require(self.approval.id)
                    if fresh.state is not ApprovalState.ROLLING_OUT or fresh.rollout.get(
                        "run"
                    ) != self.rollout.get("run"):
                        raise OwnershipLostError(self.approval.id) from None
                    self.approval = fresh
            raise OwnershipLostError(self.approval.id)

    def save(self, **fields: Any) -> None:
        self._cas(lambda a, merged: self.desk.book.update(a, rollout=merged), fields)

    def finish(self, to: ApprovalState, reason: str, **fields: Any) -> None:
        self._cas(
            lambda a, merged: self.desk.book.transition(
                a, to, actor=BOT_ACTOR, reason=reason, rollout=merged
            ),
            fields,
        )
        self.desk.refresh_card(self.approval.id)

    # -- steps
    @property
    def steps(self) -> list[Step]:
        return rollout_steps(self.approval)

    def set_steps(self, steps: list[Step], **fields: Any) -> None:
        self.save(steps=steps_json(steps), **fields)
        self.desk.refresh_card(self.approval.id)
        for index, step in enumerate(steps):
            finished = step.state in (StepState.DONE, StepState.FAILED)
            if finished and self._posted.get(index) != step.state.value:
                self._posted[index] = step.state.value
                self.desk.say(self.approval, texts.step_thread_text(step))

    def mark(self, index: int, state: StepState, detail: str = "") -> None:
        steps = self.steps
        steps[index] = replace(steps[index], state=state, detail=detail)
        self.set_steps(steps)

    def note(self, text: str) -> None:
        notes = [*list(self.rollout.get("notes") or []), text]
        self.save(notes=notes)
        self.desk.say(self.approval, texts.note_thread_text(text))


# --------------------------------------------------------------------------- the desk


class PromotionDesk:
    """Everything after the state machine: cards, rollouts, retirement, reconciliation."""

    def __init__(
        self,
        settings: Settings,
        platform: MLPlatform,
        store: Store,
        access: AccessPolicy,
        publisher: Publisher,
        *,
        interval_seconds: float = 1.0,
        heartbeat_seconds: float = 15.0,
        stale_after_seconds: float = 90.0,
        approved_grace_seconds: float = 5.0,
        max_attempts: int = 2,
        max_parallel_rollouts: int = 4,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.platform = platform
        self.store = store
        self.publisher = publisher
        self.interval = interval_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.stale_after = timedelta(seconds=stale_after_seconds)
        self.approved_grace = timedelta(seconds=approved_grace_seconds)
        self.max_attempts = max_attempts
        self.clock = clock
        self.sleep = sleep
        self.rules = ApprovalRules(settings, access)
        self.book = ApprovalBook(store, self.rules, clock)
        self.instance = uuid.uuid4().hex[:12]
        self._pool = ThreadPoolExecutor(
            max_workers=max_parallel_rollouts, thread_name_prefix="rollout"
        )
        self._card_locks: dict[str, threading.Lock] = {}
        self._card_locks_guard = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> None:
        """Reconcile interrupted rollouts, then sweep every ``interval`` seconds."""
        self._thread = threading.Thread(target=self._loop, name="promotions", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._pool.shutdown(wait=False)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception:
                log.exception("promotion sweep failed")
            self._wake.wait(self.interval)
            self._wake.clear()

    def sweep(self) -> SweepReport:
        """One round: post new cards, expire overdue requests, take over orphaned rollouts,
        retire deployments whose grace period ended. Safe to call from any scheduler."""
        return SweepReport(
            published=self.publish_cards(),
            expired=self.expire_overdue(),
            reconciled=self.reconcile(),
            retired=self.retire_due(),
        )

    # -- Slack: the card, its thread, people
    def card(self, approval: ApprovalSnapshot) -> ApprovalCardReply:
        return ApprovalCardReply(approval=approval, policy=self.rules.summary(approval.target_env))

    def _card_lock(self, approval_id: str) -> threading.Lock:
        with self._card_locks_guard:
            return self._card_locks.setdefault(approval_id, threading.Lock())

    def refresh_card(self, approval_id: str) -> None:
        """Re-render the card from the store (serialised per card, so the last edit is current).

        Through the outbox: while Slack is down the newest rendering waits there and replaces
        any older one, so the card tells the truth once Slack is back."""
        with self._card_lock(approval_id):
            approval = self.book.get(approval_id)
            if approval is None or not approval.published:
                return
            self.publisher.update(
                key_of("approval-card-edit", approval_id),
                MessageRef(str(approval.channel), str(approval.message_ts)),
                self.card(approval),
            )

    def say(self, approval: ApprovalSnapshot, text: str) -> None:
        """A line in the card's thread (progress, votes, the end), kept until Slack takes it;
        the same line is never posted twice, even by a bot that took the rollout over."""
        if not approval.published:
            fresh = self.book.get(approval.id)
            if fresh is None or not fresh.published:
                return
            approval = fresh
        # Keyed by the rollout attempt too: a resumed rollout (attempt 2) says its steps again,
        # a process that took over the same attempt does not.
        attempt = (approval.rollout or {}).get("attempt") or 0
        self.publisher.post(
            key_of("approval-thread", approval.id, attempt, digest(text)),
            str(approval.channel),
            text,
            thread_ts=approval.message_ts,
        )

    def _approvals_channel(self, approval: ApprovalSnapshot) -> str:
        settings = self.settings
        try:
            model = settings.model(approval.model)
        except KeyError:
            model = None
        return settings.channel(model, "approvals")

    def publish_cards(self) -> int:
        """Post the card of every request that has none yet (claimed, so one replica posts)."""
        posted = 0
        now = self.clock()
        open_states = (ApprovalState.PENDING, ApprovalState.APPROVED, ApprovalState.ROLLING_OUT)
        for approval in self.book.in_states(open_states):
            if approval.published:
                continue
            claim = approval.context.get("publishing") or {}
            claimed_at = parse_time(claim.get("at"))
            if (
                claimed_at is not None
                and claim.get("by") != self.instance
                and (now - claimed_at).total_seconds() < PUBLISH_CLAIM_SECONDS
            ):
                continue
            retry_at = parse_time(approval.context.get("publish_retry_at"))
            if retry_at is not None and now < retry_at:
                continue
            try:
                claimed = self.book.update(
                    approval,
                    context={**approval.context, "publishing": {"by": self.instance, "at": now}},
                )
            except StaleStateError:
                continue
            if self._publish(claimed):
                posted += 1
        return posted

    def _publish(self, approval: ApprovalSnapshot) -> bool:
        channel = self._approvals_channel(approval)
        delivery = self.publisher.post(
            key_of("approval-card", approval.id),
            channel,
            self.card(approval),
            hook=CARD_HOOK,
            hook_args={"approval": approval.id},
        )
        if delivery.ref is None:
            # Kept in the outbox (its loop retries it); this sweep looks again in a while.
            log.warning("the card of %s is queued for %s: %s", approval.id, channel, delivery.error)
            with suppress(StaleStateError):
                self.book.update(
                    approval,
                    context={
                        **approval.context,
                        "publish_error": f"{channel}: {delivery.error}",
                        "publish_retry_at": self.clock() + timedelta(seconds=PUBLISH_RETRY_SECONDS),
                    },
                )
            return False
        return self.card_posted(approval.id, delivery.ref)

    def card_delivered(
        self, args: Mapping[str, Any], ref: MessageRef | None, deferred: bool
    ) -> None:
        """Outbox hook (:data:`CARD_HOOK`): a request card went out after waiting: record it."""
        if ref is not None and deferred:
            self.card_posted(str(args.get("approval")), ref)

    def card_posted(self, approval_id: str, ref: MessageRef) -> bool:
        """Record where the card went, then what follows (link to the requester, the rollout of
        a request approved meanwhile). Idempotent: the outbox hook and the sweep may both call."""
        try:
            link = self.publisher.permalink(ref)
        except Exception as exc:  # a Slack timeout must not leave the card unrecorded
            log.info("no permalink for the card of %s: %s", approval_id, exc)
            link = None
        saved: ApprovalSnapshot | None = None
        for _ in range(CAS_ATTEMPTS):
            fresh = self.book.require(approval_id)
            if fresh.published:
                if (fresh.channel, fresh.message_ts) != (ref.channel, ref.ts):
                    log.error("the card of %s was posted twice (%s)", approval_id, ref)
                return False
            context = {
                k: v
                for k, v in fresh.context.items()
                if k not in ("publishing", "publish_retry_at", "publish_error")
            }
            try:
                saved = self.book.update(
                    fresh,
                    channel=ref.channel,
                    message_ts=ref.ts,
                    context={**context, "permalink": link},
                )
                break
            except StaleStateError:
                continue
        if saved is None:
            return False
        self.refresh_card(approval_id)  # the state may have moved while the card was posted
        self._send_link(saved, link)
        if saved.state is ApprovalState.APPROVED:
            self.start_rollout(saved.id)
        return True

    def _send_link(self, approval: ApprovalSnapshot, link: str | None) -> None:
        reply = CardLinkReply(approval=approval, link=link)
        channel = approval.context.get("request_channel")
        # Best effort: the card itself is in the channel. Where the requester cannot be answered
        # in the channel they asked from, a direct message tells them.
        if channel and self.publisher.ephemeral(str(channel), approval.requester, reply):
            return
        self.publisher.direct_message(approval.requester, reply)

    # -- clicks (called by the listeners after they ack)
    def approve(self, approval_id: str, user: str, where: ClickLocation | None) -> ActionResult:
        result = self.book.approve(approval_id, user, where)
        self.after_change(result, user)
        return result

    def reject(self, approval_id: str, user: str, reason: str) -> ActionResult:
        result = self.book.reject(approval_id, user, reason)
        self.after_change(result, user)
        return result

    def cancel(self, approval_id: str, user: str, where: ClickLocation | None) -> ActionResult:
        result = self.book.cancel(approval_id, user, where)
        self.after_change(result, user)
        return result

    def after_change(self, result: ActionResult, user: str) -> None:
        """Show a state change: edit the card, write the thread, start the rollout if due."""
        approval = result.approval
        if approval is None or not result.changed:
            return
        self.refresh_card(approval.id)
        if result.outcome is Outcome.RECORDED:
            self.say(approval, texts.vote_thread_text(approval, user, result.counted))
        elif result.outcome is Outcome.APPROVED:
            self.say(approval, texts.vote_thread_text(approval, user, result.counted))
            self.say(approval, texts.approved_thread_text(approval))
            self.start_rollout(approval.id)
        else:
            self.say(approval, texts.closed_thread_text(approval))

    # -- expiry
    def expire_overdue(self) -> int:
        expired = self.book.expire_due()
        for approval in expired:
            self.refresh_card(approval.id)
            self.say(approval, texts.closed_thread_text(approval))
        return len(expired)

    # -- rollouts
    def start_rollout(self, approval_id: str) -> None:
        try:
            self._pool.submit(self._claim_and_run, approval_id)
        except RuntimeError:  # the desk is stopping; the next start-up picks the request up
            log.info("not starting the rollout of %s: shutting down", approval_id)

    def _claim_and_run(self, approval_id: str) -> None:
        # Marked as running before the claim, so a sweep in this process never mistakes the
        # freshly claimed rollout for an orphan.
        with _running(approval_id):
            approval = self.book.get(approval_id)
            if approval is None or approval.state is not ApprovalState.APPROVED:
                return
            try:
                claimed = self.book.transition(
                    approval,
                    ApprovalState.ROLLING_OUT,
                    actor=BOT_ACTOR,
                    rollout={**self._ownership(), "attempt": 1, "steps": []},
                )
            except StaleStateError:
                return  # another thread or replica claimed it: exactly one rollout
            self._guarded_run(claimed, attempt=1)

    def _ownership(self) -> dict[str, Any]:
        return {
            "owner": {
                "host": HOST,
                "pid": os.getpid(),
                "started": _OWN_START,
                "instance": self.instance,
            },
            "run": uuid.uuid4().hex,
            "heartbeat": self.clock().isoformat(),
        }

    def _guarded_run(self, approval: ApprovalSnapshot, attempt: int) -> None:
        with _running(approval.id):
            tracker = _Tracker(self, approval)
            tracker.start_heartbeat()
            try:
                self._execute(tracker, attempt)
            except OwnershipLostError:
                log.warning("promotion %s was taken over by another process", approval.id)
                return
            except Exception as exc:
                reference = uuid.uuid4().hex[:8]
                log.exception("promotion %s failed (reference %s)", approval.id, reference)
                self._fail_safely(
                    tracker,
                    f"the bot hit an internal error ({type(exc).__name__}, reference {reference})",
                )
            finally:
                tracker.stop()
        self._announce_end(approval.id)

    def _execute(self, tracker: _Tracker, attempt: int) -> None:
        approval = tracker.approval
        settings = self.settings
        platform = self.platform
        env = settings.environment(approval.target_env)
        copy = Step(
            f"Copy v{approval.version} from {approval.source_env} into {approval.target_env} "
            "through the registry"
        )
        retire = Step(f"Retire the previous deployment after {_span(env.rollout.retire_after)}")
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
                found = self._find_new_deployment(tracker)
                if found is not None:
                    fields["new_deployment"] = found
            tracker.set_steps(steps, **fields)

        result = Rollout(platform, self.store, sleep=self.sleep, clock=self.clock).run(plan, report)
        steps = tracker.steps
        if result.ok:
            replaced = [n for n in before["split"] if n != result.new_deployment]
            retire_at = self.clock() + env.rollout.retire_after
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
        failed_rollback = "rollback also failed" in reason
        tracker.finish(
            ApprovalState.FAILED if failed_rollback else ApprovalState.ROLLED_BACK, reason
        )

    def _find_new_deployment(self, tracker: _Tracker) -> str | None:
        """The deployment this rollout created: our version, and not there before we started."""
        approval = tracker.approval
        before = set((tracker.rollout.get("before") or {}).get("deployments") or [])
        try:
            state = self.platform.endpoint_state(approval.model, approval.target_env)
        except PlatformError:
            return None
        fresh = [
            d.name
            for d in state.deployments
            if d.model_version == approval.version and d.name not in before
        ]
        return fresh[-1] if fresh else None

    def _fail_safely(self, tracker: _Tracker, reason: str) -> None:
        """After an unexpected error: put the previous traffic back if we moved any, then fail."""
        try:
            state = self.platform.endpoint_state(
                tracker.approval.model, tracker.approval.target_env
            )
            new = tracker.rollout.get("new_deployment") or self._find_new_deployment(tracker)
            if new is not None:
                restored = self._restore_previous(tracker, state, new, reason)
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

    def _restore_previous(
        self, tracker: _Tracker, state: EndpointState, new: str, reason: str
    ) -> bool:
        """Previous split back, new deployment deleted. False when there was nothing to restore."""
        approval = tracker.approval
        platform = self.platform
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
                self.store.audit(
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
        self.store.audit(
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

    def _announce_end(self, approval_id: str) -> None:
        approval = self.book.get(approval_id)
        if approval is None or not approval.state.finished:
            return
        self.refresh_card(approval_id)
        self.say(approval, texts.ended_thread_text(approval))

    # -- reconciliation
    def _owner_gone(self, approval: ApprovalSnapshot) -> bool:
        rollout = approval.rollout
        owner = rollout.get("owner") or {}
        heartbeat = parse_time(rollout.get("heartbeat"))
        if heartbeat is None or self.clock() - heartbeat > self.stale_after:
            return True
        if owner.get("host") != HOST:
            return False
        pid = owner.get("pid")
        if pid == os.getpid():
            with _RUNNING_LOCK:
                return approval.id not in _RUNNING
        if not isinstance(pid, int):
            return True
        started = _process_started(pid)
        recorded = owner.get("started")
        if started is None:
            return True
        return recorded is not None and started >= 0 and abs(started - float(recorded)) > 1.0

    def reconcile(self) -> int:
        """Start approved requests nobody claimed and take over rollouts whose owner died."""
        handled = 0
        now = self.clock()
        for approval in self.book.in_states([ApprovalState.APPROVED]):
            if approval.published and now - approval.updated_at >= self.approved_grace:
                self.start_rollout(approval.id)
                handled += 1
        for approval in self.book.in_states([ApprovalState.ROLLING_OUT]):
            if not self._owner_gone(approval):
                continue
            _hold(approval.id)  # released by _recover_held; see _claim_and_run for why
            try:
                taken = self.book.update(
                    approval, rollout={**approval.rollout, **self._ownership()}
                )
            except StaleStateError:
                _release(approval.id)
                continue
            self.store.audit(
                BOT_ACTOR,
                "promotion_step",
                "taken_over",
                model=approval.model,
                environment=approval.target_env,
                subject=approval.id,
                previous_owner=approval.rollout.get("owner"),
            )
            try:
                self._pool.submit(self._recover_held, taken)
            except RuntimeError:  # shutting down: the next start-up reconciles it
                _release(approval.id)
                continue
            handled += 1
        return handled

    def _recover_held(self, approval: ApprovalSnapshot) -> None:
        try:
            self._recover(approval)
        finally:
            _release(approval.id)

    def _recover(self, approval: ApprovalSnapshot) -> None:
        with _running(approval.id):
            tracker = _Tracker(self, approval)
            tracker.start_heartbeat()
            try:
                resume_attempt = self._reconcile_with_platform(tracker)
            except OwnershipLostError:
                return
            except Exception as exc:
                log.exception("reconciling promotion %s failed", approval.id)
                self._fail_safely(tracker, f"could not reconcile after a restart: {exc}")
                resume_attempt = None
            finally:
                tracker.stop()
            if resume_attempt is not None:
                self._guarded_run(self.book.require(approval.id), attempt=resume_attempt)
                return
        self._announce_end(approval.id)

    def _reconcile_with_platform(self, tracker: _Tracker) -> int | None:
        """Decide what an interrupted rollout becomes; returns the attempt number to resume
        with, or None when it was settled here (finished or rolled back)."""
        approval = tracker.approval
        platform = self.platform
        state = platform.endpoint_state(approval.model, approval.target_env)
        existing = {d.name: d for d in state.deployments}
        new = tracker.rollout.get("new_deployment") or self._find_new_deployment(tracker)
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
            if attempt >= self.max_attempts:
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
            self._audit_step(approval, "resumed", at=at, attempt=attempt + 1)
            return attempt + 1
        if existing[new].traffic == 100:
            retire_after = self.settings.environment(approval.target_env).rollout.retire_after
            replaced = [n for n in before_split if n != new]
            retire_at = self.clock() + retire_after
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
            self._audit_step(approval, "finished_before_restart", deployment=new)
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
        restored = self._restore_previous(tracker, state, new, reason)
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

    def _audit_step(self, approval: ApprovalSnapshot, outcome: str, **detail: Any) -> None:
        self.store.audit(
            BOT_ACTOR,
            "promotion_step",
            outcome,
            model=approval.model,
            environment=approval.target_env,
            subject=approval.id,
            version=approval.version,
            **detail,
        )

    # -- retirement
    def retire_due(self) -> int:
        """Delete the deployments a successful rollout replaced, once their grace period ended."""
        now = self.clock()
        retired = 0
        for approval in self.book.in_states(
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
                claimed = self.book.update(
                    approval, rollout={**approval.rollout, "retire": claimed_retire}
                )
            except StaleStateError:
                continue  # another replica is on it
            if self._retire(claimed):
                retired += 1
        return retired

    def _retire(self, approval: ApprovalSnapshot) -> bool:
        platform = self.platform
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
        for _ in range(CAS_ATTEMPTS):
            try:
                approval = self.book.update(
                    approval,
                    rollout={
                        **approval.rollout,
                        "steps": steps_json(steps),
                        "retire": {**retire, "done": True, "removed": removed, "kept": kept},
                    },
                )
                break
            except StaleStateError:
                approval = self.book.require(approval.id)
        self._audit_step(approval, "retired", removed=removed, kept=kept)
        self.refresh_card(approval.id)
        if steps:
            self.say(approval, texts.step_thread_text(steps[-1]))
        return True
