"""What every command receives: who asked, where, and the ports to act through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from commands.parsing import UsageError, suggest
from core.replies import Reply, ScheduledJobRow
from infra.platform.base import MLPlatform
from infra.settings import ModelConfig, Principals, Settings
from infra.store import Store


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


class ProgressSink(Protocol):
    def __call__(self, reply: Reply) -> None: ...


@dataclass
class Invocation:
    user_id: str
    text: str
    channel_id: str | None = None
    team_id: str | None = None
    user_name: str | None = None


@dataclass
class CommandContext:
    settings: Settings
    platform: MLPlatform
    store: Store
    access: AccessPolicy
    invocation: Invocation
    progress: ProgressSink = field(default=lambda reply: None)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    on_job_submitted: Callable[[str, str, str], None] | None = None
    """Called with (job_id, model, env) so the app can watch the job and report its end."""
    scheduled_jobs: Callable[[str | None], list[ScheduledJobRow]] | None = None
    """Lists scheduled jobs (for one model or all) when a scheduler runs in this process."""

    @property
    def user(self) -> str:
        return self.invocation.user_id

    # -- validation shared by every command
    def model(self, name: str, *, usage: str) -> ModelConfig:
        names = [m.name for m in self.settings.models]
        try:
            return self.settings.model(name.lower())
        except KeyError:
            guess = suggest(name, names)
            raise UsageError(
                f"unknown model {name!r}; configured models: {', '.join(names) or 'none'}",
                usage=usage,
                suggestion=guess,
            ) from None

    def env(self, name: str, *, usage: str) -> str:
        names = self.settings.env_names
        if name.lower() in names:
            return name.lower()
        raise UsageError(
            f"unknown environment {name!r}; expected one of {', '.join(names)}",
            usage=usage,
            suggestion=suggest(name, names),
        )

    def audit(self, action: str, outcome: str, **detail: object) -> None:
        self.store.audit(self.user, action, outcome, **detail)  # type: ignore[arg-type]

    def require(self, action: str, env: str, *, model: str) -> None:
        """Raise PermissionError (after auditing the denial) unless the user may act."""
        decision = self.access.check(self.user, action, env)
        if not decision.allowed:
            self.store.audit(
                self.user, action, "denied", model=model, environment=env, rule=decision.rule
            )
            raise CommandDenied(f"You may not {action} in {env}: {decision.rule}.")


class CommandDenied(Exception):
    """The user is not allowed; the message names the rule."""
