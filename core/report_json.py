"""A :class:`~core.reports.CheckReport` as JSON plus PNG files, and back.

A check that runs as a job on the ML platform's compute (``monitoring.compute: platform``) writes
its report this way to the job's outputs; the bot reads only these files back (never the
production data) and feeds the report through the same alert policy and cards as an inline
check. Charts travel as separate PNG files named in the JSON, so the JSON stays small and the
bot posts the very bytes the job rendered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.replies import Upload
from core.reports import CheckReport, Finding, SignalResult

#: The format version written into every result; a bot refuses a result it cannot read.
FORMAT = 1
RESULT_FILE = "result.json"
#: Chart file names the bot accepts from a job's outputs (no paths, PNG only).
CHART_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}\.png$")
MAX_CHART_BYTES = 8 * 1024 * 1024


class ResultError(ValueError):
    """A job's outputs are not a readable check result; ``str()`` is safe to show."""


def report_to_files(report: CheckReport) -> dict[str, bytes]:
    """``result.json`` and one PNG per chart (rendered now)."""
    charts: dict[str, bytes] = {}
    for chart in report.charts:
        if not CHART_NAME.match(chart.filename):
            raise ValueError(f"chart file name {chart.filename!r} cannot be an output file")
        charts[chart.filename] = chart.content

    def chart_of(upload: Upload | None) -> dict[str, str] | None:
        if upload is None:
            return None
        if upload.filename not in charts:
            charts[upload.filename] = upload.content
        return {"file": upload.filename, "title": upload.title, "alt_text": upload.alt_text}

    document = {
        "format": FORMAT,
        "kind": report.kind,
        "model": report.model,
        "environment": report.environment,
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "signals": [
            {
                "signal": s.signal,
                "level": s.level.value,
                "headline": s.headline,
                "findings": [f.to_json() for f in s.findings],
                "chart": chart_of(s.chart),
                "trend": [[t, v] for t, v in s.trend],
            }
            for s in report.signals
        ],
        "fields": [[label, value] for label, value in report.fields],
        "details": list(report.details),
        "charts": [chart_of(c) for c in report.charts],
        "notes": list(report.notes),
    }
    return {RESULT_FILE: json.dumps(document, ensure_ascii=False).encode("utf-8"), **charts}


def report_from_files(files: Mapping[str, bytes]) -> CheckReport:
    """The report a job wrote; :class:`ResultError` when it is missing or malformed."""
    raw = files.get(RESULT_FILE)
    if raw is None:
        raise ResultError(f"the check job wrote no {RESULT_FILE}")
    try:
        document = json.loads(raw.decode("utf-8"))
        if document.get("format") != FORMAT:
            raise ResultError(
                f"the check job wrote result format {document.get('format')!r}; this bot reads "
                f"format {FORMAT} (is the job's image the same version as the bot?)"
            )
        return _report(document, files)
    except ResultError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ResultError(f"the check job's {RESULT_FILE} is malformed ({exc})") from None


def _report(document: dict[str, Any], files: Mapping[str, bytes]) -> CheckReport:
    uploads: dict[str, Upload] = {}

    def upload(entry: dict[str, str] | None) -> Upload | None:
        if entry is None:
            return None
        name = str(entry["file"])
        if not CHART_NAME.match(name):
            raise ResultError(f"the check job named an unacceptable chart file {name!r}")
        if name not in uploads:
            content = files.get(name)
            if content is None:
                raise ResultError(f"the check job's chart {name} is missing from its outputs")
            if len(content) > MAX_CHART_BYTES or not content.startswith(b"\x89PNG"):
                raise ResultError(f"the check job's chart {name} is not a PNG image")
            uploads[name] = Upload(
                name, content, str(entry.get("title", "")), str(entry.get("alt_text", ""))
            )
        return uploads[name]

    signals = tuple(
        SignalResult(
            signal=str(s["signal"]),
            level=s["level"],
            headline=str(s["headline"]),
            findings=tuple(Finding.from_json(f) for f in s.get("findings", ())),
            chart=upload(s.get("chart")),
            trend=tuple((str(t), float(v)) for t, v in s.get("trend", ())),
        )
        for s in document["signals"]
    )
    if not signals:
        raise ResultError("the check job's result has no signals")
    return CheckReport(
        kind=str(document["kind"]),
        model=str(document["model"]),
        environment=str(document["environment"]),
        start=datetime.fromisoformat(document["start"]),
        end=datetime.fromisoformat(document["end"]),
        signals=signals,
        fields=tuple((str(a), str(b)) for a, b in document.get("fields", ())),
        details=tuple(str(d) for d in document.get("details", ())),
        charts=tuple(u for u in (upload(c) for c in document.get("charts", ())) if u),
        notes=tuple(str(n) for n in document.get("notes", ())),
    )
