"""`/mlops status` without Slack: every environment of the chain, versions, last job, pending."""

from __future__ import annotations

from core.replies import MessageReply, StatusReply, Tone
from tests.commands.support import Bench, usage_error

USAGE = "/mlops status <model> [--env E]"


def serving(reply: StatusReply) -> dict[str, list[tuple[str, int]]]:
    return {
        env.name: [(d.model_version, d.traffic) for d in env.endpoint.serving]
        for env in reply.environments
        if env.endpoint is not None
    }


def test_status_of_the_demo(bench: Bench) -> None:
    reply = bench.command("status churn-model")
    assert isinstance(reply, StatusReply)
    assert not reply.public
    assert reply.model == "churn-model" and reply.task == "classification"
    assert reply.description.startswith("Predicts which customers cancel")
    assert [e.name for e in reply.environments] == ["dev", "preprod", "prod"]
    assert serving(reply) == {"dev": [("3", 100)], "preprod": [("2", 100)], "prod": [("1", 100)]}
    assert all(e.error is None for e in reply.environments)
    prod = reply.environments[2]
    assert set(prod.serving_metrics) == {"1"} and "accuracy" in prod.serving_metrics["1"]
    assert [v.version for v in reply.latest_versions] == ["3", "2", "1"]
    assert reply.last_job is not None
    assert reply.last_job.status.value == "completed"
    assert reply.last_job.produced_version == "3"
    assert reply.pending == ()
    assert reply.fallback_text == "Status of churn-model: dev: v3, preprod: v2, prod: v1"


def test_one_environment_with_env_and_case_forgiven(bench: Bench) -> None:
    reply = bench.command("status Churn-Model --env PROD")
    assert isinstance(reply, StatusReply)
    assert [e.name for e in reply.environments] == ["prod"]
    assert serving(reply) == {"prod": [("1", 100)]}
    # the training environment is not shown, but its latest versions still are
    assert [v.version for v in reply.latest_versions] == ["3", "2", "1"]


def test_a_pending_promotion_shows_on_the_status(bench: Bench) -> None:
    requested = bench.command("promote churn-model --to prod")
    assert isinstance(requested, MessageReply) and requested.tone is Tone.SUCCESS, requested
    reply = bench.command("status churn-model")
    assert isinstance(reply, StatusReply)
    assert len(reply.pending) == 1
    pending = reply.pending[0]
    assert (pending.version, pending.source_env, pending.target_env) == ("2", "preprod", "prod")
    assert (pending.requester, pending.votes, pending.required) == ("U0ALICE", 0, 2)


def test_a_mistyped_model_gets_a_suggestion(bench: Bench) -> None:
    reply = usage_error(
        bench.command("status churn-modle"),
        USAGE,
        "unknown model 'churn-modle'",
        "configured models: churn-model",
    )
    assert reply.suggestion == "churn-model"


def test_missing_model_and_bad_options(bench: Bench) -> None:
    usage_error(
        bench.command("status"), USAGE, "expected a model name; configured models: churn-model"
    )
    usage_error(bench.command("status churn-model --env"), USAGE, "--env needs a value")
    usage_error(bench.command("status churn-model prod"), USAGE, "unexpected extra words: prod")
    reply = usage_error(
        bench.command("status churn-model --env prdo"),
        USAGE,
        "unknown environment 'prdo'",
        "dev, preprod, prod",
    )
    assert reply.suggestion == "prod"
