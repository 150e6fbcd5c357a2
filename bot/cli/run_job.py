"""``mlops-bot run-job <drift|performance|utilization|digest|retrain> --model M [--env E]``.

Runs the same code as the scheduler against the same database (so alert state is shared with
the running bot) and the same Slack settings, then exits. Without ``SLACK_BOT_TOKEN`` it prints
the report and leaves the alert state alone (nobody would see an alert it opened).

Exit codes: 0 the job ran, 1 a check found a breach, 2 configuration or usage error, 3 the job
could not run (data unreachable, platform refused).

Imports stay inside functions so ``mlops-bot --help`` does not load pandas and matplotlib.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.checks import CHECK_KINDS
from jobs.run import (
    EXIT_BREACH,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    KINDS,
    JobResult,
    run_kind,
)

if TYPE_CHECKING:
    from bot.runtime import JobRuntime


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=KINDS, help="which job to run")
    parser.add_argument("--model", help="the configured model (all models for digest)")
    parser.add_argument(
        "--env", help="environment to check (default: every monitored environment of the model)"
    )
    parser.add_argument(
        "--window", help="check window, e.g. 6h or 7d (default: the configured one)"
    )
    parser.add_argument(
        "--at",
        help="end of the window as an ISO time in UTC, e.g. 2026-11-20T08:00 (default: now); "
        "for backfills and reproducing a past verdict",
    )
    parser.add_argument(
        "--no-slack",
        action="store_true",
        help="print the report only: no post, no alert state (retrain still submits the job)",
    )
    parser.add_argument("--save-charts", metavar="DIR", help="also write the charts as PNG files")
    parser.add_argument("--wait", action="store_true", help="retrain: follow the job to its end")


def _parse_at(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--at expects an ISO time like 2026-11-20T08:00, got {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def main(args: argparse.Namespace, settings: Any) -> int:
    """``mlops-bot run-job``: returns the exit code."""
    from rich.console import Console
    from rich.markup import escape

    from bot.runtime import build_job_runtime
    from core.inputs import UsageError, parse_window
    from infra.settings import Secrets

    console = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    try:
        window = parse_window(args.window, usage="--window 7d") if args.window else None
        at = _parse_at(args.at)
    except (UsageError, ValueError) as exc:
        err.print(f"[red]{escape(getattr(exc, 'message', str(exc)))}[/]")
        return EXIT_USAGE
    targets = _targets(settings, args)
    if isinstance(targets, str):
        err.print(f"[red]{escape(targets)}[/]")
        return EXIT_USAGE
    secrets = Secrets()
    publish = bool(secrets.slack_bot_token) and not args.no_slack
    if not publish and not args.no_slack:
        err.print(
            "[yellow]SLACK_BOT_TOKEN is not set: printing the report only (no post, no alert state).[/]"
        )
    clock = (lambda: at) if at is not None else (lambda: datetime.now(UTC))
    services = build_job_runtime(settings, secrets, clock=clock)
    ctx = services.context
    failed = breach = False
    try:
        for model, env in targets:
            options: dict[str, Any] = {"publish": publish}
            if args.kind in CHECK_KINDS:
                options.update(window=window, trigger="run-job")
            try:
                result = run_kind(ctx, args.kind, model, env, **options)
            except Exception as exc:
                from infra.platform.base import PlatformError

                if not isinstance(exc, PlatformError):
                    raise
                result = JobResult(args.kind, model, env, "unknown", f"the platform refused: {exc}")
            _print(console, result)
            if args.save_charts and result.report is not None:
                _save_charts(Path(args.save_charts), result.report, console)
            on_platform = args.kind in CHECK_KINDS and result.level in ("submitted", "held")
            failed |= args.kind in CHECK_KINDS and result.report is None and not on_platform
            breach |= result.level == "breach"
            if args.kind == "retrain" and args.wait and result.level == "submitted":
                _follow(services, console)
            elif on_platform and result.level == "submitted":
                # A check on the platform's compute: wait for its job, then post as inline.
                _follow(services, console)
    finally:
        services.close()
    return EXIT_FAILED if failed else EXIT_BREACH if breach else EXIT_OK


def _targets(settings: Any, args: argparse.Namespace) -> list[tuple[str | None, str | None]] | str:
    if args.kind == "digest":
        return [(None, None)]
    names = [m.name for m in settings.models]
    if not args.model:
        return (
            f"--model is required for {args.kind}; configured models: {', '.join(names) or 'none'}"
        )
    try:
        model = settings.model(args.model)
    except KeyError:
        return f"unknown model {args.model!r}; configured models: {', '.join(names) or 'none'}"
    if args.kind == "retrain":
        return [(model.name, None)]
    if args.env:
        if args.env not in settings.env_names:
            return (
                f"unknown environment {args.env!r}; expected one of {', '.join(settings.env_names)}"
            )
        return [(model.name, args.env)]
    return [(model.name, env) for env in settings.monitored_envs(model)]


def _print(console: Any, result: JobResult) -> None:
    from rich.markup import escape

    colour = {"healthy": "green", "warning": "yellow", "breach": "red", "submitted": "green"}.get(
        result.level, "white"
    )
    where = " · ".join(p for p in (result.model, result.env) if p)
    console.print(
        f"[bold]{escape(result.kind)}[/] {escape(where)}: [{colour}]{escape(result.level)}[/] — "
        f"{escape(result.headline)}"
    )
    for line in result.lines:
        console.print(f"  {escape(line)}")
    if result.posted:
        console.print("  [dim]posted to Slack[/]")


def _save_charts(directory: Path, report: Any, console: Any) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for upload in report.charts:
        path = directory / upload.filename
        path.write_bytes(upload.content)
        console.print(f"  chart: {path}")


def _follow(services: JobRuntime, console: Any, timeout: float = 3600.0) -> None:
    """Poll the job watcher until every unreported job of this run has been reported."""
    import time

    from sqlalchemy import select

    from infra.store import CheckJobRun, JobRun
    from jobs.checks.platform import CheckJobs
    from jobs.watcher import JobWatcher

    watcher = JobWatcher(services.context, also=(CheckJobs(services.context).poll,))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        watcher.poll_once()
        with services.context.store.read() as session:
            pending = session.scalars(select(JobRun).where(JobRun.reported.is_(False))).all()
            pending += session.scalars(
                select(CheckJobRun).where(CheckJobRun.reported.is_(False))
            ).all()
        if not pending:
            console.print("  the job finished and its result was posted")
            return
        time.sleep(2.0)
    console.print("  [yellow]stopped waiting; the running bot will report the end[/]")
