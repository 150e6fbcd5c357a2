"""A small seeded demo state, made once per test session and copied for each user.

Seeding trains three versions in real training jobs (about fifteen seconds with this plan), so
the demo tests and the browser tests share one seed and each works on its own copy (a promotion
changes the platform state). The plan keeps the shape of the real one: three versions serving
dev, preprod and prod, a few days of traffic that drift half-way. ``MLOPS_BOT_TEST_SEED=full``
seeds the real demo plan instead (a month of traffic, about thirty seconds).
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.demo.seed import SeedPlan, VersionPlan, seed_demo
from infra.defaults import demo_config
from infra.settings import Settings

#: The demo's three versions with fewer iterations: trained for real, in seconds.
QUICK_VERSIONS = (
    VersionPlan("v1", {"learning_rate": "0.1", "max_iter": "60", "max_depth": "3"}, 0),
    VersionPlan(
        "v2",
        {"learning_rate": "0.05", "max_iter": "80", "max_depth": "4", "window_days": "60"},
        1,
    ),
    VersionPlan("v3", {"max_iter": "60", "window_days": "12"}, 2, trained_on_traffic=True),
)

SMALL_PLAN = SeedPlan(
    days=3,
    drift_day=1,
    history_rows=3_000,
    requests_per_day={0: 400, 1: 40, 2: 20},
    versions=QUICK_VERSIONS,
)

_lock = threading.Lock()
_seeded: dict[str, Path] = {}


def demo_settings(state_dir: Path, raw: dict[str, Any] | None = None) -> Settings:
    """The embedded demo configuration (or ``raw``) on ``state_dir``."""
    return Settings.model_validate(raw or demo_config()).model_copy(
        update={"resolved_state_dir": str(state_dir), "source": "tests/bot/demo"}
    )


def seeded_state(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A fresh copy of the session's seeded demo state directory."""
    with _lock:
        if "state" not in _seeded:
            origin = tmp_path_factory.mktemp("demo-seed") / "state"
            full = os.environ.get("MLOPS_BOT_TEST_SEED") == "full"  # e.g. for README images
            seed_demo(demo_settings(origin), plan=SeedPlan() if full else SMALL_PLAN)
            _seeded["state"] = origin
        target = tmp_path_factory.mktemp(name) / "state"
        shutil.copytree(_seeded["state"], target)
        return target
