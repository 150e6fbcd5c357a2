"""The one error type the sandbox raises: a Slack error code plus what Slack sends with it."""

from __future__ import annotations

from typing import Any


class SlackError(Exception):
    """A Web API failure, answered as ``{"ok": false, "error": code, ...}``, with HTTP 200 as
    Slack does for Web API methods (response URLs answer 4xx; they set ``http_status``).

    ``messages`` become ``response_metadata.messages`` (Slack's detail lines for
    ``invalid_arguments`` / ``invalid_blocks``); ``extra`` holds top-level fields Slack adds to
    some errors (``needed``/``provided`` for ``missing_scope``, ``errors`` for ``invalid_blocks``).
    """

    def __init__(
        self,
        error: str,
        *,
        messages: list[str] | None = None,
        http_status: int = 200,
        **extra: Any,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.http_status = http_status
        self.messages = list(messages or [])
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.error, **self.extra}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body


def invalid_blocks(lines: list[str]) -> SlackError:
    """Slack's answer to Block Kit it refuses: the short ``errors`` and the ``[ERROR]`` lines."""
    short = [line.removeprefix("[ERROR] ") for line in lines]
    return SlackError("invalid_blocks", messages=lines, errors=short)
