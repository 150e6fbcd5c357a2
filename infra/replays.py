"""Replay memory shared by every replica: the signatures of accepted Slack requests, in the
database until they expire.

Bolt refuses a signature older than five minutes; within those five minutes a captured request
could be sent again, to any replica behind the load balancer. A per-process memory only stops
it on the replica that saw it first, so the first sight is an insert under the signature (the
primary key decides between two replicas racing), and a later one is refused everywhere until
the row expires.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from infra.store import SeenRequest, Store, utcnow

log = logging.getLogger(__name__)

#: Expired rows are deleted every this many first sights (cheap, bounded table).
PRUNE_EVERY = 500


class ReplayMemory:
    """Whether a signature was seen within ``window``, for every process on the database."""

    def __init__(
        self,
        store: Store,
        window: timedelta = timedelta(minutes=6),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.window = window
        self.clock = clock
        self._count = 0
        self._lock = threading.Lock()

    def first_sight(self, signature: str) -> bool:
        """Remember ``signature``; False when some process remembered it already (a replay)."""
        now = self.clock()
        key = signature[:128]
        try:
            with self.store.session() as session:
                session.add(SeenRequest(signature=key, expires_at=now + self.window))
        except IntegrityError:
            # Seen before. Only an expired memory may be renewed (compare-and-set on the
            # expiry, so two replicas reviving it at once cannot both win).
            table = SeenRequest.__table__
            with self.store.session() as session:
                revived = session.execute(
                    update(table)
                    .where(table.c.signature == key, table.c.expires_at < now)
                    .values(expires_at=now + self.window)
                ).rowcount
            return revived == 1
        with self._lock:
            self._count += 1
            due = self._count % PRUNE_EVERY == 0
        if due:
            self.prune()
        return True

    def prune(self) -> int:
        try:
            with self.store.session() as session:
                result = session.execute(
                    delete(SeenRequest).where(SeenRequest.expires_at < self.clock())
                )
                return int(result.rowcount or 0)
        except Exception:
            log.exception("could not prune the replay memory")
            return 0
