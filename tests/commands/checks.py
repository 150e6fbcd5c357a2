"""What `/mlops drift`, `perf` and `usage` share: an on-demand check returned as a summary."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core.replies import MessageReply, Reply
from tests.commands.support import Bench, usage_error


def summary(reply: Reply, kind: str, env: str = "prod") -> Any:
    """Assert ``reply`` is the public summary of a ``kind`` check of the demo model in ``env``."""
    assert type(reply).__name__ == "SummaryReply", reply
    assert reply.public
    report = reply.report  # type: ignore[attr-defined]
    assert (report.kind, report.model, report.environment) == (kind, "churn-model", env)
    assert reply.trigger == "on demand"  # type: ignore[attr-defined]
    return reply


def announced(bench: Bench, kind: str, env: str = "prod") -> None:
    """The command said what it runs before the (slow) check started."""
    assert [p.text for p in bench.progress if isinstance(p, MessageReply)] == [
        f"Running the {kind} check of churn-model in {env}…"
    ]


def window(reply: Any) -> timedelta:
    return reply.report.end - reply.report.start


def common_errors(bench: Bench, name: str, usage: str) -> None:
    """Missing model, a mistyped model and environment, a bad window: usage, nothing runs."""
    usage_error(bench.command(name), usage, "expected a model name")
    reply = usage_error(bench.command(f"{name} churn-modle"), usage, "unknown model 'churn-modle'")
    assert reply.suggestion == "churn-model"
    reply = usage_error(bench.command(f"{name} churn-model --env prdo"), usage, "'prdo'")
    assert reply.suggestion == "prod"
    usage_error(
        bench.command(f"{name} churn-model --window forever"),
        usage,
        "expected a duration like 6h, 7d or 30m, got 'forever'",
    )
    usage_error(bench.command(f"{name} churn-model --window 100d"), usage, "at most 90 days")
    usage_error(bench.command(f"{name} churn-model --window 7"), usage, "with its unit, like 7h")
    assert bench.progress == []
