"""The adapter against responses replayed from the real Azure SDK test-proxy recordings.

Each test names the recording and the entries it replays; anything the recording does not
contain is answered by the fake cloud (whose bodies are built from the same recordings).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from infra.platform.base import InvalidRequestError, JobStatus, NotFoundError, PermissionDeniedError
from infra.settings import Settings

from .azure_fake_cloud import FakeAzureCloud, FakeRegistry, FakeWorkspace
from .azure_harness import TENANT_ID
from .azure_replay import Cassette, Reply, load_recording
from .azure_world import MODEL, azure_config

# The placeholders the recordings were sanitized with.
SUB, RG, WS = "00000000-0000-0000-0000-000000000", "00000", "00000"
RECORDED_MODEL = "test_907403507619"
RECORDED_ENDPOINT = "online-ept-19282f598c8c49a"
ENDPOINT_E2E = "test_online_endpoint.pyTestOnlineEndpointtest_online_endpoint_e2e.json"
PIPELINE = "test_pipeline_job.pyTestPipelineJobtest_pipeline_job_with_data_transfer_import_snowflake_database.json"
LOGS = "test_logs_client.pyTestLogsClienttest_logs_single_query{}.json"


def recorded_settings(
    model: str = RECORDED_MODEL, registry: str = "mlreg-shared", **workspace
) -> Settings:
    return Settings.model_validate(
        {
            "platform": "azure",
            "environments": [
                {
                    "name": "dev",
                    "azure": {
                        "subscription_id": SUB,
                        "resource_group": RG,
                        "workspace": WS,
                        **workspace,
                    },
                }
            ],
            "registry": {"azure": {"name": registry}},
            "models": [
                {"name": model, "task": "classification", "endpoints": {"dev": RECORDED_ENDPOINT}}
            ],
        }
    )


@pytest.fixture
def recorded_cloud(http) -> FakeAzureCloud:
    """Answers what a recording lacks; added to the interceptor after the test's cassette."""
    fake = FakeAzureCloud(FakeRegistry("mlreg-shared", SUB, "rg-registry", "eastus"))
    fake.add_workspace(
        FakeWorkspace(
            "dev", SUB, RG, WS, "eastus", workspace_id="5881e5dc-6e3e-408e-b99e-754026b4a07b"
        )
    )
    return fake


def adapter(settings, credential, transport):
    from infra.platform.azure import AzurePlatform

    return AzurePlatform(
        settings,
        credential=credential,
        client_options={"transport": transport, "polling_interval": 0},
    )


def test_list_models_replays_the_model_container_list(http, credential, transport) -> None:
    cassette = http.add(Cassette("test_model.pyTestModeltest_list_no_name.json"))
    platform = adapter(recorded_settings(), credential, transport)
    assert platform.list_models("dev") == [
        "test_269749567585",
        "test_813995235970",
        "test_913354502336",
    ]
    cassette.assert_all_played()


def test_versions_and_get_replay_the_model_crud_recording(
    http, recorded_cloud, credential, transport
) -> None:
    cassette = http.add(Cassette("test_model.pyTestModeltest_crud_file.json", only=[6, 7]))
    http.add(recorded_cloud)  # the registry: no recording has a successful registry discovery
    platform = adapter(recorded_settings(), credential, transport)
    version = platform.get_version(RECORDED_MODEL, "3", "dev")
    assert (version.version, version.source, dict(version.tags)) == (
        "3",
        "dev",
        {"foo": "bar", "abc": "123"},
    )
    assert version.created == datetime(2026, 3, 26, 19, 14, 50, 550533, tzinfo=UTC)
    assert [v.version for v in platform.list_versions(RECORDED_MODEL, "dev")] == ["3"]
    cassette.assert_all_played()


def test_a_model_the_workspace_does_not_know_has_no_versions(
    http, recorded_cloud, credential, transport
) -> None:
    http.add(Cassette("test_model.pyTestModeltest_crud_file.json", only=[0]))  # 404 ModelNotFound
    http.add(recorded_cloud)
    platform = adapter(recorded_settings(), credential, transport)
    assert platform.list_versions(RECORDED_MODEL, "dev") == []


def test_endpoint_state_replays_a_succeeded_endpoint_without_deployments(
    http, credential, transport
) -> None:
    # The SDK's get lists deployments once, the adapter once more: the recorded list is served twice.
    cassette = http.add(Cassette(ENDPOINT_E2E, only=[5, 7], repeat=True))
    platform = adapter(recorded_settings(), credential, transport)
    state = platform.endpoint_state(RECORDED_MODEL, "dev")
    assert state.scoring_url == f"https://{RECORDED_ENDPOINT}.eastus.inference.ml.azure.com/score"
    assert (state.provisioning_state, state.deployments, state.exists) == ("Succeeded", (), True)
    assert cassette.played == [5, 7, 7]


def test_first_deploy_replays_the_recorded_endpoint_creation_lro(
    http, recorded_cloud, credential, transport
) -> None:
    """PUT 201 Creating -> mfeOperationsStatus Updating, Updating, Succeeded -> GET Succeeded."""
    recorded_cloud.fail_next(
        "GET",
        f"/onlineEndpoints/{RECORDED_ENDPOINT}?",
        Reply(
            404,
            {
                "error": {
                    "code": "UserError",
                    "message": "Not found",
                    "details": [{"code": "EndpointNotFound", "message": "no endpoint"}],
                }
            },
        ),
    )
    http.add(lambda ex: recorded_cloud(ex) if recorded_cloud.faults[0].times else None)
    cassette = http.add(Cassette(ENDPOINT_E2E, only=[0, 1, 2, 3, 4, 5, 6]))
    http.add(recorded_cloud)
    ws = recorded_cloud.workspace_for("dev")
    recorded_cloud.register_model(ws, RECORDED_MODEL, "3")
    ws.endpoints[RECORDED_ENDPOINT] = copy.deepcopy(
        load_recording(ENDPOINT_E2E)["Entries"][5]["ResponseBody"]
    )
    platform = adapter(recorded_settings(), credential, transport)

    op = platform.begin_deploy(RECORDED_MODEL, "3", "dev")
    deployment = op.wait(timeout=30)
    assert deployment.model_version == "3" and deployment.traffic == 0
    endpoint_messages = [m for m in op.messages if m.startswith(f"endpoint {RECORDED_ENDPOINT}")]
    assert endpoint_messages[-1].endswith("Succeeded")
    polls = [
        e
        for e in http.requests("GET", "/mfeOperationsStatus/oeidp:5881e5dc")
        if "0afe4281" in e.url
    ]
    assert len(polls) == 3, "the three recorded status polls were replayed"
    assert {1, 2, 3, 4} <= set(cassette.played)


def test_cancel_replays_the_recorded_cancel_operation(
    http, recorded_cloud, credential, transport
) -> None:
    entries = load_recording(PIPELINE)["Entries"]
    job = copy.deepcopy(entries[0]["ResponseBody"])  # the recorded job, status Preparing
    name = job["name"]
    cassette = http.add(Cassette(PIPELINE, only=[1, 2, 3]))
    http.add(
        Cassette(ENDPOINT_E2E, only=[0], repeat=True)
    )  # the recorded workspace, for id resolution

    def job_get(ex):  # GET of the recorded job (the recording has its PUT response only)
        if ex.method == "GET" and ex.path.endswith(f"/jobs/{name}"):
            if set(cassette.played) == {1, 2, 3}:
                job["properties"]["status"] = "Canceled"
            return Reply(200, job)
        return None

    http.add(job_get)
    http.add(recorded_cloud)  # run history: it does not know the recorded run (404), which is fine
    platform = adapter(recorded_settings(), credential, transport)
    assert platform.get_job("dev", name).status is JobStatus.QUEUED
    canceled = platform.cancel_job("dev", name)
    assert canceled.status is JobStatus.CANCELED
    # The SDK adds the tenant from the token's ``tid`` claim to studio links.
    assert canceled.url == (
        f"https://ml.azure.com/runs/{name}?wsid=/subscriptions/{SUB}/resourcegroups/{RG}"
        f"/workspaces/{WS}&tid={TENANT_ID}"
    )
    cassette.assert_all_played()


def test_registry_discovery_403_replayed(http, credential, transport) -> None:
    http.add(
        Cassette(
            "test_online_deployment.pyTestOnlineDeploymenttest_online_deployment_create_when_registry_assets.json"
        )
    )
    platform = adapter(recorded_settings(registry="sdkv2-testFeed"), credential, transport)
    with pytest.raises(PermissionDeniedError) as denied:
        platform.copy_version(RECORDED_MODEL, "3", "dev", "dev")
    assert "registry 'sdkv2-testFeed'" in str(denied.value)
    assert "'AzureML Registry User' role" in str(denied.value)


@pytest.mark.parametrize("variant", ["", "_with_non_200", "_with_partial_success"])
def test_traffic_log_queries_replay_the_logs_recordings(
    http, cloud, credential, transport, tmp_path, variant
) -> None:
    """Empty result: Azure Monitor numbers stand. 400 'cannot resolve table': the same, with a
    warning, because an endpoint without the diagnostic setting has no traffic log. A partial
    result whose table is not the traffic summary is ignored, with a warning."""

    http.handlers.insert(0, Cassette(LOGS.format(variant), only=[2]))
    platform = adapter(Settings.model_validate(azure_config(tmp_path)), credential, transport)
    platform.copy_version(MODEL, "3", "dev", "prod")
    platform.begin_deploy(MODEL, "3", "prod").wait(timeout=30)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    frame = platform.deployment_metrics(MODEL, "prod", end - timedelta(hours=1), end)
    assert frame["latency_p50_ms"].iloc[0] == 20.0
    assert len(http.requests("POST", "api.loganalytics.io")) == 1


def test_other_log_analytics_failures_are_reported(
    http, cloud, credential, transport, tmp_path
) -> None:

    cloud.fail_next(
        "POST",
        "api.loganalytics.io",
        Reply(400, {"error": {"code": "BadArgumentError", "message": "Query is too long"}}),
    )
    platform = adapter(Settings.model_validate(azure_config(tmp_path)), credential, transport)
    platform.copy_version(MODEL, "3", "dev", "prod")
    platform.begin_deploy(MODEL, "3", "prod").wait(timeout=30)
    end = datetime.now(UTC)
    with pytest.raises(InvalidRequestError, match="Query is too long"):
        platform.deployment_metrics(MODEL, "prod", end - timedelta(hours=1), end)


def test_unknown_job_is_not_found(http, recorded_cloud, credential, transport) -> None:
    http.add(recorded_cloud)
    platform = adapter(recorded_settings(), credential, transport)
    with pytest.raises(NotFoundError):
        platform.get_job("dev", "missing")
