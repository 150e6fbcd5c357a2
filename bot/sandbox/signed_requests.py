"""The requests Slack sends to an app's Request URL, byte for byte, signed.

Slash commands and interactions arrive form-encoded (interactions as one ``payload`` field
holding JSON), Events API callbacks as JSON; every one carries ``X-Slack-Request-Timestamp`` and
``X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")``. The sandbox page sends
these to the bot's ``/slack/events`` and tests send them through Bolt, so both exercise the same
verification and parsing the bot meets in production.

Each builder returns a :class:`SignedRequest` (a ``(body, headers)`` tuple).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from bot.sandbox import seed

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
UNROUTED_RESPONSE_URL = "http://127.0.0.1:9/commands/T0SANDBOX/0/no-response-url-given"
"""Default response URL: local and closed, so a forgotten one fails fast and never leaves the
machine. Pass one from ``SlackWebApiServer.new_response_url()`` to see the answers."""


class SignedRequest(NamedTuple):
    body: bytes
    headers: dict[str, str]


def signature(signing_secret: str, timestamp: int | str, body: bytes | str) -> str:
    """Slack's v0 request signature of ``body`` sent at ``timestamp``."""
    raw = body.encode() if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode() + b":" + raw
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def sign(
    body: bytes | str,
    *,
    signing_secret: str = seed.SIGNING_SECRET,
    timestamp: int | None = None,
    content_type: str = FORM,
    extra_headers: Mapping[str, str] | None = None,
) -> SignedRequest:
    """Sign any body. Pass an old ``timestamp`` for replay/staleness tests (Bolt refuses
    requests more than five minutes old)."""
    raw = body.encode() if isinstance(body, str) else body
    sent_at = int(time.time()) if timestamp is None else int(timestamp)
    headers = {
        "Content-Type": content_type,
        "User-Agent": USER_AGENT,
        "X-Slack-Request-Timestamp": str(sent_at),
        "X-Slack-Signature": signature(signing_secret, sent_at, raw),
        **(extra_headers or {}),
    }
    return SignedRequest(raw, headers)


def new_trigger_id() -> str:
    """A trigger id shaped like Slack's (``<digits>.<digits>.<hex>``)."""
    stamp = f"{int(time.time())}{secrets.randbelow(10_000):04d}"
    return f"{stamp}.{secrets.randbelow(10**9)}.{secrets.token_hex(12)}"


def slash_command(
    text: str,
    *,
    user_id: str = seed.ALICE,
    channel_id: str = seed.MLOPS_CHANNEL,
    team_id: str = seed.TEAM_ID,
    response_url: str = UNROUTED_RESPONSE_URL,
    command: str = "/mlops",
    trigger_id: str | None = None,
    user_name: str | None = None,
    channel_name: str | None = None,
    team_domain: str = seed.TEAM_DOMAIN,
    api_app_id: str = seed.APP_ID,
    signing_secret: str = seed.SIGNING_SECRET,
    timestamp: int | None = None,
) -> SignedRequest:
    """``/mlops <text>`` typed by ``user_id`` in ``channel_id``, as Slack posts it."""
    fields = {
        "token": seed.VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name or seed.CHANNEL_NAMES.get(channel_id, channel_id),
        "user_id": user_id,
        "user_name": user_name or seed.USER_NAMES.get(user_id, user_id.lower()),
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }
    return sign(urllib.parse.urlencode(fields), signing_secret=signing_secret, timestamp=timestamp)


def interaction(
    payload: Mapping[str, Any],
    *,
    signing_secret: str = seed.SIGNING_SECRET,
    timestamp: int | None = None,
) -> SignedRequest:
    """Any interactivity payload, form-encoded as ``payload=<json>`` the way Slack sends it."""
    body = urllib.parse.urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
    return sign(body, signing_secret=signing_secret, timestamp=timestamp)


def block_actions(
    action_id: str,
    value: str | None = None,
    user_id: str = seed.ALICE,
    channel_id: str = seed.MLOPS_CHANNEL,
    message_ts: str | None = None,
    *,
    message: Mapping[str, Any] | None = None,
    response_url: str = UNROUTED_RESPONSE_URL,
    team_id: str = seed.TEAM_ID,
    block_id: str | None = None,
    action: Mapping[str, Any] | None = None,
    is_ephemeral: bool = False,
    trigger_id: str | None = None,
    signing_secret: str = seed.SIGNING_SECRET,
    timestamp: int | None = None,
) -> SignedRequest:
    """A button press (``action_id``, ``value``) on a message, as Slack posts it.

    ``message`` is the message the button sits on (the stored one, ideally); ``action`` the
    button element itself, whose ``text``/``style``/``confirm`` are echoed like Slack does.
    When ``block_id`` is not given it is looked up in ``message`` by ``action_id``. For a button
    on an ephemeral message (``is_ephemeral``) the payload carries no ``message``, as in Slack.
    """
    element = dict(action or {})
    if message is not None and (block_id is None or not element):
        found_block, found_element = find_action(message.get("blocks") or [], action_id)
        block_id = block_id or found_block
        element = element or found_element or {}
    ts = message_ts or (message or {}).get("ts") or f"{time.time():.6f}"
    pressed = pressed_action(action_id, block_id or "actions", element, value)
    payload = {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": seed.APP_ID,
        "token": seed.VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        },
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": seed.TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": seed.CHANNEL_NAMES.get(channel_id, channel_id)},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [pressed],
    }
    if not is_ephemeral:  # Slack leaves the message out when the button was on an ephemeral one
        payload["message"] = (
            dict(message) if message is not None else {"type": "message", "ts": ts, "text": ""}
        )
    return interaction(payload, signing_secret=signing_secret, timestamp=timestamp)


def pressed_action(
    action_id: str, block_id: str, element: Mapping[str, Any], value: str | None = None
) -> dict[str, Any]:
    """The ``actions[0]`` of a block_actions payload: the pressed element as Slack echoes it
    (its text, style, confirm and url), with ``value`` or the element's own value."""
    pressed: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "text": element.get("text", {"type": "plain_text", "text": action_id, "emoji": True}),
        "type": element.get("type", "button"),
        "action_ts": f"{time.time():.6f}",
    }
    if value is not None or "value" in element:
        pressed["value"] = value if value is not None else element["value"]
    for key in ("style", "confirm", "url"):
        if key in element:
            pressed[key] = element[key]
    return pressed


def view_submission(
    callback_id: str,
    private_metadata: str = "",
    state_values: Mapping[str, Any] | None = None,
    user_id: str = seed.ALICE,
    team_id: str = seed.TEAM_ID,
    *,
    view: Mapping[str, Any] | None = None,
    response_urls: Sequence[Mapping[str, Any]] = (),
    trigger_id: str | None = None,
    signing_secret: str = seed.SIGNING_SECRET,
    timestamp: int | None = None,
) -> SignedRequest:
    """The submit button of a modal, with what the user entered in ``state_values``
    (``{block_id: {action_id: {"type": ..., "value": ...}}}``). ``view`` is the open view
    (e.g. from the workspace); ``callback_id``, ``private_metadata`` and the state override it."""
    submitted = dict(view) if view is not None else _blank_modal(team_id)
    submitted.update(
        callback_id=callback_id,
        private_metadata=private_metadata,
        state={"values": dict(state_values or {})},
    )
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": seed.TEAM_DOMAIN},
        "user": _user(user_id, team_id),
        "api_app_id": seed.APP_ID,
        "token": seed.VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": submitted,
        "response_urls": list(response_urls),
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return interaction(payload, signing_secret=signing_secret, timestamp=timestamp)


def view_closed(
    view: Mapping[str, Any],
    *,
    user_id: str = seed.ALICE,
    team_id: str = seed.TEAM_ID,
    is_cleared: bool = False,
    signing_secret: str = seed.SIGNING_SECRET,
    timestamp: int | None = None,
) -> SignedRequest:
    """The close button of a modal opened with ``notify_on_close``."""
    payload = {
        "type": "view_closed",
        "team": {"id": team_id, "domain": seed.TEAM_DOMAIN},
        "user": _user(user_id, team_id),
        "api_app_id": seed.APP_ID,
        "token": seed.VERIFICATION_TOKEN,
        "view": dict(view),
        "is_cleared": is_cleared,
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return interaction(payload, signing_secret=signing_secret, timestamp=timestamp)


def event_callback(
    event: Mapping[str, Any],
    *,
    team_id: str = seed.TEAM_ID,
    event_id: str | None = None,
    event_time: int | None = None,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
    signing_secret: str = seed.SIGNING_SECRET,
    timestamp: int | None = None,
) -> SignedRequest:
    """An Events API delivery (JSON). ``retry_num`` adds Slack's retry headers, to test that a
    redelivered event is not acted on twice."""
    payload = {
        "token": seed.VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "api_app_id": seed.APP_ID,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
        "event_time": event_time or int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": seed.BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    extra = {}
    if retry_num is not None:
        extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
    return sign(
        json.dumps(payload, separators=(",", ":")),
        signing_secret=signing_secret,
        timestamp=timestamp,
        content_type=JSON,
        extra_headers=extra,
    )


def app_home_opened(
    user_id: str = seed.ALICE,
    *,
    tab: str = "home",
    view: Mapping[str, Any] | None = None,
    signing_secret: str = seed.SIGNING_SECRET,
    timestamp: int | None = None,
) -> SignedRequest:
    """The ``app_home_opened`` event: the user opened the app's Home tab."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": "D" + user_id[1:],
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    if view is not None:
        event["view"] = dict(view)
    return event_callback(event, signing_secret=signing_secret, timestamp=timestamp)


def find_action(
    blocks: Sequence[Mapping[str, Any]], action_id: str
) -> tuple[str | None, dict[str, Any] | None]:
    """(block_id, element) of the interactive element ``action_id`` in ``blocks``."""
    for block in blocks:
        candidates = list(block.get("elements") or [])
        if block.get("accessory"):
            candidates.append(block["accessory"])
        if block.get("element"):
            candidates.append(block["element"])
        for element in candidates:
            if isinstance(element, Mapping) and element.get("action_id") == action_id:
                return block.get("block_id"), dict(element)
    return None, None


def _user(user_id: str, team_id: str) -> dict[str, str]:
    name = seed.USER_NAMES.get(user_id, user_id.lower())
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def _blank_modal(team_id: str) -> dict[str, Any]:
    view_id = "V" + secrets.token_hex(5).upper()
    return {
        "id": view_id,
        "team_id": team_id,
        "type": "modal",
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "state": {"values": {}},
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        "title": {"type": "plain_text", "text": "MLOps", "emoji": True},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": seed.APP_ID,
        "external_id": "",
        "app_installed_team_id": team_id,
        "bot_id": seed.BOT_ID,
    }
