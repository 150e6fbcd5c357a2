"""`/mlops mute` without Slack: a mute row until a time, audited, listed with the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from infra.store import Mute
from tests.commands.support import Bench, usage_error

USAGE = "/mlops mute <model> [drift|data_quality|performance|fairness|utilization] <duration>"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def mutes(bench: Bench) -> dict[str, tuple[datetime, str]]:
    with bench.store.session() as session:
        rows = session.scalars(select(Mute).where(Mute.model == "churn-model"))
        return {m.signal: (m.until.replace(tzinfo=UTC), m.by) for m in rows}


def test_mute_one_signal_for_a_day(bench: Bench) -> None:
    bench.clock = lambda: NOW
    reply = bench.command("mute churn-model drift 24h", user="U0BOB")
    assert type(reply).__name__ == "MuteReply"
    assert reply.public
    until = NOW + timedelta(hours=24)
    assert (reply.model, reply.signal, reply.until, reply.by) == (  # type: ignore[attr-defined]
        "churn-model",
        "drift",
        until,
        "U0BOB",
    )
    assert reply.active == (("drift", until, "U0BOB"),)  # type: ignore[attr-defined]
    assert reply.fallback_text == "Alerts of churn-model (drift) muted until 2026-03-03 09:30 UTC"
    assert mutes(bench) == {"drift": (until, "U0BOB")}
    [audit] = bench.audits("mute")
    assert (audit.actor, audit.outcome, audit.subject) == ("U0BOB", "ok", "drift")
    assert audit.detail == {"until": until.isoformat(), "duration_seconds": 86400}


def test_mute_everything_and_list_every_active_mute(bench: Bench) -> None:
    bench.clock = lambda: NOW
    bench.command("mute churn-model data-quality 30m")
    reply = bench.command("mute churn-model 2h")
    assert type(reply).__name__ == "MuteReply"
    assert reply.signal == "*"  # type: ignore[attr-defined]
    assert [a[0] for a in reply.active] == ["*", "data_quality"]  # type: ignore[attr-defined]
    assert set(mutes(bench)) == {"*", "data_quality"}


def test_muting_again_keeps_one_row_per_signal(bench: Bench) -> None:
    bench.clock = lambda: NOW
    bench.command("mute churn-model drift 7d")
    bench.command("mute churn-model drift 1h", user="U0CAROL")
    [(signal, (until, by))] = mutes(bench).items()
    assert (signal, until, by) == ("drift", NOW + timedelta(hours=1), "U0CAROL")


def test_the_reply_says_which_mute_a_new_one_replaces(bench: Bench) -> None:
    bench.clock = lambda: NOW
    first = bench.command("mute churn-model drift 7d", user="U0BOB")
    assert first.replaced is None  # type: ignore[attr-defined]
    second = bench.command("mute churn-model drift 1h", user="U0CAROL")
    assert second.replaced == (NOW + timedelta(days=7), "U0BOB")  # type: ignore[attr-defined]
    bench.clock = lambda: NOW + timedelta(hours=2)  # the 1h mute has ended: nothing replaced
    third = bench.command("mute churn-model drift 1h")
    assert third.replaced is None  # type: ignore[attr-defined]


def test_a_bad_duration_mutes_nothing(bench: Bench) -> None:
    usage_error(
        bench.command("mute churn-model drift forever"),
        USAGE,
        "expected a duration like 6h, 7d or 30m, got 'forever'",
    )
    usage_error(bench.command("mute churn-model 0h"), USAGE, "expected a duration")
    usage_error(bench.command("mute churn-model drift 31d"), USAGE, "a mute can be at most 30 days")
    # a bare number is not taken as seconds: the person meant hours or days
    usage_error(
        bench.command("mute churn-model 24"),
        USAGE,
        "expected a duration with its unit, like 24h, 24d or 24m, got '24'",
    )
    assert mutes(bench) == {}
    assert bench.audits("mute") == []


def test_a_mistyped_signal_or_model_gets_a_suggestion(bench: Bench) -> None:
    reply = usage_error(bench.command("mute churn-model drfit 1h"), USAGE, "unknown signal 'drfit'")
    assert reply.suggestion == "drift"
    reply = usage_error(bench.command("mute churn-modle 1h"), USAGE, "unknown model 'churn-modle'")
    assert reply.suggestion == "churn-model"
    assert mutes(bench) == {}


def test_missing_arguments(bench: Bench) -> None:
    usage_error(
        bench.command("mute"), USAGE, "expected a model name; configured models: churn-model"
    )
    reply = usage_error(
        bench.command("mute churn-model"),
        USAGE,
        "expected how long to mute churn-model for, e.g. /mlops mute churn-model 24h",
    )
    assert "a model" not in reply.message  # the model was given
    usage_error(bench.command("mute churn-model drift 1h now"), USAGE, "unexpected extra words")
