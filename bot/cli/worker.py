"""``mlops-bot worker``: run queued monitoring checks until stopped.

``serve`` starts a pool of these on its own host (``workers.processes``, one per core by
default); more may run anywhere that reaches the bot's database and the ML platform, with the
same configuration and environment as ``serve`` (``SLACK_BOT_TOKEN``, ``MLOPS_BOT_DATABASE_URL``).
They share nothing but the database: each claims a queued run, runs it, posts through the outbox
and takes the next. SIGTERM lets the run in progress finish (up to ``--grace`` seconds); a run
abandoned by a killed worker is taken over by another when its claim expires.

With ``--metrics-port N`` (or ``workers.metrics_port``) it serves ``/metrics`` (the checks it
runs, its platform calls and breakers, its work items) and ``/healthz`` (its loop's threads
alive, items in flight, last claim) on port N. A port that cannot be bound is logged and the
worker runs on without them: checks matter more than their metrics, and Prometheus shows the
target down.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from typing import TYPE_CHECKING

from infra.settings import Secrets, Settings

if TYPE_CHECKING:
    from infra.metrics import Metrics
    from infra.metrics_http import MetricsHTTPServer
    from jobs.worker import WorkLoop

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads", type=int, default=1, help="checks this process runs at once (default 1)"
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=10.0,
        help="seconds a run in progress may take to finish after SIGTERM (default 10)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="lower this process's CPU priority by N (serve's local workers use workers.nice)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve /metrics and /healthz on this port (0: off; default workers.metrics_port)",
    )
    parser.add_argument(
        "--metrics-host",
        default=None,
        help="address the metrics server listens on (default workers.metrics_host, 0.0.0.0)",
    )
    # How serve hands its resolved settings and its pid to the workers it starts.
    parser.add_argument("--settings-file", help=argparse.SUPPRESS)
    parser.add_argument("--parent", type=int, help=argparse.SUPPRESS)


def _parent_gone(parent: int | None) -> bool:
    return parent is not None and os.getppid() != parent


def run_worker(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import build_worker_runtime, wire_worker_metrics
    from infra.holders import new_holder
    from infra.workqueue import WorkQueue
    from jobs.worker import WorkLoop, warm_up

    if args.threads < 1:
        log.error("--threads must be 1 or more (got %d)", args.threads)
        return 2
    port = settings.workers.metrics_port if args.metrics_port is None else args.metrics_port
    if not 0 <= port <= 65535:
        log.error("--metrics-port must be a port number from 0 (off) to 65535 (got %d)", port)
        return 2
    if args.nice > 0:
        # Batch work beside a latency-sensitive server: yield the CPU to it first.
        os.nice(min(args.nice, 19))
    runtime = build_worker_runtime(settings, Secrets())
    workers = settings.workers
    queue = WorkQueue(
        runtime.context.store,
        new_holder(),
        claim=workers.claim,
        max_attempts=workers.max_attempts,
        metrics=runtime.metrics,
    )
    loop = WorkLoop(
        runtime.context, queue, threads=args.threads, poll_seconds=workers.poll.total_seconds()
    )
    wire_worker_metrics(runtime, loop)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # Serving before the first claim: whatever the loop does is scrapeable.
    server = _serve_metrics(runtime.metrics, args.metrics_host or workers.metrics_host, port, loop)
    log.info("worker %s imported the checks in %.1f s", queue.holder, warm_up())
    loop.start()
    log.info("worker %s runs queued checks (%d at a time)", queue.holder, args.threads)
    while not stop.wait(1.0):
        if _parent_gone(args.parent):
            log.warning("the serving process is gone; this worker stops")
            break
    loop.stop(timeout=args.grace)
    if server is not None:
        server.stop()
    runtime.close()
    return 0


def _serve_metrics(
    metrics: Metrics | None, host: str, port: int, loop: WorkLoop
) -> MetricsHTTPServer | None:
    """Start the worker's ``/metrics`` and ``/healthz`` on ``host:port`` (None: off, or the
    port could not be bound, which is logged)."""
    from infra.metrics_http import start_metrics_server

    if not port or metrics is None:
        return None
    try:
        server = start_metrics_server(metrics, host, port, loop.health)
    except OSError as exc:
        log.error(
            "cannot serve /metrics on %s:%d (%s); this worker runs without them", host, port, exc
        )
        return None
    log.info("worker metrics on http://%s:%d/metrics (and /healthz)", host, server.port)
    return server
