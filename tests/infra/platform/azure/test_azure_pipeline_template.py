"""The retraining pipeline the project ships (pipelines/retrain-churn.yml), loaded by the real
SDK (azure-ai-ml 1.35 ``load_job``) and submitted through the adapter to the fake workspace."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from azure.ai.ml import load_job
from azure.ai.ml.entities import PipelineJob

from infra.platform.azure import convert
from infra.settings import Settings

from .azure_world import MODEL, azure_config

ROOT = Path(__file__).resolve().parents[4]
TEMPLATE = ROOT / "pipelines" / "retrain-churn.yml"


def register_script():
    spec = importlib.util.spec_from_file_location("register", ROOT / "pipelines/src/register.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_template_is_a_pipeline_with_the_inputs_the_bot_fills_and_overrides() -> None:
    job = load_job(source=TEMPLATE)
    assert isinstance(job, PipelineJob) and job.experiment_name == MODEL
    inputs = job.inputs
    # /mlops retrain overrides top-level inputs (docs: allowed_parameters [learning_rate, n_estimators]).
    assert inputs["learning_rate"]._data == 0.1 and inputs["n_estimators"]._data == 200
    assert convert.PIPELINE_RUN_INPUT in inputs
    assert set(job.jobs) == {"train", "register"}
    register = job.jobs["register"]
    bound = register.inputs["pipeline_run"]._data
    assert str(bound) == "${{parent.inputs.mlops_bot_pipeline_run}}"
    assert "--pipeline-run ${{inputs.pipeline_run}}" in register.command
    assert str(register.inputs["model"]._data) == "${{parent.jobs.train.outputs.model}}"


def test_the_register_step_tags_the_version_with_the_pipeline_run() -> None:
    script = register_script()
    assert script.PIPELINE_RUN_TAG == convert.PIPELINE_RUN_TAG
    tags = script.model_tags("churn-model-retrain-0a1b2c", {"auc": 0.8312, "accuracy": 0.77})
    assert tags == {
        convert.PIPELINE_RUN_TAG: "churn-model-retrain-0a1b2c",
        "metrics.accuracy": "0.77",
        "metrics.auc": "0.8312",
    }
    # What the bot reads back from such a version (convert.model_version): run and metrics.
    assert convert.metrics_from(tags) == {"accuracy": 0.77, "auc": 0.8312}
    assert convert.PIPELINE_RUN_TAG not in script.model_tags("unset", {}), (
        "submitted by hand, the placeholder is not a run name"
    )


def test_the_adapter_fills_the_run_name_and_overrides_into_the_template(
    cloud, credential, transport, tmp_path, monkeypatch
) -> None:
    """Trainer.submit on the real template, up to the SDK's create_or_update (the fake workspace
    has no environment / component / code-upload services for the anonymous assets this inline
    template makes the SDK create, so the submitted PipelineJob is captured instead)."""
    from infra.platform.azure import AzurePlatform

    config = azure_config(tmp_path, retraining={"pipeline": str(TEMPLATE)})
    adapter = AzurePlatform(
        Settings.model_validate(config),
        credential=credential,
        client_options={"transport": transport, "polling_interval": 0},
    )
    submitted: list[PipelineJob] = []

    def capture(job, **_: object) -> PipelineJob:
        submitted.append(job)
        return job

    monkeypatch.setattr(adapter.clients.workspace("dev").jobs, "create_or_update", capture)
    try:
        info = adapter.submit_training(MODEL, "dev", {"learning_rate": "0.3"}, reason="drift")
    finally:
        adapter.close()
    (job,) = submitted
    assert info.id == job.name and job.name.startswith(f"{MODEL}-retrain-")
    assert job.inputs[convert.PIPELINE_RUN_INPUT]._data == job.name
    assert job.inputs["learning_rate"]._data == pytest.approx(0.3)
    assert job.inputs["n_estimators"]._data == 200, "not overridden: the YAML default"
    assert job.tags[convert.MODEL_TAG] == MODEL and job.tags[convert.REASON_TAG] == "drift"
    # The register step still reads the run name from the input the bot filled.
    assert str(job.jobs["register"].inputs["pipeline_run"]._data) == (
        "${{parent.inputs.mlops_bot_pipeline_run}}"
    )
