"""`/mlops unmute` without Slack: one signal's mute, or every mute of the model, ended now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from infra.store import Mute
from tests.commands.support import Bench, usage_error

USAGE = "/mlops unmute <model> [drift|data_quality|performance|fairness|utilization]"


def muted_signals(bench: Bench) -> set[str]:
    with bench.store.session() as session:
        return {m.signal for m in session.scalars(select(Mute))}


def mute(bench: Bench, *texts: str) -> None:
    for text in texts:
        assert type(bench.command(text)).__name__ == "MuteReply", text


def test_unmute_one_signal_leaves_the_others(bench: Bench) -> None:
    mute(bench, "mute churn-model drift 1d", "mute churn-model performance 1d")
    reply = bench.command("unmute churn-model drift", user="U0CAROL")
    assert type(reply).__name__ == "MuteReply"
    assert reply.public
    assert (reply.signal, reply.removed, reply.until) == ("drift", 1, None)  # type: ignore[attr-defined]
    assert [a[0] for a in reply.active] == ["performance"]  # type: ignore[attr-defined]
    assert reply.fallback_text == "Alerts of churn-model (drift) unmuted"
    assert muted_signals(bench) == {"performance"}
    [audit] = bench.audits("unmute")
    assert (audit.actor, audit.subject, audit.detail) == ("U0CAROL", "drift", {"removed": 1})


def test_unmute_without_a_signal_ends_every_mute(bench: Bench) -> None:
    mute(bench, "mute churn-model drift 1d", "mute churn-model 1d")
    reply = bench.command("unmute churn-model")
    assert (reply.signal, reply.removed, reply.active) == ("*", 2, ())  # type: ignore[attr-defined]
    assert muted_signals(bench) == set()
    reply = bench.command("unmute churn-model all")  # nothing left: says so, still audited
    assert reply.removed == 0  # type: ignore[attr-defined]
    # the notification text must not claim an unmute that did not happen
    assert reply.fallback_text == "churn-model had no mute for every signal; nothing changed"
    assert [a.detail["removed"] for a in bench.audits("unmute")] == [2, 0]


def test_a_mistyped_signal_or_model_gets_a_suggestion(bench: Bench) -> None:
    mute(bench, "mute churn-model fairness 1d")
    reply = usage_error(
        bench.command("unmute churn-model fairnes"), USAGE, "unknown signal 'fairnes'"
    )
    assert reply.suggestion == "fairness"
    reply = usage_error(bench.command("unmute chrn-model"), USAGE, "unknown model 'chrn-model'")
    assert reply.suggestion == "churn-model"
    assert muted_signals(bench) == {"fairness"}
    assert bench.audits("unmute") == []


def test_missing_model(bench: Bench) -> None:
    usage_error(bench.command("unmute"), USAGE, "expected a model name")
    usage_error(bench.command("unmute churn-model drift now"), USAGE, "unexpected extra words")


def test_an_expired_mute_is_not_reported_as_unmuted(bench: Bench) -> None:
    start = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    bench.clock = lambda: start
    mute(bench, "mute churn-model drift 1h")
    bench.clock = lambda: start + timedelta(hours=2)  # the mute ended on its own
    reply = bench.command("unmute churn-model drift")
    assert reply.removed == 0  # type: ignore[attr-defined]
    assert muted_signals(bench) == set()  # the stale row is cleaned up all the same
