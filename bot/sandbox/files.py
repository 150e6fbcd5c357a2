"""Uploaded files: the three-step ``files_upload_v2`` flow and the bytes behind it.

1. files.getUploadURLExternal reserves a file id and an upload URL on the sandbox server,
2. the client POSTs the bytes there (raw or multipart, as Slack accepts),
3. files.completeUploadExternal titles the file and shares it as a message in a channel or
   thread, with the initial comment as the message text.

Bytes stay in memory and are served at ``url_private`` so the sandbox page can show charts.
"""

from __future__ import annotations

import copy
import io
import mimetypes
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.sandbox.errors import SlackError
from bot.sandbox.model import new_id
from bot.sandbox.shared import WorkspaceCore

if TYPE_CHECKING:
    from bot.sandbox.conversations import Conversations
    from bot.sandbox.directory import Directory

MAX_ALT_TEXT = 1000


@dataclass
class StoredFile:
    id: str
    name: str
    declared_length: int
    user: str
    created: int
    alt_txt: str | None = None
    snippet_type: str | None = None
    title: str | None = None
    data: bytes | None = None
    completed: bool = False
    shares: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)

    @property
    def mimetype(self) -> str:
        guessed, _ = mimetypes.guess_type(self.name)
        return guessed or "application/octet-stream"


class FileStore:
    """Pending uploads by upload key, and files by id. Uses the workspace's lock."""

    def __init__(
        self, workspace: WorkspaceCore, directory: Directory, conversations: Conversations
    ) -> None:
        self._ws = workspace
        self._directory = directory
        self._conversations = conversations
        self._lock = workspace.lock
        self._files: dict[str, StoredFile] = {}
        self._upload_keys: dict[str, str] = {}

    def begin_upload(
        self,
        *,
        user_id: str,
        filename: str | None,
        length: int | None,
        alt_txt: str | None = None,
        snippet_type: str | None = None,
    ) -> tuple[str, str]:
        """files.getUploadURLExternal: returns (file id, upload key for the upload URL)."""
        if not filename:
            raise SlackError(
                "invalid_arguments", messages=["[ERROR] missing required field: filename"]
            )
        if length is None or length < 0:
            raise SlackError(
                "invalid_arguments", messages=["[ERROR] missing required field: length"]
            )
        if alt_txt is not None and len(alt_txt) > MAX_ALT_TEXT:
            raise SlackError("alt_txt_too_large")
        with self._lock:
            file_id = new_id("F")
            key = secrets.token_urlsafe(16)
            self._files[file_id] = StoredFile(
                id=file_id,
                name=filename,
                declared_length=length,
                user=user_id,
                created=int(self._ws.clock()),
                alt_txt=alt_txt,
                snippet_type=snippet_type,
            )
            self._upload_keys[key] = file_id
            return file_id, key

    def receive(self, key: str, data: bytes) -> int:
        """Step 2: store the bytes POSTed to the upload URL. LookupError for an unknown URL."""
        with self._lock:
            file_id = self._upload_keys.get(key)
            if file_id is None:
                raise LookupError("unknown upload URL")
            stored = self._files[file_id]
            if stored.completed:
                raise LookupError("upload already completed")
            stored.data = data
            return len(data)

    def complete(
        self,
        files: Any,
        *,
        user_id: str,
        channel_id: str | None = None,
        channels: list[str] | None = None,
        thread_ts: str | None = None,
        initial_comment: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        scopes: frozenset[str] | None = None,
    ) -> list[dict[str, Any]]:
        """files.completeUploadExternal: title the files and share them in one message per
        channel; returns the file objects Slack returns."""
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
            raise SlackError(
                "invalid_arguments", messages=["[ERROR] files must be a non-empty array"]
            )
        targets = [channel_id] if channel_id else list(channels or [])
        if thread_ts and len(targets) != 1:
            raise SlackError("invalid_arguments", messages=["thread_ts needs exactly one channel"])
        with self._lock:
            stored = []
            for entry in files:
                found = self._files.get(str(entry.get("id")))
                if found is None or found.data is None or found.completed or found.user != user_id:
                    raise SlackError("file_not_found")
                stored.append((found, entry.get("title")))
            for target in targets:
                conv = self._directory.resolve(target, as_user=self._directory.user(user_id))
                if user_id not in conv.members:
                    raise SlackError("not_in_channel")
            for found, title in stored:
                found.title = title or found.name
                found.completed = True
            for target in targets:
                channel, message = self._conversations.post_message(
                    target,
                    user_id=user_id,
                    text=initial_comment,
                    blocks=blocks,
                    thread_ts=thread_ts,
                    files=[self.to_api(f.id) for f, _ in stored],
                    scopes=scopes,
                )
                share = {
                    "ts": message["ts"],
                    "channel_name": self._directory.channel(channel).name,
                    "team_id": self._ws.team_id,
                    "share_user_id": user_id,
                    "source": "UNKNOWN",
                }
                if thread_ts:
                    share["thread_ts"] = message["thread_ts"]
                visibility = "private" if self._directory.channel(channel).is_private else "public"
                for found, _ in stored:
                    found.shares.setdefault(visibility, {}).setdefault(channel, []).append(share)
            self._ws.touch()
            return [self.to_api(f.id) for f, _ in stored]

    def to_api(self, file_id: str) -> dict[str, Any]:
        """The Slack file object (files.info shape) with URLs on the sandbox server."""
        with self._lock:
            stored = self._files.get(file_id)
            if stored is None:
                raise SlackError("file_not_found")
            extension = stored.name.rsplit(".", 1)[-1].lower() if "." in stored.name else "binary"
            url = f"{self._ws.root_url}files/{stored.id}/{stored.name}"
            public = sorted(stored.shares.get("public", {}))
            private = sorted(stored.shares.get("private", {}))
            info: dict[str, Any] = {
                "id": stored.id,
                "created": stored.created,
                "timestamp": stored.created,
                "name": stored.name,
                "title": stored.title or stored.name,
                "mimetype": stored.mimetype,
                "filetype": extension,
                "pretty_type": extension.upper(),
                "user": stored.user,
                "user_team": self._ws.team_id,
                "editable": False,
                "size": len(stored.data or b""),
                "mode": "hosted",
                "is_external": False,
                "external_type": "",
                "is_public": bool(public),
                "public_url_shared": False,
                "display_as_bot": False,
                "username": "",
                "url_private": url,
                "url_private_download": f"{url}?download=1",
                "permalink": f"{self._ws.root_url}files/{stored.id}/{stored.name}?permalink=1",
                "channels": public,
                "groups": [c for c in private if not c.startswith("D")],
                "ims": [c for c in private if c.startswith("D")],
                "shares": copy.deepcopy(stored.shares),
                "comments_count": 0,
                "has_rich_preview": False,
                "file_access": "visible",
            }
            if stored.alt_txt:
                info["alt_txt"] = stored.alt_txt
            size = _image_size(stored.data) if stored.mimetype.startswith("image/") else None
            if size is not None:
                info["original_w"], info["original_h"] = size
                info["thumb_360"] = url
            return info

    def content(self, file_id: str) -> tuple[bytes, str, str]:
        """(bytes, mimetype, file name) of an uploaded file; LookupError if there is none."""
        with self._lock:
            stored = self._files.get(file_id)
            if stored is None or stored.data is None:
                raise LookupError(file_id)
            return stored.data, stored.mimetype, stored.name

    def all_files(self) -> list[dict[str, Any]]:
        """Every completed file, newest first (for the sandbox page and tests)."""
        with self._lock:
            done = [f for f in self._files.values() if f.completed]
            return [self.to_api(f.id) for f in sorted(done, key=lambda f: f.created, reverse=True)]


def _image_size(data: bytes | None) -> tuple[int, int] | None:
    """Pixel size of an image (Slack's ``original_w``/``original_h``); None if unreadable."""
    if not data:
        return None
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pillow comes with matplotlib; without it sizes are just omitted
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError):
        return None
