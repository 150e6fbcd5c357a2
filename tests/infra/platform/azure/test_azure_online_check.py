"""check-config --online: reachability and permissions of each workspace and the registry."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ClientAuthenticationError

from infra.platform.azure.online_check import CheckResult, allowed, check_azure_access


def run(settings, credential, transport) -> list[CheckResult]:
    return check_azure_access(
        settings, credential, client_options={"transport": transport, "polling_interval": 0}
    )


def failures(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if not r.ok]


def test_everything_granted_passes_every_check(
    azure_settings, cloud, credential, transport
) -> None:
    results = run(azure_settings, credential, transport)
    assert failures(results) == []
    checks = {(r.target, r.check) for r in results}
    for ws, env in (
        ("mlw-churn-dev", "dev"),
        ("mlw-churn-preprod", "preprod"),
        ("mlw-churn-prod", "prod"),
    ):
        target = f"workspace '{ws}' (environment {env})"
        assert {
            (target, "reachable"),
            (target, "permissions"),
            (f"storage of {target}", "collected data"),
        } <= checks
    assert ("registry 'mlreg-shared'", "permissions") in checks
    assert any(r.check == "traffic log" for r in results), "prod has a Log Analytics workspace"
    identity = results[0]
    assert identity.check == "token" and "tenant 72f988bf" in identity.detail


def test_missing_roles_are_named_with_their_scope_and_purpose(
    azure_settings, cloud, credential, transport
) -> None:
    prod = cloud.workspace_for("prod")
    everything = {
        "AzureML Data Scientist",
        "Monitoring Reader",
        "Storage Blob Data Reader",
        "Log Analytics Reader",
    }
    cloud.role_assignments = {
        cloud.workspace_for("dev").arm_id: everything,
        cloud.workspace_for("preprod").arm_id: everything,
        prod.arm_id: {"Monitoring Reader"},
        cloud.registry.arm_id: {"Monitoring Reader"},
    }
    problems = failures(run(azure_settings, credential, transport))
    assert [(p.target, p.check) for p in problems] == [
        ("workspace 'mlw-churn-prod' (environment prod)", "permissions"),
        ("registry 'mlreg-shared'", "permissions"),
    ]
    (prod_fix,) = problems[0].missing
    # Monitoring Reader's */read covers the reads; the writes need the workspace role.
    assert prod_fix.startswith(
        f"grant 'AzureML Data Scientist' on {prod.arm_id} (needed to create endpoints"
    )
    assert "read model versions" not in prod_fix
    assert "create deployments" in prod_fix and "submit retraining jobs" not in prod_fix, (
        "prod does not train"
    )
    assert problems[1].missing == (
        f"grant 'AzureML Registry User' on {cloud.registry.arm_id} "
        "(needed to import model versions into the registry)",
    )


def test_unreachable_registry_storage_and_traffic_log_say_what_to_fix(
    azure_settings, cloud, credential, transport
) -> None:
    cloud.deny("/registries/mlreg-shared/discovery")
    cloud.blob_denied_accounts.add(cloud.workspace_for("preprod").storage_account)
    cloud.traffic_log_table = False
    problems = {
        (p.target, p.check): p for p in failures(run(azure_settings, credential, transport))
    }
    registry = problems[("registry 'mlreg-shared'", "reachable")]
    assert "AzureML Registry User" in registry.missing[0]
    storage = problems[
        ("storage of workspace 'mlw-churn-preprod' (environment preprod)", "collected data")
    ]
    assert "Storage Blob Data Reader" in storage.missing[0]
    assert cloud.workspace_for("preprod").storage_id in storage.missing[0]
    (log,) = [p for p in problems.values() if p.check == "traffic log"]
    assert (
        "diagnostic setting" in log.missing[0] and "AmlOnlineEndpointTrafficLog" in log.missing[0]
    )


def test_no_token_stops_early_with_the_identity_to_fix(azure_settings, http, transport) -> None:
    class NoIdentity:
        def get_token(self, *scopes, **kwargs):
            raise ClientAuthenticationError(
                "ManagedIdentityCredential: no managed identity endpoint found"
            )

    results = run(azure_settings, NoIdentity(), transport)
    assert len(results) == 1 and not results[0].ok
    assert "no managed identity endpoint" in results[0].detail
    assert "AZURE_FEDERATED_TOKEN_FILE" in results[0].missing[0]
    assert http.exchanges == []


@pytest.mark.parametrize(
    ("action", "entries", "expected"),
    [
        (
            "Microsoft.MachineLearningServices/workspaces/jobs/write",
            [{"actions": ["Microsoft.MachineLearningServices/workspaces/*/write"]}],
            True,
        ),
        (
            "Microsoft.MachineLearningServices/workspaces/computes/x/write",
            [
                {
                    "actions": ["Microsoft.MachineLearningServices/workspaces/*/write"],
                    "notActions": ["Microsoft.MachineLearningServices/workspaces/computes/*/write"],
                }
            ],
            False,
        ),
        ("microsoft.insights/metrics/read", [{"actions": ["*/read"]}], True),
        (
            "Microsoft.MachineLearningServices/workspaces/jobs/write",
            [{"actions": ["*/read"]}],
            False,
        ),
    ],
)
def test_wildcards_and_not_actions(action, entries, expected) -> None:
    assert allowed(action, entries) is expected


def test_a_monitored_deployment_without_data_collection_is_a_warning(
    azure_settings, cloud, credential, transport
) -> None:
    """Deployment bodies: OnlineDeployment/ManagedOnlineDeployment/get.json (2024-10-01 spec
    example) as the fake fills them; ``properties.dataCollector`` as azure-ai-ml 1.35 sends it."""
    from infra.platform.azure import AzurePlatform

    adapter = AzurePlatform(
        azure_settings,
        credential=credential,
        client_options={"transport": transport, "polling_interval": 0},
    )
    adapter.copy_version("churn-model", "3", "dev", "prod")
    deployed = adapter.begin_deploy("churn-model", "3", "prod").wait(timeout=30)
    adapter.close()

    def collection(results: list[CheckResult]) -> CheckResult:
        (found,) = [r for r in results if r.check == "data collection"]
        return found

    good = collection(run(azure_settings, credential, transport))
    assert good.ok and not good.warning, good
    assert good.target == "endpoint 'churn-prod' in workspace 'mlw-churn-prod' (environment prod)"

    body = cloud.workspace_for("prod").deployments["churn-prod"][deployed.name]
    collector = body["properties"].pop("dataCollector")
    assert collector["collections"]["model_inputs"]["dataCollectionMode"] == "Enabled"
    results = run(azure_settings, credential, transport)
    bad = collection(results)
    assert bad.ok and bad.warning, "a warning, not a failure: check-config still exits 0"
    assert f"'{deployed.name}' does not collect model_inputs, model_outputs" in bad.detail
    assert "azureml-ai-monitoring Collector" in bad.missing[0]
    assert str(bad).startswith("[warn]") and failures(results) == []
