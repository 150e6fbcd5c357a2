"""Acked work, durable: listeners record Slack's payload in the inbox before they ack, and this
runs it exactly once from there, whatever delivered it (HTTP or Socket Mode).

The recording process runs its own rows at once in the worker pool (the fast path, nothing
slower than before); a loop on every replica picks up rows nobody runs (the recorder was
killed, or its claim expired) and runs them in the same pool. See :mod:`infra.inbox` for the
claims that keep two processes from running one row.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from time import monotonic
from typing import Any

from bot.slack.ack_traffic import AckTraffic
from infra.inbox import Inbox, InboxEntry
from infra.sights import FirstSight

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], object]
"""Runs one recorded interaction. It may return a :class:`Completion`: writes that belong with
the row's completion."""


@dataclass(frozen=True)
class Completion:
    """What a handler records about the interaction it ran (its audit line, say), written in
    the transaction that marks the row done: a crash between the two can neither leave the
    record without the completion (the row would run again and record twice) nor the reverse,
    and the serving process pays one write transaction instead of two."""

    write: Callable[[], None]


Submit = Callable[..., Any]

#: How long a row whose run raised waits before it is tried again.
RETRY_DELAY = timedelta(seconds=30)
#: How often the background loop forgets old done rows (in loop rounds).
PRUNE_EVERY = 600


def command_key(body: Mapping[str, Any]) -> str:
    """A slash command is one interaction per ``trigger_id`` (Slack retries keep it)."""
    trigger = body.get("trigger_id")
    return f"command:{trigger}" if trigger else f"command:unkeyed:{uuid.uuid4().hex}"


def action_key(body: Mapping[str, Any]) -> str:
    """A click is one interaction per action timestamp, user and action id (a double click is
    two clicks, two rows; a retry or a second delivery of one click is one row)."""
    action = (body.get("actions") or [{}])[0]
    user = (body.get("user") or {}).get("id", "")
    stamp = action.get("action_ts")
    if not stamp:
        return f"action:unkeyed:{uuid.uuid4().hex}"
    return f"action:{stamp}:{user}:{action.get('action_id', '')}"


def view_key(body: Mapping[str, Any]) -> str:
    """A view submission: one per view id and content hash (a retry of the same submission)."""
    view = body.get("view") or {}
    content = hashlib.sha256(json.dumps(view.get("state") or {}, sort_keys=True).encode())
    return f"view:{view.get('id', '')}:{view.get('hash', '')}:{content.hexdigest()[:16]}"


FIRST_SIGHT = "mlops_first_sight"
"""Where the front (HTTP server, Socket Mode handler) leaves a request's
:class:`~infra.inbox.FirstSight` in Bolt's context for the listener."""


def first_sight(context: Mapping[str, Any] | None) -> FirstSight | None:
    """The request's first sight, when the front deferred it to the listener."""
    sight = (context or {}).get(FIRST_SIGHT)
    return sight if isinstance(sight, FirstSight) else None


def settled(context: Mapping[str, Any] | None) -> bool:
    """For a listener that acts without recording to the inbox: write the request's first sight
    now (if the front deferred it); False when the request is a replay and must not act."""
    sight = first_sight(context)
    return sight is None or sight.settle()


class _ClaimLost(Exception):
    """Rolls back a completion whose row another process took over meanwhile."""


class InboxWorker:
    """Records interactions and drains the inbox into the worker pool."""

    def __init__(
        self,
        inbox: Inbox,
        submit: Submit,
        *,
        interval_seconds: float = 1.0,
        traffic: AckTraffic | None = None,
    ) -> None:
        self.inbox = inbox
        self.traffic = traffic or AckTraffic()
        self._submit = submit
        self.interval = interval_seconds
        self._handlers: dict[str, Handler] = {}
        self._queued: set[int] = set()
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def on(self, kind: str, handler: Handler) -> None:
        """Register what runs a kind of interaction (every process registers the same)."""
        self._handlers[kind] = handler

    def accept(
        self,
        kind: str,
        key: str,
        payload: Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
    ) -> bool:
        """Record the interaction, then queue it here. Call before ``ack()``, with the listener's
        Bolt ``context``: the request's first sight (replay memory over HTTP, the envelope claim
        over Socket Mode), put there by the front, is written in the same transaction. False
        when it is not to run: recorded before (a retry), or a replay (the front refuses it
        after the ack, see :func:`first_sight`)."""
        if kind not in self._handlers:
            raise KeyError(f"no inbox handler for {kind!r}")
        entry = self.inbox.record(kind, key, payload, first_sight(context))
        if entry is None:
            log.info("interaction %s was recorded or seen before; not run again", key)
            return False
        self._queue(entry.id, entry)
        return True

    def _queue(self, row_id: int, recorded: InboxEntry | None = None) -> None:
        with self._guard:
            if row_id in self._queued:
                return
            self._queued.add(row_id)
        try:
            self._submit(self.run, row_id, recorded, monotonic())
        except RuntimeError:  # the pool is shutting down: the row waits for the next process
            with self._guard:
                self._queued.discard(row_id)

    def run(
        self, row_id: int, recorded: InboxEntry | None = None, queued_at: float | None = None
    ) -> None:
        """Run the row's handler (claiming it first unless this process recorded it a moment
        ago and still holds its claim); mark it done, or release it for a retry."""
        try:
            self.traffic.wait_for_quiet()  # acks first (see bot.slack.ack_traffic)
            fresh = (
                recorded is not None
                and queued_at is not None
                and monotonic() - queued_at < self.inbox.claim.total_seconds() / 2
            )
            # One write less in front of the acks: the recorder's claim is still good.
            entry = recorded if fresh else self.inbox.take(row_id)
            if entry is None:
                return  # done, or another process holds it
            handler = self._handlers.get(entry.kind)
            if handler is None:
                self.inbox.complete(entry.id, error=f"no handler for {entry.kind}")
                return
            try:
                outcome = handler(dict(entry.payload))
            except Exception as exc:
                log.exception("inbox %s (%s) failed", entry.key, entry.kind)
                self.inbox.retry_later(entry, f"{type(exc).__name__}: {exc}", RETRY_DELAY)
                return
            if isinstance(outcome, Completion):
                self._complete_with(entry, outcome)
            else:
                self.inbox.complete(entry.id)
        finally:
            with self._guard:
                self._queued.discard(row_id)

    def _complete_with(self, entry: InboxEntry, completion: Completion) -> None:
        """Mark ``entry`` done and write ``completion`` in one transaction; neither when this
        process no longer holds the row (whoever took it over runs and records it)."""
        try:
            with self.inbox.store.transaction():
                if not self.inbox.complete(entry.id):
                    raise _ClaimLost
                completion.write()
        except _ClaimLost:
            log.warning("interaction %s was taken over before it was marked done", entry.key)
        except Exception as exc:  # neither written: the row runs again, like a failed run
            log.exception("inbox %s (%s): could not record its completion", entry.key, entry.kind)
            self.inbox.retry_later(entry, f"{type(exc).__name__}: {exc}", RETRY_DELAY)

    def drain(self) -> int:
        """Queue every row nobody runs (after a restart, or another replica's crash)."""
        due = self.inbox.due()
        for row_id in due:
            self._queue(row_id)
        return len(due)

    # -- the loop
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="inbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        rounds = 0
        while not self._stop.is_set():
            try:
                self.drain()
                rounds += 1
                if rounds % PRUNE_EVERY == 0:
                    self.inbox.prune()
            except Exception:
                log.exception("inbox drain failed")
            self._stop.wait(self.interval)
