"""A local Slack: the Web API subset the bot uses, served over HTTP on 127.0.0.1.

Point a ``slack_sdk.WebClient(base_url=server.base_url)`` (or the bot, through
``SLACK_API_URL``) at it and it answers like slack.com: ``{"ok": true, ...}`` bodies shaped like
Slack's, ``{"ok": false, "error": ...}`` with HTTP 200 for refusals, HTTP 429 + ``Retry-After``
when rate limited. Besides ``/api/<method>`` it serves the upload URLs of ``files_upload_v2``,
response URLs (``/commands/...``, ``/actions/...``) and uploaded files (``/files/<id>/<name>``).

Every request is recorded (``calls``, ``wait_for``) and can be made to fail (``inject``). The
state lives in a :class:`~bot.sandbox.workspace.Workspace`, which the sandbox page reads too;
the page adds its own routes with ``add_route``.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import logging
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.sandbox import seed
from bot.sandbox.calllog import FILE_UPLOAD, RESPONSE_URL, ApiCall, CallLog
from bot.sandbox.errors import SlackError
from bot.sandbox.faults import Fault, FaultPlan
from bot.sandbox.methods import METHODS, Args, CallContext, decode_json_fields
from bot.sandbox.workspace import Workspace

logger = logging.getLogger(__name__)

_FAULT_ERRORS = {
    429: "ratelimited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
}


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)


@dataclass
class HttpResponse:
    """What a route answers. ``stream`` (chunks written as they come) serves server-sent events."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterable[bytes] | None = None

    @classmethod
    def json(
        cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> HttpResponse:
        return cls(
            status,
            json.dumps(payload).encode(),
            {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        )

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> HttpResponse:
        return cls(status, text.encode(), {"Content-Type": f"{content_type}; charset=utf-8"})


Route = Callable[[HttpRequest], HttpResponse]


class SlackWebApiServer:
    """The sandbox Slack over HTTP. ``start()`` returns the base URL (``.../api/``)."""

    def __init__(
        self, workspace: Workspace | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.workspace = workspace if workspace is not None else Workspace()
        self.call_log = CallLog()
        self.faults = FaultPlan()
        self._host, self._port = host, port
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, str, Route]] = []
        self._scopes_used: set[str] = set()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Bind, serve in a background thread, return the Web API base URL."""
        if self._httpd is not None:
            return self.base_url
        self._httpd = _HttpServer((self._host, self._port), _RequestHandler, self)
        self.workspace.root_url = self.root_url
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="slack-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> SlackWebApiServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        return f"http://{self._host}:{self.port}/"

    @property
    def base_url(self) -> str:
        """What ``WebClient(base_url=...)`` and ``SLACK_API_URL`` take."""
        return f"{self.root_url}api/"

    # ------------------------------------------------------------------ the call log

    @property
    def calls(self) -> list[ApiCall]:
        return self.call_log.all()

    def calls_of(self, method: str) -> list[ApiCall]:
        return self.call_log.of(method)

    def wait_for(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        timeout: float = 5.0,
        *,
        since: int = 0,
    ) -> ApiCall:
        """First call of ``method`` (index >= ``since``) matching ``predicate``; waits for it."""
        return self.call_log.wait_for(method, predicate, timeout, since=since)

    def scopes_used(self) -> set[str]:
        """Scopes the calls answered so far needed: compare with the app manifest."""
        with self._lock:
            return set(self._scopes_used)

    # ------------------------------------------------------------------ faults

    def inject(
        self,
        method: str,
        *,
        status: int | None = None,
        retry_after: int | None = 1,
        error: str | None = None,
        times: int | None = 1,
        delay: float = 0.0,
    ) -> Fault:
        """Fail the next ``times`` calls of ``method`` (also ``response_url`` / ``file_upload``).
        See :meth:`bot.sandbox.faults.FaultPlan.inject`; the default is HTTP 429."""
        return self.faults.inject(
            method, status=status, retry_after=retry_after, error=error, times=times, delay=delay
        )

    def clear_faults(self, method: str | None = None) -> None:
        self.faults.clear(method)

    # ------------------------------------------------------------------ interactions

    def new_response_url(
        self,
        channel_id: str = seed.MLOPS_CHANNEL,
        user_id: str = seed.ALICE,
        *,
        message_ts: str | None = None,
        kind: str = "commands",
    ) -> str:
        """A response URL on this server for an interaction by ``user_id`` in ``channel_id``
        (``message_ts``: the message whose button was pressed)."""
        path = self.workspace.response_urls.create(
            channel_id=channel_id, user_id=user_id, message_ts=message_ts, kind=kind
        )
        return self.root_url + path

    def issue_trigger_id(self, user_id: str = seed.ALICE) -> str:
        """A trigger id valid once within 3 seconds, for views.open."""
        return self.workspace.views.issue_trigger_id(user_id)

    def add_route(self, http_method: str, path_prefix: str, route: Route) -> None:
        """Serve ``path_prefix`` (longest prefix wins) with ``route``: used by the sandbox page.
        Slack's paths (``/api/``, ``/upload/v1/``, ``/commands/``, ``/actions/``, ``/files/``)
        cannot be overridden."""
        with self._lock:
            self._routes.append((http_method.upper(), path_prefix, route))
            self._routes.sort(key=lambda r: len(r[1]), reverse=True)

    # ------------------------------------------------------------------ dispatch

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one request (the HTTP layer calls this; tests may too).

        Slack's own paths come first, so a page route on ``/`` never shadows the Web API."""
        path = request.path
        if path.startswith("/api/"):
            return self._web_api(request, path.removeprefix("/api/"))
        if path.startswith("/upload/v1/") and request.method == "POST":
            return self._upload(request, path.removeprefix("/upload/v1/"))
        if path.startswith(("/commands/", "/actions/")) and request.method == "POST":
            return self._response_url(request, path.lstrip("/"))
        if path.startswith("/files/") and request.method in ("GET", "HEAD"):
            return self._file(request, path.removeprefix("/files/"))
        with self._lock:
            routes = list(self._routes)
        for http_method, prefix, route in routes:
            if request.method == http_method and path.startswith(prefix):
                return route(request)
        return HttpResponse.text("not found", 404)

    def _web_api(self, request: HttpRequest, method: str) -> HttpResponse:
        params, json_body, parse_error = _parse_body(request)
        params = {**request.query, **params}
        token = _bearer(request) or (params.get("token") if json_body is None else None)
        params.pop("token", None)  # kept in ApiCall.token only
        args = decode_json_fields({**params, **(json_body or {})})
        headers = {"X-Slack-Req-Id": secrets.token_hex(16)}
        fault = self.faults.take(method)
        response = self._fault_response(fault) if fault is not None else _PROCEED
        if response is _PROCEED:
            if parse_error is not None:
                response = HttpResponse.json({"ok": False, "error": parse_error})
            else:
                response = self._answer(method, token, Args(args), headers)
        response.headers.update(headers)
        self._record(method, params, json_body, args, token, response)
        return response

    def _answer(
        self, method: str, token: str | None, args: Args, headers: dict[str, str]
    ) -> HttpResponse:
        spec = METHODS.get(method)
        if spec is None:
            return HttpResponse.json({"ok": False, "error": "unknown_method", "req_method": method})
        headers["X-Accepted-OAuth-Scopes"] = ",".join(spec.scopes)
        try:
            user, scopes = self.workspace.authenticate(token)
            headers["X-OAuth-Scopes"] = ",".join(sorted(scopes))
            context = CallContext(
                self.workspace, args, user, scopes, self._upload_url, token=token or ""
            )
            for scope in spec.scopes:
                context.require_scope(scope)
            body = {"ok": True, **spec.handler(context)}
            with self._lock:
                self._scopes_used |= context.required
        except SlackError as refused:
            return HttpResponse.json(refused.body(), refused.http_status)
        return HttpResponse.json(body)

    def _fault_response(self, fault: Fault) -> HttpResponse:
        if fault.delay > 0:
            time.sleep(fault.delay)
        if fault.status is not None:
            error = fault.error or _FAULT_ERRORS.get(fault.status, "fatal_error")
            headers = (
                {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            )
            return HttpResponse.json({"ok": False, "error": error}, fault.status, headers)
        if fault.error is not None:
            return HttpResponse.json({"ok": False, "error": fault.error})
        return _PROCEED

    def _upload(self, request: HttpRequest, key: str) -> HttpResponse:
        fault = self.faults.take(FILE_UPLOAD)
        response = self._fault_response(fault) if fault is not None else _PROCEED
        if fault is not None and fault.status is None and fault.error is not None:
            response = HttpResponse.text(fault.error, 400)
        size = None
        if response is _PROCEED:
            data = _uploaded_bytes(request)
            try:
                size = self.workspace.files.receive(key, data)
                response = HttpResponse.text(f"OK - {size}")
            except LookupError as missing:
                response = HttpResponse.text(str(missing), 404)
        params = {"upload_key": key, "size": size, "content_type": request.header("Content-Type")}
        self._record(FILE_UPLOAD, params, None, dict(params), None, response)
        return response

    def _response_url(self, request: HttpRequest, path: str) -> HttpResponse:
        params, json_body, parse_error = _parse_body(request)
        payload: Any = json_body
        if payload is None and "payload" in params:  # some clients form-encode a payload field
            try:
                payload = json.loads(params["payload"])
            except json.JSONDecodeError:
                parse_error = "invalid_payload"
        fault = self.faults.take(RESPONSE_URL)
        response = self._fault_response(fault) if fault is not None else _PROCEED
        if response is _PROCEED:
            try:
                if parse_error is not None:
                    raise SlackError(parse_error, http_status=400)
                self.workspace.response_urls.respond(path, payload)
                response = HttpResponse.json({"ok": True})
            except SlackError as refused:
                response = HttpResponse.json(refused.body(), refused.http_status)
        args = payload if isinstance(payload, dict) else {}
        self._record(
            RESPONSE_URL,
            {"url": self.root_url + path, **params},
            json_body,
            dict(args),
            None,
            response,
        )
        return response

    def _file(self, request: HttpRequest, rest: str) -> HttpResponse:
        file_id = rest.split("/", 1)[0]
        try:
            data, mimetype, name = self.workspace.files.content(file_id)
        except LookupError:
            return HttpResponse.text("file not found", 404)
        headers = {"Content-Type": mimetype, "Cache-Control": "private, max-age=3600"}
        if request.query.get("download"):
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return HttpResponse(200, data, headers)

    def _upload_url(self, key: str) -> str:
        return f"{self.root_url}upload/v1/{key}"

    def _record(
        self,
        method: str,
        params: dict[str, Any],
        json_body: dict[str, Any] | None,
        args: dict[str, Any],
        token: str | None,
        response: HttpResponse,
    ) -> None:
        try:
            body: Any = json.loads(response.body) if response.body else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = response.body.decode(errors="replace")
        self.call_log.record(
            ApiCall(
                method=method,
                params=params,
                json=json_body,
                args=args,
                token=token,
                time=time.time(),
                http_status=response.status,
                response=body,
                headers=dict(response.headers),
            )
        )


_PROCEED = HttpResponse(status=0)
"""Marker: no fault answered this call, handle it normally."""


def _bearer(request: HttpRequest) -> str | None:
    value = request.header("Authorization")
    if value.lower().startswith("bearer "):
        return value[7:].strip() or None
    return None


def _parse_body(request: HttpRequest) -> tuple[dict[str, str], dict[str, Any] | None, str | None]:
    """(form fields, JSON object or None, error code if the body could not be read)."""
    content_type = request.header("Content-Type").split(";")[0].strip().lower()
    if not request.body:
        return {}, None, None
    if content_type == "application/json":
        try:
            parsed = json.loads(request.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {}, None, "invalid_json"
        if not isinstance(parsed, dict):
            return {}, None, "invalid_json"
        return {}, parsed, None
    if content_type == "multipart/form-data":
        fields = {name: value.decode(errors="replace") for name, value, _ in _multipart(request)}
        return fields, None, None
    try:
        pairs = urllib.parse.parse_qsl(request.body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}, None, "invalid_form_data"
    return dict(pairs), None, None


def _multipart(request: HttpRequest) -> list[tuple[str, bytes, str | None]]:
    """(field name, bytes, file name) of each part of a multipart/form-data body."""
    head = f"Content-Type: {request.header('Content-Type')}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        parts.append((str(name or ""), payload, part.get_filename()))
    return parts


def _uploaded_bytes(request: HttpRequest) -> bytes:
    """The file in an upload POST: the raw body, or the file part of a multipart form."""
    if request.header("Content-Type").lower().startswith("multipart/form-data"):
        parts = _multipart(request)
        files = [data for _, data, filename in parts if filename] or [data for _, data, _ in parts]
        return files[0] if files else b""
    return request.body


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        app: SlackWebApiServer,
    ) -> None:
        self.app = app
        super().__init__(address, handler)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _HttpServer
    server_version = "SlackSandbox/1.0"

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def _serve(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        request = HttpRequest(
            method=self.command,
            path=urllib.parse.unquote(url.path),
            query=dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True)),
            headers=self.headers,
            body=body,
        )
        try:
            response = self.server.app.handle(request)
        except Exception:  # a bug in the sandbox must show as a 500, not a hung client
            logger.exception("sandbox failed on %s %s", self.command, self.path)
            response = HttpResponse.json({"ok": False, "error": "fatal_error"}, 500)
        try:
            self._write(response)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("client went away before the answer to %s", self.path)

    def _write(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.stream is None:
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            return
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for chunk in response.stream:
            self.wfile.write(chunk)
            self.wfile.flush()
