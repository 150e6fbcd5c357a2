"""A running bot (real Bolt app behind the real HTTP server) on a seeded local platform, talking
to the fake Slack server. Scenario tests send signed HTTP requests, as Slack would."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.demo.seed import SeedPlan
from bot.runtime import Runtime, build_runtime, serve_http
from bot.sandbox import seed
from bot.sandbox.signed_requests import SignedRequest
from bot.slack.server import SlackHTTPServer
from infra.settings import Secrets, Settings, load_settings
from tests.fakes.signing import HttpResult, post
from tests.fakes.slack_server import FakeSlackServer

#: A small demo: enough traffic for every card, seeded once per test session.
SMALL_PLAN = SeedPlan(
    days=6, drift_day=3, history_rows=3000, requests_per_day={0: 80, 1: 30, 2: 20}, batch_rows=40
)


def embedded_settings(state_dir: Path, *, shadow: bool = False) -> Settings:
    """The embedded defaults; without prod's shadow evaluation unless asked (these scenarios
    approve at once; tests/scenarios/approvals/test_shadow.py covers the evaluation)."""
    settings = load_settings(None, state_dir=state_dir)
    if shadow:
        return settings
    environments = tuple(
        env.model_copy(update={"approval": env.approval.model_copy(update={"shadow": None})})
        for env in settings.environments
    )
    return settings.model_copy(update={"environments": environments})


@dataclass
class RunningBot:
    runtime: Runtime
    http: SlackHTTPServer
    slack: FakeSlackServer

    @property
    def events_url(self) -> str:
        return f"{self.http.url}/slack/events"

    def send(self, request: SignedRequest | tuple[bytes, dict[str, str]]) -> HttpResult:
        body, headers = request
        return post(self.events_url, body, headers)

    def command(
        self, text: str, *, user: str = seed.ALICE, channel: str = seed.MLOPS_CHANNEL
    ) -> HttpResult:
        result = self.send(
            self.slack.interactions.slash_command(text, user_id=user, channel_id=channel)
        )
        assert result.status == 200, result.body
        return result

    def wait_for_reply(
        self, predicate: Callable[[dict[str, Any]], bool] = lambda a: True, timeout: float = 20.0
    ) -> dict[str, Any]:
        """The next response_url post or chat.postMessage/chat.update the bot made."""
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            calls = [
                c
                for c in self.slack.calls
                if c.method
                in ("response_url", "chat.postMessage", "chat.update", "chat.postEphemeral")
            ]
            for call in calls[seen:]:
                if predicate(call.args):
                    return call.args
            time.sleep(0.05)
        raise AssertionError(f"no matching reply; calls: {[c.method for c in self.slack.calls]}")

    def drain(self, timeout: float = 60.0) -> None:
        """Wait until the bot has finished the work it started after its acks."""
        assert self.runtime.services.workers.wait_idle(timeout), "bot still busy"


def blocks_text(args: dict[str, Any]) -> str:
    """Every text of a message's blocks, for 'the card says X' assertions."""
    import json

    blocks = args.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return json.dumps(blocks) + " " + str(args.get("text", ""))


@pytest.fixture
def bot(state_dir: Path, slack_server: FakeSlackServer) -> Iterator[RunningBot]:
    settings = embedded_settings(state_dir)
    secrets = Secrets(
        slack_bot_token=seed.BOT_TOKEN,
        slack_signing_secret=seed.SIGNING_SECRET,
        slack_api_url=slack_server.base_url,
        slack_app_token=None,
        mlops_bot_database_url=None,
    )
    runtime = build_runtime(settings, secrets, start_background=False)
    http = serve_http(runtime, "127.0.0.1", 0)
    try:
        yield RunningBot(runtime, http, slack_server)
    finally:
        runtime.stop()
