"""Monitoring cards: exact JSON for an alert, the shape of a summary, Slack's limits everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.slack.blocks.render import message_payload, render
from core.reports import (
    AlertReply,
    AlertView,
    CheckReport,
    DetailsReply,
    DigestLine,
    DigestReply,
    Finding,
    SignalResult,
    SummaryReply,
)

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
STAMP = "<!date^1795683600^{date_short_pretty} {time}|2026-11-26 09:00 UTC>"

DRIFTED = Finding("tenure", "0.31", "drift when > 0.1 (Wasserstein)", "breach", "mean moved up")


def alert(**changes: object) -> AlertView:
    values: dict[str, object] = {
        "fingerprint": "churn/prod/drift",
        "model": "churn",
        "environment": "prod",
        "signal": "drift",
        "state": "open",
        "severity": "critical",
        "level": "breach",
        "headline": "3 of 5 features drifted",
        "findings": (DRIFTED, Finding("plan", "p = 0.4", "drift when p < 0.05", "healthy")),
        "window": "Nov 25 09:00 – Nov 26 09:00 UTC (last 1d)",
        "opened_at": NOW,
        "last_checked_at": NOW,
        "breach_count": 1,
        "consecutive": 1,
        "retrain_mode": "ask",
    }
    values.update(changes)
    return AlertView(**values)  # type: ignore[arg-type]


def button(action_id: str, text: str, **extra: object) -> dict[str, object]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "value": "churn/prod/drift",
        **extra,
    }


def strip_ids(blocks: list[dict]) -> list[dict]:
    return [
        {k: v for k, v in b.items() if k != "block_id" or v.startswith("alert:")} for b in blocks
    ]


def test_open_alert_exact_json() -> None:
    blocks = strip_ids(render(AlertReply(alert=alert())))
    assert blocks == [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": ":rotating_light: Drift alert · churn · prod",
                "emoji": True,
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": ":red_circle: *CRITICAL* · 3 of 5 features drifted",
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*What changed*\n:red_circle: `tenure` 0.31 — drift when &gt; 0.1 "
                "(Wasserstein)\n      _mean moved up_",
            },
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*State*\nopen"},
                {"type": "mrkdwn", "text": f"*First seen*\n{STAMP}"},
                {"type": "mrkdwn", "text": f"*Last check*\n{STAMP}"},
                {"type": "mrkdwn", "text": "*Breaching checks*\n1"},
                {"type": "mrkdwn", "text": "*In a row*\n1"},
                {
                    "type": "mrkdwn",
                    "text": "*Window*\nNov 25 09:00 – Nov 26 09:00 UTC (last 1d)",
                },
            ],
        },
        {
            "type": "actions",
            "block_id": "alert:churn/prod/drift",
            "elements": [
                button(
                    "alert_retrain",
                    "Retrain",
                    style="primary",
                    confirm={
                        "title": {"type": "plain_text", "text": "Retrain?", "emoji": True},
                        "text": {
                            "type": "plain_text",
                            "text": "Submit the retraining pipeline of churn now?",
                        },
                        "confirm": {"type": "plain_text", "text": "Retrain", "emoji": True},
                        "deny": {"type": "plain_text", "text": "Cancel", "emoji": True},
                    },
                ),
                button("alert_mute", "Mute 24h"),
                button("alert_ack", "Acknowledge"),
                button("alert_details", "Details"),
            ],
        },
    ]


def test_resolved_alert_keeps_only_details_and_says_resolved() -> None:
    payload = message_payload(
        AlertReply(
            alert=alert(
                state="resolved",
                level="healthy",
                resolved_at=NOW + timedelta(hours=3),
                acknowledged_by="U0BOB",
            )
        )
    )
    blocks = payload["blocks"]
    assert blocks[0]["text"]["text"] == ":white_check_mark: Resolved: Drift · churn · prod"
    assert [e["action_id"] for e in blocks[-1]["elements"]] == ["alert_details"]
    assert "*Resolved*" in str(blocks) and "<@U0BOB>" in str(blocks)
    assert payload["text"].startswith("Resolved: Drift alert for churn in prod")


def test_muted_auto_alert_drops_mute_and_keeps_acknowledge() -> None:
    blocks = render(
        AlertReply(alert=alert(muted_until=NOW + timedelta(hours=24), retrain_mode="auto"))
    )
    actions = [e["action_id"] for e in blocks[-1]["elements"]]
    assert actions == ["alert_retrain", "alert_ack", "alert_details"]
    assert "style" not in blocks[-1]["elements"][0]  # automatic: the button is not the main path
    notes = blocks[-2]["elements"][0]["text"] + blocks[-2]["elements"][1]["text"]
    assert "Muted until" in notes and "automatic" in notes


def test_free_text_cannot_mention_or_link() -> None:
    blocks = render(AlertReply(alert=alert(headline="<!channel> see <http://evil|here>")))
    assert "<!channel>" not in str(blocks) and "&lt;!channel&gt;" in str(blocks)


def summary(level: str = "breach", findings: int = 3) -> SummaryReply:
    report = CheckReport(
        kind="drift",
        model="churn",
        environment="prod",
        start=NOW - timedelta(days=1),
        end=NOW,
        signals=(
            SignalResult("drift", level, "3 of 5 features drifted", (DRIFTED,) * findings),
            SignalResult("data_quality", "healthy", "no data quality problems"),
        ),
        fields=tuple((f"Field {i}", str(i)) for i in range(12)),
    )
    return SummaryReply(public=True, report=report, muted=("drift",), open_alerts=("drift",))


def test_summary_has_verdict_header_window_fields_and_muted_mark() -> None:
    blocks = render(summary())
    assert blocks[0]["text"]["text"] == ":red_circle: Drift · churn · prod — breach"
    assert "(last 1d)" in blocks[1]["elements"][0]["text"]
    assert "muted: Drift" in blocks[1]["elements"][0]["text"]
    assert len(blocks[3]["fields"]) == 10  # Slack's maximum, the rest dropped
    assert blocks[4]["text"]["text"].count("`tenure`") == 3
    assert "open alert: Drift" in str(blocks[-1])


def test_large_reports_stay_within_slacks_limits() -> None:
    render(summary(findings=200))
    details = render(
        DetailsReply(
            title="Full report", lines=tuple(f"feature_{i}: " + "x" * 80 for i in range(2000))
        )
    )
    assert len(details) <= 50 and all(len(b["text"]["text"]) <= 3000 for b in details)
    lines = tuple(
        DigestLine(f"model-{i}", "prod", "warning", (("drift", "warning", "y" * 200),))
        for i in range(300)
    )
    digest = render(DigestReply(lines=lines, generated_at=NOW))
    assert len(digest) <= 50
