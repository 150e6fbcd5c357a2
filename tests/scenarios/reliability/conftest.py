"""Fixtures for the reliability suite: a seeded demo (copied per test), a bot behind the real
HTTP server on it, and a platform for fuzzing that reads for real but refuses every change.

Everything goes through the real paths: signed HTTP into Bolt, the real store, the real local
platform, Slack calls into the fake Slack server (which can fail on demand).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.runtime import build_runtime, serve_http
from bot.sandbox import seed
from infra.platform.base import MLPlatform
from infra.platform.local import LocalPlatform
from infra.settings import Secrets, Settings
from tests.fakes.slack_server import FakeSlackServer
from tests.scenarios.approvals.conftest import make_bot
from tests.scenarios.scheduling.conftest import clock, harness, make_harness, platform, quick_charts
from tests.scenarios.slackapp.conftest import RunningBot, embedded_settings

#: Fixtures of the approvals and scheduling harnesses, reused here.
__all__ = ["clock", "harness", "make_bot", "make_harness", "platform", "quick_charts"]


def bot_secrets(slack: FakeSlackServer) -> Secrets:
    return Secrets(
        slack_bot_token=seed.BOT_TOKEN,
        slack_signing_secret=seed.SIGNING_SECRET,
        slack_api_url=slack.base_url,
        slack_app_token=None,
        mlops_bot_database_url=None,
    )


@pytest.fixture
def start_demo_bot(
    state_dir: Path, slack_server: FakeSlackServer
) -> Iterator[Callable[..., RunningBot]]:
    """``start_demo_bot(settings=None, platform=None)``: the real bot behind the real HTTP server
    on the demo copy (background services off unless asked), stopped after the test."""
    started: list[RunningBot] = []

    def start(
        settings: Settings | None = None,
        platform: Callable[[Settings], MLPlatform] | None = None,
        background: bool = False,
    ) -> RunningBot:
        settings = settings or embedded_settings(state_dir)
        runtime = build_runtime(
            settings,
            bot_secrets(slack_server),
            platform=platform(settings) if platform else LocalPlatform(settings),
            start_background=background,
        )
        bot = RunningBot(runtime, serve_http(runtime, "127.0.0.1", 0), slack_server)
        started.append(bot)
        return bot

    yield start
    for bot in reversed(started):
        bot.runtime.stop()


class CapturedLogs(logging.Handler):
    """Every log record of the test, formatted as the bot's handler would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured_logs() -> Iterator[CapturedLogs]:
    from infra.logs import RedactingFilter

    handler = CapturedLogs()
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
