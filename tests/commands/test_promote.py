"""`/mlops promote` without Slack: checks before anyone is asked, then one pending request."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.replies import MessageReply, Tone
from infra.store import Approval
from tests.commands.support import Bench, error, usage_error

USAGE = "/mlops promote <model> [<version>] --to <env> [--from <env>]"


def approvals(bench: Bench) -> list[Approval]:
    with bench.store.session() as session:
        return list(session.scalars(select(Approval).order_by(Approval.created_at)))


def test_promote_to_prod_creates_one_pending_request(bench: Bench) -> None:
    reply = bench.command("promote churn-model --to prod")  # the version serving preprod: v2
    assert isinstance(reply, MessageReply)
    assert not reply.public
    assert reply.tone is Tone.SUCCESS
    [request] = approvals(bench)
    assert reply.title == (
        f"Promotion of churn-model v2 from preprod to prod requested (request {request.id})"
    )
    assert "2 distinct approvals from @ml-approvers" in reply.text
    assert "requester's own approval never counts" in reply.text
    assert "expires in 24h" in reply.text and "#mlops-approvals" in reply.text
    assert (request.version, request.source_env, request.target_env) == ("2", "preprod", "prod")
    assert (request.requester, request.state, request.required) == ("U0ALICE", "pending", 2)
    assert request.expires_at - request.created_at == timedelta(hours=24)
    [created] = bench.audits("promotion_request", outcome="created")
    assert (created.actor, created.environment, created.subject) == ("U0ALICE", "prod", request.id)
    assert created.detail == {"version": "2", "source": "preprod", "required": 2}


def test_a_second_promotion_reports_the_pending_one(bench: Bench) -> None:
    first = bench.command("promote churn-model --to prod")
    assert isinstance(first, MessageReply) and first.tone is Tone.SUCCESS
    [request] = approvals(bench)
    reply = error(
        bench.command("promote churn-model v2 --to prod", user="U0BOB"),
        "a promotion of churn-model into prod is already pending",
        f"v2, request {request.id}",
        "wait for it to end or cancel it first",
    )
    assert reply.usage is None
    assert len(approvals(bench)) == 1
    [refused] = bench.audits("promotion_request", outcome="refused")
    assert refused.actor == "U0BOB" and request.id in refused.detail["reason"]


def test_preprod_needs_one_approval_and_defaults_to_what_dev_serves(bench: Bench) -> None:
    reply = bench.command("promote churn-model --to preprod", user="U0DAVE")
    assert isinstance(reply, MessageReply) and reply.tone is Tone.SUCCESS
    assert "v3 from dev to preprod" in (reply.title or "")
    assert "1 distinct approval from @ml-approvers" in reply.text
    [request] = approvals(bench)
    assert (request.version, request.required, request.requester) == ("3", 1, "U0DAVE")


def test_the_target_already_serving_the_version_is_refused(bench: Bench) -> None:
    error(
        bench.command("promote churn-model 1 --from dev --to prod"),
        "prod already serves v1 of churn-model; there is nothing to promote",
    )
    assert approvals(bench) == []
    assert bench.audits("promotion_request", outcome="refused")


def test_a_version_not_deployed_in_the_source_is_refused(bench: Bench) -> None:
    error(
        bench.command("promote churn-model 1 --to preprod"),  # registered in dev, not serving
        "v1 of churn-model is not deployed in dev",
        "deploy or promote it to dev first",
    )
    error(
        bench.command("promote churn-model 7 --to prod"),
        "Not found",
        "version 7",
    )
    assert approvals(bench) == []


def test_a_mistyped_model_or_environment_gets_a_suggestion(bench: Bench) -> None:
    reply = usage_error(bench.command("promote churnmodel --to prod"), USAGE, "unknown model")
    assert reply.suggestion == "churn-model"
    reply = usage_error(bench.command("promote churn-model --to prdo"), USAGE, "'prdo'")
    assert reply.suggestion == "prod"
    assert approvals(bench) == []


def test_missing_arguments_and_the_chain_direction(bench: Bench) -> None:
    usage_error(bench.command("promote"), USAGE, "expected a model name")
    usage_error(bench.command("promote churn-model 2"), USAGE, "say where to promote with --to")
    usage_error(
        bench.command("promote churn-model --to dev"),
        USAGE,
        "dev is the first environment of the chain (dev → preprod → prod)",
    )
    usage_error(
        bench.command("promote churn-model 1 --from prod --to preprod"),
        USAGE,
        "promotions move forward along the chain",
        "prod does not come before preprod",
    )
    usage_error(
        bench.command("promote churn-model v2/1 --to prod"), USAGE, "expected a version like 3"
    )
    # A dotted version is a version: refused only because the registry has none such.
    reply = bench.command("promote churn-model v2.1 --to prod")
    assert "2.1" in reply.message and "expected a version" not in reply.message  # type: ignore[attr-defined]
    assert approvals(bench) == []


def test_promote_permission_is_enforced_and_audited(restricted: Bench) -> None:
    """On a configuration where only @ml-approvers may request prod promotions."""
    error(
        restricted.command("promote churn-model --to prod", user="U0DAVE"),
        "You may not promote in prod",
        "permissions.promote of environment prod: @ml-approvers",
    )
    [denied] = restricted.audits("promote", outcome="denied")
    assert (denied.actor, denied.environment) == ("U0DAVE", "prod")
    assert approvals(restricted) == []
    reply = restricted.command("promote churn-model --to prod", user="U0CAROL")
    assert isinstance(reply, MessageReply) and reply.tone is Tone.SUCCESS
    assert [a.requester for a in approvals(restricted)] == ["U0CAROL"]


def test_two_targets_request_nothing(bench: Bench) -> None:
    reply = bench.command("promote churn-model --to prod --to preprod")
    usage_error(
        reply, "/mlops promote <model> [<version>] --to <env> [--from <env>]", "given twice"
    )
    assert reply.message == "--to is given twice (prod, preprod); give it once"  # type: ignore[attr-defined]
    assert bench.audits("promotion_request") == []
    with bench.store.session() as session:
        assert session.scalars(select(Approval)).all() == []
