"""Azure ML adapter of the platform port (see :mod:`bot.platform.azure.platform`)."""

from bot.platform.azure.platform import AzurePlatform

__all__ = ["AzurePlatform"]
