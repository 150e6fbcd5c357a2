"""At most one rollout in flight per endpoint (a model in an environment), whoever starts it:
an approved promotion, a direct deploy, a rollback.

Two rollouts on one endpoint fight over its traffic split (each step of one undoes the other's)
and leave deployments orphaned, so the database decides: the ``endpoint_rollouts`` row of the
endpoint is taken by insert (the primary key lets one of two racing replicas win) or, when its
holder is finished, gone or its lease expired, by compare-and-set on the holder. The holder
renews the lease while the rollout runs; on the same host a killed holder is seen at once
(:func:`infra.holders.holder_gone`), elsewhere its lease runs out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from infra.durations import format_duration
from infra.holders import holder_gone
from infra.store import EndpointRollout, Store, utcnow

log = logging.getLogger(__name__)

ATTEMPTS = 5


def endpoint_key(model: str, env: str) -> str:
    return f"{model}@{env}"[:200]


class EndpointBusyError(Exception):
    """Another rollout is in flight on the endpoint; the message says which and since when."""

    def __init__(self, model: str, env: str, what: str, since: datetime, now: datetime) -> None:
        ago = format_duration(max(now - since, timedelta(0)))
        super().__init__(
            f"a rollout is already running on {model} in {env}: {what}, started {ago} ago. "
            "Nothing was changed; try again once it has finished"
        )
        self.model, self.env, self.what, self.since = model, env, what, since


class EndpointLock:
    """The lock row of one endpoint, held by ``holder`` (re-entrant for the same holder)."""

    def __init__(
        self,
        store: Store,
        model: str,
        env: str,
        holder: str,
        what: str,
        ttl: timedelta = timedelta(minutes=2),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store, self.model, self.env = store, model, env
        self.key = endpoint_key(model, env)
        self.holder, self.what, self.ttl, self.clock = holder, what[:500], ttl, clock

    def acquire(self) -> None:
        """Take the endpoint or raise :class:`EndpointBusyError`."""
        table = EndpointRollout.__table__
        for _ in range(ATTEMPTS):
            now = self.clock()
            try:
                with self.store.session() as session:
                    session.add(
                        EndpointRollout(
                            endpoint=self.key,
                            holder=self.holder,
                            what=self.what,
                            started_at=now,
                            expires_at=now + self.ttl,
                        )
                    )
                return
            except IntegrityError:
                pass
            with self.store.read() as session:
                row = session.get(EndpointRollout, self.key)
                if row is None:
                    continue  # released in between: insert again
                holder, expires = row.holder, row.expires_at
                what, since = row.what, row.started_at
            if holder != self.holder and expires > now and not holder_gone(holder):
                raise EndpointBusyError(self.model, self.env, what, since, now)
            if holder != self.holder:
                log.info("taking %s over from %s (expired or gone)", self.key, holder)
            with self.store.session() as session:
                taken = session.execute(
                    update(table)
                    .where(
                        table.c.endpoint == self.key,
                        table.c.holder == holder,
                        table.c.expires_at == expires,
                    )
                    .values(
                        holder=self.holder,
                        what=self.what,
                        started_at=since if holder == self.holder else now,
                        expires_at=now + self.ttl,
                    )
                ).rowcount
            if taken == 1:
                return
        raise EndpointBusyError(self.model, self.env, "another rollout", self.clock(), self.clock())

    def renew(self) -> bool:
        table = EndpointRollout.__table__
        with self.store.session() as session:
            return (
                session.execute(
                    update(table)
                    .where(table.c.endpoint == self.key, table.c.holder == self.holder)
                    .values(expires_at=self.clock() + self.ttl)
                ).rowcount
                == 1
            )

    def release(self) -> None:
        with self.store.session() as session:
            session.execute(
                delete(EndpointRollout).where(
                    EndpointRollout.endpoint == self.key, EndpointRollout.holder == self.holder
                )
            )


@contextmanager
def hold_endpoint(
    store: Store,
    model: str,
    env: str,
    *,
    holder: str,
    what: str,
    ttl: timedelta = timedelta(minutes=2),
) -> Iterator[EndpointLock]:
    """Hold the endpoint for the block (renewed every third of ``ttl``), or raise
    :class:`EndpointBusyError` before the block runs."""
    lock = EndpointLock(store, model, env, holder, what, ttl)
    lock.acquire()
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(max(ttl.total_seconds() / 3, 0.05)):
            try:
                if not lock.renew():
                    log.warning("the lock of %s was taken over", lock.key)
                    return
            except Exception:
                log.exception("renewing the lock of %s failed", lock.key)

    thread = threading.Thread(target=renew, name=f"endpoint-{lock.key}", daemon=True)
    thread.start()
    try:
        yield lock
    finally:
        stop.set()
        try:
            lock.release()
        except Exception:
            log.exception("could not release %s; it expires by itself", lock.key)
