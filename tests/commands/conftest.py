"""Fixtures of the command tests: see tests/commands/support.py."""

from tests.commands.support import bench, command, restricted

__all__ = ["bench", "command", "restricted"]
