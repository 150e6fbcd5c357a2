"""Who may do what where: the configuration's per-environment permissions, with Slack user
groups resolved through a port so the rules never import Slack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from infra.settings import Principals, Settings


class GroupResolver(Protocol):
    """Resolves a Slack user group handle (without ``@``) to its member user IDs."""

    def members(self, handle: str) -> frozenset[str]: ...


class NoGroups:
    """Resolver for contexts without Slack (CLI, tests): every group is empty."""

    def members(self, handle: str) -> frozenset[str]:
        return frozenset()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str


class AccessPolicy:
    """Who may do what where, from the configuration's per-environment permissions."""

    def __init__(self, settings: Settings, groups: GroupResolver) -> None:
        self.settings = settings
        self.groups = groups

    def is_member(self, user_id: str, principals: Principals) -> bool:
        if principals.everyone or user_id in principals.users:
            return True
        return any(user_id in self.groups.members(g) for g in principals.groups)

    def check(self, user_id: str, action: str, env: str) -> Decision:
        principals: Principals = getattr(self.settings.environment(env).permissions, action)
        rule = f"permissions.{action} of environment {env}: {describe_principals(principals)}"
        return Decision(self.is_member(user_id, principals), rule)


def describe_principals(principals: Principals) -> str:
    if principals.everyone:
        return "everyone"
    names = [f"<@{u}>" for u in principals.users] + [f"@{g}" for g in principals.groups]
    return ", ".join(names) if names else "nobody"
