"""Forgiving parsing of `/mlops` text: quotes, extra spaces, `--opt=v` / `--opt v`, key=value.

The "bad input" error (:class:`core.inputs.UsageError`) and the window parser
(:func:`core.inputs.parse_window`) live in the domain layer, so jobs raise and read them too.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.inputs import UsageError

#: Slack sends "smart" quotes when people type on phones; treat them as plain quotes.
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "\u00a0": " "})
_PARAM = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]{0,63})=(.*)$", re.DOTALL)
MAX_TEXT = 2000


@dataclass
class ParsedArgs:
    positionals: list[str] = field(default_factory=list)
    options: dict[str, str | bool] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


def split_words(text: str) -> list[str]:
    """Split like a shell, but never fail on an unbalanced quote (fall back to whitespace)."""
    text = text.translate(_QUOTES).strip()
    if len(text) > MAX_TEXT:
        raise UsageError(
            f"the command is {len(text)} characters long; at most {MAX_TEXT} are accepted"
        )
    try:
        return shlex.split(text)
    except ValueError:
        return text.replace('"', " ").replace("'", " ").split()


def parse_args(
    words: Iterable[str],
    *,
    options: dict[str, bool],
    usage: str,
    allow_params: bool = False,
    max_positionals: int | None = None,
) -> ParsedArgs:
    """Parse ``words`` against ``options`` (name -> takes a value).

    Accepts ``--env prod``, ``--env=prod``, ``-e`` style is not used (short flags confuse people
    more than they save). ``key=value`` words become params when ``allow_params``.
    """
    parsed = ParsedArgs()
    items = list(words)
    i = 0
    while i < len(items):
        word = items[i]
        if word.startswith("--") and len(word) > 2:
            name, eq, value = word[2:].partition("=")
            name = name.lower().replace("_", "-")
            if name not in options:
                close = difflib.get_close_matches(name, options, n=1)
                hint = f" (did you mean --{close[0]}?)" if close else ""
                raise UsageError(f"unknown option --{name}{hint}", usage=usage)
            if options[name]:
                if not eq:
                    if i + 1 >= len(items) or items[i + 1].startswith("--"):
                        raise UsageError(f"--{name} needs a value", usage=usage)
                    i += 1
                    value = items[i]
                if not value.strip():
                    raise UsageError(f"--{name} needs a value", usage=usage)
                earlier = parsed.options.get(name)
                if isinstance(earlier, str) and earlier != value.strip():
                    # `--to prod --to preprod` must not quietly act on the last one
                    raise UsageError(
                        f"--{name} is given twice ({earlier}, {value.strip()}); give it once",
                        usage=usage,
                    )
                parsed.options[name] = value.strip()
            else:
                if eq:
                    raise UsageError(f"--{name} takes no value", usage=usage)
                parsed.options[name] = True
        elif allow_params and (match := _PARAM.match(word)):
            key, value = match.groups()
            if key in parsed.params:
                raise UsageError(f"parameter {key} is given twice", usage=usage)
            parsed.params[key] = value
        else:
            parsed.positionals.append(word)
        i += 1
    if max_positionals is not None and len(parsed.positionals) > max_positionals:
        extra = " ".join(parsed.positionals[max_positionals:])
        raise UsageError(f"unexpected extra words: {extra}", usage=usage)
    return parsed


def suggest(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.5)
    return close[0] if close else None


def parse_percent(value: str, *, what: str, usage: str) -> int:
    text = value.strip().rstrip("%")
    if not text.isdigit() or not 0 <= int(text) <= 100:
        raise UsageError(
            f"{what} must be a whole percentage from 0 to 100, got {value!r}", usage=usage
        )
    return int(text)
