"""Named leases in the ``locks`` table: one holder at a time (the scheduler's leader, a retraining
submission), taken over when the holder stops renewing or its process is gone."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from infra.holders import holder_gone
from infra.sights import FirstSight, SightTable
from infra.store import Lock, Store, utcnow

log = logging.getLogger(__name__)

CLAIMS = SightTable(Lock.__table__, "name")
"""Claims are never renewed: an expired one is swept, then the key may be claimed again."""


class Lease:
    """A named lease in ``locks``: held by one holder until it stops renewing and it expires."""

    def __init__(
        self,
        store: Store,
        name: str,
        holder: str,
        ttl: timedelta,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self.clock = clock
        self.valid_until: datetime | None = None

    def acquire(self) -> bool:
        """Take or renew the lease; False while another live holder has it."""
        now = self.clock()
        until = now + self.ttl
        try:
            with self.store.session() as session:
                row = session.get(Lock, self.name, with_for_update=True)
                if row is None:
                    session.add(Lock(name=self.name, holder=self.holder, expires_at=until))
                elif row.holder == self.holder or row.expires_at <= now or holder_gone(row.holder):
                    if row.holder != self.holder:
                        why = "expired" if row.expires_at <= now else "its process is gone"
                        log.info("taking over %s from %s (%s)", self.name, row.holder, why)
                    row.holder, row.expires_at = self.holder, until
                else:
                    self.valid_until = None
                    return False
        except IntegrityError:
            self.valid_until = None
            return False  # another process inserted it first
        self.valid_until = until
        return True

    @property
    def held(self) -> bool:
        return self.valid_until is not None and self.clock() < self.valid_until

    def release(self) -> None:
        with self.store.session() as session:
            session.execute(delete(Lock).where(Lock.name == self.name, Lock.holder == self.holder))
        self.valid_until = None


class OnceClaims:
    """Keys claimed at most once across every replica sharing the store, for ``ttl`` (then the
    row may be swept): Socket Mode envelope ids, so that a re-delivery to any connection of any
    replica, or after a restart, is not acted on twice. Rows live in ``locks`` under ``prefix``
    and are never renewed."""

    SWEEP_EVERY = 500
    """Claims between two sweeps of expired rows."""

    def __init__(
        self,
        store: Store,
        prefix: str,
        holder: str,
        ttl: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.prefix = prefix
        self.holder = holder
        self.ttl = ttl
        self.clock = clock
        self._claims = 0

    def claim(self, key: str) -> bool:
        """True for the first claim of ``key``; False when anyone claimed it before."""
        return self.sight(key).settle()

    def sight(self, key: str) -> FirstSight:
        """The claim of ``key``, to write with the interaction's inbox row (one transaction in
        front of the ack) or alone (:meth:`FirstSight.settle`)."""
        now = self.clock()
        self._count(now)
        return FirstSight(
            self.store,
            CLAIMS,
            {"name": self._name(key), "holder": self.holder, "expires_at": now + self.ttl},
            clock=self.clock,
        )

    def _count(self, now: datetime) -> None:
        self._claims += 1
        if self._claims % self.SWEEP_EVERY == 1:
            self.sweep(now)

    def release(self, key: str) -> None:
        """Forget a claim whose work did not start, so that a retry may act."""
        with self.store.session() as session:
            session.execute(
                delete(Lock).where(Lock.name == self._name(key), Lock.holder == self.holder)
            )

    def sweep(self, now: datetime | None = None) -> None:
        with self.store.session() as session:
            session.execute(
                delete(Lock).where(
                    Lock.name.startswith(self.prefix), Lock.expires_at < (now or self.clock())
                )
            )

    def _name(self, key: str) -> str:
        return (self.prefix + key)[:128]
