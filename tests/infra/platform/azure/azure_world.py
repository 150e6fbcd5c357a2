"""The Azure world the tests run in: three workspaces, a registry, one model, as settings and as
a fake cloud. Shared by the fixtures, the contract harness and the recordings tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from infra.settings import Settings

from .azure_fake_cloud import FakeAzureCloud, FakeRegistry, FakeWorkspace

SUBSCRIPTION = "6f5d3c2b-1a09-4e8f-9d7c-5b4a3f2e1d0c"
REGISTRY_SUBSCRIPTION = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
REGISTRY = "mlreg-shared"
REGION = "westeurope"
MODEL = "churn-model"
WORKSPACES = {"dev": "mlw-churn-dev", "preprod": "mlw-churn-preprod", "prod": "mlw-churn-prod"}
LOG_ANALYTICS_ID = "d6b5e4f3-2a1b-4c0d-9e8f-7a6b5c4d3e2f"

PIPELINE_YAML = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
display_name: churn-model retraining
experiment_name: churn-model
inputs:
  learning_rate: 0.1
  n_estimators: 200
  mlops_bot_pipeline_run: unset   # the bot fills in the run's name
settings:
  default_compute: azureml:cpu-cluster
jobs:
  train:
    type: command
    component: azureml:train_churn_model:3
    inputs:
      learning_rate: ${{parent.inputs.learning_rate}}
      n_estimators: ${{parent.inputs.n_estimators}}
    outputs:
      model:
  register:
    type: command
    component: azureml:register_churn_model:1
    inputs:
      model: ${{parent.jobs.train.outputs.model}}
      pipeline_run: ${{parent.inputs.mlops_bot_pipeline_run}}
"""


def write_pipeline(directory: Path) -> Path:
    pipeline = directory / "retrain.yml"
    pipeline.write_text(PIPELINE_YAML, encoding="utf-8")
    return pipeline


def model_config(name: str, pipeline: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "name": name,
        "task": "classification",
        "endpoints": {env: f"{name.removesuffix('-model')}-{env}" for env in WORKSPACES},
        "columns": {
            "target": "churned",
            "prediction": "prediction",
            "score": "score",
            "timestamp": "timestamp",
        },
        "features": {"numeric": ["tenure_months", "monthly_charges"], "categorical": ["contract"]},
        "reference_data": "azureml:churn-reference:1",
        "labels_data": "labels/churn-labels.csv",
        "retraining": {
            "pipeline": str(pipeline),
            "parameters": {"learning_rate": "0.1"},
            "allowed_parameters": ["learning_rate", "n_estimators"],
        },
        **overrides,
    }


def azure_config(
    tmp_path: Path, *, models: list[dict[str, Any]] | None = None, **model_overrides: Any
) -> dict[str, Any]:
    """The configuration file a team with three workspaces and a registry would write."""
    pipeline = write_pipeline(tmp_path)
    return {
        "platform": "azure",
        "environments": [
            {
                "name": env,
                "azure": {
                    "subscription_id": SUBSCRIPTION,
                    "resource_group": f"rg-ml-{env}",
                    "workspace": ws,
                    **({"log_analytics_workspace_id": LOG_ANALYTICS_ID} if env == "prod" else {}),
                },
            }
            for env, ws in WORKSPACES.items()
        ],
        "registry": {"azure": {"name": REGISTRY, "location": REGION}},
        "models": models
        if models is not None
        else [model_config(MODEL, pipeline, **model_overrides)],
    }


def azure_settings(tmp_path: Path, **kwargs: Any) -> Settings:
    return Settings.model_validate(azure_config(tmp_path, **kwargs))


def build_cloud(*, seed_versions: int = 3) -> FakeAzureCloud:
    cloud = FakeAzureCloud(FakeRegistry(REGISTRY, REGISTRY_SUBSCRIPTION, "rg-ml-registry", REGION))
    for env, name in WORKSPACES.items():
        cloud.add_workspace(FakeWorkspace(env, SUBSCRIPTION, f"rg-ml-{env}", name, REGION))
    dev = cloud.workspace_for("dev")
    base = datetime.now(UTC) - timedelta(days=3)
    for n in range(1, seed_versions + 1):
        cloud.register_model(
            dev,
            MODEL,
            str(n),
            tags={"stage": "candidate", "metric.auc": f"0.8{n}"},
            properties={"metrics.accuracy": f"0.7{n}"},
            job=f"train-job-{n}",
            created=base + timedelta(hours=n),
        )
    cloud.add_schedule(dev, "churn-weekly")
    return cloud


def client_options(transport: Any) -> dict[str, Any]:
    """What tests pass as ``client_options``: the replaying transport, no polling delay."""
    return {"transport": transport, "polling_interval": 0, "retry_total": 3}


#: A scoring payload with the test model's features.
FEATURES_SAMPLE = [
    {"tenure_months": 12, "monthly_charges": 70.5, "contract": "month-to-month"},
    {"tenure_months": 40, "monthly_charges": 20.0, "contract": "two-year"},
]
