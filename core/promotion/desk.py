"""The promotion desk: posts request cards and keeps them current, writes their threads,
applies clicks, expires overdue requests, and drives the sweep that starts rollouts
(:mod:`core.promotion.runner`), takes over interrupted ones (:mod:`core.promotion.reconciler`)
and retires what they replaced (:mod:`core.promotion.retirement`).

The store is the source of truth and the card is always rendered from it, so whichever thread or
replica edits the card last shows the latest state. Everything reaches Slack through the
:class:`core.publisher.Publisher` port, as reply objects (:mod:`core.promotion.cards`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.access import AccessPolicy
from core.promotion.book import ApprovalBook
from core.promotion.cards import (
    LINK_WITH_ANSWER_UNTIL,
    ApprovalCardReply,
    ApprovedLine,
    CardLinkReply,
    ClosedLine,
    ThreadLine,
    VoteLine,
)
from core.promotion.policy import ApprovalRules
from core.promotion.reconciler import Reconciler
from core.promotion.retirement import Retirement
from core.promotion.runner import RolloutRunner
from core.promotion.shadow import ShadowEvaluator
from core.promotion.states import ApprovalSnapshot, ApprovalState, parse_time
from core.promotion.votes import ActionResult, ApprovalVotes, ClickLocation, Outcome
from core.publisher import Publisher, key_of
from core.replies import MessageRef
from infra.platform.base import MLPlatform
from infra.settings import Settings
from infra.store import StaleStateError, Store, retry_on_conflict

log = logging.getLogger(__name__)

CARD_HOOK = "approval-card"
"""The outbox hook name under which a late-delivered request card is recorded."""

PUBLISH_CLAIM_SECONDS = 60.0
PUBLISH_RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class SweepReport:
    published: int = 0
    expired: int = 0
    reconciled: int = 0
    retired: int = 0
    shadowed: int = 0


class PromotionDesk:
    """Everything after the state machine: cards, threads, clicks, expiry, and the sweep."""

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
        self.votes = ApprovalVotes(self.book)
        self.instance = uuid.uuid4().hex[:12]
        self.pool = ThreadPoolExecutor(
            max_workers=max_parallel_rollouts, thread_name_prefix="rollout"
        )
        self._card_locks: dict[str, threading.Lock] = {}
        self._card_locks_guard = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.runner = RolloutRunner(self)
        self.reconciler = Reconciler(self, self.runner)
        self.retirement = Retirement(self)
        self.shadow = ShadowEvaluator(self)

    # -- lifecycle
    def start(self) -> None:
        """Reconcile interrupted rollouts, then sweep every ``interval`` seconds."""
        self._thread = threading.Thread(target=self._loop, name="promotions", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.pool.shutdown(wait=False)

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
        retire deployments whose grace period ended, and run the shadow evaluations (deploy,
        refresh the evidence, remove what ended). Safe to call from any scheduler."""
        return SweepReport(
            published=self.publish_cards(),
            expired=self.expire_overdue(),
            reconciled=self.reconciler.reconcile(),
            retired=self.retirement.retire_due(),
            shadowed=self.shadow.sweep(),
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
        if self.store.in_transaction:
            # Inside a state change's transaction the database serialises writers of this
            # request (its row is written first), and a thread lock here could wait on a
            # thread that waits for this transaction.
            self._queue_card(approval_id)
            return
        with self._card_lock(approval_id):
            self._queue_card(approval_id)

    def _queue_card(self, approval_id: str) -> None:
        approval = self.book.get(approval_id)
        if approval is None or not approval.published:
            return
        self.publisher.update(
            key_of("approval-card-edit", approval_id),
            MessageRef(str(approval.channel), str(approval.message_ts)),
            self.card(approval),
        )

    def say(self, approval: ApprovalSnapshot, line: ThreadLine) -> None:
        """A line in the card's thread (progress, votes, the end), kept until Slack takes it;
        the same line is never posted twice, even by a bot that took the rollout over."""
        if not approval.published:
            fresh = self.book.get(approval.id)
            if fresh is None:
                return
            approval = fresh
        # Keyed by the rollout attempt too: a resumed rollout (attempt 2) says its steps again,
        # a process that took over the same attempt does not.
        attempt = (approval.rollout or {}).get("attempt") or 0
        key = key_of("approval-thread", approval.id, attempt, line.key)
        if approval.published:
            self.publisher.post(key, str(approval.channel), line, thread_ts=approval.message_ts)
            return
        # The card went out but is not recorded on the request yet (a click can come in
        # between): the line waits for the card's outbox row and goes into its thread.
        self.publisher.post(
            key,
            self._approvals_channel(approval),
            line,
            parent=key_of("approval-card", approval.id),
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
        return self.card_posted(approval.id, delivery.ref, posted=approval)

    def card_delivered(
        self, args: Mapping[str, Any], ref: MessageRef | None, deferred: bool
    ) -> None:
        """Outbox hook (:data:`CARD_HOOK`): a request card went out after waiting: record it."""
        if ref is not None and deferred:
            self.card_posted(str(args.get("approval")), ref)

    def card_posted(
        self, approval_id: str, ref: MessageRef, posted: ApprovalSnapshot | None = None
    ) -> bool:
        """Record where the card went, then what follows (link to the requester, the rollout of
        a request approved meanwhile). Idempotent: the outbox hook and the sweep may both call.

        ``posted`` is the request as the card showed it; when nothing it shows has changed
        since, the card is not edited (Slack would mark a brand-new card "(edited)")."""
        try:
            link = self.publisher.permalink(ref)
        except Exception as exc:  # a Slack timeout must not leave the card unrecorded
            log.info("no permalink for the card of %s: %s", approval_id, exc)
            link = None

        def attempt() -> ApprovalSnapshot | None:
            fresh = self.book.require(approval_id)
            if fresh.published:
                if (fresh.channel, fresh.message_ts) != (ref.channel, ref.ts):
                    log.error("the card of %s was posted twice (%s)", approval_id, ref)
                return None
            context = {
                k: v
                for k, v in fresh.context.items()
                if k not in ("publishing", "publish_retry_at", "publish_error")
            }
            return self.book.update(
                fresh,
                channel=ref.channel,
                message_ts=ref.ts,
                context={**context, "permalink": link},
            )

        try:
            saved = retry_on_conflict(attempt)
        except StaleStateError:
            return False
        if saved is None:
            return False
        if posted is None or _shown(posted) != _shown(saved):
            self.refresh_card(approval_id)  # the state moved while the card was posted
        self._send_link(saved, link)
        if saved.state is ApprovalState.APPROVED:
            self.start_rollout(saved.id)
        return True

    def _send_link(self, approval: ApprovalSnapshot, link: str | None) -> None:
        until = approval.context.get(LINK_WITH_ANSWER_UNTIL)
        if isinstance(until, int | float) and time.time() < until:
            return  # the command is still waiting for the card: its answer carries the link
        reply = CardLinkReply(approval=approval, link=link)
        channel = approval.context.get("request_channel")
        # Best effort: the card itself is in the channel. Where the requester cannot be answered
        # in the channel they asked from, a direct message tells them.
        if channel and self.publisher.ephemeral(str(channel), approval.requester, reply):
            return
        self.publisher.direct_message(approval.requester, reply)

    # -- clicks (called by the listeners after they ack)
    def approve(self, approval_id: str, user: str, where: ClickLocation | None) -> ActionResult:
        result = self.votes.approve(approval_id, user, where, self.announcer(user))
        self.after_change(result, user)
        return result

    def reject(self, approval_id: str, user: str, reason: str) -> ActionResult:
        result = self.votes.reject(approval_id, user, reason, self.announcer(user))
        self.after_change(result, user)
        return result

    def cancel(self, approval_id: str, user: str, where: ClickLocation | None) -> ActionResult:
        result = self.votes.cancel(approval_id, user, where, self.announcer(user))
        self.after_change(result, user)
        return result

    def announcer(self, user: str) -> Callable[[ActionResult], None]:
        """What a click's change says (card edit, thread lines), queued in the outbox inside
        the change's own transaction (see :meth:`ApprovalVotes.approve`)."""
        return lambda result: self.announce(result, user)

    def announce(self, result: ActionResult, user: str) -> None:
        """Queue the card edit and thread lines of a state change."""
        approval = result.approval
        if approval is None or not result.changed:
            return
        self.refresh_card(approval.id)
        if result.outcome is Outcome.RECORDED:
            self.say(approval, VoteLine.of(approval, user, result.counted))
        elif result.outcome is Outcome.APPROVED:
            self.say(approval, VoteLine.of(approval, user, result.counted))
            self.say(approval, ApprovedLine.of(approval))
        else:
            self.say(approval, ClosedLine.of(approval))

    def after_change(self, result: ActionResult, user: str) -> None:
        """After a state change committed: show it (unless its transaction queued that
        already) and start the rollout if due."""
        approval = result.approval
        if approval is None or not result.changed:
            return
        if not result.announced:
            self.announce(result, user)
        if result.outcome is Outcome.APPROVED:
            self.start_rollout(approval.id)

    # -- expiry
    def expire_overdue(self) -> int:
        expired = self.book.expire_due()
        for approval in expired:
            self.refresh_card(approval.id)
            self.say(approval, ClosedLine.of(approval))
        return len(expired)

    # -- rollouts, reconciliation, retirement (see their modules)
    def start_rollout(self, approval_id: str) -> None:
        self.runner.start_rollout(approval_id)

    def reconcile(self) -> int:
        return self.reconciler.reconcile()

    def retire_due(self) -> int:
        return self.retirement.retire_due()


def _shown(approval: ApprovalSnapshot) -> tuple[object, ...]:
    """What the request card shows of a request (not where it is posted or its link)."""
    return (
        approval.state,
        approval.votes,
        approval.required,
        approval.reason,
        approval.expires_at,
        repr(approval.rollout),
        repr(approval.context.get("shadow")),
    )
