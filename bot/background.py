"""Background services started with the app: the job watcher (and the scheduler when enabled)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.server import Runtime


def start_background_services(runtime: Runtime) -> None:
    from jobs.watcher import JobWatcher

    watcher = JobWatcher(runtime.services)
    runtime.services.extras["job_watcher"] = watcher
    watcher.start()
    runtime.stoppers.append(watcher.stop)
