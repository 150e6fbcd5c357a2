"""Why Slack did not take a message, when to try again, and the pause that holds the whole queue
while Slack is down or asked to wait."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

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


def backoff(attempts: int, base: float, maximum: float) -> float:
    """Seconds to wait after ``attempts`` failed attempts: doubling from ``base`` up to
    ``maximum``, with ±20% jitter so replicas do not retry in step."""
    wait = min(base * 2 ** max(attempts - 1, 0), maximum)
    return wait * _JITTER.uniform(0.8, 1.2)


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


class OutagePause:
    """Slack said to wait (429) or looked down a moment ago: until the pause ends, messages are
    queued without trying Slack. Per process (monotonic clock), shared by all its threads."""

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        with self._lock:
            return time.monotonic() < self._until

    def extend(self, seconds: float) -> None:
        """Pause for at least ``seconds`` from now (a longer pause already set is kept)."""
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def end(self) -> None:
        with self._lock:
            self._until = 0.0
