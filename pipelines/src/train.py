"""Train step of pipelines/retrain-churn.yml: fit the churn classifier, save it as an MLflow
model and write its held-out metrics as JSON for the register step."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd


def read_table(path: str) -> pd.DataFrame:
    """A parquet / CSV file, or a folder of them (uri_file or uri_folder inputs)."""
    source = Path(path)
    files = sorted(source.rglob("*")) if source.is_dir() else [source]
    frames = [
        pd.read_parquet(f) if f.suffix == ".parquet" else pd.read_csv(f)
        for f in files
        if f.suffix in (".parquet", ".csv")
    ]
    if not frames:
        raise SystemExit(f"no parquet or CSV data under {path}")
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    import mlflow.sklearn
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--learning-rate", type=float, required=True)
    parser.add_argument("--n-estimators", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()

    frame = read_table(args.data)
    y = frame.pop(args.target)
    categorical = [c for c in frame.columns if frame[c].dtype == object]
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("categorical", OneHotEncoder(handle_unknown="ignore"), categorical)],
                    remainder="passthrough",
                ),
            ),
            (
                "classify",
                GradientBoostingClassifier(
                    learning_rate=args.learning_rate, n_estimators=args.n_estimators
                ),
            ),
        ]
    )
    x_train, x_test, y_train, y_test = train_test_split(
        frame, y, test_size=0.2, random_state=0, stratify=y
    )
    model.fit(x_train, y_train)
    metrics = {
        "accuracy": float(accuracy_score(y_test, model.predict(x_test))),
        "auc": float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])),
    }
    mlflow.sklearn.save_model(model, args.model, input_example=x_test.head(3))
    out = Path(args.metrics)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
