"""The sandbox page's view of the workspace for one user: the JSON the browser renders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.sandbox.errors import SlackError
from bot.sandbox.model import is_top_level
from bot.sandbox.workspace import Workspace


def page_state(
    ws: Workspace,
    user_id: str,
    *,
    command: str,
    suggestions: Sequence[str],
    channel_id: str | None = None,
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """What ``user_id`` sees: the sidebar, one channel, one thread, their modals and Home."""
    with ws.lock:
        approvers = set()
        groups = ws.list_usergroups(include_users=True)
        for group in groups:
            approvers.update(group.get("users") or [])
        channels = [_channel_entry(ws, c, user_id) for c in ws.channels()]
        channels = [c for c in channels if not c["is_im"] or c["im_user"] == user_id]
        known = {c["id"] for c in channels}
        if channel_id not in known:
            channel_id = None
        messages = ws.messages(channel_id) if channel_id else []
        ephemerals = ws.ephemerals(user_id, channel_id) if channel_id else []
        thread = None
        if channel_id and thread_ts:
            try:
                thread = {
                    "ts": thread_ts,
                    "messages": ws.replies(channel_id, thread_ts),
                    "ephemerals": [
                        m
                        for m in ws.ephemerals(user_id, channel_id)
                        if m.get("thread_ts") == thread_ts
                    ],
                }
            except SlackError:
                thread = None
        return {
            "version": ws.version,
            "team": {"id": ws.team_id, "name": ws.team_name, "domain": ws.team_domain},
            "root_url": ws.root_url,
            "command": command,
            "suggestions": list(suggestions),
            "bot": {"id": ws.bot.id, "name": ws.bot.name, "real_name": ws.bot.real_name},
            "me": user_id,
            "users": [
                {
                    "id": u["id"],
                    "name": u["name"],
                    "real_name": u["real_name"],
                    "title": u["profile"].get("title", ""),
                    "is_bot": u["is_bot"],
                    "color": u["color"],
                    "approver": u["id"] in approvers,
                }
                for u in ws.list_users()
            ],
            "groups": [
                {"id": g["id"], "handle": g["handle"], "name": g["name"], "users": g["users"]}
                for g in groups
            ],
            "channels": channels,
            "channel": channel_id,
            "messages": messages,
            "ephemerals": [m for m in ephemerals if not m.get("thread_ts")],
            "thread": thread,
            "modals": ws.views.modal_stack(user_id),
            "home": ws.views.home(user_id),
        }


def _channel_entry(ws: Workspace, channel: dict[str, Any], user_id: str) -> dict[str, Any]:
    stored = ws.channel(channel["id"])
    top = [m for m in stored.messages.values() if is_top_level(m)]
    latest = max((float(m["ts"]) for m in top), default=0.0)
    replies = sum(1 for m in stored.messages.values() if not is_top_level(m))
    return {
        "id": channel["id"],
        "name": channel.get("name") or channel["id"],
        "topic": stored.topic,
        "is_im": stored.is_im,
        "im_user": stored.im_user,
        "is_private": stored.is_private,
        "member": user_id in stored.members,
        "bot_member": ws.bot.id in stored.members,
        "count": len(top),
        "replies": replies,
        "latest": f"{latest:.6f}" if top else None,
    }
