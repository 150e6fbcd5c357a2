"""Slack wiring only, by kind. Each module has ``register(app, services)``."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.services import Services


def register_all(app: App, services: Services) -> None:
    from bot.slack.listeners import actions, alerts, approvals, commands, events, middleware

    middleware.register(app, services)
    commands.register(app, services)
    actions.register(app, services)
    events.register(app, services)
    approvals.register(app, services)
    alerts.register(app, services)
