"""What a reader sees of a mrkdwn string: the text left after Slack's formatting, as plain text.

The same rules as the sandbox page's renderer (``bot/sandbox/static/mrkdwn.js``), which follow
Slack's: ``` blocks and `code` spans are shown verbatim; elsewhere ``*bold*``, ``_italic_`` and
``~strike~`` take their markers away when the opening one follows a word boundary and the
closing one precedes one; ``<...>`` tokens become mentions, dates or link labels; ``&amp;``,
``&lt;`` and ``&gt;`` are shown as the characters. Tests compare this with what the bot meant
to show: a character the formatting swallowed is missing here.
"""

from __future__ import annotations

import re

_BEFORE = r"(^|[\s(>\"'.,;:!?\-])"
_AFTER = r"(?=$|[\s)<\"'.,;:!?\-])"
_STYLES = [
    re.compile(
        _BEFORE + re.escape(mark) + rf"(?!\s)([^{re.escape(mark)}\n]+?)" + re.escape(mark) + _AFTER
    )
    for mark in "*_~"
]
_TOKEN = re.compile(r"<([^<>\n]+)>")
_CODE = re.compile(r"(`[^`\n]+`)")


def unslack(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _token(inner: str) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return "@" + (label or target[1:])
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!"):
        return label or target
    return label or target


def _styled(text: str) -> str:
    for style in _STYLES:
        text = style.sub(r"\1\2", text)
    return text


def _inline(text: str) -> str:
    out, last = [], 0
    for match in _TOKEN.finditer(text):
        out.append(_styled(unslack(text[last : match.start()])))
        out.append(_token(unslack(match.group(1))))
        last = match.end()
    out.append(_styled(unslack(text[last:])))
    return "".join(out)


def _line(line: str) -> str:
    """Code spans out first, the line formatted as a whole (``*`code`*`` is bold code), the
    spans back in verbatim."""
    line = re.sub(r"^(&gt;|>)\s?", "", line)
    codes: list[str] = []

    def mask(match: re.Match[str]) -> str:
        codes.append(unslack(match.group(1)[1:-1]))
        return f"\x00{len(codes) - 1}\x00"

    shown = _inline(_CODE.sub(mask, line))
    return re.sub(r"\x00(\d+)\x00", lambda m: codes[int(m.group(1))], shown)


def visible(text: str) -> str:
    """``text`` (mrkdwn) as the reader sees it, formatting markers consumed."""
    parts = text.split("```")
    shown = []
    for index, part in enumerate(parts):
        if index % 2:
            shown.append(unslack(part.removeprefix("\n")))
        else:
            shown.append("\n".join(_line(line) for line in part.split("\n")))
    return "".join(shown)
