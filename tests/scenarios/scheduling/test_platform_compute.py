"""``monitoring.compute: platform`` end to end on the local platform: the drift check runs as a
job of the platform's runner (a real subprocess reading the request log itself), the job watcher
applies its result and the summary reaches the fake Slack as an inline check's would; a failed
or timed-out job says so and is never healthy; a restart or a second tick never submits twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.runtime import build_services, open_platform
from bot.sandbox import seed
from bot.slack.responder import make_client
from bot.slack.services import Services
from infra.defaults import demo_config
from infra.platform.local import LocalPlatform
from infra.platform.local.jobs import CHECK_REASON
from infra.settings import Settings
from infra.store import Alert, CheckJobRun, open_store
from jobs.checks.platform import RESUBMIT_AFTER, CheckJobs
from jobs.run import run_kind
from jobs.watcher import JobWatcher
from tests.bot.demo.seeded import seeded_state
from tests.fakes.slack_server import FakeSlackServer
from tests.scenarios.scheduling.conftest import text_of

MODEL, ENV = "churn-model", "prod"


@dataclass
class Bot:
    services: Services
    platform: LocalPlatform
    clock: Callable[[], datetime]
    slack: FakeSlackServer

    @property
    def ctx(self) -> Any:
        return self.services.monitor

    def follow(self, timeout: float = 90.0) -> int:
        """Poll the job watcher (as the scheduler's watcher job does) until every check job
        has been applied; how many polls it took."""
        watcher = JobWatcher(self.ctx, also=(CheckJobs(self.ctx).poll,))
        deadline = time.monotonic() + timeout
        polls = 0
        while time.monotonic() < deadline:
            watcher.poll_once()
            polls += 1
            if not self.unreported():
                return polls
            time.sleep(0.2)
        raise AssertionError(f"check jobs still unreported: {self.unreported()}")

    def unreported(self) -> list[CheckJobRun]:
        with self.ctx.store.session() as session:
            return list(
                session.scalars(select(CheckJobRun).where(CheckJobRun.reported.is_(False))).all()
            )

    def rows(self) -> list[CheckJobRun]:
        with self.ctx.store.session() as session:
            return list(session.scalars(select(CheckJobRun)).all())

    def summaries(self) -> list[str]:
        return [text_of(m) for m in self.slack.messages(seed.MLOPS_CHANNEL)]

    def check_jobs_on_platform(self) -> list[Any]:
        jobs = self.platform._env(ENV).jobs
        with jobs.db.read() as conn:
            from infra.platform.local.db import jobs as table

            return list(conn.execute(select(table).where(table.c.reason == CHECK_REASON)).all())


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_state(tmp_path_factory, "platform-compute")


@pytest.fixture
def make_bot(
    seeded: Path, tmp_path: Path, slack_server: FakeSlackServer
) -> Iterator[Callable[..., Bot]]:
    import shutil

    made: list[Bot] = []
    state = tmp_path / "state"
    shutil.copytree(seeded, state)

    def make(
        *,
        model: dict[str, Any] | None = None,
        monitoring: dict[str, Any] | None = None,
        clock: Callable[[], datetime] | None = None,
        db: str = "bot.db",
    ) -> Bot:
        raw = demo_config()
        raw["monitoring"] = {"compute": "platform", **(monitoring or {})}
        raw["slack"]["scheduled_summaries"] = "every_run"
        if model:
            raw["models"] = [{**m, **model} if m["name"] == MODEL else m for m in raw["models"]]
        settings = Settings.model_validate(raw).model_copy(
            update={"resolved_state_dir": str(state), "source": str(tmp_path / "mlops-bot.yaml")}
        )
        platform = LocalPlatform(settings)
        store = open_store(f"sqlite:///{tmp_path / db}")
        client = make_client(seed.BOT_TOKEN, slack_server.base_url)
        the_clock = clock or (lambda: datetime.now(UTC))
        # Behind the platform guard, as the bot runs it (deadlines, retries, breaker).
        services = build_services(
            settings, open_platform(settings, platform), store, client, clock=the_clock
        )
        bot = Bot(services, platform, the_clock, slack_server)
        made.append(bot)
        return bot

    yield make
    for bot in made:
        bot.services.workers.shutdown(wait=True)
        bot.platform.close()
        bot.ctx.store.close()


def test_a_platform_check_runs_as_a_local_job_and_posts_the_summary_once(
    make_bot: Callable[..., Bot],
) -> None:
    bot = make_bot()
    result = run_kind(bot.ctx, "drift", MODEL, ENV, window=timedelta(days=4))
    assert result.level == "submitted", result.headline
    assert result.report is None, "the bot read no data: the job does"
    [row] = bot.rows()
    assert row.status != "submitting" and row.in_flight == f"{MODEL}|{ENV}|drift"
    [job] = bot.check_jobs_on_platform()
    assert job.id == row.job_name and job.command[:3][1:] == ["-m", "jobs.checkjob"]
    # not a training run: the model's job list leaves it out
    assert row.job_name not in [j.id for j in bot.platform.list_jobs(MODEL, ENV, limit=50)]

    # A second tick, and a restarted process on the same database, while the job runs.
    again = run_kind(bot.ctx, "drift", MODEL, ENV, window=timedelta(days=4))
    assert again.level == "held" and f"still runs as job {row.job_name}" in again.headline
    restarted = make_bot()
    after_restart = run_kind(restarted.ctx, "drift", MODEL, ENV, window=timedelta(days=4))
    assert after_restart.level == "held"
    assert len(bot.check_jobs_on_platform()) == 1 and len(bot.rows()) == 1

    restarted.follow()  # the new process finishes what the old one submitted
    [row] = bot.rows()
    assert (
        row.reported and row.in_flight is None and row.outcome in ("healthy", "warning", "breach")
    )
    [summary] = bot.summaries()
    assert "Drift · churn-model · prod" in summary
    assert "features drifted" in summary
    charts = [c for c in bot.slack.calls_of("files.completeUploadExternal")]
    assert charts, "the job's charts are posted in the summary's thread"
    with bot.ctx.store.session() as session:
        signals = {a.signal: a.summary.get("level") for a in session.scalars(select(Alert)).all()}
    assert set(signals) >= {"drift", "data_quality"}, "the alert book saw the job's verdicts"


def test_a_crash_between_the_record_and_the_submission_is_submitted_once_under_its_name(
    make_bot: Callable[..., Bot], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [datetime.now(UTC)]
    bot = make_bot(clock=lambda: now[0])

    def crash(request: Any) -> Any:
        raise KeyboardInterrupt("killed between the row and the platform call")

    monkeypatch.setattr(bot.ctx.platform, "submit_check", crash)
    with pytest.raises(KeyboardInterrupt):
        run_kind(bot.ctx, "drift", MODEL, ENV, window=timedelta(days=4))
    monkeypatch.undo()
    [row] = bot.rows()
    assert row.status == "submitting" and not bot.check_jobs_on_platform()
    CheckJobs(bot.ctx).poll()
    assert not bot.check_jobs_on_platform(), "a fresh row may still be being submitted"
    now[0] += RESUBMIT_AFTER + timedelta(seconds=1)
    bot.follow()
    [job] = bot.check_jobs_on_platform()
    assert job.id == row.job_name
    assert len(bot.summaries()) == 1


def test_a_failed_check_job_says_why_and_is_not_healthy(
    make_bot: Callable[..., Bot], tmp_path: Path
) -> None:
    broken = tmp_path / "broken-reference.csv"
    broken.write_text("something,else\n1,2\n3,4\n")
    bot = make_bot(model={"reference_data": str(broken)})
    assert run_kind(bot.ctx, "drift", MODEL, ENV, window=timedelta(days=4)).level == "submitted"
    bot.follow()
    [row] = bot.rows()
    assert row.outcome == "failed" and row.reported
    [summary] = bot.summaries()
    assert "check could not run: the check job failed" in summary
    assert "none of the configured features" in summary
    assert str(tmp_path) not in summary and "Traceback" not in summary
    with bot.ctx.store.session() as session:
        levels = {a.signal: a.summary.get("level") for a in session.scalars(select(Alert)).all()}
    assert levels.get("drift") == "unknown", "a failed check is no data, never healthy"


def test_a_check_job_past_its_timeout_is_canceled_and_reported(
    make_bot: Callable[..., Bot],
) -> None:
    now = [datetime.now(UTC)]
    bot = make_bot(clock=lambda: now[0], monitoring={"platform_compute": {"timeout": "10m"}})
    assert run_kind(bot.ctx, "drift", MODEL, ENV, window=timedelta(days=4)).level == "submitted"
    now[0] += timedelta(minutes=11)
    bot.follow()
    [row] = bot.rows()
    [job] = bot.check_jobs_on_platform()
    assert row.outcome == "timed_out"
    assert job.status in ("canceled", "completed"), "canceled unless it had already finished"
    [summary] = bot.summaries()
    assert "did not finish within 10m" in summary


def test_mlops_drift_on_a_platform_model_runs_there_and_posts_when_the_job_ends(
    make_bot: Callable[..., Bot],
) -> None:
    """``/mlops drift`` does not pull the data into the bot either: it submits the check, says
    where the summary will come, and the watcher posts it (leaving the alert series alone)."""
    from commands.context import CommandContext, Invocation
    from commands.registry import dispatch
    from core.access import AccessPolicy
    from tests.commands.support import DemoGroups

    bot = make_bot()
    command = CommandContext(
        bot.ctx.settings,
        bot.ctx.platform,
        bot.ctx.store,
        AccessPolicy(bot.ctx.settings, DemoGroups()),
        Invocation(seed.ALICE, f"drift {MODEL} --window 4d", seed.MLOPS_CHANNEL, seed.TEAM_ID),
    )
    reply = dispatch(command)
    text = reply.fallback_text
    assert "runs on the platform's compute (job check-churn-model-drift-prod-" in text, text
    assert "will be posted in #mlops" in text
    [row] = bot.rows()
    assert row.trigger == "on demand"
    bot.follow()
    [summary] = bot.summaries()
    assert "Drift · churn-model · prod" in summary and "on demand" in summary
    with bot.ctx.store.session() as session:
        assert not session.scalars(select(Alert)).all(), "an ad-hoc window is no alert series"
