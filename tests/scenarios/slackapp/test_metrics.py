"""``/metrics`` on the running bot: a signed command is counted in the ack histogram, and the
backlog gauges read the database at scrape time (no polling), so a message Slack refuses
shows in the outbox depth and age at once and leaves it when it is delivered."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from types import SimpleNamespace

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from bot.sandbox import seed
from infra.store import OutboxMessage
from jobs.run import run_kind
from tests.scenarios.slackapp.conftest import RunningBot


def scrape(bot: RunningBot) -> tuple[str, dict[tuple[str, frozenset], float]]:
    with urllib.request.urlopen(f"{bot.http.url}/metrics", timeout=10) as response:
        content_type = response.headers["Content-Type"]
        text = response.read().decode()
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return content_type, samples


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_metrics_count_a_signed_command_and_read_the_outbox_at_scrape_time(
    bot: RunningBot,
) -> None:
    content_type, before = scrape(bot)
    assert content_type.startswith("text/plain; version=")  # Prometheus text format
    assert value(before, "mlops_bot_ack_seconds_count", mode="http", kind="command") is None
    assert value(before, "mlops_bot_outbox_depth") == 0
    assert value(before, "mlops_bot_leader", role="scheduler") == 0  # no scheduler here
    assert value(before, "mlops_bot_platform_breakers_open") == 0
    # The monitoring work queue, read at scrape time: nothing waits on a fresh bot.
    assert value(before, "mlops_bot_work_queue_depth") == 0

    # Slack refuses posts: a message that matters waits in the outbox.
    bot.slack.inject("chat.postMessage", status=503, times=None)
    delivery = bot.runtime.services.outbox.post(
        "metrics-test", seed.ALERTS_CHANNEL, "waiting for Slack"
    )
    assert delivery.ref is None

    bot.command("status churn-model")
    bot.wait_for_reply(lambda args: "churn-model" in str(args))
    bot.drain()

    _, after = scrape(bot)
    assert value(after, "mlops_bot_ack_seconds_count", mode="http", kind="command") == 1
    # The ack was fast enough to land in Slack's 3-second window.
    assert value(after, "mlops_bot_ack_seconds_bucket", mode="http", kind="command", le="3.0") == 1
    assert value(after, "mlops_bot_outbox_depth") == 1
    age = value(after, "mlops_bot_outbox_oldest_age_seconds")
    assert age is not None and 0 <= age < 120
    assert value(after, "mlops_bot_inbox_depth") == 0  # the command ran and was marked done
    assert value(after, "mlops_bot_scrape_errors", source="outbox") is None
    # The status card read the platform through the guard, which timed each call.
    assert (
        value(after, "mlops_bot_platform_call_seconds_count", operation="endpoint_state") or 0
    ) > 0

    # A scheduled check (run here as the scheduler would) is timed by kind and outcome.
    result = run_kind(bot.runtime.services.monitor, "drift", "churn-model", "prod", publish=False)
    assert result.level != "unknown", result.headline
    _, checked = scrape(bot)
    assert value(checked, "mlops_bot_check_duration_seconds_count", kind="drift", outcome="ok") == 1
    assert (
        value(checked, "mlops_bot_check_duration_seconds_sum", kind="drift", outcome="ok") or 0
    ) > 0

    # Slack is back: once the message is delivered the next scrape no longer counts it.
    bot.slack.clear_faults()
    outbox = bot.runtime.services.outbox
    deadline = time.monotonic() + 20
    while outbox.is_pending("metrics-test") and time.monotonic() < deadline:
        outbox.release_dead_claims()
        with bot.runtime.store.session() as session:  # due now, not after the backoff
            session.execute(update(OutboxMessage).values(next_attempt_at=OutboxMessage.created_at))
        outbox.deliver_due()
        time.sleep(0.05)
    _, delivered = scrape(bot)
    assert value(delivered, "mlops_bot_outbox_depth") == 0
    assert value(delivered, "mlops_bot_outbox_oldest_age_seconds") == 0


def test_unknown_paths_still_404_and_metrics_need_no_signature(bot: RunningBot) -> None:
    # /metrics is a probe-style GET like /healthz: nothing Slack signs, nothing secret in it.
    _, samples = scrape(bot)
    assert value(samples, "mlops_bot_inbox_depth") == 0
    # The leader flags read whatever scheduler this process runs at scrape time.
    bot.runtime.services.scheduler = SimpleNamespace(  # type: ignore[assignment]
        is_leader=True, watcher_lease=SimpleNamespace(held=False)
    )
    try:
        _, samples = scrape(bot)
    finally:
        bot.runtime.services.scheduler = None
    assert value(samples, "mlops_bot_leader", role="scheduler") == 1
    assert value(samples, "mlops_bot_leader", role="job_watcher") == 0
    try:
        urllib.request.urlopen(f"{bot.http.url}/metricsz", timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code == 404
    else:
        raise AssertionError("an unknown path answered")
