"""Forged, replayed and tampered requests are refused and change nothing.

Signed requests go to the real HTTP server in front of the real Bolt app. "Nothing changed" is
measured on every table of the store, on what each environment serves and on the calls the
bot made to Slack (see ``world.py``).
"""

from __future__ import annotations

import time
import urllib.parse

import pytest

from bot.sandbox import seed
from bot.sandbox.signed_requests import block_actions, sign, slash_command
from bot.slack.blocks.approval import ACTION_APPROVE, ACTION_REJECT
from core.promotion.states import ApprovalState
from tests.scenarios.approvals.harness import wait_until
from tests.scenarios.reliability.world import slack_writes, snapshot
from tests.scenarios.slackapp.conftest import RunningBot, embedded_settings

MODEL = "churn-model"
APPROVALS = seed.APPROVALS_CHANNEL


def world(bot: RunningBot):
    return snapshot(bot.runtime.store, bot.runtime.platform, bot.slack, MODEL)


def new_calls(bot: RunningBot, since: int) -> list[tuple[str, dict]]:
    return [(c.method, c.args) for c in slack_writes(bot.slack)[since:]]


def settle(bot: RunningBot) -> None:
    bot.drain(30)
    time.sleep(0.2)  # let a stray Slack call land before the "after" snapshot


@pytest.fixture
def bot(start_demo_bot) -> RunningBot:
    return start_demo_bot()


def test_bad_signature_missing_headers_stale_timestamp_and_altered_body_get_401(
    bot: RunningBot,
) -> None:
    before = world(bot)
    text = f"deploy {MODEL} 2 --env dev"
    forged = slash_command(text, signing_secret="not-the-signing-secret")
    good = slash_command(text)
    no_signature = {k: v for k, v in good.headers.items() if k != "X-Slack-Signature"}
    no_timestamp = {k: v for k, v in good.headers.items() if k != "X-Slack-Request-Timestamp"}
    stale = slash_command(text, timestamp=int(time.time()) - 5 * 60 - 30)
    future = slash_command(text, timestamp=int(time.time()) + 10 * 60)
    altered = good.body.replace(b"deploy", b"status")
    wrong_version = {
        **good.headers,
        "X-Slack-Signature": "v1=" + good.headers["X-Slack-Signature"][3:],
    }
    attempts = {
        "signed with another secret": forged,
        "no signature": (good.body, no_signature),
        "no timestamp": (good.body, no_timestamp),
        "older than five minutes": stale,
        "from the future": future,
        "body altered after signing": (altered, good.headers),
        "unknown signature version": (good.body, wrong_version),
    }
    for name, (body, headers) in attempts.items():
        result = bot.send((body, headers))
        assert result.status == 401, f"{name}: HTTP {result.status} {result.text}"
    settle(bot)
    assert world(bot).diff(before) == {}


def test_a_valid_request_replayed_is_refused_and_acts_once(bot: RunningBot) -> None:
    request = bot.slack.interactions.slash_command("status churn-model")
    assert bot.send(request).status == 200
    settle(bot)
    before = world(bot)
    for _ in range(3):
        replayed = bot.send(request)
        assert replayed.status == 401, replayed.text
    settle(bot)
    assert world(bot).diff(before) == {}


@pytest.mark.parametrize("action_id", [ACTION_APPROVE, ACTION_REJECT])
def test_a_replayed_click_is_refused_and_changes_nothing(bot: RunningBot, action_id: str) -> None:
    """A click's signature is written with its inbox row (one transaction before the ack), or,
    for Reject (which opens a dialog and records nothing), before its listener acts: either
    way a replay is refused and does nothing."""
    click = block_actions(action_id, value="a" * 12, user_id=seed.BOB)
    assert bot.send(click).status == 200
    settle(bot)
    before, calls = world(bot), len(slack_writes(bot.slack))
    for _ in range(2):
        replayed = bot.send(click)
        assert replayed.status == 401, replayed.text
    settle(bot)
    assert world(bot).diff(before) == {}
    assert new_calls(bot, calls) == []


def test_a_replay_dressed_as_a_slack_retry_changes_nothing(bot: RunningBot) -> None:
    """Slack retries events (never slash commands) with ``X-Slack-Retry-Num``, a header outside
    the signature: a "retried" slash command is refused as a replay; a retried interaction goes
    through to handlers that act once (see tests/scenarios/approvals/test_refusals.py for votes)."""
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    command = bot.slack.interactions.slash_command("status churn-model")
    assert bot.send(command).status == 200
    settle(bot)
    before = world(bot)
    body, headers = command
    assert bot.send((body, {**headers, **retry})).status == 401
    click = block_actions("admin_override", value="x", user_id=seed.BOB)
    assert bot.send(click).status in (200, 404)
    assert bot.send((click.body, {**click.headers, **retry})).status in (200, 404)
    settle(bot)
    assert world(bot).diff(before) == {}


def test_malformed_http_is_refused_without_a_server_error(bot: RunningBot) -> None:
    good = slash_command("status churn-model")
    for headers, status in (
        ({**good.headers, "Content-Length": "-1"}, 400),
        ({**good.headers, "Content-Length": "lots"}, 400),
    ):
        result = _raw_post(bot, good.body, headers)
        assert result == status
    # A body announced as larger than any Slack request is refused before it is read.
    assert _raw_post(bot, good.body, {**good.headers, "Content-Length": "50000000"}) == 413
    # Correctly signed but not a Slack payload at all.
    for body in (b"payload=%7Bnot-json", b"\xff\xfe\x00garbage", b"", b"payload=" + b"[]"):
        result = bot.send(sign(body))
        assert result.status < 500, (body, result.status, result.text)
    assert bot.send(sign(b"{}", content_type="application/json")).status < 500
    assert urllib.parse.urlparse(bot.events_url).path == "/slack/events"


def _raw_post(bot: RunningBot, body: bytes, headers: dict[str, str]) -> int:
    import http.client

    host, port = bot.http.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.putrequest("POST", "/slack/events")
        for key, value in headers.items():
            connection.putheader(key, value)
        connection.endheaders()
        connection.send(body)
        return connection.getresponse().status
    finally:
        connection.close()


def test_unknown_action_ids_are_refused_without_side_effects(bot: RunningBot) -> None:
    before = world(bot)
    for action in ("approval_approve_all", "drop_tables", "admin_override", ""):
        result = bot.send(block_actions(action, value="anything", user_id=seed.BOB))
        assert result.status in (200, 404), result.status
    settle(bot)
    assert world(bot).diff(before) == {}, new_calls(bot, before.slack_calls)


@pytest.fixture
def live_bot(start_demo_bot) -> RunningBot:
    """The bot with its background services (the promotion desk posts request cards)."""
    return start_demo_bot(background=True)


def quiet(bot: RunningBot, still_for: float = 1.0) -> None:
    """Wait until the bot has stopped doing things on its own (cards posted, recorded, edited,
    links sent): the world looks the same for ``still_for`` seconds."""
    deadline = time.monotonic() + 30
    last, since = world(bot), time.monotonic()
    while time.monotonic() < deadline:
        bot.drain(30)
        time.sleep(0.1)
        now = world(bot)
        if now.diff(last):
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= still_for:
            return
    raise AssertionError("the bot kept changing things on its own")


def _request_card(bot: RunningBot, env: str) -> tuple[str, str]:
    before = {m["ts"] for m in bot.slack.messages(APPROVALS)}
    bot.command(f"promote {MODEL} --to {env}", user=seed.ALICE)
    card = wait_until(
        lambda: next((m for m in bot.slack.messages(APPROVALS) if m["ts"] not in before), None),
        timeout=30,
        what=f"the {env} request card",
    )
    desk = bot.runtime.services.desk
    approval = wait_until(
        lambda: next(
            (a for a in desk.book.in_states(list(ApprovalState)) if a.message_ts == card["ts"]),
            None,
        ),
        what="the card to be recorded",
    )
    return approval.id, card["ts"]


def test_tampered_approval_buttons_are_refused_and_recorded(live_bot: RunningBot) -> None:
    bot = live_bot
    prod_id, prod_ts = _request_card(bot, "prod")
    preprod_id, preprod_ts = _request_card(bot, "preprod")
    quiet(bot)
    desk = bot.runtime.services.desk
    before = world(bot)
    act = bot.slack.interactions
    # Bob approves "preprod" from the prod card: another request's id in this card's button.
    bot.send(act.click(APPROVALS, prod_ts, "approval_approve", user_id=seed.BOB, value=preprod_id))
    # A made-up id, and a value that is not an id at all.
    bot.send(act.click(APPROVALS, prod_ts, "approval_approve", user_id=seed.BOB, value="a" * 32))
    bot.send(
        act.click(APPROVALS, prod_ts, "approval_approve", user_id=seed.BOB, value="' OR 1=1 --")
    )
    # The right id, but clicked on a message that is not the card (a forged copy elsewhere).
    bot.send(
        block_actions(
            "approval_approve",
            value=prod_id,
            user_id=seed.BOB,
            channel_id=seed.MLOPS_CHANNEL,
            message_ts=preprod_ts,
            response_url=bot.slack.new_response_url(seed.MLOPS_CHANNEL, seed.BOB, kind="actions"),
        )
    )
    wait_until(
        lambda: len([t for t in _ephemerals(bot, seed.BOB) if "nothing was changed" in t]) >= 4,
        timeout=60,
        what="four refusals",
    )
    settle(bot)
    diff = world(bot).diff(before)
    assert set(diff) <= {"audit_log", "slack_calls"}, diff
    assert diff["audit_log"][0] - diff["audit_log"][1] == 4
    for approval_id in (prod_id, preprod_id):
        approval = desk.book.require(approval_id)
        assert approval.state.value == "pending" and approval.votes == ()
    refused = [e for e in bot.runtime.store.audit_trail(limit=20) if e.outcome == "refused"]
    assert len(refused) == 4


def _ephemerals(bot: RunningBot, user: str) -> list[str]:
    import json

    texts = [json.dumps(m.get("blocks") or m.get("text")) for m in bot.slack.ephemerals(user)]
    texts += [
        json.dumps(c.args)
        for c in bot.slack.calls_of("response_url")
        if c.args.get("response_type") == "ephemeral" or "blocks" in c.args
    ]
    return texts


def test_tampered_deploy_and_promote_buttons_are_refused(bot: RunningBot) -> None:
    before = world(bot)
    for action in ("job_deploy", "job_promote"):
        for value in (
            "other-model|2|dev",  # a model that is not configured
            f"{MODEL}|2|nowhere",  # an environment that does not exist
            f"{MODEL}|<!channel>|dev",
            f"{MODEL}|2",
            "|||",
        ):
            result = bot.send(block_actions(action, value=value, user_id=seed.DAVE))
            assert result.status == 200
    settle(bot)
    diff = world(bot).diff(before)
    assert set(diff) <= {"audit_log", "slack_calls"}, diff
    trail = bot.runtime.store.audit_trail(limit=50)
    refusals = [e for e in trail if e.outcome in ("refused", "error")]
    assert len(refusals) >= 8, [(e.action, e.outcome) for e in trail]


def test_tampered_alert_buttons_are_refused(bot: RunningBot) -> None:
    from datetime import UTC, datetime

    from infra.store import Alert

    with bot.runtime.store.session() as session:
        session.add(
            Alert(
                fingerprint=f"{MODEL}/prod/drift",
                model=MODEL,
                environment="prod",
                signal="drift",
                state="open",
                severity="critical",
                consecutive=2,
                breach_count=2,
                opened_at=datetime.now(UTC),
                channel=seed.ALERTS_CHANNEL,
                message_ts="1700000000.000100",
                flips=[],
                summary={"level": "breach", "headline": "drift"},
                version_no=0,
            )
        )
    before = world(bot)
    for action in ("alert_ack", "alert_mute", "alert_retrain", "alert_details"):
        for value, ts in (
            (f"{MODEL}/prod/drift", "1700000000.000999"),  # the right alert, another message
            (f"{MODEL}/dev/performance", "1700000000.000100"),  # another alert on this card
            ("../../etc/passwd", "1700000000.000100"),
        ):
            bot.send(
                block_actions(
                    action,
                    value=value,
                    user_id=seed.BOB,
                    channel_id=seed.ALERTS_CHANNEL,
                    message_ts=ts,
                    response_url=bot.slack.new_response_url(
                        seed.ALERTS_CHANNEL, seed.BOB, kind="actions"
                    ),
                )
            )
    settle(bot)
    diff = world(bot).diff(before)
    assert set(diff) <= {"audit_log", "slack_calls"}, diff
    with bot.runtime.store.session() as session:
        row = session.get(Alert, f"{MODEL}/prod/drift")
        assert row.acknowledged_by is None and row.version_no == 0


def test_requests_from_another_workspace_are_refused_when_a_team_is_configured(
    start_demo_bot, state_dir
) -> None:
    settings = embedded_settings(state_dir)
    settings = settings.model_copy(
        update={"slack": settings.slack.model_copy(update={"team_id": seed.TEAM_ID})}
    )
    bot = start_demo_bot(settings=settings)
    before = world(bot)
    foreign = "T0FOREIGN"
    results = [
        bot.send(slash_command(f"deploy {MODEL} 2 --env dev", team_id=foreign)),
        bot.send(slash_command(f"promote {MODEL} --to prod", team_id=foreign)),
        bot.send(block_actions("job_deploy", value=f"{MODEL}|2|dev", team_id=foreign)),
        bot.send(block_actions("approval_approve", value="x" * 32, team_id=foreign)),
    ]
    assert all(r.status == 200 for r in results)
    assert "another Slack workspace" in results[0].text
    settle(bot)
    diff = world(bot).diff(before)
    assert set(diff) == {"audit_log"}, diff  # only the refusals were written down
    assert diff["audit_log"][0] - diff["audit_log"][1] == 4
    # The same requests from the configured team work.
    assert bot.send(slash_command("status churn-model")).status == 200
