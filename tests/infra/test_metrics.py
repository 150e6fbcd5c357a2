"""infra.metrics and the platform guard's counting: per-registry series, scrape-time state
through hooks (absent when unset, reported as an error when a hook fails), and call latency,
errors and open breakers from a real :class:`GuardedPlatform`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from infra.metrics import Backlog, Metrics
from infra.platform.base import NotFoundError, TransientError
from infra.platform.guard import Deadlines, GuardedPlatform, guarded


def samples(metrics: Metrics) -> dict[tuple[str, frozenset], float]:
    text = metrics.render().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get((name, frozenset(labels.items())))


def test_each_metrics_counts_into_its_own_registry() -> None:
    one, two = Metrics(), Metrics()  # two runtimes in one process: no duplicate-name error
    one.ack_seconds.labels("http", "command").observe(0.01)
    assert value(one, "mlops_bot_ack_seconds_count", mode="http", kind="command") == 1
    assert value(two, "mlops_bot_ack_seconds_count", mode="http", kind="command") is None


def test_state_is_read_from_the_hooks_at_scrape_time() -> None:
    metrics = Metrics()
    assert value(metrics, "mlops_bot_outbox_depth") is None  # no hook: absent
    assert value(metrics, "mlops_bot_work_queue_depth") is None
    depth = [3]
    metrics.outbox = lambda: Backlog(depth[0], 42.5 if depth[0] else None)
    metrics.work_queue = lambda: Backlog(0)
    metrics.leader = lambda: {"scheduler": True, "job_watcher": False}
    assert value(metrics, "mlops_bot_outbox_depth") == 3
    assert value(metrics, "mlops_bot_outbox_oldest_age_seconds") == 42.5
    depth[0] = 0  # read again at the next scrape, nothing cached
    assert value(metrics, "mlops_bot_outbox_depth") == 0
    assert value(metrics, "mlops_bot_outbox_oldest_age_seconds") == 0
    assert value(metrics, "mlops_bot_work_queue_depth") == 0
    assert value(metrics, "mlops_bot_leader", role="scheduler") == 1
    assert value(metrics, "mlops_bot_leader", role="job_watcher") == 0


def test_a_failing_hook_is_reported_and_the_scrape_still_answers() -> None:
    metrics = Metrics()

    def broken() -> Backlog:
        raise RuntimeError("database is locked")

    metrics.inbox = broken
    metrics.outbox = lambda: Backlog(1, 5.0)
    assert value(metrics, "mlops_bot_scrape_errors", source="inbox") == 1
    assert value(metrics, "mlops_bot_inbox_depth") is None
    assert value(metrics, "mlops_bot_outbox_depth") == 1


class Inner:
    """A platform adapter whose ``list_models`` does what the test says."""

    name = "scripted"
    remote = False

    def __init__(self) -> None:
        self.failures: list[Exception] = []
        self.release = threading.Event()
        self.hang_env = "hung"

    def list_models(self, env: str) -> list[str]:
        if env == self.hang_env:
            self.release.wait(10)
        if self.failures:
            raise self.failures.pop(0)
        return ["churn-model"]

    def close(self) -> None:
        self.release.set()


@pytest.fixture
def inner() -> Iterator[Inner]:
    inner = Inner()
    yield inner
    inner.release.set()


def test_the_guard_times_calls_and_counts_errors_by_kind(inner: Inner) -> None:
    metrics = Metrics()
    platform = GuardedPlatform(
        inner,  # type: ignore[arg-type]
        deadlines=Deadlines(read=0.3),
        sleep=lambda _: None,
        metrics=metrics,
    )
    assert platform.list_models("prod") == ["churn-model"]
    inner.failures = [TransientError("throttled")]  # retried, then fine: no error counted
    assert platform.list_models("prod") == ["churn-model"]
    assert value(metrics, "mlops_bot_platform_call_seconds_count", operation="list_models") == 2
    assert value(metrics, "mlops_bot_platform_errors_total", operation="list_models") is None

    inner.failures = [NotFoundError("no such workspace")]
    with pytest.raises(NotFoundError):
        platform.list_models("prod")
    assert (
        value(
            metrics,
            "mlops_bot_platform_errors_total",
            operation="list_models",
            error="NotFoundError",
        )
        == 1
    )

    # A call that hangs past its deadline, then the breaker refuses the next one at once.
    with pytest.raises(TransientError):
        platform.list_models("hung")
    with pytest.raises(TransientError):
        platform.list_models("hung")
    errors = {"deadline": 1, "breaker_open": 1}
    for error, count in errors.items():
        assert (
            value(metrics, "mlops_bot_platform_errors_total", operation="list_models", error=error)
            == count
        )
    metrics.breakers = platform.open_breakers
    target = "any model in hung"
    assert value(metrics, "mlops_bot_platform_breaker_open", target=target) == 1
    assert value(metrics, "mlops_bot_platform_breakers_open") == 1

    inner.release.set()  # the workspace answers at last: the breaker closes
    deadline = time.monotonic() + 10
    while platform.open_breakers() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert value(metrics, "mlops_bot_platform_breaker_open", target=target) is None
    assert value(metrics, "mlops_bot_platform_breakers_open") == 0


def test_guarding_a_guarded_platform_attaches_metrics_once(inner: Inner) -> None:
    first, second = Metrics(), Metrics()
    platform = guarded(inner)  # type: ignore[arg-type]
    assert guarded(platform, metrics=first) is platform
    assert guarded(platform, metrics=second) is platform
    platform.list_models("prod")
    assert value(first, "mlops_bot_platform_call_seconds_count", operation="list_models") == 1
    assert value(second, "mlops_bot_platform_call_seconds_count", operation="list_models") is None
