"""Ack latency of `/mlops status` against the real HTTP server, beside a bare Bolt app.

Sends N signed slash commands at concurrency C to (a) a bare Bolt app whose only listener acks,
served by the same threaded HTTP server, and (b) the bot on a seeded demo doing the real work
after each ack (platform reads, the status card, a response_url post to a local fake Slack).
Prints p50 / p99 / max ack latency for both and the ratio. Target: every ack well inside 3 s and
the bot's p99 no worse than 2x the bare app's.

    python benchmarks/ack_latency.py [--requests 200] [--concurrency 20] [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from slack_bolt import Ack, App

from bot.sandbox import seed
from bot.slack.server import SlackHTTPServer
from infra.settings import load_settings
from tests.fakes.processes import free_port, serve_command, serve_env, wait_healthy
from tests.fakes.signing import post
from tests.fakes.slack_server import running_slack_server


def bare_app(slack_base_url: str) -> App:
    from bot.slack.responder import make_client

    app = App(
        client=make_client(seed.BOT_TOKEN, slack_base_url),
        signing_secret=seed.SIGNING_SECRET,
        token_verification_enabled=False,
    )

    @app.command("/mlops")
    def only_ack(ack: Ack) -> None:
        ack()

    return app


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def hammer(url: str, slack, requests: int, concurrency: int) -> list[float]:
    signed = [slack.interactions.slash_command("status churn-model") for _ in range(requests)]

    def one(request) -> float:
        body, headers = request
        started = time.perf_counter()
        result = post(url, body, headers)
        elapsed = time.perf_counter() - started
        if result.status != 200:
            raise RuntimeError(f"HTTP {result.status}: {result.body[:200]!r}")
        return elapsed

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, signed))


def report(name: str, latencies: list[float]) -> dict[str, float]:
    stats = {
        "p50": percentile(latencies, 0.50) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "max": max(latencies) * 1000,
        "mean": statistics.fmean(latencies) * 1000,
    }
    print(
        f"{name:<28} p50 {stats['p50']:7.1f} ms   p99 {stats['p99']:7.1f} ms   "
        f"max {stats['max']:7.1f} ms   over 3 s: {sum(t > 3 for t in latencies)}"
    )
    return stats


def serve_bare(port: int, slack_base_url: str) -> None:
    """Child process: the bare app on the same threaded HTTP server the bot uses."""
    server = SlackHTTPServer(("127.0.0.1", port), bare_app(slack_base_url))
    server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--state-dir", help="a seeded demo state directory (default: seed a small one)"
    )
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--slack-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        serve_bare(args.bare_server, args.slack_url)
        return 0

    with running_slack_server() as slack, tempfile.TemporaryDirectory() as tmp:
        state = Path(args.state_dir) if args.state_dir else Path(tmp) / "state"
        if not args.state_dir:
            from bot.demo.seed import SeedPlan, seed_demo

            print("seeding a small demo ...", flush=True)
            seed_demo(
                load_settings(None, state_dir=state),
                plan=SeedPlan(
                    days=4, drift_day=2, history_rows=3000, requests_per_day={0: 50, 1: 20, 2: 20}
                ),
            )
        # Both servers run in their own processes, as in production; this process only sends
        # requests and plays Slack, so its own work does not slow either server down.
        env = serve_env(slack.base_url, state)
        bare_port, bot_port = free_port(), free_port()
        bare = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--bare-server",
                str(bare_port),
                "--slack-url",
                slack.base_url,
            ],
            env=env,
        )
        bot = subprocess.Popen(
            serve_command(bot_port),
            env=env,
            cwd=tmp,
        )
        try:
            wait_healthy(f"http://127.0.0.1:{bare_port}/healthz", bare)
            wait_healthy(f"http://127.0.0.1:{bot_port}/healthz", bot)
            bare_url = f"http://127.0.0.1:{bare_port}/slack/events"
            bot_url = f"http://127.0.0.1:{bot_port}/slack/events"
            # Warm both (imports, first auth.test, SQLite pages) so we time the steady state.
            hammer(bare_url, slack, 10, 5)
            hammer(bot_url, slack, 10, 5)
            wait_for_cards(slack, 10, 60)
            replies_before = len(slack.calls_of("response_url"))

            print(
                f"{args.requests} signed `/mlops status churn-model` at concurrency {args.concurrency}"
            )
            base = report(
                "bare Bolt app (ack only)", hammer(bare_url, slack, args.requests, args.concurrency)
            )
            started = time.perf_counter()
            ours = report(
                "mlops-bot (ack, then work)",
                hammer(bot_url, slack, args.requests, args.concurrency),
            )
            cards = wait_for_cards(slack, replies_before + args.requests, 600) - replies_before
            work_seconds = time.perf_counter() - started
            print(
                f"status cards delivered after the acks: {cards}/{args.requests} in {work_seconds:.1f} s"
            )
            print(
                f"ratio p50 {ours['p50'] / base['p50']:.2f}x   p99 {ours['p99'] / base['p99']:.2f}x"
                "   (target: every ack < 3 s, p99 <= 2x)"
            )
            return 0 if ours["max"] < 3000 and cards == args.requests else 1
        finally:
            for process in (bare, bot):
                process.terminate()
                process.wait(10)


def wait_for_cards(slack, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = len(slack.calls_of("response_url"))
        if count >= expected:
            return count
        time.sleep(0.05)
    return len(slack.calls_of("response_url"))


if __name__ == "__main__":
    raise SystemExit(main())
