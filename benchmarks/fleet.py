"""A monitoring cycle for a fleet of models run by `mlops-bot serve` and its worker processes,
and what Slack feels of it.

    python benchmarks/fleet.py [--models 1 5 20 50 200] [--requests 200] [--concurrency 10]
                               [--workers N] [--repeat N] [--accelerated MINUTES]

For each fleet size N:

1. A copy of one seeded demo state with N models registered on the local platform: churn-model
   and N-1 copies of it, each with its own reference data, request logs, labels, registered
   versions and a prod endpoint serving it (rows copied in the environment's platform.db).
2. A configuration with drift, performance and utilization checks for every model in prod, all
   scheduled for one minute (cron, ``monitoring.spread`` 0 by default: the worst burst; pass
   ``--spread 10m`` to measure the stream the default spread makes of it), no retraining, no
   digest.
3. ``mlops-bot serve`` in its own process against a local fake Slack, its scheduler leading
   and queueing; the checks run in its worker processes (``--workers``, default one per core;
   ``--workers 0`` runs them in threads of serve, as before issue 15, for comparison).
   Before the minute: ``--requests`` signed ``/mlops status churn-model`` at ``--concurrency``
   (idle). From the minute until every check has posted its summary: the same requests again,
   sent continuously (during). Ack = the HTTP answer; reply = the status card reaching Slack's
   response_url.
4. Prints the cycle's wall time (first fire to last summary), the CPU seconds over the cycle
   of serve and of its workers (``/proc/<pid>/stat``; serve's includes the status requests it
   answered meanwhile), the peak RSS of each process (``VmHWM``), and ack / reply p50 and p99
   idle vs during with the ratios. The cycle ends when every queued run has ended.

``--accelerated MINUTES`` instead runs the demo's accelerated schedules (drift and utilization
every 2 minutes, performance every 5, the default spread) for every model for that long, with
status requests all along, then counts the queued runs: done, late, skipped (coalesced), failed.

Issue 15's targets (item 1): during a 20-model cycle ack p99 <= 1.3x and reply p99 <= 1.5x idle;
a 50-model fleet on the accelerated schedules misses nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

import yaml  # noqa: E402

from infra.defaults import DEMO_MODEL, demo_config  # noqa: E402

PROD = "prod"
KINDS = ("drift", "performance", "utilization")


# --------------------------------------------------------------------------- the fleet


def seed_base(root: Path) -> Path:
    """One small seeded demo (three versions trained for real, a few days of traffic)."""
    from bot.demo.seed import seed_demo
    from tests.bot.demo.seeded import SMALL_PLAN, demo_settings

    state = root / "seed" / "state"
    if not (state / "demo-seed.json").is_file():
        print("seeding the demo once (about 20 s) ...", flush=True)
        seed_demo(demo_settings(state), plan=SMALL_PLAN)
    return state


def model_names(count: int) -> list[str]:
    return [DEMO_MODEL, *(f"{DEMO_MODEL}-{i:03d}" for i in range(2, count + 1))]


def clone_models(state: Path, names: list[str]) -> None:
    """Register copies of the demo model on the local platform, each with its own data."""
    origin = DEMO_MODEL
    source_endpoint = demo_endpoint(PROD)
    for name in names[1:]:
        shutil.copytree(state / "data" / origin, state / "data" / name, dirs_exist_ok=True)
        shutil.copytree(
            state / "envs" / PROD / "traffic" / origin,
            state / "envs" / PROD / "traffic" / name,
            dirs_exist_ok=True,
        )
        shutil.copytree(state / "registry" / origin, state / "registry" / name, dirs_exist_ok=True)
    with sqlite3.connect(state / "envs" / PROD / "platform.db") as db:
        for name in names[1:]:
            endpoint = f"{name}-{PROD}"
            db.execute(
                "INSERT INTO model_versions SELECT ?, version, created, registered, tags, metrics,"
                " training_job, source, replace(artifact, ?, ?), sha256"
                " FROM model_versions WHERE model = ?",
                (name, f"/{origin}/", f"/{name}/", origin),
            )
            db.execute(
                "INSERT INTO endpoints SELECT ?, ?, created FROM endpoints WHERE name = ?",
                (endpoint, name, source_endpoint),
            )
            db.execute(
                "INSERT INTO deployments SELECT ?, name, ?, model_version, traffic,"
                " mirror_traffic, provisioning_state, instance_type, instance_count, created, error"
                " FROM deployments WHERE endpoint = ?",
                (endpoint, name, source_endpoint),
            )
            db.execute(
                "INSERT INTO labels SELECT ?, correlation_id, value, recorded FROM labels"
                " WHERE model = ?",
                (name, origin),
            )


def demo_endpoint(env: str) -> str:
    model = next(m for m in demo_config()["models"] if m["name"] == DEMO_MODEL)
    return str(model["endpoints"][env])


def write_config(
    path: Path, names: list[str], at: datetime | None, spread: str | None, nice: int | None = None
) -> None:
    """The demo configuration with N models whose three prod checks fire at ``at`` (None: on
    the demo's accelerated schedules, with the configured spread unless ``spread``)."""
    from bot.demo.live import ACCELERATED_SCHEDULES

    config = demo_config()
    template = next(m for m in config["models"] if m["name"] == DEMO_MODEL)
    cron = f"{at.minute} {at.hour} * * *" if at is not None else None
    models = []
    for name in names:
        model = json.loads(json.dumps(template))
        model["name"] = name
        if name != DEMO_MODEL:
            model["endpoints"] = {PROD: f"{name}-{PROD}"}
        monitoring = model.setdefault("monitoring", {})
        monitoring["environments"] = [PROD]
        if spread is not None:
            monitoring["spread"] = spread
        for kind in KINDS:
            monitoring.setdefault(kind, {})["schedule"] = cron or ACCELERATED_SCHEDULES[kind]
        model["retraining"] = {**model.get("retraining", {}), "schedule": None}
        models.append(model)
    config["models"] = models
    config["slack"]["digest_schedule"] = None
    if nice is not None:
        config["workers"] = {"nice": nice}
    path.write_text(yaml.safe_dump(config, sort_keys=False))


# --------------------------------------------------------------------------- measuring


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")
    )


@dataclass
class Sample:
    sent: float  # time.time() when the request went out
    ack: float  # seconds until the HTTP answer
    url: str  # its response_url


def send(url: str, slack: Any, count: int, concurrency: int) -> list[Sample]:
    from bot.sandbox.signed_requests import slash_command
    from tests.fakes.signing import post

    def one(_: int) -> Sample:
        response_url = slack.new_response_url()
        body, headers = slash_command("status churn-model", response_url=response_url)
        sent = time.time()
        started = time.perf_counter()
        result = post(url, body, headers, timeout=30)
        ack = time.perf_counter() - started
        if result.status != 200:
            raise RuntimeError(f"HTTP {result.status}: {result.body[:200]!r}")
        return Sample(sent, ack, response_url)

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(count)))


def replies(slack: Any, samples: list[Sample], timeout: float = 300.0) -> list[float]:
    """Seconds from each request to its status card at the response_url (waits for all)."""
    wanted = {s.url: s.sent for s in samples}
    deadline = time.monotonic() + timeout
    while True:
        seen: dict[str, float] = {}
        for call in slack.calls_of("response_url"):
            url = call.params.get("url")
            if url in wanted and url not in seen:
                seen[url] = call.time
        if len(seen) == len(wanted) or time.monotonic() > deadline:
            return [seen[u] - wanted[u] for u in seen]
        time.sleep(0.1)


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


@contextmanager
def serving(
    root: Path, config: Path, state: Path, slack: Any, args: argparse.Namespace
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``mlops-bot serve --http`` on ``config`` with the schedule on, healthy; yields the process
    and its /slack/events URL, and stops it (its log in ``root/serve.log``) on the way out."""
    from tests.fakes.processes import free_port, serve_env, wait_healthy

    extra = {"MLOPS_BOT_WORKERS": str(args.workers)} if args.workers is not None else {}
    env = serve_env(slack.base_url, state, MLOPS_BOT_SCHEDULE="on", PYTHONPATH=str(ROOT), **extra)
    port = free_port()
    command = [sys.executable, "-m", "bot.cli", "serve", "--config", str(config), "--http"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with (root / "serve.log").open("w") as log:
        server = subprocess.Popen(command, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(f"http://127.0.0.1:{port}/healthz", server, timeout=120)
            yield server, f"http://127.0.0.1:{port}/slack/events"
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()


def processes(server: subprocess.Popen[bytes]) -> dict[int, str]:
    """serve and its worker processes, by pid."""
    import psutil

    found = {server.pid: "serve"}
    try:
        for child in psutil.Process(server.pid).children(recursive=True):
            if "worker" in " ".join(child.cmdline()):
                found[child.pid] = "worker"
    except psutil.Error:
        pass
    return found


def cpu_of(pids: dict[int, str]) -> dict[int, float]:
    result = {}
    for pid in pids:
        try:
            result[pid] = proc_cpu(pid)
        except OSError:
            result[pid] = float("nan")
    return result


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def summaries(state: Path) -> tuple[int, datetime | None]:
    """How many queued check runs have ended (done or failed), and when the last one did."""
    try:
        with sqlite3.connect(f"file:{state / 'bot.db'}?mode=ro", uri=True, timeout=5) as db:
            count, newest = db.execute(
                "SELECT count(*), max(finished_at) FROM work_items"
                " WHERE state IN ('done', 'failed')"
            ).fetchone()
    except sqlite3.OperationalError:
        return 0, None
    stamp = datetime.fromisoformat(newest).replace(tzinfo=UTC) if newest else None
    return int(count), stamp


def stats(acks: list[float], reply: list[float]) -> dict[str, float]:
    return {
        "n": len(acks),
        "ack_p50": percentile(acks, 0.5) * 1000,
        "ack_p99": percentile(acks, 0.99) * 1000,
        "reply_p50": percentile(reply, 0.5) * 1000,
        "reply_p99": percentile(reply, 0.99) * 1000,
    }


def fresh_fleet(base: Path, root: Path, count: int) -> tuple[Path, Path, list[str]]:
    """A copy of the seeded state ``base`` under ``root`` (emptied first) with ``count`` models:
    the root, its state directory and the model names."""
    if root.exists():
        shutil.rmtree(root)
    state = root / "state"
    shutil.copytree(base, state)
    names = model_names(count)
    clone_models(state, names)
    return root, state, names


def run_fleet(args: argparse.Namespace, base: Path, count: int, workdir: Path) -> dict[str, Any]:
    from tests.fakes.slack_server import running_slack_server

    root, state, names = fresh_fleet(base, workdir / f"fleet-{count}", count)
    # The next minute at least `lead` seconds away: start-up, warm-up and the idle round first.
    lead = timedelta(seconds=args.lead)
    at = (datetime.now(UTC) + lead).replace(second=0, microsecond=0) + timedelta(minutes=1)
    config = root / "mlops-bot.yaml"
    write_config(config, names, at, args.spread, args.nice)
    expected = len(names) * len(KINDS)

    with (
        running_slack_server() as slack,
        serving(root, config, state, slack, args) as (
            server,
            url,
        ),
    ):
        replies(slack, send(url, slack, 10, 5))  # warm-up: imports, first reads
        idle_samples = send(url, slack, args.requests, args.concurrency)
        idle = stats([s.ack for s in idle_samples], replies(slack, idle_samples))
        if datetime.now(UTC) >= at:
            raise RuntimeError("the idle round ended after the cycle began; raise --lead")
        time.sleep(max((at - datetime.now(UTC)).total_seconds(), 0))
        pids = processes(server)
        cpu_before = cpu_of(pids)
        started = time.monotonic()
        during_samples: list[Sample] = []
        done_at: float | None = None
        last_count, last_change = 0, time.monotonic()
        while done_at is None:
            if len(during_samples) < args.requests:
                during_samples += send(url, slack, args.concurrency, args.concurrency)
            else:
                time.sleep(0.2)
            count_now, _ = summaries(state)
            if count_now != last_count:
                last_count, last_change = count_now, time.monotonic()
            if count_now >= expected:
                done_at = time.monotonic()
            elif time.monotonic() - last_change > args.stall:
                print(f"  {count_now}/{expected} summaries; no progress for {args.stall} s")
                done_at = time.monotonic()
        cpu_after = cpu_of(pids)
        cpu_serve = sum(cpu_after[p] - cpu_before[p] for p, k in pids.items() if k == "serve")
        cpu_workers = sum(cpu_after[p] - cpu_before[p] for p, k in pids.items() if k == "worker")
        posted, newest = summaries(state)
        wall = (newest - at).total_seconds() if newest else time.monotonic() - started
        # Only what was sent while checks ran counts as "during".
        end = at.timestamp() + wall
        inside = [s for s in during_samples if s.sent <= end]
        during = stats([s.ack for s in inside], replies(slack, inside))
        rss = {f"{kind}:{pid}": peak_rss_mb(pid) for pid, kind in pids.items()}
        queue = queue_states(state)
    return {
        "models": count,
        "checks": expected,
        "summaries": posted,
        "wall": wall,
        "cpu": cpu_serve + cpu_workers,
        "cpu_serve": cpu_serve,
        "cpu_workers": cpu_workers,
        "rss": rss,
        "queue": queue,
        "load": os.getloadavg()[0],
        "idle": idle,
        "during": during,
    }


def queue_states(state: Path) -> dict[str, int]:
    """The work queue's rows by outcome: done, late (started past grace), skipped (coalesced),
    failed, and still waiting or running."""
    try:
        with sqlite3.connect(f"file:{state / 'bot.db'}?mode=ro", uri=True, timeout=5) as db:
            rows = db.execute(
                "SELECT state, count(*), sum(late_seconds IS NOT NULL) FROM work_items "
                "GROUP BY state"
            ).fetchall()
    except sqlite3.OperationalError:
        return {}
    counts = {state: int(n) for state, n, _ in rows}
    counts["late"] = sum(int(late or 0) for _, _, late in rows)
    return counts


def rss_text(rss: dict[str, float]) -> str:
    serve = [v for k, v in rss.items() if k.startswith("serve")]
    workers = sorted((v for k, v in rss.items() if k.startswith("worker")), reverse=True)
    text = f"serve {serve[0]:.0f}" if serve else "serve ?"
    if workers:
        text += f", workers {'/'.join(f'{w:.0f}' for w in workers)}"
    return text + " MB"


def print_row(r: dict[str, Any]) -> None:
    idle, during = r["idle"], r["during"]

    def ratio(key: str) -> str:
        return f"{during[key] / idle[key]:.2f}x" if idle[key] else "-"

    queue = r.get("queue") or {}
    print(
        f"{r['models']:>4} ({r['checks']:>3}) | {r['wall']:7.1f} s "
        f"{r['cpu']:7.1f} s (serve {r['cpu_serve']:.1f} + workers {r['cpu_workers']:.1f}) "
        f"{r['cpu'] / max(r['summaries'], 1):5.2f} s | {rss_text(r['rss'])} | "
        f"ack p50 {idle['ack_p50']:5.0f}->{during['ack_p50']:5.0f} ms ({ratio('ack_p50')}) "
        f"p99 {idle['ack_p99']:5.0f}->{during['ack_p99']:5.0f} ms ({ratio('ack_p99')}) | "
        f"reply p50 {idle['reply_p50']:6.0f}->{during['reply_p50']:6.0f} ms ({ratio('reply_p50')}) "
        f"p99 {idle['reply_p99']:6.0f}->{during['reply_p99']:6.0f} ms ({ratio('reply_p99')}) "
        f"| n {idle['n']}/{during['n']} | load {r['load']:.1f} | queue {queue}"
        + ("" if r["summaries"] >= r["checks"] else f"  ({r['summaries']} summaries)"),
        flush=True,
    )


def run_accelerated(
    args: argparse.Namespace, base: Path, count: int, workdir: Path
) -> dict[str, Any]:
    """``count`` models on the demo's accelerated schedules for ``args.accelerated`` minutes:
    does any queued run get skipped, fail, or start late?"""
    from tests.fakes.slack_server import running_slack_server

    root, state, names = fresh_fleet(base, workdir / f"accelerated-{count}", count)
    config = root / "mlops-bot.yaml"
    write_config(config, names, None, None, args.nice)
    with (
        running_slack_server() as slack,
        serving(root, config, state, slack, args) as (
            server,
            url,
        ),
    ):
        started = time.monotonic()
        end = started + args.accelerated * 60
        samples: list[Sample] = []
        while time.monotonic() < end:
            samples += send(url, slack, args.concurrency, args.concurrency)
            time.sleep(1.0)
        pids = processes(server)
        rss = {f"{kind}:{pid}": peak_rss_mb(pid) for pid, kind in pids.items()}
        queue = queue_states(state)
        during = stats([s.ack for s in samples], replies(slack, samples))
    return {
        "models": count,
        "minutes": args.accelerated,
        "queue": queue,
        "rss": rss,
        "during": during,
        "load": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, nargs="+", default=[1, 5, 20, 50, 200])
    parser.add_argument(
        "--workers",
        type=int,
        help="worker processes of serve (MLOPS_BOT_WORKERS; default one per core; 0: checks "
        "in threads of serve)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per fleet size")
    parser.add_argument("--nice", type=int, help="workers.nice (default: the setting's, 0)")
    parser.add_argument(
        "--accelerated",
        type=float,
        metavar="MINUTES",
        help="run the demo's accelerated schedules this long instead of one cycle",
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--spread", default="0s", help="monitoring.spread for every model")
    parser.add_argument("--lead", type=float, default=60, help="seconds before the cycle minute")
    parser.add_argument("--stall", type=float, default=120, help="give up after no progress")
    parser.add_argument("--workdir", type=Path, help="keep the states here (default: temp dir)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    base = seed_base(workdir)
    workers = "one per core" if args.workers is None else str(args.workers)
    if args.accelerated:
        for count in args.models:
            r = run_accelerated(args, base, count, workdir)
            during = r["during"]
            print(
                f"{count} models on the accelerated schedules for {args.accelerated:g} min "
                f"(workers: {workers}) · load {r['load']:.1f} · queue {r['queue']} · "
                f"{rss_text(r['rss'])} · ack p50/p99 {during['ack_p50']:.0f}/"
                f"{during['ack_p99']:.0f} ms · reply p50/p99 {during['reply_p50']:.0f}/"
                f"{during['reply_p99']:.0f} ms",
                flush=True,
            )
        return 0
    print(
        f"fleet cycle in `mlops-bot serve` · {os.cpu_count()} CPUs · load average "
        f"{os.getloadavg()[0]:.1f} · {args.requests} `/mlops status` at concurrency "
        f"{args.concurrency} idle and during · spread {args.spread} · workers {workers}"
    )
    print(
        "models (checks) | cycle wall, CPU, CPU/check | peak RSS | ack idle->during (ratio) | "
        "status reply idle->during (ratio) | requests idle/during"
    )
    results = []
    for count in args.models:
        for _ in range(args.repeat):
            result = run_fleet(args, base, count, workdir)
            results.append(result)
            print_row(result)
    (workdir / "fleet-results.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"results: {workdir / 'fleet-results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
