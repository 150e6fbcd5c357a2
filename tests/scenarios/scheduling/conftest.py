"""A bot's scheduling side on a real store and the fake Slack, with a clock the test moves.

``Harness`` builds the real services (store on a SQLite file, the bot's own Slack client with
its retry handlers, the responder) around :class:`ScriptedPlatform`, and starts the real
:class:`MonitoringScheduler`. Tests fire configured jobs through the scheduler itself
(``run``: make the job due now, wait for its executor to finish it); the check windows, mutes,
cooldowns and flapping follow ``clock``.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.runtime import build_services
from bot.sandbox import seed
from bot.slack.responder import make_client
from bot.slack.services import Services
from core.replies import Upload
from infra.settings import Settings
from infra.store import Store, open_store
from jobs.scheduler import MonitoringScheduler
from tests.fakes.slack_server import FakeSlackServer
from tests.scenarios.scheduling.platform import CATEGORICAL, NUMERIC, ScriptedPlatform

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DRIFT_JOB = "drift:churn:prod"


class Clock:
    """The bot's notion of now, moved by the test."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta = timedelta(hours=1)) -> datetime:
        self.now += delta
        return self.now


def model_config(**overrides: Any) -> dict[str, Any]:
    model: dict[str, Any] = {
        "name": "churn",
        "task": "classification",
        "features": {"numeric": list(NUMERIC), "categorical": list(CATEGORICAL)},
        "columns": {"target": "label", "prediction": "prediction", "score": "score"},
        "positive_label": 1,
        "monitoring": {
            "environments": ["prod"],
            "drift": {"schedule": "0 * * * *", "window": "1d"},
            "performance": {"schedule": "0 6 * * *", "window": "1d"},
            "utilization": {"schedule": "*/15 * * * *", "window": "6h"},
            "alerts": {"consecutive_breaches": 1, "flap_threshold": 4, "flap_window": "6h"},
        },
        "retraining": {
            "schedule": "0 3 * * 0",
            "on_drift": "ask",
            "on_performance": "ask",
            "cooldown": "6h",
        },
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(model.get(key), dict):
            model[key] = {**model[key], **value}
        else:
            model[key] = value
    return model


def make_settings(
    state_dir: Path,
    *models: dict[str, Any],
    environments: list[dict[str, Any]] | None = None,
    slack: dict[str, Any] | None = None,
) -> Settings:
    settings = Settings.model_validate(
        {
            "platform": "local",
            "environments": environments or [],
            "slack": {
                "channels": {
                    "alerts": "#mlops-alerts",
                    "approvals": "#mlops-approvals",
                    "digest": "#mlops",
                },
                **(slack or {}),
            },
            "models": list(models) or [model_config()],
        }
    )
    return settings.model_copy(update={"resolved_state_dir": str(state_dir)})


@dataclass
class Harness:
    slack: FakeSlackServer
    settings: Settings
    platform: ScriptedPlatform
    clock: Clock
    db_url: str
    store: Store = field(init=False)
    services: Services = field(init=False)
    scheduler: MonitoringScheduler | None = None

    def __post_init__(self) -> None:
        self.store = open_store(self.db_url)
        client = make_client(seed.BOT_TOKEN, self.slack.base_url)
        self.services = build_services(self.settings, self.platform, self.store, client)

    def start(self, **options: Any) -> MonitoringScheduler:
        options.setdefault("lease_ttl", timedelta(seconds=2))
        self.scheduler = MonitoringScheduler(self.services.monitor, clock=self.clock, **options)
        self.services.scheduler = self.scheduler
        self.scheduler.start()
        assert self.scheduler.is_leader, "the only scheduler on this database should lead"
        return self.scheduler

    def run(self, job_id: str = DRIFT_JOB, timeout: float = 60.0) -> None:
        """Fire a job through the scheduler now and wait until its run has finished."""
        assert self.scheduler is not None
        assert self.scheduler.run_and_wait(job_id, timeout), f"{job_id} did not finish in time"

    def stop(self, *, release: bool = True) -> None:
        if self.scheduler is not None:
            self.scheduler.stop(release=release)
            self.scheduler = None
        self.services.workers.shutdown(wait=True)
        self.store.close()

    # -- what Slack shows
    def top_level(self, channel: str = seed.ALERTS_CHANNEL) -> list[dict[str, Any]]:
        return self.slack.messages(channel)

    def replies(self, ts: str, channel: str = seed.ALERTS_CHANNEL) -> list[dict[str, Any]]:
        return [m for m in self.slack.thread(channel, ts) if m["ts"] != ts]

    def updates_of(self, ts: str) -> list[dict[str, Any]]:
        return [c.args for c in self.slack.calls_of("chat.update") if c.args.get("ts") == ts]


def text_of(message: dict[str, Any]) -> str:
    """Everything a message says (blocks and fallback text), for "it says X" assertions."""
    blocks = message.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return json.dumps(blocks, ensure_ascii=False) + " " + str(message.get("text") or "")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def platform() -> ScriptedPlatform:
    return ScriptedPlatform()


@pytest.fixture
def make_harness(
    slack_server: FakeSlackServer, tmp_path: Path, platform: ScriptedPlatform, clock: Clock
) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(
        *models: dict[str, Any],
        db: str = "bot.db",
        environments: list[dict[str, Any]] | None = None,
        slack: dict[str, Any] | None = None,
    ) -> Harness:
        harness = Harness(
            slack_server,
            make_settings(tmp_path, *models, environments=environments, slack=slack),
            platform,
            clock,
            f"sqlite:///{tmp_path / db}",
        )
        made.append(harness)
        return harness

    yield make
    for harness in made:
        with contextlib.suppress(Exception):  # already stopped by the test
            harness.stop()


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness()


def _tiny_png() -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(0.2, 0.2), dpi=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


#: Every renderer in jobs.charts that the jobs call.
CHART_NAMES = (
    "drift_overview_chart",
    "distributions_chart",
    "metric_trend_chart",
    "fairness_chart",
    "utilization_chart",
    "digest_chart",
)


def tiny_chart(name: str) -> Callable[..., Any]:
    """A stand-in for the renderer ``name``: a tiny PNG, whatever it is given."""
    png = _tiny_png()

    def render(*args: Any, **kwargs: Any) -> Upload:
        return Upload(filename=f"{name}.png", content=png, title=name, alt_text=f"{name} chart")

    return render


@pytest.fixture
def quick_charts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny PNGs instead of full renders, for scenarios that count messages, not pixels
    (the chart tests and the 429 scenario keep the real charts)."""
    from jobs import charts

    for name in CHART_NAMES:
        monkeypatch.setattr(charts, name, tiny_chart(name))
