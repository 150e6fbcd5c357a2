"""Reusable daemon threads for the platform guard's calls.

Why not a new thread per call: starting one costs a few hundred microseconds of CPU under the
interpreter lock, and a status card makes seven platform calls; in the serving process that CPU
is taken from the acks. Why not ``ThreadPoolExecutor``: its threads are joined at interpreter
exit and its size is fixed, so one adapter call that never returns would hold up shutdown, and a
few would leave every later call queued behind them. Here a call takes an idle thread or, when
none is idle, a new one (a hung call keeps its thread, the others go on); a thread left idle for
``idle_seconds`` ends.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

Task = Callable[[], None]


class DaemonThreads:
    """Runs tasks on daemon threads, reusing idle ones."""

    def __init__(self, name: str, *, idle_seconds: float = 60.0) -> None:
        self.name = name
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._tasks: queue.SimpleQueue[Task] = queue.SimpleQueue()
        self._idle = 0
        """Threads waiting for a task that no :meth:`start` has reserved yet."""

    def start(self, task: Task) -> None:
        """Run ``task`` (which must not raise: it reports its own outcome) on some thread."""
        with self._lock:
            if self._idle:
                # Reserve an idle thread: the task is queued under the lock, so a thread that
                # times out meanwhile sees it and stays (see _serve).
                self._idle -= 1
                self._tasks.put(task)
                return
        threading.Thread(target=self._serve, args=(task,), name=self.name, daemon=True).start()

    def _serve(self, task: Task) -> None:
        while True:
            task()
            with self._lock:
                self._idle += 1
            while True:
                try:
                    task = self._tasks.get(timeout=self.idle_seconds)
                    break
                except queue.Empty:
                    with self._lock:
                        if self._tasks.empty():
                            self._idle -= 1  # nobody reserved this thread: it ends
                            return
                    # A task was queued as the wait ran out: take it.
