"""`/mlops retrain` without Slack: one real training job, and the rules that refuse before it."""

from __future__ import annotations

import time

from sqlalchemy import select

from core.replies import JobReply
from infra.store import JobRun
from tests.commands.support import Bench, error, usage_error

USAGE = "/mlops retrain <model> [key=value ...]"


def job_runs(bench: Bench) -> list[JobRun]:
    with bench.store.session() as session:
        return list(session.scalars(select(JobRun)))


def wait_for_end(bench: Bench, job_id: str, timeout: float = 60.0) -> None:
    """Let the training subprocess finish before its state directory goes away."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bench.platform.get_job("dev", job_id).status.value not in ("queued", "running"):
            return
        time.sleep(0.2)


def test_retrain_submits_one_job_with_the_overrides_and_refuses_a_second(bench: Bench) -> None:
    reply = bench.command("retrain churn-model learning_rate=0.05 max_iter=30", user="U0CAROL")
    assert isinstance(reply, JobReply)
    assert reply.public and reply.heading == "Retraining churn-model submitted"
    job = reply.job
    assert job is not None
    try:
        assert (job.model, job.environment) == ("churn-model", "dev")
        assert dict(job.parameters) == {
            "learning_rate": "0.05",
            "max_iter": "30",
            "max_depth": "4",  # from the configured parameters
        }
        [run] = job_runs(bench)
        assert (run.job_id, run.model, run.environment) == (job.id, "churn-model", "dev")
        assert (run.requested_by, run.reason, run.channel) == (
            "U0CAROL",
            "requested in Slack",
            "C0MLOPS",
        )
        assert bench.submitted == [(job.id, "churn-model", "dev")]
        [audit] = bench.audits("retrain")
        assert (audit.actor, audit.outcome, audit.subject) == ("U0CAROL", "submitted", job.id)
        assert audit.detail["parameters"]["learning_rate"] == "0.05"

        # the job run stays queued/running in the store until the watcher reports its end
        error(
            bench.command("retrain churn-model"),
            "churn-model already has a retraining job in flight",
            job.id,
        )
        assert len(job_runs(bench)) == 1 and len(bench.submitted) == 1
    finally:
        wait_for_end(bench, job.id)


def test_an_override_that_is_not_allowed_submits_nothing(bench: Bench) -> None:
    reply = usage_error(
        bench.command("retrain churn-model foo=1 learning_rate=0.2"),
        USAGE,
        "parameter foo cannot be set from Slack",
        "allowed: learning_rate, max_iter, max_depth, window_days",
    )
    assert reply.suggestion is None
    usage_error(
        bench.command("retrain churn-model max_iter=10 max_iter=20"),
        USAGE,
        "parameter max_iter is given twice",
    )
    assert job_runs(bench) == [] and bench.submitted == []
    assert bench.audits("retrain") == []


def test_a_mistyped_model_gets_a_suggestion(bench: Bench) -> None:
    reply = usage_error(bench.command("retrain churn-mdoel"), USAGE, "unknown model 'churn-mdoel'")
    assert reply.suggestion == "churn-model"
    assert job_runs(bench) == []


def test_missing_model(bench: Bench) -> None:
    usage_error(bench.command("retrain"), USAGE, "expected a model name")
    usage_error(bench.command("retrain learning_rate=0.1"), USAGE, "expected a model name")
    usage_error(bench.command("retrain churn-model extra"), USAGE, "unexpected extra words: extra")
    assert job_runs(bench) == []


def test_retrain_permission_is_enforced_and_audited(restricted: Bench) -> None:
    """On a configuration where only @ml-approvers may retrain (in dev, the training env)."""
    error(
        restricted.command("retrain churn-model", user="U0DAVE"),
        "You may not retrain in dev",
        "@ml-approvers",
    )
    [denied] = restricted.audits("retrain")
    assert (denied.actor, denied.outcome, denied.environment) == ("U0DAVE", "denied", "dev")
    assert job_runs(restricted) == [] and restricted.submitted == []


def test_a_parameter_of_the_wrong_type_is_refused_before_anything_is_submitted(
    bench: Bench,
) -> None:
    reply = error(
        bench.command("retrain churn-model max_iter=abc", user="U0DAVE"),
        "Nothing was submitted",
        "max_iter expects an integer from 1 to 10000, got 'abc'",
    )
    assert not reply.public
    error(
        bench.command("retrain churn-model learning_rate=5 max_depth=2.5"),
        "learning_rate expects a number from 0.0001 to 1, got '5'",
        "max_depth expects an integer from 1 to 64, got '2.5'",
    )
    error(bench.command("retrain churn-model learning_rate=nan"), "learning_rate expects a number")
    assert job_runs(bench) == [] and bench.submitted == []
    assert bench.audits("retrain") == []


def test_a_failed_training_job_shows_no_server_path_or_command_line(bench: Bench) -> None:
    """The script itself rejects the value (as a pipeline without declared types would); the
    card shows what the script said, never where the bot lives or how it ran the script."""
    import json
    import sys

    from bot.slack.blocks.render import message_payload
    from infra.platform.base import JobStatus

    job = bench.platform.submit_training("churn-model", "dev", {"max_iter": "abc"}, reason="t")
    wait_for_end(bench, job.id)
    failed = bench.platform.get_job("dev", job.id)
    assert failed.status is JobStatus.FAILED
    assert str(bench.platform.layout.root) in failed.log_tail + (failed.error or "")

    shown = json.dumps(message_payload(JobReply(public=True, heading="failed", job=failed)))
    assert "invalid int value" in shown
    for leak in (str(bench.platform.layout.root), sys.executable, "$ ", "usage:", "Traceback"):
        assert leak not in shown, leak
