"""The running demo: the sandbox Slack and its page, the real bot wired to it, the scheduler on
accelerated schedules, and simulated production traffic.

:class:`DemoSession` is what ``mlops-bot demo`` runs until Ctrl-C, what ``mlops-bot demo --once``
runs for one round of monitoring, and what the browser tests drive. The bot is the one
``mlops-bot serve`` builds (:func:`bot.slack.server.build_runtime`), with ``SLACK_API_URL`` pointing at
the sandbox and the sandbox's tokens; nothing in it knows it is a demo.

The sandbox keeps its messages in memory, so the bot's own database (approvals, alerts, mutes,
audit) starts fresh with it in ``<state>/demo-session/``: an alert row must not point at a card
that no longer exists. The platform state (versions, deployments, traffic) persists.
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.demo.jobpage import PREFIX as JOB_PAGE_PREFIX
from bot.demo.jobpage import job_page_route, job_page_template
from bot.demo.seed import MARKER_FILE
from bot.demo.traffic import simulate_traffic
from bot.runtime import Runtime, build_runtime, serve_http
from bot.sandbox import SlackWebApiServer, seed
from bot.sandbox.page import SandboxPage
from bot.slack.server import SlackHTTPServer
from core.checks import CHECK_KINDS, CheckKind
from infra.platform.base import PlatformError
from infra.platform.local import LocalPlatform
from infra.settings import Secrets, Settings

if TYPE_CHECKING:  # websockets is needed only with --socket-mode
    from bot.sandbox.socket_mode import SocketModeServer

log = logging.getLogger(__name__)

SESSION_DIR = "demo-session"
LIVE_MARKER = "demo-live.json"

#: Cron schedules of the monitoring checks while the demo runs: a drift alert within two
#: minutes, then a summary every few minutes (the configured ones are hourly and daily).
ACCELERATED_SCHEDULES: Mapping[str, str] = {
    CheckKind.DRIFT: "*/2 * * * *",
    CheckKind.UTILIZATION: "1-59/2 * * * *",
    CheckKind.PERFORMANCE: "*/5 * * * *",
}

#: Live requests per traffic tick, by environment position from the end of the chain
#: (0 = production), in the proportions the seed used for the past month. Ticks are short so a
#: rollout's bake time (5 s in the demo policy) sees live requests on the new deployment.
TRAFFIC_PER_TICK: Mapping[int, int] = {0: 10, 1: 3, 2: 1}
CATCH_UP_HOURS = 24
"""After a pause, the last day is filled with hourly traffic so the day-long windows have data."""

MONITORING_KINDS: tuple[str, ...] = (*(kind.value for kind in CHECK_KINDS), "digest")
"""What "one round of every monitoring job" runs (retraining is not monitoring: it trains)."""


def accelerated(
    settings: Settings, schedules: Mapping[str, str] = ACCELERATED_SCHEDULES
) -> Settings:
    """``settings`` with every model's monitoring checks on ``schedules``."""
    models = []
    for model in settings.models:
        monitoring = model.monitoring
        changes = {
            kind: getattr(monitoring, kind).model_copy(update={"schedule": cron})
            for kind, cron in schedules.items()
        }
        models.append(
            model.model_copy(update={"monitoring": monitoring.model_copy(update=changes)})
        )
    return settings.model_copy(update={"models": type(settings.models)(models)})


def sandbox_secrets(api_url: str, database_url: str) -> Secrets:
    """The bot's secrets for the sandbox: its tokens, never real ones."""
    return Secrets(
        slack_bot_token=seed.BOT_TOKEN,
        slack_signing_secret=seed.SIGNING_SECRET,
        slack_app_token=None,
        slack_api_url=api_url,
        mlops_bot_database_url=database_url,
    )


@dataclass(frozen=True)
class DemoOptions:
    host: str = "127.0.0.1"
    port: int = 0
    """Port of the sandbox page (0: any free port)."""
    scheduler: bool = True
    """Run the scheduler (on ``schedules``) and the promotion worker, as ``serve`` does."""
    schedules: Mapping[str, str] | None = field(default_factory=lambda: dict(ACCELERATED_SCHEDULES))
    """Monitoring schedules for this session; None keeps the configured ones."""
    traffic_seconds: float = 5.0
    """Seconds between two batches of live traffic; 0 sends none."""
    traffic_scale: float = 1.0
    drifted_traffic: bool = True
    """Live customers come from the drifted population, as in the seed's last ten days."""
    catch_up: bool = True
    socket_mode: bool = False
    """Connect the bot over Socket Mode to a local Socket Mode server (the page delivers
    envelopes through it) instead of posting signed HTTP requests."""


@dataclass(frozen=True)
class StepResult:
    """One thing ``run_round`` did and what it left in the sandbox."""

    name: str
    level: str
    headline: str
    messages: list[tuple[str, str]]
    """(channel id, ts) of the messages that appeared during the step, threads included."""
    files: list[str]
    """Ids of the files uploaded during the step."""
    error: str | None = None
    edited: list[tuple[str, str]] = field(default_factory=list)
    """(channel id, ts) of messages edited during the step (a standing summary kept current)."""

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.messages or self.edited)


class DemoSession:
    """Everything the demo runs, started and stopped together (also a context manager)."""

    def __init__(self, settings: Settings, options: DemoOptions | None = None) -> None:
        self.options = options or DemoOptions()
        if self.options.schedules is not None:
            settings = accelerated(settings, self.options.schedules)
        self.settings = settings
        self.sandbox = SlackWebApiServer(host=self.options.host, port=self.options.port)
        self.page = SandboxPage(self.sandbox)
        self.runtime: Runtime | None = None
        self._platform: LocalPlatform | None = None
        self.bot_http: SlackHTTPServer | None = None
        self._stop = threading.Event()
        self._traffic_thread: threading.Thread | None = None
        self._traffic_lock = threading.Lock()
        self.socket_mode_server: SocketModeServer | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Start the sandbox, the bot (and its scheduler) and the traffic; returns the page URL."""
        self.page.attach()
        api_url = self.sandbox.start()
        session_dir = self.settings.state_path / SESSION_DIR
        shutil.rmtree(session_dir, ignore_errors=True)
        session_dir.mkdir(parents=True, exist_ok=True)
        secrets = sandbox_secrets(api_url, f"sqlite:///{(session_dir / 'bot.db').resolve()}")
        self._platform = LocalPlatform(
            self.settings, job_page=job_page_template(self.sandbox.root_url)
        )
        self.sandbox.add_route("GET", JOB_PAGE_PREFIX, job_page_route(self._platform))
        self.runtime = build_runtime(
            self.settings, secrets, platform=self._platform, start_background=self.options.scheduler
        )
        self.bot_http = serve_http(self.runtime, "127.0.0.1", 0)
        self.page.bot_url = f"{self.bot_http.url}/slack/events"
        if self.options.socket_mode:
            self._connect_socket_mode()
        if self.options.catch_up and self.options.traffic_seconds <= 0:
            self.catch_up_traffic()  # one round (--once) needs the data before it starts
        self.refresh_suggestions()
        if self.options.traffic_seconds > 0:
            self._traffic_thread = threading.Thread(
                target=self._traffic_loop, name="demo-traffic", daemon=True
            )
            self._traffic_thread.start()
        return self.url

    def _connect_socket_mode(self) -> None:
        from bot.runtime import connect_socket_mode
        from bot.sandbox.socket_mode import SocketModeServer

        sockets = SocketModeServer(self.sandbox)
        sockets.keep_acks = 5000
        self.socket_mode_server = sockets.start()
        connect_socket_mode(self._running(), seed.APP_TOKEN)
        sockets.wait_links(1, timeout=30)
        self.page.socket_mode = sockets

    def stop(self) -> None:
        self._stop.set()
        if self._traffic_thread is not None:
            self._traffic_thread.join(timeout=30)
        self.page.close()
        if self.runtime is not None:
            self.runtime.services.workers.wait_idle(timeout=10)
            self.runtime.stop()
            self.runtime = None
        if self.socket_mode_server is not None:
            self.socket_mode_server.stop()
            self.socket_mode_server = None
        self.sandbox.stop()

    def __enter__(self) -> DemoSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.sandbox.root_url

    @property
    def platform(self) -> LocalPlatform:
        """The embedded platform itself (the bot holds it behind its deadline guard); traffic
        is scored here, as the endpoint would score requests that never pass through the bot."""
        if self._platform is None:
            raise RuntimeError("the demo is not running")
        return self._platform

    @property
    def scheduler(self) -> Any:
        """The bot's scheduler (None with ``scheduler=False``)."""
        return self.runtime.services.scheduler if self.runtime else None

    # ------------------------------------------------------------------ traffic

    def send_traffic(
        self,
        *,
        now: datetime | None = None,
        spread: timedelta | None = None,
        scale: float | None = None,
    ) -> int:
        """One batch of live requests to every deployed environment; returns how many."""
        sent = 0
        chain = list(self.settings.env_names)
        factor = self.options.traffic_scale if scale is None else scale
        with self._traffic_lock:
            for model in self.settings.models:
                for position, env in enumerate(reversed(chain)):
                    count = round(TRAFFIC_PER_TICK.get(position, 2) * factor)
                    if count <= 0 or not self.platform.endpoint_state(model.name, env).serving:
                        continue
                    try:
                        summary = simulate_traffic(
                            self.platform,
                            self.settings,
                            model.name,
                            env,
                            count,
                            self.options.drifted_traffic,
                            now=now,
                            spread=spread or timedelta(seconds=self.options.traffic_seconds or 60),
                        )
                    except PlatformError as exc:
                        log.warning("live traffic to %s in %s failed: %s", model.name, env, exc)
                        continue
                    sent += summary.requests
        self._save_live_marker(now or datetime.now(UTC))
        return sent

    def catch_up_traffic(self, now: datetime | None = None) -> int:
        """Fill the hours since the traffic last ran (at most a day) with hourly batches, so the
        day-long monitoring windows see a full day even when the seed is a week old."""
        end = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
        last = self._traffic_until()
        if last is None:
            return 0
        start = max(last, end - timedelta(hours=CATCH_UP_HOURS))
        hours = int((end - start).total_seconds() // 3600)
        sent = 0
        per_hour = 500 / 24 / TRAFFIC_PER_TICK[0]  # the seed's daily volume, spread over hours
        for hour in range(hours, 0, -1):
            sent += self.send_traffic(
                now=end - timedelta(hours=hour - 1), spread=timedelta(hours=1), scale=per_hour
            )
        if sent:
            log.info("caught up %d hours of traffic (%d requests)", hours, sent)
        return sent

    def _traffic_until(self) -> datetime | None:
        for path, key in (
            (self.settings.state_path / LIVE_MARKER, "traffic_until"),
            (self.settings.state_path / MARKER_FILE, "end"),
        ):
            with suppress(OSError, ValueError, KeyError, TypeError):
                return datetime.fromisoformat(json.loads(path.read_text(encoding="utf-8"))[key])
        return None

    def _save_live_marker(self, until: datetime) -> None:
        path = self.settings.state_path / LIVE_MARKER
        previous = self._traffic_until()
        if previous is not None and previous > until:
            return
        with suppress(OSError):
            path.write_text(json.dumps({"traffic_until": until.isoformat()}), encoding="utf-8")

    def _traffic_loop(self) -> None:
        if self.options.catch_up:  # while the page is already up
            try:
                self.catch_up_traffic()
            except Exception:
                log.exception("catching up on the missed traffic failed")
        while not self._stop.wait(self.options.traffic_seconds):
            try:
                self.send_traffic()
                self.refresh_suggestions()
            except Exception:  # the demo keeps running; the next tick tries again
                log.exception("live traffic tick failed")

    # ------------------------------------------------------------------ the page

    def refresh_suggestions(self) -> None:
        """Commands worth trying now: status, and the promotions the platform state allows."""
        lines = []
        chain = list(self.settings.env_names)
        for model in self.settings.models:
            lines.append(f"/mlops status {model.name}")
            serving = {env: _serving_version(self.platform, model.name, env) for env in chain}
            for source, target in itertools.pairwise(chain):
                if serving[source] and serving[source] != serving[target]:
                    lines.append(f"/mlops promote {model.name} --to {target}")
            lines.append(f"/mlops drift {model.name}")
        lines += ["/mlops approvals", "/mlops help"]
        self.page.suggestions = list(dict.fromkeys(lines))[:7]

    # ------------------------------------------------------------------ one round (--once)

    def send_command(
        self,
        text: str,
        *,
        user_id: str = seed.ALICE,
        channel_id: str = seed.MLOPS_CHANNEL,
        timeout: float = 60.0,
    ) -> StepResult:
        """``/mlops <text>`` as ``user_id`` through the signed request path; waits for the bot."""
        runtime = self._running()

        def act() -> tuple[str, str]:
            delivery = self.page.deliver(
                self.page.interactions.slash_command(text, user_id=user_id, channel_id=channel_id)
            )
            if not delivery.ok:
                raise RuntimeError(f"the bot did not take /mlops {text}: {delivery.error}")
            runtime.services.workers.wait_idle(timeout)
            return "ok", f"/mlops {text}"

        return self._step(f"/mlops {text}", act)

    def run_round(self, kinds: tuple[str, ...] = MONITORING_KINDS) -> list[StepResult]:
        """Every configured monitoring job once, now, publishing to the sandbox like the
        scheduler does (same runner, same alert policy, same responder)."""
        from jobs.run import run_kind
        from jobs.scheduler import desired_jobs

        runtime = self._running()
        ctx = runtime.services.jobs_context
        results = []
        for spec in desired_jobs(self.settings):
            if spec.kind not in kinds:
                continue

            def act(spec: Any = spec) -> tuple[str, str]:
                result = run_kind(ctx, spec.kind, spec.model, spec.env, publish=True)
                if result.level == "submitted" and spec.kind in CHECK_KINDS:
                    # --platform-compute: the check runs as a platform job; wait for its result
                    from jobs.checks.platform import follow

                    follow(ctx)
                runtime.services.workers.wait_idle(30)
                return str(result.level), str(result.headline)

            results.append(self._step(spec.id, act))
        return results

    def _step(self, name: str, act: Callable[[], tuple[str, str]]) -> StepResult:
        messages_before = set(self._message_keys())
        edits_before = dict(self._edit_stamps())
        files_before = {f["id"] for f in self.sandbox.workspace.files.all_files()}
        error = None
        level, headline = "error", ""
        try:
            level, headline = act()
        except Exception as exc:  # reported per step; the round goes on
            log.exception("%s failed", name)
            error = f"{type(exc).__name__}: {exc}"
        messages = [k for k in self._message_keys() if k not in messages_before]
        files = [
            f["id"] for f in self.sandbox.workspace.files.all_files() if f["id"] not in files_before
        ]
        edited = [k for k, stamp in self._edit_stamps() if edits_before.get(k, stamp) != stamp]
        return StepResult(name, level, headline, messages, files, error, edited)

    def _edit_stamps(self) -> Iterator[tuple[tuple[str, str], str]]:
        ws = self.sandbox.workspace
        for channel in ws.channels():
            for message in ws.messages(channel["id"]):
                stamp = (message.get("edited") or {}).get("ts", "")
                yield (channel["id"], message["ts"]), stamp

    def _message_keys(self) -> Iterator[tuple[str, str]]:
        ws = self.sandbox.workspace
        for channel in ws.channels():
            for message in ws.messages(channel["id"]):
                yield channel["id"], message["ts"]
                if message.get("reply_count"):
                    for reply in ws.replies(channel["id"], message["ts"])[1:]:
                        yield channel["id"], reply["ts"]
        for person in seed.DEMO_PEOPLE:
            for message in ws.ephemerals(person[0]):
                yield f"ephemeral:{person[0]}:{message['channel']}", message["ts"]

    def _running(self) -> Runtime:
        if self.runtime is None:
            raise RuntimeError("the demo is not running; call start() first")
        return self.runtime


def _serving_version(platform: LocalPlatform, model: str, env: str) -> str | None:
    try:
        state = platform.endpoint_state(model, env)
    except PlatformError:
        return None
    serving = sorted(state.serving, key=lambda d: d.traffic, reverse=True)
    return serving[0].model_version if serving else None
