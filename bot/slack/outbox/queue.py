"""The :class:`Outbox`: what the rest of the bot sends Slack messages through."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.slack.outbox import rows
from bot.slack.outbox.delivery import Deliverer
from bot.slack.outbox.failures import OutagePause
from bot.slack.outbox.loop import DeliveryLoop
from bot.slack.outbox.settings import OutboxSettings, Setting
from bot.slack.outbox.slack_api import POST, UPDATE, UPLOAD, call, ref_of, stored_files
from bot.slack.responder import message_payload, scrub
from core.publisher import Delivery, DeliveryHook, key_of
from core.replies import MessageRef, Reply, Upload
from infra.holders import new_holder
from infra.metrics import Backlog
from infra.store import OutboxMessage, Store


class Outbox:
    """The outbox of one bot process (every process on the same database shares the table)."""

    interval = Setting[float]()
    backoff_base = Setting[float]()
    backoff_max = Setting[float]()
    claim = Setting[timedelta]()
    max_age = Setting[timedelta]()
    keep_delivered = Setting[timedelta]()
    batch = Setting[int]()

    def __init__(
        self,
        store: Store,
        client: Any,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        interval_seconds: float = 1.0,
        backoff_base: float = 2.0,
        backoff_max: float = 300.0,
        claim_seconds: float = 60.0,
        max_age: timedelta = timedelta(days=1),
        keep_delivered: timedelta = timedelta(days=7),
        batch: int = 50,
    ) -> None:
        self.store = store
        self.client = client
        self.clock = clock
        self.settings = OutboxSettings(
            interval=interval_seconds,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            claim=timedelta(seconds=claim_seconds),
            max_age=max_age,
            keep_delivered=keep_delivered,
            batch=batch,
        )
        self.instance = new_holder()
        """Who holds a claim: host and process, so a restarted bot on the same host can take
        over the claims of a process that was killed instead of waiting for them to expire."""
        self._hooks: dict[str, DeliveryHook] = {}
        self._outage = OutagePause()
        self._deliverer = Deliverer(
            store,
            # Through the instance, so a test (or the crash harness) may replace ``_call``.
            lambda method, args: self._call(method, args),
            hooks=self._hooks,
            pause=self._outage,
            settings=self.settings,
            clock=clock,
            instance=self.instance,
        )
        self._loop = DeliveryLoop(
            store,
            lambda row_id, key: self._deliverer.attempt(row_id, key, deferred=True),
            pause=self._outage,
            settings=self.settings,
            clock=clock,
            instance=self.instance,
        )

    def on_delivered(self, name: str, hook: DeliveryHook) -> None:
        """Register the hook that messages sent with ``hook=name`` run once they are out."""
        self._hooks[name] = hook

    # ------------------------------------------------------------------ sending

    def post(
        self,
        key: str,
        channel: str | None,
        message: Reply | str,
        *,
        thread_ts: str | None = None,
        parent: str | None = None,
        hook: str | None = None,
        hook_args: Mapping[str, Any] | None = None,
    ) -> Delivery:
        """Post a message (a reply object or plain text) once. ``parent``: the dedupe key of the
        message whose thread this goes into, when its ``ts`` may not be known yet."""
        args: dict[str, Any] = {"unfurl_links": False, "unfurl_media": False}
        if isinstance(message, str):
            args["text"] = message
        else:
            args.update(message_payload(message))
        if channel:
            args["channel"] = channel
        if thread_ts:
            args["thread_ts"] = thread_ts
        return self._send(key, POST, args, parent=parent, hook=hook, hook_args=hook_args)

    def update(
        self, key: str, ref: MessageRef | None, message: Reply, *, parent: str | None = None
    ) -> Delivery:
        """Replace a message's content (the newest content wins). ``ref`` is the message, or
        None with ``parent`` naming the queued post it edits."""
        args: dict[str, Any] = dict(message_payload(message))
        if ref is not None:
            args.update(channel=ref.channel, ts=ref.ts)
        return self._send(key, UPDATE, args, parent=parent, replace=True)

    def upload(
        self,
        key: str,
        channel: str | None,
        uploads: Sequence[Upload],
        *,
        thread_ts: str | None = None,
        parent: str | None = None,
        comment: str | None = None,
    ) -> Delivery:
        """Upload files (charts) into a thread, once."""
        done = rows.find_row(self.store, key_of(key))
        if done is not None and done.delivered_at is not None:
            # Already in Slack (a rerun of the same check and window): charts are drawn when
            # their bytes are read, so answering before ``stored_files`` draws nothing.
            return Delivery(done.dedupe_key, True, ref_of(done.result))
        args: dict[str, Any] = {"files": stored_files(uploads)}
        if channel:
            args["channel"] = channel
        if thread_ts:
            args["thread_ts"] = thread_ts
        if comment:
            args["initial_comment"] = comment
        return self._send(key, UPLOAD, args, parent=parent)

    def _send(
        self,
        key: str,
        method: str,
        args: dict[str, Any],
        *,
        parent: str | None = None,
        hook: str | None = None,
        hook_args: Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> Delivery:
        key = key_of(key)
        files = args.pop("files", None)
        args = scrub(args)  # nothing secret is sent, nor kept in the table
        if files is not None:
            args["files"] = files
        payload = {
            "args": args,
            "parent": parent and key_of(parent),
            "hook": hook,
            "hook_args": dict(hook_args or {}),
            "replace": replace,
        }
        row = self._upsert(key, method, payload, replace)
        if row.delivered_at is not None:
            return Delivery(key, True, ref_of(row.result))
        if self.store.in_transaction:
            # A transactional outbox: the row commits with the state change it reports (the
            # caller's store transaction), or not at all. Slack is tried only after the
            # commit, never while the transaction is open; a hook tells the owner where the
            # message went.
            row_id = row.id
            self.store.after_commit(lambda: self._after_commit(row_id, key))
            return Delivery(key, False, error="queued with its state change")
        if self.paused:
            return Delivery(key, False, error=row.last_error or "Slack is unavailable; queued")
        return self._deliverer.attempt(row.id, key)

    def _after_commit(self, row_id: int, key: str) -> None:
        # Not "deferred": the content was rendered in the transaction that just committed,
        # so it is current; hooks still learn where the message went.
        if not self.paused:
            self._deliverer.attempt(row_id, key)

    def _upsert(
        self, key: str, method: str, payload: dict[str, Any], replace: bool
    ) -> OutboxMessage:
        return rows.queue_row(self.store, key, method, payload, replace, self.clock())

    def _call(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        return call(self.client, method, args)

    # ------------------------------------------------------------------ Slack unavailable

    @property
    def paused(self) -> bool:
        """Slack said to wait (429) or looked down a moment ago: queue without trying."""
        return self._outage.active

    def _pause(self, seconds: float) -> None:
        self._outage.extend(seconds)

    def _resume(self) -> None:
        self._outage.end()

    def backoff(self, attempts: int) -> float:
        return self.settings.backoff(attempts)

    # ------------------------------------------------------------------ the delivery loop

    def deliver_due(self) -> int:
        """One round: send every due row (oldest first). Returns how many were delivered."""
        return self._loop.deliver_due()

    def release_dead_claims(self) -> int:
        """Free rows claimed by a process of this host that no longer runs."""
        return self._loop.release_dead_claims()

    def prune(self) -> int:
        """Forget delivered rows after ``keep_delivered`` (their keys were one-off)."""
        return self._loop.prune()

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def wake(self) -> None:
        self._loop.wake()

    # ------------------------------------------------------------------ reading

    def counts(self) -> dict[str, int]:
        """delivered / pending / given_up row counts (for health pages and tests)."""
        return rows.count_rows(self.store)

    def backlog(self) -> Backlog:
        """Messages waiting for Slack and the age of the oldest (for ``/metrics``)."""
        return rows.backlog(self.store, self.clock())

    def is_pending(self, key: str) -> bool:
        """Queued and not delivered yet (nor given up)."""
        return rows.is_pending(rows.find_row(self.store, key_of(key)))

    def pending_keys(self) -> list[str]:
        return rows.pending_keys(self.store)
