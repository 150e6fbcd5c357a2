"""`/mlops audit <model> [--env E] [--request ID] [--limit N]`: the trail of what happened.

Who requested, who voted (and who was refused, and why), every state change of a promotion and
every rollout step with its time, oldest first, from the append-only audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.context import CommandContext
from commands.parsing import parse_args
from core.inputs import UsageError
from core.promotion.states import APPROVAL_ID
from core.replies import Reply
from infra.store import AuditRecord

NAME = "audit"
USAGE = "/mlops audit <model> [--env E] [--request ID] [--limit 50]"
SUMMARY = "the audit trail: requests, votes, state changes and rollout steps with times"
EXAMPLE = "/mlops audit churn-model --env prod"

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class AuditReply(Reply):
    model: str = ""
    environment: str | None = None
    request: str | None = None
    entries: tuple[AuditRecord, ...] = ()
    """Oldest first."""
    truncated: bool = False
    """True when older entries exist beyond the limit."""

    @property
    def fallback_text(self) -> str:
        where = f" in {self.environment}" if self.environment else ""
        return f"Audit trail of {self.model}{where}: {len(self.entries)} entries"


def run(ctx: CommandContext, words: list[str]) -> Reply:
    args = parse_args(
        words,
        options={"env": True, "request": True, "limit": True},
        usage=USAGE,
        max_positionals=1,
    )
    if not args.positionals:
        raise ctx.no_model(usage=USAGE)
    model = ctx.model(args.positionals[0], usage=USAGE)
    env = ctx.env(str(args.options["env"]), usage=USAGE) if "env" in args.options else None
    request = str(args.options["request"]).lower() if "request" in args.options else None
    if request is not None and not APPROVAL_ID.fullmatch(request):
        raise UsageError(
            f"expected a request id like 3f9c2a7b1d04 (shown on the card), got {request!r}",
            usage=USAGE,
        )
    limit_text = str(args.options.get("limit", DEFAULT_LIMIT))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise UsageError(
            f"--limit must be a number from 1 to {MAX_LIMIT}, got {limit_text!r}", usage=USAGE
        )
    limit = int(limit_text)
    newest = ctx.store.audit_trail(
        model=model.name, environment=env, subject=request, limit=limit + 1
    )
    return AuditReply(
        model=model.name,
        environment=env,
        request=request,
        entries=tuple(reversed(newest[:limit])),
        truncated=len(newest) > limit,
    )
