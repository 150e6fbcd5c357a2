"""An in-memory Slack workspace: the state behind the sandbox Web API and its page.

Everything Slack would remember is kept here: people, the approver group, channels with their
messages and threads, edits, per-user ephemeral messages, modals and Home tabs (``views``),
uploaded files (``files``) and response URLs. One re-entrant lock guards it all, so the threaded
HTTP server, the bot's worker threads and the page can use it at once; every change bumps
``version`` and wakes ``wait_for_change`` so a page can update live.

Reads return deep copies: callers may keep or edit them without touching the stored state.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from bot.sandbox import seed
from bot.sandbox.errors import SlackError
from bot.sandbox.messages import check_message_content
from bot.sandbox.model import Channel, User, UserGroup, is_top_level, with_block_ids


class Workspace:
    """One Slack team as the bot sees it. Thread-safe; see the module docstring."""

    def __init__(
        self,
        *,
        team_id: str = seed.TEAM_ID,
        team_name: str = seed.TEAM_NAME,
        team_domain: str = seed.TEAM_DOMAIN,
        bot_token: str = seed.BOT_TOKEN,
        bot_scopes: Iterable[str] = seed.DEFAULT_BOT_SCOPES,
        with_demo_data: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Imported here: both stores hold a reference back to this workspace.
        from bot.sandbox.files import FileStore
        from bot.sandbox.response_urls import ResponseUrls
        from bot.sandbox.views import ViewStore

        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.clock = clock
        self.root_url = "http://127.0.0.1/"
        """Where the serving HTTP server lives; permalinks and file URLs are built on it."""
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)
        self._version = 0
        self._last_ts = 0.0
        self._users: dict[str, User] = {}
        self._groups: dict[str, UserGroup] = {}
        self._channels: dict[str, Channel] = {}
        self._ephemerals: dict[str, list[dict[str, Any]]] = {}
        self._tokens: dict[str, tuple[str, frozenset[str]]] = {}
        self.bot = User(
            id=seed.BOT_USER_ID,
            name=seed.BOT_NAME,
            real_name="MLOps Bot",
            is_bot=True,
            bot_id=seed.BOT_ID,
            app_id=seed.APP_ID,
            updated=int(clock()),
        )
        self._users[self.bot.id] = self.bot
        self.add_token(bot_token, self.bot.id, bot_scopes)
        self.add_token(seed.APP_TOKEN, self.bot.id, ("connections:write",))
        self.socket_mode_url: Callable[[], str] | None = None
        """Issues a Socket Mode URL for ``apps.connections.open`` (set by a Socket Mode server;
        None: this workspace has no Socket Mode server and the method fails)."""
        self.views = ViewStore(self)
        self.files = FileStore(self)
        self.response_urls = ResponseUrls(self)
        if with_demo_data:
            self._seed_demo()

    # ------------------------------------------------------------------ change tracking

    @property
    def version(self) -> int:
        """Grows by one on every change; pass it to ``wait_for_change``."""
        with self.lock:
            return self._version

    def touch(self) -> None:
        """Record a change and wake everyone waiting in ``wait_for_change``."""
        with self.lock:
            self._version += 1
            self._changed.notify_all()

    def wait_for_change(self, after: int, timeout: float) -> int:
        """Block until ``version > after`` or ``timeout`` seconds pass; return the version."""
        with self._changed:
            self._changed.wait_for(lambda: self._version > after, timeout=timeout)
            return self._version

    def next_ts(self) -> str:
        """A fresh message timestamp, strictly increasing like Slack's ``1503435956.000247``."""
        with self.lock:
            now = max(round(self.clock(), 6), round(self._last_ts + 0.000001, 6))
            self._last_ts = now
            return f"{now:.6f}"

    # ------------------------------------------------------------------ identity

    def add_token(self, token: str, user_id: str, scopes: Iterable[str]) -> None:
        """Make ``token`` valid, acting as ``user_id`` with ``scopes``."""
        with self.lock:
            self._tokens[token] = (user_id, frozenset(scopes))

    def revoke_token(self, token: str) -> None:
        with self.lock:
            self._tokens.pop(token, None)

    def authenticate(self, token: str | None) -> tuple[User, frozenset[str]]:
        """Who a token acts as and its scopes; ``not_authed`` / ``invalid_auth`` like Slack."""
        if not token:
            raise SlackError("not_authed")
        with self.lock:
            found = self._tokens.get(token)
            if found is None:
                raise SlackError("invalid_auth")
            user_id, scopes = found
            return self._users[user_id], scopes

    def add_user(
        self, user_id: str, name: str, real_name: str, *, title: str = "", is_admin: bool = False
    ) -> None:
        with self.lock:
            self._users[user_id] = User(
                id=user_id,
                name=name,
                real_name=real_name,
                title=title,
                is_admin=is_admin,
                updated=int(self.clock()),
            )
            self.touch()

    def user(self, user_id: str) -> User:
        with self.lock:
            found = self._users.get(user_id)
            if found is None:
                raise SlackError("user_not_found")
            return copy.deepcopy(found)

    def user_info(self, user_id: str | None) -> dict[str, Any]:
        """The ``user`` object of users.info."""
        return self.user(user_id or "").to_api(self.team_id)

    def list_users(self) -> list[dict[str, Any]]:
        with self.lock:
            return [u.to_api(self.team_id) for u in self._users.values()]

    # ------------------------------------------------------------------ user groups

    def add_usergroup(
        self, group_id: str, handle: str, name: str, users: Iterable[str], *, description: str = ""
    ) -> None:
        with self.lock:
            now = int(self.clock())
            self._groups[group_id] = UserGroup(
                id=group_id,
                handle=handle,
                name=name,
                description=description,
                users=list(users),
                created_by=seed.BOB,
                date_create=now,
            )
            self.touch()

    def set_usergroup_users(self, group_id: str, users: Iterable[str]) -> None:
        """Change a group's members (usergroups.users.update), e.g. to test a membership cache."""
        with self.lock:
            group = self._group(group_id)
            group.users = list(users)
            group.date_update = int(self.clock())
            self.touch()

    def list_usergroups(
        self,
        *,
        include_users: bool = False,
        include_count: bool = False,
        include_disabled: bool = False,
    ) -> list[dict[str, Any]]:
        with self.lock:
            return [
                g.to_api(self.team_id, include_users=include_users, include_count=include_count)
                for g in self._groups.values()
                if g.enabled or include_disabled
            ]

    def usergroup_users(self, group_id: str | None, *, include_disabled: bool = False) -> list[str]:
        with self.lock:
            group = self._group(group_id or "")
            if not group.enabled and not include_disabled:
                raise SlackError("no_such_subteam")
            return list(group.users)

    def _group(self, group_id: str) -> UserGroup:
        group = self._groups.get(group_id)
        if group is None:
            raise SlackError("no_such_subteam")
        return group

    # ------------------------------------------------------------------ conversations

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        members: Iterable[str] = (),
        is_private: bool = False,
        topic: str = "",
        purpose: str = "",
    ) -> None:
        with self.lock:
            self._channels[channel_id] = Channel(
                id=channel_id,
                name=name,
                created=int(self.clock()),
                creator=seed.BOB,
                members=set(members),
                is_private=is_private,
                topic=topic,
                purpose=purpose,
            )
            self.touch()

    def join(self, channel_id: str, user_id: str) -> None:
        with self.lock:
            self.channel(channel_id).members.add(user_id)
            self.touch()

    def leave(self, channel_id: str, user_id: str) -> None:
        with self.lock:
            self.channel(channel_id).members.discard(user_id)
            self.touch()

    def channel(self, channel_id: str | None) -> Channel:
        """The stored conversation by id (not a copy: callers hold the lock)."""
        found = self._channels.get(channel_id or "")
        if found is None:
            raise SlackError("channel_not_found")
        return found

    def resolve(
        self, ref: str | None, *, by_name: bool = False, as_user: User | None = None
    ) -> Channel:
        """A conversation from an id, or with ``by_name`` from ``#name``/``name`` or a user id
        (the bot's DM with that person), as chat.postMessage accepts."""
        with self.lock:
            if not ref:
                raise SlackError("channel_not_found")
            if ref in self._channels:
                found = self._channels[ref]
            elif not by_name:
                raise SlackError("channel_not_found")
            elif ref in self._users and not self._users[ref].is_bot:
                found = self._im_with(ref)
            else:
                name = ref.removeprefix("#")
                matches = [c for c in self._channels.values() if c.name == name and not c.is_im]
                if not matches:
                    raise SlackError("channel_not_found")
                found = matches[0]
            viewer = as_user.id if as_user else None
            if found.is_private and viewer is not None and viewer not in found.members:
                raise SlackError("channel_not_found")
            return found

    def open_im(self, user_id: str) -> dict[str, Any]:
        """The bot's direct-message conversation with a person (conversations.open)."""
        with self.lock:
            if user_id not in self._users or self._users[user_id].is_bot:
                raise SlackError("user_not_found")
            return self._im_with(user_id).to_api(self.team_id, viewer=self.bot.id)

    def _im_with(self, user_id: str) -> Channel:
        channel_id = "D" + user_id[1:]
        if channel_id not in self._channels:
            self._channels[channel_id] = Channel(
                id=channel_id,
                name=channel_id,
                created=int(self.clock()),
                creator=self.bot.id,
                members={self.bot.id, user_id},
                is_private=True,
                is_im=True,
                im_user=user_id,
            )
            self.touch()
        return self._channels[channel_id]

    def channel_info(
        self, channel_id: str | None, *, viewer: str, include_num_members: bool = False
    ) -> dict[str, Any]:
        with self.lock:
            found = self.channel(channel_id)
            if found.is_private and viewer not in found.members:
                raise SlackError("channel_not_found")
            return found.to_api(
                self.team_id, viewer=viewer, include_num_members=include_num_members
            )

    def list_channels(
        self,
        *,
        viewer: str,
        types: Iterable[str] = ("public_channel",),
        exclude_archived: bool = False,
    ) -> list[dict[str, Any]]:
        wanted = set(types)
        with self.lock:
            return [
                c.to_api(self.team_id, viewer=viewer)
                for c in self._channels.values()
                if c.kind in wanted
                and not (c.is_archived and exclude_archived)
                and (not c.is_private or viewer in c.members)
            ]

    def channels(self) -> list[dict[str, Any]]:
        """Every conversation, for the sandbox page (no visibility rules)."""
        with self.lock:
            return [
                c.to_api(self.team_id, viewer="") | {"members": sorted(c.members)}
                for c in self._channels.values()
            ]

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
        with self.lock:
            author = self._users[user_id]
            conv = self.resolve(channel, by_name=True, as_user=author)
            if check_membership:
                self._check_can_post(conv, author, scopes)
            if conv.is_archived:
                raise SlackError("is_archived")
            root = self._thread_root(conv, thread_ts) if thread_ts else None
            ts = self.next_ts()
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
            self.touch()
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
        with self.lock:
            conv = self.channel(channel_id)
            message = conv.messages.get(ts or "")
            if message is None:
                raise SlackError("message_not_found")
            if message.get("user") != user_id or message.get("subtype") == "tombstone":
                raise SlackError("cant_update_message")
            _apply_content(message, text, blocks, attachments)
            message.update(extra or {})
            message["edited"] = {"user": user_id, "ts": self.next_ts()}
            self.touch()
            return copy.deepcopy(message)

    def delete_message(self, channel_id: str | None, ts: str | None, *, user_id: str) -> None:
        """chat.delete; a thread parent with replies leaves a tombstone, as in Slack."""
        with self.lock:
            conv = self.channel(channel_id)
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
            self.touch()

    def message(self, channel_id: str, ts: str) -> dict[str, Any]:
        with self.lock:
            found = self.channel(channel_id).messages.get(ts)
            if found is None:
                raise SlackError("message_not_found")
            return copy.deepcopy(found)

    def permalink(self, channel_id: str | None, ts: str | None) -> str:
        """chat.getPermalink; points at the sandbox page rather than slack.com."""
        with self.lock:
            conv = self.channel(channel_id)
            message = conv.messages.get(ts or "")
            if message is None:
                raise SlackError("message_not_found")
            link = f"{self.root_url}archives/{conv.id}/p{message['ts'].replace('.', '')}"
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
        with self.lock:
            conv = self.channel(channel_id)
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
        with self.lock:
            conv = self.channel(channel_id)
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
        with self.lock:
            conv = self.channel(channel_id)
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
        with self.lock:
            author = self._users[user_id]
            conv = self.resolve(channel, by_name=True, as_user=author)
            if recipient not in self._users:
                raise SlackError("user_not_found")
            if check_membership and author.id not in conv.members:
                raise SlackError("not_in_channel")
            if recipient not in conv.members:
                raise SlackError("user_not_in_channel")
            ts = self.next_ts()
            message = self._new_message(author, ts, text, blocks, attachments)
            message.update(is_ephemeral=True, channel=conv.id)
            if thread_ts:
                message["thread_ts"] = thread_ts
            self._ephemerals.setdefault(recipient, []).append(message)
            self.touch()
            return ts

    def ephemerals(self, user_id: str, channel_id: str | None = None) -> list[dict[str, Any]]:
        """What ``user_id`` sees privately (each message carries its ``channel``), oldest first."""
        with self.lock:
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
        with self.lock:
            message = self.ephemeral(user_id, ts)
            if message is None:
                raise SlackError("message_not_found")
            _apply_content(message, text, blocks, attachments)
            self.touch()

    def delete_ephemeral(self, user_id: str, ts: str) -> None:
        with self.lock:
            message = self.ephemeral(user_id, ts)
            if message is None:
                raise SlackError("message_not_found")
            self._ephemerals[user_id].remove(message)
            self.touch()

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
                    "team_id": self.team_id,
                },
            )
        message.update(text=text or "", team=self.team_id)
        _apply_content(message, None, blocks, attachments)
        return message

    def _seed_demo(self) -> None:
        for user_id, handle, real_name, title, is_admin in seed.DEMO_PEOPLE:
            self.add_user(user_id, handle, real_name, title=title, is_admin=is_admin)
        people = [p[0] for p in seed.DEMO_PEOPLE]
        self.add_usergroup(
            seed.APPROVERS_GROUP_ID,
            seed.APPROVERS_GROUP_HANDLE,
            "ML Approvers",
            [seed.BOB, seed.CAROL],
            description="May approve model promotions to preprod and prod.",
        )
        for channel_id, name, topic, bot_member in seed.DEMO_CHANNELS:
            members = [*people, self.bot.id] if bot_member else people
            self.add_channel(channel_id, name, members=members, topic=topic, purpose=topic)


def _apply_content(
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
