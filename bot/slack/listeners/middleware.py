"""Global middleware: count the acks being answered (the work after them waits for a quiet
moment, :mod:`bot.slack.ack_traffic`); refuse requests from any Slack workspace other than the
configured one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.context import BoltContext

from bot.slack.services import Services


def register(app: App, services: Services) -> None:
    traffic = services.inbox.traffic

    @app.middleware
    def acks_first(next: Callable[[], Any]) -> Any:
        with traffic.acking():
            return next()

    expected = services.settings.slack.team_id
    if not expected:
        return

    @app.middleware
    def only_our_team(context: BoltContext, body: dict[str, Any], next: Callable[[], Any]) -> Any:
        team = context.team_id or body.get("team_id") or (body.get("team") or {}).get("id")
        if team == expected:
            return next()
        services.store.audit(
            str(context.user_id or "unknown"),
            "request",
            "refused",
            team=team,
            reason="foreign team",
        )
        return BoltResponse(status=200, body="This bot serves another Slack workspace.")
