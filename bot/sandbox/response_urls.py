"""Response URLs: how a bot answers a slash command or a button click after acking it.

Slack's rules, kept here: a URL works five times within thirty minutes; a post is ephemeral
(seen only by the person who acted) unless ``response_type`` is ``in_channel``;
``replace_original`` edits the message the interaction came from (or, for a slash command, the
last answer sent through the same URL) and ``delete_original`` removes it; ``thread_ts`` answers
in a thread.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.sandbox.errors import SlackError
from bot.sandbox.messages import check_message_content
from bot.sandbox.shared import WorkspaceCore

if TYPE_CHECKING:
    from bot.sandbox.conversations import Conversations
    from bot.sandbox.directory import Directory

RESPONSE_URL_TTL_SECONDS = 30 * 60
RESPONSE_URL_MAX_USES = 5


@dataclass
class _Hook:
    channel_id: str
    user_id: str
    message_ts: str | None
    created: float
    uses: int = 0
    last_ts: str | None = None
    last_ephemeral: bool = True


class ResponseUrls:
    """Issued response URLs by path (``commands/T…/…/secret``). Uses the workspace's lock."""

    def __init__(
        self, workspace: WorkspaceCore, directory: Directory, conversations: Conversations
    ) -> None:
        self._ws = workspace
        self._directory = directory
        self._conversations = conversations
        self._lock = workspace.lock
        self._hooks: dict[str, _Hook] = {}
        self._sequence = 0

    def create(
        self,
        *,
        channel_id: str,
        user_id: str,
        message_ts: str | None = None,
        kind: str = "commands",
    ) -> str:
        """A new response URL path for an interaction by ``user_id`` in ``channel_id``.

        ``message_ts`` is the message whose button was pressed (a channel message or one of
        the user's ephemeral messages); ``kind`` is ``commands`` or ``actions`` as in Slack's URLs.
        """
        with self._lock:
            self._directory.channel(channel_id)
            self._sequence += 1
            path = f"{kind}/{self._ws.team_id}/{self._sequence:010d}/{secrets.token_urlsafe(18)}"
            self._hooks[path] = _Hook(channel_id, user_id, message_ts, self._ws.clock())
            return path

    def respond(self, path: str, payload: Any) -> None:
        """Act on a JSON post to a response URL; SlackError (with an HTTP status) if refused."""
        if not isinstance(payload, dict):
            raise SlackError("invalid_payload", http_status=400)
        with self._lock:
            hook = self._hooks.get(path)
            if hook is None:
                raise SlackError("invalid_url", http_status=404)
            if self._ws.clock() - hook.created > RESPONSE_URL_TTL_SECONDS:
                raise SlackError("expired_url", http_status=404)
            if hook.uses >= RESPONSE_URL_MAX_USES:
                raise SlackError("used_url", http_status=404)
            hook.uses += 1
            if _flag(payload.get("delete_original")):
                self._delete_original(hook)
                return
            text, blocks, attachments = (
                payload.get("text"),
                payload.get("blocks"),
                payload.get("attachments"),
            )
            try:
                check_message_content(text, blocks, attachments, allow_empty=False)
            except SlackError as refused:
                refused.http_status = 400
                raise
            if _flag(payload.get("replace_original")) and self._replace_original(
                hook, text, blocks, attachments
            ):
                return
            thread_ts = payload.get("thread_ts")
            if payload.get("response_type") == "in_channel":
                _, message = self._conversations.post_message(
                    hook.channel_id,
                    user_id=self._ws.bot.id,
                    text=text,
                    blocks=blocks,
                    attachments=attachments,
                    thread_ts=thread_ts,
                    check_membership=False,
                )
                hook.last_ts, hook.last_ephemeral = message["ts"], False
            else:
                hook.last_ts = self._conversations.post_ephemeral(
                    hook.channel_id,
                    hook.user_id,
                    user_id=self._ws.bot.id,
                    text=text,
                    blocks=blocks,
                    attachments=attachments,
                    thread_ts=thread_ts,
                    check_membership=False,
                )
                hook.last_ephemeral = True

    def uses(self, path: str) -> int:
        with self._lock:
            return self._hooks[path].uses

    def _target(self, hook: _Hook) -> tuple[str, bool] | None:
        """(ts, is_ephemeral) of the message replace/delete_original act on, if any."""
        if hook.message_ts is not None:
            if self._conversations.ephemeral(hook.user_id, hook.message_ts) is not None:
                return hook.message_ts, True
            if hook.message_ts in self._directory.channel(hook.channel_id).messages:
                return hook.message_ts, False
        if hook.last_ts is not None:
            return hook.last_ts, hook.last_ephemeral
        return None

    def _replace_original(self, hook: _Hook, text: Any, blocks: Any, attachments: Any) -> bool:
        target = self._target(hook)
        if target is None:
            return False  # nothing to replace yet: Slack posts the answer as a new message
        ts, ephemeral = target
        # A replacement is a whole new message: fields it leaves out are cleared, not kept.
        text = text if text is not None else ""
        blocks = blocks if blocks is not None else []
        attachments = attachments if attachments is not None else []
        if ephemeral:
            self._conversations.replace_ephemeral(
                hook.user_id, ts, text=text, blocks=blocks, attachments=attachments
            )
        else:
            self._conversations.update_message(
                hook.channel_id,
                ts,
                user_id=self._ws.bot.id,
                text=text,
                blocks=blocks,
                attachments=attachments,
            )
        return True

    def _delete_original(self, hook: _Hook) -> None:
        target = self._target(hook)
        if target is None:
            raise SlackError("message_not_found", http_status=404)
        ts, ephemeral = target
        if ephemeral:
            self._conversations.delete_ephemeral(hook.user_id, ts)
        else:
            self._conversations.delete_message(hook.channel_id, ts, user_id=self._ws.bot.id)


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")
