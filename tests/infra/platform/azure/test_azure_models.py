"""Model versions across workspaces and the registry, and promotion by registry import."""

from __future__ import annotations

import pytest

from infra.platform.base import ConflictError, NotFoundError

from .azure_world import MODEL


def test_versions_come_newest_first_with_tags_metrics_and_job(platform) -> None:
    assert platform.list_models("dev") == [MODEL]
    versions = platform.list_versions(MODEL, "dev")
    assert [v.version for v in versions] == ["3", "2", "1"]
    newest = versions[0]
    assert (newest.source, newest.training_job) == ("dev", "train-job-3")
    assert newest.tags["stage"] == "candidate"
    assert newest.metrics == {"accuracy": 0.73, "auc": 0.83}


def test_get_version_says_where_it_looked(platform) -> None:
    assert platform.get_version(MODEL, "2", "dev").version == "2"
    with pytest.raises(NotFoundError) as missing:
        platform.get_version(MODEL, "9", "prod")
    assert "mlw-churn-prod" in str(missing.value) and "mlreg-shared" in str(missing.value)


def test_promotion_imports_into_the_registry_once(platform, cloud, http) -> None:
    assert platform.list_versions(MODEL, "preprod") == []
    copied = platform.copy_version(MODEL, "2", "dev", "preprod")
    assert (copied.version, copied.source, copied.training_job) == ("2", "registry", "train-job-2")
    imports = http.requests("POST", "/registries/mlreg-shared/import")
    assert len(imports) == 1
    source = imports[0].json()["properties"]
    dev = cloud.workspace_for("dev")
    assert (
        source["sourceAssetId"]
        == f"azureml://locations/westeurope/workspaces/{dev.workspace_id}/models/{MODEL}/versions/2"
    )
    assert (source["destinationName"], source["destinationVersion"]) == (MODEL, "2")

    again = platform.copy_version(MODEL, "2", "dev", "preprod")
    assert again.version == "2"
    assert len(http.requests("POST", "/import")) == 1, (
        "an existing registry version is not imported twice"
    )

    prod_versions = platform.list_versions(MODEL, "prod")
    assert [(v.version, v.source) for v in prod_versions] == [("2", "registry")]
    dev_versions = {v.version: v.source for v in platform.list_versions(MODEL, "dev")}
    assert dev_versions == {"1": "dev", "2": "dev", "3": "dev"}


def test_promoting_a_version_that_does_not_exist_fails_clearly(platform) -> None:
    with pytest.raises(
        NotFoundError, match="version 7 of model 'churn-model' is not in workspace 'mlw-churn-dev'"
    ):
        platform.copy_version(MODEL, "7", "dev", "preprod")


# Registry bodies: Registry/ModelVersion/get.json (azure-rest-api-specs 2024-10-01 example) with
# properties.originAssetId set to the import's sourceAssetId (an assumption; see
# azure_fake_services.registry_copy_of). The import request is azure-ai-ml 1.35's
# WorkspaceAssetReference._to_rest_object (destinationName/destinationVersion/sourceAssetId).


def test_a_same_numbered_registry_version_from_another_workspace_is_not_the_promoted_one(
    platform, cloud, http
) -> None:
    preprod = cloud.workspace_for("preprod")
    cloud.register_model(preprod, MODEL, "3", job="someone-elses-job")
    cloud.import_into_registry(preprod, MODEL, "3")

    with pytest.raises(ConflictError) as conflict:
        platform.copy_version(MODEL, "3", "dev", "preprod")
    message = str(conflict.value)
    assert f"workspaces/{preprod.workspace_id}/models/{MODEL}/versions/3" in message
    assert "mlw-churn-dev" in message and "new version number" in message
    assert http.requests("POST", "/import") == [], "nothing is imported over it"


def test_a_version_the_registry_imported_from_the_source_counts_as_promoted(
    platform, cloud, http
) -> None:
    cloud.import_into_registry(cloud.workspace_for("dev"), MODEL, "3")
    copied = platform.copy_version(MODEL, "3", "dev", "prod")
    assert (copied.version, copied.source) == ("3", "registry")
    assert http.requests("POST", "/import") == []
    # preprod serves the registry's copy (no version of its own): promoting on from it is a no-op.
    assert platform.copy_version(MODEL, "3", "preprod", "prod").source == "registry"


def test_a_promoted_version_deploys_from_the_registry_not_a_same_numbered_local_model(
    platform, cloud, http
) -> None:
    prod = cloud.workspace_for("prod")
    cloud.register_model(prod, MODEL, "2", job="a-stray-local-job")
    platform.copy_version(MODEL, "2", "dev", "prod")

    versions = {
        v.version: (v.source, v.training_job) for v in platform.list_versions(MODEL, "prod")
    }
    assert versions == {"2": ("registry", "train-job-2")}
    assert platform.get_version(MODEL, "2", "prod").source == "registry"

    platform.begin_deploy(MODEL, "2", "prod").wait(30)
    created = [e.json() for e in http.requests("PUT", "/deployments/")]
    assert created, "a deployment was created"
    assert created[-1]["properties"]["model"] == (
        f"azureml://registries/mlreg-shared/models/{MODEL}/versions/2"
    )


def test_the_training_environment_keeps_its_own_version_when_the_registry_has_another(
    platform, cloud
) -> None:
    preprod = cloud.workspace_for("preprod")
    cloud.register_model(preprod, MODEL, "3", job="someone-elses-job")
    cloud.import_into_registry(preprod, MODEL, "3")
    mine = platform.get_version(MODEL, "3", "dev")
    assert (mine.source, mine.training_job) == ("dev", "train-job-3")
