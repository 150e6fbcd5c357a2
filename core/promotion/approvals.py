"""The promotion state machine and its policy: who may approve what, when, and how often.

A promotion request moves through::

    pending -> approved -> rolling_out -> succeeded | rolled_back | failed
    pending -> rejected | expired | canceled

Every change is a compare-and-set on the row's version (:meth:`infra.store.Store.compare_and_set`),
so double clicks, Slack retries, two approvers at the same moment and two bot replicas apply a
transition once; the loser re-reads and learns what happened. Votes live in their own table with
one row per user, which is what makes "two distinct approvals" mean two people.

Nothing here talks to Slack: listeners and the promotion worker (:mod:`core.promotion.desk`) turn the
outcomes into messages. Button values are never trusted: callers pass the approval id and where
the click happened, and everything else is re-read from the store.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.access import AccessPolicy, Decision
from core.replies import Reply, Step, StepState
from infra.cron import crontab_trigger
from infra.settings import ApprovalPolicy, FreezeWindow, Principals, Settings
from infra.store import Approval, AuditNote, StaleStateError, Store, Vote

APPROVAL_ID = re.compile(r"^[0-9a-f]{12}$")
CAS_ATTEMPTS = 8


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    ROLLING_OUT = "rolling_out"
    SUCCEEDED = "succeeded"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELED = "canceled"

    @property
    def finished(self) -> bool:
        return self in FINISHED

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


FINISHED = frozenset(
    {
        ApprovalState.SUCCEEDED,
        ApprovalState.ROLLED_BACK,
        ApprovalState.FAILED,
        ApprovalState.REJECTED,
        ApprovalState.EXPIRED,
        ApprovalState.CANCELED,
    }
)

TRANSITIONS: Mapping[ApprovalState, frozenset[ApprovalState]] = {
    ApprovalState.PENDING: frozenset(
        {
            ApprovalState.APPROVED,
            ApprovalState.REJECTED,
            ApprovalState.EXPIRED,
            ApprovalState.CANCELED,
        }
    ),
    ApprovalState.APPROVED: frozenset({ApprovalState.ROLLING_OUT}),
    ApprovalState.ROLLING_OUT: frozenset(
        {ApprovalState.SUCCEEDED, ApprovalState.ROLLED_BACK, ApprovalState.FAILED}
    ),
}


class InvalidTransitionError(Exception):
    """The state machine does not allow this move (a bug, or a request that already ended)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class VoteRecord:
    user: str
    decision: str
    at: datetime


@dataclass(frozen=True)
class ApprovalSnapshot:
    """One consistent read of a request and its votes: what cards and rules work from."""

    id: str
    model: str
    version: str
    source_env: str
    target_env: str
    requester: str
    state: ApprovalState
    required: int
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    channel: str | None
    message_ts: str | None
    reason: str | None
    rollout: Mapping[str, Any]
    context: Mapping[str, Any]
    row_version: int
    votes: tuple[VoteRecord, ...] = ()

    @property
    def approvers(self) -> list[str]:
        return [v.user for v in self.votes if v.decision == "approve"]

    def approvals_counted(self, self_approval: bool) -> list[str]:
        """Distinct approvers whose vote counts (the requester only when the policy allows)."""
        return [u for u in self.approvers if self_approval or u != self.requester]

    @property
    def published(self) -> bool:
        return bool(self.channel and self.message_ts)

    @property
    def direct(self) -> bool:
        """Created in an environment that takes direct deploys: no approval needed."""
        return self.required == 0


def _snapshot(row: Approval, votes: Iterable[Vote]) -> ApprovalSnapshot:
    return ApprovalSnapshot(
        id=row.id,
        model=row.model,
        version=row.version,
        source_env=row.source_env,
        target_env=row.target_env,
        requester=row.requester,
        state=ApprovalState(row.state),
        required=row.required,
        created_at=row.created_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
        channel=row.channel,
        message_ts=row.message_ts,
        reason=row.reason,
        rollout=dict(row.rollout or {}),
        context=dict(row.context or {}),
        row_version=row.version_no,
        votes=tuple(
            VoteRecord(v.user_id, v.decision, v.at) for v in sorted(votes, key=lambda v: v.at)
        ),
    )


# --------------------------------------------------------------------------- freeze windows


@dataclass(frozen=True)
class ActiveFreeze:
    window: FreezeWindow
    started: datetime
    ends: datetime

    def describe(self, env: str) -> str:
        return (
            f"promotions into {env} are frozen until {self.ends:%Y-%m-%d %H:%M} UTC: "
            f"{self.window.reason} (freeze window '{self.window.cron}' for "
            f"{_span(self.window.duration)})"
        )


def active_freeze(windows: Sequence[FreezeWindow], at: datetime) -> ActiveFreeze | None:
    """The freeze window covering ``at``, if any.

    ``at`` is frozen when some firing ``s`` of the window's cron satisfies
    ``s <= at < s + duration``; the earliest firing at or after ``at - duration`` is the only
    candidate (or the next one, when that first firing ends exactly at ``at``).
    """
    for window in windows:
        trigger = crontab_trigger(window.cron)
        start = trigger.get_next_fire_time(None, at - window.duration)
        if start is not None and start + window.duration <= at:
            start = trigger.get_next_fire_time(None, start + timedelta(seconds=1))
        if start is not None and start <= at < start + window.duration:
            return ActiveFreeze(window, start, start + window.duration)
    return None


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class PolicySummary:
    """The policy as the card and the command reply show it."""

    approvers: Principals
    required: int
    self_approval: bool
    production: bool
    expiry: timedelta

    def describe(self, approvers: str | None = None) -> str:
        """Plain text; ``approvers`` replaces the default plain list (e.g. with mentions)."""
        if self.required == 0:
            return "no approval needed (direct deploys are allowed here)"
        who = approvers if approvers is not None else plain_principals(self.approvers)
        plural = "s" if self.required > 1 else ""
        own = (
            "the requester may approve too"
            if self.self_approval
            else "the requester's own approval never counts"
        )
        return f"{self.required} distinct approval{plural} from {who}; {own}"

    @property
    def text(self) -> str:
        return self.describe()


def plain_principals(principals: Principals) -> str:
    """``U012AB, @ml-approvers`` (no mrkdwn), for text that is escaped later."""
    if principals.everyone:
        return "anyone"
    names = [*principals.users, *(f"@{g}" for g in principals.groups)]
    return ", ".join(names) if names else "nobody"


class ApprovalRules:
    """The configured policy of each environment, applied to one user and one request."""

    def __init__(self, settings: Settings, access: AccessPolicy) -> None:
        self.settings = settings
        self.access = access

    def policy(self, env: str) -> ApprovalPolicy:
        return self.settings.environment(env).approval

    def is_production(self, env: str) -> bool:
        return env == self.settings.env_names[-1]

    def is_direct(self, env: str) -> bool:
        return self.settings.environment(env).allow_direct_deploy

    def required(self, env: str) -> int:
        return 0 if self.is_direct(env) else self.policy(env).required

    def summary(self, env: str) -> PolicySummary:
        policy = self.policy(env)
        return PolicySummary(
            approvers=policy.approvers,
            required=self.required(env),
            self_approval=policy.allow_self_approval,
            production=self.is_production(env),
            expiry=policy.expiry,
        )

    def freeze(self, env: str, at: datetime) -> ActiveFreeze | None:
        return active_freeze(self.policy(env).freeze_windows, at)

    def can_be_approved(self, env: str) -> Decision:
        """Whether anybody at all could approve: an empty approver list refuses up front."""
        approvers = self.policy(env).approvers
        rule = f"approval.approvers of {env}"
        if self.is_direct(env) or not approvers.empty:
            return Decision(True, rule)
        return Decision(False, f"{rule} is empty, so nobody may approve promotions into {env}")

    def _approver_rule(self, env: str, principals: Principals) -> str:
        return f"approvals for {env} come from {plain_principals(principals)} (approval.approvers of {env})"

    def may_approve(self, approval: ApprovalSnapshot, user: str, at: datetime) -> Decision:
        env = approval.target_env
        policy = self.policy(env)
        if user == approval.requester and not policy.allow_self_approval:
            where = "production" if self.is_production(env) else env
            return Decision(
                False,
                f"you requested this promotion, and in {where} the requester's own approval "
                f"never counts (approval.allow_self_approval of {env} is off)",
            )
        if not self.access.is_member(user, policy.approvers):
            return Decision(
                False, f"{self._approver_rule(env, policy.approvers)}, and you are not one of them"
            )
        frozen = self.freeze(env, at)
        if frozen is not None:
            return Decision(False, frozen.describe(env))
        return Decision(True, self._approver_rule(env, policy.approvers))

    def may_reject(self, approval: ApprovalSnapshot, user: str) -> Decision:
        env = approval.target_env
        policy = self.policy(env)
        rule = f"rejections for {env} come from its approvers, {plain_principals(policy.approvers)}"
        if user == approval.requester:
            return Decision(False, "you requested this promotion; use Cancel to withdraw it")
        if not self.access.is_member(user, policy.approvers):
            return Decision(False, f"{rule}, and you are not one of them")
        return Decision(True, rule)

    def may_cancel(self, approval: ApprovalSnapshot, user: str) -> Decision:
        rule = "only the requester can cancel a promotion request"
        return Decision(user == approval.requester, rule)


# --------------------------------------------------------------------------- outcomes


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

    @property
    def changed(self) -> bool:
        return self.outcome in (
            Outcome.RECORDED,
            Outcome.APPROVED,
            Outcome.REJECTED,
            Outcome.CANCELED,
            Outcome.EXPIRED,
        )


@dataclass(frozen=True)
class ClickLocation:
    """Where a button was pressed (from Slack's payload container)."""

    channel: str | None
    message_ts: str | None


# --------------------------------------------------------------------------- the book


@dataclass
class NewRequest:
    model: str
    version: str
    source_env: str
    target_env: str
    requester: str
    context: dict[str, Any] = field(default_factory=dict)


class ApprovalBook:
    """Promotion requests in the store: reads, compare-and-set transitions and votes."""

    def __init__(
        self, store: Store, rules: ApprovalRules, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.rules = rules
        self.clock = clock

    # -- reads
    def get(self, approval_id: str) -> ApprovalSnapshot | None:
        if not isinstance(approval_id, str) or not APPROVAL_ID.fullmatch(approval_id):
            return None
        with self.store.session() as session:
            row = session.get(Approval, approval_id)
            if row is None:
                return None
            votes = session.scalars(select(Vote).where(Vote.approval_id == approval_id)).all()
            return _snapshot(row, votes)

    def require(self, approval_id: str) -> ApprovalSnapshot:
        found = self.get(approval_id)
        if found is None:
            raise KeyError(approval_id)
        return found

    def in_states(
        self,
        states: Iterable[ApprovalState],
        *,
        model: str | None = None,
        updated_since: datetime | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[ApprovalSnapshot]:
        with self.store.session() as session:
            order = Approval.updated_at.desc() if newest_first else Approval.created_at
            query = (
                select(Approval)
                .where(Approval.state.in_([s.value for s in states]))
                .order_by(order)
            )
            if model is not None:
                query = query.where(Approval.model == model)
            if updated_since is not None:
                query = query.where(Approval.updated_at >= updated_since)
            if limit is not None:
                query = query.limit(limit)
            rows = session.scalars(query).all()
            votes = session.scalars(
                select(Vote).where(Vote.approval_id.in_([r.id for r in rows]))
            ).all()
        by_id: dict[str, list[Vote]] = {}
        for vote in votes:
            by_id.setdefault(vote.approval_id, []).append(vote)
        return [_snapshot(r, by_id.get(r.id, [])) for r in rows]

    def open_request_for(self, model: str, target_env: str) -> ApprovalSnapshot | None:
        """A request for this model and environment that has not ended (one at a time)."""
        active = (ApprovalState.PENDING, ApprovalState.APPROVED, ApprovalState.ROLLING_OUT)
        for approval in self.in_states(active, model=model):
            if approval.target_env == target_env:
                return approval
        return None

    # -- creation
    def create(self, request: NewRequest) -> ApprovalSnapshot:
        now = self.clock()
        required = self.rules.required(request.target_env)
        policy = self.rules.policy(request.target_env)
        approval_id = secrets.token_hex(6)
        state = ApprovalState.APPROVED if required == 0 else ApprovalState.PENDING
        with self.store.session() as session:
            session.add(
                Approval(
                    id=approval_id,
                    model=request.model,
                    version=request.version,
                    source_env=request.source_env,
                    target_env=request.target_env,
                    requester=request.requester,
                    state=state.value,
                    required=required,
                    created_at=now,
                    updated_at=now,
                    expires_at=now + policy.expiry,
                    rollout={},
                    context=_jsonable(request.context),
                    version_no=0,
                )
            )
        self.store.audit(
            request.requester,
            "promotion_request",
            "created",
            model=request.model,
            environment=request.target_env,
            subject=approval_id,
            version=request.version,
            source=request.source_env,
            required=required,
        )
        if state is ApprovalState.APPROVED:
            self.store.audit(
                "mlops-bot",
                "promotion",
                state.value,
                model=request.model,
                environment=request.target_env,
                subject=approval_id,
                previous="new",
                reason=f"{request.target_env} takes direct deploys; no approval needed",
            )
        return self.require(approval_id)

    # -- compare-and-set
    def update(
        self, approval: ApprovalSnapshot, *, audit: AuditNote | None = None, **changes: Any
    ) -> ApprovalSnapshot:
        """Change fields of exactly this version of the row (StaleStateError otherwise)."""
        values = {k: _jsonable(v) if k in ("rollout", "context") else v for k, v in changes.items()}
        self.store.compare_and_set(
            Approval,
            approval.id,
            approval.row_version,
            audit=audit,
            updated_at=self.clock(),
            **values,
        )
        return self.require(approval.id)

    def transition(
        self,
        approval: ApprovalSnapshot,
        to: ApprovalState,
        *,
        actor: str,
        reason: str | None = None,
        **changes: Any,
    ) -> ApprovalSnapshot:
        """Move ``approval`` (as read) to ``to``; audited. StaleStateError if it moved first."""
        if to not in TRANSITIONS.get(approval.state, frozenset()):
            raise InvalidTransitionError(
                f"approval {approval.id} cannot go from {approval.state} to {to}"
            )
        if reason is not None:
            changes["reason"] = reason
        # The audit row commits with the state change: whoever sees the new state (a card, an
        # /mlops audit right after) also sees the line that explains it.
        note = AuditNote(
            actor,
            "promotion",
            to.value,
            model=approval.model,
            environment=approval.target_env,
            subject=approval.id,
            detail={
                "previous": approval.state.value,
                "version": approval.version,
                "reason": reason,
            },
        )
        return self.update(approval, audit=note, state=to.value, **changes)

    # -- votes
    def _record_vote(self, approval_id: str, user: str, decision: str) -> bool:
        try:
            with self.store.session() as session:
                session.add(
                    Vote(approval_id=approval_id, user_id=user, decision=decision, at=self.clock())
                )
            return True
        except IntegrityError:
            return False

    def _locate(
        self, approval_id: str, where: ClickLocation | None, user: str, action: str
    ) -> ApprovalSnapshot | ActionResult:
        """The request behind a click, or UNKNOWN when the id is not one of ours or the click
        did not come from that request's card (a tampered or replayed button value)."""
        approval = self.get(approval_id)
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
            expired = self.expire(approval)
            return ActionResult(Outcome.EXPIRED, expired or self.require(approval.id))
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
        self, approval_id: str, user: str, where: ClickLocation | None = None
    ) -> ActionResult:
        """``user`` clicks Approve. Returns what happened; exactly one caller ever gets APPROVED."""
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
        if not self._record_vote(approval.id, user, "approve"):
            self.store.audit(
                user,
                "approval_approve",
                "duplicate",
                model=approval.model,
                environment=approval.target_env,
                subject=approval.id,
            )
            current = self.require(approval.id)
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
        # Counting after the vote's own commit means whichever vote commits last sees every
        # vote, so the request cannot stall with enough votes; the CAS makes one caller win.
        for _ in range(CAS_ATTEMPTS):
            current = self.require(approval.id)
            counted = len(current.approvals_counted(self_ok))
            if current.state is not ApprovalState.PENDING or counted < current.required:
                return ActionResult(Outcome.RECORDED, current, counted=counted)
            try:
                approved = self.transition(
                    current,
                    ApprovalState.APPROVED,
                    actor=user,
                    reason=None,
                )
                return ActionResult(Outcome.APPROVED, approved, counted=counted)
            except StaleStateError:
                continue
        current = self.require(approval.id)
        return ActionResult(
            Outcome.RECORDED, current, counted=len(current.approvals_counted(self_ok))
        )

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

    def reject(self, approval_id: str, user: str, reason: str) -> ActionResult:
        checked = self.check_reject(approval_id, user)
        if checked.outcome is not Outcome.ALLOWED:
            return checked
        self._record_vote(approval_id, user, "reject")
        return self._finish_pending(
            checked.approval, ApprovalState.REJECTED, user, reason, Outcome.REJECTED
        )

    def cancel(
        self, approval_id: str, user: str, where: ClickLocation | None = None
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
        )

    def _finish_pending(
        self,
        approval: ApprovalSnapshot | None,
        to: ApprovalState,
        user: str,
        reason: str,
        outcome: Outcome,
    ) -> ActionResult:
        assert approval is not None
        for _ in range(CAS_ATTEMPTS):
            current = self.require(approval.id)
            if current.state is not ApprovalState.PENDING:
                return ActionResult(Outcome.NOT_PENDING, current)
            try:
                return ActionResult(
                    outcome, self.transition(current, to, actor=user, reason=reason)
                )
            except StaleStateError:
                continue
        return ActionResult(Outcome.NOT_PENDING, self.require(approval.id))

    # -- expiry
    def expire(self, approval: ApprovalSnapshot) -> ApprovalSnapshot | None:
        """Expire a pending request past its deadline; None when someone else moved it first."""
        for _ in range(CAS_ATTEMPTS):
            current = self.require(approval.id)
            if current.state is not ApprovalState.PENDING or self.clock() < current.expires_at:
                return None
            try:
                return self.transition(
                    current,
                    ApprovalState.EXPIRED,
                    actor="mlops-bot",
                    reason=f"nobody completed the approvals before {current.expires_at:%Y-%m-%d %H:%M} UTC",
                )
            except StaleStateError:
                continue
        return None

    def expire_due(self) -> list[ApprovalSnapshot]:
        now = self.clock()
        expired = []
        for approval in self.in_states([ApprovalState.PENDING]):
            if now >= approval.expires_at:
                done = self.expire(approval)
                if done is not None:
                    expired.append(done)
        return expired


def _jsonable(value: Any) -> Any:
    """Plain JSON values (datetimes as ISO text) for the JSON columns."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, StrEnum):
        return value.value
    return value


def rollout_steps(approval: ApprovalSnapshot) -> list[Step]:
    """The rollout's step list as stored on the request (empty before it starts)."""
    steps = []
    for raw in approval.rollout.get("steps") or []:
        try:
            state = StepState(raw.get("state", "pending"))
        except ValueError:
            state = StepState.PENDING
        steps.append(Step(str(raw.get("label", "")), state, str(raw.get("detail") or "")))
    return steps


def steps_json(steps: Iterable[Step]) -> list[dict[str, str]]:
    return [{"label": s.label, "state": s.state.value, "detail": s.detail} for s in steps]


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class ApprovalCardReply(Reply):
    """The request card in the approvals channel, rendered from the store's state."""

    approval: ApprovalSnapshot | None = None
    policy: PolicySummary | None = None
    public: bool = True

    @property
    def fallback_text(self) -> str:
        a = self.approval
        if a is None:
            return "Promotion request"
        return (
            f"Promotion request: {a.model} v{a.version} {a.source_env} -> {a.target_env} "
            f"({a.state.label})"
        )


@dataclass(frozen=True)
class CardLinkReply(Reply):
    """Tells the requester where their request card is."""

    approval: ApprovalSnapshot | None = None
    link: str | None = None

    @property
    def fallback_text(self) -> str:
        a = self.approval
        return f"Your promotion request for {a.model} v{a.version} is posted" if a else "Posted"
