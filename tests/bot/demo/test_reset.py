"""The demo can be toured twice: its start-up summary says what serves now, and ``--reset``
starts over from the seed (issue 14, item 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.demo.seed import MARKER_FILE, SeedError, reset_demo, seed_demo
from core.replies import ErrorReply, MessageReply, Tone
from tests.bot.demo.seeded import SMALL_PLAN, demo_settings, seeded_state
from tests.commands.support import _close, open_bench

TOUR_PROMOTE = "promote churn-model --to prod"


def _serve_everywhere(state: Path, version: str) -> None:
    """What a finished tour leaves behind: ``version`` serves prod (promoted and approved)."""
    bench = open_bench(state)
    try:
        platform = bench.platform
        platform.copy_version("churn-model", version, "preprod", "prod")
        deployment = platform.begin_deploy("churn-model", version, "prod").wait(60)
        platform.set_traffic("churn-model", "prod", {deployment.name: 100})
    finally:
        _close(bench)


def _tour_promote(state: Path) -> object:
    bench = open_bench(state)
    try:
        return bench.command(TOUR_PROMOTE)
    finally:
        _close(bench)


def test_the_tour_works_twice_with_reset_between(tmp_path_factory: pytest.TempPathFactory) -> None:
    state = seeded_state(tmp_path_factory, "demo-reset")
    settings = demo_settings(state)
    first = seed_demo(settings, plan=SMALL_PLAN)
    assert not first.seeded
    assert first.now_serving == {"prod": "v1", "preprod": "v2", "dev": "v3"}
    assert "seeded as" not in first.describe()

    _serve_everywhere(state, "2")  # the first tour ends with v2 serving prod
    again = seed_demo(settings, plan=SMALL_PLAN)
    assert again.now_serving["prod"] == "v2"  # the real state, not the seed's
    text = again.describe()
    assert "serves now: prod: v2, preprod: v2, dev: v3" in text
    assert "seeded as prod: v1" in text and "mlops-bot demo --reset" in text
    refused = _tour_promote(state)
    assert isinstance(refused, ErrorReply) and "nothing to promote" in refused.message

    assert reset_demo(state)
    assert not state.exists()
    fresh = seed_demo(settings, plan=SMALL_PLAN)
    assert fresh.seeded and fresh.now_serving == {"prod": "v1", "preprod": "v2", "dev": "v3"}
    requested = _tour_promote(state)  # the tour's step works again
    assert isinstance(requested, MessageReply) and requested.tone is Tone.SUCCESS
    assert "v2 from preprod to prod requested" in (requested.title or "")


def test_reset_never_deletes_a_directory_the_demo_did_not_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(SeedError, match="does not look like a demo state directory"):
        reset_demo(foreign)
    assert main(["demo", "--reset", "--state-dir", str(foreign), "--no-browser"]) == 2
    assert "--reset refused" in capsys.readouterr().out
    assert (foreign / "thesis.tex").read_text() == "precious"

    assert reset_demo(tmp_path / "missing") is False
    seeded = tmp_path / "seeded"
    seeded.mkdir()
    (seeded / MARKER_FILE).write_text("{}")
    (seeded / "bot.db").write_text("")
    assert reset_demo(seeded) and not seeded.exists()
