"""Retraining jobs: pipeline YAML with overrides, schedule triggers, status, logs, cancel."""

from __future__ import annotations

import pytest

from infra.platform.base import InvalidRequestError, JobStatus
from infra.settings import Settings

from .azure_fake_shapes import JobScript
from .azure_world import MODEL, azure_config


def test_submit_overrides_typed_inputs_and_tags_the_job(platform, http) -> None:
    job = platform.submit_training(
        MODEL, "dev", {"learning_rate": "0.05", "n_estimators": "400"}, reason="drift on tenure"
    )
    assert job.status is JobStatus.QUEUED and job.model == MODEL and job.environment == "dev"
    assert job.url and job.url.startswith("https://ml.azure.com/runs/")
    sent = http.requests("PUT", f"/jobs/{job.id}?")[0].json()["properties"]
    assert sent["jobType"] == "Pipeline"
    assert sent["inputs"]["learning_rate"]["value"] in (0.05, "0.05")
    assert str(sent["inputs"]["n_estimators"]["value"]) == "400"
    assert sent["tags"] == {"mlops-bot.model": MODEL, "mlops-bot.reason": "drift on tenure"}
    assert job.parameters["learning_rate"] == "0.05"


def test_parameters_outside_the_allowed_list_or_the_pipeline_are_refused(
    platform, tmp_path
) -> None:
    with pytest.raises(InvalidRequestError, match=r"parameters \['max_depth'\] may not be set"):
        platform.submit_training(MODEL, "dev", {"max_depth": "3"})


def test_job_status_follows_azure_and_finds_the_produced_version(platform, cloud) -> None:
    job = platform.submit_training(MODEL, "dev", {})
    seen = [platform.get_job("dev", job.id).status for _ in range(3)]
    assert seen == [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.COMPLETED]
    dev = cloud.workspace_for("dev")
    cloud.register_model(dev, MODEL, "4", properties={"metrics.accuracy": "0.91"}, job=job.id)
    done = platform.get_job("dev", job.id)
    assert done.produced_version == "4" and done.metrics == {"accuracy": 0.91}


def test_failed_job_carries_the_error_and_the_log_tail(platform, cloud) -> None:
    job = platform.submit_training(MODEL, "dev", {})
    dev = cloud.workspace_for("dev")
    cloud.complete_job(dev, job.id, "Failed")
    log = (
        "\n".join(f"epoch {i}" for i in range(50))
        + "\nValueError: learning_rate must be positive\n"
    )
    cloud.put_blob(dev, f"ExperimentRun/dcid.{job.id}/user_logs/std_log.txt", log.encode())
    failed = platform.get_job("dev", job.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error == "Execution failed: ValueError: learning_rate must be positive"
    assert failed.log_tail.startswith("user_logs/std_log.txt:\n")
    assert failed.log_tail.endswith("ValueError: learning_rate must be positive")
    assert "epoch 10" not in failed.log_tail, "only the tail is kept"


def test_list_jobs_keeps_the_models_newest_first(platform, cloud) -> None:
    first = platform.submit_training(MODEL, "dev", {})
    second = platform.submit_training(MODEL, "dev", {"learning_rate": "0.2"})
    dev = cloud.workspace_for("dev")
    dev.jobs["someone-elses"] = cloud.job_body(
        dev, "someone-elses", {"jobType": "Command", "experimentName": "other"}
    )
    jobs = platform.list_jobs(MODEL, "dev")
    assert [j.id for j in jobs] == [second.id, first.id]
    assert [j.id for j in platform.list_jobs(MODEL, "dev", limit=1)] == [second.id]


def test_cancel_uses_the_cancel_operation_and_is_a_no_op_once_finished(
    platform, cloud, http
) -> None:
    job = platform.submit_training(MODEL, "dev", {})
    canceled = platform.cancel_job("dev", job.id)
    assert canceled.status is JobStatus.CANCELED
    assert len(http.requests("POST", f"/jobs/{job.id}/cancel")) == 1
    assert len(http.requests("GET", "/mfeOperationResults/jc:")) == 2, "202 while running, then 200"
    assert platform.cancel_job("dev", job.id).status is JobStatus.CANCELED
    assert len(http.requests("POST", f"/jobs/{job.id}/cancel")) == 1


def test_schedule_pipelines_are_triggered_and_refuse_overrides(
    cloud, credential, transport, tmp_path
) -> None:
    from infra.platform.azure import AzurePlatform

    config = azure_config(tmp_path, retraining={"pipeline": "schedule:churn-weekly"})
    adapter = AzurePlatform(
        Settings.model_validate(config),
        credential=credential,
        client_options={"transport": transport, "polling_interval": 0},
    )
    job = adapter.submit_training(MODEL, "dev", {})
    assert job.id.startswith("churn-weekly-") and job.status is JobStatus.RUNNING
    with pytest.raises(InvalidRequestError, match="runs its own job definition"):
        adapter.submit_training(MODEL, "dev", {"learning_rate": "0.3"})
    adapter.close()


def test_a_job_not_responding_is_still_running_and_can_be_cancelled(platform, cloud, http) -> None:
    """NotResponding is a missing heartbeat the run may recover from (the SDK's JobStatus enum:
    "a run can go from NotResponding to any of the previous states"), not a failure."""
    job = platform.submit_training(MODEL, "dev", {})
    dev = cloud.workspace_for("dev")
    cloud.complete_job(dev, job.id, "NotResponding")
    assert platform.get_job("dev", job.id).status is JobStatus.RUNNING
    cancelled = platform.cancel_job("dev", job.id)
    assert http.requests("POST", f"/jobs/{job.id}/cancel"), "cancel was never sent"
    assert cancelled.status is JobStatus.CANCELED


def test_the_version_a_pipeline_registered_from_a_step_is_found_by_its_run_tag(
    platform, cloud, http
) -> None:
    """The fake pipeline registers its model from a child step (jobName = the step's run), as
    Azure does; the register step tags it with the pipeline run the bot named."""
    cloud.job_scripts[MODEL] = JobScript(produces={"metrics.accuracy": "0.93"})
    job = platform.submit_training(MODEL, "dev", {})
    sent = http.requests("PUT", f"/jobs/{job.id}?")[0].json()["properties"]
    assert sent["inputs"]["mlops_bot_pipeline_run"]["value"] == job.id
    seen = [platform.get_job("dev", job.id) for _ in range(3)]
    done = seen[-1]
    assert done.status is JobStatus.COMPLETED
    assert done.produced_version == "4" and done.metrics == {"accuracy": 0.93}


def test_without_the_run_tag_the_version_is_found_through_the_child_steps(
    platform, cloud, tmp_path
) -> None:
    """A pipeline YAML without the mlops_bot_pipeline_run input: the child runs are the link."""
    cloud.job_scripts[MODEL] = JobScript(produces={"metrics.accuracy": "0.9"})
    job = platform.submit_training(MODEL, "dev", {})
    dev = cloud.workspace_for("dev")
    dev.jobs[job.id]["properties"]["inputs"].pop("mlops_bot_pipeline_run")
    done = [platform.get_job("dev", job.id) for _ in range(3)][-1]
    assert done.status is JobStatus.COMPLETED and done.produced_version == "4"


def test_a_triggered_job_not_readable_yet_is_read_again_not_reported_missing(
    cloud, credential, transport, tmp_path, http
) -> None:
    """POST schedules/<n>/trigger names the job before GET jobs/<job> can find it: the 404 of
    that GET is retried (bounded), never turned into "schedule does not exist"."""
    from infra.platform.azure import AzurePlatform

    from .azure_fake_shapes import not_found

    config = azure_config(tmp_path, retraining={"pipeline": "schedule:churn-weekly"})
    adapter = AzurePlatform(
        Settings.model_validate(config),
        credential=credential,
        client_options={"transport": transport, "polling_interval": 0},
    )
    waits: list[float] = []
    adapter.trainer.sleep = waits.append
    missing = not_found("UserError", "Job churn-weekly-x not found.")
    cloud.fail_next("GET", "/jobs/churn-weekly-", missing, times=2)
    job = adapter.submit_training(MODEL, "dev", {})
    assert job.id.startswith("churn-weekly-") and job.status is JobStatus.RUNNING
    assert len(waits) == 2 and len(http.requests("POST", "/schedules/churn-weekly/trigger")) == 1

    # Never visible within the bound: reported queued under its name, not as a missing schedule.
    cloud.fail_next("GET", "/jobs/churn-weekly-", missing, times=100)
    waits.clear()
    late = adapter.submit_training(MODEL, "dev", {})
    assert late.id.startswith("churn-weekly-") and late.status is JobStatus.QUEUED
    assert sum(waits) <= 20 and len(waits) == 5
    assert len(http.requests("POST", "/schedules/churn-weekly/trigger")) == 2
    adapter.close()
