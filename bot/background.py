"""Background services started with the app: the scheduler (with the job watcher) and promotions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.slack.server import Runtime


def start_background_services(runtime: Runtime) -> None:
    from jobs.scheduler import start_scheduler

    # The scheduler (leader-elected through the database) also runs the job watcher's polling
    # as an interval job and offers add_periodic() to feature modules.
    scheduler = start_scheduler(runtime.services)
    runtime.stoppers.append(scheduler.stop)
    from core.promotion.desk import start_promotions

    start_promotions(runtime)  # reconciles interrupted rollouts, then posts/expires/retires
