"""`mlops-bot` command line: serve, worker, demo, check-config, run-job, drift, perf.

Every subcommand takes ``--config`` and ``--state-dir``; configuration errors exit 2 with a
message naming the file and the key, before anything starts.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.settings import Settings

#: Subcommands that need neither the configuration nor the platform: ``main`` hands them their
#: arguments before anything else is imported, so ``mlops-bot drift`` starts in a fraction of
#: a second (pyarrow and numpy; pandas and scipy only when the input needs them).
LIGHT_COMMANDS = ("drift", "perf")


@cache
def _consoles() -> tuple[Any, Any]:
    from rich.console import Console

    return Console(stderr=False, highlight=False), Console(stderr=True, highlight=False)


def __getattr__(name: str) -> Any:
    """``console`` and ``err_console``, made on first use (rich costs an import)."""
    if name == "console":
        return _consoles()[0]
    if name == "err_console":
        return _consoles()[1]
    raise AttributeError(f"module 'bot.cli' has no attribute {name!r}")


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        help="YAML configuration file (default: $MLOPS_BOT_CONFIG or ./mlops-bot.yaml; "
        "without one the embedded local platform with the demo model is used)",
    )
    parser.add_argument(
        "--state-dir",
        help="where the embedded platform and the SQLite database live "
        "(default: $MLOPS_BOT_STATE_DIR or ./.mlops-bot)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-bot",
        description="Slack ChatOps for MLOps on Azure Machine Learning.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = sub.add_parser("check-config", help="validate the configuration and print a summary")
    _common(check)
    check.add_argument(
        "--online",
        action="store_true",
        help="also check that every Azure workspace and the registry are reachable with the "
        "bot's identity and the roles it needs",
    )

    demo = sub.add_parser(
        "demo",
        help="the whole bot locally: seed the demo, start a sandbox Slack in the browser, the "
        "bot, its scheduler and live traffic (--once: one headless round for CI)",
    )
    _common(demo)
    from bot.demo.run import add_arguments as add_demo_arguments

    add_demo_arguments(demo)

    serve = sub.add_parser(
        "serve", help="run the Slack app (Socket Mode if SLACK_APP_TOKEN is set, else HTTP)"
    )
    _common(serve)
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument(
        "--http", action="store_true", help="HTTP mode even if SLACK_APP_TOKEN is set"
    )
    serve.add_argument(
        "--no-scheduler",
        action="store_true",
        help="run no scheduled checks here (a Slack-only replica; never takes the scheduler "
        "lease; the outbox and the job watcher still run)",
    )

    worker = sub.add_parser(
        "worker",
        help="run queued monitoring checks until stopped (serve starts one per core; more may "
        "run on other hosts against the same database)",
    )
    _common(worker)
    from bot.cli.worker import add_arguments as add_worker_arguments

    add_worker_arguments(worker)

    run_job = sub.add_parser(
        "run-job",
        help="run one scheduled job once and exit (for cron or CI): "
        "drift, performance, utilization, digest or retrain",
        description="Exit codes: 0 ran, 1 a check found a breach, 2 usage or configuration "
        "error, 3 the job could not run.",
    )
    _common(run_job)
    from bot.cli.run_job import add_arguments as add_run_job_arguments

    add_run_job_arguments(run_job)

    drift = sub.add_parser(
        "drift", help="compare two data files for drift (exit 1 on dataset drift)", add_help=False
    )
    drift.add_argument("args", nargs=argparse.REMAINDER)
    perf = sub.add_parser("perf", help="model performance on a labelled file", add_help=False)
    perf.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _load(args: argparse.Namespace) -> Settings:
    from infra.settings import load_settings

    return load_settings(args.config, state_dir=args.state_dir)


def _configure_logging(verbose: bool) -> None:
    from infra.logs import configure_logging

    configure_logging(logging.DEBUG if verbose else logging.INFO)


def cmd_check_config(args: argparse.Namespace) -> int:
    from bot.cli.summary import settings_summary

    console, err_console = _consoles()
    settings = _load(args)
    console.print(settings_summary(settings))
    problems = settings.policy_problems()
    if problems:
        err_console.print(
            f"[bold red]configuration error[/]: {escape(settings.source or '')}: "
            f"{len(problems)} polic{'ies' if len(problems) > 1 else 'y'} that can never be "
            "satisfied:",
            soft_wrap=True,
        )
        for problem in problems:
            err_console.print(f"  - {escape(problem)}", soft_wrap=True)
        return 2
    if args.online:
        if settings.platform != "azure":
            console.print(
                "[dim]--online: the local platform needs no credentials; nothing to check.[/]"
            )
            return 0
        from infra.platform.azure.online_check import check_azure_access

        failures = 0
        for result in check_azure_access(settings):
            mark = (
                "[red]FAILED[/]"
                if not result.ok
                else "[yellow]warning[/]"
                if result.warning
                else "[green]ok[/]"
            )
            console.print(f"{mark}  {escape(result.target)}: {escape(result.message)}")
            failures += not result.ok
        return 1 if failures else 0
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo.run import run_demo

    return run_demo(_load(args), args)


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.cli.serve import serve

    _configure_logging(args.verbose)
    return serve(_load(args), args)


def cmd_worker(args: argparse.Namespace) -> int:
    from bot.cli.worker import run_worker

    _configure_logging(args.verbose)
    if args.settings_file:
        from bot.workers import load_settings_file

        return run_worker(load_settings_file(args.settings_file), args)
    return run_worker(_load(args), args)


def cmd_run_job(args: argparse.Namespace) -> int:
    from bot.cli.run_job import main as run_job_main
    from infra.logs import configure_logging

    configure_logging(logging.DEBUG if args.verbose else logging.WARNING)
    return run_job_main(args, _load(args))


def _forward(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from bot.cli import drift as drift_cli

        entry = getattr(drift_cli, f"{name}_main")
        return int(entry(args.args))

    return run


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check-config": cmd_check_config,
    "demo": cmd_demo,
    "serve": cmd_serve,
    "worker": cmd_worker,
    "run-job": cmd_run_job,
    "drift": _forward("drift"),
    "perf": _forward("perf"),
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in LIGHT_COMMANDS:
        try:
            return _forward(argv[0])(argparse.Namespace(args=argv[1:]))
        except KeyboardInterrupt:
            return 130
    from infra.settings import ConfigError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        _, err_console = _consoles()
        err_console.print(f"[bold red]configuration error[/]: {escape(str(exc))}", soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
