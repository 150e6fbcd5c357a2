"""The alert lifecycle rules on their own: K in a row, flapping, reopening, no-data, mutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infra.settings import AlertConfig
from jobs.alerts import Effect, Snapshot, Transition, plan
from jobs.scheduler import desired_jobs
from tests.scenarios.scheduling.conftest import make_settings, model_config

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
RULES = AlertConfig(consecutive_breaches=2, flap_threshold=4, flap_window=timedelta(hours=6))


def walk(
    levels: list[str],
    *,
    rules: AlertConfig = RULES,
    muted: bool = False,
    step: timedelta = timedelta(hours=1),
) -> list[Transition]:
    """Apply the rules to a series of levels, as if each alert post succeeded."""
    snapshot, out, now = Snapshot(), [], T0
    for level in levels:
        now += step
        t = plan(snapshot, level, rules=rules, muted=muted, now=now, headline="h")
        out.append(t)
        snapshot = Snapshot(
            state=t.state,
            consecutive=t.consecutive,
            breach_count=t.breach_count,
            condition=t.condition,
            flips=t.flips,
            opened_at=t.opened_at,
            resolved_at=t.resolved_at,
            has_message=snapshot.has_message or t.post_new,
        )
    return out


def effects(transitions: list[Transition]) -> list[str]:
    return [str(t.effect) for t in transitions]


def test_k_consecutive_breaches_open_then_update_then_resolve() -> None:
    steps = walk(["breach", "breach", "breach", "healthy", "healthy"])
    assert effects(steps) == ["pending", "opened", "updated", "resolved", "none"]
    assert [t.state for t in steps] == ["pending", "open", "open", "resolved", "resolved"]
    assert steps[1].post_new and steps[1].breach_count == 2
    assert steps[2].note and "check 3, 3 in a row" in steps[2].note


def test_a_single_breach_below_k_never_alerts() -> None:
    steps = walk(["breach", "healthy", "breach", "warning"])
    assert effects(steps) == ["pending", "none", "pending", "none"]
    assert steps[-1].state == "ok" and not any(t.post_new for t in steps)


def test_no_data_changes_nothing() -> None:
    steps = walk(["breach", "breach", "unknown", "unknown", "breach"])
    assert effects(steps) == ["pending", "opened", "none", "none", "updated"]
    assert steps[-1].consecutive == 3


def test_flapping_is_held_then_settles() -> None:
    rules = AlertConfig(consecutive_breaches=1, flap_threshold=4, flap_window=timedelta(hours=6))
    levels = ["breach", "healthy", "breach", "healthy", "breach", "healthy"] + ["healthy"] * 6
    steps = walk(levels, rules=rules)
    assert effects(steps)[:4] == ["opened", "resolved", "reopened", "flapping"]
    assert sum(t.effect is Effect.FLAPPING for t in steps) == 1
    assert sum(t.post_new for t in steps) == 1  # never a second top-level alert
    assert steps[-1].state == "resolved" and steps[-1].effect is Effect.NONE
    settled = next(t for t in steps if t.effect is Effect.SETTLED)
    assert settled.state == "resolved" and settled.note and "Settled" in settled.note


def test_a_breach_long_after_resolution_is_a_new_incident() -> None:
    rules = AlertConfig(consecutive_breaches=1, flap_threshold=4, flap_window=timedelta(hours=6))
    steps = walk(["breach", "healthy", "breach"], rules=rules, step=timedelta(hours=8))
    assert effects(steps) == ["opened", "resolved", "opened"]
    assert steps[-1].post_new


def test_muted_breaches_advance_state_without_posting() -> None:
    rules = AlertConfig(consecutive_breaches=1)
    steps = walk(["breach", "breach"], rules=rules, muted=True)
    assert effects(steps) == ["suppressed", "suppressed"]
    assert steps[0].state == "open" and not any(t.post_new or t.note for t in steps)


def test_desired_jobs_follow_the_configuration(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path,
        model_config(
            monitoring={"environments": ["preprod", "prod"], "performance": {"enabled": False}}
        ),
    )
    specs = {s.id: s for s in desired_jobs(settings)}
    assert set(specs) == {
        "drift:churn:preprod",
        "drift:churn:prod",
        "utilization:churn:preprod",
        "utilization:churn:prod",
        "retrain:churn",
        "digest",
    }
    assert specs["drift:churn:prod"].grace_seconds() == 1800  # hourly: half an hour
    assert specs["utilization:churn:prod"].grace_seconds() == 450  # every 15 minutes
    assert specs["digest"].grace_seconds() == 6 * 3600  # daily: capped at six hours
