"""The one place that builds and wires the bot.

settings -> store -> platform (guarded) -> Slack client, responder, outbox -> publisher ->
promotion desk, monitoring context -> Slack services -> Bolt app; then, for a serving process,
the background loops: scheduler (with the job watcher), promotion desk, outbox delivery, and the
local worker processes that run the queued checks (:mod:`bot.workers`). A worker process
(``mlops-bot worker``) is wired by :func:`build_worker_runtime`: the jobs' context and the
outbox, without the Bolt app (the Slack-app modules are imported where they are used, so a
worker does not load them).
Everything else receives what it needs from here as typed fields.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.slack.outbox import Outbox, delivery_client
from bot.slack.publisher import SlackPublisher
from bot.slack.responder import Responder, make_client
from infra.holders import new_holder
from infra.logs import redact
from infra.metrics import Metrics
from infra.platform.base import MLPlatform
from infra.settings import Secrets, Settings
from infra.store import Store, default_database_url, open_store
from jobs.alerts import CARD_HOOK as ALERT_CARD_HOOK
from jobs.alerts import AlertBook
from jobs.checks.standing import STANDING_HOOK, StandingSummaries
from jobs.context import MonitorContext

if TYPE_CHECKING:
    from bot.slack.app import SlackApp
    from bot.slack.server import SlackHTTPServer
    from bot.slack.services import Services
    from bot.slack.socket_mode import SocketModeConnection
    from bot.workers import WorkerProcesses
    from jobs.scheduler import MonitoringScheduler
    from jobs.worker import WorkLoop

log = logging.getLogger(__name__)


def database_url(settings: Settings, secrets: Secrets) -> str:
    return (
        secrets.mlops_bot_database_url
        or settings.database_url
        or default_database_url(settings.state_path)
    )


def open_platform(
    settings: Settings, platform: MLPlatform | None = None, *, metrics: Metrics | None = None
) -> MLPlatform:
    """The configured platform (or ``platform``) behind deadlines, retries of transient failures
    and a per-model breaker: a hung workspace delays one model's answer, never the acks or the
    other models. With ``metrics``, call latencies and errors are counted there."""
    from infra.platform.factory import build_platform
    from infra.platform.guard import guarded

    return guarded(platform or build_platform(settings), metrics=metrics)


def build_services(
    settings: Settings,
    platform: MLPlatform,
    store: Store,
    client: object | None = None,
    *,
    secrets: Secrets | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    metrics: Metrics | None = None,
) -> Services:
    from bot.slack.groups import SlackGroupResolver
    from bot.slack.inbox import InboxWorker
    from bot.slack.services import Services, WorkerPool
    from core.access import AccessPolicy
    from core.promotion.desk import CARD_HOOK as APPROVAL_CARD_HOOK
    from core.promotion.desk import PromotionDesk
    from infra.inbox import Inbox

    secrets = secrets or Secrets()
    client = client or make_client(secrets.slack_bot_token, secrets.slack_api_url)
    groups = SlackGroupResolver(client, settings.slack.group_cache_ttl.total_seconds())
    access = AccessPolicy(settings, groups)
    responder = Responder(client)
    outbox = Outbox(store, delivery_client(client))
    publisher = SlackPublisher(outbox, responder)
    monitor = MonitorContext(settings, platform, store, publisher, clock=clock, metrics=metrics)
    desk = PromotionDesk(settings, platform, store, access, publisher)
    workers = WorkerPool()
    inbox = InboxWorker(
        Inbox(store, new_holder(), claim=settings.reliability.inbox_claim), workers.submit
    )
    services = Services(
        settings=settings,
        platform=platform,
        store=store,
        client=client,
        responder=responder,
        access=access,
        groups=groups,
        workers=workers,
        outbox=outbox,
        publisher=publisher,
        monitor=monitor,
        desk=desk,
        inbox=inbox,
    )
    # A queued card may be delivered by any process, after a restart too: every process
    # registers the same hooks, reading the current context when one fires.
    publisher.on_delivered(APPROVAL_CARD_HOOK, desk.card_delivered)
    _monitoring_hooks(publisher, lambda: services.jobs_context)
    return services


def _monitoring_hooks(publisher: SlackPublisher, context: Callable[[], MonitorContext]) -> None:
    """The delivery hooks of what checks post (alert cards, standing summaries)."""
    publisher.on_delivered(
        ALERT_CARD_HOOK,
        lambda args, ref, deferred: AlertBook(context()).card_delivered(args, ref, deferred),
    )
    publisher.on_delivered(
        STANDING_HOOK,
        lambda args, ref, deferred: StandingSummaries(context()).delivered(args, ref, deferred),
    )


def scheduling_enabled() -> bool:
    """``MLOPS_BOT_SCHEDULE=off`` leaves the configured checks out of this process (the job
    watcher and the periodic work still run): for replicas that should only answer Slack, and
    for test suites. Such a process never takes the scheduler lease (see jobs.scheduler)."""
    return os.environ.get("MLOPS_BOT_SCHEDULE", "on").lower() != "off"


def start_scheduler(services: Services, **options: object) -> MonitoringScheduler:
    """Build and start the scheduler on ``services`` (its context becomes the services' one)."""
    from jobs.scheduler import MonitoringScheduler

    options.setdefault("configured_jobs", scheduling_enabled())
    options.setdefault("max_workers", services.settings.workers.threads)
    scheduler = MonitoringScheduler(services.monitor, **options)  # type: ignore[arg-type]
    services.scheduler = scheduler
    scheduler.start()
    return scheduler


@dataclass
class Runtime:
    """Everything a running bot holds, so serve/demo/tests start and stop it the same way."""

    settings: Settings
    secrets: Secrets
    platform: MLPlatform
    store: Store
    services: Services
    app: SlackApp
    stoppers: list[Callable[[], None]] = field(default_factory=list)
    socket_mode: SocketModeConnection | None = None
    """The Socket Mode connection when the bot runs in that mode (the probes report it)."""
    metrics: Metrics = field(default_factory=Metrics)
    """This process's metrics, served at ``/metrics`` (see :func:`wire_metrics`)."""
    workers: WorkerProcesses | None = None
    """The local worker processes running queued checks (None: none started here)."""

    def stop(self) -> None:
        for stop in reversed(self.stoppers):
            try:
                stop()
            except Exception:
                log.exception("error while stopping")


def build_runtime(
    settings: Settings,
    secrets: Secrets | None = None,
    *,
    platform: MLPlatform | None = None,
    start_background: bool = True,
    scheduling: bool = True,
) -> Runtime:
    """Everything a bot process holds. ``scheduling=False`` (``serve --no-scheduler``): the
    background loops run (outbox delivery, the promotion desk, the job watcher) but no
    configured check does, and the process never takes the scheduler lease."""
    from bot.slack.app import build_app

    secrets = secrets or Secrets()
    metrics = Metrics()
    store = open_store(database_url(settings, secrets))
    platform = open_platform(settings, platform, metrics=metrics)
    services = build_services(settings, platform, store, secrets=secrets, metrics=metrics)
    app = build_app(services, signing_secret=secrets.slack_signing_secret or "")
    runtime = Runtime(
        settings,
        secrets,
        platform,
        store,
        services,
        app,
        [store.close, platform.close],
        metrics=metrics,
    )
    wire_metrics(runtime)
    runtime.stoppers.append(lambda: services.workers.shutdown(wait=False))
    if start_background:
        start_background_loops(runtime, scheduling=scheduling)
    return runtime


def wire_metrics(runtime: Runtime) -> None:
    """Point the scrape-time gauges of ``runtime.metrics`` at what they read: the outbox, inbox
    and work-queue tables, the platform guard's breakers, the scheduler's leases."""
    from infra.workqueue import backlog as work_backlog

    metrics, services = runtime.metrics, runtime.services
    metrics.outbox = services.outbox.backlog
    metrics.inbox = services.inbox.inbox.backlog
    metrics.work_queue = lambda: work_backlog(runtime.store)
    open_breakers = getattr(runtime.platform, "open_breakers", None)
    if callable(open_breakers):
        metrics.breakers = open_breakers

    def leader() -> dict[str, bool]:
        scheduler = services.scheduler
        if scheduler is None:  # no scheduler in this process: it leads nothing
            return {"scheduler": False, "job_watcher": False}
        return {
            "scheduler": scheduler.is_leader,
            "job_watcher": scheduler.watcher_lease.held,
        }

    metrics.leader = leader


def start_background_loops(runtime: Runtime, *, scheduling: bool = True) -> None:
    """The scheduler (leader-elected through the database; it also polls the job watcher), the
    promotion desk (reconciles interrupted rollouts, then posts / expires / retires) and the
    outbox delivery loop (every replica: claims keep two from sending the same message)."""
    services = runtime.services
    configured = scheduling and scheduling_enabled()
    # The checks run in worker processes (one per core by default), never beside the acks; with
    # workers.processes 0 the leader runs them in its own threads.
    processes = runtime.settings.workers.process_count() if configured else 0
    scheduler = start_scheduler(services, configured_jobs=configured, inline_workers=processes == 0)
    runtime.stoppers.append(scheduler.stop)
    if scheduler.work is not None:  # the checks run in this process's threads
        runtime.metrics.worker = scheduler.work.state
    if processes:
        from bot.workers import WorkerProcesses

        pool = WorkerProcesses(
            runtime.settings,
            runtime.secrets,
            processes,
            database_url=database_url(runtime.settings, runtime.secrets),
        )
        pool.start()
        runtime.workers = pool
        runtime.stoppers.append(pool.stop)
    services.desk.start()
    runtime.stoppers.append(services.desk.stop)
    services.outbox.start()
    runtime.stoppers.append(services.outbox.stop)
    # Every replica drains what an acked-then-killed process left in the inbox.
    services.inbox.start()
    runtime.stoppers.append(services.inbox.stop)


SOCKET_MODE_LIVENESS_GRACE = 120.0
"""Seconds a Socket Mode connection may stay down (the client reconnects by itself) before
/healthz fails, so that an orchestrator restarts a bot that cannot get back to Slack."""


def health(runtime: Runtime) -> tuple[bool, str]:
    """Liveness: ``ok`` over HTTP; in Socket Mode also the connection state, failing only once
    the connection has been down longer than :data:`SOCKET_MODE_LIVENESS_GRACE`."""
    connection = runtime.socket_mode
    if connection is None:
        return True, "ok"
    _, state = connection.state()
    alive = connection.disconnected_for() <= SOCKET_MODE_LIVENESS_GRACE
    return alive, f"{'ok' if alive else 'failing'}: socket mode {state}"


def readiness(runtime: Runtime) -> tuple[bool, dict[str, str]]:
    """Ready when the store and the platform answer and, in Socket Mode, the connection to
    Slack is up (while it is down, Slack cannot reach this replica)."""
    checks: dict[str, str] = {}
    ok = True
    if runtime.socket_mode is not None:
        connected, state = runtime.socket_mode.state()
        checks["socket_mode"] = state
        ok = connected
    if runtime.workers is not None:  # a detail, not a condition: checks wait in the queue
        checks["workers"] = runtime.workers.describe()
    for name, probe in (("store", runtime.store.ping), ("platform", runtime.platform.check)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # readiness reports, it does not crash
            ok = False
            # Probes are often public: an error that quotes a connection string or a
            # credential must not hand it out.
            checks[name] = redact(f"failed: {type(exc).__name__}: {exc}")[:300]
    return ok, checks


def connect_socket_mode(
    runtime: Runtime, app_token: str, *, ping_interval: float | None = None
) -> SocketModeConnection:
    """Connect ``runtime``'s app over Socket Mode, each envelope acted on once across the
    replicas sharing its store; closed with it. Raises ``SocketModeRefused`` for a bad token."""
    from bot.slack.socket_mode import DEFAULT_PING_INTERVAL, SocketModeConnection
    from infra.leases import OnceClaims

    if ping_interval is None:
        ping_interval = DEFAULT_PING_INTERVAL
    claims = OnceClaims(runtime.store, "envelope:", new_holder())
    connection = SocketModeConnection(
        runtime.app,
        app_token,
        ping_interval=ping_interval,
        claims=claims,
        metrics=runtime.metrics,
    )
    runtime.socket_mode = connection  # the probes say "disconnected" until it is up
    try:
        connection.connect()
    except Exception:
        runtime.socket_mode = None
        raise
    runtime.stoppers.append(connection.close)
    return connection


def serve_http(runtime: Runtime, host: str, port: int) -> SlackHTTPServer:
    """Start the HTTP front of ``runtime`` (/slack/events, the probes and /metrics); stopped
    with it."""
    from bot.slack.server import start_http, stop_http
    from infra.replays import ReplayMemory

    server = start_http(
        runtime.app,
        host,
        port,
        readiness=lambda: readiness(runtime),
        health=lambda: health(runtime),
        signing_secret=runtime.secrets.slack_signing_secret or "",
        # Shared through the database: a request replayed to another replica is refused too.
        replay_memory=ReplayMemory(runtime.store, runtime.settings.reliability.replay_window),
        metrics=runtime.metrics,
    )
    runtime.stoppers.append(lambda: stop_http(server))
    return server


@dataclass
class JobRuntime:
    """What ``mlops-bot run-job`` needs: the jobs' context on the bot's database and Slack."""

    context: MonitorContext
    outbox: Outbox
    metrics: Metrics | None = None
    """A worker's metrics (served by ``mlops-bot worker --metrics-port``); None for run-job."""

    def close(self) -> None:
        self.context.platform.close()
        self.context.store.close()


def build_job_runtime(
    settings: Settings,
    secrets: Secrets,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> JobRuntime:
    store = open_store(database_url(settings, secrets))
    platform = open_platform(settings)
    services = build_services(settings, platform, store, secrets=secrets, clock=clock)
    return JobRuntime(services.monitor, services.outbox)


def build_worker_runtime(settings: Settings, secrets: Secrets) -> JobRuntime:
    """What a worker process needs to run queued checks: the jobs' context (platform, store,
    the Publisher over the outbox, with the hooks of what checks post), and no Slack app.

    Its metrics count what runs here (check durations, platform calls through the guard,
    work items) and read at scrape time this process's breakers and the queue's backlog; the
    worker loop is added by :func:`wire_worker_metrics` once it exists."""
    from infra.workqueue import backlog as work_backlog

    metrics = Metrics()
    store = open_store(database_url(settings, secrets))
    platform = open_platform(settings, metrics=metrics)
    client = make_client(secrets.slack_bot_token, secrets.slack_api_url)
    outbox = Outbox(store, delivery_client(client))
    publisher = SlackPublisher(outbox, Responder(client))
    context = MonitorContext(settings, platform, store, publisher, metrics=metrics)
    _monitoring_hooks(publisher, lambda: context)
    metrics.work_queue = lambda: work_backlog(store)
    open_breakers = getattr(platform, "open_breakers", None)
    if callable(open_breakers):
        metrics.breakers = open_breakers
    return JobRuntime(context, outbox, metrics)


def wire_worker_metrics(runtime: JobRuntime, loop: WorkLoop) -> None:
    """Report ``loop``'s state (in-flight items, threads alive, last claim) in the worker's
    metrics."""
    if runtime.metrics is not None:
        runtime.metrics.worker = loop.state
