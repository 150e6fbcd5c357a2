"""The Web API methods the sandbox answers, each a small function over the Workspace.

A handler gets the call's arguments (form, query or JSON, already merged) and the token's
identity, and returns the body Slack would send without ``ok`` (added by the server), or raises
SlackError. The registry also records the scopes each method needs, so a narrowed token gets
``missing_scope`` exactly where Slack would refuse it.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.errors import SlackError
from bot.sandbox.model import User
from bot.sandbox.workspace import Workspace

JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata", "unfurls", "users")
"""Arguments that are JSON documents; form posts send them as JSON strings."""

_TYPE_SCOPES = {
    "public_channel": "channels",
    "private_channel": "groups",
    "im": "im",
    "mpim": "mpim",
}


class Args:
    """A call's arguments with Slack's leniency: strings from forms, typed values from JSON."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None or value == "" else str(value)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("true", "1", "yes")

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackError(
                "invalid_arguments", messages=[f"[ERROR] {name} must be an integer"]
            ) from None

    def document(self, name: str, error: str = "invalid_arguments") -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise SlackError(error, messages=[f"[ERROR] {name} is not valid JSON"]) from None
        return value

    def csv(self, name: str) -> list[str]:
        value = self.values.get(name)
        if value is None or value == "":
            return []
        if isinstance(value, list):
            return [str(v) for v in value]
        return [part.strip() for part in str(value).split(",") if part.strip()]


def decode_json_fields(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with JSON-string fields decoded where they parse (for the call log)."""
    decoded = dict(values)
    for name in JSON_FIELDS:
        value = decoded.get(name)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            with contextlib.suppress(json.JSONDecodeError):
                decoded[name] = json.loads(value)
    return decoded


@dataclass
class CallContext:
    workspace: Workspace
    args: Args
    user: User
    scopes: frozenset[str]
    upload_url: Callable[[str], str]
    """Turns an upload key into the absolute upload URL on the serving HTTP server."""
    required: set[str] = field(default_factory=set)
    """Scopes this call needed so far (the server sums them up for ``scopes_used``)."""
    token: str = ""
    """The token the call came with (methods that take only one kind of token check it)."""

    def require_scope(self, scope: str) -> None:
        self.required.add(scope)
        if scope not in self.scopes:
            raise SlackError("missing_scope", needed=scope, provided=",".join(sorted(self.scopes)))


Handler = Callable[[CallContext], dict[str, Any]]


@dataclass(frozen=True)
class MethodSpec:
    handler: Handler
    scopes: tuple[str, ...]


METHODS: dict[str, MethodSpec] = {}


def method(name: str, *scopes: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        METHODS[name] = MethodSpec(handler, scopes)
        return handler

    return register


# ---------------------------------------------------------------------- auth


@method("auth.test")
def auth_test(ctx: CallContext) -> dict[str, Any]:
    ws, user = ctx.workspace, ctx.user
    body: dict[str, Any] = {
        "url": ws.root_url,
        "team": ws.team_name,
        "user": user.name,
        "team_id": ws.team_id,
        "user_id": user.id,
    }
    if user.is_bot:
        body["bot_id"] = user.bot_id
    body["is_enterprise_install"] = False
    return body


@method("apps.connections.open")
def apps_connections_open(ctx: CallContext) -> dict[str, Any]:
    """A Socket Mode WebSocket URL. Only app-level tokens (``xapp-``) with ``connections:write``
    may call it; Slack answers a bot or user token with ``not_allowed_token_type`` and an unknown
    or revoked one with ``invalid_auth`` (docs.slack.dev/reference/methods/apps.connections.open:
    ``{"ok": true, "url": "wss://wss-primary.slack.com/link/?ticket=...&app_id=..."}``)."""
    if not ctx.token.startswith("xapp-"):
        raise SlackError("not_allowed_token_type")
    ctx.require_scope("connections:write")
    issue = ctx.workspace.socket_mode_url
    if issue is None:  # no Socket Mode server beside this sandbox
        raise SlackError("internal_error")
    return {"url": issue()}


# ---------------------------------------------------------------------- chat


def _message_extras(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    extra: dict[str, Any] = {}
    metadata = a.document("metadata", "invalid_metadata_format")
    if metadata is not None:
        if not isinstance(metadata, dict) or "event_type" not in metadata:
            raise SlackError("invalid_metadata_format")
        extra["metadata"] = metadata
    if "chat:write.customize" in ctx.scopes:
        if a.text("username"):
            extra["username"] = a.text("username")
        if a.text("icon_emoji"):
            extra["icons"] = {"emoji": a.text("icon_emoji")}
        elif a.text("icon_url"):
            extra["icons"] = {"image_48": a.text("icon_url")}
    return extra


@method("chat.postMessage", "chat:write")
def chat_post_message(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    channel, message = ctx.workspace.post_message(
        a.text("channel"),
        user_id=ctx.user.id,
        text=a.text("text"),
        blocks=a.document("blocks", "invalid_blocks_format"),
        attachments=a.document("attachments", "invalid_attachments"),
        thread_ts=a.text("thread_ts"),
        reply_broadcast=a.flag("reply_broadcast"),
        extra=_message_extras(ctx),
        scopes=ctx.scopes,
    )
    return {"channel": channel, "ts": message["ts"], "message": message}


@method("chat.update", "chat:write")
def chat_update(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    message = ctx.workspace.update_message(
        a.text("channel"),
        a.text("ts"),
        user_id=ctx.user.id,
        text=a.text("text"),
        blocks=a.document("blocks", "invalid_blocks_format"),
        attachments=a.document("attachments", "invalid_attachments"),
        extra=_message_extras(ctx),
    )
    return {
        "channel": a.text("channel"),
        "ts": message["ts"],
        "text": message["text"],
        "message": message,
    }


@method("chat.postEphemeral", "chat:write")
def chat_post_ephemeral(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    ts = ctx.workspace.post_ephemeral(
        a.text("channel"),
        a.text("user"),
        user_id=ctx.user.id,
        text=a.text("text"),
        blocks=a.document("blocks", "invalid_blocks_format"),
        attachments=a.document("attachments", "invalid_attachments"),
        thread_ts=a.text("thread_ts"),
    )
    return {"message_ts": ts}


@method("chat.delete", "chat:write")
def chat_delete(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    ctx.workspace.delete_message(a.text("channel"), a.text("ts"), user_id=ctx.user.id)
    return {"channel": a.text("channel"), "ts": a.text("ts")}


@method("chat.getPermalink")
def chat_get_permalink(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    link = ctx.workspace.permalink(a.text("channel"), a.text("message_ts"))
    return {"channel": a.text("channel"), "permalink": link}


# ---------------------------------------------------------------------- views


@method("views.open")
def views_open(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    return {"view": ctx.workspace.views.open(a.text("trigger_id"), a.document("view"))}


@method("views.push")
def views_push(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    return {"view": ctx.workspace.views.push(a.text("trigger_id"), a.document("view"))}


@method("views.update")
def views_update(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    view = ctx.workspace.views.update(
        a.document("view"),
        view_id=a.text("view_id"),
        external_id=a.text("external_id"),
        hash_=a.text("hash"),
    )
    return {"view": view}


@method("views.publish")
def views_publish(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    return {
        "view": ctx.workspace.views.publish(
            a.text("user_id"), a.document("view"), hash_=a.text("hash")
        )
    }


# ---------------------------------------------------------------------- users and groups


@method("users.info", "users:read")
def users_info(ctx: CallContext) -> dict[str, Any]:
    return {"user": ctx.workspace.user_info(ctx.args.text("user"))}


@method("users.list", "users:read")
def users_list(ctx: CallContext) -> dict[str, Any]:
    members, next_cursor = _page(ctx.workspace.list_users(), ctx.args, default_limit=200)
    return {
        "members": members,
        "cache_ts": int(ctx.workspace.clock()),
        "response_metadata": {"next_cursor": next_cursor},
    }


@method("usergroups.list", "usergroups:read")
def usergroups_list(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    groups = ctx.workspace.list_usergroups(
        include_users=a.flag("include_users"),
        include_count=a.flag("include_count"),
        include_disabled=a.flag("include_disabled"),
    )
    return {"usergroups": groups}


@method("usergroups.users.list", "usergroups:read")
def usergroups_users_list(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    users = ctx.workspace.usergroup_users(
        a.text("usergroup"), include_disabled=a.flag("include_disabled")
    )
    return {"users": users}


# ---------------------------------------------------------------------- conversations


def _require_read(ctx: CallContext, kind: str, suffix: str) -> None:
    ctx.require_scope(f"{_TYPE_SCOPES[kind]}:{suffix}")


@method("conversations.info")
def conversations_info(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    with ctx.workspace.lock:
        _require_read(ctx, ctx.workspace.channel(a.text("channel")).kind, "read")
        channel = ctx.workspace.channel_info(
            a.text("channel"), viewer=ctx.user.id, include_num_members=a.flag("include_num_members")
        )
    return {"channel": channel}


@method("conversations.list")
def conversations_list(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    types = a.csv("types") or ["public_channel"]
    unknown = [t for t in types if t not in _TYPE_SCOPES]
    if unknown:
        raise SlackError("invalid_types", messages=[f"unknown type: {unknown[0]}"])
    for kind in types:
        _require_read(ctx, kind, "read")
    channels = ctx.workspace.list_channels(
        viewer=ctx.user.id, types=types, exclude_archived=a.flag("exclude_archived")
    )
    page, next_cursor = _page(channels, a, default_limit=100)
    return {"channels": page, "response_metadata": {"next_cursor": next_cursor}}


@method("conversations.open", "im:write")
def conversations_open(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    users = a.csv("users")
    if a.text("channel"):
        return {
            "no_op": True,
            "already_open": True,
            "channel": {"id": ctx.workspace.channel(a.text("channel")).id},
        }
    if len(users) != 1:
        raise SlackError("invalid_arguments", messages=["the sandbox opens one-to-one DMs only"])
    with ctx.workspace.lock:
        existed = any(c["id"] == "D" + users[0][1:] for c in ctx.workspace.channels())
        channel = ctx.workspace.open_im(users[0])
    return {"no_op": existed, "already_open": existed, "channel": {"id": channel["id"]}}


def _history_page(ctx: CallContext, messages: list[dict[str, Any]]) -> dict[str, Any]:
    page, next_cursor = _page(messages, ctx.args, default_limit=100)
    body: dict[str, Any] = {"messages": page, "has_more": bool(next_cursor)}
    if next_cursor:
        body["response_metadata"] = {"next_cursor": next_cursor}
    return body


@method("conversations.history")
def conversations_history(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    with ctx.workspace.lock:
        _require_read(ctx, ctx.workspace.channel(a.text("channel")).kind, "history")
        messages = ctx.workspace.history(
            a.text("channel"),
            viewer=ctx.user.id,
            oldest=a.text("oldest"),
            latest=a.text("latest"),
            inclusive=a.flag("inclusive"),
        )
    body = _history_page(ctx, messages)
    body.update(pin_count=0, channel_actions_ts=None, channel_actions_count=0)
    return body


@method("conversations.replies")
def conversations_replies(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    with ctx.workspace.lock:
        _require_read(ctx, ctx.workspace.channel(a.text("channel")).kind, "history")
        messages = ctx.workspace.replies(a.text("channel"), a.text("ts"), viewer=ctx.user.id)
    return _history_page(ctx, messages)


# ---------------------------------------------------------------------- files


@method("files.getUploadURLExternal", "files:write")
def files_get_upload_url_external(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    file_id, key = ctx.workspace.files.begin_upload(
        user_id=ctx.user.id,
        filename=a.text("filename"),
        length=a.integer("length"),
        alt_txt=a.text("alt_txt") or a.text("alt_text"),
        snippet_type=a.text("snippet_type"),
    )
    return {"upload_url": ctx.upload_url(key), "file_id": file_id}


@method("files.completeUploadExternal", "files:write")
def files_complete_upload_external(ctx: CallContext) -> dict[str, Any]:
    a = ctx.args
    files = ctx.workspace.files.complete(
        a.document("files"),
        user_id=ctx.user.id,
        channel_id=a.text("channel_id"),
        channels=a.csv("channels"),
        thread_ts=a.text("thread_ts"),
        initial_comment=a.text("initial_comment"),
        blocks=a.document("blocks", "invalid_blocks"),
        scopes=ctx.scopes,
    )
    return {"files": files}


# ---------------------------------------------------------------------- pagination


def _page(items: list[Any], args: Args, *, default_limit: int) -> tuple[list[Any], str]:
    """One page of ``items`` and the cursor of the next ('' at the end), like Slack's cursors."""
    limit = args.integer("limit", default_limit) or default_limit
    limit = max(1, min(limit, 1000))
    start = 0
    cursor = args.text("cursor")
    if cursor:
        try:
            prefix, _, offset = base64.b64decode(cursor.encode()).decode().partition(":")
            start = int(offset)
            if prefix != "offset" or start < 0:
                raise ValueError(cursor)
        except ValueError:
            raise SlackError("invalid_cursor") from None
    end = start + limit
    next_cursor = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(items) else ""
    return items[start:end], next_cursor
