"""Who and where in the sandbox workspace: people, bot tokens, user groups and conversations.

The :class:`Directory` keeps the records Slack's users.*, usergroups.* and conversations.* methods
read (not the messages inside a conversation: see ``conversations``). It shares the workspace's
lock, clock and change counter, so it is used through :class:`~bot.sandbox.workspace.Workspace`.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from typing import Any

from bot.sandbox import seed
from bot.sandbox.errors import SlackError
from bot.sandbox.model import Channel, User, UserGroup
from bot.sandbox.shared import WorkspaceCore


class Directory:
    """Users, tokens, user groups and channels by id. Uses the workspace's lock."""

    def __init__(self, workspace: WorkspaceCore) -> None:
        self._ws = workspace
        self._lock: threading.RLock = workspace.lock
        self._users: dict[str, User] = {}
        self._groups: dict[str, UserGroup] = {}
        self._channels: dict[str, Channel] = {}
        self._tokens: dict[str, tuple[str, frozenset[str]]] = {}

    def add_bot(self, bot: User) -> None:
        """Register the app's bot user (no change is recorded: the workspace is being built)."""
        with self._lock:
            self._users[bot.id] = bot

    def stored_user(self, user_id: str) -> User:
        """The stored person (not a copy: callers hold the lock); ``KeyError`` if unknown."""
        return self._users[user_id]

    def has_user(self, user_id: str | None) -> bool:
        return user_id in self._users

    # ------------------------------------------------------------------ identity

    def add_token(self, token: str, user_id: str, scopes: Iterable[str]) -> None:
        """Make ``token`` valid, acting as ``user_id`` with ``scopes``."""
        with self._lock:
            self._tokens[token] = (user_id, frozenset(scopes))

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def authenticate(self, token: str | None) -> tuple[User, frozenset[str]]:
        """Who a token acts as and its scopes; ``not_authed`` / ``invalid_auth`` like Slack."""
        if not token:
            raise SlackError("not_authed")
        with self._lock:
            found = self._tokens.get(token)
            if found is None:
                raise SlackError("invalid_auth")
            user_id, scopes = found
            return self._users[user_id], scopes

    def add_user(
        self, user_id: str, name: str, real_name: str, *, title: str = "", is_admin: bool = False
    ) -> None:
        with self._lock:
            self._users[user_id] = User(
                id=user_id,
                name=name,
                real_name=real_name,
                title=title,
                is_admin=is_admin,
                updated=int(self._ws.clock()),
            )
            self._ws.touch()

    def user(self, user_id: str) -> User:
        with self._lock:
            found = self._users.get(user_id)
            if found is None:
                raise SlackError("user_not_found")
            return copy.deepcopy(found)

    def user_info(self, user_id: str | None) -> dict[str, Any]:
        """The ``user`` object of users.info."""
        return self.user(user_id or "").to_api(self._ws.team_id)

    def list_users(self) -> list[dict[str, Any]]:
        with self._lock:
            return [u.to_api(self._ws.team_id) for u in self._users.values()]

    # ------------------------------------------------------------------ user groups

    def add_usergroup(
        self, group_id: str, handle: str, name: str, users: Iterable[str], *, description: str = ""
    ) -> None:
        with self._lock:
            now = int(self._ws.clock())
            self._groups[group_id] = UserGroup(
                id=group_id,
                handle=handle,
                name=name,
                description=description,
                users=list(users),
                created_by=seed.BOB,
                date_create=now,
            )
            self._ws.touch()

    def set_usergroup_users(self, group_id: str, users: Iterable[str]) -> None:
        """Change a group's members (usergroups.users.update), e.g. to test a membership cache."""
        with self._lock:
            group = self._group(group_id)
            group.users = list(users)
            group.date_update = int(self._ws.clock())
            self._ws.touch()

    def list_usergroups(
        self,
        *,
        include_users: bool = False,
        include_count: bool = False,
        include_disabled: bool = False,
    ) -> list[dict[str, Any]]:
        with self._lock:
            return [
                g.to_api(self._ws.team_id, include_users=include_users, include_count=include_count)
                for g in self._groups.values()
                if g.enabled or include_disabled
            ]

    def usergroup_users(self, group_id: str | None, *, include_disabled: bool = False) -> list[str]:
        with self._lock:
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
        with self._lock:
            self._channels[channel_id] = Channel(
                id=channel_id,
                name=name,
                created=int(self._ws.clock()),
                creator=seed.BOB,
                members=set(members),
                is_private=is_private,
                topic=topic,
                purpose=purpose,
            )
            self._ws.touch()

    def join(self, channel_id: str, user_id: str) -> None:
        with self._lock:
            self.channel(channel_id).members.add(user_id)
            self._ws.touch()

    def leave(self, channel_id: str, user_id: str) -> None:
        with self._lock:
            self.channel(channel_id).members.discard(user_id)
            self._ws.touch()

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
        with self._lock:
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
        with self._lock:
            if user_id not in self._users or self._users[user_id].is_bot:
                raise SlackError("user_not_found")
            return self._im_with(user_id).to_api(self._ws.team_id, viewer=self._ws.bot.id)

    def _im_with(self, user_id: str) -> Channel:
        channel_id = "D" + user_id[1:]
        if channel_id not in self._channels:
            self._channels[channel_id] = Channel(
                id=channel_id,
                name=channel_id,
                created=int(self._ws.clock()),
                creator=self._ws.bot.id,
                members={self._ws.bot.id, user_id},
                is_private=True,
                is_im=True,
                im_user=user_id,
            )
            self._ws.touch()
        return self._channels[channel_id]

    def channel_info(
        self, channel_id: str | None, *, viewer: str, include_num_members: bool = False
    ) -> dict[str, Any]:
        with self._lock:
            found = self.channel(channel_id)
            if found.is_private and viewer not in found.members:
                raise SlackError("channel_not_found")
            return found.to_api(
                self._ws.team_id, viewer=viewer, include_num_members=include_num_members
            )

    def list_channels(
        self,
        *,
        viewer: str,
        types: Iterable[str] = ("public_channel",),
        exclude_archived: bool = False,
    ) -> list[dict[str, Any]]:
        wanted = set(types)
        with self._lock:
            return [
                c.to_api(self._ws.team_id, viewer=viewer)
                for c in self._channels.values()
                if c.kind in wanted
                and not (c.is_archived and exclude_archived)
                and (not c.is_private or viewer in c.members)
            ]

    def channels(self) -> list[dict[str, Any]]:
        """Every conversation, for the sandbox page (no visibility rules)."""
        with self._lock:
            return [
                c.to_api(self._ws.team_id, viewer="") | {"members": sorted(c.members)}
                for c in self._channels.values()
            ]
