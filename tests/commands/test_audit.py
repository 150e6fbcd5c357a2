"""`/mlops audit` without Slack: the append-only trail, oldest first, filtered and limited."""

from __future__ import annotations

from sqlalchemy import select

from infra.store import Approval
from tests.commands.support import Bench, error, usage_error

USAGE = "/mlops audit <model> [--env E] [--request ID] [--limit 50]"


def trail(bench: Bench, text: str) -> tuple[list[tuple[str, str, str]], object]:
    reply = bench.command(text)
    assert type(reply).__name__ == "AuditReply", reply
    assert not reply.public
    return [(e.actor, e.action, e.outcome) for e in reply.entries], reply  # type: ignore[attr-defined]


def make_history(bench: Bench) -> str:
    """A mute, a refused prod rollback and a prod promotion request; returns the request id."""
    bench.command("mute churn-model drift 1h", user="U0BOB")
    error(bench.command("rollback churn-model --env prod"), "You may not roll back")
    bench.command("promote churn-model --to prod")
    with bench.store.session() as session:
        return session.scalars(select(Approval.id)).one()


def test_the_trail_is_oldest_first(bench: Bench) -> None:
    make_history(bench)
    entries, reply = trail(bench, "audit churn-model")
    assert entries == [
        ("U0BOB", "mute", "ok"),
        ("U0ALICE", "rollback", "denied"),
        ("U0ALICE", "promotion_request", "created"),
    ]
    assert (reply.model, reply.environment, reply.truncated) == ("churn-model", None, False)  # type: ignore[attr-defined]
    assert reply.fallback_text == "Audit trail of churn-model: 3 entries"


def test_filters_by_environment_and_request(bench: Bench) -> None:
    request = make_history(bench)
    entries, reply = trail(bench, "audit churn-model --env prod")
    assert entries == [
        ("U0ALICE", "rollback", "denied"),
        ("U0ALICE", "promotion_request", "created"),
    ]
    assert reply.fallback_text == "Audit trail of churn-model in prod: 2 entries"
    entries, reply = trail(bench, f"audit churn-model --request {request.upper()}")
    assert entries == [("U0ALICE", "promotion_request", "created")]
    assert reply.request == request  # type: ignore[attr-defined]


def test_the_limit_keeps_the_newest_and_says_it_truncated(bench: Bench) -> None:
    make_history(bench)
    entries, reply = trail(bench, "audit churn-model --limit 2")
    assert [e[1] for e in entries] == ["rollback", "promotion_request"]
    assert reply.truncated  # type: ignore[attr-defined]
    _, reply = trail(bench, "audit churn-model --limit 3")
    assert not reply.truncated  # type: ignore[attr-defined]


def test_the_empty_trail_of_the_fresh_demo(bench: Bench) -> None:
    entries, reply = trail(bench, "audit churn-model")
    assert entries == [] and not reply.truncated  # type: ignore[attr-defined]


def test_bad_options(bench: Bench) -> None:
    for limit in ("0", "201", "ten"):
        usage_error(
            bench.command(f"audit churn-model --limit {limit}"),
            USAGE,
            f"--limit must be a number from 1 to 200, got '{limit}'",
        )
    usage_error(
        bench.command("audit churn-model --request 42"), USAGE, "expected a request id like"
    )
    reply = usage_error(bench.command("audit churn-model --env staging"), USAGE, "'staging'")
    assert reply.suggestion is None


def test_a_mistyped_or_missing_model(bench: Bench) -> None:
    usage_error(bench.command("audit"), USAGE, "expected a model name")
    reply = usage_error(bench.command("audit churnmodel"), USAGE, "unknown model 'churnmodel'")
    assert reply.suggestion == "churn-model"
