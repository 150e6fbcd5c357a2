"""The bot's Azure identity: a missing workload identity is a configuration error, not a crash."""

from __future__ import annotations

import pytest

from infra.platform.azure.credentials import build_credential
from infra.settings import AzureCredentialConfig, ConfigError


def test_workload_identity_without_its_environment_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="AZURE_FEDERATED_TOKEN_FILE") as raised:
        build_credential(AzureCredentialConfig(kind="workload_identity"))
    assert raised.value.exit_code == 2


def test_workload_identity_with_its_environment_builds(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    token = tmp_path / "token"
    token.write_text("eyJ.fake.token")
    monkeypatch.setenv("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47")
    monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001")
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token))
    assert build_credential(AzureCredentialConfig(kind="workload_identity")) is not None
