"""What commands return: data, not Slack calls. ``bot.slack.blocks`` turns each into Block Kit.

All strings here are plain text; the renderer escapes them, so user input echoed back can
never ping a channel or forge a link.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from infra.platform.base import EndpointState, JobInfo, ModelVersion


@dataclass(frozen=True)
class MessageRef:
    """Where a posted message lives: its channel ID and timestamp (Slack's message identity)."""

    channel: str
    ts: str


class Upload:
    """A file posted with a message (a chart PNG): what the reader sees and what a screen
    reader says.

    The bytes may be given, or made on first use by ``render`` (:meth:`deferred`): a chart
    costs a tenth of a second to draw, and most checks post nothing (a healthy, unchanged
    check) or post it once for several references (the summary and the alert carry the same
    chart). Reading :attr:`content` renders once; every later read returns the same bytes.
    """

    __slots__ = ("_content", "_lock", "_render", "alt_text", "filename", "title")

    def __init__(
        self,
        filename: str,
        content: bytes | None = None,
        title: str = "",
        alt_text: str = "",
        *,
        render: Callable[[], bytes] | None = None,
    ) -> None:
        if (content is None) == (render is None):
            raise ValueError("an Upload needs either its content or a render function")
        self.filename = filename
        self.title = title
        self.alt_text = alt_text
        self._content = content
        self._render = render
        self._lock = threading.Lock()

    @classmethod
    def deferred(
        cls, filename: str, title: str, alt_text: str, render: Callable[[], bytes]
    ) -> Upload:
        """An upload whose bytes are made by ``render`` when first read."""
        return cls(filename, title=title, alt_text=alt_text, render=render)

    @property
    def rendered(self) -> bool:
        """Whether the bytes exist yet (False for a deferred chart nobody has posted)."""
        return self._content is not None

    @property
    def content(self) -> bytes:
        if self._content is None:
            with self._lock:  # two threads posting the same report render it once
                if self._content is None:
                    assert self._render is not None
                    self._content = self._render()
                    self._render = None
        return self._content

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Upload):
            return NotImplemented
        return (self.filename, self.title, self.alt_text, self.content) == (
            other.filename,
            other.title,
            other.alt_text,
            other.content,
        )

    def __hash__(self) -> int:
        return hash((self.filename, self.title, self.alt_text))

    def __repr__(self) -> str:
        size = f"{len(self._content)} bytes" if self._content is not None else "not rendered"
        return f"Upload({self.filename!r}, {size}, title={self.title!r})"


class Tone(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


def count_of(count: int, noun: str, plural: str | None = None) -> str:
    """``1 model`` / ``3 models``: fallback texts are read in notifications, so "1 models" shows."""
    return f"{count} {noun if count == 1 else (plural or noun + 's')}"


@dataclass(frozen=True)
class Reply:
    """Base of every reply. ``public`` replies are visible to the channel."""

    public: bool = False

    @property
    def fallback_text(self) -> str:
        return "mlops-bot"


@dataclass(frozen=True)
class MessageReply(Reply):
    text: str = ""
    title: str | None = None
    tone: Tone = Tone.INFO
    context: str | None = None
    requested_by: str | None = None
    """The Slack user ID of who asked, shown as a mention (``context`` is plain text)."""

    @property
    def fallback_text(self) -> str:
        return f"{self.title}: {self.text}" if self.title else self.text


@dataclass(frozen=True)
class ErrorReply(Reply):
    message: str = ""
    usage: str | None = None
    suggestion: str | None = None

    @property
    def fallback_text(self) -> str:
        return self.message


@dataclass(frozen=True)
class CommandHelp:
    name: str
    usage: str
    summary: str
    example: str


@dataclass(frozen=True)
class HelpReply(Reply):
    commands: tuple[CommandHelp, ...] = ()
    intro: str | None = None

    @property
    def fallback_text(self) -> str:
        return "mlops-bot commands: " + ", ".join(c.name for c in self.commands)


@dataclass(frozen=True)
class SignalVerdict:
    """The last verdict of one signal as ``/mlops status`` lists it (not the verdict scale, which
    is :class:`engine.verdict.Verdict`)."""

    signal: str
    level: str
    """healthy, warning, breach, muted or unknown."""
    summary: str
    at: datetime | None = None


@dataclass(frozen=True)
class PendingApproval:
    id: str
    model: str
    version: str
    source_env: str
    target_env: str
    requester: str
    votes: int
    required: int
    expires_at: datetime
    link: str | None = None


@dataclass(frozen=True)
class EnvironmentStatus:
    name: str
    endpoint: EndpointState | None
    error: str | None = None
    serving_metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Metrics of each serving version, keyed by version."""
    verdicts: tuple[SignalVerdict, ...] = ()


@dataclass(frozen=True)
class StatusReply(Reply):
    model: str = ""
    description: str = ""
    task: str = ""
    environments: tuple[EnvironmentStatus, ...] = ()
    latest_versions: tuple[ModelVersion, ...] = ()
    last_job: JobInfo | None = None
    pending: tuple[PendingApproval, ...] = ()

    @property
    def fallback_text(self) -> str:
        parts = []
        for env in self.environments:
            primary = env.endpoint.primary if env.endpoint else None
            parts.append(f"{env.name}: v{primary.model_version}" if primary else f"{env.name}: -")
        return f"Status of {self.model}: " + ", ".join(parts)


@dataclass(frozen=True)
class ModelRow:
    name: str
    task: str
    versions: Mapping[str, str]
    """Per environment: the serving summary, e.g. ``v3`` or ``v3 90% / v4 10%`` or ``-``."""
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelsReply(Reply):
    environments: tuple[str, ...] = ()
    rows: tuple[ModelRow, ...] = ()

    @property
    def fallback_text(self) -> str:
        return count_of(len(self.rows), "model")


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Step:
    label: str
    state: StepState = StepState.PENDING
    detail: str = ""


@dataclass(frozen=True)
class ProgressReply(Reply):
    """A long operation's card, edited in place as its steps advance."""

    title: str = ""
    steps: tuple[Step, ...] = ()
    outcome: str | None = None
    tone: Tone = Tone.INFO
    actor: str | None = None

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    @property
    def fallback_text(self) -> str:
        return f"{self.title}: {self.outcome or 'in progress'}"


@dataclass(frozen=True)
class JobReply(Reply):
    heading: str = ""
    job: JobInfo | None = None
    baseline_metrics: Mapping[str, float] = field(default_factory=dict)
    """Metrics of the version currently serving, to compare a finished job against."""
    baseline_source: str = ""
    """Which version and environment ``baseline_metrics`` are of (``v2 in prod``): not the
    job's own environment, so the card must say."""
    actions: tuple[tuple[str, str, str], ...] = ()
    """Buttons as (action_id, label, value)."""
    requested_by: str | None = None
    """The Slack user who asked for the job (None for the bot's own schedules and triggers)."""
    reason: str = ""

    @property
    def fallback_text(self) -> str:
        return self.heading


@dataclass(frozen=True)
class JobRow:
    model: str
    environment: str
    job: JobInfo


@dataclass(frozen=True)
class ScheduledJobRow:
    name: str
    next_run: datetime | None
    trigger: str


@dataclass(frozen=True)
class JobsReply(Reply):
    rows: tuple[JobRow, ...] = ()
    scheduled: tuple[ScheduledJobRow, ...] = ()
    model: str | None = None

    @property
    def fallback_text(self) -> str:
        return f"{len(self.rows)} recent jobs"


@dataclass(frozen=True)
class TableReply(Reply):
    """A titled list of rows for audit trails and approval lists."""

    title: str = ""
    rows: tuple[str, ...] = ()
    empty: str = "Nothing to show."
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fallback_text(self) -> str:
        return self.title
