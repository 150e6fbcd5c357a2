"""``mlops-bot drift`` / ``perf``: exit codes 0/1/2, JSON schema, chart file, clear errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.cli.drift import drift_main, perf_main
from tests.engine.churn_data import churn_frame


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("drift-cli")
    paths = {
        "reference": root / "reference.parquet",
        "steady": root / "steady.parquet",
        "drifted": root / "drifted.csv",
        "labelled": root / "labelled.parquet",
        "unrelated": root / "unrelated.csv",
        "garbage": root / "garbage.parquet",
        "text": root / "notes.txt.gz",
    }
    churn_frame(6000, seed=41).to_parquet(paths["reference"])
    churn_frame(3000, seed=42).to_parquet(paths["steady"])
    churn_frame(3000, seed=43, drifted=True).to_csv(paths["drifted"], index=False)
    churn_frame(3000, seed=44, unfair=True).to_parquet(paths["labelled"])
    paths["unrelated"].write_text("foo,bar\n1,2\n3,4\n")
    paths["garbage"].write_bytes(b"this is not parquet at all")
    paths["text"].write_text("x")
    return paths


def run(main, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_no_drift_exits_zero_with_json(files: dict[str, Path]) -> None:
    code, out, err = run(drift_main, files["reference"], files["steady"], "--json")
    assert code == 0 and err == ""
    payload = json.loads(out)
    assert set(payload) == {"dataset_drift", "drifted_count", "share_drifted", "columns"}
    assert payload["dataset_drift"] is False
    assert "timestamp" not in payload["columns"]  # event times are never compared
    age = payload["columns"]["age"]
    assert set(age) == {"method", "score", "threshold", "p_value", "drifted", "note"}
    assert age["method"] == "wasserstein" and age["p_value"] is None


def test_dataset_drift_exits_one_and_writes_a_chart(files: dict[str, Path], tmp_path: Path) -> None:
    chart = tmp_path / "drift.png"
    code, out, _ = run(drift_main, files["reference"], files["drifted"], "--chart", chart)
    assert code == 1
    assert "DATASET DRIFT" in out and "payment_method" in out and "crypto" in out
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_columns_method_and_fail_on_column(files: dict[str, Path]) -> None:
    args = [
        files["reference"],
        files["drifted"],
        "--columns",
        "age,region",
        "tenure_months",
        "--json",
    ]
    code, out, _ = run(drift_main, *args)
    payload = json.loads(out)
    assert list(payload["columns"]) == ["age", "region", "tenure_months"]
    assert payload["drifted_count"] == 1 and code == 0  # 1 of 3 < 0.5
    code, _, _ = run(drift_main, *args, "--fail-on-column")
    assert code == 1
    code, out, _ = run(
        drift_main, *args, "--method", "age=ks", "--method", "tenure_months=psi:0.25"
    )
    payload = json.loads(out)
    assert (
        payload["columns"]["age"]["method"] == "ks"
        and payload["columns"]["age"]["p_value"] is not None
    )
    assert payload["columns"]["tenure_months"]["threshold"] == 0.25


def test_chunked_mode_agrees(files: dict[str, Path]) -> None:
    _, exact, _ = run(drift_main, files["reference"], files["steady"], "--json")
    code, chunked, _ = run(drift_main, files["reference"], files["steady"], "--json", "--chunked")
    assert code == 0
    a, b = json.loads(exact)["columns"], json.loads(chunked)["columns"]
    for name in a:
        assert a[name]["drifted"] == b[name]["drifted"]
        # Binned W1 on a 6000-row reference: within a few thousandths of the exact value.
        assert b[name]["score"] == pytest.approx(a[name]["score"], rel=0.05, abs=4e-3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{reference}", "{missing}"], "no such file"),
        (["{reference}", "{garbage}"], "cannot read parquet file"),
        (["{reference}", "{text}"], "unsupported file type"),
        (["{reference}", "{unrelated}"], "no column in common"),
        (["{reference}", "{steady}", "--columns", "nope"], "not in both files: nope"),
        (["{reference}", "{steady}", "--method", "age"], "COLUMN=METHOD"),
        (["{reference}", "{steady}", "--method", "age=magic"], "unknown method 'magic'"),
        (["{reference}", "{steady}", "--method", "plan=wasserstein"], "needs a numeric column"),
        (["{reference}", "{steady}", "--share", "2"], "--share"),
        (["{reference}"], "the following arguments are required"),
        (["{reference}", "{steady}", "--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_input_exits_two_with_a_clear_message(
    files: dict[str, Path], args: list[str], message: str
) -> None:
    paths = {
        **{k: str(v) for k, v in files.items()},
        "missing": str(files["reference"].parent / "missing.parquet"),
    }
    code, out, err = run(drift_main, *[a.format(**paths) for a in args])
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err and err.startswith("error:")


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert drift_main(["--help"]) == 0
    assert "Exit codes" in capsys.readouterr().out


def test_perf_reports_and_fails_on_breach(files: dict[str, Path]) -> None:
    code, out, _ = run(
        perf_main,
        files["labelled"],
        "--target",
        "churned",
        "--score",
        "score",
        "--sensitive",
        "gender",
        "--baseline",
        files["reference"],
        "--json",
    )
    payload = json.loads(out)
    assert code == 1 and payload["verdict"] == "breach"
    assert payload["fairness"]["gender"]["verdict"] == "breach"
    assert payload["baseline_source"] == "reference"
    code, out, _ = run(perf_main, files["steady"], "--target", "churned", "--min-accuracy", "0.5")
    assert code == 0 and "Accuracy" in out


def test_perf_bad_input(files: dict[str, Path]) -> None:
    code, _, err = run(perf_main, files["steady"], "--target", "nope")
    assert code == 2 and "no column 'nope'" in err
    code, _, err = run(perf_main, files["steady"], "--target", "churned", "--min-accuracy", "3")
    assert code == 2 and "invalid limits" in err


HEAVY = (
    "pandas",
    "scipy.stats",
    "sklearn",
    "matplotlib",
    "infra.settings",
    "infra.platform",
    "numpy.ma",  # np.unique imports it; the engine dedupes sorted arrays itself
    "prometheus_client",
)


def test_drift_on_parquet_imports_neither_pandas_nor_scipy_stats_nor_settings(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """The light path of issue 15: ``mlops-bot drift`` on parquet starts with pyarrow and numpy
    only. Run in a fresh interpreter (this test process has imported everything already), through
    ``bot.cli.main`` exactly as the console script calls it."""
    import subprocess
    import sys

    probe = (
        "import sys, json\n"
        "from bot.cli import main\n"
        f"code = main(['drift', {str(files['reference'])!r}, {str(files['steady'])!r}, '--json'])\n"
        f"print(json.dumps([code, [m for m in {HEAVY!r} if m in sys.modules]]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    code, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0
    assert loaded == []


def test_drift_on_csv_still_reads_through_pandas(files: dict[str, Path]) -> None:
    code, out, _ = run(drift_main, files["reference"], files["drifted"], "--json")
    assert code == 1
    assert json.loads(out)["dataset_drift"] is True
