"""What the sandbox workspace shares with its components (directory, conversations, views,
files, response URLs): one lock, the clock, the team, and the change counter.

The components are typed against :class:`WorkspaceCore` instead of
:class:`~bot.sandbox.workspace.Workspace`, which builds them, so none of them imports the
workspace back (no import cycle, not even one for type checking); a component that needs
people, channels or messages is handed the ``Directory`` or ``Conversations`` itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from bot.sandbox.model import User


class WorkspaceCore(Protocol):
    """The workspace's shared state; every component changes its records under ``lock``."""

    lock: threading.RLock
    clock: Callable[[], float]
    team_id: str
    root_url: str
    """Where the serving HTTP server lives; permalinks and file URLs are built on it."""
    bot: User

    def touch(self) -> None:
        """Record a change and wake everyone waiting for one."""

    def next_ts(self) -> str:
        """A fresh, strictly increasing message timestamp."""
