"""A bot in a process of its own that kills itself with SIGKILL at a chosen moment.

``python -m tests.scenarios.reliability.crash_bot <spec.json>``; the spec holds ``state_dir``,
``slack_api_url``, ``config`` (raw configuration; absent: the embedded demo), ``die_at`` and
optionally ``run_job`` (a scheduled job to fire once the file ``trigger`` exists). Prints the bot's base URL.

``die_at`` (the process gets SIGKILL, no clean-up, no atexit, like ``kill -9``):

- ``approved``: the click that completed the approvals was recorded, the rollout not started;
- ``traffic``: the rollout has moved the first share of traffic to the new version;
- ``alert_post``: a scheduled check advanced the alert and is about to post its card.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install(die_at: str | None) -> None:
    if die_at == "approved":
        from core.promotion.desk import PromotionDesk

        PromotionDesk.start_rollout = lambda self, approval_id: die()  # type: ignore[method-assign]
    elif die_at == "traffic":
        from infra.platform.local import LocalPlatform

        original = LocalPlatform.set_traffic

        def set_traffic(self: Any, model: str, env: str, traffic: Any, mirror: Any = None) -> Any:
            state = original(self, model, env, traffic, mirror)
            if env == "prod" and any(0 < share < 100 for share in dict(traffic).values()):
                die()
            return state

        LocalPlatform.set_traffic = set_traffic  # type: ignore[method-assign]
    elif die_at == "alert_post":
        from bot.slack.outbox import POST, Outbox

        original_call = Outbox._call

        def call(self: Outbox, method: str, args: dict[str, Any]) -> dict[str, Any]:
            if method == POST and "alerts" in str(args.get("channel")):
                die()
            return original_call(self, method, args)

        Outbox._call = call  # type: ignore[method-assign]


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    install(spec.get("die_at"))
    from bot.runtime import build_runtime, serve_http
    from infra.platform.local import LocalPlatform
    from tests.scenarios.approvals.harness import secrets_for, settings_for
    from tests.scenarios.slackapp.conftest import embedded_settings

    state = Path(spec["state_dir"])
    settings = (
        settings_for(spec["config"], state) if spec.get("config") else embedded_settings(state)
    )
    runtime = build_runtime(
        settings, secrets_for(spec["slack_api_url"]), platform=LocalPlatform(settings)
    )
    desk = runtime.services.desk
    desk.interval = 0.05
    http = serve_http(runtime, "127.0.0.1", 0)
    print(http.url, flush=True)
    if spec.get("run_job"):
        # Fired when the test creates the trigger file (after it set the scene up).
        trigger = Path(spec["trigger"])
        while not trigger.exists():
            time.sleep(0.05)
        runtime.services.scheduler.run_now(spec["run_job"])
    threading.Event().wait()


if __name__ == "__main__":
    main()
