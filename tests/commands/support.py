"""Commands without Slack: a real local platform and a real store on a private copy of the
session's seeded demo, and a ``command(text, user=...)`` helper that dispatches like the bot's
worker does and returns the Reply.

Demo identities (bot/sandbox/seed.py, infra/defaults.py): Alice is an ordinary requester, Bob
and Carol are in ``@ml-approvers`` (who may deploy and roll back in prod and approve
promotions), Dave is an ordinary member.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.demo.seed import MARKER_FILE
from bot.sandbox import seed
from commands.context import CommandContext, Invocation
from commands.registry import dispatch
from core.access import AccessPolicy
from core.replies import ErrorReply, Reply
from infra.defaults import APPROVER_GROUP, DEMO_MODEL, demo_config
from infra.platform.local import LocalPlatform
from infra.settings import Settings
from infra.store import AuditRecord, Store, default_database_url, open_store
from tests.bot.demo.seeded import demo_settings

MODEL = DEMO_MODEL


class DemoGroups:
    """The demo's user groups without Slack: Bob and Carol are the approvers."""

    def __init__(self, groups: dict[str, frozenset[str]] | None = None) -> None:
        self.groups = groups or {APPROVER_GROUP: frozenset({seed.BOB, seed.CAROL})}

    def members(self, handle: str) -> frozenset[str]:
        return self.groups.get(handle, frozenset())


@dataclass
class Bench:
    """One private demo state and everything a command needs to run on it."""

    settings: Settings
    platform: LocalPlatform
    store: Store
    access: AccessPolicy
    progress: list[Reply] = field(default_factory=list)
    submitted: list[tuple[str, str, str]] = field(default_factory=list)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def context(
        self, text: str, *, user: str = seed.ALICE, channel: str = seed.MLOPS_CHANNEL, **kw: Any
    ) -> CommandContext:
        return CommandContext(
            self.settings,
            self.platform,
            self.store,
            self.access,
            Invocation(user, text, channel, seed.TEAM_ID),
            progress=self.progress.append,
            clock=self.clock,
            on_job_submitted=lambda job, model, env: self.submitted.append((job, model, env)),
            card_wait_seconds=kw.pop("card_wait_seconds", 0.0),  # no desk posts cards here
            **kw,
        )

    def command(self, text: str, *, user: str = seed.ALICE, **kw: Any) -> Reply:
        """Dispatch ``/mlops <text>`` as ``user`` and return the final reply."""
        return dispatch(self.context(text, user=user, **kw))

    def audits(self, action: str | None = None, **match: Any) -> list[AuditRecord]:
        """Audit rows of the demo model (oldest first), optionally of one action/outcome/actor."""
        rows = list(reversed(self.store.audit_trail(model=MODEL, limit=1000)))
        if action is not None:
            rows = [r for r in rows if r.action == action]
        return [r for r in rows if all(getattr(r, k) == v for k, v in match.items())]


def restricted_config() -> dict[str, Any]:
    """The demo configuration with more doors closed, for the denials the demo never shows:
    only @ml-approvers may deploy and retrain in dev and request promotions into prod."""
    raw = demo_config(shadow=False)
    envs = {e["name"]: e for e in raw["environments"]}
    approvers = [f"@{APPROVER_GROUP}"]
    envs["dev"]["permissions"] = {"deploy": approvers, "retrain": approvers}
    envs["prod"]["permissions"] = {**envs["prod"]["permissions"], "promote": approvers}
    return raw


def open_bench(state: Path, raw: dict[str, Any] | None = None) -> Bench:
    settings = demo_settings(state, raw)
    # The seed's traffic ends at the hour it was made: a clock pinned there gives every check the
    # same windows whatever the time of day the suite runs at, and the platform the same labels
    # arrived (the demo's label delay counts from it).
    seed_end = datetime.fromisoformat(
        json.loads((state / MARKER_FILE).read_text(encoding="utf-8"))["end"]
    )
    platform = LocalPlatform(settings, clock=lambda: seed_end)
    store = open_store(default_database_url(settings.state_path))
    return Bench(
        settings, platform, store, AccessPolicy(settings, DemoGroups()), clock=lambda: seed_end
    )


def _close(bench: Bench) -> None:
    bench.store.close()
    close = getattr(bench.platform, "close", None)
    if close is not None:
        close()


def _private_state(seeded_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLOPS_BOT_CONFIG", raising=False)
    monkeypatch.delenv("MLOPS_BOT_STATE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "state"
    shutil.copytree(seeded_template, state)
    return state


@pytest.fixture
def bench(
    seeded_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Bench]:
    """A private copy of the seeded demo: each test may deploy, promote and mute freely."""
    opened = open_bench(_private_state(seeded_template, tmp_path, monkeypatch))
    yield opened
    _close(opened)


@pytest.fixture
def restricted(
    seeded_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Bench]:
    """Like ``bench``, on the :func:`restricted_config`."""
    state = _private_state(seeded_template, tmp_path, monkeypatch)
    opened = open_bench(state, restricted_config())
    yield opened
    _close(opened)


@pytest.fixture
def command(bench: Bench) -> Callable[..., Reply]:
    """``command("status churn-model", user=seed.BOB)`` -> the Reply."""
    return bench.command


def usage_error(reply: Reply, usage: str, *fragments: str) -> ErrorReply:
    """Assert ``reply`` is an ephemeral ErrorReply carrying ``usage`` and every fragment."""
    assert isinstance(reply, ErrorReply), reply
    assert not reply.public
    assert reply.usage == usage, reply
    for fragment in fragments:
        assert fragment in reply.message, (fragment, reply.message)
    return reply


def error(reply: Reply, *fragments: str) -> ErrorReply:
    """Assert ``reply`` is an ephemeral ErrorReply whose message holds every fragment."""
    assert isinstance(reply, ErrorReply), reply
    assert not reply.public
    for fragment in fragments:
        assert fragment in reply.message, (fragment, reply.message)
    return reply
