"""Pytest fixtures for the fake Slack; load with
``pytest_plugins = ["tests.fakes.conftest_plugin"]`` in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.sandbox import seed
from tests.fakes.slack_server import FakeSlackServer, running_slack_server


@pytest.fixture
def signing_secret() -> str:
    """The sandbox signing secret the signed-request builders use by default."""
    return seed.SIGNING_SECRET


@pytest.fixture
def bot_token() -> str:
    """The bot token the fake Slack accepts (``xoxb-...``)."""
    return seed.BOT_TOKEN


@pytest.fixture
def slack_server() -> Iterator[FakeSlackServer]:
    """A started fake Slack with the seeded demo workspace, fresh for each test."""
    with running_slack_server() as server:
        yield server


@pytest.fixture
def slack_client(slack_server: FakeSlackServer) -> WebClient:
    """A slack_sdk WebClient on ``slack_server`` with the bot token."""
    return slack_server.client()
