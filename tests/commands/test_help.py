"""`/mlops help` (and an empty `/mlops`, and an unknown command) without Slack."""

from __future__ import annotations

from commands import registry
from core.replies import HelpReply
from tests.commands.support import Bench, usage_error

ORDER = [
    "status",
    "models",
    "deploy",
    "promote",
    "approvals",
    "rollback",
    "retrain",
    "jobs",
    "drift",
    "perf",
    "usage",
    "backtest",
    "mute",
    "unmute",
    "audit",
    "help",
]


def test_help_lists_every_command_with_usage_and_example(bench: Bench) -> None:
    reply = bench.command("help")
    assert isinstance(reply, HelpReply)
    assert not reply.public
    assert [c.name for c in reply.commands] == ORDER
    deploy = next(c for c in reply.commands if c.name == "deploy")
    assert deploy.usage == "/mlops deploy <model> <version> [--env dev] [--traffic 100]"
    assert deploy.example.startswith("/mlops deploy churn-model")
    for entry in reply.commands:
        assert entry.usage.startswith(f"/mlops {entry.name}")
        assert entry.example.startswith(f"/mlops {entry.name}")
        assert entry.summary
    assert reply.intro == "Models: churn-model. Environments: dev -> preprod -> prod."


def test_an_empty_command_is_help(bench: Bench) -> None:
    for text in ("", "   ", "HELP"):
        reply = bench.command(text)
        assert isinstance(reply, HelpReply), text
        assert len(reply.commands) == len(registry.MODULES)


def test_an_unknown_command_suggests_the_closest_with_its_usage(bench: Bench) -> None:
    reply = usage_error(bench.command("hlep"), "/mlops help [command]", "unknown command 'hlep'")
    assert reply.suggestion == "help"
    reply = usage_error(
        bench.command("promot churn-model --to prod"),
        "/mlops promote <model> [<version>] --to <env> [--from <env>]",
    )
    assert reply.suggestion == "promote"


def test_a_command_nothing_resembles_points_at_help(bench: Bench) -> None:
    reply = usage_error(bench.command("xyzzy"), "/mlops help", "unknown command 'xyzzy'")
    assert reply.suggestion is None
    assert bench.audits() == []  # nothing ran, nothing was recorded


def test_every_example_in_help_works_on_the_demo(bench: Bench) -> None:
    """Run in help's order, as a new user trying each would: none is refused."""
    import time

    from core.replies import ErrorReply, JobReply

    reply = bench.command("help")
    assert isinstance(reply, HelpReply)
    jobs = []
    try:
        for entry in reply.commands:
            answer = bench.command(entry.example.removeprefix("/mlops "))
            assert not isinstance(answer, ErrorReply), (entry.example, answer)
            if isinstance(answer, JobReply) and answer.job is not None:
                jobs.append(answer.job.id)
    finally:
        deadline = time.monotonic() + 60
        while jobs and time.monotonic() < deadline:  # let the training job end in its state
            jobs = [
                j
                for j in jobs
                if bench.platform.get_job("dev", j).status.value in ("queued", "running")
            ]
            time.sleep(0.2)


def test_help_for_one_command_shows_it_with_its_details(bench: Bench) -> None:
    reply = bench.command("help backtest")
    assert isinstance(reply, HelpReply)
    assert [c.name for c in reply.commands] == ["backtest"]
    assert reply.intro is not None and "--min-accuracy" in reply.intro
    usage_error(bench.command("help backtst"), "/mlops help [command]", "no command 'backtst'")
    assert bench.command("help backtst").suggestion == "backtest"  # type: ignore[attr-defined]
    usage_error(bench.command("help status extra"), "/mlops help [command]", "one command name")
