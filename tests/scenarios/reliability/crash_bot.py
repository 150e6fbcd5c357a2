"""A bot in a process of its own that kills itself with SIGKILL at a chosen moment.

``python -m tests.scenarios.reliability.crash_bot <spec.json>``; the spec holds ``state_dir``,
``slack_api_url``, ``config`` (raw configuration; absent: the embedded demo), ``die_at`` and
optionally ``run_job`` (a scheduled job to fire once the file ``trigger`` exists). Prints the bot's base URL.

``die_at`` (the process gets SIGKILL, no clean-up, no atexit, like ``kill -9``):

- ``approved``: the click that completed the approvals was recorded, the rollout not started;
- ``traffic``: the rollout has moved the first share of traffic to the new version;
- ``alert_post``: a scheduled check advanced the alert and is about to post its card;
- ``vote_work``: a worker is about to apply an acked Approve click of ``die_user`` (after the
  ack went out): between the ack and the work;
- ``vote_committed``: the click of ``die_user`` that completes the policy has just moved the
  request to approved, before anything announced it: between the state change and its
  notification;
- ``random``: SIGKILL after ``die_after`` seconds counted from the first Approve click of
  ``die_user`` (the chaos rounds of ``chaos_rollout.py``).
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


def install(die_at: str | None, spec: dict[str, Any] | None = None) -> None:
    spec = spec or {}
    user = spec.get("die_user")
    if die_at == "vote_work":
        from core.promotion.desk import PromotionDesk

        original_approve = PromotionDesk.approve

        def approve(self: Any, approval_id: str, voter: str, where: Any) -> Any:
            if voter == user:
                time.sleep(0.5)  # the ack has gone out by now
                die()
            return original_approve(self, approval_id, voter, where)

        PromotionDesk.approve = approve  # type: ignore[method-assign]
    elif die_at == "vote_committed":
        from core.promotion.book import ApprovalBook
        from core.promotion.states import ApprovalState

        original_transition = ApprovalBook.transition

        def transition(self: Any, approval: Any, to: Any, **kwargs: Any) -> Any:
            moved = original_transition(self, approval, to, **kwargs)
            if to is ApprovalState.APPROVED:
                time.sleep(0.5)  # the click's ack has gone out by now (it runs beside this)
                die()
            return moved

        ApprovalBook.transition = transition  # type: ignore[method-assign]
    elif die_at == "random":
        from bot.slack.listeners import clicks

        original_from_body = clicks.Click.from_body.__func__  # type: ignore[attr-defined]
        delay = float(spec.get("die_after", 0.0))
        armed = threading.Event()

        def from_body(cls: Any, body: dict[str, Any]) -> Any:
            click = original_from_body(cls, body)
            if click.user == user and not armed.is_set():
                armed.set()
                threading.Timer(delay, die).start()
            return click

        clicks.Click.from_body = classmethod(from_body)  # type: ignore[method-assign,assignment]
    elif die_at == "approved":
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
    install(spec.get("die_at"), spec)
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
