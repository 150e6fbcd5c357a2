"""`/mlops mute <model> [signal] <duration>`: silence a model's alerts until the mute expires.

Summaries keep running and say they are muted; the alert state keeps advancing, so an alert
that is still breaching when the mute ends is posted at the next check.
"""

from __future__ import annotations

from datetime import timedelta

from commands.context import CommandContext
from commands.parsing import parse_args, suggest
from core.inputs import UsageError, parse_window
from core.replies import Reply
from core.reports import SIGNALS, MuteReply
from jobs.alerts.mutes import list_mutes, set_mute

NAME = "mute"
USAGE = "/mlops mute <model> [drift|data_quality|performance|fairness|utilization] <duration>"
SUMMARY = "silence a model's alerts (all, or one signal) for a while, e.g. 24h"
EXAMPLE = "/mlops mute churn-model drift 24h"

MAX_MUTE = timedelta(days=30)
ALL = ("all", "*", "everything")


def parse_signal(word: str, *, usage: str) -> str:
    """A signal name (``data-quality`` and ``data_quality`` both work) or ``*`` for all."""
    name = word.lower().replace("-", "_")
    if name in ALL:
        return "*"
    if name in SIGNALS:
        return name
    raise UsageError(
        f"unknown signal {word!r}; expected one of {', '.join(SIGNALS)} (or leave it out for all)",
        usage=usage,
        suggestion=suggest(name, SIGNALS),
    )


def run(ctx: CommandContext, words: list[str]) -> Reply:
    args = parse_args(words, options={}, usage=USAGE, max_positionals=3)
    if not args.positionals:
        raise ctx.no_model(usage=USAGE)
    model = ctx.model(args.positionals[0], usage=USAGE)
    if len(args.positionals) < 2:
        raise UsageError(
            f"expected how long to mute {model.name} for, e.g. /mlops mute {model.name} 24h",
            usage=USAGE,
        )
    if len(args.positionals) == 3:
        signal = parse_signal(args.positionals[1], usage=USAGE)
        duration_text = args.positionals[2]
    else:
        signal, duration_text = "*", args.positionals[1]
    duration = parse_window(duration_text, usage=USAGE, maximum=MAX_MUTE, what="a mute")
    now = ctx.clock()
    until = now + duration
    replaced = set_mute(ctx.store, model.name, signal, until, ctx.user, now)
    ctx.store.audit(
        ctx.user,
        "mute",
        "ok",
        model=model.name,
        subject=signal,
        until=until.isoformat(),
        duration_seconds=int(duration.total_seconds()),
    )
    active = tuple((m.signal, m.until, m.by) for m in list_mutes(ctx.store, model.name, now))
    return MuteReply(
        public=True,
        model=model.name,
        signal=signal,
        until=until,
        by=ctx.user,
        active=active,
        replaced=replaced,
    )
