"""First sights: keys that must be new for a Slack request to run, shared by every replica.

Two kinds: a request's signature (the replay memory, ``seen_requests``, renewed once expired)
and a Socket Mode envelope id (its claim, a row in ``locks``). A sight is written in the same
transaction as the interaction's inbox row (:meth:`infra.inbox.Inbox.record`), so the ack
waits for one short write, not two; or alone (:meth:`FirstSight.settle`) for a request that
records nothing.

:func:`write_sights` writes the sights of many requests with one statement per table, which is
what lets a group commit of concurrent acks stay short.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from infra.store import Store, insert_rows


@dataclass(frozen=True)
class SightTable:
    """Where sights of one kind are kept: ``unique`` is the key column; with
    ``renews_expired`` (a timestamp column), a row whose time has passed is overwritten, and
    the sight counts as new again."""

    table: Any
    unique: str
    renews_expired: str | None = None


class FirstSight:
    """One request's sight. ``enforce`` false: remembered, but a repeat is not refused (what
    Slack marks as its own retry of an interaction; the inbox key already makes it one row)."""

    def __init__(
        self,
        store: Store,
        where: SightTable,
        values: Mapping[str, Any],
        *,
        enforce: bool = True,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.where = where
        self.values = dict(values)
        self.key = self.values[where.unique]
        self.enforce = enforce
        self.clock = clock
        self.first: bool | None = None
        """None until written; then whether this was the first sight."""

    @property
    def passes(self) -> bool:
        """Written, and the request may run (new, or not enforced)."""
        return self.first is True or (self.first is not None and not self.enforce)

    @property
    def refused(self) -> bool:
        """Seen before and enforced: the request is a replay (or another replica's)."""
        return self.enforce and self.first is False

    def settle(self) -> bool:
        """Written alone unless written already: False when the request must not run."""
        if self.first is None:
            with self.store.session() as session:
                write_sights(session, [self], self.clock())
        return self.passes


def write_sights(session: Session, sights: Iterable[FirstSight], now: datetime) -> None:
    """Write ``sights`` in ``session``'s transaction, one statement per table, and set each
    one's :attr:`FirstSight.first`. Of two sights of the same key, only the first can be new
    (a replay racing its original inside one batch)."""
    by_table: dict[SightTable, list[FirstSight]] = {}
    for sight in sights:
        by_table.setdefault(sight.where, []).append(sight)
    for where, group in by_table.items():
        leaders: dict[Any, FirstSight] = {}
        for sight in group:
            if sight.key in leaders:
                sight.first = False
            else:
                leaders[sight.key] = sight
        written = insert_rows(
            session,
            where.table,
            [sight.values for sight in leaders.values()],
            unique=where.unique,
            renew_expired=where.renews_expired,
            now=now,
        )
        for key, sight in leaders.items():
            sight.first = key in written
