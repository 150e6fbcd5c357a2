"""`/mlops jobs` without Slack: recent training jobs, newest first, and scheduled jobs."""

from __future__ import annotations

from datetime import UTC, datetime

from core.replies import JobsReply, ScheduledJobRow
from tests.commands.support import Bench, usage_error

USAGE = "/mlops jobs [<model>]"


def test_the_seeded_training_jobs_newest_first(bench: Bench) -> None:
    reply = bench.command("jobs churn-model")
    assert isinstance(reply, JobsReply)
    assert not reply.public
    assert reply.model == "churn-model"
    assert [(r.model, r.environment) for r in reply.rows] == [("churn-model", "dev")] * 3
    assert [r.job.produced_version for r in reply.rows] == ["3", "2", "1"]
    assert all(r.job.status.value == "completed" for r in reply.rows)
    created = [r.job.created for r in reply.rows]
    assert created == sorted(created, reverse=True)
    assert reply.scheduled == ()  # no scheduler runs in this process
    assert reply.fallback_text == "3 recent jobs"


def test_without_a_model_every_model_and_the_scheduler_are_asked(bench: Bench) -> None:
    asked: list[str | None] = []
    row = ScheduledJobRow("drift churn-model prod", datetime(2030, 1, 1, tzinfo=UTC), "0 * * * *")

    def scheduled(model: str | None) -> list[ScheduledJobRow]:
        asked.append(model)
        return [row]

    reply = bench.command("jobs", scheduled_jobs=scheduled)
    assert isinstance(reply, JobsReply)
    assert reply.model is None and len(reply.rows) == 3
    assert reply.scheduled == (row,)
    reply = bench.command("jobs CHURN-MODEL", scheduled_jobs=scheduled)
    assert asked == [None, "churn-model"]


def test_a_mistyped_model_gets_a_suggestion(bench: Bench) -> None:
    reply = usage_error(bench.command("jobs churn_model"), USAGE, "unknown model 'churn_model'")
    assert reply.suggestion == "churn-model"


def test_extra_words_are_refused(bench: Bench) -> None:
    usage_error(bench.command("jobs churn-model dev"), USAGE, "unexpected extra words: dev")
