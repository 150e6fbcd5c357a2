"""A monitoring check as a job on the ML platform's compute: ``python -m jobs.checkjob``.

``monitoring.compute: platform`` submits this module as the job's command (an Azure ML command
job, or a job of the local platform's runner). It reads its inputs where the platform put them
(the reference data, the production window), runs the same check code the bot runs inline, and
writes ``result.json`` plus the chart PNGs to ``--out`` (:mod:`core.report_json`). The bot reads
only those outputs: production rows never leave the platform.

It imports the engine, the check's own module, the charts and the settings types, nothing else
of the bot (no store, no Slack, no platform SDK), so it starts quickly on a fresh node;
``tests/jobs/test_checkjob.py`` holds it to that. Exit codes: 0 written, 2 bad spec or inputs
(the message says which), 3 the check could not run on this data.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from core.reports import CheckReport
    from infra.settings import ModelConfig

SPEC_PREFIX = "b64:"
#: ``--production-format``: a table (parquet/CSV/JSON file or folder, with the timestamp column)
#: or the Azure ML data collector's folder of an endpoint.
PRODUCTION_FORMATS = ("table", "collector")
EXIT_OK, EXIT_USAGE, EXIT_CHECK = 0, 2, 3


@dataclass(frozen=True)
class CheckJobSpec:
    """What a check job needs besides its data: the check, the model's configuration, the
    window and the time the check is made at (it names the charts)."""

    kind: str
    model: dict[str, Any]
    """The model's configuration (``ModelConfig.model_dump(mode="json")``)."""
    environment: str
    start: datetime
    end: datetime
    checked_at: datetime

    def encode(self) -> str:
        """One shell-safe token (``b64:`` + URL-safe base64 of the JSON) for a command line."""
        document = {
            "kind": self.kind,
            "model": self.model,
            "environment": self.environment,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "checked_at": self.checked_at.isoformat(),
        }
        raw = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
        return SPEC_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii")

    @classmethod
    def decode(cls, token: str) -> CheckJobSpec:
        """From :meth:`encode`'s token, or from a path to a JSON file holding the same."""
        if token.startswith(SPEC_PREFIX):
            raw = base64.urlsafe_b64decode(token[len(SPEC_PREFIX) :].encode("ascii"))
        else:
            raw = Path(token).read_bytes()
        document = json.loads(raw)
        return cls(
            kind=str(document["kind"]),
            model=dict(document["model"]),
            environment=str(document["environment"]),
            start=datetime.fromisoformat(document["start"]),
            end=datetime.fromisoformat(document["end"]),
            checked_at=datetime.fromisoformat(document["checked_at"]),
        )


def read_table(path: Path) -> pd.DataFrame:
    """A parquet, CSV or JSON (Lines) file, or every such file of a folder (a data asset)."""
    import pandas as pd

    readers = {
        ".parquet": pd.read_parquet,
        ".csv": pd.read_csv,
        ".jsonl": lambda p: pd.read_json(p, lines=True),
        ".json": pd.read_json,
    }
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in readers and p.is_file())
    else:
        raise FileNotFoundError(f"input {path.name!r} does not exist")
    if not files or files[0].suffix.lower() not in readers:
        raise ValueError(f"no parquet, CSV or JSON files in input {path.name!r}")
    frames = [readers[p.suffix.lower()](p) for p in files]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def read_production(
    path: Path, fmt: str, model: ModelConfig, start: datetime, end: datetime
) -> pd.DataFrame:
    """The production rows in ``[start, end)`` of the input."""
    import pandas as pd

    columns = model.columns
    if fmt == "collector":
        from infra.platform.collector import read_folder

        return read_folder(
            path, model.features.all, columns.prediction, columns.timestamp, start, end
        )
    frame = read_table(path)
    if columns.timestamp in frame.columns:
        stamps = pd.to_datetime(frame[columns.timestamp], utc=True)
        inside = (stamps >= pd.Timestamp(start)) & (stamps < pd.Timestamp(end))
        frame = frame.loc[inside].reset_index(drop=True)
    return frame


def build(spec: CheckJobSpec, reference: pd.DataFrame, current: pd.DataFrame) -> CheckReport:
    """The check's report, from the same code the bot runs inline."""
    from infra.settings import ModelConfig

    model = ModelConfig.model_validate(spec.model)
    if spec.kind == "drift":
        from jobs.checks.drift import drift_report_of

        return drift_report_of(
            model,
            spec.environment,
            spec.start,
            spec.end,
            reference,
            current,
            checked=spec.checked_at,
        )
    raise ValueError(f"the {spec.kind} check cannot run as a platform job; expected drift")


def write_outputs(report: CheckReport, out: Path) -> list[str]:
    """``result.json`` and the chart PNGs into ``out``; the names written."""
    from core.report_json import report_to_files

    out.mkdir(parents=True, exist_ok=True)
    files = report_to_files(report)
    for name, content in files.items():
        (out / name).write_bytes(content)
    return sorted(files)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.checkjob", description="Run one monitoring check as a job."
    )
    parser.add_argument("--spec", required=True, help="b64:<token> or a JSON file")
    parser.add_argument("--reference", required=True, type=Path)
    parser.add_argument("--production", required=True, type=Path)
    parser.add_argument("--production-format", choices=PRODUCTION_FORMATS, default="table")
    parser.add_argument("--out", required=True, type=Path)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    try:
        spec = CheckJobSpec.decode(args.spec)
        from infra.settings import ModelConfig

        model = ModelConfig.model_validate(spec.model)
        reference = read_table(args.reference)
        current = read_production(
            args.production, args.production_format, model, spec.start, spec.end
        )
    except (OSError, ValueError, KeyError) as exc:
        # One line: the platform shows the job's last line as its error.
        print(f"check job inputs: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from jobs.checks.base import CheckFailed

    print(f"{spec.kind} check of {model.name} in {spec.environment}: {len(current)} rows")
    try:
        report = build(spec, reference, current)
    except CheckFailed as exc:
        print(f"check could not run: {exc}", file=sys.stderr)
        return EXIT_CHECK
    written = write_outputs(report, args.out)
    print(f"{report.level.value}: {report.headline} ({', '.join(written)})")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
