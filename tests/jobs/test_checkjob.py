"""The check job's entry point (``python -m jobs.checkjob``) and the result files it writes:
what runs on the platform's compute, and what the bot reads back."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.report_json import RESULT_FILE, ResultError, report_from_files, report_to_files
from infra.defaults import demo_config
from infra.settings import ModelConfig, Settings
from jobs.checkjob import CheckJobSpec, main

END = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
START = END - timedelta(days=1)


def model() -> ModelConfig:
    return Settings.model_validate(demo_config()).models[0]


def frames(tmp_path: Path, *, shift: float) -> tuple[Path, Path]:
    """A reference and a window of production rows of the demo model's features (the window's
    numeric features moved by ``shift`` standard deviations), plus rows outside the window."""
    cfg = model()
    rng = np.random.default_rng(7)

    def table(n: int, offset: float) -> pd.DataFrame:
        data = {name: rng.normal(offset, 1.0, n) for name in cfg.features.numeric}
        data |= {name: rng.choice(["a", "b", "c"], n) for name in cfg.features.categorical}
        data[cfg.columns.prediction] = rng.integers(0, 2, n)
        return pd.DataFrame(data)

    reference = table(2000, 0.0)
    current = table(600, shift)
    current[cfg.columns.timestamp] = START + pd.to_timedelta(np.arange(600) * 2, unit="min")
    outside = table(400, 0.0)
    outside[cfg.columns.timestamp] = START - pd.to_timedelta(np.arange(1, 401) * 5, unit="min")
    ref_path, cur_path = tmp_path / "reference.parquet", tmp_path / "production"
    reference.to_parquet(ref_path)
    cur_path.mkdir()
    current.to_parquet(cur_path / "part-1.parquet")
    outside.to_parquet(cur_path / "part-0.parquet")
    return ref_path, cur_path


def spec() -> CheckJobSpec:
    return CheckJobSpec("drift", model().model_dump(mode="json"), "prod", START, END, END)


def test_the_spec_survives_the_command_line_as_one_shell_safe_token() -> None:
    token = spec().encode()
    assert token.startswith("b64:") and all(c.isalnum() or c in "-_=:" for c in token)
    assert CheckJobSpec.decode(token) == spec()


def test_the_job_writes_the_report_the_bot_reads_back(tmp_path: Path) -> None:
    reference, production = frames(tmp_path, shift=2.0)
    out = tmp_path / "out"
    argv = ["--spec", spec().encode(), "--reference", str(reference)]
    code = main([*argv, "--production", str(production), "--out", str(out)])
    assert code == 0
    files = {p.name: p.read_bytes() for p in out.iterdir()}
    assert RESULT_FILE in files and len([n for n in files if n.endswith(".png")]) >= 1
    report = report_from_files(files)
    assert (report.kind, report.model, report.environment) == ("drift", "churn-model", "prod")
    assert report.main.level.value == "breach"
    assert dict(report.fields)["Rows"].startswith("600 current"), "only the window's rows"
    assert report.charts and all(c.content.startswith(b"\x89PNG") for c in report.charts)
    assert report.main.chart is not None and report.main.chart in report.charts
    assert report_to_files(report) == files, "what the bot reads is what the job wrote"


def test_inputs_it_cannot_read_exit_2_with_one_line(tmp_path: Path, capsys) -> None:
    argv = ["--spec", spec().encode(), "--reference", str(tmp_path / "missing.parquet")]
    code = main([*argv, "--production", str(tmp_path), "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing.parquet" in err and "Traceback" not in err


def test_results_that_are_not_a_check_result_are_refused_with_a_reason() -> None:
    with pytest.raises(ResultError, match=r"wrote no result\.json"):
        report_from_files({})
    with pytest.raises(ResultError, match="format 99"):
        report_from_files({RESULT_FILE: json.dumps({"format": 99}).encode()})
    with pytest.raises(ResultError, match="malformed"):
        report_from_files({RESULT_FILE: b"{not json"})
    bad_chart = {
        "format": 1,
        "kind": "drift",
        "model": "m",
        "environment": "prod",
        "start": START.isoformat(),
        "end": END.isoformat(),
        "signals": [
            {"signal": "drift", "level": "healthy", "headline": "h", "chart": {"file": "../x.png"}}
        ],
    }
    with pytest.raises(ResultError, match="unacceptable chart file"):
        report_from_files({RESULT_FILE: json.dumps(bad_chart).encode()})
    bad_chart["signals"][0]["chart"] = {"file": "x.png"}
    with pytest.raises(ResultError, match="not a PNG"):
        report_from_files({RESULT_FILE: json.dumps(bad_chart).encode(), "x.png": b"GIF89a"})


def test_the_entry_point_loads_no_store_slack_scheduler_or_platform_sdk(tmp_path: Path) -> None:
    """It starts on a fresh compute node: the engine, the check, the charts, the settings
    types (whose cron fields APScheduler's parser validates); none of the bot's serving
    machinery."""
    reference, production = frames(tmp_path, shift=0.0)
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['jobs.checkjob'] + sys.argv[1:]\n"
        "try:\n"
        "    runpy.run_module('jobs.checkjob', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "roots = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(roots & {'sqlalchemy', 'slack_bolt', 'slack_sdk', 'azure', 'alembic',"
        " 'requests'}))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('bot', 'commands', 'jobs.run',"
        " 'jobs.alerts', 'jobs.scheduler', 'infra.store', 'infra.platform.local'))))\n"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            probe,
            "--spec",
            spec().encode(),
            "--reference",
            str(reference),
            "--production",
            str(production),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert run.returncode == 0, run.stderr[-2000:]
    heavy, product = run.stdout.strip().splitlines()[-2:]
    assert heavy == "[]" and product == "[]", run.stdout
