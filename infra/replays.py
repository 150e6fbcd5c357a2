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

from sqlalchemy import delete

from infra.sights import FirstSight, SightTable
from infra.store import SeenRequest, Store, utcnow

log = logging.getLogger(__name__)

SEEN = SightTable(SeenRequest.__table__, "signature", renews_expired="expires_at")

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
        return self.sight(signature).settle()

    def sight(self, signature: str, *, enforce: bool = True) -> FirstSight:
        """The sight of ``signature``, to write with the interaction's inbox row (one
        transaction in front of the ack) or alone (:meth:`FirstSight.settle`). Only an expired
        memory is renewed, by the same statement, so two replicas reviving it at once cannot
        both win."""
        with self._lock:
            self._count += 1
            due = self._count % PRUNE_EVERY == 0
        if due:
            self.prune()
        return FirstSight(
            self.store,
            SEEN,
            {"signature": signature[:128], "expires_at": self.clock() + self.window},
            enforce=enforce,
            clock=self.clock,
        )

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
