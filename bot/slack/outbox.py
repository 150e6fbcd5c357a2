"""Slack messages that matter, delivered at least once and posted at most once.

Alerts, approval cards and their threads, rollout results and training-job results must not be
lost because Slack rate-limits, fails, times out or is down for an hour. Each one goes through
the ``outbox`` table under a *dedupe key* that names what it is (``alert:<fingerprint>:<incident>``,
``job-result:<job id>``, ...):

* ``send`` stores it (or refreshes the stored content of an undelivered one) and, unless Slack is
  known to be unavailable right now, tries to deliver it at once in the caller's thread, so when
  Slack is up nothing is slower than a direct call;
* a message that could not be delivered stays in the table with the error and a next attempt
  time (``Retry-After`` honoured, exponential backoff otherwise); the delivery loop (a thread of
  the running bot, any replica) retries it when it is due, after a restart too;
* every attempt starts with a compare-and-set claim on the row, so two threads or two replicas
  never send the same row at once; a delivered post is never sent again, and a second ``send``
  with the same key returns the first delivery's message instead of posting a duplicate;
* edits (``chat.update``) are *replaceable*: the newest content wins, and a newer edit queued
  while an older one is in flight is sent after it, so a card always ends up showing the latest
  state;
* a thread reply or a chart whose parent message is itself still queued waits for it and is
  then sent into its thread;
* what the owner must learn after a late delivery (an alert card's ``ts``, a request card's
  ``ts``) is told through a *delivery hook*, stored by name: every process registers the same
  hooks at start-up (:meth:`Outbox.on_delivered`), so whichever one delivers the row calls it.

Errors that no retry can fix (``invalid_blocks``, ``msg_too_long``, ``message_not_found``...) are
given up at once and logged; everything else is retried for ``max_age`` (a day by default).
A post whose answer was lost (a timeout after Slack accepted it) can still appear twice; Slack
has no idempotency key for ``chat.postMessage``, so this window is only as large as one request.
"""

from __future__ import annotations

import base64
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    ServerErrorRetryHandler,
)
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.slack.responder import message_payload, scrub
from core.publisher import Delivery, DeliveryHook, key_of
from core.replies import MessageRef, Reply, Upload
from infra.holders import holder_gone, holder_prefix, new_holder
from infra.store import OutboxMessage, Store

log = logging.getLogger(__name__)

POST = "chat.postMessage"
UPDATE = "chat.update"
UPLOAD = "files.upload"

NEVER = datetime(9999, 1, 1, tzinfo=UTC)
"""``next_attempt_at`` of a row that was given up."""

#: ``ok: false`` answers that the same request will never turn into a success.
PERMANENT_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_arguments",
        "invalid_attachments",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "invalid_ts_latest",
        "invalid_ts_oldest",
        "invalid_thread_ts",
        "file_uploads_exceeded",
    }
)
#: ``ok: false`` answers that mean "later", like an HTTP 5xx.
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "bad_gateway",
        "team_added_to_org",
    }
)


#: Backoff jitter from a generator of its own: the global ``random`` state belongs to the
#: application (and to hypothesis in the tests, which flags any other thread touching it).
_JITTER = random.Random()


@dataclass(frozen=True)
class Failure:
    """Why an attempt failed and when to try again (None: never)."""

    error: str
    retry_in: float | None
    outage: bool = False
    """Slack as a whole is unavailable or asked to wait: queue without trying for a while."""


def classify(exc: BaseException, attempts: int, backoff: Callable[[int], float]) -> Failure:
    """Retry after Retry-After on 429, with backoff on outages and timeouts, never on bad
    payloads (the same request would be refused again)."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = int(getattr(response, "status_code", 200) or 200)
        try:
            error = str(response.get("error") or f"http_{status}")
        except Exception:  # a body that is not JSON
            error = f"http_{status}"
        if status == 429 or error in ("ratelimited", "rate_limited"):
            headers = getattr(response, "headers", {}) or {}
            value = headers.get("Retry-After") or headers.get("retry-after")
            if isinstance(value, list):
                value = value[0] if value else None
            try:
                wait = float(value) if value is not None else backoff(attempts)
            except ValueError:
                wait = backoff(attempts)
            return Failure(error, min(max(wait, 1.0), 900.0), outage=True)
        if error in PERMANENT_ERRORS:
            return Failure(error, None)
        if status >= 500 or error in TRANSIENT_ERRORS:
            return Failure(error, backoff(attempts), outage=True)
        # channel_not_found, not_in_channel, invalid_auth...: someone has to act; keep it and
        # try now and then, so it goes out once the bot is invited or the token is fixed.
        return Failure(error, max(backoff(attempts), 60.0))
    # Timeouts, refused connections, DNS: Slack (or the way to it) is down.
    if isinstance(exc, OSError):  # TimeoutError, URLError, ConnectionError
        return Failure(f"{type(exc).__name__}: {exc}"[:300], backoff(attempts), outage=True)
    # Anything else is a bug on our side; keep the message and retry slowly.
    return Failure(f"{type(exc).__name__}: {exc}"[:300], max(backoff(attempts), 60.0))


class Outbox:
    """The outbox of one bot process (every process on the same database shares the table)."""

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
        self._hooks: dict[str, DeliveryHook] = {}
        self.clock = clock
        self.interval = interval_seconds
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.claim = timedelta(seconds=claim_seconds)
        self.max_age = max_age
        self.keep_delivered = keep_delivered
        self.batch = batch
        self.instance = new_holder()
        """Who holds a claim: host and process, so a restarted bot on the same host can take
        over the claims of a process that was killed instead of waiting for them to expire."""
        self._pause_until = 0.0
        self._pause_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._rounds = 0

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
        args: dict[str, Any] = {
            "files": [
                {
                    "filename": u.filename,
                    "title": u.title,
                    "alt_txt": u.alt_text,
                    "content_b64": base64.b64encode(u.content).decode("ascii"),
                }
                for u in uploads
            ]
        }
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
            return Delivery(key, True, _ref(row.result))
        if self.paused:
            return Delivery(key, False, error=row.last_error or "Slack is unavailable; queued")
        return self._attempt(row.id, key)

    def _upsert(
        self, key: str, method: str, payload: dict[str, Any], replace: bool
    ) -> OutboxMessage:
        now = self.clock()
        for _ in range(5):
            try:
                with self.store.session() as session:
                    row = OutboxMessage(
                        dedupe_key=key,
                        method=method,
                        payload=payload,
                        created_at=now,
                        attempts=0,
                        next_attempt_at=now,
                        result={},
                    )
                    session.add(row)
                    session.flush()
                    return row
            except IntegrityError:
                pass  # queued before: refresh it below
            with self.store.session() as session:
                row = session.scalars(
                    select(OutboxMessage).where(OutboxMessage.dedupe_key == key)
                ).first()
                if row is None:
                    continue  # pruned in between: insert again
                if row.delivered_at is not None and not replace:
                    return row  # posted already: never twice
                # New content. ``created_at`` is the revision of a replaceable row: a delivery
                # of an older revision that finishes after this does not mark this one done.
                if row.delivered_at is not None or row.next_attempt_at >= NEVER:
                    row.attempts = 0
                row.payload = payload
                row.created_at = now
                row.next_attempt_at = now
                row.delivered_at = None
                row.result = {}
                session.flush()
                return row
        raise RuntimeError(f"could not queue {key}")

    # ------------------------------------------------------------------ delivering

    @property
    def paused(self) -> bool:
        """Slack said to wait (429) or looked down a moment ago: queue without trying."""
        with self._pause_lock:
            return time.monotonic() < self._pause_until

    def _pause(self, seconds: float) -> None:
        with self._pause_lock:
            self._pause_until = max(self._pause_until, time.monotonic() + seconds)

    def _resume(self) -> None:
        with self._pause_lock:
            self._pause_until = 0.0

    def backoff(self, attempts: int) -> float:
        wait = min(self.backoff_base * 2 ** max(attempts - 1, 0), self.backoff_max)
        return wait * _JITTER.uniform(0.8, 1.2)

    def _claim(self, row_id: int) -> OutboxMessage | None:
        now = self.clock()
        table = OutboxMessage.__table__
        with self.store.session() as session:
            claimed = session.execute(
                update(table)
                .where(
                    table.c.id == row_id,
                    table.c.delivered_at.is_(None),
                    table.c.next_attempt_at < NEVER,
                    or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
                )
                .values(
                    claimed_by=self.instance,
                    claimed_until=now + self.claim,
                    attempts=table.c.attempts + 1,
                )
            )
            if claimed.rowcount != 1:
                return None
            return session.get(OutboxMessage, row_id)

    def _attempt(self, row_id: int, key: str, *, deferred: bool = False) -> Delivery:
        """Claim the row and send it once; at most a few rounds when it was re-queued while in
        flight (an edit replaced by a newer one)."""
        for _ in range(3):
            row = self._claim(row_id)
            if row is None:
                with self.store.session() as session:
                    current = session.get(OutboxMessage, row_id)
                if current is not None and current.delivered_at is not None:
                    return Delivery(key, True, _ref(current.result))
                return Delivery(key, False, error="being delivered by another worker")
            outcome = self._deliver(row, deferred)
            if outcome is not None:
                return outcome
        return Delivery(key, False, error="replaced while being delivered; queued")

    def _deliver(self, row: OutboxMessage, deferred: bool) -> Delivery | None:
        payload = dict(row.payload or {})
        args = dict(payload.get("args") or {})
        parent_key = payload.get("parent")
        if parent_key:
            parent = self._row(parent_key)
            if parent is None or parent.next_attempt_at >= NEVER:
                self._give_up(row, f"its parent message {parent_key} was never delivered")
                return Delivery(row.dedupe_key, False, error="parent not delivered")
            if parent.delivered_at is None:
                self._release(row, retry_in=max(self.interval, 1.0), error=None, undo_attempt=True)
                return Delivery(row.dedupe_key, False, error="waiting for its parent message")
            ref = _ref(parent.result)
            if ref is None:
                self._give_up(row, f"its parent message {parent_key} has no ts")
                return Delivery(row.dedupe_key, False, error="parent has no ts")
            # The parent's channel *ID* (it may have been queued under a name like #mlops,
            # which the upload flow does not accept).
            args["channel"] = ref.channel
            if row.method == UPDATE:
                args["ts"] = ref.ts
            else:
                args["thread_ts"] = ref.ts
        hook_name = payload.get("hook")
        hook = self._hooks.get(hook_name) if hook_name else None
        if hook_name and hook is None:
            # Without its hook the owner would never learn the message went out and would send
            # it again: better to wait for a process that knows it.
            log.error("outbox hook %s of %s is not registered here", hook_name, row.dedupe_key)
            self._release(row, retry_in=self.backoff(row.attempts), error="hook: not registered")
            return Delivery(row.dedupe_key, False, error="hook unavailable")
        try:
            result = self._call(row.method, args)
        except Exception as exc:
            failure = classify(exc, row.attempts, self.backoff)
            too_old = self.clock() - row.created_at > self.max_age
            if failure.retry_in is None or too_old:
                why = (
                    failure.error
                    if failure.retry_in is None
                    else f"still failing after {self.max_age}: {failure.error}"
                )
                self._give_up(row, why)
            else:
                # The row is due no later than the pause ends: when the queue resumes it goes
                # first again, not after messages queued behind it during the pause.
                due_at = self.clock() + timedelta(seconds=failure.retry_in)
                if failure.outage:
                    self._pause(failure.retry_in)
                self._release(row, retry_in=failure.retry_in, error=failure.error, due_at=due_at)
                log.warning(
                    "Slack did not take %s (%s, attempt %d); retrying in %.0fs",
                    row.dedupe_key,
                    failure.error,
                    row.attempts,
                    failure.retry_in,
                )
            return Delivery(row.dedupe_key, False, error=failure.error)
        self._resume()
        if not self._mark_delivered(row, result):
            return None  # replaced while in flight: send the newer revision
        ref = _ref(result)
        if hook is not None:
            try:
                hook(payload.get("hook_args") or {}, ref, deferred)
            except Exception:
                log.exception("delivery hook of %s failed", row.dedupe_key)
        return Delivery(row.dedupe_key, True, ref)

    def _call(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == POST:
            response = self.client.chat_postMessage(**args)
            return {"channel": str(response["channel"]), "ts": str(response["ts"])}
        if method == UPDATE:
            response = self.client.chat_update(**args)
            return {"channel": str(response["channel"]), "ts": str(response["ts"])}
        if method == UPLOAD:
            files = [
                {
                    "content": base64.b64decode(f["content_b64"]),
                    "filename": f["filename"],
                    "title": f["title"],
                    "alt_txt": f["alt_txt"],
                }
                for f in args["files"]
            ]
            response = self.client.files_upload_v2(
                channel=args.get("channel"),
                thread_ts=args.get("thread_ts"),
                initial_comment=args.get("initial_comment"),
                file_uploads=files,
            )
            ids = [f.get("id") for f in (response.get("files") or []) if isinstance(f, dict)]
            return {"channel": args.get("channel"), "ts": args.get("thread_ts"), "files": ids}
        raise ValueError(f"the outbox cannot send {method!r}")

    def _mark_delivered(self, row: OutboxMessage, result: dict[str, Any]) -> bool:
        table = OutboxMessage.__table__
        conditions = [table.c.id == row.id, table.c.claimed_by == self.instance]
        if (row.payload or {}).get("replace"):
            conditions.append(table.c.created_at == row.created_at)
        with self.store.session() as session:
            marked = session.execute(
                update(table)
                .where(and_(*conditions))
                .values(
                    delivered_at=self.clock(),
                    result=result,
                    last_error=None,
                    claimed_by=None,
                    claimed_until=None,
                )
            )
            if marked.rowcount == 1:
                return True
            # A newer revision was queued while this one was in flight: let it go next.
            session.execute(
                update(table)
                .where(table.c.id == row.id, table.c.claimed_by == self.instance)
                .values(claimed_by=None, claimed_until=None)
            )
            return False

    def _release(
        self,
        row: OutboxMessage,
        *,
        retry_in: float,
        error: str | None,
        undo_attempt: bool = False,
        due_at: datetime | None = None,
    ) -> None:
        table = OutboxMessage.__table__
        values: dict[str, Any] = {
            "claimed_by": None,
            "claimed_until": None,
            "next_attempt_at": due_at or self.clock() + timedelta(seconds=retry_in),
        }
        if error is not None:
            values["last_error"] = error[:1000]
        if undo_attempt:
            values["attempts"] = table.c.attempts - 1
        with self.store.session() as session:
            session.execute(
                update(table)
                .where(table.c.id == row.id, table.c.claimed_by == self.instance)
                .values(**values)
            )

    def _give_up(self, row: OutboxMessage, why: str) -> None:
        log.error("giving up on Slack message %s: %s", row.dedupe_key, why)
        table = OutboxMessage.__table__
        with self.store.session() as session:
            session.execute(
                update(table)
                .where(table.c.id == row.id, table.c.claimed_by == self.instance)
                .values(
                    claimed_by=None,
                    claimed_until=None,
                    next_attempt_at=NEVER,
                    last_error=why[:1000],
                    result={"gave_up": why[:300]},
                )
            )
        self.store.audit(
            "mlops-bot", "slack_message", "given_up", subject=row.dedupe_key[:128], reason=why[:300]
        )

    def _row(self, key: str) -> OutboxMessage | None:
        with self.store.session() as session:
            return session.scalars(
                select(OutboxMessage).where(OutboxMessage.dedupe_key == key)
            ).first()

    # ------------------------------------------------------------------ the delivery loop

    def deliver_due(self) -> int:
        """One round: send every due row (oldest first). Returns how many were delivered."""
        if self.paused:
            return 0  # Slack asked to wait (or is down): the whole queue waits
        self.release_dead_claims()
        now = self.clock()
        table = OutboxMessage.__table__
        with self.store.session() as session:
            due = session.execute(
                select(table.c.id, table.c.dedupe_key)
                .where(
                    table.c.delivered_at.is_(None),
                    table.c.next_attempt_at <= now,
                    or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
                )
                .order_by(table.c.id)
                .limit(self.batch)
            ).all()
        delivered = 0
        for row_id, key in due:
            if self._stop.is_set():
                break
            outcome = self._attempt(row_id, key, deferred=True)
            delivered += outcome.delivered
            if not outcome.delivered and self.paused:
                break  # Slack asked to wait: the rest waits too
        self._rounds += 1
        if self._rounds % 600 == 1:
            self.prune()
        return delivered

    def release_dead_claims(self) -> int:
        """Free rows claimed by a process of this host that no longer runs (kill -9 while it
        was sending): they are sent again now, not when the claim would have expired."""
        now = self.clock()
        table = OutboxMessage.__table__
        with self.store.session() as session:
            held = session.execute(
                select(table.c.id, table.c.claimed_by).where(
                    table.c.delivered_at.is_(None),
                    table.c.claimed_until >= now,
                    table.c.claimed_by.like(f"{holder_prefix()}%"),
                )
            ).all()
        released = 0
        for row_id, holder in held:
            if holder == self.instance or not holder_gone(holder):
                continue
            with self.store.session() as session:
                result = session.execute(
                    update(table)
                    .where(table.c.id == row_id, table.c.claimed_by == holder)
                    .values(claimed_by=None, claimed_until=None)
                )
                released += int(result.rowcount or 0)
        if released:
            log.warning("took over %d Slack messages from a bot process that died", released)
        return released

    def prune(self) -> int:
        """Forget delivered rows after ``keep_delivered`` (their keys were one-off)."""
        cutoff = self.clock() - self.keep_delivered
        table = OutboxMessage.__table__
        with self.store.session() as session:
            result = session.execute(
                table.delete().where(
                    table.c.delivered_at.is_not(None), table.c.delivered_at < cutoff
                )
            )
            return int(result.rowcount or 0)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:
                log.exception("outbox delivery round failed")
            self._wake.wait(self.interval)
            self._wake.clear()

    # ------------------------------------------------------------------ reading

    def counts(self) -> dict[str, int]:
        """delivered / pending / given_up row counts (for health pages and tests)."""
        table = OutboxMessage.__table__
        with self.store.session() as session:
            delivered = session.scalar(
                select(func.count()).where(table.c.delivered_at.is_not(None))
            )
            given_up = session.scalar(
                select(func.count()).where(
                    table.c.delivered_at.is_(None), table.c.next_attempt_at >= NEVER
                )
            )
            pending = session.scalar(
                select(func.count()).where(
                    table.c.delivered_at.is_(None), table.c.next_attempt_at < NEVER
                )
            )
        return {
            "delivered": int(delivered or 0),
            "pending": int(pending or 0),
            "given_up": int(given_up or 0),
        }

    def is_pending(self, key: str) -> bool:
        """Queued and not delivered yet (nor given up)."""
        row = self._row(key_of(key))
        return row is not None and row.delivered_at is None and row.next_attempt_at < NEVER

    def pending_keys(self) -> list[str]:
        table = OutboxMessage.__table__
        with self.store.session() as session:
            return list(
                session.scalars(
                    select(table.c.dedupe_key)
                    .where(table.c.delivered_at.is_(None), table.c.next_attempt_at < NEVER)
                    .order_by(table.c.id)
                )
            )


def _ref(result: Mapping[str, Any] | None) -> MessageRef | None:
    if not result or not result.get("channel") or not result.get("ts"):
        return None
    return MessageRef(str(result["channel"]), str(result["ts"]))


def delivery_client(client: WebClient) -> WebClient:
    """The bot's client without slack_sdk's long retry loops: a 429 is handed back at once (the
    outbox waits for Retry-After between attempts, without holding the caller's thread), a 5xx
    or a dropped connection is retried once."""
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        retry_handlers=[
            ServerErrorRetryHandler(max_retry_count=1),
            ConnectionErrorRetryHandler(max_retry_count=1),
        ],
    )
