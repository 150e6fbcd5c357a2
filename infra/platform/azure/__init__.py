"""Azure ML adapter of the platform port (see :mod:`infra.platform.azure.platform`)."""

from infra.platform.azure.platform import AzurePlatform

__all__ = ["AzurePlatform"]
