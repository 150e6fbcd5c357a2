"""Register step of pipelines/retrain-churn.yml: register the trained MLflow model with its
metrics and the tag mlops-bot uses to find what a pipeline run produced.

The version registered here carries this step's run as its job name, not the pipeline's; the
``mlops-bot.pipeline-run`` tag (the pipeline run's name, passed in by the bot through the
``mlops_bot_pipeline_run`` input) is the link. Metrics go in as ``metrics.<name>`` tags, which is
where the bot reads them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

#: Must equal infra.platform.azure.convert.PIPELINE_RUN_TAG (a test checks it).
PIPELINE_RUN_TAG = "mlops-bot.pipeline-run"
UNSET = "unset"


def model_tags(pipeline_run: str, metrics: dict[str, float]) -> dict[str, str]:
    """The tags of the registered version: the pipeline run (unless submitted by hand, where the
    input keeps its placeholder) and every metric."""
    tags = {f"metrics.{name}": f"{value:.6g}" for name, value in sorted(metrics.items())}
    run = pipeline_run.strip()
    if run and run != UNSET:
        tags[PIPELINE_RUN_TAG] = run
    return tags


def main() -> None:
    import mlflow

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--pipeline-run", default=UNSET)
    args = parser.parse_args()

    metrics = json.loads((Path(args.metrics) / "metrics.json").read_text(encoding="utf-8"))
    tags = model_tags(args.pipeline_run, metrics)
    with mlflow.start_run() as run:
        mlflow.log_metrics(metrics)
        mlflow.log_artifacts(args.model, artifact_path="model")
        version = mlflow.register_model(
            f"runs:/{run.info.run_id}/model", args.model_name, tags=tags
        )
    print(f"registered {args.model_name}:{version.version} with tags {tags}")


if __name__ == "__main__":
    main()
