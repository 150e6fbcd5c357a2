"""Ack latency by transport and kind of request, counted into the runtime's
:class:`infra.metrics.Metrics` by the HTTP server and the Socket Mode handler."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.metrics import Metrics

_ACTIONS = frozenset(
    {
        "block_actions",
        "interactive_message",
        "block_suggestion",
        "shortcut",
        "message_action",
        "dialog_submission",
    }
)
_VIEWS = frozenset({"view_submission", "view_closed"})


def request_kind(body: Mapping[str, Any]) -> str:
    """``command``, ``action``, ``view``, ``event`` or ``other`` for a parsed Slack payload
    (Bolt's request body, or a Socket Mode envelope's payload): a bounded label."""
    if "command" in body:
        return "command"
    kind = str(body.get("type") or "")
    if kind in _ACTIONS:
        return "action"
    if kind in _VIEWS:
        return "view"
    if kind in ("event_callback", "app_rate_limited"):
        return "event"
    return "other"


def observe_ack(
    metrics: Metrics | None, mode: str, body: Mapping[str, Any] | None, seconds: float
) -> None:
    """Count one ack that took ``seconds`` (nothing without ``metrics``)."""
    if metrics is None:
        return
    kind = request_kind(body) if isinstance(body, Mapping) else "other"
    metrics.ack_seconds.labels(mode, kind).observe(seconds)
