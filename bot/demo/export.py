"""Write what the bot left in the sandbox to a directory: every message it posted (JSON, as the
sandbox stores it, edits applied) and every file it uploaded (the PNG charts).

``mlops-bot demo --once --out DIR`` ends with this, so CI can keep the cards and charts of one
monitoring round as artifacts and a test can check them. Each message records the step that
produced it (``/mlops status churn-model``, ``drift:churn-model:prod``, ...).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.demo.live import StepResult
from bot.sandbox import seed
from bot.sandbox.workspace import Workspace

SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class ExportSummary:
    directory: Path
    messages: list[Path]
    charts: list[Path]


def export_bot_output(
    workspace: Workspace, steps: Sequence[StepResult], out: Path
) -> ExportSummary:
    """Write the bot's messages and uploads under ``out`` (``messages/``, ``charts/``, replaced
    if they exist) and a ``summary.json`` that lists them per step."""
    for sub in ("messages", "charts"):  # a second run replaces the first one's output
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    step_of_message = {key: step.name for step in steps for key in step.messages}
    step_of_file = {file_id: step.name for step in steps for file_id in step.files}
    by_step: dict[str, dict[str, list[str]]] = {
        step.name: {"messages": [], "charts": []} for step in steps
    }
    written: list[Path] = []
    for index, entry in enumerate(_bot_messages(workspace), start=1):
        key = (entry["where"], entry["message"]["ts"])
        step = step_of_message.get(key, "other")
        entry["step"] = step
        name = f"{index:03d}-{_slug(step)}-{_slug(entry['channel_name'])}.json"
        path = out / "messages" / name
        path.write_text(json.dumps(entry, indent=2, ensure_ascii=False), encoding="utf-8")
        written.append(path)
        by_step.setdefault(step, {"messages": [], "charts": []})["messages"].append(
            f"messages/{name}"
        )
    charts: list[Path] = []
    for info in sorted(workspace.files.all_files(), key=lambda f: (f["created"], f["id"])):
        if info["user"] != workspace.bot.id:
            continue
        data, _mimetype, filename = workspace.files.content(info["id"])
        path = out / "charts" / filename
        if path.exists():
            path = path.with_name(f"{path.stem}-{info['id']}{path.suffix}")
        path.write_bytes(data)
        charts.append(path)
        step = step_of_file.get(info["id"], "other")
        by_step.setdefault(step, {"messages": [], "charts": []})["charts"].append(
            f"charts/{path.name}"
        )
    summary = {
        "steps": [
            {
                "name": step.name,
                "level": step.level,
                "headline": step.headline,
                "error": step.error,
                **by_step.get(step.name, {"messages": [], "charts": []}),
            }
            for step in steps
        ],
        "other": by_step.get("other", {"messages": [], "charts": []}),
        "messages": len(written),
        "charts": len(charts),
    }
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return ExportSummary(out, written, charts)


def _bot_messages(workspace: Workspace) -> list[dict[str, Any]]:
    """Every message the bot authored: channel messages, thread replies and ephemerals."""
    bot = workspace.bot.id
    found: list[dict[str, Any]] = []
    for channel in workspace.channels():
        thread_roots = []
        for message in workspace.messages(channel["id"]):
            if message.get("reply_count"):
                thread_roots.append(message["ts"])
        messages = workspace.messages(channel["id"])
        for root in thread_roots:
            messages += workspace.replies(channel["id"], root)[1:]
        for message in messages:
            if message.get("user") == bot:
                found.append(_entry(channel["id"], channel.get("name") or channel["id"], message))
    for person, handle, *_ in seed.DEMO_PEOPLE:
        for message in workspace.ephemerals(person):
            if message.get("user") == bot:
                entry = _entry(message["channel"], f"ephemeral-{handle}", message)
                entry["where"] = f"ephemeral:{person}:{message['channel']}"
                entry["ephemeral_for"] = person
                found.append(entry)
    found.sort(key=lambda e: float(e["message"]["ts"]))
    return found


def _entry(channel_id: str, channel_name: str, message: dict[str, Any]) -> dict[str, Any]:
    return {
        "where": channel_id,
        "channel": channel_id,
        "channel_name": channel_name,
        "ts": message["ts"],
        "thread_ts": message.get("thread_ts")
        if message.get("thread_ts") != message["ts"]
        else None,
        "ephemeral_for": None,
        "message": message,
    }


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "x"
