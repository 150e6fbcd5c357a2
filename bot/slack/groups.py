"""Slack user groups resolved through usergroups.users.list, cached with a TTL."""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


class SlackGroupResolver:
    """Resolve ``@handle`` to member IDs. Fails closed: an unreadable group has no members."""

    def __init__(self, client: WebClient, ttl_seconds: float = 300.0) -> None:
        self.client = client
        self.ttl = ttl_seconds
        self._lock = threading.Lock()
        self._handles: tuple[float, dict[str, str]] | None = None
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    def _group_id(self, handle: str) -> str | None:
        now = time.monotonic()
        with self._lock:
            cached = self._handles
        if cached is None or now - cached[0] > self.ttl:
            response = self.client.usergroups_list(include_disabled=False)
            mapping = {g["handle"]: g["id"] for g in response.get("usergroups", [])}
            cached = (now, mapping)
            with self._lock:
                self._handles = cached
        return cached[1].get(handle)

    def members(self, handle: str) -> frozenset[str]:
        handle = handle.lstrip("@")
        now = time.monotonic()
        with self._lock:
            cached = self._members.get(handle)
        if cached is not None and now - cached[0] <= self.ttl:
            return cached[1]
        try:
            group_id = self._group_id(handle)
            if group_id is None:
                log.warning("Slack user group @%s does not exist; nobody is in it", handle)
                users: frozenset[str] = frozenset()
            else:
                response = self.client.usergroups_users_list(usergroup=group_id)
                users = frozenset(response.get("users", []))
        except SlackApiError as exc:
            log.warning("cannot read user group @%s: %s", handle, exc.response.get("error"))
            return cached[1] if cached is not None else frozenset()
        with self._lock:
            self._members[handle] = (now, users)
        return users
