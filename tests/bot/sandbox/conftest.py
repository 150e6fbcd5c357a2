"""Fixtures for these tests come from the fake-Slack plugin (also loaded by tests/conftest.py)."""

from tests.fakes.conftest_plugin import bot_token, signing_secret, slack_client, slack_server

__all__ = ["bot_token", "signing_secret", "slack_client", "slack_server"]
