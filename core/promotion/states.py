"""What a promotion request is: its states, the moves between them, and snapshots of it.

A promotion request moves through::

    pending -> approved -> rolling_out -> succeeded | rolled_back | failed
    pending -> rejected | expired | canceled

:class:`ApprovalSnapshot` is one consistent read of a request and its votes; the helpers at the
end turn the JSON columns (rollout steps, timestamps) into domain values and back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from core.replies import Step, StepState
from infra.store import Approval, Vote

APPROVAL_ID = re.compile(r"^[0-9a-f]{12}$")


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


def snapshot_of(row: Approval, votes: Iterable[Vote]) -> ApprovalSnapshot:
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


def jsonable(value: Any) -> Any:
    """Plain JSON values (datetimes as ISO text) for the JSON columns."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
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
