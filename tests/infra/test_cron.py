"""Crontab expressions keep crontab's weekday meaning (APScheduler 3 counts from Monday)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra.cron import _crontab_days, crontab_trigger


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("5", "fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0,6", "sun,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("5-7", "sun,fri,sat"),
        ("fri-mon", "sun,mon,fri,sat"),
        ("mon-fri", "mon,tue,wed,thu,fri"),
        ("*", "*"),
    ],
)
def test_weekday_fields(field: str, expected: str) -> None:
    assert _crontab_days(field) == expected


def test_sunday_zero_fires_on_sunday() -> None:
    wednesday = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    fire = crontab_trigger("0 3 * * 0").get_next_fire_time(None, wednesday)
    assert fire == datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    assert fire.strftime("%A") == "Sunday"


@pytest.mark.parametrize("bad", ["8", "mon-", "xyz"])
def test_bad_weekdays_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        crontab_trigger(f"0 3 * * {bad}")
