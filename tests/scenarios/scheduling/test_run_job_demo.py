"""`mlops-bot run-job drift --model churn-model` on the seeded demo, posting to the fake Slack."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.demo.seed import SeedPlan, seed_demo
from bot.sandbox import seed
from infra.settings import load_settings
from tests.fakes.slack_server import FakeSlackServer
from tests.scenarios.scheduling.conftest import text_of

PLAN = SeedPlan(
    days=6, drift_day=3, history_rows=3000, requests_per_day={0: 150, 1: 20, 2: 20}, batch_rows=50
)


@pytest.mark.slow
def test_run_job_posts_a_drift_summary_with_charts_and_finds_the_drift_day(
    tmp_path: Path, slack_server: FakeSlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.chdir(tmp_path)
    for name in ("MLOPS_BOT_CONFIG", "MLOPS_BOT_STATE_DIR", "MLOPS_BOT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    seeded = seed_demo(load_settings(None, state_dir=state), plan=PLAN)
    monkeypatch.setenv("SLACK_BOT_TOKEN", seed.BOT_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack_server.base_url)

    def run_job(at: str) -> int:
        return main(
            [
                "run-job",
                "drift",
                "--model",
                "churn-model",
                "--state-dir",
                str(state),
                "--window",
                "2d",
                "--at",
                at,
            ]
        )

    before = seeded.drift_start - timedelta(hours=1)
    assert run_job(before.isoformat()) == 0
    after_code = run_job(seeded.end.isoformat())
    summaries = slack_server.messages(seed.MLOPS_CHANNEL)
    assert len(summaries) == 2
    quiet, drifted = (text_of(m) for m in summaries)
    assert "Drift · churn-model · prod" in quiet and "Drift · churn-model · prod" in drifted
    count = lambda text: int(text.split(" of 10 features drifted")[0].rsplit(" ", 1)[-1])  # noqa: E731
    # The drift starts on the known day: before it no dataset drift (under the demo's share of
    # 30% of the 10 features; the seed's random draws give a stray drifted feature or two, more
    # or fewer by the hour the seed is made), after it dataset drift.
    assert count(quiet) < 3 <= count(drifted)
    assert "Most drifted" in drifted and "run-job" in drifted
    for message in summaries:
        files = [
            f
            for reply in slack_server.thread(seed.MLOPS_CHANNEL, message["ts"])
            for f in reply.get("files", [])
        ]
        assert len(files) == 2 and all(f["title"] for f in files)
    # A breach (exit 1) also opens the drift alert in the bot's own database and alert channel.
    alerts = slack_server.messages(seed.ALERTS_CHANNEL)
    assert after_code in (0, 1) and len(alerts) == (1 if after_code == 1 else 0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run-job", "drift"], "--model is required for drift"),
        (["run-job", "drift", "--model", "churn"], "unknown model 'churn'"),
        (["run-job", "drift", "--model", "churn-model", "--env", "qa"], "unknown environment 'qa'"),
        (
            ["run-job", "drift", "--model", "churn-model", "--at", "yesterday"],
            "--at expects an ISO time",
        ),
        (["run-job", "drift", "--model", "churn-model", "--window", "0h"], "expected a duration"),
    ],
)
def test_run_job_usage_errors_exit_2(
    argv: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLOPS_BOT_CONFIG", raising=False)
    assert main([*argv, "--state-dir", str(tmp_path / "state")]) == 2
    assert message in capsys.readouterr().err.replace("\n", " ")
