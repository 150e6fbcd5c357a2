"""The `/mlops` subcommands and the dispatcher: text in, reply out, errors made readable."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from types import ModuleType, SimpleNamespace

from commands import (
    approvals,
    audit,
    backtest,
    deploy,
    drift,
    jobs,
    models,
    mute,
    perf,
    promote,
    retrain,
    rollback,
    status,
    unmute,
    usage,
)
from commands.context import CommandContext, CommandDenied
from commands.parsing import split_words, suggest
from core.inputs import UsageError
from core.replies import CommandHelp, ErrorReply, HelpReply, Reply
from infra.logs import redact
from infra.platform.base import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PlatformError,
    TransientError,
)

log = logging.getLogger(__name__)


def _help(ctx: CommandContext, words: list[str]) -> Reply:
    if words:  # `/mlops help backtest`: that command alone, with what else it takes
        by_name = commands_by_name()
        module = by_name.get(words[0].lower())
        if module is None or len(words) > 1:
            guess = suggest(words[0].lower(), by_name)
            what = (
                f"there is no command {words[0]!r}"  # `help nosuch`
                if module is None and len(words) == 1
                else f"expected one command name after help, got {' '.join(words)!r}"
            )
            raise UsageError(
                what,
                usage="/mlops help [command]",
                suggestion=guess,
            )
        one = CommandHelp(module.NAME, module.USAGE, module.SUMMARY, module.EXAMPLE)
        return HelpReply(commands=(one,), intro=getattr(module, "DETAILS", None))
    models = ", ".join(m.name for m in ctx.settings.models) or "none configured"
    envs = " -> ".join(ctx.settings.env_names)
    return HelpReply(commands=all_help(), intro=f"Models: {models}. Environments: {envs}.")


#: `/mlops help`: every subcommand with its usage and an example (it lists this table).
help = SimpleNamespace(
    NAME="help",
    USAGE="/mlops help [command]",
    SUMMARY="this list, or one command's usage",
    EXAMPLE="/mlops help backtest",
    run=_help,
)

#: Subcommand modules in the order `help` lists them. Each has NAME, USAGE, SUMMARY, EXAMPLE, run.
MODULES: list[ModuleType | SimpleNamespace] = [
    status,
    models,
    deploy,
    promote,
    approvals,
    rollback,
    retrain,
    jobs,
    drift,
    perf,
    usage,
    backtest,
    mute,
    unmute,
    audit,
    help,
]


def commands_by_name() -> dict[str, ModuleType | SimpleNamespace]:
    return {m.NAME: m for m in MODULES}


def all_help() -> tuple[CommandHelp, ...]:
    return tuple(CommandHelp(m.NAME, m.USAGE, m.SUMMARY, m.EXAMPLE) for m in MODULES)


def dispatch(ctx: CommandContext) -> Reply:
    """Run the command in ``ctx.invocation.text``; every failure becomes an ErrorReply (whose
    message never carries a secret an error happened to quote: it is shown and audited)."""
    reply = _dispatch(ctx)
    if isinstance(reply, ErrorReply):
        cleaned = redact(reply.message)
        if cleaned != reply.message:
            reply = replace(reply, message=cleaned)
    return reply


def _dispatch(ctx: CommandContext) -> Reply:
    by_name = commands_by_name()
    try:
        words = split_words(ctx.invocation.text)
        if not words:
            return help.run(ctx, [])
        name = words[0].lower()
        module = by_name.get(name)
        if module is None:
            guess = suggest(name, by_name)
            raise UsageError(
                f"unknown command {words[0]!r}",
                usage=by_name[guess].USAGE if guess else "/mlops help",
                suggestion=guess,
            )
        return module.run(ctx, words[1:])
    except UsageError as exc:
        return ErrorReply(message=exc.message, usage=exc.usage, suggestion=exc.suggestion)
    except CommandDenied as exc:
        return ErrorReply(message=str(exc))
    except NotFoundError as exc:
        return ErrorReply(message=f"Not found: {exc}")
    except PermissionDeniedError as exc:
        return ErrorReply(message=f"The bot is not allowed to do that on the platform: {exc}")
    except (ConflictError, InvalidRequestError) as exc:
        return ErrorReply(message=str(exc))
    except TransientError as exc:
        return ErrorReply(
            message=f"The platform did not answer in time ({exc}); nothing was changed, try again."
        )
    except PlatformError as exc:
        return ErrorReply(message=f"The platform refused: {exc}")
    except Exception:
        reference = uuid.uuid4().hex[:8]
        log.exception("command %r failed (reference %s)", ctx.invocation.text[:200], reference)
        return ErrorReply(
            message=f"Something went wrong on the bot's side (reference {reference}); the team can "
            "find the details in the bot's log."
        )
