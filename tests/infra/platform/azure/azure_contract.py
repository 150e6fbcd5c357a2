"""The contract suite's harness for the Azure adapter (see tests/infra/platform/conftest.py).

The adapter runs with the real SDKs against the fake cloud; the harness plays the parts a person
or Azure would play: registering model versions, sending scored requests (the data collector's
files and the traffic log), and deciding how each model's training jobs end.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from bot.demo.data import generate_churn_data
from infra.defaults import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from infra.platform.base import ModelVersion
from infra.settings import Settings
from tests.infra.platform.conftest import FAILING_MODEL, MODEL, SLOW_MODEL, PlatformHarness

from .azure_fake_cloud import FakeAzureCloud, JobScript
from .azure_harness import FakeCredential, NoWaitTransport, SocketGuard
from .azure_replay import HttpInterceptor
from .azure_world import azure_config, build_cloud, client_options, model_config, write_pipeline

FEATURES = [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES]


def contract_settings(tmp_path: Path) -> Settings:
    pipeline = write_pipeline(tmp_path)
    features = {"numeric": list(NUMERIC_FEATURES), "categorical": list(CATEGORICAL_FEATURES)}
    models = [
        model_config(MODEL, pipeline, features=features, labels_data=None),
        *(
            model_config(name, pipeline, features=features, labels_data=None, reference_data=None)
            for name in (FAILING_MODEL, SLOW_MODEL)
        ),
    ]
    return Settings.model_validate(azure_config(tmp_path, models=models))


def collected_event(kind: str, when: datetime, correlation: str, data: list) -> bytes:
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": f"azureml.inference.{kind}",
        "datacontenttype": "application/json",
        "time": when.isoformat().replace("+00:00", "Z"),
        "data": data,
        "correlationid": correlation,
        "xrequestid": correlation,
        "path": "/score",
    }
    return json.dumps(event).encode() + b"\n"


def make_azure_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PlatformHarness]:
    from infra.platform.azure import AzurePlatform

    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    guard = SocketGuard().install(monkeypatch)
    http = HttpInterceptor().install(monkeypatch)
    cloud: FakeAzureCloud = build_cloud(seed_versions=1)
    http.add(cloud)
    cloud.scoring_columns = set(FEATURES)
    cloud.job_scripts = {
        MODEL: JobScript(produces={"metrics.accuracy": "0.84"}),
        FAILING_MODEL: JobScript(
            ["Preparing", "Running", "Failed"],
            error="UserError: boom: the training data has no 'churned' column",
            log="loading data\nTraceback (most recent call last):\nSystemExit: boom: no 'churned' column\n",
        ),
        SLOW_MODEL: JobScript(["Preparing", "Running"]),
    }
    settings = contract_settings(tmp_path)
    now = datetime.now(UTC)
    history = generate_churn_data(300, seed=5, start=now - timedelta(days=10), end=now)
    dev = cloud.workspace_for(settings.env_names[0])
    buffer = io.BytesIO()
    history.tail(200).to_parquet(buffer)
    cloud.put_blob(dev, "reference/churn/reference.parquet", buffer.getvalue())
    cloud.add_data_asset(
        dev,
        "churn-reference",
        "1",
        "azureml://datastores/workspaceblobstore/paths/reference/churn/reference.parquet",
    )
    platform = AzurePlatform(
        settings, credential=FakeCredential(), client_options=client_options(NoWaitTransport())
    )

    def seed_version(env: str) -> ModelVersion:
        ws = cloud.workspace_for(env)
        taken = [int(v) for v in ws.models.get(MODEL, {}) if v.isdigit()]
        version = str(max(taken, default=0) + 1)
        cloud.register_model(
            ws, MODEL, version, tags={"seeded": "yes"}, properties={"metrics.accuracy": "0.8"}
        )
        return platform.get_version(MODEL, version, env)

    def send_traffic(env: str, count: int) -> None:
        ws = cloud.workspace_for(env)
        endpoint = settings.model(MODEL).endpoint(env)
        split = ws.endpoints[endpoint]["properties"]["traffic"]
        deployment = max(split, key=split.get) if split else next(iter(ws.deployments[endpoint]))
        when = datetime.now(UTC)
        rows = json.loads(
            generate_churn_data(count, seed=count, start=when - timedelta(minutes=5), end=when)[
                FEATURES
            ].to_json(orient="records")
        )
        correlation = str(uuid.uuid4())
        store = cloud.blobs[(ws.storage_account, ws.container)]
        for kind, data in (
            ("model_inputs", rows),
            ("model_outputs", [i % 2 for i in range(count)]),
        ):
            name = f"modelDataCollector/{endpoint}/{deployment}/{kind}/{when:%Y/%m/%d/%H}/instance-0.jsonl"
            store[name] = store.get(name, b"") + collected_event(kind, when, correlation, data)
        cloud.traffic_log.extend(
            {
                "EndpointName": endpoint,
                "DeploymentName": deployment,
                "TimeGenerated": when,
                "ResponseCode": "200",
                "ModelStatusCode": "200",
                "TotalDurationMs": 15.0 + i,
            }
            for i in range(count)
        )

    known = platform.list_versions(MODEL, settings.env_names[0])[0]
    sample = json.loads(pd.DataFrame(history[FEATURES].head(3)).to_json(orient="records"))
    yield PlatformHarness(
        name="azure",
        platform=platform,
        model=MODEL,
        envs=settings.env_names,
        known_version=known.version,
        sample=sample,
        seed_version=seed_version,
        send_traffic=send_traffic,
        failing_model=FAILING_MODEL,
        slow_model=SLOW_MODEL,
        training_parameters={"learning_rate": "0.05"},
        job_timeout=30.0,
    )
    platform.close()
    assert not http.unhandled, f"requests no fake answered: {[e.url for e in http.unhandled]}"
    assert not guard.attempts, f"the contract run tried to reach the network: {guard.attempts}"
