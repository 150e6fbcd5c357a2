"""`mlops-bot demo --socket-mode`: the sandbox page delivers over a local Socket Mode server the
bot is connected to, instead of signed HTTP requests."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

from bot.demo.live import DemoOptions, DemoSession
from bot.sandbox import seed
from tests.scenarios.slackapp.conftest import embedded_settings


def test_the_demo_runs_over_socket_mode(state_dir: Path) -> None:
    options = DemoOptions(scheduler=False, traffic_seconds=0, catch_up=False, socket_mode=True)
    with DemoSession(embedded_settings(state_dir), options) as demo:
        sockets = demo.socket_mode_server
        assert sockets is not None and len(sockets.open_links()) == 1
        assert [c.response["ok"] for c in demo.sandbox.calls_of("apps.connections.open")] == [True]

        delivery = demo.page.deliver(demo.page.interactions.slash_command("status churn-model"))
        assert delivery.ok and delivery.seconds < 3.0
        assert len(sockets.acks) == 1  # it went over the socket
        call = demo.sandbox.wait_for("response_url", timeout=30)
        assert "*prod*" in json.dumps(call.args.get("blocks"))

        probes = demo.page.bot_url.rsplit("/slack/events", 1)[0]
        with urllib.request.urlopen(f"{probes}/readyz", timeout=5) as ready:
            assert json.loads(ready.read())["socket_mode"] == "connected"

        # the page's own API, as the browser uses it
        request = urllib.request.Request(
            f"{demo.url}sandbox/api/command",
            data=json.dumps(
                {"user": seed.BOB, "channel": seed.MLOPS_CHANNEL, "text": "/mlops models"}
            ).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.loads(answer.read())["ok"] is True
        deadline = time.monotonic() + 30
        while len(demo.sandbox.calls_of("response_url")) < 2:
            assert time.monotonic() < deadline, "no answer to /mlops models"
            time.sleep(0.05)
        assert len(sockets.acks) == 2
