"""HTTP replay at the ``requests`` layer, for the real Azure SDKs.

Every Azure SDK client here (azure-ai-ml, including the registry clients it builds internally with
default options, azure-monitor-*, azure-storage-blob) and the adapter's own smoke-test session send
through ``requests.adapters.HTTPAdapter.send``. :class:`HttpInterceptor` replaces that one method:
each request goes to a list of handlers (a :class:`Cassette` replaying a recording, or the fake
cloud), and the answer comes back as a genuine ``urllib3`` response built by ``HTTPAdapter`` itself,
so the SDKs parse, stream, retry and poll exactly as they would against Azure.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3 import HTTPResponse

FIXTURES = Path(__file__).parent / "fixtures"
RECORDINGS = FIXTURES / "recordings"
REST_EXAMPLES = FIXTURES / "rest-examples"

_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class Exchange:
    """One request as the fake services see it."""

    method: str
    url: str
    headers: CaseInsensitiveDict[str]
    body: bytes

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc.lower()

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return {
            k: v[-1] for k, v in parse_qs(urlsplit(self.url).query, keep_blank_values=True).items()
        }

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int
    body: Any = None
    """dict/list -> JSON; str/bytes -> sent as is; None -> empty body."""
    headers: dict[str, str] = field(default_factory=dict)

    def content(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


Handler = Callable[[Exchange], Reply | None]


def _body_bytes(request: PreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        return body.read()
    if isinstance(body, Iterable):
        return b"".join(c if isinstance(c, bytes) else str(c).encode() for c in body)
    return str(body).encode("utf-8")


class HttpInterceptor:
    """Routes every ``requests`` call of the process to handlers; records what was sent."""

    def __init__(self) -> None:
        self.handlers: list[Handler] = []
        self.exchanges: list[Exchange] = []
        self.unhandled: list[Exchange] = []
        self._lock = threading.Lock()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> HttpInterceptor:
        interceptor = self

        def send(adapter: HTTPAdapter, request: PreparedRequest, **kwargs: Any) -> Response:
            return interceptor._send(adapter, request)

        monkeypatch.setattr(HTTPAdapter, "send", send)
        return self

    def add(self, handler: Handler) -> Handler:
        self.handlers.append(handler)
        return handler

    def requests(self, method: str | None = None, contains: str = "") -> list[Exchange]:
        with self._lock:
            return [
                e
                for e in self.exchanges
                if (method is None or e.method == method) and contains in e.url
            ]

    def _send(self, adapter: HTTPAdapter, request: PreparedRequest) -> Response:
        exchange = Exchange(
            method=str(request.method).upper(),
            url=str(request.url),
            headers=CaseInsensitiveDict(request.headers),
            body=_body_bytes(request),
        )
        with self._lock:
            self.exchanges.append(exchange)
        for handler in list(self.handlers):
            reply = handler(exchange)
            if reply is not None:
                return build_response(adapter, request, reply)
        with self._lock:
            self.unhandled.append(exchange)
        raise AssertionError(f"no fake Azure service answers {exchange.method} {exchange.url}")


def build_response(adapter: HTTPAdapter, request: PreparedRequest, reply: Reply) -> Response:
    content = reply.content()
    headers = {"Content-Type": "application/json; charset=utf-8", **reply.headers}
    if reply.body is None:
        headers.pop("Content-Type", None)
    headers["Content-Length"] = str(len(content))
    raw = HTTPResponse(
        body=io.BytesIO(content),
        headers=headers,
        status=reply.status,
        reason=_REASONS.get(reply.status, "Status"),
        preload_content=False,
        decode_content=False,
        request_method=request.method,
    )
    return adapter.build_response(request, raw)


# --------------------------------------------------------------------------- recordings


def load_recording(name: str) -> dict[str, Any]:
    return json.loads((RECORDINGS / name).read_text(encoding="utf-8"))


def load_example(relative: str) -> dict[str, Any]:
    return json.loads((REST_EXAMPLES / relative).read_text(encoding="utf-8"))


_LRO_HEADERS = ("azure-asyncoperation", "location")


class Cassette:
    """Replays one test-proxy recording: each request gets the first unplayed entry with the
    same method and path (hosts and query strings differ between the recording and the SDK
    version installed here, and the 2025 LRO URLs carry signed query strings)."""

    def __init__(
        self, name: str, *, only: Iterable[int] | None = None, repeat: bool = False
    ) -> None:
        self.name = name
        self.repeat = repeat
        """Serve played entries again once none is left unplayed (for GETs the SDK repeats)."""
        recording = load_recording(name)
        entries = recording["Entries"]
        wanted = set(only) if only is not None else set(range(len(entries)))
        self.entries = [(i, e) for i, e in enumerate(entries) if i in wanted]
        self.played: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, exchange: Exchange) -> Reply | None:
        with self._lock:
            matching = [
                (index, entry)
                for index, entry in self.entries
                if entry["RequestMethod"].upper() == exchange.method
                and urlsplit(entry["RequestUri"]).path.lower() == exchange.path.lower()
            ]
            fresh = [(i, e) for i, e in matching if i not in self.played]
            chosen = fresh[0] if fresh else (matching[0] if matching and self.repeat else None)
            if chosen is None:
                return None
            self.played.append(chosen[0])
            return self._reply(chosen[1])

    @staticmethod
    def _reply(entry: dict[str, Any]) -> Reply:
        headers = {
            k: v
            for k, v in entry["ResponseHeaders"].items()
            if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")
        }
        if any(k.lower() in _LRO_HEADERS for k in headers) or "mfeOperation" in entry["RequestUri"]:
            headers["Retry-After"] = "0"
        body = entry.get("ResponseBody")
        if isinstance(body, dict | list):
            return Reply(entry["StatusCode"], body, headers)
        if body is None:
            return Reply(entry["StatusCode"], None, headers)
        return Reply(entry["StatusCode"], str(body), headers)

    def assert_all_played(self) -> None:
        missing = [i for i, _ in self.entries if i not in set(self.played)]
        assert not missing, f"{self.name}: entries {missing} were never requested"
