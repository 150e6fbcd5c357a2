"""Black-box: `mlops-bot serve --http` as a separate process, pointed at the fake Slack."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.signed_requests import slash_command
from tests.fakes.processes import free_port, serve_command, serve_env, wait_healthy
from tests.fakes.signing import post
from tests.fakes.slack_server import FakeSlackServer
from tests.scenarios.slackapp.conftest import blocks_text


@pytest.fixture
def served(state_dir: Path, slack_server: FakeSlackServer) -> Iterator[str]:
    port = free_port()
    env = serve_env(slack_server.base_url, state_dir)
    process = subprocess.Popen(
        serve_command(port),
        env=env,
        cwd=state_dir.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{url}/healthz", process, timeout=60)
    except RuntimeError as exc:
        process.kill()
        pytest.fail(f"{exc}\n{process.stdout.read().decode()}")
    try:
        yield url
    finally:
        process.terminate()
        assert process.wait(20) == 0


def test_serve_answers_a_signed_status_and_refuses_a_forged_one(
    served: str, slack_server: FakeSlackServer
) -> None:
    request = slack_server.interactions.slash_command("status churn-model")
    result = post(f"{served}/slack/events", *request)
    assert result.status == 200 and result.elapsed < 3.0
    call = slack_server.wait_for("response_url", timeout=20)
    text = blocks_text(call.args)
    for env, version in (("dev", "3"), ("preprod", "2"), ("prod", "1")):
        assert f"*{env}*" in text and f"*v{version}* (100%)" in text

    before = len(slack_server.calls)
    forged = slash_command("deploy churn-model 2 --env dev", signing_secret="wrong")
    assert post(f"{served}/slack/events", *forged).status == 401
    time.sleep(0.5)
    assert len(slack_server.calls) == before


def test_serve_without_tokens_says_what_to_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env["MLOPS_BOT_STATE_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--http", "--port", "0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET not set" in result.stdout + result.stderr
