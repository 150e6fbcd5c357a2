"""`/mlops deploy` without Slack: a real blue/green rollout on the local platform's dev."""

from __future__ import annotations

from core.replies import ProgressReply, StepState, Tone
from tests.commands.support import Bench, error, usage_error

USAGE = "/mlops deploy <model> <version> [--env dev] [--traffic 100]"


def split(bench: Bench, env: str) -> dict[str, int]:
    state = bench.platform.endpoint_state("churn-model", env)
    return {d.model_version: d.traffic for d in state.deployments if d.traffic}


def test_deploy_to_dev_shifts_all_traffic_and_audits(bench: Bench) -> None:
    reply = bench.command("deploy churn-model v1")  # dev is the default: it takes direct deploys
    assert isinstance(reply, ProgressReply)
    assert reply.public and reply.finished
    assert reply.tone is Tone.SUCCESS
    assert reply.title == "Deploy churn-model v1 to dev (100% traffic)"
    assert reply.outcome is not None and reply.outcome.startswith("v1 serves 100% of dev")
    assert reply.actor == "U0ALICE"
    assert [s.state for s in reply.steps] == [StepState.DONE] * len(reply.steps)
    assert any("Smoke test" in s.label for s in reply.steps)
    # the card was edited while the rollout ran, never with an outcome
    assert bench.progress and all(
        isinstance(p, ProgressReply) and not p.finished for p in bench.progress
    )
    assert split(bench, "dev") == {"1": 100}
    assert split(bench, "prod") == {"1": 100}  # nothing else moved
    outcomes = [(a.outcome, a.detail.get("version")) for a in bench.audits("deploy")]
    assert outcomes == [("started", "1"), ("succeeded", "1")]


def test_deploy_with_partial_traffic_keeps_the_old_version(bench: Bench) -> None:
    reply = bench.command("deploy churn-model 2 --env=dev --traffic 25%")
    assert isinstance(reply, ProgressReply) and reply.tone is Tone.SUCCESS
    assert reply.title == "Deploy churn-model v2 to dev (25% traffic)"
    assert split(bench, "dev") == {"3": 75, "2": 25}


def test_a_version_that_does_not_exist_is_refused_before_anything_moves(bench: Bench) -> None:
    error(
        bench.command("deploy churn-model 9 --env dev"),
        "Not found",
        "version 9 is not registered in dev",
        "3, 2, 1",
    )
    assert split(bench, "dev") == {"3": 100}
    assert bench.audits("deploy") == []
    assert bench.progress == []


def test_protected_environments_point_at_promote(bench: Bench) -> None:
    reply = error(
        bench.command("deploy churn-model 2 --env prod", user="U0BOB"),
        "prod does not take direct deploys",
        "/mlops promote churn-model 2 --to prod",
    )
    assert reply.usage is None
    assert split(bench, "prod") == {"1": 100}
    assert bench.audits("deploy") == []


def test_a_mistyped_model_gets_a_suggestion(bench: Bench) -> None:
    reply = usage_error(bench.command("deploy chrun-model 1"), USAGE, "unknown model 'chrun-model'")
    assert reply.suggestion == "churn-model"


def test_missing_and_malformed_arguments(bench: Bench) -> None:
    usage_error(bench.command("deploy"), USAGE, "expected a model name", "churn-model")
    usage_error(
        bench.command("deploy churn-model"),
        USAGE,
        "expected the version of churn-model to deploy to dev",
        "/mlops deploy churn-model 3 --env dev",
    )
    # Without a version to prod, the answer is prod's policy, not a missing version.
    reply = error(
        bench.command("deploy churn-model --env prod"),
        "prod does not take direct deploys",
        "/mlops promote churn-model <version> --to prod",
    )
    assert "expected" not in reply.message
    usage_error(bench.command("deploy churn-model 1;5"), USAGE, "expected a version like 3, v3")
    reply = bench.command("deploy churn-model 1.5")  # a version name, just not registered
    assert "1.5" in reply.message and "expected a version" not in reply.message  # type: ignore[attr-defined]
    usage_error(
        bench.command("deploy churn-model 1 --traffic 150"),
        USAGE,
        "--traffic must be a whole percentage from 0 to 100, got '150'",
    )
    reply = usage_error(bench.command("deploy churn-model 1 --env qa"), USAGE, "'qa'")
    assert reply.suggestion is None
    assert split(bench, "dev") == {"3": 100}


def test_deploy_permission_is_enforced_and_audited(restricted: Bench) -> None:
    """On a configuration where only @ml-approvers deploy in dev: Dave is refused, Bob is not."""
    error(
        restricted.command("deploy churn-model 1 --env dev", user="U0DAVE"),
        "You may not deploy in dev",
        "@ml-approvers",
    )
    denied = restricted.audits("deploy", outcome="denied")
    assert [(a.actor, a.environment) for a in denied] == [("U0DAVE", "dev")]
    assert "@ml-approvers" in denied[0].detail["rule"]
    assert split(restricted, "dev") == {"3": 100}

    reply = restricted.command("deploy churn-model 1 --env dev", user="U0BOB")
    assert isinstance(reply, ProgressReply) and reply.tone is Tone.SUCCESS
    assert split(restricted, "dev") == {"1": 100}


def test_deploying_what_already_serves_everything_is_refused_like_promote(bench: Bench) -> None:
    names = {d.name for d in bench.platform.endpoint_state("churn-model", "dev").deployments}
    error(
        bench.command("deploy churn-model v3 --env dev"),
        "dev already serves v3 of churn-model",
        "nothing to deploy",
    )
    after = bench.platform.endpoint_state("churn-model", "dev")
    assert {d.name for d in after.deployments} == names  # no third deployment
    assert split(bench, "dev") == {"3": 100}
    [refused] = bench.audits("deploy")
    assert (refused.outcome, refused.detail.get("version")) == ("refused", "3")
    assert bench.progress == []


def test_deployment_names_follow_the_one_scheme(bench: Bench) -> None:
    reply = bench.command("deploy churn-model 2 --env dev --traffic 50")
    assert isinstance(reply, ProgressReply) and reply.tone is Tone.SUCCESS
    assert reply.outcome is not None and "as deployment churn-model-v2." in reply.outcome
    again = bench.command("deploy churn-model 2 --env dev")  # v2 serves 50%: not a no-op
    assert isinstance(again, ProgressReply) and again.tone is Tone.SUCCESS
    assert again.outcome is not None and "as deployment churn-model-v2-2." in again.outcome
