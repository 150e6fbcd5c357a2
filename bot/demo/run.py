"""`mlops-bot demo`: seed the embedded local platform (idempotently) and show every environment."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.settings import Settings

console = Console(highlight=False)


def state_table(settings: Settings, platform: object) -> Table:
    from commands.serving import traffic_summary

    table = Table(title="churn-model on the embedded local platform", title_justify="left")
    for column in ("model", "environment", "endpoint", "serving", "deployments", "health"):
        table.add_column(column)
    for model in settings.models:
        for env in settings.env_names:
            state = platform.endpoint_state(model.name, env)  # type: ignore[attr-defined]
            deployments = ", ".join(
                f"{d.name}=v{d.model_version}:{d.traffic}%" for d in state.deployments
            )
            table.add_row(
                model.name,
                env,
                state.endpoint,
                traffic_summary(state),
                deployments or "-",
                "healthy" if state.healthy else "unhealthy",
            )
    return table


def run_demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo.seed import seed_demo
    from bot.platform.factory import build_platform

    if settings.platform != "local":
        console.print(
            "[red]The demo runs on the embedded local platform; this configuration uses Azure.[/]"
        )
        return 2
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

        summary = seed_demo(settings, progress=report)
    console.print(summary.describe() if hasattr(summary, "describe") else str(summary))
    platform = build_platform(settings)
    try:
        console.print(state_table(settings, platform))
    finally:
        platform.close()
    console.print(
        f"State directory: {settings.state_path.resolve()}\n"
        "Next: `mlops-bot check-config` to see the configuration, `pytest` to run the tests."
    )
    return 0
