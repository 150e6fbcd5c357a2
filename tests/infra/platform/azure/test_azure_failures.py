"""Azure failures become typed errors that say what to do; throttling and 5xx are retried."""

from __future__ import annotations

import pytest

from infra.platform.base import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PlatformError,
    TransientError,
)

from .azure_replay import Reply
from .azure_world import MODEL

THROTTLED = Reply(
    429,
    {"error": {"code": "TooManyRequests", "message": "Rate limit exceeded"}},
    {"Retry-After": "0"},
)
UNAVAILABLE = Reply(503, {"error": {"code": "ServiceUnavailable", "message": "Try again later"}})


def test_throttling_and_5xx_are_retried_by_azure_core(platform, cloud, http, transport) -> None:
    cloud.fail_next("GET", "/workspaces/mlw-churn-dev/models", THROTTLED, times=2)
    cloud.fail_next("GET", "/workspaces/mlw-churn-dev/models", UNAVAILABLE, times=1)
    assert platform.list_models("dev") == [MODEL]
    assert len(http.requests("GET", "/workspaces/mlw-churn-dev/models?")) == 4
    assert transport.sleeps, "the retry policy backed off (through the transport, without sleeping)"


def test_persistent_503_ends_as_a_transient_error(platform, cloud) -> None:
    cloud.fail_next("GET", "/onlineEndpoints/churn-prod", UNAVAILABLE, times=10)
    with pytest.raises(TransientError) as failure:
        platform.endpoint_state(MODEL, "prod")
    assert failure.value.retryable and "HTTP 503" in str(failure.value)


def test_forbidden_names_the_role_and_the_scope(platform, cloud) -> None:
    cloud.deny("/workspaces/mlw-churn-prod/onlineEndpoints")
    with pytest.raises(PermissionDeniedError) as denied:
        platform.endpoint_state(MODEL, "prod")
    message = str(denied.value)
    assert (
        "not allowed to read endpoint 'churn-prod' in workspace 'mlw-churn-prod' (environment prod)"
        in message
    )
    assert "'AzureML Data Scientist' role on /subscriptions/" in message
    assert message.endswith("/workspaces/mlw-churn-prod)")


def test_registry_discovery_denied_names_the_registry_role(platform, cloud) -> None:
    cloud.deny("/registries/mlreg-shared/discovery")
    with pytest.raises(PermissionDeniedError, match="'AzureML Registry User' role"):
        platform.list_versions(MODEL, "prod")


def test_missing_job_says_what_and_where(platform) -> None:
    with pytest.raises(
        NotFoundError, match="job 'nope' does not exist in workspace 'mlw-churn-dev'"
    ):
        platform.get_job("dev", "nope")


def test_conflicting_operation_is_a_conflict(platform, cloud) -> None:
    platform.begin_deploy(MODEL, "3", "dev").wait(timeout=30)
    cloud.fail_next(
        "PUT",
        "/onlineEndpoints/churn-dev?",
        Reply(
            409,
            {
                "error": {
                    "code": "Conflict",
                    "message": "Operation on endpoint churn-dev is in progress.",
                }
            },
        ),
    )
    with pytest.raises(ConflictError, match=r"conflicting operation.*in progress"):
        platform.set_traffic(MODEL, "dev", {"churn-model-v3": 100})


def test_deployment_that_ends_failed_reports_the_error_and_the_container_log(
    platform, cloud
) -> None:
    cloud.deployment_failures["churn-model-v3"] = {
        "code": "ResourceNotReady",
        "message": "User container has crashed or terminated.",
    }
    op = platform.begin_deploy(MODEL, "3", "dev")
    with pytest.raises(PlatformError) as failed:
        op.wait(timeout=30)
    message = str(failed.value)
    assert "could not create deployment 'churn-model-v3'" in message
    assert "ResourceNotReady" in message and "User container has crashed" in message
    assert "model failed to load: out of memory" in message, "the log tail is attached"
    assert any("Failed" in m for m in op.messages)
    state = platform.endpoint_state(MODEL, "dev")
    assert not state.deployment("churn-model-v3").healthy


def test_quota_failure_names_quota_and_region(platform, cloud) -> None:
    cloud.deployment_failures["churn-model-v3"] = {
        "code": "OutOfQuota",
        "message": "Not enough quota available for Standard_DS3_v2 in SubscriptionId x. Current usage/limit: 8/10.",
    }
    with pytest.raises(InvalidRequestError) as failed:
        platform.begin_deploy(MODEL, "3", "dev").wait(timeout=30)
    assert "Not enough Azure quota in region westeurope" in str(failed.value)
    assert "quota increase" in str(failed.value)


def test_check_fails_when_a_workspace_is_out_of_reach(platform, cloud) -> None:
    platform.check()
    cloud.deny("/workspaces/mlw-churn-preprod")
    with pytest.raises(PermissionDeniedError, match="mlw-churn-preprod"):
        platform.check()


def test_submitting_without_write_access_names_the_role(platform, cloud) -> None:
    cloud.deny("/workspaces/mlw-churn-dev/jobs/", method="PUT")
    with pytest.raises(PermissionDeniedError, match="submit the retraining job of 'churn-model'"):
        platform.submit_training(MODEL, "dev", {})


def test_missing_reference_asset_is_not_found(platform) -> None:
    with pytest.raises(
        NotFoundError, match="data asset 'azureml:churn-reference:1' does not exist"
    ):
        platform.reference_data(MODEL)
