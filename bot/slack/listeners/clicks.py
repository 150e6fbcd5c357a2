"""A button click read off a block_actions payload: who, which value, on which message.

A button's value travels through the user's client, so handlers treat it as untrusted input:
they re-read whatever it points at from the store and check the clicker against the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_VALUE = 255


@dataclass(frozen=True)
class Click:
    user: str
    value: str
    channel: str | None
    message_ts: str | None
    response_url: str | None
    team: str | None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Click:
        action = (body.get("actions") or [{}])[0]
        container = body.get("container") or {}
        return cls(
            user=str((body.get("user") or {}).get("id", "")),
            value=str(action.get("value") or "")[:MAX_VALUE],
            channel=container.get("channel_id") or (body.get("channel") or {}).get("id"),
            message_ts=container.get("message_ts") or (body.get("message") or {}).get("ts"),
            response_url=body.get("response_url"),
            team=(body.get("team") or {}).get("id"),
        )
