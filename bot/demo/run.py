"""`mlops-bot demo`: the whole bot on a laptop, with no Slack workspace and no Azure.

Without flags: seed the embedded local platform (once; ``--reset`` deletes the state and seeds
again), start the sandbox Slack and its page,
the bot wired to it, its scheduler on accelerated schedules and simulated live traffic, print the
URL and run until Ctrl-C.

``--once --out DIR``: the same stack without a browser or a clock: seed, ask for a status card,
run every monitoring job once, write every message the bot posted (JSON) and every chart it
uploaded (PNG) into DIR, exit 0 when each step posted something (the CI smoke test).
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import logging
import os
import signal
import sys
import threading
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from infra.settings import Settings

if TYPE_CHECKING:
    from bot.demo.live import DemoSession
    from bot.demo.seed import SeedSummary

console = Console(highlight=False)

DEFAULT_PORT = 8080
LEVEL_STYLE = {"healthy": "green", "warning": "yellow", "breach": "red", "ok": "green"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``demo`` subcommand's options (bot/cli.py adds them to its parser)."""
    parser.add_argument(
        "--once",
        action="store_true",
        help="headless: run one round of every monitoring job against the sandbox, write what "
        "the bot posted into --out, and exit (the CI smoke test)",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="with --once: where to write the messages (JSON) and charts (PNG); "
        "default ./demo-output",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port of the sandbox page (default {DEFAULT_PORT}, or any free one if taken)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the sandbox page listens on (default 127.0.0.1; 0.0.0.0 in a container)",
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="do not open the page in a browser"
    )
    parser.add_argument(
        "--no-traffic", action="store_true", help="do not send simulated live traffic"
    )
    parser.add_argument(
        "--socket-mode",
        action="store_true",
        help="connect the bot to the sandbox over Socket Mode (a local WebSocket server, as with "
        "SLACK_APP_TOKEN) instead of signed HTTP requests",
    )
    parser.add_argument(
        "--platform-compute",
        action="store_true",
        help="run the drift checks as jobs of the embedded platform's job runner "
        "(monitoring.compute: platform, as on Azure ML compute) instead of inside the bot",
    )
    parser.add_argument(
        "--reset",
        action="store_true",
        help="start over from the seed: delete the demo's state directory (its platform, "
        "approvals, alerts and sandbox messages) and seed it again",
    )


def run_demo(settings: Settings, args: argparse.Namespace) -> int:
    if settings.platform != "local":
        console.print(
            "[red]The demo runs on the embedded local platform; this configuration uses Azure.[/]"
        )
        return 2
    from infra.logs import configure_logging

    configure_logging(logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING)
    if getattr(args, "platform_compute", False):
        monitoring = settings.monitoring.model_copy(update={"compute": "platform"})
        settings = settings.model_copy(update={"monitoring": monitoring})
    if getattr(args, "reset", False):
        from bot.demo.seed import SeedError, reset_demo

        try:
            deleted = reset_demo(settings.state_path)
        except SeedError as exc:
            console.print(f"[red]--reset refused: {escape(str(exc))}[/]")
            return 2
        if deleted:
            console.print(f"Deleted the demo state in {escape(str(settings.state_path))}.")
    summary = _seed(settings)
    console.print(escape(summary.describe()))
    if getattr(args, "once", False):
        return run_once(settings, Path(args.out or "demo-output"))
    return run_live(settings, args)


def _seed(settings: Settings) -> SeedSummary:
    from bot.demo.seed import seed_demo

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("Seeding the demo", total=None)

        def report(message: str, fraction: float | None = None) -> None:
            progress.update(
                task,
                description=message,
                completed=None if fraction is None else fraction * 100,
                total=None if fraction is None else 100,
            )

        return seed_demo(settings, progress=report)


# --------------------------------------------------------------------------- --once


def run_once(settings: Settings, out: Path) -> int:
    from bot.demo.export import export_bot_output
    from bot.demo.live import DemoOptions, DemoSession

    options = DemoOptions(scheduler=False, schedules=None, traffic_seconds=0)
    with DemoSession(settings, options) as session:
        steps = [session.send_command(f"status {model.name}") for model in settings.models]
        steps += session.run_round()
        exported = export_bot_output(session.sandbox.workspace, steps, out)
    table = Table(title="One round against the sandbox", title_justify="left")
    for column in ("step", "verdict", "messages", "charts", "headline"):
        table.add_column(column, overflow="fold")
    for step in steps:
        style = LEVEL_STYLE.get(step.level, "white")
        verdict = "[red]failed[/]" if step.error else f"[{style}]{escape(step.level)}[/]"
        table.add_row(
            escape(step.name),
            verdict,
            str(len(step.messages)) + (f" (+{len(step.edited)} edited)" if step.edited else ""),
            str(len(step.files)),
            escape(step.error or step.headline)[:160],
        )
    console.print(table)
    console.print(
        f"Wrote {len(exported.messages)} messages and {len(exported.charts)} charts to "
        f"{escape(str(out.resolve()))}"
    )
    failed = [s for s in steps if not s.ok]
    for step in failed:
        reason = step.error or "the bot posted nothing"
        console.print(f"[red]{escape(step.name)}: {escape(reason)}[/]")
    return 1 if failed else 0


# --------------------------------------------------------------------------- live


def _bot_line(session: DemoSession) -> str:
    sockets = session.socket_mode_server
    if sockets is None:
        return str(session.page.bot_url or "")
    probes = str(session.page.bot_url or "").rsplit("/slack/events", 1)[0]
    return f"Socket Mode via ws://127.0.0.1:{sockets.port} (probes {probes}/readyz)"


def run_live(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo.live import ACCELERATED_SCHEDULES, DemoOptions, DemoSession

    port = DEFAULT_PORT if args.port is None else args.port
    options = DemoOptions(
        host=args.host,
        port=port,
        traffic_seconds=0 if args.no_traffic else DemoOptions.traffic_seconds,
        socket_mode=args.socket_mode,
    )
    if args.socket_mode and importlib.util.find_spec("websockets") is None:
        console.print("[red]--socket-mode needs the websockets package: pip install -e '.[dev]'[/]")
        return 2
    session = DemoSession(settings, options)
    try:
        url = session.start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or args.port is not None:
            console.print(f"[red]Cannot listen on {args.host}:{port}: {escape(str(exc))}[/]")
            return 2
        session.stop()
        session = DemoSession(settings, DemoOptions(**{**options.__dict__, "port": 0}))
        url = session.start()
    shown = url.replace("://0.0.0.0:", "://127.0.0.1:")
    schedules = ", ".join(f"{kind} {cron}" for kind, cron in ACCELERATED_SCHEDULES.items())
    console.print(
        Panel.fit(
            f"[bold]Open {escape(shown)}[/]\n\n"
            "The sandbox is a local Slack: type [bold]/mlops status churn-model[/] in #mlops, "
            "switch between alice, bob, carol and dave at the bottom left, promote a version to "
            "prod and approve it as two approvers.\n"
            f"Checks run on accelerated schedules ({escape(schedules)} UTC): the first drift "
            "alert lands in #mlops-alerts within about two minutes.\n"
            f"Bot: {escape(_bot_line(session))} · state: "
            f"{escape(str(settings.state_path.resolve()))}\n"
            "Ctrl-C stops everything.",
            title="mlops-bot demo",
            border_style="green",
        )
    )
    if not args.no_browser and _has_gui():
        webbrowser.open(shown)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        console.print("Stopping…")
        session.stop()
    return 0


def _has_gui() -> bool:
    """Only open a browser where one shows up in a window (never a text browser in this
    terminal, which would take it over)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
