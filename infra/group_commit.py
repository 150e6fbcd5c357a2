"""Group commit: the short writes of concurrent callers in one transaction.

Why: on SQLite every write transaction of the process takes one lock (``infra.store``), and a
transaction holds it for more than its statements' time: each statement and the commit give the
interpreter lock away and wait to get it back while the threads answering Slack run. Twenty
acks arriving together used to queue twenty transactions behind each other (ack p99 ~5x a bare
Bolt app's). Here the first caller writes everything queued meanwhile in one transaction and
the others wait for that commit: the same guarantee per caller (its write is committed before
it returns), one lock hand-over for a whole burst.

There is no writer thread: the caller that finds nobody writing becomes the writer (leader and
followers), so a lone ack pays nothing extra.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from infra.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The most writes one transaction takes (SQLite caps the parameters of one statement).
MAX_BATCH = 100


class GroupCommit(Generic[T]):
    """Commits the items of concurrent threads with ``write(session, items)``, many at once.

    ``write`` writes a batch with a few statements whatever its size (multi-row inserts) and
    leaves each item's outcome on the item; items must be independent of each other (their own
    rows; conflicts handled by the statements). If a batch fails, each of its items is written
    again alone, so one bad item fails only its own caller."""

    def __init__(self, store: Store, write: Callable[[Session, list[T]], None]) -> None:
        self.store = store
        self.write = write
        self._cv = threading.Condition()
        self._queue: list[T] = []
        self._done: dict[int, BaseException | None] = {}
        self._writing = False

    def run(self, item: T) -> None:
        """Return once ``item`` is committed (alone or with what other threads queued
        meanwhile); raise what writing it raised."""
        if self.store.in_transaction:
            # Part of this thread's transaction: it commits with it, not with other threads.
            with self.store.session() as session:
                self.write(session, [item])
            return
        me = id(item)
        with self._cv:
            self._queue.append(item)
            while self._writing and me not in self._done:
                self._cv.wait()
            batch: list[T] = []
            if me not in self._done:
                self._writing = True
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        if batch:
            outcomes: dict[int, BaseException | None] = {}
            try:
                outcomes = self._write(batch)
            finally:
                with self._cv:
                    for queued in batch:  # an interrupted batch fails its items, never hangs
                        self._done[id(queued)] = outcomes.get(
                            id(queued), RuntimeError("not written")
                        )
                    self._writing = False
                    self._cv.notify_all()
        with self._cv:
            error = self._done.pop(me)
        if error is not None:
            raise error

    def _write(self, batch: list[T]) -> dict[int, BaseException | None]:
        try:
            with self.store.session() as session:
                self.write(session, batch)
            return dict.fromkeys(map(id, batch))
        except Exception as exc:
            if len(batch) == 1:
                return {id(batch[0]): exc}
            log.warning("a group commit of %d writes failed; writing each alone", len(batch))
        outcomes: dict[int, BaseException | None] = {}
        for item in batch:
            try:
                with self.store.session() as session:
                    self.write(session, [item])
                outcomes[id(item)] = None
            except Exception as exc:
                outcomes[id(item)] = exc
        return outcomes
