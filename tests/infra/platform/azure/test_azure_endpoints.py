"""Endpoints and blue/green deployments through the real SDK, against the fake cloud."""

from __future__ import annotations

import pytest

from infra.platform.base import ConflictError, InvalidRequestError, NotFoundError

from .azure_world import MODEL


def deploy(platform, version: str, env: str = "dev", **kwargs):
    op = platform.begin_deploy(MODEL, version, env, **kwargs)
    return op, op.wait(timeout=30)


def test_missing_endpoint_reads_as_not_existing(platform) -> None:
    state = platform.endpoint_state(MODEL, "dev")
    assert (state.endpoint, state.exists, state.deployments) == ("churn-dev", False, ())


def test_first_deploy_creates_the_endpoint_and_a_collecting_deployment_at_zero_traffic(
    platform, http
) -> None:
    op, deployment = deploy(platform, "3")
    assert (deployment.name, deployment.model_version, deployment.traffic) == (
        "churn-model-v3",
        "3",
        0,
    )
    assert deployment.healthy and deployment.instance_type == "Standard_DS3_v2"
    assert any("creating endpoint churn-dev" in m for m in op.messages)
    assert any(
        m.startswith("deployment churn-model-v3: ") and "Succeeded" in m for m in op.messages
    )

    put = http.requests("PUT", "/onlineEndpoints/churn-dev/deployments/churn-model-v3")[0].json()[
        "properties"
    ]
    assert put["model"].endswith(f"/workspaces/mlw-churn-dev/models/{MODEL}/versions/3")
    collections = put["dataCollector"]["collections"]
    assert {k: v["dataCollectionMode"].lower() for k, v in collections.items()} == {
        "model_inputs": "enabled",
        "model_outputs": "enabled",
    }
    assert put["dataCollector"]["rollingRate"] == "Hour", "explicit, not the service default"

    state = platform.endpoint_state(MODEL, "dev")
    assert (
        state.exists
        and state.scoring_url == "https://churn-dev.westeurope.inference.ml.azure.com/score"
    )
    assert state.serving == ()


def test_traffic_shift_and_mirroring(platform) -> None:
    deploy(platform, "2")
    deploy(platform, "3")
    state = platform.set_traffic(MODEL, "dev", {"churn-model-v2": 90, "churn-model-v3": 10})
    assert [(d.name, d.traffic) for d in state.serving] == [
        ("churn-model-v2", 90),
        ("churn-model-v3", 10),
    ]
    state = platform.set_traffic(
        MODEL, "dev", {"churn-model-v2": 100}, mirror={"churn-model-v3": 20}
    )
    assert (
        state.deployment("churn-model-v3").mirror_traffic == 20
        and state.primary.name == "churn-model-v2"
    )


@pytest.mark.parametrize(
    ("traffic", "mirror", "message"),
    [
        ({"churn-model-v2": 60, "churn-model-v3": 30}, None, "add up to 100"),
        ({"blue": 100}, None, "not on endpoint 'churn-dev'"),
        ({"churn-model-v2": 100}, {"churn-model-v3": 60}, "at most 50%"),
        ({"churn-model-v2": 50, "churn-model-v3": 50}, {"churn-model-v3": 10}, "live and mirrored"),
    ],
)
def test_impossible_splits_are_refused_before_azure(
    platform, http, traffic, mirror, message
) -> None:
    deploy(platform, "2")
    deploy(platform, "3")
    puts = len(http.requests("PUT", "/onlineEndpoints/churn-dev?"))
    with pytest.raises(InvalidRequestError, match=message):
        platform.set_traffic(MODEL, "dev", traffic, mirror)
    assert len(http.requests("PUT", "/onlineEndpoints/churn-dev?")) == puts


def test_new_deployment_reuses_the_serving_runtime_and_the_registry_model_above_dev(
    platform, cloud, http
) -> None:
    platform.copy_version(MODEL, "2", "dev", "prod")
    deploy(platform, "2", "prod", instance_type="Standard_F4s_v2", instance_count=3)
    prod = cloud.workspace_for("prod")
    serving = prod.deployments["churn-prod"]["churn-model-v2"]["properties"]
    serving["environmentId"] = f"{prod.arm_id}/environments/churn-env/versions/4"
    serving["codeConfiguration"] = {
        "codeId": f"{prod.arm_id}/codes/score/versions/1",
        "scoringScript": "score.py",
    }
    platform.set_traffic(MODEL, "prod", {"churn-model-v2": 100})

    platform.copy_version(MODEL, "3", "dev", "prod")
    _, deployment = deploy(platform, "3", "prod")
    assert (deployment.instance_type, deployment.instance_count) == ("Standard_F4s_v2", 3)
    put = http.requests("PUT", "/onlineEndpoints/churn-prod/deployments/churn-model-v3")[0].json()[
        "properties"
    ]
    assert put["model"] == f"azureml://registries/mlreg-shared/models/{MODEL}/versions/3"
    assert put["environmentId"].endswith("/environments/churn-env/versions/4")
    assert put["codeConfiguration"]["scoringScript"] == "score.py"


def test_deploying_a_version_prod_cannot_see_fails_at_once(platform) -> None:
    with pytest.raises(NotFoundError, match="promote it first"):
        platform.begin_deploy(MODEL, "3", "prod")


def test_deployment_names_must_be_free_and_valid(platform) -> None:
    deploy(platform, "3")
    with pytest.raises(ConflictError, match="already exists"):
        platform.begin_deploy(MODEL, "3", "dev", deployment_name="churn-model-v3")
    with pytest.raises(InvalidRequestError, match="3-32 letters"):
        platform.begin_deploy(MODEL, "3", "dev", deployment_name="9x")
    _, again = deploy(platform, "3")
    assert again.name == "churn-model-v3-2"


def test_smoke_test_posts_to_one_deployment_with_the_endpoint_key(platform, cloud) -> None:
    deploy(platform, "3")
    rows = [
        {"tenure_months": 80, "monthly_charges": 70.5, "contract": "monthly"},
        {"tenure_months": 2, "monthly_charges": 20.0, "contract": "yearly"},
    ]
    result = platform.smoke_test(MODEL, "dev", "churn-model-v3", rows)
    assert result.ok and result.response == {"predictions": [1, 0]} and "HTTP 200" in result.detail
    sent = cloud.scoring_requests[-1]
    assert sent.headers["azureml-model-deployment"] == "churn-model-v3"
    assert sent.headers["Authorization"] == "Bearer key-churn-dev"
    assert sent.json()["input_data"]["columns"] == ["tenure_months", "monthly_charges", "contract"]

    bad = platform.smoke_test(MODEL, "dev", "churn-model-v3", {"rows": []})
    assert not bad.ok and "HTTP 424" in bad.detail


def test_smoke_test_of_an_unknown_deployment_is_not_found(platform) -> None:
    deploy(platform, "3")
    with pytest.raises(NotFoundError, match="deployment 'green' not found"):
        platform.smoke_test(MODEL, "dev", "green", {"input_data": []})


def test_delete_refuses_a_serving_deployment_then_deletes_a_retired_one(platform, cloud) -> None:
    deploy(platform, "2")
    deploy(platform, "3")
    platform.set_traffic(MODEL, "dev", {"churn-model-v3": 100})
    with pytest.raises(ConflictError, match="still takes 100%"):
        platform.begin_delete_deployment(MODEL, "dev", "churn-model-v3")
    op = platform.begin_delete_deployment(MODEL, "dev", "churn-model-v2")
    assert op.wait(timeout=30) is None
    assert [d.name for d in platform.endpoint_state(MODEL, "dev").deployments] == ["churn-model-v3"]
    assert "churn-model-v2" not in cloud.workspace_for("dev").deployments["churn-dev"]
