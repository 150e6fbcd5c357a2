"""`/mlops unmute <model> [signal]`: end a mute now (all of the model's mutes without a signal)."""

from __future__ import annotations

from commands.context import CommandContext
from commands.mute import parse_signal
from commands.parsing import parse_args
from core.replies import Reply
from core.reports import MuteReply
from jobs.alerts.mutes import list_mutes, remove_mutes

NAME = "unmute"
USAGE = "/mlops unmute <model> [drift|data_quality|performance|fairness|utilization]"
SUMMARY = "end a mute now; alerts resume at the next check"
EXAMPLE = "/mlops unmute churn-model drift"


def run(ctx: CommandContext, words: list[str]) -> Reply:
    args = parse_args(words, options={}, usage=USAGE, max_positionals=2)
    if not args.positionals:
        raise ctx.no_model(usage=USAGE)
    model = ctx.model(args.positionals[0], usage=USAGE)
    signal = parse_signal(args.positionals[1], usage=USAGE) if len(args.positionals) > 1 else None
    now = ctx.clock()
    removed = remove_mutes(ctx.store, model.name, now, None if signal in (None, "*") else signal)
    ctx.store.audit(
        ctx.user, "unmute", "ok", model=model.name, subject=signal or "*", removed=removed
    )
    active = tuple((m.signal, m.until, m.by) for m in list_mutes(ctx.store, model.name, now))
    return MuteReply(
        public=True, model=model.name, signal=signal or "*", removed=removed, active=active
    )
