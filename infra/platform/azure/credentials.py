"""The bot's Azure identity, from configuration: never interactive, never a secret in the file.

``default`` walks azure-identity's chain (environment service principal, workload identity,
managed identity, Azure CLI for a developer's laptop) but never opens a browser: a bot has no one
at the keyboard. ``managed_identity`` and ``workload_identity`` pin the one credential the
deployment uses, so a misconfiguration fails fast with that credential's own error.
"""

from __future__ import annotations

from azure.core.credentials import TokenCredential
from azure.identity import (
    DefaultAzureCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

from infra.settings import AzureCredentialConfig, ConfigError


def build_credential(config: AzureCredentialConfig) -> TokenCredential:
    """The credential described by ``azure_credential:`` in the configuration."""
    client_id = config.managed_identity_client_id
    if config.kind == "managed_identity":
        return (
            ManagedIdentityCredential(client_id=client_id)
            if client_id
            else ManagedIdentityCredential()
        )
    if config.kind == "workload_identity":
        # AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_FEDERATED_TOKEN_FILE come from the AKS webhook;
        # an explicit client id overrides the injected one.
        try:
            return (
                WorkloadIdentityCredential(client_id=client_id)
                if client_id
                else WorkloadIdentityCredential()
            )
        except ValueError as exc:
            # azure-identity raises a bare ValueError when the webhook's variables are missing
            # (azure/identity/_credentials/workload_identity.py: "Missing required arguments").
            raise ConfigError(
                "azure_credential.kind is workload_identity, but the workload identity is not "
                "set up in this pod: set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
                "AZURE_FEDERATED_TOKEN_FILE (the AKS workload identity webhook injects them when "
                f"the pod's service account is annotated): {exc}"
            ) from None
    return DefaultAzureCredential(
        managed_identity_client_id=client_id,
        exclude_interactive_browser_credential=True,
        exclude_visual_studio_code_credential=True,
    )


def describe_credential(config: AzureCredentialConfig) -> str:
    """How the bot authenticates, in words for ``check-config`` (no secrets involved)."""
    if config.kind == "managed_identity":
        which = (
            f"client id {config.managed_identity_client_id}"
            if config.managed_identity_client_id
            else "system-assigned"
        )
        return f"managed identity ({which})"
    if config.kind == "workload_identity":
        return "workload identity (federated token from AZURE_FEDERATED_TOKEN_FILE)"
    return "DefaultAzureCredential (environment, workload identity, managed identity, Azure CLI)"
