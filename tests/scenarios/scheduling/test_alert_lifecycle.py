"""Scheduled drift checks through the real scheduler: one alert per incident, never a flood."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.sandbox import seed
from core.monitoring_state import latest_verdicts
from tests.scenarios.scheduling.conftest import Harness, text_of

pytestmark = pytest.mark.usefixtures("quick_charts")


def test_ten_drifted_checks_make_one_alert_and_nine_thread_updates(harness: Harness) -> None:
    harness.start()
    harness.platform.drifted = True
    for _ in range(10):
        harness.clock.advance(timedelta(hours=1))
        harness.run()

    alerts = harness.top_level()
    assert len(alerts) == 1, [text_of(m)[:120] for m in alerts]
    alert = alerts[0]
    assert "Drift alert" in text_of(alert) and "churn" in text_of(alert)
    replies = harness.replies(alert["ts"])
    updates = [r for r in replies if "Still breaching" in (r.get("text") or "")]
    assert len(updates) == 9
    assert [u["text"].split("(check ")[1].split(",")[0] for u in updates] == [
        str(n) for n in range(2, 11)
    ]
    charts = [r for r in replies if r.get("files")]
    assert len(charts) == 1  # the alert's chart, uploaded once into its thread
    edits = harness.updates_of(alert["ts"])
    assert len(edits) == 9  # counters edited in place
    assert "*Breaching checks*\\n10" in text_of(edits[-1])

    # Summaries: the same verdict ten times is one standing summary, edited in place
    # (tests/scenarios/scheduling/test_standing_summary.py has the rest).
    # The first verdict is a change: its own summary with its charts in its thread; the first
    # unchanged run posts the standing summary, the eight after it edit it.
    summaries = harness.top_level(seed.MLOPS_CHANNEL)
    assert len(summaries) == 2
    assert all(not m.get("files") for m in summaries)
    standing = next(m for m in summaries if "Standing summary" in (m.get("text") or ""))
    assert len(harness.updates_of(standing["ts"])) == 8

    # Recovery: exactly one more edit, to "resolved", and one note in the thread.
    harness.platform.drifted = False
    harness.clock.advance(timedelta(hours=1))
    harness.run()
    assert len(harness.top_level()) == 1
    edits = harness.updates_of(alert["ts"])
    assert len(edits) == 10
    assert "Resolved" in text_of(edits[-1])
    resolved_notes = [
        r for r in harness.replies(alert["ts"]) if (r.get("text") or "").startswith(":large_green")
    ]
    assert len(resolved_notes) == 1 and "Resolved after 10h" in resolved_notes[0]["text"]

    # Healthy checks keep the verdict for /mlops status, and post nothing to the alert.
    harness.clock.advance(timedelta(hours=1))
    harness.run()
    assert len(harness.updates_of(alert["ts"])) == 10
    verdicts = {v.signal: v for v in latest_verdicts(harness.store, "churn")["prod"]}
    # (healthy traffic may still show one feature by chance at p < 0.05: a warning, never a breach)
    assert verdicts["drift"].level in ("healthy", "warning")
    assert "of 5 features drifted" in verdicts["drift"].summary
    assert verdicts["drift"].at == harness.clock.now
    assert verdicts["data_quality"].level == "healthy"


def test_k_consecutive_breaches_before_alerting(make_harness) -> None:  # type: ignore[no-untyped-def]
    from tests.scenarios.scheduling.conftest import model_config

    harness: Harness = make_harness(
        model_config(
            monitoring={
                "environments": ["prod"],
                "alerts": {"consecutive_breaches": 3, "flap_threshold": 4, "flap_window": "6h"},
            }
        )
    )
    harness.start()
    harness.platform.drifted = True
    for _ in range(2):
        harness.clock.advance()
        harness.run()
    assert harness.top_level() == []
    verdicts = {v.signal: v for v in latest_verdicts(harness.store, "churn")["prod"]}
    assert verdicts["drift"].level == "breach"  # the verdict shows even before the alert
    harness.clock.advance()
    harness.run()
    assert len(harness.top_level()) == 1


def test_a_flapping_signal_is_held_instead_of_realerting(harness: Harness) -> None:
    harness.start()
    for drifted in (True, False, True, False, True, False, True):
        harness.platform.drifted = drifted
        harness.clock.advance(timedelta(minutes=30))
        harness.run()
    alerts = harness.top_level()
    assert len(alerts) == 1  # re-breaches reuse the alert; nothing new at the top level
    notes = [r.get("text") or "" for r in harness.replies(alerts[0]["ts"])]
    assert sum("Flapping" in n for n in notes) == 1
    assert not any(
        "Breaching again" in n
        for n in notes[notes.index(next(n for n in notes if "Flapping" in n)) :]
    )
    assert "Flapping" in text_of(harness.updates_of(alerts[0]["ts"])[-1])

    # Once it stays put for a whole flap window, the alert settles.
    harness.platform.drifted = True
    for _ in range(7):
        harness.clock.advance(timedelta(hours=1))
        harness.run()
    last = text_of(harness.updates_of(alerts[0]["ts"])[-1])
    assert "Drift alert" in last and "Flapping" not in last
    assert len(harness.top_level()) == 1
