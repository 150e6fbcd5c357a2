"""The backtest's episode count is the alert channel's: the same levels fed to the real alert
book (store rows, posts, edits, thread notes through a recording publisher) page exactly as
often as :func:`core.alerting.episodes.replay` counts, and at the same checks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.alerting.episodes import replay
from core.alerting.policy import Effect
from core.publisher import Delivery
from core.replies import MessageRef, Reply, Upload
from infra.settings import AlertConfig, Settings
from infra.store import Store, default_database_url, open_store
from jobs.alerts import AlertBook, Observation
from jobs.context import MonitorContext
from tests.bot.demo.seeded import demo_settings

START = datetime(2026, 11, 1, 7, tzinfo=UTC)
NAMES = {"B": "breach", "w": "warning", ".": "healthy", "?": "unknown"}


class RecordingPublisher:
    """Delivers everything at once and remembers the top-level posts."""

    def __init__(self) -> None:
        self.posts: list[str] = []
        self._n = 0

    def post(
        self,
        key: str,
        channel: str | None,
        message: Reply | str,
        *,
        thread_ts: str | None = None,
        parent: str | None = None,
        hook: str | None = None,
        hook_args: Mapping[str, Any] | None = None,
    ) -> Delivery:
        self._n += 1
        if thread_ts is None and parent is None:
            self.posts.append(key)
        return Delivery(key, True, MessageRef(channel or "C", f"{self._n}.0"))

    def update(
        self, key: str, ref: MessageRef | None, message: Reply, *, parent: str | None = None
    ) -> Delivery:
        return Delivery(key, True, ref)

    def upload(
        self,
        key: str,
        channel: str | None,
        uploads: Sequence[Upload],
        *,
        thread_ts: str | None = None,
        parent: str | None = None,
    ) -> Delivery:
        return Delivery(key, True)

    def is_pending(self, key: str) -> bool:
        return False

    def ephemeral(self, channel: str, user: str, message: Reply) -> bool:
        return True

    def direct_message(self, user: str, message: Reply) -> None:
        return None

    def permalink(self, ref: MessageRef) -> str | None:
        return None

    def on_delivered(self, name: str, hook: Any) -> None:
        return None


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return demo_settings(tmp_path)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(default_database_url(settings.state_path))
    yield opened
    opened.close()


def through_the_book(
    settings: Settings, store: Store, levels: str, step: timedelta, rules: AlertConfig
) -> list[bool]:
    """Feed ``levels`` to the real alert book, one check per ``step``; which checks paged."""
    model = settings.models[0]
    model = model.model_copy(
        update={"monitoring": model.monitoring.model_copy(update={"alerts": rules})}
    )
    clock = {"now": START}
    ctx = MonitorContext(
        settings, None, store, publisher=RecordingPublisher(), clock=lambda: clock["now"]
    )  # type: ignore[arg-type]
    book = AlertBook(ctx)
    paged = []
    for i, code in enumerate(levels):
        clock["now"] = START + step * (i + 1)
        outcome = book.observe(
            Observation(model.name, "prod", "drift", NAMES[code], f"check {i}"), model
        )
        paged.append(outcome.effect in (Effect.OPENED, Effect.REOPENED))
    return paged


@pytest.mark.parametrize(
    ("levels", "step", "rules"),
    [
        ("..BBB..B.BwBB?B..", timedelta(days=1), AlertConfig()),
        ("B.BB.BBB..BBBBB.B", timedelta(days=1), AlertConfig(consecutive_breaches=3)),
        ("B.B.B.B.B.B........B", timedelta(hours=1), AlertConfig()),
        ("BB.BB.BB..........BB", timedelta(hours=2), AlertConfig(consecutive_breaches=2)),
    ],
)
def test_replay_pages_when_the_alert_book_pages(
    settings: Settings, store: Store, levels: str, step: timedelta, rules: AlertConfig
) -> None:
    paged = through_the_book(settings, store, levels, step, rules)
    checks = [(START + step * (i + 1), NAMES[c]) for i, c in enumerate(levels)]
    replayed = replay(checks, rules)
    assert list(replayed.opened) == paged
    assert replayed.alerts == sum(paged) > 0
