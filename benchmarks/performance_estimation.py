"""Estimated vs realized accuracy, this engine beside NannyML's CBPE, on the same windows.

    python benchmarks/performance_estimation.py [--state-dir DIR] [--workdir DIR]

Two sets of windows, each with labels the estimators never see (they get scores and
predictions only; the labels give the realized accuracy to compare against):

(a) **the demo's 30 days**: the production traffic of ``churn-model`` that ``mlops-bot demo``
    seeds into the embedded platform (seeded afresh into the work directory unless
    ``--state-dir`` names a seeded one), read through ``LocalPlatform.production_data`` as the
    performance check reads it, one window per day; calibrated on the platform's reference data.
    From the drift day on, the demo's churn *relationship* changes too (concept drift, see
    ``bot/demo/data.py``): no method that trusts the scores can see that, and both miss it.
(b) **a synthetic covariate shift**: a logistic P(y | x) that never changes, a gradient-boosted
    model trained on unshifted data, a labelled reference of 5,000 rows, and 30 windows of
    2,000 rows whose features move further from the training distribution window by window.

NannyML runs in its **own virtual environment** (``benchmarks/.venv-nannyml``, made on first
use with ``python -m venv`` and ``pip install nannyml statsmodels``; nannyml 0.13 imports
statsmodels without declaring it). Not a project dependency: the windows go to it as parquet
files and a small script there runs ``nannyml.CBPE`` (``problem_type="classification_binary"``,
one chunk per window) and writes its estimates back as JSON.

Prints per-window realized / estimated accuracy for both and the mean absolute error; the
target is MAE no worse than NannyML's and within 0.02 on covariate shift.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.estimation import PerformanceEstimator  # noqa: E402

NANNYML_VENV = ROOT / "benchmarks" / ".venv-nannyml"
TARGET_COVARIATE_MAE = 0.02

# --------------------------------------------------------------------------- NannyML in its venv

NANNYML_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.filterwarnings("ignore")
    import pandas as pd
    import nannyml as nml
    reference = pd.read_parquet(sys.argv[1])
    analysis = pd.read_parquet(sys.argv[2])
    estimator = nml.CBPE(
        y_pred_proba="score", y_pred="prediction", y_true="target", timestamp_column_name="timestamp",
        problem_type="classification_binary", metrics=["accuracy"], chunk_period="D",
    )
    estimator.fit(reference)
    frame = estimator.estimate(analysis).filter(period="analysis").to_df()
    out = []
    for _, row in frame.iterrows():
        out.append({"start": str(row[("chunk", "start_date")]), "accuracy": float(row[("accuracy", "value")]),
                    "low": float(row[("accuracy", "lower_confidence_boundary")]) if row[("accuracy", "lower_confidence_boundary")] == row[("accuracy", "lower_confidence_boundary")] else None,
                    "high": float(row[("accuracy", "upper_confidence_boundary")]) if row[("accuracy", "upper_confidence_boundary")] == row[("accuracy", "upper_confidence_boundary")] else None})
    print(json.dumps({"version": nml.__version__, "chunks": out}))
    """
)


def nannyml_python() -> Path:
    """The NannyML venv's interpreter, created on first use (RuntimeError with pip's tail)."""
    python = NANNYML_VENV / "bin" / "python"
    probe = [str(python), "-c", "import nannyml"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating {NANNYML_VENV} (python -m venv; pip install nannyml statsmodels) ...")
    subprocess.run([sys.executable, "-m", "venv", str(NANNYML_VENV)], check=True)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "nannyml", "statsmodels"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or subprocess.run(probe, capture_output=True).returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise RuntimeError(f"installing NannyML into {NANNYML_VENV} failed:\n{tail}")
    return python


def run_nannyml(
    reference: pd.DataFrame, windows: list[pd.DataFrame], workdir: Path, name: str
) -> tuple[str, list[float]]:
    """CBPE's estimated accuracy per window (reference: score, prediction, target; windows:
    score and prediction only). Each window becomes one day so ``chunk_period="D"`` makes one
    chunk per window whatever its real timestamps."""
    day0 = datetime(2000, 1, 1, tzinfo=UTC)
    ref = reference[["score", "prediction", "target"]].copy()
    ref["timestamp"] = day0 - timedelta(days=1)
    parts = []
    for index, window in enumerate(windows):
        part = window[["score", "prediction"]].copy()
        part["timestamp"] = day0 + timedelta(days=index, hours=12)
        parts.append(part)
    ref_path, cur_path = workdir / f"{name}-reference.parquet", workdir / f"{name}-analysis.parquet"
    ref.to_parquet(ref_path, index=False)
    pd.concat(parts, ignore_index=True).to_parquet(cur_path, index=False)
    script = workdir / "run_nannyml.py"
    script.write_text(NANNYML_SCRIPT)
    done = subprocess.run(
        [str(nannyml_python()), str(script), str(ref_path), str(cur_path)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError("NannyML failed:\n" + "\n".join(done.stderr.splitlines()[-10:]))
    result = json.loads(done.stdout.strip().splitlines()[-1])
    chunks = result["chunks"]
    if len(chunks) != len(windows):
        raise RuntimeError(f"NannyML made {len(chunks)} chunks for {len(windows)} windows")
    return result["version"], [c["accuracy"] for c in chunks]


# --------------------------------------------------------------------------- this engine


class _Columns:
    target, prediction, score, timestamp = "target", "prediction", "score", "timestamp"


class _Spec:
    """The engine's model view for the benchmark's frames (binary, positive class 1)."""

    name, task, positive_label = "benchmark", "classification", 1
    columns = _Columns()
    sensitive_features = ()


def run_engine(
    reference: pd.DataFrame, windows: list[pd.DataFrame]
) -> tuple[list[tuple[float, float, float]], float]:
    started = time.perf_counter()
    estimator = PerformanceEstimator(_Spec(), reference)  # type: ignore[arg-type]
    if estimator.refused:
        raise RuntimeError(f"the engine refused: {estimator.refused}")
    out = []
    for window in windows:
        accuracy = estimator.estimate(window[["score", "prediction"]]).metrics["accuracy"]
        out.append((float(accuracy.value), float(accuracy.low), float(accuracy.high)))  # type: ignore[arg-type]
    return out, time.perf_counter() - started


# --------------------------------------------------------------------------- the windows


def demo_windows(
    state_dir: Path | None, workdir: Path
) -> tuple[pd.DataFrame, list, list, str, datetime]:
    """The seeded demo's reference and its production days in prod (labelled), as the
    performance check reads them."""
    from bot.demo.seed import SeedPlan, seed_demo
    from infra.defaults import DEMO_MODEL, demo_config
    from infra.platform.local import LocalPlatform
    from infra.settings import Settings

    target_dir = state_dir or workdir / "demo-state"
    # Every window's realized accuracy is the ground truth here: no label delay.
    settings = Settings.model_validate(demo_config(label_delay=False)).model_copy(
        update={"resolved_state_dir": str(target_dir), "source": "benchmark"}
    )
    if state_dir is None:
        print(f"seeding the demo into {target_dir} (three real training jobs, ~1 minute) ...")
        summary = seed_demo(settings, plan=SeedPlan())
    else:
        from bot.demo.seed import MARKER_FILE

        marker = json.loads((state_dir / MARKER_FILE).read_text())
        summary = type("S", (), {})()
        summary.start = datetime.fromisoformat(marker["start"])
        summary.end = datetime.fromisoformat(marker["end"])
        summary.drift_start = datetime.fromisoformat(marker["drift_start"])
    cols = settings.model(DEMO_MODEL).columns
    platform = LocalPlatform(settings)
    try:
        env = settings.env_names[-1]
        rename = {cols.target: "target", cols.prediction: "prediction", cols.score: "score"}
        reference = platform.reference_data(DEMO_MODEL).rename(columns=rename)
        windows, labels = [], []
        day = summary.start
        while day < summary.end:
            frame = platform.production_data(DEMO_MODEL, env, day, day + timedelta(days=1))
            frame = frame.rename(columns=rename).dropna(subset=["score", "prediction", "target"])
            if len(frame):
                windows.append(frame)
                labels.append(day)
            day += timedelta(days=1)
    finally:
        platform.close()
    drift_note = f"drift (covariate and concept) from {summary.drift_start:%b %d %H:%M}"
    return reference, windows, labels, drift_note, summary.drift_start


def synthetic_windows(seed: int = 11) -> tuple[pd.DataFrame, list, list, str, None]:
    """Covariate shift with P(y | x) fixed: only the feature distribution moves."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(seed)
    weights = np.array([1.4, -1.0, 0.8, 0.0, 0.5])

    def population(n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(0.0, 1.0, (n, 5))
        x[:, 0] += shift  # the strongest feature moves: many rows go where the model is surer
        x[:, 1] -= 0.6 * shift
        x[:, 3] *= 1 + 0.5 * abs(shift)  # a feature the outcome ignores spreads out
        logit = x @ weights - 0.3 + 0.6 * x[:, 0] * x[:, 2]  # an interaction the model learns
        y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
        return x, y

    x_train, y_train = population(20_000, 0.0)
    model = HistGradientBoostingClassifier(max_iter=150, random_state=seed).fit(x_train, y_train)

    def scored(x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        score = model.predict_proba(x)[:, 1]
        return pd.DataFrame({"score": score, "prediction": (score >= 0.5).astype(int), "target": y})

    reference = scored(*population(5_000, 0.0))
    shifts = np.r_[np.zeros(5), np.linspace(0.1, 1.5, 15), np.linspace(-0.2, -1.5, 10)]
    windows = [scored(*population(2_000, float(s))) for s in shifts]
    labels = [f"shift {s:+.2f}" for s in shifts]
    return reference, windows, labels, "covariate shift only: P(y | x) fixed", None


# --------------------------------------------------------------------------- report


def compare(name: str, reference, windows, labels, note: str, drift_start, workdir: Path) -> dict:
    realized = [float((w["prediction"] == w["target"]).mean()) for w in windows]
    ours, seconds = run_engine(reference, windows)
    try:
        version, theirs = run_nannyml(reference, windows, workdir, name.split()[0])
    except (RuntimeError, OSError) as exc:
        print(f"  NannyML could not run: {exc}")
        version, theirs = None, [float("nan")] * len(windows)
    print(f"\n== {name} · {len(windows)} windows · {note} ==")
    print(f"  reference: {len(reference):,} labelled rows · engine fit + estimates {seconds:.2f} s")
    print(
        f"  {'window':<18}{'rows':>6}{'realized':>10}{'engine':>9}{'band':>15}"
        f"{'|err|':>8}{'NannyML':>9}{'|err|':>8}"
    )
    for label, window, real, (est, low, high), other in zip(
        labels, windows, realized, ours, theirs, strict=True
    ):
        text = label if isinstance(label, str) else f"{label:%b %d}"
        inside = "" if low <= real <= high else " *"
        print(
            f"  {text:<18}{len(window):>6}{real:>10.3f}{est:>9.3f}{f'{low:.3f}–{high:.3f}':>15}"
            f"{abs(est - real):>8.3f}{other:>9.3f}{abs(other - real):>8.3f}{inside}"
        )
    ours_err = np.abs(np.array([o[0] for o in ours]) - realized)
    theirs_err = np.abs(np.array(theirs) - realized)
    covered = np.mean([lo <= r <= hi for (_, lo, hi), r in zip(ours, realized, strict=True)])
    summary = {
        "engine_mae": float(ours_err.mean()),
        "nannyml_mae": float(np.nanmean(theirs_err)) if version else None,
        "coverage": float(covered),
        "nannyml_version": version,
    }
    # What a team without estimation assumes: the reference accuracy, carried forward.
    carried = float((reference["prediction"] == reference["target"]).mean())
    summary["carried_forward_mae"] = float(np.mean(np.abs(carried - np.array(realized))))
    other_text = f"{summary['nannyml_mae']:.4f}" if version else "n/a"
    if version and summary["nannyml_mae"]:
        other_text += f" (engine / NannyML = {summary['engine_mae'] / summary['nannyml_mae']:.2f})"
    print(
        f"  mean absolute error: engine {summary['engine_mae']:.4f} · NannyML {version} "
        f"{other_text} · realized inside the engine's 95% band in {covered:.0%} of windows "
        "(* marks the others)"
    )
    print(
        f"  baseline without estimation (reference accuracy {carried:.3f} carried forward): "
        f"MAE {summary['carried_forward_mae']:.4f}"
    )
    if drift_start is not None:
        # A day's window straddling the drift start counts as drifted.
        before = np.array([label + timedelta(days=1) <= drift_start for label in labels])
        for what, mask in (("before the drift", before), ("from the drift on", ~before)):
            if mask.any():
                print(
                    f"  {what} ({mask.sum()} windows): engine {ours_err[mask].mean():.4f} · "
                    f"NannyML {np.nanmean(theirs_err[mask]):.4f}"
                )
        summary["engine_mae_before_drift"] = float(ours_err[before].mean())
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, help="an already seeded demo state directory")
    parser.add_argument("--workdir", type=Path, help="where the files go (default: a temp dir)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="perf-estimation-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"performance estimation vs NannyML CBPE · {os.cpu_count()} CPUs · "
        f"load average {os.getloadavg()[0]:.1f} · {workdir}"
    )
    demo = compare("demo (prod, daily)", *demo_windows(args.state_dir, workdir), workdir)
    synthetic = compare("synthetic covariate shift", *synthetic_windows(), workdir)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    print("\n== targets ==")
    for name, result in (("demo", demo), ("covariate shift", synthetic)):
        if result["nannyml_mae"] is not None:
            verdict = "met" if result["engine_mae"] <= result["nannyml_mae"] + 1e-9 else "NOT met"
            print(
                f"  {name}: engine MAE {result['engine_mae']:.4f} <= NannyML "
                f"{result['nannyml_mae']:.4f}: {verdict}"
            )
    met = synthetic["engine_mae"] <= TARGET_COVARIATE_MAE
    print(
        f"  covariate shift: engine MAE {synthetic['engine_mae']:.4f} <= "
        f"{TARGET_COVARIATE_MAE}: {'met' if met else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
