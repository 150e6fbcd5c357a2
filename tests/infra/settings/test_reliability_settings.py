"""``reliability``: lease length and heartbeat, claims and the replay window, from the file."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from infra.settings import Settings


def test_defaults() -> None:
    reliability = Settings().reliability
    assert reliability.leader_lease == timedelta(seconds=30)
    assert reliability.heartbeat == timedelta(seconds=10)
    assert reliability.replay_window == timedelta(minutes=6)


def test_lease_and_heartbeat_are_configurable() -> None:
    reliability = Settings.model_validate(
        {"reliability": {"leader_lease": "12s", "leader_heartbeat": "2s", "inbox_claim": "1m"}}
    ).reliability
    assert reliability.leader_lease == timedelta(seconds=12)
    assert reliability.heartbeat == timedelta(seconds=2)
    assert reliability.inbox_claim == timedelta(minutes=1)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"leader_lease": "10s", "leader_heartbeat": "10s"}, "must be shorter than"),
        ({"leader_lease": "0s"}, "at least 1s"),
        ({"lease": "10s"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_values_are_refused_with_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings.model_validate({"reliability": raw})
    assert message in str(refused.value)


def test_the_scheduler_takes_its_lease_from_the_settings(tmp_path) -> None:
    from infra.platform.local import LocalPlatform
    from infra.store import open_store
    from jobs.context import MonitorContext
    from jobs.scheduler import MonitoringScheduler

    settings = Settings.model_validate(
        {
            "state_dir": str(tmp_path),
            "reliability": {"leader_lease": "9s", "leader_heartbeat": "1s"},
        }
    )
    store = open_store(f"sqlite:///{tmp_path / 'bot.db'}")
    platform = LocalPlatform(settings)
    try:
        context = MonitorContext(settings, platform, store, publisher=None)  # type: ignore[arg-type]
        scheduler = MonitoringScheduler(context, configured_jobs=False)
        assert scheduler.lease.ttl == timedelta(seconds=9)
        assert scheduler.heartbeat == timedelta(seconds=1)
    finally:
        platform.close()
        store.close()
