"""Follow an azure-core long-running operation and turn its status changes into progress lines.

The SDK's ``begin_*`` calls return an ``LROPoller`` that polls in its own thread; the adapter runs
:func:`follow` inside :meth:`Operation.run_in_thread` so the Slack card can say "Creating",
"Updating", "Succeeded" as Azure reports them instead of going quiet for ten minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.core.polling import LROPoller

#: How often the worker looks at the poller's status (the poller itself polls Azure on the
#: interval Azure asks for with Retry-After).
WATCH_SECONDS = 2.0


def follow(
    poller: LROPoller[Any],
    progress: Callable[[str], None],
    describe: Callable[[str], str],
    *,
    watch_seconds: float = WATCH_SECONDS,
) -> Any:
    """Wait for ``poller``; report each distinct status through ``progress(describe(status))``."""
    last: str | None = None

    def report() -> None:
        nonlocal last
        status = str(poller.status())
        if status != last:
            last = status
            progress(describe(status))

    try:
        while not poller.done():
            report()
            poller.wait(timeout=watch_seconds)  # re-raises the polling thread's failure
    finally:
        report()  # the last status (Succeeded, Failed, Canceled) is reported either way
    return poller.result()
