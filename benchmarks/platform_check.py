"""A drift check inline vs on the platform's compute (``monitoring.compute: platform``) on the
embedded local platform, same seeded demo, same fake Slack, alternating runs.

Inline: the bot reads the window, runs the engine, draws the charts and posts, in its process.
Platform: the bot records and submits a job; the local platform's runner (a detached process)
reads the request log into the job's inputs and runs ``python -m jobs.checkjob``; the bot's
watcher reads ``result.json`` and the PNGs and posts. Printed per mode: wall time from "run the
check" to "summary accepted by Slack", CPU in the bot's process, CPU in child processes, and
for platform runs the job's own phases (submit -> runner started -> job ended -> applied).

    python benchmarks/platform_check.py [--runs 3] [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.sandbox.seed import MLOPS_CHANNEL
from infra.defaults import DEMO_MODEL, demo_config

ENV = "prod"
WINDOW = timedelta(days=1)


def seed(state: Path) -> None:
    from bot.demo.seed import seed_demo
    from infra.settings import Settings

    settings = Settings.model_validate(demo_config()).model_copy(
        update={"resolved_state_dir": str(state)}
    )
    seed_demo(settings)


def services_for(state: Path, compute: str, db: Path, slack_url: str) -> Any:
    from bot.runtime import build_services, open_platform
    from bot.sandbox import seed as sandbox
    from bot.slack.responder import make_client
    from infra.platform.local import LocalPlatform
    from infra.settings import Settings
    from infra.store import open_store

    raw = demo_config()
    raw["monitoring"] = {"compute": compute}
    raw["slack"]["scheduled_summaries"] = "every_run"
    settings = Settings.model_validate(raw).model_copy(update={"resolved_state_dir": str(state)})
    platform = open_platform(settings, LocalPlatform(settings))
    client = make_client(sandbox.BOT_TOKEN, slack_url)
    return build_services(settings, platform, open_store(f"sqlite:///{db}"), client)


def cpu() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


def one_run(services: Any, slack: Any, compute: str) -> dict[str, float]:
    """One check. ``bot_cpu`` is what the bot's process spends on it: the whole check inline;
    submitting plus applying the result (reading the outputs, alert policy, posting) on the
    platform, not the benchmark's waiting in between (the watcher polls every 10 s in ``serve``).
    ``child_cpu`` is what the platform's processes spent (runner plus check job), counted once
    the runner has exited and been reaped."""
    from jobs.checks.platform import CheckJobs
    from jobs.run import run_kind

    ctx = services.monitor
    posted = len(slack.messages(MLOPS_CHANNEL))
    wall0, (cpu0, child0) = time.perf_counter(), cpu()
    result = run_kind(ctx, "drift", DEMO_MODEL, ENV, window=WINDOW)
    submitted, (cpu1, _) = time.perf_counter(), cpu()
    bot_cpu = cpu1 - cpu0
    if compute == "platform":
        assert result.level == "submitted", result.headline
        name = result.headline.split("submitted as job ", 1)[1].split(" ", 1)[0]
        deadline = time.monotonic() + 300
        while not ctx.platform.check_job(ENV, name).status.finished:
            if time.monotonic() > deadline:
                raise RuntimeError(f"check job {name} did not finish")
            time.sleep(0.05)
        before = cpu()[0]
        assert CheckJobs(ctx).poll() == 1
        bot_cpu += cpu()[0] - before
    deadline = time.monotonic() + 60
    while len(slack.messages(MLOPS_CHANNEL)) <= posted:
        if time.monotonic() > deadline:
            raise RuntimeError("the summary never reached Slack")
        time.sleep(0.02)
    wall1 = time.perf_counter()
    if compute == "platform":
        wait_for_runner(services)
    row: dict[str, float] = {
        "wall": wall1 - wall0,
        "bot_cpu": bot_cpu,
        "child_cpu": cpu()[1] - child0,
        "submit": submitted - wall0,
    }
    if compute == "platform":
        row.update(job_phases(services))
    return row


def wait_for_runner(services: Any, timeout: float = 30.0) -> None:
    """Until the newest check job's runner has exited (and the bot's reaper thread waited for
    it, so its CPU is in RUSAGE_CHILDREN)."""
    import psutil

    row = newest_check_job(services)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(row.runner_pid).status() == psutil.STATUS_ZOMBIE:
                time.sleep(0.02)
                continue
        except psutil.NoSuchProcess:
            return
        time.sleep(0.02)


def newest_check_job(services: Any) -> Any:
    from sqlalchemy import select

    from infra.platform.local.db import jobs
    from infra.platform.local.jobs import CHECK_REASON

    local = services.platform.inner
    with local._env(ENV).jobs.db.read() as conn:
        return conn.execute(
            select(jobs).where(jobs.c.reason == CHECK_REASON).order_by(jobs.c.created.desc())
        ).first()


def job_phases(services: Any) -> dict[str, float]:
    """From the newest check job: queued -> running (runner start), running -> ended."""
    row = newest_check_job(services)
    return {
        "runner_start": (row.started - row.created).total_seconds(),
        "job_run": (row.ended - row.started).total_seconds(),
    }


def summarize(name: str, rows: list[dict[str, float]]) -> dict[str, float]:
    keys = rows[0].keys()
    med = {k: statistics.median(r[k] for r in rows) for k in keys}
    spread = {k: (min(r[k] for r in rows), max(r[k] for r in rows)) for k in keys}
    parts = [f"{k} {med[k]:.2f}s ({spread[k][0]:.2f}-{spread[k][1]:.2f})" for k in keys]
    print(f"{name:9s} " + " · ".join(parts))
    return med


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--state-dir", type=Path, help="a seeded demo state to reuse")
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    from tests.fakes.slack_server import running_slack_server

    work = Path(tempfile.mkdtemp(prefix="platform-check-"))
    state = args.state_dir or work / "state"
    if args.state_dir is None:
        started = time.perf_counter()
        seed(state)
        print(f"seeded the demo in {time.perf_counter() - started:.0f}s: {state}")
    results: dict[str, list[dict[str, float]]] = {"inline": [], "platform": []}
    with running_slack_server() as slack:
        services = {
            mode: services_for(state, mode, work / f"{mode}.db", slack.base_url) for mode in results
        }
        for mode in results:  # warm both paths (imports, first parquet read) once, unmeasured
            one_run(services[mode], slack, mode)
        for _ in range(args.runs):
            for mode in results:
                results[mode].append(one_run(services[mode], slack, mode))
        for s in services.values():
            s.workers.shutdown(wait=True)
            s.platform.close()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load} on {os.cpu_count()} CPUs")
    print(f"drift check of {DEMO_MODEL} in {ENV}, window {WINDOW}, median of {args.runs} (range)")
    inline = summarize("inline", results["inline"])
    platform = summarize("platform", results["platform"])
    print(
        f"\nplatform / inline: wall {platform['wall'] / inline['wall']:.2f}x, "
        f"CPU in the bot's process {platform['bot_cpu'] / max(inline['bot_cpu'], 1e-9):.2f}x, "
        f"total CPU {(platform['bot_cpu'] + platform['child_cpu']) / inline['bot_cpu']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
