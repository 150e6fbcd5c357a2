"""The demo's shadow evaluation in a real browser: a promotion to prod gets an Evidence section
that fills in from mirrored live traffic, and Approve appears only once the minimum of mirrored
requests is met. Its own demo (the embedded configuration, shadow on), with traffic every quarter
second so the demo's 100 mirrored requests arrive in about five seconds."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest

from bot.demo.live import DemoOptions, DemoSession
from infra.defaults import DEMO_SHADOW, demo_config
from tests.bot.demo.seeded import demo_settings, seeded_state
from tests.e2e.test_browser import ALICE, TIMEOUT, card, expect, open_as, shoot, type_command


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSession]:
    raw = copy.deepcopy(demo_config())
    for env in raw["environments"]:
        env["rollout"] = {**env["rollout"], "bake_time": "1s"}
    session = DemoSession(
        demo_settings(seeded_state(tmp_path_factory, "e2e-shadow"), raw),
        DemoOptions(traffic_seconds=0.25, schedules=None, catch_up=False),
    )
    session.start()
    yield session
    session.stop()


def test_the_evidence_fills_in_live_and_approve_waits_for_it(page: Any, demo: DemoSession) -> None:
    open_as(page, demo, ALICE)
    type_command(page, "/mlops promote churn-model --to prod")
    expect(page.locator(".msg.ephemeral", has_text="open the card")).to_be_visible(timeout=TIMEOUT)
    page.locator(".msg.ephemeral a", has_text="open the card").click()
    request = card(page, "preprod → prod")
    expect(request).to_contain_text("Evidence", timeout=TIMEOUT)
    approve = request.locator('button[data-action-id="approval_approve"]')
    expect(approve).to_have_count(0)
    expect(request).to_contain_text(re.compile(r"\d+ (of 100 )?mirrored requests"), timeout=60_000)
    expect(request).to_contain_text("Approve is offered once")
    expect(approve).to_have_count(1, timeout=120_000)
    expect(request).to_contain_text("the gates pass")
    expect(request).to_contain_text("Agreement")
    expect(request).to_contain_text("Latency p50 / p99")
    assert DEMO_SHADOW["min_requests"] == 100
    shoot(request, "approval-evidence", "approval-evidence.png")
