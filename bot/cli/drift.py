"""``mlops-bot drift`` and ``mlops-bot perf``: the engine as a CI step.

``drift REFERENCE CURRENT`` compares two parquet or CSV files and exits

* 0 — no dataset drift (share of drifted columns below ``--share``, default 0.5);
* 1 — dataset drift (with ``--fail-on-column``: any drifted column);
* 2 — bad input: a missing or unreadable file, no shared columns, a bad option. One clear
  line on stderr, no traceback.

``perf FILE`` scores a labelled file (target + prediction columns) and exits 1 on any breach.

``bot/cli.py`` calls :func:`drift_main` / :func:`perf_main` with the arguments after the
subcommand; both return the exit code instead of exiting, so they are easy to test.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.parquet as pq

from engine.allocator import keep_freed_memory
from engine.lazy import pandas as pd
from engine.methods import Method, Profile
from engine.samples import ColumnKind, Frame, column_names, infer_kinds, is_time_column

EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_BAD_INPUT = 2

SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv", ".txt": "csv"}


class BadInput(Exception):
    """Input the user must fix; the message is shown as is."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so errors map to exit code 2 without SystemExit
    escaping into the caller (the bot's CLI or a test)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise BadInput(f"{self.prog}: {message}")


def _file_kind(path: Path) -> str:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise BadInput(
            f"{path}: unsupported file type {path.suffix or '(none)'!r}; expected .parquet or .csv"
        )
    return kind


def read_table(path_text: str, columns: Sequence[str] | None = None) -> Frame:
    """Read a parquet file as a pyarrow Table (no pandas copy) or a CSV as a DataFrame."""
    path = Path(path_text)
    if not path.exists():
        raise BadInput(f"{path}: no such file")
    if path.is_dir():
        raise BadInput(f"{path}: is a directory, expected a .parquet or .csv file")
    kind = _file_kind(path)
    try:
        if kind == "parquet":
            schema = pq.read_schema(path)
            wanted = [c for c in columns if c in schema.names] if columns else None
            # Text columns come back dictionary-encoded, as parquet stores them: no string per
            # row is built, and counting categories is a count of small integer codes.
            text = [
                field.name
                for field in schema
                if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
            ]
            # ParquetFile, not read_table: read_table goes through pyarrow.dataset, whose
            # import pulls in pandas (a third of a second this command does not need).
            # Memory-mapped: the column chunks are decoded from the page cache instead of
            # being copied into buffers first (1M x 60: 0.5 s less kernel time, 350 MB less
            # peak memory).
            with pq.ParquetFile(path, read_dictionary=text or None, memory_map=True) as parquet:
                return parquet.read(columns=wanted)
        frame = pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
        frame = frame[[c for c in columns if c in frame.columns]] if columns else frame
        return _parse_time_columns(frame)
    except BadInput:
        raise
    except (
        OSError,
        ValueError,
        pa.ArrowException,
        pd.errors.ParserError,
        UnicodeDecodeError,
    ) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"{path}: cannot read {kind} file ({first_line})") from exc


def _parse_time_columns(frame: pd.DataFrame, probe: int = 50) -> pd.DataFrame:
    """CSV has no datetime type: text columns whose first values are ISO timestamps become
    datetimes, so they are recognised as event times and not compared as categories."""
    for name in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[name].dtype) or pd.api.types.is_bool_dtype(
            frame[name].dtype
        ):
            continue
        head = frame[name].dropna().head(probe).astype(str)
        if head.empty or not head.str.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}").all():
            continue
        parsed = pd.to_datetime(frame[name], errors="coerce", format="ISO8601", utc=True)
        if parsed.notna().sum() >= frame[name].notna().sum() * 0.99:
            frame = frame.assign(**{name: parsed})
    return frame


def _parse_methods(items: Sequence[str]) -> dict[str, tuple[Method, float | None]]:
    """``col=method`` or ``col=method:threshold``."""
    parsed: dict[str, tuple[Method, float | None]] = {}
    valid = ", ".join(m.value for m in Method if m is not Method.AUTO)
    for item in items:
        column, sep, spec = item.partition("=")
        if not sep or not column or not spec:
            raise BadInput(f"--method expects COLUMN=METHOD[:THRESHOLD], got {item!r}")
        name, _, threshold_text = spec.partition(":")
        try:
            method = Method(name.strip().lower())
        except ValueError:
            raise BadInput(
                f"--method {item!r}: unknown method {name!r}; expected one of {valid}"
            ) from None
        threshold: float | None = None
        if threshold_text:
            try:
                threshold = float(threshold_text)
            except ValueError:
                raise BadInput(
                    f"--method {item!r}: threshold {threshold_text!r} is not a number"
                ) from None
            if threshold <= 0:
                raise BadInput(f"--method {item!r}: threshold must be positive")
        parsed[column] = (method, threshold)
    return parsed


def _columns_arg(values: Sequence[str] | None) -> list[str] | None:
    if not values:
        return None
    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return names or None


def drift_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mlops-bot drift",
        description="Compare a current data window with a reference: per-column drift and dataset drift.",
        epilog="Exit codes: 0 no dataset drift, 1 dataset drift, 2 bad input.",
    )
    parser.add_argument("reference", help="reference data (.parquet or .csv)")
    parser.add_argument("current", help="current data (.parquet or .csv)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--chart", metavar="PATH", help="write a drift overview PNG here")
    parser.add_argument(
        "--columns", nargs="+", metavar="COL", help="only these columns (space or comma separated)"
    )
    parser.add_argument(
        "--method",
        action="append",
        default=[],
        metavar="COL=METHOD[:THRESHOLD]",
        help="per-column method ("
        + ", ".join(m.value for m in Method if m is not Method.AUTO)
        + ")",
    )
    parser.add_argument(
        "--categorical",
        nargs="+",
        default=[],
        metavar="COL",
        help="treat these numeric columns as categories",
    )
    parser.add_argument(
        "--share", type=float, default=0.5, help="dataset drift share threshold (default 0.5)"
    )
    parser.add_argument(
        "--fail-on-column",
        action="store_true",
        help="exit 1 when any column drifted, not only the dataset",
    )
    parser.add_argument(
        "--profile",
        choices=[p.value for p in Profile],
        default=Profile.DEFAULT.value,
        help="method rules: this engine's defaults or Evidently 0.7's",
    )
    parser.add_argument(
        "--chunked",
        action="store_true",
        help="stream the current file in chunks (parquet row groups / CSV chunks) for files larger than memory",
    )
    parser.add_argument("--small-sample-rows", type=int, default=1000, help=argparse.SUPPRESS)
    return parser


def drift_main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        args = drift_parser().parse_args(list(argv) if argv is not None else None)
    except BadInput as exc:
        print(f"error: {exc}", file=err)
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    try:
        return _run_drift(args, out, err)
    except BadInput as exc:
        print(f"error: {exc}", file=err)
        return EXIT_BAD_INPUT


def _run_drift(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    keep_freed_memory()  # a one-shot process: reuse freed pages instead of faulting new ones
    from engine.chunks import drift_from_summary, iter_csv, iter_parquet, summarize
    from engine.drift import ColumnOverride, DriftOptions, drift_frames
    from engine.profile import build_profile

    if not 0 < args.share <= 1:
        raise BadInput(f"--share must be in (0, 1], got {args.share}")
    overrides = _parse_methods(args.method)
    wanted = _columns_arg(args.columns)
    reference = read_table(args.reference, wanted)
    current_path = Path(args.current)
    if args.chunked:
        if not current_path.exists():
            raise BadInput(f"{current_path}: no such file")
        current_kind = _file_kind(current_path)
        try:
            current_names = (
                pq.read_schema(current_path).names
                if current_kind == "parquet"
                else list(pd.read_csv(current_path, nrows=0).columns)
            )
        except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError) as exc:
            raise BadInput(f"{current_path}: cannot read {current_kind} file ({exc})") from exc
        current: Frame | None = None
    else:
        current = read_table(args.current, wanted)
        current_names = column_names(current)

    ref_names = column_names(reference)
    shared = [c for c in ref_names if c in set(current_names) and not is_time_column(reference, c)]
    if wanted:
        missing = [c for c in wanted if c not in ref_names or c not in current_names]
        if missing:
            raise BadInput(f"--columns: not in both files: {', '.join(missing)}")
        shared = wanted
    if not shared:
        raise BadInput(
            f"{args.reference} and {args.current} have no column in common "
            f"(reference: {', '.join(ref_names[:8]) or 'none'}; current: {', '.join(current_names[:8]) or 'none'})"
        )
    unknown = [c for c in overrides if c not in shared]
    if unknown:
        raise BadInput(f"--method names columns not compared: {', '.join(unknown)}")
    kinds = infer_kinds(reference, shared)
    for name in args.categorical:
        if name not in kinds:
            raise BadInput(f"--categorical names a column not compared: {name}")
        kinds[name] = ColumnKind.CATEGORICAL
    for name, (method, _) in overrides.items():
        if method.numeric_only and kinds[name] is ColumnKind.CATEGORICAL:
            raise BadInput(
                f"--method {name}={method}: {method} needs a numeric column, {name} is categorical"
            )

    options = DriftOptions(
        share_threshold=args.share,
        small_sample_rows=args.small_sample_rows,
        columns={
            name: ColumnOverride(method, threshold)
            for name, (method, threshold) in overrides.items()
        },
        profile=Profile(args.profile),
    )
    if args.chunked:
        profile = build_profile(reference, kinds, fingerprint="cli")
        chunks = (
            iter_parquet(current_path, shared)
            if _file_kind(current_path) == "parquet"
            else iter_csv(current_path, shared)
        )
        try:
            summary = summarize(chunks, profile, shared)
        except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError) as exc:
            raise BadInput(f"{current_path}: cannot read ({str(exc).splitlines()[0]})") from exc
        report = drift_from_summary(profile, summary, shared, options=options)
    else:
        assert current is not None
        report = drift_frames(reference, current, columns=shared, kinds=kinds, options=options)

    if args.chart:
        from jobs.charts import drift_overview_chart

        chart = drift_overview_chart(
            report, title=f"{Path(args.current).name} vs {Path(args.reference).name}"
        )
        try:
            Path(args.chart).write_bytes(chart.content)
        except OSError as exc:
            raise BadInput(f"--chart {args.chart}: cannot write ({exc.strerror or exc})") from exc

    if args.json:
        json.dump(report.to_json(), out, indent=2)
        out.write("\n")
    else:
        out.write(format_report(report))
    drifted = report.dataset_drift or (args.fail_on_column and report.drifted_count > 0)
    return EXIT_DRIFT if drifted else EXIT_OK


def format_report(report: Any) -> str:
    """A plain table for humans and CI logs."""
    rows = [("column", "method", "score", "threshold", "p-value", "drift", "note")]
    for result in report.columns.values():
        rows.append(
            (
                result.column,
                str(result.method),
                _num(result.score),
                _num(result.threshold),
                _num(result.p_value),
                "DRIFT" if result.drifted else ("-" if result.tested else "n/a"),
                result.note or "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True))
        + "  "
        + row[-1]
        for row in rows
    ]
    verdict = "DATASET DRIFT" if report.dataset_drift else "no dataset drift"
    lines.append("")
    lines.append(f"{verdict}: {report.headline}")
    for finding in report.quality.findings:
        lines.append(f"data quality ({finding.verdict}): {finding.message}")
    if not report.exact:
        lines.append("note: numeric distances from chunked summaries (binned approximation)")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.3e}"
    return f"{value:.4f}"


# --------------------------------------------------------------------------- perf


def perf_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mlops-bot perf",
        description="Model performance (and fairness) on a labelled file.",
        epilog="Exit codes: 0 healthy or warning, 1 a metric or fairness limit breached, 2 bad input.",
    )
    parser.add_argument(
        "file", help="labelled data with target and prediction columns (.parquet or .csv)"
    )
    parser.add_argument("--target", required=True, help="true label column")
    parser.add_argument("--prediction", default="prediction", help="predicted label / value column")
    parser.add_argument("--score", help="predicted probability of the positive class (for ROC AUC)")
    parser.add_argument(
        "--task", choices=["classification", "regression"], default="classification"
    )
    parser.add_argument(
        "--positive-label", help="the positive class (default: 1 / True / the larger label)"
    )
    parser.add_argument(
        "--sensitive", nargs="+", default=[], metavar="COL", help="fairness across these columns"
    )
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        help="reference file with target and prediction for the baseline",
    )
    parser.add_argument("--min-accuracy", type=float)
    parser.add_argument("--min-f1", type=float)
    parser.add_argument("--min-roc-auc", type=float)
    parser.add_argument("--max-mae", type=float)
    parser.add_argument("--max-rmse", type=float)
    parser.add_argument("--min-r2", type=float)
    parser.add_argument(
        "--max-drop", type=float, default=0.05, help="allowed drop against the baseline"
    )
    parser.add_argument("--json", action="store_true")
    return parser


def perf_main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        args = perf_parser().parse_args(list(argv) if argv is not None else None)
    except BadInput as exc:
        print(f"error: {exc}", file=err)
        return EXIT_BAD_INPUT
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return _run_perf(args, out)
    except BadInput as exc:
        print(f"error: {exc}", file=err)
        return EXIT_BAD_INPUT


def _as_pandas(frame: Frame) -> pd.DataFrame:
    return frame.to_pandas() if isinstance(frame, pa.Table) else frame


def _run_perf(args: argparse.Namespace, out: TextIO) -> int:
    from pydantic import ValidationError

    from engine.performance import run_performance
    from engine.verdict import Verdict
    from infra.settings import ModelConfig
    from jobs.checks.options import performance_limits

    data = _as_pandas(read_table(args.file))
    for column in [args.target, args.prediction, *(args.sensitive or [])] + (
        [args.score] if args.score else []
    ):
        if column not in data.columns:
            raise BadInput(
                f"{args.file}: no column {column!r} (columns: {', '.join(map(str, data.columns[:12]))})"
            )
    baseline_frame = _as_pandas(read_table(args.baseline)) if args.baseline else None
    try:
        model = ModelConfig.model_validate(
            {
                "name": "cli",
                "task": args.task,
                "columns": {
                    "target": args.target,
                    "prediction": args.prediction,
                    "score": args.score,
                },
                "sensitive_features": list(args.sensitive),
                "positive_label": args.positive_label,
                "monitoring": {
                    "performance": {
                        "min_accuracy": args.min_accuracy,
                        "min_f1": args.min_f1,
                        "min_roc_auc": args.min_roc_auc,
                        "max_mae": args.max_mae,
                        "max_rmse": args.max_rmse,
                        "min_r2": args.min_r2,
                        "max_drop": args.max_drop,
                    }
                },
            }
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'][-1:]))}: {e['msg']}" for e in exc.errors()
        )
        raise BadInput(f"invalid limits: {problems}") from exc
    if args.task == "regression":
        for column in (args.target, args.prediction):
            if not pd.api.types.is_numeric_dtype(data[column]):
                raise BadInput(f"{args.file}: column {column!r} must be numeric for regression")
    report = run_performance(model, baseline_frame, data, limits=performance_limits(model))
    if args.json:
        json.dump(report.to_json(), out, indent=2)
        out.write("\n")
    else:
        lines = [f"{report.n_labelled} labelled rows of {report.n_rows}"]
        for metric in report.metrics.values():
            base = f" (baseline {metric.baseline:.4f})" if metric.baseline is not None else ""
            value = f"{metric.value:.4f}" if metric.value is not None else "-"
            lines.append(
                f"{metric.label:<10} {value}{base}  {metric.verdict}"
                + (f"  {metric.note}" if metric.note else "")
            )
        for result in report.fairness:
            lines.append(
                f"fairness {result.feature}: demographic parity diff {_num(result.demographic_parity_difference)}, "
                f"equalized odds diff {_num(result.equalized_odds_difference)}  {result.verdict}"
            )
        lines.extend(f"note: {n}" for n in report.notes)
        lines.append(f"verdict: {report.verdict}")
        out.write("\n".join(lines) + "\n")
    return EXIT_DRIFT if report.verdict is Verdict.BREACH else EXIT_OK
