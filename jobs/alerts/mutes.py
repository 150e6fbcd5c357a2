"""Mutes: who silenced which signal of a model until when (one ``mutes`` row per model and
signal, ``*`` for all of a model's signals).

A mute only suppresses posting; the alert state keeps advancing (see :mod:`core.alerting.policy`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from infra.store import Mute, StaleStateError, Store, retry_on_conflict


def active_mute(store: Store, model: str, signal: str, now: datetime) -> Mute | None:
    """The mute covering ``signal`` of ``model`` at ``now`` (a signal mute or a model-wide ``*``)."""
    with store.read() as session:
        return session.scalars(
            select(Mute)
            .where(Mute.model == model, Mute.signal.in_((signal, "*")), Mute.until > now)
            .order_by(Mute.until.desc())
            .limit(1)
        ).first()


def set_mute(
    store: Store, model: str, signal: str, until: datetime, by: str, now: datetime
) -> tuple[datetime, str] | None:
    """Set the mute of (model, signal) to end at ``until``; the unique constraint keeps one row.

    The newest command wins, shorter or longer (someone who mutes for 1h after a 7d mute means
    1h). Returns the (until, by) of the mute it replaced when that one was still in force, read in
    the same transaction, so the reply can say what changed."""

    def attempt() -> tuple[datetime, str] | None:
        try:
            with store.session() as session:
                mute = session.scalars(
                    select(Mute).where(Mute.model == model, Mute.signal == signal)
                ).first()
                replaced = None
                if mute is None:
                    session.add(
                        Mute(model=model, signal=signal, until=until, by=by, created_at=now)
                    )
                else:
                    if _aware(mute.until) > now:
                        replaced = (_aware(mute.until), mute.by)
                    mute.until, mute.by, mute.created_at = until, by, now
                session.flush()
                return replaced
        except IntegrityError as exc:  # another writer created it first: update that row
            raise StaleStateError(f"could not record the mute of {model}/{signal}") from exc

    return retry_on_conflict(attempt)


def remove_mutes(store: Store, model: str, now: datetime, signal: str | None = None) -> int:
    """End the mutes of ``model`` (only ``signal``'s when given); returns how many were still in
    force. Expired rows go too, but are not counted: they had already ended."""
    with store.session() as session:
        query = delete(Mute).where(Mute.model == model)
        if signal is not None:
            query = query.where(Mute.signal == signal)
        ended = int(session.execute(query.where(Mute.until > now)).rowcount or 0)
        session.execute(query)
        return ended


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every mute is stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def list_mutes(store: Store, model: str, now: datetime) -> list[Mute]:
    """The mutes of ``model`` still in force at ``now``."""
    with store.read() as session:
        return list(
            session.scalars(
                select(Mute).where(Mute.model == model, Mute.until > now).order_by(Mute.signal)
            )
        )
