"""Service metrics in Prometheus' text format, one registry per running bot.

Two kinds of series:

* **events**, counted where they happen: ack latency (``bot.slack``), check duration
  (``jobs.run``), platform call latency and errors (``infra.platform.guard``), work items
  claimed, finished and given up and claim renewals (``jobs.worker``, ``infra.workqueue``: in
  the worker processes, where the checks run). Histograms and
  counters of prometheus-client, in this :class:`Metrics`' own ``CollectorRegistry`` (never the
  process-global default one: a test process holds several runtimes, and each must count its
  own);
* **state**, read at scrape time by :class:`StateCollector` through hooks that the wiring
  (``bot.runtime``) sets: outbox and inbox backlog (a database query each), open platform
  breakers, the leader flags, the work queue, a worker loop's in-flight items and last claim. Nothing polls in the background; a scrape costs
  two indexed aggregate queries. A hook that is not set reports nothing (absent, not a made-up
  zero); a hook that fails makes ``mlops_bot_scrape_errors`` say which, and the scrape still
  answers.

Names follow Prometheus' conventions: prefix ``mlops_bot_``, base units (``_seconds``),
counters end in ``_total``. See docs/metrics.md for the series and example queries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

PREFIX = "mlops_bot"

ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
"""Seconds; Slack gives up on an ack after 3 s, so the buckets are dense below that."""

CHECK_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)
"""Seconds; a check takes ~0.5 s on the demo and minutes on a million-row window."""

WORK_ITEM_BUCKETS = CHECK_BUCKETS
"""Seconds; a work item is one check (or a digest, a retraining run) from claim to done."""

PLATFORM_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
"""Seconds; from a cached read to a deployment (the guard's change deadline is 30 minutes)."""


@dataclass(frozen=True)
class Backlog:
    """A queue's state at scrape time: how many items wait, and how long the oldest has."""

    depth: int
    oldest_age_seconds: float | None = None
    """None when nothing waits."""


BacklogHook = Callable[[], Backlog]


@dataclass(frozen=True)
class WorkerState:
    """A worker loop at scrape time (see ``jobs.worker.WorkLoop.state``)."""

    threads: int
    """Claiming threads configured."""
    alive: int
    """Claiming threads still running (fewer than ``threads``: the loop is broken)."""
    in_flight: int
    """Work items this process holds right now."""
    last_claim: float | None
    """Unix time of this process's last claim; None before the first."""
    last_poll: float | None
    """Unix time this process last looked at the queue (a loop that idles still looks)."""


WorkerHook = Callable[[], WorkerState]


class Metrics:
    """The metrics of one running bot: its registry, the event series, the state hooks.

    Components receive it (or None, and then count nothing) from the wiring; the HTTP server
    renders it at ``/metrics``."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.ack_seconds = Histogram(
            f"{PREFIX}_ack_seconds",
            "Time from receiving a Slack request to sending its ack, by transport (http, "
            "socket_mode) and kind (command, action, view, event, other).",
            ["mode", "kind"],
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.check_seconds = Histogram(
            f"{PREFIX}_check_duration_seconds",
            "Wall time of one monitoring check run (read, statistics, charts, alerts, posting), "
            "by check kind and outcome (ok, failed).",
            ["kind", "outcome"],
            buckets=CHECK_BUCKETS,
            registry=self.registry,
        )
        self.platform_seconds = Histogram(
            f"{PREFIX}_platform_call_seconds",
            "Wall time of one ML platform call through the guard (retries included), by operation.",
            ["operation"],
            buckets=PLATFORM_BUCKETS,
            registry=self.registry,
        )
        self.platform_errors = Counter(
            f"{PREFIX}_platform_errors",
            "Platform calls that failed, by operation and error (the error class, "
            "'deadline' when the call did not answer in time, 'breaker_open' when it was not "
            "tried because an earlier call for the same model and environment still hangs).",
            ["operation", "error"],
            registry=self.registry,
        )
        # The worker loop's own events (worker processes; serve with workers.processes 0).
        self.work_claimed = Counter(
            f"{PREFIX}_work_items_claimed",
            "Work items this process claimed from the queue, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.work_finished = Counter(
            f"{PREFIX}_work_items_finished",
            "Work items this process ran to the end, by kind and outcome (done; failed: the "
            "run raised; lost: it ended after its claim had expired and was taken over).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.work_seconds = Histogram(
            f"{PREFIX}_work_item_seconds",
            "Wall time of one work item from claim to end, by kind and outcome.",
            ["kind", "outcome"],
            buckets=WORK_ITEM_BUCKETS,
            registry=self.registry,
        )
        self.work_given_up = Counter(
            f"{PREFIX}_work_items_given_up",
            "Work items this process gave up on instead of claiming: their workers died "
            "workers.max_attempts times before finishing (the digest names them).",
            ["kind"],
            registry=self.registry,
        )
        self.claim_renewals = Counter(
            f"{PREFIX}_work_claim_renewals",
            "Renewals of the claims of running work items, by result (renewed; lost: the claim "
            "had expired and was taken over; error: the database did not answer).",
            ["result"],
            registry=self.registry,
        )
        self.state = StateCollector()
        self.registry.register(self.state)

    # The hooks the wiring sets; each is read at scrape time only.
    @property
    def outbox(self) -> BacklogHook | None:
        return self.state.outbox

    @outbox.setter
    def outbox(self, hook: BacklogHook | None) -> None:
        self.state.outbox = hook

    @property
    def inbox(self) -> BacklogHook | None:
        return self.state.inbox

    @inbox.setter
    def inbox(self, hook: BacklogHook | None) -> None:
        self.state.inbox = hook

    @property
    def work_queue(self) -> BacklogHook | None:
        """The monitoring work queue's backlog; unset (series absent) until one is wired."""
        return self.state.work_queue

    @work_queue.setter
    def work_queue(self, hook: BacklogHook | None) -> None:
        self.state.work_queue = hook

    @property
    def worker(self) -> WorkerHook | None:
        """The worker loop of this process (unset where none runs: series absent)."""
        return self.state.worker

    @worker.setter
    def worker(self, hook: WorkerHook | None) -> None:
        self.state.worker = hook

    @property
    def breakers(self) -> Callable[[], Sequence[str]] | None:
        return self.state.breakers

    @breakers.setter
    def breakers(self, hook: Callable[[], Sequence[str]] | None) -> None:
        self.state.breakers = hook

    @property
    def leader(self) -> Callable[[], Mapping[str, bool]] | None:
        return self.state.leader

    @leader.setter
    def leader(self, hook: Callable[[], Mapping[str, bool]] | None) -> None:
        self.state.leader = hook

    def render(self) -> bytes:
        """The registry in Prometheus' text exposition format (what ``/metrics`` serves)."""
        return generate_latest(self.registry)


class StateCollector(Collector):
    """Gauges read at scrape time from the hooks (a custom collector: no background polling)."""

    def __init__(self) -> None:
        self.outbox: BacklogHook | None = None
        self.inbox: BacklogHook | None = None
        self.work_queue: BacklogHook | None = None
        self.breakers: Callable[[], Sequence[str]] | None = None
        self.leader: Callable[[], Mapping[str, bool]] | None = None
        self.worker: WorkerHook | None = None

    def describe(self) -> Iterator[Metric]:
        # Only names matter for the registry's duplicate check; describing must not touch the
        # database (register() calls it at start-up).
        yield from self._families({})

    def collect(self) -> Iterator[Metric]:
        values: dict[str, Any] = {}
        failed: list[str] = []
        for name in ("outbox", "inbox", "work_queue", "breakers", "leader", "worker"):
            hook = getattr(self, name)
            if hook is None:
                continue
            try:
                values[name] = hook()
            except Exception as exc:  # a scrape reports, it does not fail
                log.warning("metrics: reading %s failed: %s", name, exc)
                failed.append(name)
        yield from self._families(values)
        errors = GaugeMetricFamily(
            f"{PREFIX}_scrape_errors",
            "1 for each state source that could not be read during this scrape.",
            labels=["source"],
        )
        for name in failed:
            errors.add_metric([name], 1)
        yield errors

    def _families(self, values: Mapping[str, Any]) -> Iterator[Metric]:
        for name, what in (
            ("outbox", "Slack messages queued in the outbox, not yet accepted by Slack"),
            ("inbox", "acked Slack interactions not yet run by a worker"),
            ("work_queue", "monitoring work items waiting for a worker"),
        ):
            depth = GaugeMetricFamily(f"{PREFIX}_{name}_depth", f"Number of {what}.")
            age = GaugeMetricFamily(
                f"{PREFIX}_{name}_oldest_age_seconds",
                f"Age of the oldest of the {what} (0 when none waits).",
            )
            backlog = values.get(name)
            if isinstance(backlog, Backlog):
                depth.add_metric([], backlog.depth)
                age.add_metric([], backlog.oldest_age_seconds or 0.0)
            yield depth
            yield age
        breakers = GaugeMetricFamily(
            f"{PREFIX}_platform_breaker_open",
            "1 per model and environment whose platform calls are refused at once because an "
            "earlier call is past its deadline and still running.",
            labels=["target"],
        )
        open_count = GaugeMetricFamily(
            f"{PREFIX}_platform_breakers_open", "Number of open platform breakers."
        )
        if "breakers" in values:
            targets = sorted(set(values["breakers"]))
            for target in targets:
                breakers.add_metric([target], 1)
            open_count.add_metric([], len(targets))
        yield breakers
        yield open_count
        leader = GaugeMetricFamily(
            f"{PREFIX}_leader",
            "1 while this process holds the lease of the role (scheduler, job_watcher).",
            labels=["role"],
        )
        for role, held in sorted((values.get("leader") or {}).items()):
            leader.add_metric([role], 1 if held else 0)
        yield leader
        yield from _worker_families(values.get("worker"))


def _worker_families(state: WorkerState | None) -> Iterator[Metric]:
    in_flight = GaugeMetricFamily(
        f"{PREFIX}_worker_in_flight", "Work items this process's worker loop is running now."
    )
    threads = GaugeMetricFamily(
        f"{PREFIX}_worker_threads",
        "Claiming threads of this process's worker loop, by state (configured, alive).",
        labels=["state"],
    )
    last_claim = GaugeMetricFamily(
        f"{PREFIX}_worker_last_claim_timestamp_seconds",
        "Unix time of this worker loop's last claim (absent before the first).",
    )
    last_poll = GaugeMetricFamily(
        f"{PREFIX}_worker_last_poll_timestamp_seconds",
        "Unix time this worker loop last looked at the queue.",
    )
    if isinstance(state, WorkerState):
        in_flight.add_metric([], state.in_flight)
        threads.add_metric(["configured"], state.threads)
        threads.add_metric(["alive"], state.alive)
        if state.last_claim is not None:
            last_claim.add_metric([], state.last_claim)
        if state.last_poll is not None:
            last_poll.add_metric([], state.last_poll)
    yield in_flight
    yield threads
    yield last_claim
    yield last_poll
