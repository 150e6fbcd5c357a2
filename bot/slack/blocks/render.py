"""Replies to Block Kit: one entry point for every responder (slash commands, jobs, home)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk.models.blocks import Block

from bot.slack.blocks import cards
from bot.slack.blocks.common import MAX_FALLBACK_TEXT, check_limits, clip, entities
from bot.slack.blocks.status import status_blocks
from core import replies as r

RENDERERS: dict[type[r.Reply], Callable[[Any], list[Block]]] = {
    r.MessageReply: cards.message_blocks,
    r.ErrorReply: cards.error_blocks,
    r.HelpReply: cards.help_blocks,
    r.StatusReply: status_blocks,
    r.ModelsReply: cards.models_blocks,
    r.ProgressReply: cards.progress_blocks,
    r.JobReply: cards.job_blocks,
    r.JobsReply: cards.jobs_blocks,
    r.TableReply: cards.table_blocks,
}


TEXT_RENDERERS: dict[type[r.Reply], Callable[[Any], str]] = {}
"""Replies sent as a plain mrkdwn ``text`` message, no blocks (e.g. the lines of a thread)."""


def register_renderer(reply_type: type[r.Reply], renderer: Callable[[Any], list[Block]]) -> None:
    RENDERERS[reply_type] = renderer


def register_text_renderer(reply_type: type[r.Reply], renderer: Callable[[Any], str]) -> None:
    """``reply_type`` goes out as the mrkdwn text ``renderer`` writes (already escaped)."""
    TEXT_RENDERERS[reply_type] = renderer


_features_loaded = False


def _load_feature_renderers() -> None:
    """Feature cards (approvals, monitoring) register their renderers when first needed."""
    global _features_loaded
    if not _features_loaded:
        import bot.slack.blocks.backtest
        import bot.slack.blocks.monitoring  # noqa: F401 - registers on import
        from bot.slack.blocks.approval import register_renderers

        register_renderers()
        _features_loaded = True


def render(reply: r.Reply) -> list[dict[str, Any]]:
    """Block Kit dicts for ``reply``, validated against Slack's limits."""
    _load_feature_renderers()
    for cls in type(reply).__mro__:
        if cls in RENDERERS:
            return check_limits(RENDERERS[cls](reply))
    raise TypeError(f"no renderer for {type(reply).__name__}")


def message_payload(reply: r.Reply) -> dict[str, Any]:
    """``blocks`` plus the notification ``text`` Slack shows where blocks cannot be shown; or
    only ``text`` for a reply registered with :func:`register_text_renderer`."""
    _load_feature_renderers()
    for cls in type(reply).__mro__:
        if cls in TEXT_RENDERERS:
            return {"text": TEXT_RENDERERS[cls](reply)}
    return {
        "blocks": render(reply),
        "text": clip(entities(reply.fallback_text), MAX_FALLBACK_TEXT),
    }
