"""The three Slack calls the outbox makes, what it keeps of their answers, and the client it
makes them with."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    ServerErrorRetryHandler,
)

from core.replies import MessageRef, Upload

POST = "chat.postMessage"
UPDATE = "chat.update"
UPLOAD = "files.upload"


def stored_files(uploads: Sequence[Upload]) -> list[dict[str, Any]]:
    """The files of an upload as the ``outbox`` table keeps them (JSON: content in base64)."""
    return [
        {
            "filename": u.filename,
            "title": u.title,
            "alt_txt": u.alt_text,
            "content_b64": base64.b64encode(u.content).decode("ascii"),
        }
        for u in uploads
    ]


def call(client: Any, method: str, args: dict[str, Any]) -> dict[str, Any]:
    """Send one stored request; return what the row keeps of the answer (channel, ts, files)."""
    if method == POST:
        response = client.chat_postMessage(**args)
        return {"channel": str(response["channel"]), "ts": str(response["ts"])}
    if method == UPDATE:
        response = client.chat_update(**args)
        return {"channel": str(response["channel"]), "ts": str(response["ts"])}
    if method == UPLOAD:
        files = [
            {
                "content": base64.b64decode(f["content_b64"]),
                "filename": f["filename"],
                "title": f["title"],
                "alt_txt": f["alt_txt"],
            }
            for f in args["files"]
        ]
        response = client.files_upload_v2(
            channel=args.get("channel"),
            thread_ts=args.get("thread_ts"),
            initial_comment=args.get("initial_comment"),
            file_uploads=files,
        )
        ids = [f.get("id") for f in (response.get("files") or []) if isinstance(f, dict)]
        return {"channel": args.get("channel"), "ts": args.get("thread_ts"), "files": ids}
    raise ValueError(f"the outbox cannot send {method!r}")


def ref_of(result: Mapping[str, Any] | None) -> MessageRef | None:
    """The message a delivered row's result names, if it names one."""
    if not result or not result.get("channel") or not result.get("ts"):
        return None
    return MessageRef(str(result["channel"]), str(result["ts"]))


def delivery_client(client: WebClient) -> WebClient:
    """The bot's client without slack_sdk's long retry loops: a 429 is handed back at once (the
    outbox waits for Retry-After between attempts, without holding the caller's thread), a 5xx
    or a dropped connection is retried once."""
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        retry_handlers=[
            ServerErrorRetryHandler(max_retry_count=1),
            ConnectionErrorRetryHandler(max_retry_count=1),
        ],
    )
