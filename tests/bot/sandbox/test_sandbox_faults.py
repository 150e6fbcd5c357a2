"""Injected failures as slack_sdk sees them: retry handlers, SlackApiError, timeouts."""

from __future__ import annotations

import time

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.sandbox import seed
from tests.fakes.slack_server import FakeSlackServer


def test_rate_limit_retry_handler_honours_retry_after(slack_server: FakeSlackServer) -> None:
    client = slack_server.client(retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    fault = slack_server.inject("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()
    response = client.chat_postMessage(channel="#mlops", text="after the limit")
    elapsed = time.monotonic() - started
    assert response["ok"] and fault.hits == 1 and fault.spent
    assert elapsed >= 1.0  # slept for Retry-After before the second attempt
    first, second = slack_server.calls_of("chat.postMessage")
    assert first.http_status == 429 and first.headers["Retry-After"] == "1"
    assert first.response == {"ok": False, "error": "ratelimited"}
    assert second.ok
    assert len(slack_server.messages(seed.MLOPS_CHANNEL)) == 1  # the limited call did nothing


def test_without_a_retry_handler_429_raises(slack_server: FakeSlackServer) -> None:
    slack_server.inject("users.info")
    with pytest.raises(SlackApiError) as limited:
        slack_server.client().users_info(user=seed.ALICE)
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "1"
    assert limited.value.response["error"] == "ratelimited"


def test_server_errors_are_retried_by_the_server_error_handler(
    slack_server: FakeSlackServer,
) -> None:
    client = slack_server.client(retry_handlers=[ServerErrorRetryHandler(max_retry_count=2)])
    slack_server.inject("chat.update", status=503, times=1)
    posted = client.chat_postMessage(channel="#mlops", text="v1")
    updated = client.chat_update(channel=posted["channel"], ts=posted["ts"], text="v2")
    assert updated["text"] == "v2"
    assert [c.http_status for c in slack_server.calls_of("chat.update")] == [503, 200]


def test_ok_false_error_injection_raises_slack_api_error(slack_server: FakeSlackServer) -> None:
    client = slack_server.client()
    slack_server.inject("chat.postMessage", error="channel_not_found", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel="#mlops", text="x")
        assert refused.value.response.status_code == 200
        assert refused.value.response["error"] == "channel_not_found"
    assert client.chat_postMessage(channel="#mlops", text="x")["ok"]


def test_delay_makes_a_client_time_out(slack_server: FakeSlackServer) -> None:
    client = slack_server.client()
    client.timeout = 0.3
    slack_server.inject("views.open", delay=0.8)
    with pytest.raises(TimeoutError):
        client.views_open(trigger_id=slack_server.issue_trigger_id(), view={"type": "modal"})


def test_delay_alone_still_answers(slack_server: FakeSlackServer) -> None:
    slack_server.inject("auth.test", delay=0.2)
    started = time.monotonic()
    assert slack_server.client().auth_test()["ok"]
    assert time.monotonic() - started >= 0.2


def test_fault_until_cleared(slack_server: FakeSlackServer) -> None:
    client = slack_server.client()
    slack_server.inject("auth.test", status=500, times=None)
    for _ in range(3):
        with pytest.raises(SlackApiError):
            client.auth_test()
    slack_server.clear_faults("auth.test")
    assert client.auth_test()["ok"]


def test_faults_only_touch_their_method(slack_server: FakeSlackServer) -> None:
    slack_server.inject("chat.update", error="cant_update_message")
    assert slack_server.client().chat_postMessage(channel="#mlops", text="x")["ok"]
    assert len(slack_server.faults.pending()) == 1
