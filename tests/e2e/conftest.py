"""The running demo and a headless Chromium, for the browser tests.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``.ci/run`` with apt); Playwright only
drives it, it never downloads a browser. Without it the browser tests are skipped with the
reason; the page's HTTP tests in this directory still run.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.live import DemoOptions, DemoSession
from infra.defaults import demo_config
from tests.bot.demo.seeded import demo_settings, seeded_state

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("MLOPS_BOT_E2E_ARTIFACTS") or REPO / "artifacts" / "e2e")
"""Screenshots of every test land here (CI keeps them); ``/artifacts/`` is git-ignored."""
DOCS_IMAGES = REPO / "docs" / "images"
UPDATE_DOCS = os.environ.get("MLOPS_BOT_UPDATE_DOCS_IMAGES") == "1"
"""``MLOPS_BOT_UPDATE_DOCS_IMAGES=1 MLOPS_BOT_TEST_SEED=full pytest tests/e2e`` refreshes the
README's screenshots (from the full demo seed)."""


def e2e_config() -> dict[str, Any]:
    """The demo configuration with rollouts that bake for one second instead of five."""
    raw = copy.deepcopy(demo_config(shadow=False))
    for env in raw["environments"]:
        env["rollout"] = {**env["rollout"], "bake_time": "1s"}
    return raw


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSession]:
    """``mlops-bot demo`` in this process: sandbox, bot, accelerated scheduler, live traffic."""
    state = seeded_state(tmp_path_factory, "e2e")
    session = DemoSession(demo_settings(state, e2e_config()), DemoOptions(traffic_seconds=1.0))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_BOT_SCHEDULE", "on")  # tests/conftest.py turns it off elsewhere
        session.start()
    yield session
    session.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium "
            "(apt-get install chromium); Playwright never downloads one"
        )
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, demo: DemoSession, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-GB")
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}-end.png"))
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
