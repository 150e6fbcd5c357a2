"""Spreading a fleet's checks: a stable offset per model within ``monitoring.spread``, at most
half the period, on the real cron triggers (issue 15: the daily burst becomes a stream)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

from infra.cron import crontab_trigger
from infra.settings import Settings
from jobs.scheduler import OffsetTrigger, desired_jobs, spread_offset


def _settings(*names: str, spread: str | None = None, schedule: str = "0 6 * * *") -> Settings:
    monitoring: dict[str, object] = {"drift": {"schedule": schedule}}
    if spread is not None:
        monitoring["spread"] = spread
    return Settings.model_validate(
        {
            "models": [
                {
                    "name": name,
                    "task": "classification",
                    "columns": {"target": "y"},
                    "monitoring": monitoring,
                }
                for name in names
            ]
        }
    )


def test_offset_is_stable_bounded_and_differs_between_models() -> None:
    day, spread = timedelta(days=1), timedelta(minutes=30)
    offsets = [spread_offset(f"model-{i}", spread, day) for i in range(200)]
    assert offsets == [spread_offset(f"model-{i}", spread, day) for i in range(200)]
    assert all(0 <= o < 1800 for o in offsets)
    assert len(set(offsets)) > 150  # 200 models land on many different seconds
    # Never more than half the period: an every-minute check moves by under 30 s.
    assert all(spread_offset(f"m{i}", spread, timedelta(minutes=1)) < 30 for i in range(50))
    assert spread_offset("m", timedelta(0), day) == 0


def test_offset_trigger_fires_at_the_cron_time_plus_the_offset() -> None:
    trigger = OffsetTrigger(crontab_trigger("0 6 * * *"), 754)
    now = datetime(2030, 1, 1, 6, 5, tzinfo=UTC)
    first = trigger.get_next_fire_time(None, now)
    assert first == datetime(2030, 1, 1, 6, 12, 34, tzinfo=UTC)  # 06:00 + 12 min 34 s
    assert trigger.get_next_fire_time(first, first + timedelta(seconds=1)) == first + timedelta(
        days=1
    )
    late = trigger.get_next_fire_time(None, datetime(2030, 1, 1, 6, 20, tzinfo=UTC))
    assert late == first + timedelta(days=1)
    again = pickle.loads(pickle.dumps(trigger))  # stored with the job in the SQL job store
    assert str(again) == str(trigger) and again.get_next_fire_time(None, now) == first


def test_desired_jobs_spread_each_model_and_leave_the_digest_on_time() -> None:
    settings = _settings(*(f"model-{i}" for i in range(20)))
    specs = [s for s in desired_jobs(settings) if s.kind == "drift"]
    now = datetime(2030, 1, 1, tzinfo=UTC)
    fires = sorted(s.trigger().get_next_fire_time(None, now) for s in specs)
    assert fires[0] >= datetime(2030, 1, 1, 6, tzinfo=UTC)
    assert fires[-1] < datetime(2030, 1, 1, 6, 10, tzinfo=UTC)  # default spread: 10 minutes
    assert len(set(fires)) > 15
    digest = next(s for s in desired_jobs(settings) if s.kind == "digest")
    assert digest.trigger().get_next_fire_time(None, now) == datetime(2030, 1, 1, 8, tzinfo=UTC)
    flat = _settings("model-1", spread="0s")
    spec = next(s for s in desired_jobs(flat) if s.kind == "drift")
    assert spec.trigger().get_next_fire_time(None, now) == datetime(2030, 1, 1, 6, tzinfo=UTC)
