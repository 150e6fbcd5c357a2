"""The guard's call threads: reused when idle, never queued behind a hung call, gone when idle."""

from __future__ import annotations

import threading
import time

from infra.platform.daemon_threads import DaemonThreads


def _wait(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def _pool_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def test_an_idle_thread_runs_the_next_task() -> None:
    threads = DaemonThreads("reuse-test", idle_seconds=30)
    seen: list[int] = []
    for _ in range(20):
        done = threading.Event()
        threads.start(lambda done=done: (seen.append(threading.get_ident()), done.set()))
        assert done.wait(5)
        assert _wait(lambda: threads._idle == 1)  # back to waiting before the next start
    assert len(set(seen)) == 1
    assert len(_pool_threads("reuse-test")) == 1


def test_a_hung_task_does_not_hold_up_the_next_one() -> None:
    threads = DaemonThreads("hung-test", idle_seconds=30)
    release = threading.Event()
    threads.start(release.wait)
    ran = threading.Event()
    threads.start(ran.set)
    assert ran.wait(5)
    assert all(t.daemon for t in _pool_threads("hung-test"))
    release.set()


def test_a_thread_left_idle_ends() -> None:
    threads = DaemonThreads("idle-test", idle_seconds=0.05)
    done = threading.Event()
    threads.start(done.set)
    assert done.wait(5)
    assert _wait(lambda: not _pool_threads("idle-test"))
    again = threading.Event()
    threads.start(again.set)  # a new thread is started once the old one is gone
    assert again.wait(5)
