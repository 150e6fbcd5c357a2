"""Episode counting: the alert rules replayed over past check levels give one alert per
episode, as the alert channel would have shown them (dedupe, K in a row, recovery, flapping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.alerting.episodes import replay
from infra.settings import AlertConfig

START = datetime(2026, 11, 1, 6, tzinfo=UTC)
DAY = timedelta(days=1)
RULES = AlertConfig()  # K = 1, flapping at 4 flips within 6 h


def series(levels: str, step: timedelta = DAY) -> list[tuple[datetime, str]]:
    """``"..BB.?"`` -> checks one ``step`` apart: B breach, w warning, . healthy, ? no data."""
    names = {"B": "breach", "w": "warning", ".": "healthy", "?": "unknown"}
    return [(START + step * (i + 1), names[c]) for i, c in enumerate(levels)]


def test_a_healthy_history_pages_nobody() -> None:
    result = replay(series("....w..?.."), RULES)
    assert result.alerts == 0
    assert not any(result.opened) and not any(result.active)


def test_a_run_of_breaches_is_one_alert_that_recovery_ends() -> None:
    result = replay(series("..BBB..", DAY), RULES)
    assert result.alerts == 1
    (episode,) = result.episodes
    assert episode.opened_at == START + 3 * DAY
    assert episode.resolved_at == START + 6 * DAY
    assert episode.duration == 3 * DAY and not episode.ongoing
    assert result.opened == (False, False, True, False, False, False, False)
    assert result.active == (False, False, True, True, True, False, False)


def test_each_recovery_starts_a_new_episode_and_a_warning_is_a_recovery() -> None:
    result = replay(series("B.BwBB."), RULES)
    assert result.alerts == 3
    assert [e.opened_at for e in result.episodes] == [START + DAY, START + 3 * DAY, START + 5 * DAY]
    # a day apart is beyond the 6 h flap window: new alerts, not reopened ones
    assert not any(e.reopened for e in result.episodes)


def test_no_data_neither_breaches_nor_recovers() -> None:
    result = replay(series("BB??B.", DAY), RULES)
    assert result.alerts == 1
    assert result.episodes[0].duration == 5 * DAY


def test_an_episode_still_open_at_the_end_lasts_until_the_last_check() -> None:
    result = replay(series("...BBB"), RULES)
    (episode,) = result.episodes
    assert episode.ongoing and episode.resolved_at is None
    assert episode.duration == 2 * DAY


def test_consecutive_breaches_hold_short_spells_back() -> None:
    rules = AlertConfig(consecutive_breaches=3)
    result = replay(series("B.BB.BBB..BBBBB"), rules)
    assert result.alerts == 2
    # confirmed on the third breach in a row, not the first
    assert [e.opened_at for e in result.episodes] == [START + 8 * DAY, START + 13 * DAY]
    assert result.states[:4] == ("pending", "ok", "pending", "pending")
    # the same history with K = 1 pages four times
    assert replay(series("B.BB.BBB..BBBBB"), RULES).alerts == 4


def test_a_flapping_signal_is_held_in_one_episode() -> None:
    # Hourly checks flipping every hour: the first alert, one that comes back, then it is held
    # as flapping (one note, no further posts) until it has been quiet for the flap window.
    result = replay(series("B.B.B.B.B.B" + "." * 8, timedelta(hours=1)), RULES)
    assert result.alerts == 2
    first, second = result.episodes
    assert first.duration == timedelta(hours=1) and not first.flapped
    assert second.reopened and second.flapped and not second.ongoing
    assert "flapping" in result.states


def test_headlines_of_the_opening_checks_are_kept() -> None:
    checks = series(".B.")
    result = replay(checks, RULES, headlines=["fine", "3 of 10 features drifted", "fine"])
    assert result.episodes[0].headline == "3 of 10 features drifted"
