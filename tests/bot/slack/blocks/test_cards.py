"""Block Kit builders: exact JSON for small cards, limits and escaping for all of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.slack.blocks.common import BlockLimitError, check_limits, esc, section
from bot.slack.blocks.render import message_payload, render
from core.replies import (
    EnvironmentStatus,
    ErrorReply,
    MessageReply,
    PendingApproval,
    ProgressReply,
    SignalVerdict,
    StatusReply,
    Step,
    StepState,
)
from core.reports import MuteReply
from infra.platform.base import Deployment, EndpointState, JobInfo, JobStatus, ModelVersion

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_error_reply_exact_json() -> None:
    blocks = render(
        ErrorReply(
            message="unknown model 'churn'", usage="/mlops status <model>", suggestion="churn-model"
        )
    )
    assert blocks == [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": ":warning: unknown model 'churn'\nDid you mean *churn-model*?",
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Usage: `/mlops status &lt;model&gt;` · `/mlops help` lists every command",
                }
            ],
        },
    ]


def test_user_text_cannot_ping_or_forge_links() -> None:
    payload = message_payload(ErrorReply(message="unknown model '<!channel> <https://evil|click>'"))
    text = payload["blocks"][0]["text"]["text"]
    assert "<!channel>" not in text and "<https://" not in text
    assert "&lt;!channel&gt;" in text
    assert "<!channel>" not in payload["text"]


def test_esc() -> None:
    assert esc("a & <b>") == "a &amp; &lt;b&gt;"


def _status() -> StatusReply:
    dev = EndpointState(
        model="churn-model",
        environment="dev",
        endpoint="churn-dev",
        scoring_url="http://x",
        deployments=(
            Deployment("green", "3", 100, instance_type="local", instance_count=1),
            Deployment("blue", "2", 0, instance_type="local", instance_count=1),
        ),
    )
    prod = EndpointState(
        model="churn-model",
        environment="prod",
        endpoint="churn-prod",
        scoring_url="http://y",
        deployments=(Deployment("blue", "1", 90), Deployment("green", "2", 10)),
    )
    return StatusReply(
        model="churn-model",
        description="Predicts churn",
        task="classification",
        environments=(
            EnvironmentStatus("dev", dev, serving_metrics={"3": {"accuracy": 0.9, "f1": 0.8}}),
            EnvironmentStatus("preprod", None, error="permission denied: AzureML Data Scientist"),
            EnvironmentStatus(
                "prod",
                prod,
                verdicts=(SignalVerdict("drift", "breach", "4/10 features drifted", NOW),),
            ),
        ),
        latest_versions=(
            ModelVersion("churn-model", "3", NOW - timedelta(hours=2), metrics={"accuracy": 0.9}),
        ),
        last_job=JobInfo(
            "job-1",
            "churn-model",
            "dev",
            JobStatus.COMPLETED,
            NOW - timedelta(hours=3),
            started=NOW - timedelta(hours=3),
            ended=NOW - timedelta(hours=2, minutes=58),
            produced_version="3",
        ),
        pending=(
            PendingApproval(
                "a1",
                "churn-model",
                "2",
                "preprod",
                "prod",
                "U0ALICE",
                1,
                2,
                NOW + timedelta(hours=5),
            ),
        ),
    )


def test_status_card_names_every_environment_and_version() -> None:
    payload = message_payload(_status())
    text = str(payload["blocks"])
    for expected in (
        "dev",
        "preprod",
        "prod",
        "*v3* (100%)",
        "*v1* 90%",
        "*v2* 10%",
        "unavailable",
        "AzureML Data Scientist",
        "4/10 features drifted",
        "job-1",
        "<@U0ALICE>",
        "1/2 approvals",
    ):
        assert expected in text, expected
    assert len(payload["blocks"]) <= 50
    assert payload["text"].startswith("Status of churn-model: dev: v3")
    assert "*Drift* breach: 4/10 features drifted" in text


def test_status_names_signals_and_verdicts_in_words() -> None:
    from dataclasses import replace

    from core.replies import SignalVerdict

    status = _status()
    quiet = (SignalVerdict("data_quality", "no_data", "no rows in the window", NOW),)
    env = replace(status.environments[0], verdicts=quiet)
    text = str(render(replace(status, environments=(env, *status.environments[1:]))))
    assert "*Data quality* no data: no rows in the window" in text
    assert "data_quality" not in text and "no_data" not in text


def test_progress_card_marks_each_step() -> None:
    reply = ProgressReply(
        title="Deploy",
        steps=(
            Step("a", StepState.DONE, "ok"),
            Step("b", StepState.FAILED, "boom"),
            Step("c", StepState.SKIPPED),
        ),
        outcome="Rolled back: boom",
    )
    text = str(render(reply))
    assert (
        ":white_check_mark: a" in text
        and ":x: b — _boom_" in text
        and ":heavy_minus_sign: c" in text
    )


def test_limits_are_enforced() -> None:
    with pytest.raises(BlockLimitError, match="at most 50"):
        check_limits([section("x")] * 51)
    long = section("y" * 5000)
    assert len(check_limits([long])[0]["text"]["text"]) == 3000


def test_a_retrain_result_says_whose_metrics_it_compares_with() -> None:
    from core.replies import JobReply

    job = JobInfo(
        "job-2",
        "churn-model",
        "dev",
        JobStatus.COMPLETED,
        NOW,
        metrics={"accuracy": 0.81},
        produced_version="4",
    )
    reply = JobReply(
        heading="Retraining of churn-model finished: new version v4",
        job=job,
        baseline_metrics={"accuracy": 0.79},
        baseline_source="v2 in prod",
    )
    [fields] = [b["fields"] for b in render(reply) if b.get("fields")]
    shown = " ".join(f["text"] for f in fields)
    assert "*Environment*\ndev" in shown
    assert "_v2 in prod:_ accuracy 0.790" in shown  # not an unlabelled "serving now" under dev


def test_instances_are_named_per_deployment() -> None:
    text = str(message_payload(_status())["blocks"])
    # dev has two deployments (v3 serving, v2 kept at 0%): each line says which it is.
    assert "*Instances*\\n`green` 1 × local\\n`blue` 1 × local" in text


def test_a_mute_that_replaces_another_says_so() -> None:
    until = NOW + timedelta(hours=1)
    reply = MuteReply(
        public=True,
        model="churn-model",
        signal="drift",
        until=until,
        by="U0CAROL",
        replaced=(NOW + timedelta(days=7), "U0BOB"),
    )
    text = render(reply)[0]["text"]["text"]
    assert "This replaces the mute until" in text and "<@U0BOB>" in text
    fresh = render(MuteReply(public=True, model="churn-model", signal="drift", until=until))
    assert "replaces" not in fresh[0]["text"]["text"]


def test_a_mute_of_every_signal_and_unmutes_read_as_sentences() -> None:
    until = NOW + timedelta(hours=1)
    every = MuteReply(public=True, model="churn-model", signal="*", until=until)
    assert (
        every.fallback_text
        == "Alerts of churn-model (every signal) muted until 2026-11-26 10:00 UTC"
    )
    one = render(MuteReply(public=True, model="churn-model", signal="drift", removed=1))
    assert one[0]["text"]["text"].endswith("(Drift): 1 mute removed.")
    two = render(MuteReply(public=True, model="churn-model", removed=2))
    assert two[0]["text"]["text"].endswith("(every signal): 2 mutes removed.")


def test_who_asked_is_a_mention_not_a_raw_user_id() -> None:
    reply = MessageReply(
        title="Rolled back churn-model in dev", text="Now v3.", requested_by="U0DAVE"
    )
    [_, note] = render(reply)
    assert note["elements"][0]["text"] == "Requested by <@U0DAVE>"
    both = render(MessageReply(text="x", context="a note", requested_by="U0DAVE"))
    assert both[1]["elements"][0]["text"] == "a note · Requested by <@U0DAVE>"


def test_a_running_job_says_for_how_long_and_a_finished_one_in_how_long() -> None:
    from bot.slack.blocks.status import job_text

    def job(status: JobStatus) -> JobInfo:
        ended = None if status is JobStatus.RUNNING else NOW + timedelta(seconds=2)
        started = NOW if ended else datetime.now(UTC) - timedelta(seconds=2)
        return JobInfo("job-3", "churn-model", "dev", status, NOW, started=started, ended=ended)

    assert "`job-3` running for " in job_text(job(JobStatus.RUNNING))  # 2s, or 3s under load
    assert "`job-3` completed in 2s," in job_text(job(JobStatus.COMPLETED))


def test_a_schedule_shows_its_cron_as_code_and_its_spread_in_words() -> None:
    from bot.slack.blocks.cards import trigger_text

    assert trigger_text("cron 0 3 * * sun UTC") == "cron `0 3 * * sun` UTC"
    spread = trigger_text("cron */2 * * * * UTC + 41s")
    assert spread == "cron `*/2 * * * *` UTC (+41s spread)"
