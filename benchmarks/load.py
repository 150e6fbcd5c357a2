"""Load, concurrency and soak of the running bot, with the figures RELIABILITY.md quotes.

Three parts (``--only acks|clicks|soak`` runs one):

1. **acks** — N signed slash commands (a mix of status, models, jobs, approvals, help and typos)
   at concurrency C against ``mlops-bot serve`` in a subprocess, on a seeded demo, with the fake
   Slack in this process. Reports p50/p95/p99/max ack latency, how many took over Slack's 3 s,
   how long until every answer was delivered, and the server's RSS and open files before/after.
2. **clicks** — R promotion requests (one per model) and K approve clicks on each (the two
   approvers twice, a non-approver once), all at the same moment against the real HTTP server:
   exactly R rollouts must run, each creating one deployment.
3. **soak** — S accelerated scheduled checks (utilization, drift, performance; drift flips
   every few checks so alerts open, reply and resolve) through the real scheduler, store,
   outbox and Slack client in a child process; its RSS, open file descriptors and threads are
   sampled every ``--sample-every`` checks. A few checks in every hundred render real charts.

    python benchmarks/load.py                          # everything, the issue's sizes
    python benchmarks/load.py --only acks --requests 500 --concurrency 50
    python benchmarks/load.py --only soak --checks 10000 --sample-every 1000

Exit code 0 when every target held: all acks under 3 s, every answer delivered, exactly one
rollout per request, memory and descriptors flat over the soak (the last quarter's samples
after warm-up within ``--flat-mb`` MB and ``--flat-fds`` descriptors of the first).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from tests.fakes.processes import free_port, serve_command, serve_env, wait_healthy  # noqa: E402

COMMAND_MIX = (
    ["status churn-model"] * 5
    + ["models", "jobs churn-model", "approvals", "help", "stauts churn-model"]
    + ["status <!channel>", "audit churn-model --limit 20"]
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency_stats(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
        "over_3s": float(sum(t > 3.0 for t in latencies)),
    }


def process_figures(pid: int) -> dict[str, float]:
    import psutil

    process = psutil.Process(pid)
    return {
        "rss_mb": process.memory_info().rss / 2**20,
        "fds": float(process.num_fds()),
        "threads": float(process.num_threads()),
    }


# --------------------------------------------------------------------------- 1. acks


def ack_load(
    requests: int, concurrency: int, *, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Signed slash commands against ``mlops-bot serve`` in a subprocess."""
    from bot.demo.seed import seed_demo
    from infra.settings import load_settings
    from tests.fakes.signing import post
    from tests.fakes.slack_server import running_slack_server
    from tests.scenarios.slackapp.conftest import SMALL_PLAN

    with running_slack_server() as slack, tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        log("seeding a small demo ...")
        seed_demo(load_settings(None, state_dir=state), plan=SMALL_PLAN)
        env = serve_env(slack.base_url, state, MLOPS_BOT_SCHEDULE="off", PYTHONPATH=str(ROOT))
        port = free_port()
        # The server's log goes to a file: a pipe nobody reads would fill up and block it.
        server_log = (Path(tmp) / "serve.log").open("w")
        server = subprocess.Popen(
            serve_command(port),
            env=env,
            cwd=tmp,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_healthy(f"http://127.0.0.1:{port}/healthz", server, timeout=90)
            url = f"http://127.0.0.1:{port}/slack/events"

            def send_all(count: int) -> tuple[list[float], list[str]]:
                urls = [slack.new_response_url() for _ in range(count)]
                signed = [_signed(COMMAND_MIX[i % len(COMMAND_MIX)], urls[i]) for i in range(count)]

                def one(request: Any) -> float:
                    started = time.perf_counter()
                    result = post(url, *request, timeout=30)
                    if result.status != 200:
                        raise RuntimeError(f"HTTP {result.status}: {result.text[:200]}")
                    return time.perf_counter() - started

                with ThreadPoolExecutor(concurrency) as pool:
                    return list(pool.map(one, signed)), urls

            send_all(20)  # warm up: imports, first SQLite pages
            _wait_answers(slack, 20, 120)
            before = process_figures(server.pid)
            answered_before = _answered(slack)
            log(f"{requests} signed slash commands at concurrency {concurrency} ...")
            started = time.perf_counter()
            latencies, _ = send_all(requests)
            acked = time.perf_counter() - started
            answered = _wait_answers(slack, answered_before + requests, 600) - answered_before
            delivered = time.perf_counter() - started
            after = process_figures(server.pid)
            stats = latency_stats(latencies)
            return {
                "requests": requests,
                "concurrency": concurrency,
                **stats,
                "acked_all_in_s": acked,
                "answered": answered,
                "all_answers_in_s": delivered,
                "server_before": before,
                "server_after": after,
                "ok": stats["over_3s"] == 0 and answered == requests,
            }
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
            server_log.close()


def _signed(text: str, response_url: str) -> Any:
    from bot.sandbox.signed_requests import slash_command

    return slash_command(text, response_url=response_url)


def _answered(slack: Any) -> int:
    return len({c.params.get("url") for c in slack.calls_of("response_url")}) + len(
        [c for c in slack.calls_of("chat.postMessage") if c.http_status == 200]
    )


def _wait_answers(slack: Any, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = _answered(slack)
        if count >= expected:
            return count
        time.sleep(0.1)
    return _answered(slack)


# --------------------------------------------------------------------------- 2. clicks


def click_storm(
    requests: int = 10, *, log: Callable[[str], None] = print, timeout: float = 300.0
) -> dict[str, Any]:
    """R promotion requests, 5 approve clicks on each, all at once: exactly R rollouts."""
    import joblib

    from bot.sandbox import seed
    from core.promotion.states import ApprovalState
    from infra.platform.local import LocalPlatform
    from tests.fakes.signing import post
    from tests.fakes.slack_server import running_slack_server
    from tests.scenarios.approvals.harness import config, settings_for, start_bot, wait_until
    from tests.scenarios.approvals.models import fitted_model

    names = [f"model-{i:02d}" for i in range(requests)]
    with running_slack_server() as slack, tempfile.TemporaryDirectory() as tmp:
        raw = config(bake="0.05s", retire_after="1h")
        template = raw["models"][0]
        raw["models"] = [{**template, "name": name} for name in names]
        settings = settings_for(raw, Path(tmp) / "state")
        log(f"preparing {requests} models (v1 serving prod, v2 serving preprod) ...")
        platform = LocalPlatform(settings)
        try:
            settings.state_path.mkdir(parents=True, exist_ok=True)
            for seed_no, version in ((1, "v1"), (2, "v2")):
                joblib.dump(fitted_model(seed=seed_no), Path(tmp) / f"{version}.joblib")
            for name in names:
                v1 = platform.register_model_file(name, "dev", Path(tmp) / "v1.joblib")
                v2 = platform.register_model_file(name, "dev", Path(tmp) / "v2.joblib")
                for env in ("preprod", "prod"):
                    platform.copy_version(name, v1.version, "dev", env)
                platform.copy_version(name, v2.version, "dev", "preprod")
                _serve(platform, name, v1.version, "prod")
                _serve(platform, name, v2.version, "preprod")
        finally:
            platform.close()
        runtime, http = start_bot(settings, slack.base_url)
        url = f"{http.url}/slack/events"
        try:
            act = slack.interactions
            desk = runtime.services.desk
            for name in names:
                post(url, *act.slash_command(f"promote {name} --to prod", user_id=seed.ALICE))
            cards = wait_until(
                lambda: (
                    len(slack.messages(seed.APPROVALS_CHANNEL)) >= requests
                    and slack.messages(seed.APPROVALS_CHANNEL)
                ),
                timeout=120,
                what="every request card",
            )
            wait_until(
                lambda: (
                    sum(a.published for a in desk.book.in_states([ApprovalState.PENDING]))
                    >= requests
                ),
                timeout=60,
                what="every card recorded",
            )
            clickers = [seed.BOB, seed.CAROL, seed.BOB, seed.CAROL, seed.DAVE]
            signed = [
                act.click(seed.APPROVALS_CHANNEL, card["ts"], "approval_approve", user_id=user)
                for card in cards
                for user in clickers
            ]
            barrier = threading.Barrier(len(signed))
            acks: list[float] = []

            def press(request: Any) -> None:
                barrier.wait()
                started = time.perf_counter()
                result = post(url, *request, timeout=30)
                acks.append(time.perf_counter() - started)
                assert result.status == 200, result.text

            log(f"{len(signed)} approve clicks at the same moment on {requests} requests ...")
            started = time.perf_counter()
            threads = [threading.Thread(target=press, args=(r,)) for r in signed]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            finished = ApprovalState.SUCCEEDED, ApprovalState.ROLLED_BACK, ApprovalState.FAILED
            done = wait_until(
                lambda: (
                    (rows := desk.book.in_states(list(finished))) and len(rows) >= requests and rows
                ),
                timeout=timeout,
                what="every rollout to end",
            )
            elapsed = time.perf_counter() - started
            store = runtime.store
            rollouts = deployments = 0
            for approval in done:
                trail = store.audit_trail(subject=approval.id, limit=500)
                rollouts += sum(
                    1 for e in trail if (e.action, e.outcome) == ("promotion", "rolling_out")
                )
                state = runtime.platform.endpoint_state(approval.model, "prod")
                deployments += [d.model_version for d in state.deployments].count(approval.version)
            states = sorted(a.state.value for a in done)
            return {
                "requests": requests,
                "clicks": len(signed),
                "click_ack_p99_ms": percentile(acks, 0.99) * 1000,
                "click_ack_max_ms": max(acks) * 1000,
                "rollouts_started": rollouts,
                "deployments_created": deployments,
                "succeeded": states.count("succeeded"),
                "all_done_in_s": elapsed,
                "ok": rollouts == requests
                and deployments == requests
                and states.count("succeeded") == requests
                and max(acks) < 3.0,
            }
        finally:
            runtime.stop()


def _serve(platform: Any, model: str, version: str, env: str) -> None:
    """Blue/green by hand: a deployment of ``version`` taking all the traffic."""
    deployment = platform.begin_deploy(model, version, env).wait(60)
    state = platform.endpoint_state(model, env)
    split = {d.name: 0 for d in state.deployments}
    split[deployment.name] = 100
    platform.set_traffic(model, env, split)


# --------------------------------------------------------------------------- 3. soak


def soak(
    checks: int,
    sample_every: int,
    *,
    log: Callable[[str], None] = print,
    real_chart_every: int = 50,
) -> dict[str, Any]:
    """Run the soak in a child process (the fake Slack stays here) and collect its samples."""
    from tests.fakes.slack_server import running_slack_server

    with running_slack_server() as slack, tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--soak-child",
            "--checks",
            str(checks),
            "--sample-every",
            str(sample_every),
            "--real-chart-every",
            str(real_chart_every),
            "--slack-url",
            slack.base_url,
            "--state",
            tmp,
        ]
        child = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"},
        )
        samples: list[dict[str, Any]] = []
        summary: dict[str, Any] = {}
        assert child.stdout is not None
        for line in child.stdout:
            record = json.loads(line)
            if record.get("kind") == "sample":
                samples.append(record)
                log(
                    f"  {record['checks']:>6} checks  RSS {record['rss_mb']:7.1f} MB  "
                    f"fds {record['fds']:4.0f}  threads {record['threads']:3.0f}  "
                    f"{record['elapsed']:7.1f} s"
                )
            else:
                summary = record
        code = child.wait()
        child.stdout.close()
        posted = len(slack.calls_of("chat.postMessage"))
    if code != 0 or not samples:
        raise RuntimeError(f"the soak child failed with exit code {code}")
    return {**summary, "samples": samples, "slack_posts": posted, **flatness(samples)}


def flatness(samples: list[dict[str, Any]]) -> dict[str, float]:
    """Growth after warm-up (imports, caches, SQLite pages, font cache: the first fifth of the
    run): last sample minus first, and the least-squares slope of RSS per 1,000 checks."""
    total = max(int(r["checks"]) for r in samples)
    warm = [r for r in samples if int(r["checks"]) >= total * 0.2] or samples[-2:]
    first, last = warm[0], warm[-1]
    xs = [float(r["checks"]) for r in warm]
    ys = [float(r["rss_mb"]) for r in warm]
    slope = 0.0
    if len(warm) >= 2 and max(xs) > min(xs):
        mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mean_x) ** 2 for x in xs
        )
    return {
        "warm_from_checks": float(first["checks"]),
        "rss_growth_mb": float(last["rss_mb"]) - float(first["rss_mb"]),
        "rss_mb_per_1000_checks": slope * 1000,
        "fd_growth": float(last["fds"]) - float(first["fds"]),
        # A leak keeps growing; a connection pool filling up under load levels off. The second
        # half of the warm run tells them apart.
        "fd_growth_late": float(last["fds"]) - float(warm[len(warm) // 2]["fds"]),
        "thread_growth": float(last["threads"]) - float(first["threads"]),
        "rss_max_mb": max(ys),
        "fds_max": max(float(r["fds"]) for r in warm),
    }


def soak_child(args: argparse.Namespace) -> int:
    """The bot's scheduling side on the scripted platform: real scheduler, store, outbox and
    Slack client; the clock jumps 15 minutes per check so windows, alerts and mutes move."""
    import gc
    from datetime import timedelta

    import psutil

    from bot.runtime import build_services
    from bot.sandbox import seed
    from bot.slack.responder import make_client
    from infra.platform.guard import guarded
    from infra.store import open_store
    from jobs import charts
    from jobs.scheduler import MonitoringScheduler
    from tests.scenarios.scheduling.conftest import CHART_NAMES, Clock, make_settings, tiny_chart
    from tests.scenarios.scheduling.platform import ScriptedPlatform

    real = {name: getattr(charts, name) for name in CHART_NAMES}
    fake = {name: tiny_chart(name) for name in CHART_NAMES}

    state = Path(args.state)
    settings = make_settings(state)
    store = open_store(f"sqlite:///{state / 'bot.db'}")
    scripted = ScriptedPlatform()
    services = build_services(
        settings, guarded(scripted), store, make_client(seed.BOT_TOKEN, args.slack_url)
    )
    clock = Clock()
    # One thread runs the queued checks: the soak runs them one at a time anyway, and matplotlib
    # opens its font files once per drawing thread, so with several threads each one's first
    # real chart (every 50th check) adds descriptors late in the run: warm-up, not growth.
    scheduler = MonitoringScheduler(
        services.monitor, clock=clock, lease_ttl=timedelta(seconds=30), max_workers=1
    )
    services.scheduler = scheduler
    scheduler.start()
    outbox = services.outbox
    outbox.start()
    # Mostly the cheap utilization check; drift and performance open and resolve alerts.
    jobs = [
        "utilization:churn:prod",
        "drift:churn:prod",
        "utilization:churn:prod",
        "utilization:churn:prod",
        "drift:churn:prod",
        "utilization:churn:prod",
        "utilization:churn:prod",
        "performance:churn:prod",
    ]
    process = psutil.Process()
    started = time.perf_counter()
    for i in range(1, args.checks + 1):
        clock.advance(timedelta(minutes=15))
        scripted.drifted = (i // 40) % 2 == 1
        scripted.overloaded = (i // 70) % 2 == 1
        use_real = args.real_chart_every and i % args.real_chart_every == 0
        for name in CHART_NAMES:
            setattr(charts, name, real[name] if use_real else fake[name])
        job = jobs[i % len(jobs)]
        if not scheduler.run_and_wait(job, timeout=120):
            print(json.dumps({"kind": "error", "error": f"{job} did not finish"}), flush=True)
            return 1
        if i % args.sample_every == 0 or i == 1:
            gc.collect()
            print(
                json.dumps(
                    {
                        "kind": "sample",
                        "checks": i,
                        "rss_mb": process.memory_info().rss / 2**20,
                        "fds": process.num_fds(),
                        "threads": process.num_threads(),
                        "elapsed": time.perf_counter() - started,
                    }
                ),
                flush=True,
            )
    counts = outbox.counts()
    scheduler.stop()
    outbox.stop()
    print(
        json.dumps(
            {
                "kind": "summary",
                "checks": args.checks,
                "seconds": time.perf_counter() - started,
                "outbox": counts,
            }
        ),
        flush=True,
    )
    return 0


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["acks", "clicks", "soak"])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--click-requests", type=int, default=10)
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--sample-every", type=int, default=1000)
    parser.add_argument("--real-chart-every", type=int, default=50)
    parser.add_argument("--flat-mb", type=float, default=25.0)
    parser.add_argument("--flat-fds", type=float, default=5.0)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--soak-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--slack-url", help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.soak_child:
        return soak_child(args)

    results: dict[str, Any] = {"load_average": os.getloadavg(), "cpus": os.cpu_count()}
    ok = True
    if args.only in (None, "acks"):
        acks = ack_load(args.requests, args.concurrency)
        results["acks"] = acks
        print(
            f"acks: p50 {acks['p50_ms']:.0f} ms  p95 {acks['p95_ms']:.0f} ms  "
            f"p99 {acks['p99_ms']:.0f} ms  max {acks['max_ms']:.0f} ms  over 3 s: "
            f"{acks['over_3s']:.0f}; {acks['answered']}/{acks['requests']} answered in "
            f"{acks['all_answers_in_s']:.1f} s; server RSS {acks['server_before']['rss_mb']:.0f}"
            f" -> {acks['server_after']['rss_mb']:.0f} MB, fds {acks['server_before']['fds']:.0f}"
            f" -> {acks['server_after']['fds']:.0f}"
        )
        ok &= acks["ok"]
    if args.only in (None, "clicks"):
        clicks = click_storm(args.click_requests)
        results["clicks"] = clicks
        print(
            f"clicks: {clicks['clicks']} clicks on {clicks['requests']} requests -> "
            f"{clicks['rollouts_started']} rollouts, {clicks['deployments_created']} deployments, "
            f"{clicks['succeeded']} succeeded in {clicks['all_done_in_s']:.1f} s; click ack p99 "
            f"{clicks['click_ack_p99_ms']:.0f} ms, max {clicks['click_ack_max_ms']:.0f} ms"
        )
        ok &= clicks["ok"]
    if args.only in (None, "soak"):
        print(f"soak: {args.checks} scheduled checks, sampled every {args.sample_every}")
        figures = soak(args.checks, args.sample_every, real_chart_every=args.real_chart_every)
        results["soak"] = figures
        print(
            f"soak: {figures['checks']} checks in {figures['seconds']:.0f} s; after warm-up "
            f"(check {figures['warm_from_checks']:.0f}): RSS {figures['rss_growth_mb']:+.1f} MB "
            f"({figures['rss_mb_per_1000_checks']:+.2f} MB per 1,000 checks), fds "
            f"{figures['fd_growth']:+.0f}, threads {figures['thread_growth']:+.0f}; outbox "
            f"{figures['outbox']}; {figures['slack_posts']} Slack posts"
        )
        ok &= (
            figures["rss_growth_mb"] <= args.flat_mb
            and figures["fd_growth"] <= args.flat_fds
            and figures["outbox"]["pending"] == 0
        )
    results["load_average_after"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    print("all targets held" if ok else "SOME TARGETS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
