"""The promotion requests in the store: :class:`ApprovalBook` reads them, creates them, and
changes them only by compare-and-set on the row's version.

So double clicks, Slack retries, two approvers at the same moment and two bot replicas apply a
transition once; the loser re-reads and learns what happened. Votes live in their own table with
one row per user, which is what makes "two distinct approvals" mean two people.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.promotion.policy import ApprovalRules
from core.promotion.states import (
    APPROVAL_ID,
    TRANSITIONS,
    ApprovalSnapshot,
    ApprovalState,
    InvalidTransitionError,
    jsonable,
    snapshot_of,
)
from infra.store import (
    Approval,
    AuditNote,
    StaleStateError,
    Store,
    Vote,
    retry_on_conflict,
    utcnow,
)


class RequestAlreadyOpenError(Exception):
    """Another request for the same model and target is open (the database said so)."""

    def __init__(self, existing: ApprovalSnapshot) -> None:
        super().__init__(f"request {existing.id} is open for {existing.model}")
        self.existing = existing


@dataclass
class NewRequest:
    model: str
    version: str
    source_env: str
    target_env: str
    requester: str
    context: dict[str, Any] = field(default_factory=dict)


class ApprovalBook:
    """Promotion requests in the store: reads, creation, compare-and-set transitions, expiry."""

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
        with self.store.read() as session:
            row = session.get(Approval, approval_id)
            if row is None:
                return None
            votes = session.scalars(select(Vote).where(Vote.approval_id == approval_id)).all()
            return snapshot_of(row, votes)

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
        with self.store.read() as session:
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
        return [snapshot_of(r, by_id.get(r.id, [])) for r in rows]

    def open_request_for(self, model: str, target_env: str) -> ApprovalSnapshot | None:
        """A request for this model and environment that has not ended (one at a time)."""
        active = (ApprovalState.PENDING, ApprovalState.APPROVED, ApprovalState.ROLLING_OUT)
        for approval in self.in_states(active, model=model):
            if approval.target_env == target_env:
                return approval
        return None

    # -- creation
    def create(self, request: NewRequest) -> ApprovalSnapshot:
        """Open a request. The database allows one open request per model and target
        (``uq_open_approval``): when another is open, even one created a moment ago by another
        user or replica, :class:`RequestAlreadyOpenError` names it and nothing is created."""
        for _ in range(3):
            try:
                return self._insert(request)
            except IntegrityError:
                existing = self.open_request_for(request.model, request.target_env)
                if existing is not None:
                    raise RequestAlreadyOpenError(existing) from None
                # It ended between the failed insert and the read: try again.
        raise RuntimeError(f"could not open a request for {request.model} {request.target_env}")

    def _insert(self, request: NewRequest) -> ApprovalSnapshot:
        now = self.clock()
        required = self.rules.required(request.target_env)
        policy = self.rules.policy(request.target_env)
        approval_id = secrets.token_hex(6)
        state = ApprovalState.APPROVED if required == 0 else ApprovalState.PENDING
        with self.store.transaction():
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
                        context=jsonable(request.context),
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
        values = {k: jsonable(v) if k in ("rollout", "context") else v for k, v in changes.items()}
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

    def lock(self, approval_id: str) -> None:
        """Lock the request's row until the current store transaction ends (``FOR UPDATE`` on
        PostgreSQL; SQLite's writers are serialised by ``BEGIN IMMEDIATE`` already)."""
        with self.store.session() as session:
            session.execute(select(Approval.id).where(Approval.id == approval_id).with_for_update())

    def record_vote(self, approval_id: str, user: str, decision: str) -> bool:
        """One vote per user and request: False when ``user`` already voted on it."""
        try:
            with self.store.session() as session:
                session.add(
                    Vote(approval_id=approval_id, user_id=user, decision=decision, at=self.clock())
                )
            return True
        except IntegrityError:
            return False

    # -- expiry
    def expire(self, approval: ApprovalSnapshot) -> ApprovalSnapshot | None:
        """Expire a pending request past its deadline; None when someone else moved it first."""

        def attempt() -> ApprovalSnapshot | None:
            current = self.require(approval.id)
            if current.state is not ApprovalState.PENDING or self.clock() < current.expires_at:
                return None
            return self.transition(
                current,
                ApprovalState.EXPIRED,
                actor="mlops-bot",
                reason=f"nobody completed the approvals before {current.expires_at:%Y-%m-%d %H:%M} UTC",
            )

        try:
            return retry_on_conflict(attempt)
        except StaleStateError:
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
