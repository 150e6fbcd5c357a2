"""The checks Slack makes on every message body, shared by chat methods and response URLs."""

from __future__ import annotations

from typing import Any

from bot.sandbox.blockcheck import MAX_MESSAGE_TEXT, check_blocks
from bot.sandbox.errors import SlackError, invalid_blocks

MAX_ATTACHMENTS = 100


def check_message_content(
    text: str | None,
    blocks: list[dict[str, Any]] | None,
    attachments: list[dict[str, Any]] | None,
    *,
    allow_empty: bool,
) -> None:
    """The checks Slack makes on every message body (``no_text``, ``msg_too_long``,
    ``too_many_attachments``, ``invalid_blocks``); raises SlackError."""
    if not allow_empty and not text and not blocks and not attachments:
        raise SlackError("no_text")
    if text is not None and len(text) > MAX_MESSAGE_TEXT:
        raise SlackError("msg_too_long")
    if attachments is not None:
        if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
            raise SlackError("invalid_attachments")
        if len(attachments) > MAX_ATTACHMENTS:
            raise SlackError("too_many_attachments")
    if blocks is not None:
        problems = check_blocks(blocks)
        if problems:
            raise invalid_blocks(problems)
