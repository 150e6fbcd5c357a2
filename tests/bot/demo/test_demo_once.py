"""`mlops-bot demo --once --out DIR`: the CI smoke test of the whole bot against the sandbox.

Runs the real command in a child process on a small seeded state (the embedded configuration,
no flags beyond the state and output directories) and reads what it wrote: a status card, a
drift summary with its charts, a performance and a utilization summary, the digest, each as the
sandbox stored the bot's message, and the charts as PNG files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.bot.demo.seeded import seeded_state


@dataclass
class Output:
    directory: Path
    run: subprocess.CompletedProcess[str]
    summary: dict[str, Any]

    def step(self, name: str) -> dict[str, Any]:
        for step in self.summary["steps"]:
            if step["name"] == name:
                return step
        raise AssertionError(f"no step {name!r} in {[s['name'] for s in self.summary['steps']]}")

    def messages(self, name: str) -> list[dict[str, Any]]:
        return [
            json.loads((self.directory / path).read_text(encoding="utf-8"))
            for path in self.step(name)["messages"]
        ]

    def charts(self, name: str) -> list[Path]:
        return [self.directory / path for path in self.step(name)["charts"]]


def headers(entry: dict[str, Any]) -> list[str]:
    return [
        block["text"]["text"]
        for block in entry["message"].get("blocks") or []
        if block["type"] == "header"
    ]


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Output:
    state = seeded_state(tmp_path_factory, "demo-once")
    out = tmp_path_factory.mktemp("demo-once-out") / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MLOPS_BOT_"))}
    env["MPLBACKEND"] = "Agg"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "demo",
            "--once",
            "--out",
            str(out),
            "--state-dir",
            str(state),
        ],
        cwd=out.parent,  # no mlops-bot.yaml there: the embedded demo configuration
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    summary_path = out / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {"steps": []}
    return Output(out, run, summary)


def test_exits_zero_and_reports_every_step(output: Output) -> None:
    assert output.run.returncode == 0, output.run.stdout + output.run.stderr
    names = [step["name"] for step in output.summary["steps"]]
    assert names == [
        "/mlops status churn-model",
        "drift:churn-model:prod",
        "performance:churn-model:prod",
        "utilization:churn-model:prod",
        "digest",
    ]
    assert all(step["error"] is None for step in output.summary["steps"])
    assert "already seeded" in output.run.stdout
    assert "Wrote" in output.run.stdout


def test_status_card_answers_the_slash_command(output: Output) -> None:
    (card,) = output.messages("/mlops status churn-model")
    assert card["ephemeral_for"] == "U0ALICE"
    assert card["channel"] == "C0MLOPS"
    text = json.dumps(card["message"]["blocks"])
    assert "churn-model" in headers(card)[0]
    for env in ("dev", "preprod", "prod"):
        assert f"*{env}*" in text


def test_drift_summary_comes_with_its_charts(output: Output) -> None:
    step = output.step("drift:churn-model:prod")
    assert step["level"] in ("warning", "breach")  # the seeded traffic drifts half-way
    entries = output.messages("drift:churn-model:prod")
    top = [e for e in entries if e["channel_name"] == "mlops" and e["thread_ts"] is None]
    (summary,) = [e for e in top if "Standing summary" not in (e["message"].get("text") or "")]
    assert "Drift" in headers(summary)[0]
    assert "monthly_charges" in json.dumps(summary["message"]["blocks"])
    thread = [e for e in entries if e["thread_ts"] == summary["ts"]]
    shared = [f for reply in thread for f in reply["message"].get("files", [])]
    assert shared, "the charts are uploaded into the summary's thread"
    alerts = [e for e in entries if e["channel_name"] == "mlops-alerts" and e["thread_ts"] is None]
    assert len(alerts) == (1 if step["level"] == "breach" else 0)
    charts = output.charts("drift:churn-model:prod")
    uploaded = [f["name"] for e in entries for f in e["message"].get("files", [])]
    assert len(charts) == len(uploaded)
    for path in charts:  # a name uploaded twice (summary and alert) is written with its file id
        assert path.name in uploaded or path.stem.rsplit("-", 1)[0] + ".png" in uploaded
    assert len(charts) >= 2
    for path in charts:
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.width >= 400 and image.height >= 200


def test_utilization_and_performance_summaries_are_written(output: Output) -> None:
    (utilization, *_) = output.messages("utilization:churn-model:prod")
    assert "Utilization" in headers(utilization)[0]
    assert output.charts("utilization:churn-model:prod")
    performance = output.messages("performance:churn-model:prod")
    assert any("Performance" in h for entry in performance for h in headers(entry))
    digest = output.messages("digest")
    assert any("health" in h.lower() for entry in digest for h in headers(entry))


def test_every_bot_message_is_accounted_for(output: Output) -> None:
    written = sorted((output.directory / "messages").glob("*.json"))
    listed = {p for step in output.summary["steps"] for p in step["messages"]}
    assert len(written) == output.summary["messages"] == len(listed)
    assert output.summary["other"]["messages"] == []
    for path in written:
        entry = json.loads(path.read_text())
        assert entry["message"]["user"] == "U0MLOPSBOT"
        assert entry["message"].get("blocks") or entry["message"].get("files")
