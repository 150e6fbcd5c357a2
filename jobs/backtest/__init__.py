"""Backtests: a check's proposed settings tried on past windows of stored production data.

* :mod:`~jobs.backtest.settings` — which settings can be tried and how they are spelled;
* :mod:`~jobs.backtest.run` — read the span once, judge each window by both settings, replay
  the alert rules (:mod:`core.alerting.episodes`).

``/mlops backtest`` (:mod:`commands.backtest`) calls :func:`load_history` then
:func:`run_backtest` and answers with a :class:`core.backtest.BacktestReply`.
"""

from jobs.backtest.run import (
    MAX_WINDOWS,
    History,
    HistoryTooShort,
    load_history,
    plan_windows,
    run_backtest,
)
from jobs.backtest.settings import (
    BACKTESTABLE,
    BY_OPTION,
    TUNABLES,
    BadValue,
    Proposal,
    Tunable,
    parse_value,
    tunables_of,
)

__all__ = [
    "BACKTESTABLE",
    "BY_OPTION",
    "MAX_WINDOWS",
    "TUNABLES",
    "BadValue",
    "History",
    "HistoryTooShort",
    "Proposal",
    "Tunable",
    "load_history",
    "parse_value",
    "plan_windows",
    "run_backtest",
    "tunables_of",
]
