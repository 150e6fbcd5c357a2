"""Read-only views of the store used by several cards: verdicts and pending approvals."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from core.replies import PendingApproval, SignalVerdict
from infra.store import Alert, Approval, Mute, Store, Vote

_LEVEL = {"ok": "healthy", "resolved": "healthy", "pending": "warning", "open": "breach"}


def latest_verdicts(store: Store, model: str) -> dict[str, list[SignalVerdict]]:
    """The last monitoring verdict per environment and signal (the alert rows double as state)."""
    out: dict[str, list[SignalVerdict]] = defaultdict(list)
    with store.read() as session:
        for alert in session.scalars(
            select(Alert).where(Alert.model == model).order_by(Alert.signal)
        ):
            level = alert.summary.get("level") or _LEVEL.get(alert.state, alert.state)
            out[alert.environment].append(
                SignalVerdict(
                    signal=alert.signal,
                    level=str(level),
                    summary=str(alert.summary.get("headline", "")),
                    at=alert.last_checked_at,
                )
            )
    return dict(out)


def pending_approvals(store: Store, model: str | None = None) -> list[PendingApproval]:
    with store.read() as session:
        query = select(Approval).where(Approval.state == "pending").order_by(Approval.created_at)
        if model is not None:
            query = query.where(Approval.model == model)
        approvals = session.scalars(query).all()
        counts = dict(
            session.execute(
                select(Vote.approval_id, func.count())
                .where(Vote.approval_id.in_([a.id for a in approvals]), Vote.decision == "approve")
                .group_by(Vote.approval_id)
            ).all()
        )
        return [
            PendingApproval(
                id=a.id,
                model=a.model,
                version=a.version,
                source_env=a.source_env,
                target_env=a.target_env,
                requester=a.requester,
                votes=int(counts.get(a.id, 0)),
                required=a.required,
                expires_at=a.expires_at,
                link=(a.context or {}).get("permalink"),
            )
            for a in approvals
        ]


@dataclass(frozen=True)
class OpenAlert:
    fingerprint: str
    model: str
    environment: str
    signal: str
    severity: str
    state: str
    headline: str
    opened_at: datetime | None
    breach_count: int
    acknowledged_by: str | None = None


@dataclass(frozen=True)
class ActiveMute:
    """A mute in force: the model's alerts (one signal, or ``*`` for all) are silent."""

    model: str
    signal: str
    until: datetime
    by: str


def active_mutes(store: Store, now: datetime) -> list[ActiveMute]:
    """Every mute still in force at ``now``, the soonest to end first."""
    with store.read() as session:
        rows = session.scalars(select(Mute).where(Mute.until > now).order_by(Mute.until)).all()
        return [ActiveMute(m.model, m.signal, _aware(m.until), m.by) for m in rows]


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def open_alerts(store: Store, model: str | None = None) -> list[OpenAlert]:
    """Alerts that are open or flapping, worst first."""
    with store.read() as session:
        query = select(Alert).where(Alert.state.in_(("open", "flapping")))
        if model is not None:
            query = query.where(Alert.model == model)
        rows = session.scalars(query).all()
        alerts = [
            OpenAlert(
                a.fingerprint,
                a.model,
                a.environment,
                a.signal,
                a.severity,
                a.state,
                str(a.summary.get("headline", "")),
                a.opened_at,
                a.breach_count,
                a.acknowledged_by,
            )
            for a in rows
        ]
    return sorted(
        alerts,
        key=lambda a: (a.severity != "critical", a.opened_at or datetime.min.replace(tzinfo=UTC)),
    )
