"""Checks on Azure ML compute (``monitoring.compute: platform``): the real azure-ai-ml SDK builds
and sends the command job, the fake workspace refuses what the service refuses, "runs" the
command on what it mounts (the real ``jobs.checkjob`` entry point on the blobs its inputs name)
and the adapter reads back only the job's outputs.
"""

from __future__ import annotations

import io
import re
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pandas as pd
import pytest

from core.report_json import RESULT_FILE, report_from_files
from infra.platform.base import CheckJobRequest, InvalidRequestError, JobStatus, PlatformError
from infra.settings import Settings
from jobs.checkjob import CheckJobSpec
from jobs.checkjob import main as checkjob_main

from .azure_fake_cloud import FakeAzureCloud, FakeWorkspace
from .azure_world import MODEL, azure_config, client_options
from .test_azure_data import collect

END = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
START = END - timedelta(hours=3)
ENVIRONMENT = "azureml:mlops-bot:7"
DATASTORE_URI = re.compile(r"^azureml://datastores/[^/]+/paths/(.*)$")


def settings_with(tmp_path: Path, **platform_compute: Any) -> Settings:
    raw = azure_config(tmp_path)
    raw["monitoring"] = {
        "compute": "platform",
        "platform_compute": {"environment": ENVIRONMENT, **platform_compute},
    }
    return Settings.model_validate(raw)


@pytest.fixture
def make_platform(
    cloud: FakeAzureCloud, credential: Any, transport: Any, tmp_path: Path
) -> Iterator:
    from infra.platform.azure import AzurePlatform

    made: list[Any] = []

    def make(**platform_compute: Any) -> Any:
        adapter = AzurePlatform(
            settings_with(tmp_path, **platform_compute),
            credential=credential,
            client_options=client_options(transport),
        )
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


def request(platform: Any, name: str = "check-churn-model-drift-prod-1") -> CheckJobRequest:
    model = platform.settings.model(MODEL)
    spec = CheckJobSpec("drift", model.model_dump(mode="json"), "prod", START, END, END)
    return CheckJobRequest(name, "drift", MODEL, "prod", START, END, spec.encode())


def seed_data(cloud: FakeAzureCloud) -> None:
    """The reference asset in the monitored workspace and three hours of collected traffic, the
    last two with contracts the reference never saw."""
    prod = cloud.workspace_for("prod")
    reference = pd.DataFrame(
        {
            "tenure_months": [1 + i % 60 for i in range(300)],
            "monthly_charges": [20.0 + i % 80 for i in range(300)],
            "contract": ["monthly", "yearly", "two-year"] * 100,
        }
    )
    buffer = io.BytesIO()
    reference.to_parquet(buffer)
    cloud.put_blob(prod, "reference/churn/train.parquet", buffer.getvalue())
    cloud.add_data_asset(
        prod,
        "churn-reference",
        "1",
        "azureml://datastores/workspaceblobstore/paths/reference/churn/",
        "uri_folder",
    )
    for hour in range(3):
        when = START + timedelta(hours=hour, minutes=10)
        rows = [
            {
                "tenure_months": 30 + (i * 7) % 30 + 20 * hour,
                "monthly_charges": 90.0 + i % 20 + 15 * hour,
                "contract": "weekly" if hour else "monthly",
            }
            for i in range(60)
        ]
        collect(cloud, "prod", "churn-prod", "churn-model-v3", when, rows, [1] * 60, f"r{hour}")


def runs_the_check(cloud: FakeAzureCloud, scratch: Path) -> None:
    """What Azure ML does with the command job: mount its inputs read-only, substitute the
    ``${{inputs.*}}``/``${{outputs.*}}`` paths, run the command, upload the output folder."""

    def mount(ws: FakeWorkspace, spec: dict[str, Any], target: Path) -> Path:
        uri = str(spec["uri"])
        asset = re.match(r"^azureml:(?!//)([^:/]+):(\d+)$", uri) or re.search(
            r"/data/([^/]+)/versions/(\d+)$", uri
        )
        if asset:
            uri = ws.data[asset.group(1)][asset.group(2)]["properties"]["dataUri"]
        path = DATASTORE_URI.match(uri)
        assert path, f"the job names data the workspace cannot mount: {uri}"
        prefix = path.group(1).strip("/")
        blobs = cloud.blobs[(ws.storage_account, ws.container)]
        if spec["jobInputType"] == "uri_file":
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blobs[prefix])
            return target
        for name, content in blobs.items():
            if name.startswith(prefix + "/"):
                file = target / name[len(prefix) + 1 :]
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_bytes(content)
        target.mkdir(parents=True, exist_ok=True)
        return target

    def run(ws: FakeWorkspace, name: str, props: dict[str, Any]) -> None:
        root = scratch / name
        command = props["command"]
        for key, spec in props["inputs"].items():
            command = command.replace(f"${{{{inputs.{key}}}}}", str(mount(ws, spec, root / key)))
        outputs = {key: root / "outputs" / key for key in props["outputs"]}
        for key, folder in outputs.items():
            folder.mkdir(parents=True)
            command = command.replace(f"${{{{outputs.{key}}}}}", str(folder))
        argv = shlex.split(command)
        assert argv[:3] == ["python", "-m", "jobs.checkjob"], argv
        code = checkjob_main(argv[3:])
        if code:
            raise RuntimeError(f"Execution failed: the check exited with code {code}")
        for key, folder in outputs.items():
            out = DATASTORE_URI.match(props["outputs"][key]["uri"])
            assert out
            for file in folder.iterdir():
                cloud.put_blob(ws, f"{out.group(1).rstrip('/')}/{file.name}", file.read_bytes())

    cloud.command_runner = run


def test_the_check_is_a_command_job_reading_the_data_where_it_lives(
    make_platform, cloud: FakeAzureCloud, http, tmp_path: Path
) -> None:
    seed_data(cloud)
    runs_the_check(cloud, tmp_path / "compute")
    platform = make_platform()
    job = platform.submit_check(request(platform))
    assert job.id == "check-churn-model-drift-prod-1" and not job.status.finished

    [put] = http.requests("PUT", "/jobs/check-churn-model-drift-prod-1?")
    assert "mlw-churn-prod" in put.url, "the job runs in the monitored workspace"
    sent = put.json()["properties"]
    assert sent["jobType"] == "Command"
    assert sent["environmentId"].endswith(
        "/workspaces/mlw-churn-prod/environments/mlops-bot/versions/7"
    )
    assert sent.get("computeId") is None, "serverless unless a cluster is named"
    assert sent["resources"]["instanceType"] == "Standard_DS3_v2"
    command = sent["command"]
    assert command.startswith("python -m jobs.checkjob --spec b64:")
    assert "--reference ${{inputs.reference}}" in command
    assert "--production ${{inputs.production}} --production-format collector" in command
    assert "--out ${{outputs.result}}" in command
    reference, production = sent["inputs"]["reference"], sent["inputs"]["production"]
    assert reference["jobInputType"] == "uri_folder", "the asset's own type"
    assert reference["uri"].endswith("/workspaces/mlw-churn-prod/data/churn-reference/versions/1")
    assert reference["mode"] == "ReadOnlyMount"
    assert production == {
        "jobInputType": "uri_folder",
        "uri": "azureml://datastores/workspaceblobstore/paths/modelDataCollector/churn-prod/",
        "mode": "ReadOnlyMount",
    }
    result = sent["outputs"]["result"]
    assert result["jobOutputType"] == "uri_folder" and result["mode"] == "ReadWriteMount"
    assert result["uri"] == (
        "azureml://datastores/workspaceblobstore/paths/mlops-bot/checks/"
        "check-churn-model-drift-prod-1/"
    )
    assert sent["tags"] == {"mlops-bot.check": "drift", "mlops-bot.check-of": MODEL}

    statuses = [platform.check_job("prod", job.id).status for _ in range(3)]
    assert statuses[-1] is JobStatus.COMPLETED, statuses
    files = platform.check_outputs("prod", job.id)
    assert RESULT_FILE in files and any(n.endswith(".png") for n in files)
    report = report_from_files(files)
    assert (report.kind, report.model, report.environment) == ("drift", MODEL, "prod")
    assert report.main.level.value == "breach", report.main.headline
    assert dict(report.fields)["Rows"].startswith("180 current · 300 reference")

    read = [unquote(e.url) for e in http.requests("GET", ".blob.core.windows.net")]
    assert read and all("mlops-bot/checks/check-churn-model-drift-prod-1/" in u for u in read), (
        "the bot read only the job's outputs, never the collected production data"
    )
    assert platform.list_jobs(MODEL, "prod") == [], "a check job is no training run"


def test_a_named_cluster_is_the_jobs_compute_and_an_unknown_one_is_refused(
    make_platform, cloud: FakeAzureCloud, http
) -> None:
    seed_data(cloud)
    platform = make_platform(cluster="cpu-checks")
    with pytest.raises(PlatformError, match="cpu-checks"):
        platform.submit_check(request(platform))
    cloud.computes["mlw-churn-prod"] = {"cpu-checks"}
    job = platform.submit_check(request(platform))
    sent = http.requests("PUT", f"/jobs/{job.id}?")[-1].json()["properties"]
    assert sent["computeId"].endswith("/computes/cpu-checks")


def test_the_fake_refuses_a_command_job_without_an_environment(cloud: FakeAzureCloud) -> None:
    import json

    from requests.structures import CaseInsensitiveDict

    from .azure_replay import Exchange

    prod = cloud.workspace_for("prod")
    url = f"https://management.azure.com{prod.arm_id}/jobs/x?api-version=2025-01-01-preview"

    def put(properties: dict[str, Any]) -> Any:
        body = json.dumps({"properties": properties}).encode()
        reply = cloud(Exchange("PUT", url, CaseInsensitiveDict(), body))
        assert reply is not None
        return reply

    refused = put({"jobType": "Command", "command": "python -m jobs.checkjob"})
    assert refused.status == 400 and "environmentId" in refused.body["error"]["message"]
    assert put({"jobType": "Command", "command": " ", "environmentId": ENVIRONMENT}).status == 400
    accepted = put({"jobType": "Command", "command": "true", "environmentId": ENVIRONMENT})
    assert accepted.status == 201 and accepted.body["properties"]["computeId"] is None


def test_a_repeated_submission_finds_the_job_instead_of_starting_another(
    make_platform, cloud: FakeAzureCloud, http
) -> None:
    seed_data(cloud)
    platform = make_platform()
    first = platform.submit_check(request(platform))
    again = platform.submit_check(request(platform))
    assert again.id == first.id
    assert len(http.requests("PUT", "/jobs/")) == 1


def test_a_failed_check_job_carries_the_services_error(
    make_platform, cloud: FakeAzureCloud, tmp_path: Path
) -> None:
    runs_the_check(cloud, tmp_path / "compute")
    prod = cloud.workspace_for("prod")
    cloud.put_blob(prod, "reference/empty/README.txt", b"nothing to compare against")
    cloud.add_data_asset(
        prod,
        "churn-reference",
        "1",
        "azureml://datastores/workspaceblobstore/paths/reference/empty/",
        "uri_folder",
    )
    platform = make_platform()
    job = platform.submit_check(request(platform))
    cloud.complete_job(prod, job.id)
    failed = platform.check_job("prod", job.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error and "the check exited with code 2" in failed.error


def test_settings_refuse_platform_compute_on_azure_without_an_environment(tmp_path: Path) -> None:
    raw = azure_config(tmp_path)
    raw["monitoring"] = {"compute": "platform"}
    with pytest.raises(ValueError, match=r"platform_compute\.environment is not set"):
        Settings.model_validate(raw)
    raw["monitoring"] = {"compute": "inline"}
    Settings.model_validate(raw)


def test_a_model_without_reference_data_cannot_run_its_check_as_a_job(
    make_platform, cloud: FakeAzureCloud, http
) -> None:
    platform = make_platform()
    object.__setattr__(platform.settings.model(MODEL), "reference_data", None)
    with pytest.raises(InvalidRequestError, match="has no reference_data"):
        platform.submit_check(request(platform))
    assert not http.requests("PUT", "/jobs/")
