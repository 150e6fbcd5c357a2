"""Logging set-up that never lets a secret reach a log line."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable

#: Environment variables whose values must never be logged.
SECRET_ENV_VARS = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "MLOPS_BOT_DATABASE_URL",
    "AZURE_CLIENT_SECRET",
)
_TOKEN_PATTERN = re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)")
_URL_PASSWORD = re.compile(r"(://[^/:@\s]+:)[^@/\s]+@")
#: Nothing shorter is redacted: a secret variable's value counts from six characters, and a
#: token ("xoxb-" and more) or a URL password ("://u:p@") is longer.
_SHORTEST_SECRET = 6


def redact(text: str) -> str:
    """Remove Slack tokens, URL passwords and the values of secret variables from ``text``."""
    return redactor()(text)


def redactor() -> Callable[[str], str]:
    """:func:`redact` for many strings at once (a whole Slack message): the secret variables
    are read once, and a string that cannot hold a token, a URL password or a secret is
    returned without running the patterns over it."""
    secrets = [
        (value, f"[{name.lower()}]")
        for name in SECRET_ENV_VARS
        if (value := os.environ.get(name)) and len(value) >= _SHORTEST_SECRET
    ]

    def apply(text: str) -> str:
        if len(text) < _SHORTEST_SECRET:
            return text
        if "xox" in text or "xapp-" in text:
            text = _TOKEN_PATTERN.sub("[redacted-token]", text)
        if "://" in text:
            text = _URL_PASSWORD.sub(r"\1[redacted]@", text)
        for value, replacement in secrets:
            text = text.replace(value, replacement)
        return text

    return apply


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The Azure SDKs log every HTTP request at INFO; keep them for --verbose.
    for noisy in ("azure", "urllib3", "apscheduler.executors", "slack_bolt.App"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
