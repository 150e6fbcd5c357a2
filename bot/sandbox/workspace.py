"""An in-memory Slack workspace: the state behind the sandbox Web API and its page.

Everything Slack would remember is kept here: people, the approver group, channels with their
messages and threads, edits, per-user ephemeral messages, modals and Home tabs (``views``),
uploaded files (``files``) and response URLs. One re-entrant lock guards it all, so the threaded
HTTP server, the bot's worker threads and the page can use it at once; every change bumps
``version`` and wakes ``wait_for_change`` so a page can update live.

Reads return deep copies: callers may keep or edit them without touching the stored state.

``Workspace`` is the one object callers hold. It owns the lock, clock and change counter and
hands each group of Slack methods to a component sharing them: ``directory`` (people, tokens,
user groups, channels; directory.py), ``conversations`` (messages, threads, ephemeral messages;
conversations.py), ``views``, ``files`` and ``response_urls``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from bot.sandbox import seed
from bot.sandbox.conversations import Conversations
from bot.sandbox.directory import Directory
from bot.sandbox.files import FileStore
from bot.sandbox.model import Channel, User
from bot.sandbox.response_urls import ResponseUrls
from bot.sandbox.views import ViewStore


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
        self.bot = User(
            id=seed.BOT_USER_ID,
            name=seed.BOT_NAME,
            real_name="MLOps Bot",
            is_bot=True,
            bot_id=seed.BOT_ID,
            app_id=seed.APP_ID,
            updated=int(clock()),
        )
        self.directory = Directory(self)
        """People, tokens, user groups and channels."""
        self.conversations = Conversations(self, self.directory)
        """Messages, threads and ephemeral messages."""
        self.directory.add_bot(self.bot)
        self.add_token(bot_token, self.bot.id, bot_scopes)
        self.add_token(seed.APP_TOKEN, self.bot.id, ("connections:write",))
        self.socket_mode_url: Callable[[], str] | None = None
        """Issues a Socket Mode URL for ``apps.connections.open`` (set by a Socket Mode server;
        None: this workspace has no Socket Mode server and the method fails)."""
        self.views = ViewStore(self, self.directory)
        self.files = FileStore(self, self.directory, self.conversations)
        self.response_urls = ResponseUrls(self, self.directory, self.conversations)
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

    # ------------------------------------------------------------------ directory (see directory.py)

    def add_token(self, token: str, user_id: str, scopes: Iterable[str]) -> None:
        """Make ``token`` valid, acting as ``user_id`` with ``scopes``."""
        self.directory.add_token(token, user_id, scopes)

    def revoke_token(self, token: str) -> None:
        self.directory.revoke_token(token)

    def authenticate(self, token: str | None) -> tuple[User, frozenset[str]]:
        """Who a token acts as and its scopes; ``not_authed`` / ``invalid_auth`` like Slack."""
        return self.directory.authenticate(token)

    def add_user(
        self, user_id: str, name: str, real_name: str, *, title: str = "", is_admin: bool = False
    ) -> None:
        self.directory.add_user(user_id, name, real_name, title=title, is_admin=is_admin)

    def user(self, user_id: str) -> User:
        return self.directory.user(user_id)

    def user_info(self, user_id: str | None) -> dict[str, Any]:
        """The ``user`` object of users.info."""
        return self.directory.user_info(user_id)

    def list_users(self) -> list[dict[str, Any]]:
        return self.directory.list_users()

    def add_usergroup(
        self, group_id: str, handle: str, name: str, users: Iterable[str], *, description: str = ""
    ) -> None:
        self.directory.add_usergroup(group_id, handle, name, users, description=description)

    def set_usergroup_users(self, group_id: str, users: Iterable[str]) -> None:
        """Change a group's members (usergroups.users.update), e.g. to test a membership cache."""
        self.directory.set_usergroup_users(group_id, users)

    def list_usergroups(
        self,
        *,
        include_users: bool = False,
        include_count: bool = False,
        include_disabled: bool = False,
    ) -> list[dict[str, Any]]:
        return self.directory.list_usergroups(
            include_users=include_users,
            include_count=include_count,
            include_disabled=include_disabled,
        )

    def usergroup_users(self, group_id: str | None, *, include_disabled: bool = False) -> list[str]:
        return self.directory.usergroup_users(group_id, include_disabled=include_disabled)

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
        self.directory.add_channel(
            channel_id, name, members=members, is_private=is_private, topic=topic, purpose=purpose
        )

    def join(self, channel_id: str, user_id: str) -> None:
        self.directory.join(channel_id, user_id)

    def leave(self, channel_id: str, user_id: str) -> None:
        self.directory.leave(channel_id, user_id)

    def channel(self, channel_id: str | None) -> Channel:
        """The stored conversation by id (not a copy: callers hold the lock)."""
        return self.directory.channel(channel_id)

    def resolve(
        self, ref: str | None, *, by_name: bool = False, as_user: User | None = None
    ) -> Channel:
        """A conversation from an id, or with ``by_name`` from ``#name``/``name`` or a user id
        (the bot's DM with that person), as chat.postMessage accepts."""
        return self.directory.resolve(ref, by_name=by_name, as_user=as_user)

    def open_im(self, user_id: str) -> dict[str, Any]:
        """The bot's direct-message conversation with a person (conversations.open)."""
        return self.directory.open_im(user_id)

    def channel_info(
        self, channel_id: str | None, *, viewer: str, include_num_members: bool = False
    ) -> dict[str, Any]:
        return self.directory.channel_info(
            channel_id, viewer=viewer, include_num_members=include_num_members
        )

    def list_channels(
        self,
        *,
        viewer: str,
        types: Iterable[str] = ("public_channel",),
        exclude_archived: bool = False,
    ) -> list[dict[str, Any]]:
        return self.directory.list_channels(
            viewer=viewer, types=types, exclude_archived=exclude_archived
        )

    def channels(self) -> list[dict[str, Any]]:
        """Every conversation, for the sandbox page (no visibility rules)."""
        return self.directory.channels()

    # ------------------------------------------------------------------ messages (see conversations.py)

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
        return self.conversations.post_message(
            channel,
            user_id=user_id,
            text=text,
            blocks=blocks,
            attachments=attachments,
            thread_ts=thread_ts,
            reply_broadcast=reply_broadcast,
            files=files,
            extra=extra,
            check_membership=check_membership,
            scopes=scopes,
        )

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
        return self.conversations.update_message(
            channel_id,
            ts,
            user_id=user_id,
            text=text,
            blocks=blocks,
            attachments=attachments,
            extra=extra,
        )

    def delete_message(self, channel_id: str | None, ts: str | None, *, user_id: str) -> None:
        """chat.delete; a thread parent with replies leaves a tombstone, as in Slack."""
        self.conversations.delete_message(channel_id, ts, user_id=user_id)

    def message(self, channel_id: str, ts: str) -> dict[str, Any]:
        return self.conversations.message(channel_id, ts)

    def permalink(self, channel_id: str | None, ts: str | None) -> str:
        """chat.getPermalink; points at the sandbox page rather than slack.com."""
        return self.conversations.permalink(channel_id, ts)

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
        return self.conversations.history(
            channel_id, viewer=viewer, oldest=oldest, latest=latest, inclusive=inclusive
        )

    def replies(
        self, channel_id: str | None, ts: str | None, *, viewer: str | None = None
    ) -> list[dict[str, Any]]:
        """A thread: its parent then the replies, oldest first (conversations.replies)."""
        return self.conversations.replies(channel_id, ts, viewer=viewer)

    def messages(self, channel_id: str) -> list[dict[str, Any]]:
        """Top-level messages oldest first, for the sandbox page (no membership rule)."""
        return self.conversations.messages(channel_id)

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
        return self.conversations.post_ephemeral(
            channel,
            recipient,
            user_id=user_id,
            text=text,
            blocks=blocks,
            attachments=attachments,
            thread_ts=thread_ts,
            check_membership=check_membership,
        )

    def ephemerals(self, user_id: str, channel_id: str | None = None) -> list[dict[str, Any]]:
        """What ``user_id`` sees privately (each message carries its ``channel``), oldest first."""
        return self.conversations.ephemerals(user_id, channel_id)

    def ephemeral(self, user_id: str, ts: str) -> dict[str, Any] | None:
        """The stored ephemeral message (not a copy: callers hold the lock), or None."""
        return self.conversations.ephemeral(user_id, ts)

    def replace_ephemeral(
        self,
        user_id: str,
        ts: str,
        *,
        text: str | None,
        blocks: list[dict[str, Any]] | None,
        attachments: list[dict[str, Any]] | None,
    ) -> None:
        self.conversations.replace_ephemeral(
            user_id, ts, text=text, blocks=blocks, attachments=attachments
        )

    def delete_ephemeral(self, user_id: str, ts: str) -> None:
        self.conversations.delete_ephemeral(user_id, ts)

    # ------------------------------------------------------------------ demo data

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
