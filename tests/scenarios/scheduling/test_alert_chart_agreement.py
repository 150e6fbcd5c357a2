"""An alert card and the chart in its thread show the same check and the same statistic
(issue 14 item 5): a first check on a small window judged by KS p-values, a later one on a
large window judged by normalized Wasserstein; the card is edited to the second check's numbers,
so the thread gets the second check's chart and the card says which check both come from."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core.alerting.policy import fingerprint
from infra.store import Alert
from tests.scenarios.scheduling.conftest import Harness, text_of


def check_time(moment: datetime) -> str:
    """How card and chart title name a check (the clock is UTC)."""
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _card_findings(harness: Harness) -> list[dict[str, str]]:
    """The findings the card shows (feature, labelled statistic, level), from the alert row."""
    with harness.store.session() as session:
        row = session.get(Alert, fingerprint("churn", "prod", "drift"))
        assert row is not None
        return list(row.summary["findings"])


def _card_values(harness: Harness) -> list[tuple[str, str]]:
    return [(f["name"], f["value"]) for f in _card_findings(harness)]


def _chart_files(harness: Harness, ts: str) -> list[dict[str, Any]]:
    return [f for r in harness.replies(ts) for f in r.get("files") or []]


def test_an_edited_card_gets_its_checks_chart_and_both_show_one_statistic(
    harness: Harness,
) -> None:
    harness.start()
    harness.platform.drifted = True
    harness.platform.rows_per_day = 600  # a small window: KS p-values decide
    first = harness.clock.advance(timedelta(hours=1))
    harness.run()

    [alert] = harness.top_level()
    first_values = _card_values(harness)
    numeric = [(n, v) for n, v in first_values if n != "plan"]
    assert numeric and all(v.startswith("KS p=") and "· W1/σ " in v for _, v in numeric)
    [chart] = _chart_files(harness, alert["ts"])
    assert check_time(first) in chart["title"]
    assert f"Numbers and chart (in the thread) from the check at {check_time(first)}" in (
        text_of(alert)
    )

    harness.platform.rows_per_day = 3000  # more traffic: normalized Wasserstein decides
    second = harness.clock.advance(timedelta(hours=1))
    harness.run()

    second_values = _card_values(harness)
    numeric = [(n, v) for n, v in second_values if n != "plan"]
    assert numeric and all(v.startswith("W1/σ ") and "KS" not in v for _, v in numeric)

    # The card was edited to the second check's numbers and names that check...
    card = text_of(harness.updates_of(alert["ts"])[-1])
    shown = [f for f in _card_findings(harness) if f["level"] != "healthy"][:5]
    assert shown
    for finding in shown:
        assert f"`{finding['name']}` {finding['value']}" in card, finding
    assert f"Numbers and chart (in the thread) from the check at {check_time(second)}" in card
    # ...and the thread holds that check's chart, beside the first one.
    charts = _chart_files(harness, alert["ts"])
    assert len(charts) == 2, [c["title"] for c in charts]
    latest = charts[-1]
    assert check_time(second) in latest["title"] and check_time(first) not in latest["title"]
    # The chart labels each drifted feature with the very statistic the card shows.
    drifted = [f for f in _card_findings(harness) if f["level"] == "breach"]
    assert drifted
    for finding in drifted[:5]:
        assert f"{finding['name']} ({finding['value']}," in latest["alt_txt"], latest["alt_txt"]

    # A third check with the same verdicts and methods edits the card's numbers but keeps the
    # chart (no chart per hour in the thread), and the card says which check the chart is from.
    third = harness.clock.advance(timedelta(hours=1))
    harness.run()
    assert len(_chart_files(harness, alert["ts"])) == 2
    card = text_of(harness.updates_of(alert["ts"])[-1])
    assert f"Numbers from the check at {check_time(third)}" in card
    assert f"the chart in the thread is from the check at {check_time(second)}" in card
