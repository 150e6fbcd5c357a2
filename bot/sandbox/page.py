"""The sandbox page: a small Slack client in the browser, over the sandbox workspace.

It shows what the bot left in the :class:`~bot.sandbox.workspace.Workspace` (channels, threads,
ephemeral messages, edits, modals, App Home, uploaded charts) and lets a person act as one of
the demo users. Whatever the person does that Slack would tell the app about becomes the request
Slack would send, built by :class:`~bot.sandbox.interactions.Interactions` (signed with the app's
signing secret) and POSTed to the bot's ``/slack/events``; what the bot answers is handled the
way Slack handles it (an ack body becomes an ephemeral message, a ``response_action`` changes
the modal, no answer within three seconds is Slack's ``operation_timeout``).

The browser never holds the signing secret: it calls the JSON routes below on the sandbox
server, which signs and forwards. Live updates come as server-sent events on
``/sandbox/api/events`` (one ``change`` event per workspace version), after which the page
re-reads ``/sandbox/api/state``.

Routes (added to a :class:`~bot.sandbox.webapi.SlackWebApiServer` by :meth:`SandboxPage.attach`):

* ``GET /`` and ``GET /archives/...`` (permalinks) — the page; ``GET /static/<file>`` — its
  HTML, CSS and JavaScript, served from ``bot/sandbox/static`` (no build step, nothing remote);
* ``GET /sandbox/api/state?user=&channel=&thread=`` — everything the page shows for one person;
* ``GET /sandbox/api/events`` — server-sent events; ``GET /sandbox/api/status`` — is the bot up;
* ``POST /sandbox/api/{message,command,action,submit,close,dismiss,home}`` — what people do.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from bot.sandbox import seed, signed_requests
from bot.sandbox.errors import SlackError
from bot.sandbox.interactions import Interactions
from bot.sandbox.page_state import page_state
from bot.sandbox.signed_requests import SignedRequest
from bot.sandbox.webapi import HttpRequest, HttpResponse, SlackWebApiServer

if TYPE_CHECKING:  # websockets is needed only in Socket Mode
    from bot.sandbox.socket_mode import SocketModeServer

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
ACK_TIMEOUT_SECONDS = 3.0
"""Slack gives an app three seconds to acknowledge a request, then shows an error."""
EVENTS_KEEPALIVE_SECONDS = 15.0
EVENTS_COALESCE_SECONDS = 0.05
"""A rollout edits a card and posts in its thread at once: one event for the burst."""
MAX_TEXT = 4000


class PageError(Exception):
    """A request the page should not have sent (unknown user, missing field): HTTP 400."""


@dataclass(frozen=True)
class Delivery:
    """What came back when the sandbox delivered a request to the bot."""

    status: int
    """The bot's HTTP status; 0 when it could not be reached or did not answer in time."""
    body: str
    error: str | None = None
    """Slack's name for the failure: ``operation_timeout``, ``dispatch_failed``, ..."""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200

    def to_api(self) -> dict[str, Any]:
        return {
            "delivered": self.ok,
            "status": self.status,
            "error": self.error,
            "ms": round(self.seconds * 1000),
        }


class SandboxPage:
    """The page's routes on one sandbox server; ``bot_url`` is the bot's ``/slack/events``."""

    def __init__(
        self,
        server: SlackWebApiServer,
        *,
        bot_url: str | None = None,
        signing_secret: str = seed.SIGNING_SECRET,
        command: str = "/mlops",
        ack_timeout: float = ACK_TIMEOUT_SECONDS,
    ) -> None:
        self.server = server
        self.workspace = server.workspace
        self.interactions = Interactions(server, signing_secret=signing_secret, command=command)
        self.command = command
        self.bot_url = bot_url
        self.ack_timeout = ack_timeout
        self.suggestions: list[str] = []
        """Commands offered as one-click chips above the composer (the demo keeps them current)."""
        self._closed = threading.Event()
        self._http = requests.Session()
        self.socket_mode: SocketModeServer | None = None
        """Set: deliver over this Socket Mode server (the bot is connected to it) instead of
        POSTing to ``bot_url``, which then serves only the health probes."""

    # ------------------------------------------------------------------ lifecycle

    def attach(self) -> SandboxPage:
        """Add the page's routes to the server (call once, before or after ``start``)."""
        routes = {
            ("GET", "/static/"): self._static,
            ("GET", "/archives/"): self._index,
            ("GET", "/sandbox/api/state"): self._state,
            ("GET", "/sandbox/api/events"): self._events,
            ("GET", "/sandbox/api/status"): self._status,
            ("POST", "/sandbox/api/message"): self._message,
            ("POST", "/sandbox/api/command"): self._command,
            ("POST", "/sandbox/api/action"): self._action,
            ("POST", "/sandbox/api/submit"): self._submit,
            ("POST", "/sandbox/api/close"): self._close_view,
            ("POST", "/sandbox/api/dismiss"): self._dismiss,
            ("POST", "/sandbox/api/home"): self._home,
        }
        for (method, prefix), route in routes.items():
            self.server.add_route(method, prefix, _guarded(route))
        self.server.add_route("GET", "/", self._root)
        return self

    def close(self) -> None:
        """End the open event streams (their threads return) and the bot connection pool."""
        self._closed.set()
        self.workspace.touch()
        self._http.close()

    @property
    def url(self) -> str:
        return self.server.root_url

    # ------------------------------------------------------------------ delivering to the bot

    def deliver(self, request: SignedRequest) -> Delivery:
        """POST a signed request to the bot as Slack would, waiting as long as Slack waits."""
        if self.socket_mode is not None:
            return self._deliver_over_socket(self.socket_mode, request)
        if not self.bot_url:
            return Delivery(0, "", "dispatch_failed")
        started = time.perf_counter()
        try:
            answer = self._http.post(
                self.bot_url, data=request.body, headers=request.headers, timeout=self.ack_timeout
            )
        except requests.Timeout:
            return Delivery(0, "", "operation_timeout", time.perf_counter() - started)
        except requests.RequestException as exc:
            log.warning("the bot at %s is unreachable: %s", self.bot_url, exc)
            return Delivery(0, "", "dispatch_failed", time.perf_counter() - started)
        elapsed = time.perf_counter() - started
        error = None if answer.status_code == 200 else f"http_{answer.status_code}"
        return Delivery(answer.status_code, answer.text, error, elapsed)

    def _deliver_over_socket(self, sockets: SocketModeServer, request: SignedRequest) -> Delivery:
        """The same request as a Socket Mode envelope; the ack's payload is the answer."""
        if not sockets.open_links():
            return Delivery(0, "", "dispatch_failed")
        started = time.perf_counter()
        envelope = sockets.send_request(request)
        try:
            ack = sockets.wait_ack(envelope["envelope_id"], timeout=self.ack_timeout)
        except TimeoutError:
            return Delivery(0, "", "operation_timeout", time.perf_counter() - started)
        body = json.dumps(ack.payload) if ack.payload else ""
        return Delivery(200, body, None, time.perf_counter() - started)

    # ------------------------------------------------------------------ pages

    def _root(self, request: HttpRequest) -> HttpResponse:
        if request.path in ("/", "/index.html", "/home") or request.path.startswith("/client"):
            return self._index(request)
        return HttpResponse.text("not found", 404)

    def _index(self, request: HttpRequest) -> HttpResponse:
        return _file_response(STATIC_DIR / "index.html", cache=False)

    def _static(self, request: HttpRequest) -> HttpResponse:
        name = request.path.removeprefix("/static/")
        path = (STATIC_DIR / name).resolve()
        if STATIC_DIR.resolve() not in path.parents or not path.is_file():
            return HttpResponse.text("not found", 404)
        return _file_response(path, cache=False)

    # ------------------------------------------------------------------ reading

    def _state(self, request: HttpRequest) -> HttpResponse:
        user_id = self._user(request.query.get("user"))
        return HttpResponse.json(
            self.snapshot(
                user_id,
                channel_id=request.query.get("channel") or None,
                thread_ts=request.query.get("thread") or None,
            )
        )

    def snapshot(
        self, user_id: str, *, channel_id: str | None = None, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """What ``user_id`` sees: the sidebar, one channel, one thread, their modals and Home."""
        return page_state(
            self.workspace,
            user_id,
            command=self.command,
            suggestions=self.suggestions,
            channel_id=channel_id,
            thread_ts=thread_ts,
        )

    def _events(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(
            200,
            headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"},
            stream=self._event_stream(),
        )

    def _event_stream(self) -> Iterator[bytes]:
        yield b"retry: 1000\n\n"
        seen = -1
        while not self._closed.is_set():
            current = self.workspace.wait_for_change(seen, EVENTS_KEEPALIVE_SECONDS)
            if self._closed.is_set():
                return
            if current == seen:
                yield b": keep-alive\n\n"
                continue
            time.sleep(EVENTS_COALESCE_SECONDS)
            seen = self.workspace.version
            yield f"event: change\ndata: {json.dumps({'version': seen})}\n\n".encode()

    def _status(self, request: HttpRequest) -> HttpResponse:
        healthy = False
        if self.bot_url:
            health = self.bot_url.rsplit("/slack/events", 1)[0] + "/healthz"
            try:
                healthy = self._http.get(health, timeout=2).status_code == 200
            except requests.RequestException:
                healthy = False
        return HttpResponse.json(
            {"bot_url": self.bot_url, "bot_up": healthy, "version": self.workspace.version}
        )

    # ------------------------------------------------------------------ acting

    def _message(self, request: HttpRequest) -> HttpResponse:
        """A plain message typed in the composer (the bot is not told: it has no message
        listener, as in the real app without the ``message.channels`` event)."""
        body = _json_body(request)
        user_id = self._user(body.get("user"))
        text = _text(body, "text")
        channel, message = self.workspace.post_message(
            _field(body, "channel"),
            user_id=user_id,
            text=text,
            thread_ts=body.get("thread_ts") or None,
        )
        return HttpResponse.json({"ok": True, "channel": channel, "ts": message["ts"]})

    def _command(self, request: HttpRequest) -> HttpResponse:
        """``/mlops ...`` typed by a person: the slash command request, and its ack handled."""
        body = _json_body(request)
        user_id = self._user(body.get("user"))
        channel_id = _field(body, "channel")
        line = _text(body, "text").strip()
        name, _, text = line.partition(" ")
        if name != self.command:
            raise PageError(
                f"{name} is not a command this workspace knows; try {self.command} help"
            )
        signed = self.interactions.slash_command(
            text.strip(), user_id=user_id, channel_id=channel_id
        )
        delivery = self.deliver(signed)
        if delivery.ok and delivery.body.strip():
            self._show_ack_body(delivery.body, channel_id, user_id)
        return HttpResponse.json({"ok": delivery.ok, **delivery.to_api()})

    def _show_ack_body(self, body: str, channel_id: str, user_id: str) -> None:
        """Slack shows what an app puts in a slash command's ack like a response_url post."""
        try:
            answer = json.loads(body)
        except json.JSONDecodeError:
            answer = {"text": body}
        if not isinstance(answer, dict) or not (answer.get("text") or answer.get("blocks")):
            return
        ws = self.workspace
        if answer.get("response_type") == "in_channel":
            ws.post_message(
                channel_id,
                user_id=ws.bot.id,
                text=answer.get("text"),
                blocks=answer.get("blocks"),
                check_membership=False,
            )
        else:
            ws.post_ephemeral(
                channel_id,
                user_id,
                user_id=ws.bot.id,
                text=answer.get("text"),
                blocks=answer.get("blocks"),
                check_membership=False,
            )

    def _action(self, request: HttpRequest) -> HttpResponse:
        """A button press: on a message (``channel`` + ``ts``) or in a view (``view_id``)."""
        body = _json_body(request)
        user_id = self._user(body.get("user"))
        action_id = _field(body, "action_id")
        value = body.get("value")
        if body.get("view_id"):
            signed = self._view_click(str(body["view_id"]), action_id, user_id, value)
        else:
            signed = self.interactions.click(
                _field(body, "channel"),
                _field(body, "ts"),
                action_id,
                user_id=user_id,
                value=value,
            )
        delivery = self.deliver(signed)
        return HttpResponse.json({"ok": delivery.ok, **delivery.to_api()})

    def _view_click(
        self, view_id: str, action_id: str, user_id: str, value: str | None
    ) -> SignedRequest:
        """block_actions for a button in a modal or the Home tab (no message, no response_url)."""
        ws = self.workspace
        view = ws.views.get(view_id)
        block_id, element = signed_requests.find_action(view.get("blocks") or [], action_id)
        if element is None:
            raise SlackError(
                "action_not_found", messages=[f"no element {action_id!r} in {view_id}"]
            )
        pressed = signed_requests.pressed_action(action_id, block_id or "actions", element, value)
        user = ws.user(user_id)
        payload = {
            "type": "block_actions",
            "user": {
                "id": user_id,
                "username": user.name,
                "name": user.name,
                "team_id": ws.team_id,
            },
            "api_app_id": seed.APP_ID,
            "token": seed.VERIFICATION_TOKEN,
            "container": {"type": "view", "view_id": view_id},
            "trigger_id": self.server.issue_trigger_id(user_id),
            "team": {"id": ws.team_id, "domain": ws.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "view": view,
            "state": view.get("state") or {"values": {}},
            "actions": [pressed],
        }
        return signed_requests.interaction(payload, signing_secret=self.interactions.signing_secret)

    def _submit(self, request: HttpRequest) -> HttpResponse:
        """A modal's submit button; the bot's ``response_action`` decides what happens next."""
        body = _json_body(request)
        user_id = self._user(body.get("user"))
        view_id = _field(body, "view_id")
        values = body.get("values") or {}
        # Slack's shape, block_id -> action_id -> {"type", "value" | "selected_option"}: anything
        # else would reach the app as a state Slack never sends.
        if not isinstance(values, dict) or not all(
            isinstance(actions, dict) and all(isinstance(v, dict) for v in actions.values())
            for actions in values.values()
        ):
            raise PageError(
                "values must be an object of block_id -> action_id -> "
                '{"type": ..., "value": ...}, as Slack sends a view\'s state'
            )
        if self.workspace.views.owner(view_id) not in (user_id, None):
            raise PageError("this modal belongs to someone else")
        signed = self.interactions.submit_view(view_id, values, user_id=user_id)
        delivery = self.deliver(signed)
        errors: dict[str, str] = {}
        if delivery.ok:
            errors = self._apply_response_action(view_id, user_id, delivery.body)
        return HttpResponse.json({"ok": delivery.ok, "errors": errors, **delivery.to_api()})

    def _apply_response_action(self, view_id: str, user_id: str, body: str) -> dict[str, str]:
        """Slack's reading of a view_submission ack: close, errors, update, push or clear."""
        views = self.workspace.views
        try:
            answer = json.loads(body) if body.strip() else {}
        except json.JSONDecodeError:
            answer = {}
        action = answer.get("response_action") if isinstance(answer, dict) else None
        if action == "errors":
            errors = answer.get("errors") or {}
            return {str(k): str(v) for k, v in errors.items()}
        if action == "update" and isinstance(answer.get("view"), dict):
            views.update(answer["view"], view_id=view_id)
        elif action == "push" and isinstance(answer.get("view"), dict):
            views.push(self.server.issue_trigger_id(user_id), answer["view"])
        else:
            views.close(view_id, clear=action == "clear")
        return {}

    def _close_view(self, request: HttpRequest) -> HttpResponse:
        """The modal's close button; ``view_closed`` goes to the bot if the view asked for it."""
        body = _json_body(request)
        user_id = self._user(body.get("user"))
        view_id = _field(body, "view_id")
        view = self.workspace.views.get(view_id)
        self.workspace.views.close(view_id)
        delivery = None
        if view.get("notify_on_close"):
            delivery = self.deliver(
                signed_requests.view_closed(
                    view, user_id=user_id, signing_secret=self.interactions.signing_secret
                )
            )
        return HttpResponse.json({"ok": True, **(delivery.to_api() if delivery else {})})

    def _dismiss(self, request: HttpRequest) -> HttpResponse:
        """ "Dismiss message" under an ephemeral message."""
        body = _json_body(request)
        user_id = self._user(body.get("user"))
        self.workspace.delete_ephemeral(user_id, _field(body, "ts"))
        return HttpResponse.json({"ok": True})

    def _home(self, request: HttpRequest) -> HttpResponse:
        """The person opened the app's Home tab: ``app_home_opened``, as Slack sends on every
        visit (the bot publishes a fresh view)."""
        body = _json_body(request)
        user_id = self._user(body.get("user"))
        delivery = self.deliver(self.interactions.open_home(user_id))
        return HttpResponse.json({"ok": delivery.ok, **delivery.to_api()})

    # ------------------------------------------------------------------ helpers

    def _user(self, user_id: Any) -> str:
        if not isinstance(user_id, str) or not user_id:
            raise PageError("user is required")
        try:
            found = self.workspace.user(user_id)
        except SlackError:
            raise PageError(f"unknown user {user_id}") from None
        if found.is_bot:
            raise PageError("the page acts as a person, not as the bot")
        return user_id


def _guarded(route: Any) -> Any:
    """Answer bad requests and Slack refusals as JSON errors the page can show."""

    def run(request: HttpRequest) -> HttpResponse:
        try:
            return route(request)
        except PageError as exc:
            return HttpResponse.json({"ok": False, "error": str(exc)}, 400)
        except SlackError as exc:
            return HttpResponse.json({"ok": False, **exc.body()}, 400)

    return run


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise PageError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise PageError("the body must be a JSON object")
    return body


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise PageError(f"{name} is required")
    return value


def _text(body: dict[str, Any], name: str) -> str:
    text = _field(body, name)
    if len(text) > MAX_TEXT:
        raise PageError(f"{name} is longer than {MAX_TEXT} characters")
    return text


def _file_response(path: Path, *, cache: bool) -> HttpResponse:
    content_type, _ = mimetypes.guess_type(path.name)
    if path.suffix == ".js":
        content_type = "text/javascript"
    headers = {
        "Content-Type": f"{content_type or 'application/octet-stream'}; charset=utf-8",
        "Cache-Control": "max-age=300" if cache else "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    return HttpResponse(200, path.read_bytes(), headers)
