"""`/mlops drift|perf|usage|jobs` answer with the scheduled report; the digest covers every model."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.sandbox import seed
from bot.slack.blocks.render import render
from commands.context import CommandContext, Invocation
from commands.registry import dispatch
from core.replies import ErrorReply, JobsReply, MessageReply, Reply
from core.reports import SummaryReply
from tests.scenarios.scheduling.conftest import Harness, model_config, text_of


def slash(harness: Harness, text: str, progress: list[Reply] | None = None) -> Reply:
    scheduler = harness.scheduler
    ctx = CommandContext(
        settings=harness.settings,
        platform=harness.platform,
        store=harness.store,
        access=harness.services.access,
        invocation=Invocation(user_id=seed.ALICE, text=text, channel_id=seed.MLOPS_CHANNEL),
        clock=harness.clock,
        progress=(progress.append if progress is not None else (lambda reply: None)),
        scheduled_jobs=scheduler.scheduled_jobs if scheduler else None,
    )
    return dispatch(ctx)


def test_drift_command_answers_with_the_report_and_its_charts(harness: Harness) -> None:
    harness.platform.drifted = True
    progress: list[Reply] = []
    reply = slash(harness, "drift churn --window 7d", progress)
    assert isinstance(reply, SummaryReply) and reply.public
    assert isinstance(progress[0], MessageReply) and "Running the drift check" in progress[0].text
    report = reply.report
    assert report is not None and report.kind == "drift" and report.level == "breach"
    assert report.end - report.start == timedelta(days=7)
    assert [u.filename for u in reply.uploads] == [
        "churn-drift-overview.png",
        "churn-distributions.png",
    ]
    assert all(u.content.startswith(b"\x89PNG") and u.alt_text for u in reply.uploads)
    blocks = render(reply)
    assert "5 of 5 features drifted" in text_of({"blocks": blocks})
    assert "run on demand" in text_of({"blocks": blocks})
    # On-demand checks are not part of the scheduled series: no alert, no state.
    assert harness.top_level() == []


@pytest.mark.usefixtures("quick_charts")
def test_perf_and_usage_commands(harness: Harness) -> None:
    harness.platform.drifted = True
    perf = slash(harness, "perf churn")
    assert isinstance(perf, SummaryReply) and perf.report is not None
    assert perf.report.kind == "performance" and perf.report.level == "breach"
    assert "below the baseline" in perf.report.headline
    harness.platform.overloaded = True
    usage = slash(harness, "usage churn --env prod --window 2h")
    assert isinstance(usage, SummaryReply) and usage.report is not None
    assert usage.report.level == "breach" and "over-utilized" in usage.report.headline
    assert "scale up" in usage.report.headline
    render(perf), render(usage)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("drift", "expected a model name"),
        ("drift chrun", "unknown model 'chrun'"),
        ("drift churn --env staging", "unknown environment 'staging'"),
        ("drift churn --window 200d", "at most 90 days"),
        ("usage churn --windw 2h", "did you mean --window"),
    ],
)
def test_bad_input_is_answered_clearly(harness: Harness, text: str, expected: str) -> None:
    reply = slash(harness, text)
    assert isinstance(reply, ErrorReply) and expected in reply.message


def test_jobs_command_lists_the_schedule(harness: Harness) -> None:
    harness.start()
    reply = slash(harness, "jobs churn")
    assert isinstance(reply, JobsReply)
    names = [row.name for row in reply.scheduled]
    runs = [row.next_run for row in reply.scheduled]
    assert runs == sorted(runs), "soonest first"
    by_name = dict(zip(names, runs, strict=True))
    # Every 15 minutes (shifted by the model's stable spread offset): due within 15 minutes.
    now = datetime.now(UTC)
    assert now < by_name["utilization:churn:prod"] <= now + timedelta(minutes=15, seconds=5)
    assert set(names) == {
        "drift:churn:prod",
        "performance:churn:prod",
        "utilization:churn:prod",
        "retrain:churn",
        "digest",
    }
    assert "cron 0 3 * * sun UTC" in {row.trigger for row in reply.scheduled}


@pytest.mark.usefixtures("quick_charts")
def test_the_daily_digest_covers_every_model_worst_first(
    make_harness: Callable[..., Harness],
) -> None:
    harness = make_harness(
        model_config(name="fraud"), model_config(name="churn"), model_config(name="never-checked")
    )
    harness.start()
    harness.clock.advance()
    harness.run("drift:fraud:prod")
    harness.platform.drifted = True
    harness.run("drift:churn:prod")
    harness.run("performance:churn:prod")
    harness.platform.drifted = False
    harness.run("utilization:churn:prod")
    before = len(harness.top_level(seed.MLOPS_CHANNEL))
    harness.run("digest")
    messages = harness.top_level(seed.MLOPS_CHANNEL)
    assert len(messages) == before + 1  # one message for every model
    digest = text_of(messages[-1])
    assert "Daily model health" in digest
    assert digest.index("*churn*") < digest.index("*fraud*") < digest.index("*never-checked*")
    assert "no checks have run yet" in digest
    assert "2 open" in digest  # churn: drift and performance alerts
    charts = [m for m in harness.replies(messages[-1]["ts"], seed.MLOPS_CHANNEL) if m.get("files")]
    assert len(charts) == 1
