"""Choose the ML platform adapter from the configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.platform.base import MLPlatform

if TYPE_CHECKING:
    from infra.settings import Settings


def build_platform(settings: Settings) -> MLPlatform:
    """The embedded local platform, or Azure ML when ``platform: azure`` is configured.

    Adapters are imported here, lazily, so the local default never loads the Azure SDKs.
    """
    if settings.platform == "local":
        from infra.platform.local import LocalPlatform

        return LocalPlatform(settings)
    if settings.platform == "azure":
        from infra.platform.azure import AzurePlatform

        return AzurePlatform(settings)
    raise ValueError(f"unknown platform {settings.platform!r}; expected 'local' or 'azure'")
