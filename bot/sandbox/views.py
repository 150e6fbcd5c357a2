"""Modals and Home tabs: what views.open / push / update / publish leave behind.

Trigger ids follow Slack's rules that matter to a bot: each works once and only for three
seconds, so a handler that opens a modal after slow work fails here as it would in Slack.
Trigger ids the workspace did not issue (hand-built test payloads) are accepted once if they
look like Slack's (``<digits>.<digits>.<hex>``); without a known user, the modal belongs to no one.
"""

from __future__ import annotations

import copy
import re
import secrets
import threading
from typing import TYPE_CHECKING, Any

from bot.sandbox import seed
from bot.sandbox.blockcheck import check_view
from bot.sandbox.errors import SlackError
from bot.sandbox.model import new_id, with_block_ids
from bot.sandbox.shared import WorkspaceCore

if TYPE_CHECKING:
    from bot.sandbox.directory import Directory

TRIGGER_TTL_SECONDS = 3.0
MAX_MODAL_STACK = 3
_TRIGGER_SHAPE = re.compile(r"\d+\.\d+\.[0-9a-f]+")


class ViewStore:
    """Views by id, each user's modal stack and Home tab. Uses the workspace's lock."""

    def __init__(self, workspace: WorkspaceCore, directory: Directory) -> None:
        self._ws = workspace
        self._directory = directory
        self._lock: threading.RLock = workspace.lock
        self._views: dict[str, dict[str, Any]] = {}
        self._owner: dict[str, str | None] = {}
        self._stacks: dict[str | None, list[str]] = {}
        self._homes: dict[str, str] = {}
        self._triggers: dict[str, tuple[str | None, float]] = {}
        self._used_triggers: set[str] = set()
        self._sequence = 0

    # ------------------------------------------------------------------ trigger ids

    def issue_trigger_id(self, user_id: str) -> str:
        """A fresh trigger id for an interaction by ``user_id`` (valid once, for 3 seconds)."""
        with self._lock:
            self._sequence += 1
            stamp = f"{int(self._ws.clock())}{self._sequence:04d}"
            trigger = f"{stamp}.{secrets.randbelow(10**9)}.{secrets.token_hex(12)}"
            self._triggers[trigger] = (user_id, self._ws.clock())
            return trigger

    def _redeem(self, trigger_id: str | None) -> str | None:
        if not trigger_id or not _TRIGGER_SHAPE.fullmatch(trigger_id):
            raise SlackError("invalid_arguments", messages=["invalid `trigger_id`"])
        if trigger_id in self._used_triggers:
            raise SlackError("exchanged_trigger_id")
        user_id, issued = self._triggers.get(trigger_id, (None, None))
        if issued is not None and self._ws.clock() - issued > TRIGGER_TTL_SECONDS:
            raise SlackError("expired_trigger_id")
        self._used_triggers.add(trigger_id)
        return user_id

    # ------------------------------------------------------------------ methods

    def open(self, trigger_id: str | None, view: Any) -> dict[str, Any]:
        """views.open: a new modal stack for the user behind the trigger."""
        _validate(view, kind="modal")
        with self._lock:
            user_id = self._redeem(trigger_id)
            created = self._create(view, user_id, previous=None)
            self._stacks[user_id] = [created["id"]]
            self._ws.touch()
            return copy.deepcopy(created)

    def push(self, trigger_id: str | None, view: Any) -> dict[str, Any]:
        """views.push: a modal on top of the user's open one (three at most)."""
        _validate(view, kind="modal")
        with self._lock:
            user_id = self._redeem(trigger_id)
            stack = self._stacks.get(user_id) or []
            if not stack:
                raise SlackError("invalid_arguments", messages=["no modal open to push onto"])
            if len(stack) >= MAX_MODAL_STACK:
                raise SlackError("push_limit_reached")
            created = self._create(view, user_id, previous=stack[-1], root=stack[0])
            stack.append(created["id"])
            self._ws.touch()
            return copy.deepcopy(created)

    def update(
        self,
        view: Any,
        *,
        view_id: str | None = None,
        external_id: str | None = None,
        hash_: str | None = None,
    ) -> dict[str, Any]:
        """views.update: new content for an open view, refused on a stale ``hash``."""
        _validate(view, kind=None)
        with self._lock:
            target_id = view_id or self._by_external_id(external_id)
            current = self._views.get(target_id or "")
            if current is None:
                raise SlackError("not_found")
            if hash_ and hash_ != current["hash"]:
                raise SlackError("hash_conflict")
            if view.get("type") != current["type"]:
                raise SlackError("invalid_arguments", messages=["view type cannot change"])
            updated = self._render(
                view,
                view_id=current["id"],
                root=current["root_view_id"],
                previous=current["previous_view_id"],
            )
            updated["state"] = current["state"]
            self._views[current["id"]] = updated
            self._ws.touch()
            return copy.deepcopy(updated)

    def publish(
        self, user_id: str | None, view: Any, *, hash_: str | None = None
    ) -> dict[str, Any]:
        """views.publish: the user's Home tab (same view id across publishes)."""
        with self._lock:
            try:
                person = self._directory.user(user_id or "")
            except SlackError:
                person = None
            if person is None or person.is_bot:
                raise SlackError("invalid_arguments", messages=["invalid `user_id`"])
            _validate(view, kind="home")
            assert user_id is not None
            current_id = self._homes.get(user_id)
            current = self._views.get(current_id or "")
            if current is not None and hash_ and hash_ != current["hash"]:
                raise SlackError("hash_conflict")
            view_id = current_id or new_id("V")
            rendered = self._render(view, view_id=view_id, root=view_id, previous=None)
            self._views[view_id] = rendered
            self._owner[view_id] = user_id
            self._homes[user_id] = view_id
            self._ws.touch()
            return copy.deepcopy(rendered)

    # ------------------------------------------------------------------ for the sandbox page

    def modal_stack(self, user_id: str | None) -> list[dict[str, Any]]:
        """The user's open modals, bottom first."""
        with self._lock:
            return [copy.deepcopy(self._views[v]) for v in self._stacks.get(user_id, [])]

    def home(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            view_id = self._homes.get(user_id)
            return copy.deepcopy(self._views[view_id]) if view_id else None

    def get(self, view_id: str) -> dict[str, Any]:
        with self._lock:
            if view_id not in self._views:
                raise SlackError("not_found")
            return copy.deepcopy(self._views[view_id])

    def owner(self, view_id: str) -> str | None:
        with self._lock:
            return self._owner.get(view_id)

    def set_state(self, view_id: str, values: dict[str, Any]) -> None:
        """Record what the user typed, as ``view.state.values`` (sent with view_submission)."""
        with self._lock:
            if view_id not in self._views:
                raise SlackError("not_found")
            self._views[view_id]["state"] = {"values": copy.deepcopy(values)}
            self._ws.touch()

    def close(self, view_id: str, *, clear: bool = False) -> None:
        """Close a modal (and those above it); ``clear`` closes the whole stack."""
        with self._lock:
            for stack in self._stacks.values():
                if view_id in stack:
                    del stack[0 if clear else stack.index(view_id) :]
                    self._ws.touch()
                    return
            raise SlackError("not_found")

    # ------------------------------------------------------------------ internals

    def _by_external_id(self, external_id: str | None) -> str | None:
        if not external_id:
            return None
        for view_id, stored in self._views.items():
            if stored.get("external_id") == external_id:
                return view_id
        return None

    def _create(
        self,
        view: dict[str, Any],
        user_id: str | None,
        *,
        previous: str | None,
        root: str | None = None,
    ) -> dict[str, Any]:
        external_id = view.get("external_id")
        if external_id and self._by_external_id(external_id):
            raise SlackError("duplicate_external_id")
        view_id = new_id("V")
        rendered = self._render(view, view_id=view_id, root=root or view_id, previous=previous)
        self._views[view_id] = rendered
        self._owner[view_id] = user_id
        return rendered

    def _render(
        self, view: dict[str, Any], *, view_id: str, root: str, previous: str | None
    ) -> dict[str, Any]:
        now = self._ws.clock()
        return {
            "id": view_id,
            "team_id": self._ws.team_id,
            "type": view["type"],
            "title": view.get("title"),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "blocks": with_block_ids(view.get("blocks") or []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(now)}.{secrets.token_hex(4)}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": root,
            "previous_view_id": previous,
            "app_id": seed.APP_ID,
            "app_installed_team_id": self._ws.team_id,
            "bot_id": seed.BOT_ID,
        }


def _validate(view: Any, *, kind: str | None) -> None:
    problems = check_view(view)
    if kind is not None and isinstance(view, dict) and view.get("type") != kind:
        problems.insert(0, f"[ERROR] must be {kind} [json-pointer:/view/type]")
    if problems:
        raise SlackError("invalid_arguments", messages=problems)
