"""Shared pieces of every card: escaping, tone marks, time formats and Slack's limits."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from core.replies import Tone
from infra.durations import format_duration

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK_TEXT = 4000

TONE_MARK = {
    Tone.INFO: ":information_source:",
    Tone.SUCCESS: ":white_check_mark:",
    Tone.WARNING: ":warning:",
    Tone.ERROR: ":x:",
}
LEVEL_MARK = {
    "healthy": ":large_green_circle:",
    "warning": ":large_yellow_circle:",
    "breach": ":red_circle:",
    "muted": ":no_bell:",
    "flapping": ":arrows_counterclockwise:",
    "unknown": ":white_circle:",
}


def entities(text: object) -> str:
    """Only Slack's three entities: ``&``, ``<``, ``>`` (so text cannot mention or link).

    For text mrkdwn does not format: code span contents and the notification text.
    """
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MARKERS = "*_~"
_WORD = re.compile(r"\S+")


def _formats(word: str) -> bool:
    """Whether mrkdwn could read a character of ``word`` as formatting.

    ``*``, ``_`` and ``~`` open or close bold, italic and strike only beside a word boundary
    (``*/2``, ``_x_``, ``'~a'``); inside a word (``tenure_months``, ``2*3``) they are literal.
    A backtick pairs with any other one, wherever it is.
    """
    if "`" in word:
        return True
    for i, ch in enumerate(word):
        if ch in _MARKERS:
            before = word[i - 1] if i else ""
            after = word[i + 1] if i + 1 < len(word) else ""
            if not before.isalnum() or not after.isalnum():
                return True
    return False


def esc(text: object) -> str:
    """Text as mrkdwn that shows exactly ``text``: no mention, no link, no formatting.

    Entities for ``&``, ``<`` and ``>``; a word in which ``*``, ``_``, ``~`` or a backtick
    would format (``*/2 * * * *``, ``_tmp_``) goes in a code span, where mrkdwn formats
    nothing. Slack has no backslash escape, so a code span is the only literal form.
    """
    return _WORD.sub(
        lambda m: code(m.group()) if _formats(m.group()) else entities(m.group()), str(text)
    )


# Slack's mrkdwn has no escape for a backtick inside code; U+02CB MODIFIER LETTER GRAVE ACCENT
# looks the same and cannot end the span.
_GRAVE_LOOKALIKE = "\u02cb"


def code(value: object) -> str:
    """``value`` as an inline code span: shown literally, ``*``, ``_`` and ``~`` included.

    For everything user-supplied or technical (cron, parameters, paths, names, error text):
    mrkdwn reads ``*/2 * * * *`` as bold otherwise. A newline would end the span, so it
    becomes a space; a backtick becomes its look-alike.
    """
    text = entities(value).replace("`", _GRAVE_LOOKALIKE).replace("\r", " ").replace("\n", " ")
    return f"`{text}`" if text.strip() else "` `"


def pre(value: object) -> str:
    """``value`` as a preformatted block (multi-line output such as a log tail), literally."""
    text = entities(value).replace("```", _GRAVE_LOOKALIKE * 3)
    return f"```{text}```"


_URL = re.compile(r"https?://[^\s<>|`]+")


def link(url: str | None, label: str) -> str:
    """``<url|label>`` for a web address; just the label for anything else (a ``file:`` path,
    a value with ``|`` or ``>`` that would end the token early)."""
    if url and _URL.fullmatch(url):
        return f"<{url}|{entities(label)}>"
    return esc(label)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def user(user_id: str | None) -> str:
    """A user mention from a Slack user ID (IDs come from Slack payloads, never from free text)."""
    if user_id and user_id.replace("_", "").isalnum():
        return f"<@{user_id}>"
    return esc(user_id or "someone")


def slack_date(when: datetime, fmt: str = "{date_short_pretty} {time}") -> str:
    """A date every reader sees in their own time zone, with a UTC fallback."""
    ts = int(when.timestamp())
    fallback = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{ts}^{fmt}|{fallback}>"


def ago(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return "never"
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    amount = format_duration(abs(seconds))
    return f"in {amount}" if seconds < 0 else f"{amount} ago"


def metrics_line(metrics: Mapping[str, float], keys: Sequence[str] | None = None) -> str:
    order = keys or ("accuracy", "f1", "roc_auc", "precision", "recall", "mae", "rmse", "r2")
    shown = [f"{k} {metrics[k]:.3f}" for k in order if k in metrics]
    return " · ".join(shown) if shown else "no metrics"


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=clip(text, MAX_HEADER), emoji=True))


def section(text: str, fields: Sequence[str] = ()) -> SectionBlock:
    return SectionBlock(
        text=MarkdownTextObject(text=clip(text, MAX_SECTION_TEXT)) if text else None,
        fields=[MarkdownTextObject(text=clip(f, MAX_FIELD_TEXT)) for f in fields[:MAX_FIELDS]]
        or None,
    )


def context(*parts: str) -> ContextBlock:
    return ContextBlock(
        elements=[
            MarkdownTextObject(text=clip(p, MAX_SECTION_TEXT)) for p in parts[:MAX_CONTEXT_ELEMENTS]
        ]
    )


class BlockLimitError(ValueError):
    pass


def check_limits(blocks: Sequence[Block]) -> list[dict]:
    """Serialise (which runs slack_sdk's own validation) and check what the SDK does not."""
    if len(blocks) > MAX_BLOCKS:
        raise BlockLimitError(f"{len(blocks)} blocks; Slack accepts at most {MAX_BLOCKS}")
    out = [b.to_dict() for b in blocks]
    for block in out:
        if block["type"] == "section":
            if len(block.get("text", {}).get("text", "")) > MAX_SECTION_TEXT:
                raise BlockLimitError("section text over 3000 characters")
            if len(block.get("fields", [])) > MAX_FIELDS:
                raise BlockLimitError("more than 10 fields in a section")
        if block["type"] == "context" and len(block["elements"]) > MAX_CONTEXT_ELEMENTS:
            raise BlockLimitError("more than 10 context elements")
    return out
