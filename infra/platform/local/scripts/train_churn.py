"""Train the demo churn classifier: an example of a parameterized retraining script.

Automated retraining works best with a script whose inputs are all parameters (data location,
time window, hyperparameters, seed) and whose outputs land in one directory: the platform runs
it unattended, records its metrics and registers what it wrote. Run by the local platform as::

    python train_churn.py --data <dir or file> --out <dir> [--learning-rate 0.1 ...]

Inputs: parquet or CSV files with the demo's feature columns, ``churned`` and ``timestamp``.
Outputs in ``--out``: ``model.joblib`` (a scikit-learn pipeline: one-hot encoding of the
categorical features and a histogram gradient-boosted classifier), ``metrics.json`` (accuracy,
precision, recall, f1 and roc_auc on a stratified holdout, plus row counts) and ``tags.json``
(the data window actually used).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from infra.defaults import CATEGORICAL_FEATURES, NUMERIC_FEATURES

TARGET = "churned"
TIMESTAMP = "timestamp"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="parquet/CSV file or a directory of them")
    parser.add_argument("--out", required=True, help="directory for model.joblib and metrics.json")
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--max-depth", type=int, default=4)
    parser.add_argument(
        "--window-days", type=float, default=0, help="train on the last N days only (0: all data)"
    )
    parser.add_argument("--holdout", type=float, default=0.2, help="share of rows kept for metrics")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not 0 < args.learning_rate <= 1:
        parser.error(f"--learning-rate must be in (0, 1], got {args.learning_rate}")
    if args.max_iter < 1 or args.max_depth < 1:
        parser.error("--max-iter and --max-depth must be at least 1")
    if args.window_days < 0 or not 0 < args.holdout < 1:
        parser.error("--window-days must be >= 0 and --holdout in (0, 1)")
    return args


def load_data(location: Path) -> pd.DataFrame:
    files = (
        sorted(p for p in location.rglob("*") if p.suffix.lower() in (".parquet", ".csv"))
        if location.is_dir()
        else [location]
    )
    if not files or not all(p.is_file() for p in files):
        raise SystemExit(f"no training data at {location} (expected parquet or CSV files)")
    frames = [
        pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p) for p in files
    ]
    data = pd.concat(frames, ignore_index=True)
    missing = [
        c for c in (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES, TARGET) if c not in data.columns
    ]
    if missing:
        raise SystemExit(f"training data lacks columns: {', '.join(missing)}")
    return data


def select_window(data: pd.DataFrame, window_days: float) -> pd.DataFrame:
    if not window_days or TIMESTAMP not in data.columns:
        return data
    stamps = pd.to_datetime(data[TIMESTAMP], utc=True)
    return data[stamps >= stamps.max() - pd.Timedelta(days=window_days)]


def build_pipeline(args: argparse.Namespace) -> Pipeline:
    encode = ColumnTransformer(
        [
            ("numeric", "passthrough", NUMERIC_FEATURES),
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                CATEGORICAL_FEATURES,
            ),
        ]
    )
    classifier = HistGradientBoostingClassifier(
        learning_rate=args.learning_rate,
        max_iter=args.max_iter,
        max_depth=args.max_depth,
        random_state=args.seed,
    )
    return Pipeline([("encode", encode), ("classify", classifier)])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    data = select_window(load_data(Path(args.data)), args.window_days)
    if data[TARGET].nunique() < 2 or len(data) < 50:
        raise SystemExit(f"not enough labelled data to train on ({len(data)} rows in the window)")
    features = data[[*NUMERIC_FEATURES, *CATEGORICAL_FEATURES]]
    labels = data[TARGET].astype(int)
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=args.holdout, random_state=args.seed, stratify=labels
    )
    print(f"training on {len(x_train)} rows, holding out {len(x_test)}", flush=True)
    pipeline = build_pipeline(args).fit(x_train, y_train)
    predicted = pipeline.predict(x_test)
    scores = pipeline.predict_proba(x_test)[:, 1]
    metrics = {
        "accuracy": accuracy_score(y_test, predicted),
        "precision": precision_score(y_test, predicted, zero_division=0),
        "recall": recall_score(y_test, predicted, zero_division=0),
        "f1": f1_score(y_test, predicted, zero_division=0),
        "roc_auc": roc_auc_score(y_test, scores),
        "train_rows": float(len(x_train)),
        "test_rows": float(len(x_test)),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, out / "model.joblib")
    (out / "metrics.json").write_text(
        json.dumps({k: round(float(v), 6) for k, v in metrics.items()}, indent=2)
    )
    tags = {"algorithm": "HistGradientBoostingClassifier", "window_days": str(args.window_days)}
    if TIMESTAMP in data.columns:
        stamps = pd.to_datetime(data[TIMESTAMP], utc=True)
        tags |= {"data_start": stamps.min().isoformat(), "data_end": stamps.max().isoformat()}
    (out / "tags.json").write_text(json.dumps(tags, indent=2))
    summary = ", ".join(f"{k}={metrics[k]:.3f}" for k in ("accuracy", "f1", "roc_auc"))
    print(f"done in {time.perf_counter() - started:.1f}s: {summary}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
