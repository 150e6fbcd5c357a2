"""Shared test set-up: the fake Slack fixtures, a headless matplotlib, and one seeded demo
per session that every suite copies from."""

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# Suites that start a whole runtime must not get scheduled checks posting into their fake
# Slack at a quarter past; tests/scenarios/scheduling turns schedules on where it tests them.
os.environ.setdefault("MLOPS_BOT_SCHEDULE", "off")
# Where a suite turns schedules on, its checks run in the leader's own threads (through the
# work queue) unless a test starts worker processes on purpose (tests/jobs/test_workqueue_*).
os.environ.setdefault("MLOPS_BOT_WORKERS", "0")

pytest_plugins = ["tests.fakes.conftest_plugin"]


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo seeded once per session (real training jobs, compressed traffic). Never
    written to: tests take a private copy through ``state_dir``."""
    from bot.demo.seed import seed_demo
    from tests.scenarios.slackapp.conftest import SMALL_PLAN, embedded_settings

    state = tmp_path_factory.mktemp("seeded-demo")
    seed_demo(embedded_settings(state), plan=SMALL_PLAN)
    return state


@pytest.fixture
def state_dir(seeded_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the seeded demo, so each test may deploy and roll back freely."""
    monkeypatch.delenv("MLOPS_BOT_CONFIG", raising=False)
    monkeypatch.delenv("MLOPS_BOT_STATE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "state"
    shutil.copytree(seeded_template, target)
    return target
