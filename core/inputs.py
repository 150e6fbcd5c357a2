"""Input from people, checked in the domain layer: :class:`UsageError` (the "bad input" error a
slash command, the CLI or a job raises before anything happens) and :func:`parse_window`."""

from __future__ import annotations

import re
from datetime import timedelta

from infra.settings import parse_duration

# Azure ML asset versions: letters, digits, '.', '-' and '_' (``3``, ``1.4.0``, ``2024-06-rc1``).
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class UsageError(Exception):
    """The command text is wrong; ``str(err)`` says what was expected. Nothing has happened."""

    def __init__(self, message: str, *, usage: str | None = None, suggestion: str | None = None):
        super().__init__(message)
        self.message = message
        self.usage = usage
        self.suggestion = suggestion


def parse_window(
    value: str,
    *,
    usage: str,
    maximum: timedelta = timedelta(days=90),
    what: str = "the window",
) -> timedelta:
    """A positive duration (``6h``, ``7d``, ``30m``) of at most ``maximum``; ``what`` names it in
    the refusal so a mute is not called a window."""
    if re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        # The configuration reads a bare 24 as seconds; a person typing `mute churn-model 24`
        # means hours or days, so a number without its unit is refused rather than guessed.
        number = value.strip()
        raise UsageError(
            f"expected a duration with its unit, like {number}h, {number}d or {number}m, "
            f"got {value!r}",
            usage=usage,
        )
    parsed = parse_duration(value)
    if not isinstance(parsed, timedelta) or parsed <= timedelta(0):
        raise UsageError(f"expected a duration like 6h, 7d or 30m, got {value!r}", usage=usage)
    if parsed > maximum:
        raise UsageError(f"{what} can be at most {maximum.days} days, got {value!r}", usage=usage)
    return parsed


def parse_version(given: str, *, usage: str) -> str:
    """A model version as the registry names it; ``v3`` means ``3`` (a leading v before a digit is
    how people write versions, never part of the name). Case is kept: Azure's are case-sensitive."""
    version = given[1:] if given[:1] in "vV" and given[1:2].isdigit() else given
    if not _VERSION.fullmatch(version):
        raise UsageError(f"expected a version like 3, v3 or 1.4.0, got {given!r}", usage=usage)
    return version
