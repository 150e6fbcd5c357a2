"""`/mlops rollback` without Slack: traffic back to the split before the last change."""

from __future__ import annotations

from core.replies import MessageReply, ProgressReply, Tone
from tests.commands.support import Bench, error, usage_error

USAGE = "/mlops rollback <model> --env E"


def split(bench: Bench, env: str) -> dict[str, int]:
    state = bench.platform.endpoint_state("churn-model", env)
    return {d.model_version: d.traffic for d in state.deployments if d.traffic}


def test_rollback_after_a_deploy_restores_the_previous_version(bench: Bench) -> None:
    deployed = bench.command("deploy churn-model 1 --env dev")
    assert isinstance(deployed, ProgressReply) and deployed.tone is Tone.SUCCESS
    assert split(bench, "dev") == {"1": 100}

    reply = bench.command("rollback churn-model --env dev", user="U0DAVE")
    assert isinstance(reply, MessageReply)
    assert reply.public and reply.tone is Tone.SUCCESS
    assert reply.title == "Rolled back churn-model in dev"
    assert reply.text == "Now serving v3 100% (was v1 100%)."
    assert (reply.requested_by, reply.context) == ("U0DAVE", None)
    assert split(bench, "dev") == {"3": 100}
    [done] = bench.audits("rollback")
    assert (done.actor, done.outcome, done.environment) == ("U0DAVE", "succeeded", "dev")
    assert bench.audits("traffic", actor="U0DAVE")[-1].detail["reason"] == "rollback"


def test_nothing_to_roll_back_to(bench: Bench) -> None:
    error(
        bench.command("rollback churn-model --env dev"),
        "nothing to roll back to in dev",
        "churn-model has no previous deployment",
    )
    assert split(bench, "dev") == {"3": 100}
    assert bench.audits("rollback") == []


def test_prod_rollback_is_for_approvers_and_the_denial_is_audited(bench: Bench) -> None:
    reply = error(
        bench.command("rollback churn-model --env prod"),
        "You may not roll back in prod (permissions.rollback of environment prod: @ml-approvers).",
    )
    assert reply.usage is None
    [denied] = bench.audits("rollback")
    assert (denied.actor, denied.outcome, denied.environment) == ("U0ALICE", "denied", "prod")
    # an approver gets past the permission, to the next rule: prod has nothing to go back to
    error(bench.command("rollback churn-model --env prod", user="U0BOB"), "nothing to roll back")
    assert [a.outcome for a in bench.audits("rollback")] == ["denied"]
    assert split(bench, "prod") == {"1": 100}


def test_a_mistyped_model_gets_a_suggestion(bench: Bench) -> None:
    reply = usage_error(
        bench.command("rollback churn-modl --env dev"), USAGE, "unknown model 'churn-modl'"
    )
    assert reply.suggestion == "churn-model"
    reply = usage_error(bench.command("rollback churn-model --env preprd"), USAGE, "'preprd'")
    assert reply.suggestion == "preprod"


def test_missing_arguments(bench: Bench) -> None:
    usage_error(bench.command("rollback"), USAGE, "expected a model name")
    usage_error(
        bench.command("rollback churn-model"),
        USAGE,
        "say which environment to roll back with --env",
    )
    usage_error(bench.command("rollback churn-model --env"), USAGE, "--env needs a value")
