"""How long `/mlops backtest` keeps a user waiting, beside one ordinary drift check.

Seeds the full demo (a month of prod traffic, as `mlops-bot demo` does) unless given a seeded
state directory, starts `mlops-bot serve --http` on it in its own process (scheduler off, so
only the commands run) against a local fake Slack, and times from sending the signed slash
command to the answer reaching the fake Slack:

* baseline: `/mlops drift churn-model` — one drift check of the model's last day, its summary
  card edited into the progress message;
* `/mlops backtest churn-model drift --share-threshold 0.15 --days 30` — 30 daily windows, the
  card edited in (and, separately, until its chart has been uploaded into the card's thread);
* `/mlops backtest churn-model performance --min-accuracy 0.8 --days 30`.

Each is run once to warm the process (imports, the reference profile, SQLite pages), then
``--repeat`` times; prints the median and the worst, the ratio to the baseline, and the load
average. Target (issue 16): 30 daily windows back in under 5 s.

    python benchmarks/backtest.py [--repeat 5] [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from bot.sandbox import seed
from infra.settings import load_settings
from tests.fakes.processes import free_port, serve_command, serve_env, wait_healthy
from tests.fakes.signing import post
from tests.fakes.slack_server import running_slack_server

BASELINE = ("drift churn-model", "Drift · churn-model")
BACKTESTS = (
    ("backtest churn-model drift --share-threshold 0.15 --days 30", "Backtest · churn-model"),
    ("backtest churn-model performance --min-accuracy 0.8 --days 30", "Backtest · churn-model"),
)
TARGET_SECONDS = 5.0


def card_text(call) -> str:
    return json.dumps(call.args.get("blocks") or [], ensure_ascii=False) + str(
        call.args.get("text", "")
    )


def timed(url: str, slack, text: str, marker: str) -> tuple[float, float]:
    """Seconds from the signed request to the answer card in the fake Slack (and to its chart),
    by the fake Slack's own record of when each call arrived."""
    since = len(slack.calls)
    body, headers = slack.interactions.slash_command(
        text, user_id=seed.ALICE, channel_id=seed.MLOPS_CHANNEL
    )
    started_wall = time.time()
    result = post(url, body, headers)
    if result.status != 200:
        raise RuntimeError(f"HTTP {result.status}: {result.body[:200]!r}")
    card = slack.wait_for("chat.update", lambda c: marker in card_text(c), timeout=120, since=since)
    # Every answer here carries charts: wait for them too, so no upload spills into the next run.
    upload = slack.wait_for("files.completeUploadExternal", timeout=120, since=since)
    return card.time - started_wall, upload.time - started_wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--state-dir", help="a seeded demo state directory (default: seed one)")
    args = parser.parse_args()
    with running_slack_server() as slack, tempfile.TemporaryDirectory() as tmp:
        state = Path(args.state_dir) if args.state_dir else Path(tmp) / "state"
        if not args.state_dir:
            from bot.demo.seed import SeedPlan, seed_demo

            print("seeding the demo (a month of traffic) ...", flush=True)
            seed_demo(load_settings(None, state_dir=state), plan=SeedPlan())
        port = free_port()
        env = serve_env(slack.base_url, state, MLOPS_BOT_SCHEDULE="off")
        bot = subprocess.Popen(serve_command(port), env=env, cwd=tmp)
        try:
            wait_healthy(f"http://127.0.0.1:{port}/healthz", bot)
            url = f"http://127.0.0.1:{port}/slack/events"
            rows: list[tuple[str, list[float], list[float]]] = []
            for text, marker in (BASELINE, *BACKTESTS):
                first = timed(url, slack, text, marker)
                cards, charts = [], []
                for _ in range(args.repeat):
                    card, with_chart = timed(url, slack, text, marker)
                    cards.append(card)
                    charts.append(with_chart)
                print(f"/mlops {text}: first (cold) {first[0]:.2f} s", flush=True)
                rows.append((text, cards, charts))
        finally:
            bot.terminate()
            bot.wait(10)
    load = os.getloadavg()
    print()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(f"signed request -> answer in the fake Slack, median (worst) of {args.repeat}:")
    base = statistics.median(rows[0][1])
    ok = True
    for text, cards, charts in rows:
        median = statistics.median(cards)
        line = f"  /mlops {text:<66} card {median:5.2f} s ({max(cards):.2f})"
        line += f"   with charts {statistics.median(charts):5.2f} s ({max(charts):.2f})"
        line += f"   {median / base:4.1f}x the drift check"
        print(line)
        if text.startswith("backtest"):
            ok = ok and max(charts) < TARGET_SECONDS
    print(
        f"target: every backtest of 30 daily windows answered, chart included, under {TARGET_SECONDS:g} s: "
        + ("met" if ok else "MISSED")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
