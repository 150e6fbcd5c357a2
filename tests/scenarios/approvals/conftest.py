"""Fixtures: a fake Slack, a prepared local platform and a running bot per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.conftest_plugin import bot_token, signing_secret, slack_client, slack_server
from tests.fakes.slack_server import FakeSlackServer
from tests.scenarios.approvals.harness import Bot, config, prepare_platform, settings_for, start_bot

__all__ = ["bot_token", "make_bot", "signing_secret", "slack_client", "slack_server"]


@pytest.fixture
def make_bot(slack_server: FakeSlackServer, tmp_path: Path) -> Iterator[Callable[..., Bot]]:
    """``make_bot(candidate=..., **config_overrides)``: prepare the platform once per state
    directory and start a bot on it (call again for a restart on the same state)."""
    started: list[Bot] = []
    prepared: set[Path] = set()

    def make(
        candidate: Any | None = None,
        state: Path | None = None,
        database_url: str | None = None,
        **overrides: Any,
    ) -> Bot:
        state_dir = state or tmp_path / "state"
        settings = settings_for(config(**overrides), state_dir)
        if state_dir not in prepared and not (state_dir / "envs").exists():
            prepare_platform(settings, candidate)
        prepared.add(state_dir)
        runtime, http = start_bot(settings, slack_server.base_url, database_url)
        bot = Bot(slack_server, runtime, http)
        started.append(bot)
        return bot

    yield make
    for bot in reversed(started):
        bot.stop()
