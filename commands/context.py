"""What every command receives: who asked, where, and the ports to act through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from commands.parsing import suggest
from core.access import AccessPolicy
from core.inputs import UsageError
from core.replies import Reply, ScheduledJobRow
from infra.platform.base import MLPlatform
from infra.settings import ModelConfig, Settings
from infra.store import Store


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
    card_wait_seconds: float = 3.0
    """How long a promotion request waits for its card, to answer once with the card's link
    (0 where no promotion desk posts cards, e.g. tests of commands alone)."""

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

    def no_model(self, *, usage: str) -> UsageError:
        """The error for a command given no model: it names the models there are, as the
        answer to an unknown model does, so the next try can succeed."""
        names = [m.name for m in self.settings.models]
        return UsageError(
            f"expected a model name; configured models: {', '.join(names) or 'none'}",
            usage=usage,
        )

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
            # "roll back" is the verb ("rollback" the noun); the rule goes in parentheses so the
            # sentence does not carry two colons
            verb = "roll back" if action == "rollback" else action
            raise CommandDenied(f"You may not {verb} in {env} ({decision.rule}).")


class CommandDenied(Exception):
    """The user is not allowed; the message names the rule."""
