"""Plain records the sandbox workspace keeps: people, groups, conversations.

Each knows how to render itself the way the Web API returns it (``to_api``), so the method
handlers never assemble Slack JSON by hand and every method answers with the same shapes.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

_ID_ALPHABET = string.ascii_uppercase + string.digits
_BLOCK_ID_ALPHABET = string.ascii_letters + string.digits + "+/="


def new_id(prefix: str, length: int = 10) -> str:
    """A Slack-looking object id (``F0A1B2C3D4``): prefix plus upper-case letters and digits."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_block_id() -> str:
    """Slack fills in missing ``block_id``s with short random strings like ``2WGp9``."""
    return "".join(secrets.choice(_BLOCK_ID_ALPHABET) for _ in range(5))


@dataclass
class User:
    id: str
    name: str
    real_name: str
    title: str = ""
    is_admin: bool = False
    is_bot: bool = False
    bot_id: str | None = None
    app_id: str | None = None
    deleted: bool = False
    tz: str = "Europe/Amsterdam"
    tz_label: str = "Central European Time"
    tz_offset: int = 3600
    updated: int = 0

    @property
    def email(self) -> str | None:
        return None if self.is_bot else f"{self.name}@example.com"

    def to_api(self, team_id: str) -> dict[str, Any]:
        color = hashlib.sha256(self.id.encode()).hexdigest()[:6]
        profile: dict[str, Any] = {
            "avatar_hash": hashlib.md5(self.id.encode(), usedforsecurity=False).hexdigest()[:12],
            "status_text": "",
            "status_emoji": "",
            "real_name": self.real_name,
            "display_name": self.name,
            "real_name_normalized": self.real_name,
            "display_name_normalized": self.name,
            "title": self.title,
            "team": team_id,
        }
        if self.email:
            profile["email"] = self.email
        if self.is_bot:
            profile["bot_id"] = self.bot_id
            profile["api_app_id"] = self.app_id
            profile["always_active"] = True
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": self.deleted,
            "color": color,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": self.tz_label,
            "tz_offset": self.tz_offset,
            "profile": profile,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": self.updated,
            "has_2fa": False,
        }


@dataclass
class UserGroup:
    id: str
    handle: str
    name: str
    description: str
    users: list[str]
    created_by: str
    date_create: int
    date_update: int = 0
    date_delete: int = 0

    @property
    def enabled(self) -> bool:
        return self.date_delete == 0

    def to_api(self, team_id: str, *, include_users: bool, include_count: bool) -> dict[str, Any]:
        group: dict[str, Any] = {
            "id": self.id,
            "team_id": team_id,
            "is_usergroup": True,
            "name": self.name,
            "description": self.description,
            "handle": self.handle,
            "is_external": False,
            "date_create": self.date_create,
            "date_update": self.date_update or self.date_create,
            "date_delete": self.date_delete,
            "auto_type": None,
            "created_by": self.created_by,
            "updated_by": self.created_by,
            "deleted_by": None,
            "prefs": {"channels": [], "groups": []},
        }
        if include_users:
            group["users"] = list(self.users)
        if include_count:
            group["user_count"] = str(len(self.users))
        return group


@dataclass
class Channel:
    """A conversation. ``messages`` maps ts to the stored message, thread replies included."""

    id: str
    name: str
    created: int
    creator: str
    members: set[str]
    is_private: bool = False
    is_im: bool = False
    im_user: str | None = None
    is_archived: bool = False
    topic: str = ""
    purpose: str = ""
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The ``types`` value of conversations.list this conversation answers to."""
        if self.is_im:
            return "im"
        return "private_channel" if self.is_private else "public_channel"

    def to_api(
        self, team_id: str, *, viewer: str, include_num_members: bool = False
    ) -> dict[str, Any]:
        if self.is_im:
            im: dict[str, Any] = {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.im_user,
                "is_user_deleted": False,
                "priority": 0,
            }
            if include_num_members:
                im["num_members"] = len(self.members)
            return im
        channel: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "created": self.created,
            "is_archived": self.is_archived,
            "is_general": self.name == "general",
            "unlinked": 0,
            "name_normalized": self.name,
            "is_shared": False,
            "is_frozen": False,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "context_team_id": team_id,
            "updated": self.created * 1000,
            "parent_conversation": None,
            "creator": self.creator,
            "is_ext_shared": False,
            "shared_team_ids": [team_id],
            "pending_connected_team_ids": [],
            "is_member": viewer in self.members,
            "topic": {"value": self.topic, "creator": self.creator, "last_set": self.created},
            "purpose": {"value": self.purpose, "creator": self.creator, "last_set": self.created},
            "previous_names": [],
        }
        if include_num_members:
            channel["num_members"] = len(self.members)
        return channel


def is_top_level(message: dict[str, Any]) -> bool:
    """Whether a message shows in the channel (not only inside a thread)."""
    thread_ts = message.get("thread_ts")
    return (
        thread_ts is None
        or thread_ts == message["ts"]
        or message.get("subtype") == "thread_broadcast"
    )


def with_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copy of ``blocks`` with the ids Slack fills in: ``block_id`` and buttons' ``action_id``."""
    filled = []
    for block in blocks:
        block = dict(block)
        block.setdefault("block_id", new_block_id())
        elements = block.get("elements")
        if block.get("type") == "actions" and isinstance(elements, list):
            block["elements"] = [
                {**e, "action_id": e.get("action_id") or new_block_id()}
                if isinstance(e, dict)
                else e
                for e in elements
            ]
        filled.append(block)
    return filled
