"""The backtest card: the alerts a proposed setting would have raised on past windows, beside
the current setting's, each with when it opened and how long it lasted; the chart goes in the
card's thread. Importing the module registers it with :mod:`bot.slack.blocks.render`."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.slack.blocks.common import (
    MAX_FIELD_TEXT,
    clip,
    code,
    context,
    esc,
    header,
    section,
    slack_date,
)
from bot.slack.blocks.render import register_renderer
from core.alerting.episodes import Episode, Replay
from core.backtest import BacktestReply, BacktestResult
from infra.durations import format_duration

#: Episodes listed per setting; the rest are counted.
MAX_EPISODES_SHOWN = 8


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _episode_line(episode: Episode, result: BacktestResult) -> str:
    """``• Nov 13 07:00, for 1d · 30%``: when it opened, how long it lasted, the plotted value
    that opened it; for performance, which limit broke (the chart plots one metric only)."""
    how_long = format_duration(episode.duration)
    line = f"• {slack_date(episode.opened_at)}, "
    line += f"still open ({how_long} so far)" if episode.ongoing else f"for {how_long}"
    value = _value_at(result, episode)
    if value:
        line += f" · {value}"
    marks = [m for m, on in (("came back", episode.reopened), ("flapped", episode.flapped)) if on]
    if marks:
        line += f" · {', '.join(marks)}"
    if episode.headline and result.kind != "drift":
        line += f"\n    _{esc(clip(episode.headline, 80))}_"
    return line


def _value_at(result: BacktestResult, episode: Episode) -> str:
    window = next((w for w in result.windows if w.end == episode.opened_at), None)
    if window is None or window.value is None:
        return ""
    if result.kind == "drift":
        return f"{window.value:.0%} drifted"
    return f"{esc(result.statistic)} {window.value:.3g}"


def _episodes_field(title: str, replay: Replay, result: BacktestResult) -> str:
    text = f"*{title}: {_plural(replay.alerts, 'alert')}*"
    if not replay.episodes:
        return text + "\nnone"
    lines = [_episode_line(e, result) for e in replay.episodes[:MAX_EPISODES_SHOWN]]
    hidden = replay.alerts - MAX_EPISODES_SHOWN
    if hidden > 0:
        lines.append(f"… and {hidden} more (see the chart)")
    return clip(text + "\n" + "\n".join(lines), MAX_FIELD_TEXT)


def _change_text(result: BacktestResult) -> str:
    parts = []
    for change in result.changes:
        now = "not set" if change.current is None else f"{change.current:g}"
        parts.append(f"{code(f'--{change.option} {change.proposed:g}')} (now {esc(now)})")
    return " and ".join(parts)


def _verdict(result: BacktestResult) -> str:
    new, now = result.proposed.alerts, result.current.alerts
    if new == now:
        return f"the same number of alerts as now ({_plural(now, 'alert')})"
    more = "more" if new > now else "fewer"
    return f"*{_plural(abs(new - now), 'alert')} {more}* than now ({new} instead of {now})"


def backtest_blocks(reply: BacktestReply) -> list[Block]:
    result = reply.result
    if result is None:
        return [section("No backtest.")]
    windows = len(result.windows)
    blocks: list[Block] = [
        header(f":test_tube: Backtest · {result.model} · {result.environment} · {result.kind}"),
        section(
            f"{_change_text(result)} on {_plural(windows, 'window')} of "
            f"{format_duration(result.window)}, {slack_date(result.start)} → "
            f"{slack_date(result.end)}: {_verdict(result)}."
        ),
        section(
            "",
            fields=[
                _episodes_field("Proposed", result.proposed, result),
                _episodes_field("Now", result.current, result),
            ],
        ),
    ]
    notes = [
        f":bar_chart: {esc(result.statistic)} per window with both thresholds in the thread · "
        f"one alert per episode, as the alert rules post them (a breach must hold "
        f"{_held(result)}; recovery ends it) · windows back to back, the last ending now",
    ]
    if result.kind == "performance":
        notes.append("alerts count every limit of the check; the chart plots one metric")
    if result.without_data:
        notes.append(
            f"{_plural(result.without_data, 'window')} without enough data count neither way"
        )
    keys = " and ".join(
        code(f"monitoring.{c.section}.{c.key}: {c.proposed:g}") for c in result.changes
    )
    notes.append(f"nothing was changed: to adopt it, set {keys} in the configuration")
    blocks.append(context(*notes))
    return blocks


def _held(result: BacktestResult) -> str:
    now, proposed = result.consecutive_breaches
    if now == proposed:
        return _plural(now, "check")
    return f"{_plural(proposed, 'check')} proposed, {now} now"


register_renderer(BacktestReply, backtest_blocks)
