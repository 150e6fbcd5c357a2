"""Every reply type rendered with hostile values shows them literally (issue 14, item 4).

Each reply the Slack layer can render is built with every text field (names, versions, cron,
parameters, paths, error text, reasons, notes...) set to a value full of mrkdwn: ``*``, ``_``,
``~``, backticks, ``<``, ``>``, ``&`` and a cron expression. Wherever the value reaches a mrkdwn
text, what a reader sees (:func:`tests.fakes.mrkdwn.visible`) must hold it whole: a marker
swallowed as bold, italic or strike, or an entity left escaped, breaks it. The one substitution
is a backtick, which Slack cannot show inside code: it shows as its look-alike ``ˋ``.
"""

from __future__ import annotations

import dataclasses
import enum
import html
import json
import re
import shutil
import subprocess
import types
import typing
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest

import core.promotion.states as states
from bot.slack.blocks import render as rendering
from bot.slack.blocks.common import esc
from bot.slack.blocks.render import message_payload
from core import replies
from core.promotion.cards import ClosedLine
from infra.platform.base import JobStatus
from tests.fakes.mrkdwn import visible

HOSTILE = "HOSTILE[*b* _i_ ~s~ `c` <&> */2 * * * * a_b]END"
NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def _reply_types() -> list[type[replies.Reply]]:
    rendering._load_feature_renderers()
    return [*rendering.RENDERERS, *rendering.TEXT_RENDERERS]


def _value(annotation: Any, name: str, depth: int) -> Any:
    """A value of ``annotation`` whose every string is HOSTILE."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        chosen = [a for a in args if a is not type(None)]
        return _value(chosen[0], name, depth) if chosen else None
    if annotation is str or annotation is Any:
        return HOSTILE
    if annotation is bool:
        return True
    if annotation is int:
        return 2
    if annotation is float:
        return 0.42
    if annotation is datetime:
        return NOW
    if annotation is timedelta:
        return timedelta(hours=6)
    if origin is typing.Literal:
        return args[0]
    if isinstance(annotation, type) and issubclass(annotation, JobStatus):
        return JobStatus.FAILED
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return next(iter(annotation))
    if origin is tuple and args and args[-1] is not Ellipsis:
        return tuple(_value(a, name, depth + 1) for a in args)
    if origin in (tuple, list, frozenset, set):
        if depth > 8:
            return origin()
        inner = args[0] if args else str
        return origin([_value(inner, name, depth + 1)])
    if origin in (dict, Mapping) or origin is getattr(typing, "Mapping", None):
        key, val = (args or (str, str))[:2]
        return {_value(key, name, depth + 1): _value(val, name, depth + 1)}
    if origin is not None and str(origin).endswith("Mapping'>"):
        return {HOSTILE: HOSTILE}
    if dataclasses.is_dataclass(annotation) and depth <= 8:
        return build(annotation, depth + 1)
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation()
    return None


def build(cls: type, depth: int = 0) -> Any:
    hints = typing.get_type_hints(cls)
    values = {}
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        values[field.name] = _value(hints[field.name], field.name, depth)
    return cls(**values)


def _fix(reply: Any) -> Any:
    """Values a renderer needs to be of a certain shape (a request's state, its context, a
    level from the verdict scale)."""
    if isinstance(reply, ClosedLine):
        reply = dataclasses.replace(reply, state=states.ApprovalState.REJECTED)
    alert = getattr(reply, "alert", None)
    if alert is not None and hasattr(alert, "severity"):
        reply = dataclasses.replace(reply, alert=dataclasses.replace(alert, severity="warning"))
    approval = getattr(reply, "approval", None)
    if isinstance(approval, states.ApprovalSnapshot):
        context = {
            "source": {
                "metrics": {"accuracy": 0.7},
                "health": HOSTILE,
                "training_job": {"id": HOSTILE, "status": HOSTILE, "parameters": {"p": HOSTILE}},
                "verdicts": [{"level": "warning", "signal": HOSTILE, "summary": HOSTILE}],
            },
            "target": {"version": HOSTILE, "metrics": {"accuracy": 0.8}, "serving": HOSTILE},
        }
        reply = dataclasses.replace(
            reply,
            approval=dataclasses.replace(
                approval, state=states.ApprovalState.PENDING, context=context, rollout={}
            ),
        )
    return reply


def _mrkdwn(payload: Any) -> Iterator[str]:
    if isinstance(payload, Mapping):
        if payload.get("type") == "mrkdwn" and isinstance(payload.get("text"), str):
            yield payload["text"]
        for value in payload.values():
            if isinstance(value, Mapping | list):
                yield from _mrkdwn(value)
    elif isinstance(payload, list):
        for item in payload:
            yield from _mrkdwn(item)


def shown_texts(reply: Any) -> list[str]:
    payload = message_payload(reply)
    if "blocks" not in payload:
        return [payload["text"]]
    return list(_mrkdwn(payload["blocks"]))


@pytest.mark.parametrize("reply_type", _reply_types(), ids=lambda t: t.__name__)
def test_every_reply_shows_hostile_values_literally(reply_type: type) -> None:
    reply = _fix(build(reply_type))
    texts = shown_texts(reply)
    carrying = [t for t in texts if "HOSTILE[" in visible(t) or "HOSTILE[" in t]
    assert carrying, f"{reply_type.__name__} shows none of its text fields"
    for text in carrying:
        # A backtick shows as itself in a ``` block and as its look-alike in a code span.
        seen = visible(text).replace("\u02cb", "`")
        starts = seen.count("HOSTILE[")
        assert starts and seen.count(HOSTILE) == starts, (reply_type.__name__, text, seen)


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("cron */2 * * * *", "cron `*/2` `*` `*` `*` `*`"),
        ("tenure_months went up 2*3", "tenure_months went up 2*3"),  # nothing would format
        ("_tmp_ and ~old~", "`_tmp_` and `~old~`"),
        ("a `b` <c> & d", "a `\u02cbb\u02cb` &lt;c&gt; &amp; d"),
    ],
)
def test_esc_puts_only_the_words_that_would_format_in_code(value: str, rendered: str) -> None:
    assert esc(value) == rendered
    assert visible(esc(value)) == value.replace("`", "\u02cb")


def test_the_jobs_card_shows_a_cron_expression_whole() -> None:
    row = replies.ScheduledJobRow("drift churn-model prod", NOW, "cron */2 * * * * UTC")
    [text] = [t for t in shown_texts(replies.JobsReply(scheduled=(row,))) if "cron" in t]
    assert "cron `*/2 * * * *` UTC" in text
    assert "cron */2 * * * * UTC" in visible(text)


@pytest.mark.skipif(
    shutil.which("node") is None,
    reason="the sandbox page's renderer is JavaScript and needs node; without it the Python copy "
    "of its rules (the test above) still checks every reply",
)
def test_the_sandbox_page_shows_hostile_values_literally_too() -> None:
    """The page's own renderer (mrkdwn.js, run by node) agrees with tests/fakes/mrkdwn.py on
    every text of every reply type."""
    texts = [t for reply_type in _reply_types() for t in shown_texts(_fix(build(reply_type)))]
    script = (
        "const M = require(process.argv[1]);"
        "const ctx = {userName: x => x, channelName: x => x, groupHandle: x => x};"
        "const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(texts.map(t => M.render(t, ctx))));"
    )
    renderer = Path(__file__).parents[4] / "bot" / "sandbox" / "static" / "mrkdwn.js"
    out = subprocess.run(
        ["node", "-e", script, str(renderer)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    for text, page in zip(texts, json.loads(out.stdout), strict=True):
        seen = html.unescape(re.sub(r"<[^>]+>", "", page)).replace("\u02cb", "`")
        assert seen.count("HOSTILE[") == seen.count(HOSTILE), (text, page)
