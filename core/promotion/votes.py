"""Clicks on a request card: Approve, Reject and Cancel, checked against the policy and applied
to the store, with what came of each (:class:`ActionResult`).

Button values are never trusted: callers pass the approval id and where the click happened
(:class:`ClickLocation`), and everything else is re-read from the store. Nothing here talks to
Slack: the listeners and :mod:`core.promotion.desk` turn the outcomes into messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from core.access import Decision
from core.promotion.book import ApprovalBook
from core.promotion.policy import ApprovalRules
from core.promotion.states import ApprovalSnapshot, ApprovalState
from infra.store import StaleStateError, Store, retry_on_conflict


class Outcome(StrEnum):
    RECORDED = "recorded"
    """A vote counted and the request still waits for more."""
    APPROVED = "approved"
    """This vote completed the policy: the request is approved and a rollout starts."""
    REJECTED = "rejected"
    CANCELED = "canceled"
    ALLOWED = "allowed"
    """A check passed (e.g. before opening the reject dialog); nothing changed."""
    DUPLICATE = "duplicate"
    DENIED = "denied"
    NOT_PENDING = "not_pending"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    """The button carried an id the bot does not know, or it was not on that request's card."""


@dataclass(frozen=True)
class ActionResult:
    outcome: Outcome
    approval: ApprovalSnapshot | None = None
    rule: str | None = None
    counted: int = 0
    announced: bool = False
    """The change's Slack messages were queued in its own transaction already."""

    @property
    def changed(self) -> bool:
        return self.outcome in (
            Outcome.RECORDED,
            Outcome.APPROVED,
            Outcome.REJECTED,
            Outcome.CANCELED,
            Outcome.EXPIRED,
        )


Announce = Callable[[ActionResult], None]
"""Writes what a change says in Slack (card edit, thread lines) to the outbox; called inside
the store transaction of the change, so both commit together (a transactional outbox)."""


def _silent(_result: ActionResult) -> None:
    return None


@dataclass(frozen=True)
class ClickLocation:
    """Where a button was pressed (from Slack's payload container)."""

    channel: str | None
    message_ts: str | None


class ApprovalVotes:
    """What a click on a request card does: authorised, recorded, and the request moved on."""

    def __init__(self, book: ApprovalBook) -> None:
        self.book = book

    @property
    def store(self) -> Store:
        return self.book.store

    @property
    def rules(self) -> ApprovalRules:
        return self.book.rules

    def clock(self) -> datetime:
        return self.book.clock()

    def _locate(
        self, approval_id: str, where: ClickLocation | None, user: str, action: str
    ) -> ApprovalSnapshot | ActionResult:
        """The request behind a click, or UNKNOWN when the id is not one of ours or the click
        did not come from that request's card (a tampered or replayed button value)."""
        approval = self.book.get(approval_id)
        tampered = approval is None or (
            where is not None
            and approval.published
            and (where.channel, where.message_ts) != (approval.channel, approval.message_ts)
        )
        if tampered:
            self.store.audit(
                user,
                f"approval_{action}",
                "refused",
                subject=str(approval_id)[:64],
                model=approval.model if approval else None,
                environment=approval.target_env if approval else None,
                reason="the button does not belong to a known promotion request card",
                channel=where.channel if where else None,
                message_ts=where.message_ts if where else None,
            )
            return ActionResult(Outcome.UNKNOWN)
        assert approval is not None
        return approval

    def _denied(
        self, approval: ApprovalSnapshot, user: str, action: str, decision: Decision
    ) -> ActionResult:
        self.store.audit(
            user,
            f"approval_{action}",
            "denied",
            model=approval.model,
            environment=approval.target_env,
            subject=approval.id,
            rule=decision.rule,
        )
        return ActionResult(Outcome.DENIED, approval, decision.rule)

    def _check_open(
        self, approval: ApprovalSnapshot, user: str, action: str
    ) -> ActionResult | None:
        """NOT_PENDING / EXPIRED when the request can no longer be acted on."""
        if approval.state is not ApprovalState.PENDING:
            self.store.audit(
                user,
                f"approval_{action}",
                "ignored",
                model=approval.model,
                environment=approval.target_env,
                subject=approval.id,
                state=approval.state.value,
            )
            return ActionResult(Outcome.NOT_PENDING, approval)
        if self.clock() >= approval.expires_at:
            expired = self.book.expire(approval)
            return ActionResult(Outcome.EXPIRED, expired or self.book.require(approval.id))
        return None

    def _authorize(
        self,
        approval_id: str,
        user: str,
        action: str,
        where: ClickLocation | None,
        rule: Callable[[ApprovalSnapshot], Decision],
    ) -> ActionResult:
        """ALLOWED with the request when ``user`` may take ``action`` on it now; otherwise what
        stops them (unknown or misplaced request, no longer pending, expired, the policy)."""
        located = self._locate(approval_id, where, user, action)
        if isinstance(located, ActionResult):
            return located
        closed = self._check_open(located, user, action)
        if closed is not None:
            return closed
        decision = rule(located)
        if not decision.allowed:
            return self._denied(located, user, action, decision)
        return ActionResult(Outcome.ALLOWED, located, decision.rule)

    def approve(
        self,
        approval_id: str,
        user: str,
        where: ClickLocation | None = None,
        announce: Announce = _silent,
    ) -> ActionResult:
        """``user`` clicks Approve. Returns what happened; exactly one caller ever gets APPROVED.

        The vote, its audit row, the state change it completes and what ``announce`` queues
        are one transaction: a crash leaves all of them or none."""
        allowed = self._authorize(
            approval_id,
            user,
            "approve",
            where,
            lambda approval: self.rules.may_approve(approval, user, self.clock()),
        )
        if allowed.outcome is not Outcome.ALLOWED:
            return allowed
        approval = allowed.approval
        assert approval is not None
        self_ok = self.rules.policy(approval.target_env).allow_self_approval

        def vote() -> ActionResult:
            with self.store.transaction():
                # The request's row is locked first (PostgreSQL; SQLite serialises writers
                # anyway): two votes committing at once cannot both count without the other and
                # leave a request stalled with enough votes; the CAS makes one caller win.
                self.book.lock(approval.id)
                # The gate again under the row lock: the evidence may have changed since the
                # click was checked (a refresh that found the candidate failing a limit).
                held = self.rules.shadow_hold(self.book.require(approval.id))
                if held is not None:
                    return self._denied(approval, user, "approve", Decision(False, held))
                if not self.book.record_vote(approval.id, user, "approve"):
                    self.store.audit(
                        user,
                        "approval_approve",
                        "duplicate",
                        model=approval.model,
                        environment=approval.target_env,
                        subject=approval.id,
                    )
                    current = self.book.require(approval.id)
                    return ActionResult(
                        Outcome.DUPLICATE, current, counted=len(current.approvals_counted(self_ok))
                    )
                self.store.audit(
                    user,
                    "approval_approve",
                    "recorded",
                    model=approval.model,
                    environment=approval.target_env,
                    subject=approval.id,
                )
                current = self.book.require(approval.id)
                counted = len(current.approvals_counted(self_ok))
                if current.state is not ApprovalState.PENDING or counted < current.required:
                    result = ActionResult(Outcome.RECORDED, current, counted=counted)
                else:
                    approved = self.book.transition(
                        current, ApprovalState.APPROVED, actor=user, reason=None
                    )
                    result = ActionResult(Outcome.APPROVED, approved, counted=counted)
                announce(result)
                return replace(result, announced=announce is not _silent)

        return retry_on_conflict(vote)

    def check_reject(
        self, approval_id: str, user: str, where: ClickLocation | None = None
    ) -> ActionResult:
        """May ``user`` reject? Used before opening the reason dialog; changes nothing."""
        return self._authorize(
            approval_id,
            user,
            "reject",
            where,
            lambda approval: self.rules.may_reject(approval, user),
        )

    def reject(
        self, approval_id: str, user: str, reason: str, announce: Announce = _silent
    ) -> ActionResult:
        checked = self.check_reject(approval_id, user)
        if checked.outcome is not Outcome.ALLOWED:
            return checked
        return self._finish_pending(
            checked.approval,
            ApprovalState.REJECTED,
            user,
            reason,
            Outcome.REJECTED,
            announce,
            vote="reject",
        )

    def cancel(
        self,
        approval_id: str,
        user: str,
        where: ClickLocation | None = None,
        announce: Announce = _silent,
    ) -> ActionResult:
        allowed = self._authorize(
            approval_id,
            user,
            "cancel",
            where,
            lambda approval: self.rules.may_cancel(approval, user),
        )
        if allowed.outcome is not Outcome.ALLOWED:
            return allowed
        return self._finish_pending(
            allowed.approval,
            ApprovalState.CANCELED,
            user,
            "canceled by the requester",
            Outcome.CANCELED,
            announce,
        )

    def _finish_pending(
        self,
        approval: ApprovalSnapshot | None,
        to: ApprovalState,
        user: str,
        reason: str,
        outcome: Outcome,
        announce: Announce,
        vote: str | None = None,
    ) -> ActionResult:
        assert approval is not None
        approval_id = approval.id

        def attempt() -> ActionResult:
            with self.store.transaction():
                current = self.book.require(approval_id)
                if current.state is not ApprovalState.PENDING:
                    return ActionResult(Outcome.NOT_PENDING, current)
                if vote is not None:
                    self.book.record_vote(approval_id, user, vote)
                result = ActionResult(
                    outcome, self.book.transition(current, to, actor=user, reason=reason)
                )
                announce(result)
                return replace(result, announced=announce is not _silent)

        try:
            return retry_on_conflict(attempt)
        except StaleStateError:
            return ActionResult(Outcome.NOT_PENDING, self.book.require(approval_id))
