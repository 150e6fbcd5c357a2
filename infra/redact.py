"""What of a job's output may be shown to people in Slack: no server path, no command line, no
stack trace.

A training job's log and error come from a script the bot does not control, run by a runner
that echoes its command line. Shown in a channel, they would tell every member where the
bot's virtualenv, code and state live. :func:`public_text` is applied where a job is
described to people (the platform adapters and, again, the Slack cards); the full log stays
behind the job's link for those who can open it.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"

# An absolute POSIX path of two or more components, or a file: URI, or a Windows path. The
# look-behind keeps URLs (``https://host/a/b``) and relative paths (``a/b/c``) intact.
_POSIX_PATH = re.compile(r"(?<![\w.:/~\-])(?:file://)?((?:/[^\s'\"`/:,;()\[\]<>|]+){2,})/?")
_WINDOWS_PATH = re.compile(
    r"\b[A-Za-z]:\\(?:[^\s'\"`\\:,;()\[\]<>|]+\\)*([^\s'\"`\\:,;()\[\]<>|]+)"
)
_TRACEBACK = "Traceback (most recent call last):"
_CHAINED = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)


def redact_paths(text: str) -> str:
    """Replace every absolute path by ``…/<last component>``: enough to recognise the file."""
    text = _POSIX_PATH.sub(lambda m: f"{ELLIPSIS}/{m.group(1).rsplit('/', 1)[-1]}", text)
    return _WINDOWS_PATH.sub(lambda m: f"{ELLIPSIS}\\{m.group(1)}", text)


def _without_command_lines_and_frames(text: str) -> list[str]:
    """Drop echoed command lines (``$ …``), argparse usage text and the frames of Python
    tracebacks, keeping each traceback's final ``SomeError: message`` line, which says what
    went wrong."""
    kept: list[str] = []
    in_traceback = in_usage = False
    for line in text.splitlines():
        stripped = line.strip()
        if line.startswith("$ "):
            continue
        # argparse's usage text: the script's interface, noise beside its "error:" line.
        in_usage = line.startswith("usage: ") or (in_usage and line[:1].isspace())
        if in_usage:
            continue
        if stripped == _TRACEBACK or stripped in _CHAINED:
            in_traceback = stripped == _TRACEBACK or in_traceback
            continue
        if in_traceback and (not stripped or line[:1].isspace() or stripped == "^"):
            continue
        in_traceback = False
        kept.append(line)
    return kept


def public_text(text: str | None) -> str:
    """``text`` as it may appear in Slack: paths shortened, command lines and tracebacks gone."""
    if not text:
        return ""
    return redact_paths("\n".join(_without_command_lines_and_frames(text)))
