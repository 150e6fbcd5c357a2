"""Signed requests exactly as Slack sends them to a Request URL, and a way to send them.

The builders live in :mod:`bot.sandbox.signed_requests` (the sandbox page sends the same bytes);
this module re-exports them for tests and adds :func:`post`. Each builder returns
``(body, headers)``; the default signing secret is the sandbox one (``SIGNING_SECRET``).

    url = slack_server.new_response_url()
    body, headers = slash_command("status churn-model", response_url=url)
    result = post(f"{bot_url}/slack/events", body, headers)
    assert result.status == 200
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.sandbox.seed import SIGNING_SECRET
from bot.sandbox.signed_requests import (
    SignedRequest,
    app_home_opened,
    block_actions,
    event_callback,
    interaction,
    new_trigger_id,
    sign,
    signature,
    slash_command,
    view_closed,
    view_submission,
)

__all__ = [
    "SIGNING_SECRET",
    "HttpResult",
    "SignedRequest",
    "app_home_opened",
    "block_actions",
    "event_callback",
    "interaction",
    "new_trigger_id",
    "post",
    "sign",
    "signature",
    "slash_command",
    "view_closed",
    "view_submission",
]


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float = 10.0) -> HttpResult:
    """POST ``body`` with ``headers``; 4xx/5xx come back as results, not exceptions."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpResult(
                response.status,
                dict(response.headers),
                response.read(),
                time.perf_counter() - started,
            )
    except urllib.error.HTTPError as refused:
        return HttpResult(
            refused.code, dict(refused.headers), refused.read(), time.perf_counter() - started
        )
