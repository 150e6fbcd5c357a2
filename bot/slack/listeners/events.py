"""Events: App Home shows the overview, pending approvals, open alerts and mutes."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.slack.blocks.home import home_view
from bot.slack.services import Services
from commands.context import CommandContext, Invocation
from commands.models import overview
from core.monitoring_state import active_mutes, open_alerts, pending_approvals

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    @app.event("app_home_opened")
    def app_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        services.workers.submit(publish_home, services, str(event["user"]))


def publish_home(services: Services, user_id: str) -> None:
    ctx = CommandContext(
        services.settings,
        services.platform,
        services.store,
        services.access,
        Invocation(user_id, ""),
    )
    view = home_view(
        overview(ctx),
        pending_approvals(services.store),
        open_alerts(services.store),
        viewer=user_id,
        is_approver=lambda env: services.access.is_member(
            user_id, services.settings.environment(env).approval.approvers
        ),
        mutes=active_mutes(services.store, services.monitor.clock()),
    )
    try:
        services.client.views_publish(user_id=user_id, view=view)
    except SlackApiError as exc:
        log.warning("views.publish for %s failed: %s", user_id, exc.response.get("error"))
