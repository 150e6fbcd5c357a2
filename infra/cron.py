"""Five-field crontab expressions as APScheduler triggers, with crontab's weekday numbers.

APScheduler 3 numbers weekdays from Monday (0 = mon) even in ``CronTrigger.from_crontab``, so
``0 3 * * 0`` would run on Monday instead of Sunday. Every cron expression in the configuration
(schedules, retraining, freeze windows) goes through :func:`crontab_trigger` instead.
"""

from __future__ import annotations

from datetime import UTC

from apscheduler.triggers.cron import CronTrigger

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _crontab_days(field: str) -> str:
    """A crontab day-of-week field (0 or 7 = Sunday) as APScheduler 3 day names.

    APScheduler 3 numbers days from Monday = 0, so ``0 3 * * 0`` handed over as is would run on
    Mondays; expanding to names keeps the crontab meaning people wrote.
    """
    days: set[int] = set()
    for part in field.lower().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            first, last = 0, 6
        elif "-" in base:
            low, high = base.split("-", 1)
            first, last = _day_number(low), _day_number(high)
            if last < first:  # e.g. fri-mon wraps over the week end
                last += 7
        else:
            first = _day_number(base)
            last = first if not step_text else 6
        days.update(d % 7 for d in range(first, last + 1, step))
    if len(days) == 7:
        return "*"
    return ",".join(_DAY_NAMES[d] for d in sorted(days))


def _day_number(token: str) -> int:
    if token.isdigit():
        number = int(token)
        if not 0 <= number <= 7:
            raise ValueError(f"day of week {token!r} is not between 0 and 7")
        return number % 7 if number != 7 else 0
    if token[:3] in _DAY_NAMES:
        return _DAY_NAMES.index(token[:3])
    raise ValueError(f"unknown day of week {token!r}")


def crontab_trigger(expr: str) -> CronTrigger:
    """A CronTrigger in UTC with crontab's day-of-week numbering."""
    minute, hour, day, month, day_of_week = expr.split()
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_crontab_days(day_of_week),
        timezone=UTC,
    )
