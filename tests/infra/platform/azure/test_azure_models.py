"""Model versions across workspaces and the registry, and promotion by registry import."""

from __future__ import annotations

import pytest

from infra.platform.base import NotFoundError

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
