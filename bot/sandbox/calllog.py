"""Every request the sandbox server answered, so tests can assert on what the bot did.

Scenario tests act through signed HTTP requests and then look here: which Web API methods the
bot called, with which arguments, in which order, and how each was answered (retries after an
injected 429 show up as several calls of one method).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RESPONSE_URL = "response_url"
"""Pseudo method name under which posts to response URLs are recorded (and faults injected)."""
FILE_UPLOAD = "file_upload"
"""Pseudo method name of step 2 of files_upload_v2 (the POST of the bytes to the upload URL)."""


@dataclass(frozen=True)
class ApiCall:
    """One answered request.

    ``params`` are the form / query fields as sent (strings); ``json`` is the JSON body if there
    was one; ``args`` merges both with JSON-in-a-string fields decoded (``blocks``, ``view``,
    ``attachments``, ``files``...), so ``call.args["blocks"]`` is a list however it was sent.
    """

    method: str
    params: dict[str, Any]
    json: dict[str, Any] | None
    args: dict[str, Any]
    token: str | None
    time: float
    http_status: int
    response: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """HTTP 200 and, for JSON answers, ``ok: true``."""
        if self.http_status != 200:
            return False
        return not isinstance(self.response, dict) or bool(self.response.get("ok", True))

    @property
    def error(self) -> str | None:
        return self.response.get("error") if isinstance(self.response, dict) else None


class CallLog:
    """Thread-safe, append-only list of ApiCall with a blocking ``wait_for``."""

    def __init__(self) -> None:
        self._calls: list[ApiCall] = []
        self._cond = threading.Condition()

    def record(self, call: ApiCall) -> None:
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._calls)

    def all(self) -> list[ApiCall]:
        with self._cond:
            return list(self._calls)

    def of(self, method: str) -> list[ApiCall]:
        with self._cond:
            return [c for c in self._calls if c.method == method]

    def clear(self) -> None:
        with self._cond:
            self._calls.clear()

    def wait_for(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        timeout: float = 5.0,
        *,
        since: int = 0,
    ) -> ApiCall:
        """The first call of ``method`` (from index ``since`` on) matching ``predicate``,
        waiting up to ``timeout`` seconds for it; TimeoutError lists what was called instead."""
        deadline = time.monotonic() + timeout
        checked = since
        with self._cond:
            while True:
                for call in self._calls[checked:]:
                    if call.method == method and (predicate is None or predicate(call)):
                        return call
                checked = max(checked, len(self._calls))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = ", ".join(
                        f"{c.method}({c.error or c.http_status})" for c in self._calls[since:]
                    )
                    raise TimeoutError(
                        f"no matching {method} call within {timeout}s; calls seen: {seen or 'none'}"
                    )
                self._cond.wait(remaining)
