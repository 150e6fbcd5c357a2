"""What is said in the sandbox workspace: messages, threads, edits and ephemeral messages.

:class:`Conversations` implements chat.postMessage / update / delete / postEphemeral /
getPermalink and conversations.history / replies with Slack's checks (membership, archived
channels, authorship, thread roots and tombstones). Messages live in each
:class:`~bot.sandbox.model.Channel` of the :class:`~bot.sandbox.directory.Directory`; ephemeral
messages per recipient here. It shares the workspace's lock, clock and change counter, so it is
used through :class:`~bot.sandbox.workspace.Workspace`.
"""

from __future__ import annotations

import copy
import threading
from typing import TYPE_CHECKING, Any

from bot.sandbox.errors import SlackError
from bot.sandbox.messages import check_message_content
from bot.sandbox.model import Channel, User, is_top_level, with_block_ids
from bot.sandbox.shared import WorkspaceCore

if TYPE_CHECKING:
    from bot.sandbox.directory import Directory


class Conversations:
    """Messages and threads per channel, ephemerals per user. Uses the workspace's lock."""

    def __init__(self, workspace: WorkspaceCore, directory: Directory) -> None:
        self._ws = workspace
        self._directory = directory
        self._lock: threading.RLock = workspace.lock
        self._ephemerals: dict[str, list[dict[str, Any]]] = {}

    # ------------------------------------------------------------------ messages

    def post_message(
        self,
        channel: str | None,
        *,
        user_id: str,
        text: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        files: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
        check_membership: bool = True,
        scopes: frozenset[str] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Post as ``user_id``; returns (channel id, the stored message as Slack echoes it).

        ``channel`` may be an id, a ``#name`` or a user id (DM). ``extra`` carries fields Slack
        stores verbatim (``metadata``, ``username``, ``icons``, unfurl flags).
        """
        check_message_content(text, blocks, attachments, allow_empty=bool(files))
        with self._lock:
            author = self._directory.stored_user(user_id)
            conv = self._directory.resolve(channel, by_name=True, as_user=author)
            if check_membership:
                self._check_can_post(conv, author, scopes)
            if conv.is_archived:
                raise SlackError("is_archived")
            root = self._thread_root(conv, thread_ts) if thread_ts else None
            ts = self._ws.next_ts()
            message = self._new_message(author, ts, text, blocks, attachments)
            if files:
                message.update(files=files, upload=True, display_as_bot=False)
            message.update(extra or {})
            if root is not None:
                message["thread_ts"] = root["ts"]
                message["parent_user_id"] = root.get("user")
                if reply_broadcast:
                    message["subtype"] = "thread_broadcast"
            conv.messages[ts] = message
            if root is not None:
                self._refresh_thread(conv, root["ts"])
            self._ws.touch()
            return conv.id, copy.deepcopy(message)

    def update_message(
        self,
        channel_id: str | None,
        ts: str | None,
        *,
        user_id: str,
        text: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """chat.update: content fields left out keep their old value, ``[]`` clears them."""
        check_message_content(text, blocks, attachments, allow_empty=False)
        with self._lock:
            conv = self._directory.channel(channel_id)
            message = conv.messages.get(ts or "")
            if message is None:
                raise SlackError("message_not_found")
            if message.get("user") != user_id or message.get("subtype") == "tombstone":
                raise SlackError("cant_update_message")
            apply_content(message, text, blocks, attachments)
            message.update(extra or {})
            message["edited"] = {"user": user_id, "ts": self._ws.next_ts()}
            self._ws.touch()
            return copy.deepcopy(message)

    def delete_message(self, channel_id: str | None, ts: str | None, *, user_id: str) -> None:
        """chat.delete; a thread parent with replies leaves a tombstone, as in Slack."""
        with self._lock:
            conv = self._directory.channel(channel_id)
            message = conv.messages.get(ts or "")
            if message is None or message.get("subtype") == "tombstone":
                raise SlackError("message_not_found")
            if message.get("user") != user_id:
                raise SlackError("cant_delete_message")
            if message.get("reply_count"):
                conv.messages[message["ts"]] = {
                    "type": "message",
                    "subtype": "tombstone",
                    "text": "This message was deleted.",
                    "user": "USLACKBOT",
                    "hidden": True,
                    "ts": message["ts"],
                    **{
                        k: message[k]
                        for k in ("thread_ts", "reply_count", "reply_users", "latest_reply")
                        if k in message
                    },
                }
            else:
                del conv.messages[message["ts"]]
                if message.get("thread_ts") and message["thread_ts"] != message["ts"]:
                    self._refresh_thread(conv, message["thread_ts"])
            self._ws.touch()

    def message(self, channel_id: str, ts: str) -> dict[str, Any]:
        with self._lock:
            found = self._directory.channel(channel_id).messages.get(ts)
            if found is None:
                raise SlackError("message_not_found")
            return copy.deepcopy(found)

    def permalink(self, channel_id: str | None, ts: str | None) -> str:
        """chat.getPermalink; points at the sandbox page rather than slack.com."""
        with self._lock:
            conv = self._directory.channel(channel_id)
            message = conv.messages.get(ts or "")
            if message is None:
                raise SlackError("message_not_found")
            link = f"{self._ws.root_url}archives/{conv.id}/p{message['ts'].replace('.', '')}"
            if not is_top_level(message):
                link += f"?thread_ts={message['thread_ts']}&cid={conv.id}"
            return link

    def history(
        self,
        channel_id: str | None,
        *,
        viewer: str,
        oldest: str | None = None,
        latest: str | None = None,
        inclusive: bool = False,
    ) -> list[dict[str, Any]]:
        """Top-level messages, newest first, as conversations.history returns them."""
        with self._lock:
            conv = self._directory.channel(channel_id)
            if viewer not in conv.members:
                raise SlackError("not_in_channel")
            low = float(oldest) if oldest else float("-inf")
            high = float(latest) if latest else float("inf")

            def in_range(ts: str) -> bool:
                value = float(ts)
                if inclusive:
                    return low <= value <= high
                return low < value < high

            found = [m for m in conv.messages.values() if is_top_level(m) and in_range(m["ts"])]
            return copy.deepcopy(sorted(found, key=lambda m: float(m["ts"]), reverse=True))

    def replies(
        self, channel_id: str | None, ts: str | None, *, viewer: str | None = None
    ) -> list[dict[str, Any]]:
        """A thread: its parent then the replies, oldest first (conversations.replies)."""
        with self._lock:
            conv = self._directory.channel(channel_id)
            if viewer is not None and viewer not in conv.members:
                raise SlackError("not_in_channel")
            parent = conv.messages.get(ts or "")
            if parent is None:
                raise SlackError("thread_not_found")
            root_ts = parent.get("thread_ts") or parent["ts"]
            thread = [
                m
                for m in conv.messages.values()
                if m["ts"] == root_ts or m.get("thread_ts") == root_ts
            ]
            return copy.deepcopy(sorted(thread, key=lambda m: float(m["ts"])))

    def messages(self, channel_id: str) -> list[dict[str, Any]]:
        """Top-level messages oldest first, for the sandbox page (no membership rule)."""
        with self._lock:
            conv = self._directory.channel(channel_id)
            found = [m for m in conv.messages.values() if is_top_level(m)]
            return copy.deepcopy(sorted(found, key=lambda m: float(m["ts"])))

    # ------------------------------------------------------------------ ephemeral messages

    def post_ephemeral(
        self,
        channel: str | None,
        recipient: str | None,
        *,
        user_id: str,
        text: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        check_membership: bool = True,
    ) -> str:
        """A message only ``recipient`` sees, until they reload; returns its ``message_ts``."""
        check_message_content(text, blocks, attachments, allow_empty=False)
        with self._lock:
            author = self._directory.stored_user(user_id)
            conv = self._directory.resolve(channel, by_name=True, as_user=author)
            if not self._directory.has_user(recipient):
                raise SlackError("user_not_found")
            if check_membership and author.id not in conv.members:
                raise SlackError("not_in_channel")
            if recipient not in conv.members:
                raise SlackError("user_not_in_channel")
            ts = self._ws.next_ts()
            message = self._new_message(author, ts, text, blocks, attachments)
            message.update(is_ephemeral=True, channel=conv.id)
            if thread_ts:
                message["thread_ts"] = thread_ts
            self._ephemerals.setdefault(recipient, []).append(message)
            self._ws.touch()
            return ts

    def ephemerals(self, user_id: str, channel_id: str | None = None) -> list[dict[str, Any]]:
        """What ``user_id`` sees privately (each message carries its ``channel``), oldest first."""
        with self._lock:
            found = [
                m for m in self._ephemerals.get(user_id, []) if channel_id in (None, m["channel"])
            ]
            return copy.deepcopy(found)

    def ephemeral(self, user_id: str, ts: str) -> dict[str, Any] | None:
        """The stored ephemeral message (not a copy: callers hold the lock), or None."""
        for message in self._ephemerals.get(user_id, []):
            if message["ts"] == ts:
                return message
        return None

    def replace_ephemeral(
        self,
        user_id: str,
        ts: str,
        *,
        text: str | None,
        blocks: list[dict[str, Any]] | None,
        attachments: list[dict[str, Any]] | None,
    ) -> None:
        with self._lock:
            message = self.ephemeral(user_id, ts)
            if message is None:
                raise SlackError("message_not_found")
            apply_content(message, text, blocks, attachments)
            self._ws.touch()

    def delete_ephemeral(self, user_id: str, ts: str) -> None:
        with self._lock:
            message = self.ephemeral(user_id, ts)
            if message is None:
                raise SlackError("message_not_found")
            self._ephemerals[user_id].remove(message)
            self._ws.touch()

    # ------------------------------------------------------------------ internals

    def _check_can_post(self, conv: Channel, author: User, scopes: frozenset[str] | None) -> None:
        if author.id in conv.members:
            return
        if not conv.is_private and scopes is not None and "chat:write.public" in scopes:
            return
        raise SlackError("not_in_channel")

    def _thread_root(self, conv: Channel, thread_ts: str) -> dict[str, Any]:
        # Slack is lenient here (an unknown thread_ts can leave an invisible message); the
        # sandbox refuses it so a bot bug shows up in tests instead of silently losing a reply.
        message = conv.messages.get(thread_ts)
        if message is None:
            raise SlackError("thread_not_found")
        root_ts = message.get("thread_ts") or message["ts"]
        return conv.messages[root_ts]

    def _refresh_thread(self, conv: Channel, root_ts: str) -> None:
        root = conv.messages.get(root_ts)
        if root is None:
            return
        replies = sorted(
            (
                m
                for m in conv.messages.values()
                if m.get("thread_ts") == root_ts and m["ts"] != root_ts
            ),
            key=lambda m: float(m["ts"]),
        )
        if not replies:
            if root.get("subtype") == "tombstone":
                del conv.messages[root_ts]
                return
            for key in (
                "thread_ts",
                "reply_count",
                "reply_users",
                "reply_users_count",
                "latest_reply",
            ):
                root.pop(key, None)
            return
        users = list(dict.fromkeys(m.get("user") for m in replies if m.get("user")))
        root.update(
            thread_ts=root_ts,
            reply_count=len(replies),
            reply_users=users[:5],
            reply_users_count=len(users),
            latest_reply=replies[-1]["ts"],
            is_locked=False,
            subscribed=False,
        )

    def _new_message(
        self,
        author: User,
        ts: str,
        text: str | None,
        blocks: list[dict[str, Any]] | None,
        attachments: list[dict[str, Any]] | None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"user": author.id, "type": "message", "ts": ts}
        if author.is_bot:
            message.update(
                bot_id=author.bot_id,
                app_id=author.app_id,
                bot_profile={
                    "id": author.bot_id,
                    "app_id": author.app_id,
                    "name": author.name,
                    "icons": {},
                    "deleted": False,
                    "updated": author.updated,
                    "team_id": self._ws.team_id,
                },
            )
        message.update(text=text or "", team=self._ws.team_id)
        apply_content(message, None, blocks, attachments)
        return message


def apply_content(
    message: dict[str, Any],
    text: str | None,
    blocks: list[dict[str, Any]] | None,
    attachments: list[dict[str, Any]] | None,
) -> None:
    if text is not None:
        message["text"] = text
    if blocks is not None:
        if blocks:
            message["blocks"] = with_block_ids(blocks)
        else:
            message.pop("blocks", None)
    if attachments is not None:
        if attachments:
            message["attachments"] = [{"id": i, **a} for i, a in enumerate(attachments, start=1)]
        else:
            message.pop("attachments", None)
