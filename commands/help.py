"""`/mlops help`: every subcommand with its usage and an example."""

from __future__ import annotations

from commands.context import CommandContext
from core.replies import HelpReply, Reply

NAME = "help"
USAGE = "/mlops help"
SUMMARY = "this list"
EXAMPLE = "/mlops help"


def run(ctx: CommandContext, words: list[str]) -> Reply:
    from commands.registry import all_help

    models = ", ".join(m.name for m in ctx.settings.models) or "none configured"
    envs = " -> ".join(ctx.settings.env_names)
    return HelpReply(commands=all_help(), intro=f"Models: {models}. Environments: {envs}.")
