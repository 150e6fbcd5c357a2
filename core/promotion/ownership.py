"""Who owns a running rollout: this host and process, a registry of the rollouts running in
this process, and how to tell that another owner's process is gone.

One process owns a running rollout: the ``approved -> rolling_out`` compare-and-set names it
(host, process, a run token) and it keeps a heartbeat; a rollout whose owner died (its process is
gone, or its heartbeat went stale on another host) is taken over (:mod:`core.promotion.reconciler`).
"""

from __future__ import annotations

import os
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

HOST = socket.gethostname()

# Rollouts running in this process, whichever desk started them: a restarted desk in the same
# process must not take over a rollout whose thread is still alive.
_RUNNING: Counter[str] = Counter()
_RUNNING_LOCK = threading.Lock()


def hold(approval_id: str) -> None:
    with _RUNNING_LOCK:
        _RUNNING[approval_id] += 1


def release(approval_id: str) -> None:
    with _RUNNING_LOCK:
        _RUNNING[approval_id] -= 1
        if _RUNNING[approval_id] <= 0:
            del _RUNNING[approval_id]


@contextmanager
def running(approval_id: str) -> Iterator[None]:
    hold(approval_id)
    try:
        yield
    finally:
        release(approval_id)


def running_here(approval_id: str) -> bool:
    """A thread of this process runs (or is about to run) this rollout."""
    with _RUNNING_LOCK:
        return approval_id in _RUNNING


def process_started(pid: int) -> float | None:
    """Creation time of a live process, None when it is gone (or a zombie)."""
    try:
        import psutil

        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return float(process.create_time())
    except ImportError:  # pragma: no cover - psutil ships with the local platform
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return -1.0
    except Exception:
        return None


OWN_START = process_started(os.getpid())


class OwnershipLostError(Exception):
    """Another process took this rollout over (it thought we were dead): stop touching it."""
