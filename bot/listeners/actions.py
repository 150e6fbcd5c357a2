"""Buttons that are not part of a feature package (feature packages register their own)."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services


def register(app: App, services: Services) -> None:
    """Nothing generic yet: approvals and alerts register their buttons in their own modules."""
