"""`/mlops backtest <model> <drift|performance> --<setting> <value> [--days 30]`: try a threshold
on history before setting it.

Recomputes the check over past windows of stored production data with the proposed setting and
answers with the alerts it would have raised (one per episode, by the real alert rules), when,
for how long, beside the current setting's, with a chart. It changes nothing: the command's
audit line is all it leaves.
"""

from __future__ import annotations

import time
from datetime import timedelta

from commands.context import CommandContext
from commands.parsing import parse_args, suggest
from core.backtest import BacktestReply
from core.checks import CheckKind
from core.inputs import UsageError, parse_window
from core.replies import ErrorReply, MessageReply, Reply
from infra.durations import format_duration
from infra.settings import ModelConfig
from jobs.backtest import (
    BACKTESTABLE,
    BY_OPTION,
    MAX_WINDOWS,
    BadValue,
    HistoryTooShort,
    Proposal,
    Tunable,
    load_history,
    parse_value,
    run_backtest,
    tunables_of,
)
from jobs.charts import backtest_chart
from jobs.checks import CheckFailed, window_of
from jobs.context import MonitorContext

NAME = "backtest"
USAGE = (
    "/mlops backtest <model> <drift|performance> --<setting> <value> "
    "[--consecutive-breaches N] [--days 30] [--env <environment>] [--window 1d]"
)
SUMMARY = "try a threshold on past production data: the alerts it would have raised, vs now"
EXAMPLE = "/mlops backtest churn-model drift --threshold 0.15"

DETAILS = (
    "Settings a backtest tries (one threshold at a time, --consecutive-breaches may go with it): "
    "drift --threshold (short for --share-threshold); performance --min-accuracy, --min-f1, "
    "--min-roc-auc, --max-drop (classifiers) or --max-mae, --max-rmse, --min-r2 (regressors). "
    "--days defaults to 30 or as far back as the stored data goes."
)

DEFAULT_DAYS = 30
"""Without --days: this many, or as far back as the stored data reaches when that is less."""
MAX_DAYS = 365
#: Edit the progress message at most this often (Slack allows about one chat.update a second).
PROGRESS_EVERY_SECONDS = 1.0

_OPTIONS = {
    **{t.option: True for t in BY_OPTION.values()},
    "threshold": True,
    "days": True,
    "env": True,
    "window": True,
}


def run(ctx: CommandContext, words: list[str]) -> Reply:
    args = parse_args(words, options=_OPTIONS, usage=USAGE, max_positionals=2)
    if not args.positionals:
        raise ctx.no_model(usage=USAGE)
    model_cfg = ctx.model(args.positionals[0], usage=USAGE)
    kind = _kind(args.positionals[1] if len(args.positionals) > 1 else None)
    proposal = _proposal(model_cfg, kind, args.options)
    days = _days(args.options.get("days"))
    env_option = args.options.get("env")
    env = (
        ctx.env(str(env_option), usage=USAGE)
        if env_option
        else ctx.settings.monitored_envs(model_cfg)[0]
    )
    window_option = args.options.get("window")
    window = (
        parse_window(str(window_option), usage=USAGE)
        if window_option
        else window_of(model_cfg, kind)
    )
    count = int(timedelta(days=days) / window)
    if count < 1:
        raise UsageError(
            f"--days {days} is shorter than one {_span(window)} window; ask for more days",
            usage=USAGE,
        )
    if count > MAX_WINDOWS:
        raise UsageError(
            f"{days} days of {_span(window)} windows is {count} windows; at most {MAX_WINDOWS} "
            "are tried at once (a longer --window or fewer --days)",
            usage=USAGE,
        )
    monitor = MonitorContext(ctx.settings, ctx.platform, ctx.store, clock=ctx.clock)
    try:
        try:
            history = load_history(monitor, model_cfg, env, days=days, window=window)
        except HistoryTooShort as exc:
            if "days" in args.options or exc.available_days < 1:
                raise
            # No --days given: as far back as the stored data reaches, up to the default.
            days = exc.available_days
            history = load_history(monitor, model_cfg, env, days=days, window=window)
    except HistoryTooShort as exc:
        raise UsageError(str(exc), usage=USAGE) from None
    except CheckFailed as exc:
        return ErrorReply(message=str(exc))
    count = history.count

    what = f"the {kind} check of {model_cfg.name} in {env} over {days} days"
    ctx.progress(MessageReply(public=True, text=f"Backtesting {what}: window 0 of {count}…"))
    last_shown = time.monotonic()

    def progress(done: int, total: int) -> None:
        nonlocal last_shown
        if done < total and time.monotonic() - last_shown >= PROGRESS_EVERY_SECONDS:
            last_shown = time.monotonic()
            ctx.progress(
                MessageReply(public=True, text=f"Backtesting {what}: window {done} of {total}…")
            )

    try:
        result = run_backtest(monitor, model_cfg, env, proposal, history, progress=progress)
    except CheckFailed as exc:
        return ErrorReply(message=str(exc))
    return BacktestReply(public=True, result=result, chart=backtest_chart(result))


def _kind(text: str | None) -> CheckKind:
    names = ", ".join(k.value for k in BACKTESTABLE)
    if text is None:
        raise UsageError(f"expected a check kind after the model: {names}", usage=USAGE)
    try:
        kind = CheckKind(text.lower())
    except ValueError:
        raise UsageError(
            f"unknown check kind {text!r}; a backtest tries {names}",
            usage=USAGE,
            suggestion=suggest(text, [k.value for k in BACKTESTABLE]),
        ) from None
    if kind not in BACKTESTABLE:
        raise UsageError(
            f"the {kind} check cannot be backtested: it reads the platform's metrics, which are "
            f"not kept as production data; a backtest tries {names}",
            usage=USAGE,
        )
    return kind


def _settings_of(kind: CheckKind) -> str:
    return ", ".join(f"--{t.option}" for t in tunables_of(kind))


def _proposal(model_cfg: ModelConfig, kind: CheckKind, options: dict[str, str | bool]) -> Proposal:
    if "threshold" in options:
        # The short form people type first: the drift check has one headline threshold.
        if kind is not CheckKind.DRIFT:
            raise UsageError(
                f"--threshold is short for the drift check's --share-threshold; name the "
                f"{kind} limit to try: {_settings_of(kind)}",
                usage=USAGE,
            )
        if "share-threshold" in options:
            raise UsageError("give --threshold or --share-threshold, not both", usage=USAGE)
        options = {**options, "share-threshold": options["threshold"]}
        del options["threshold"]
    given: list[Tunable] = [BY_OPTION[name] for name in options if name in BY_OPTION]
    if not given:
        raise UsageError(
            f"say which setting to try, e.g. --{tunables_of(kind)[0].option} <value>; "
            f"the {kind} check takes {_settings_of(kind)}",
            usage=USAGE,
        )
    allowed = tunables_of(kind)
    wrong = [t for t in given if t not in allowed]
    if wrong:
        raise UsageError(
            f"--{wrong[0].option} is a setting of the {wrong[0].section} check, not of the "
            f"{kind} check; it takes {_settings_of(kind)}",
            usage=USAGE,
        )
    unfit = [t for t in given if not t.fits(model_cfg)]
    if unfit:
        fitting = ", ".join(f"--{t.option}" for t in allowed if t.fits(model_cfg))
        raise UsageError(
            f"{model_cfg.name} is a {model_cfg.task} model, so its performance check has no "
            f"--{unfit[0].option}; it takes {fitting}",
            usage=USAGE,
        )
    values: dict[str, float] = {}
    for tunable in given:
        try:
            values[tunable.option] = parse_value(tunable, model_cfg, str(options[tunable.option]))
        except BadValue as exc:
            raise UsageError(str(exc), usage=USAGE) from None
    thresholds = [t for t in given if not t.applies_to_every_kind]
    if len(thresholds) > 1:
        raise UsageError(
            "try one threshold at a time (got "
            + " and ".join(f"--{t.option}" for t in thresholds)
            + "); --consecutive-breaches can go with it",
            usage=USAGE,
        )
    breaches = values.get("consecutive-breaches")
    return Proposal(
        kind=kind,
        threshold=(thresholds[0], values[thresholds[0].option]) if thresholds else None,
        consecutive_breaches=int(breaches) if breaches is not None else None,
    )


def _days(value: str | bool | None) -> int:
    if value is None:
        return DEFAULT_DAYS
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise UsageError(
            f"--days expects a whole number of days from 1 to {MAX_DAYS}, got {text!r}",
            usage=USAGE,
        )
    return int(text)


def _span(window: timedelta) -> str:
    return format_duration(window)
