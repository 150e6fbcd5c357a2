"""`/mlops approvals [<model>]`: promotion requests waiting for a vote, rollouts in flight and
the last few that ended."""

from __future__ import annotations

from dataclasses import dataclass

from commands.context import CommandContext
from commands.parsing import parse_args
from core.promotion.book import ApprovalBook
from core.promotion.policy import ApprovalRules
from core.promotion.states import FINISHED, ApprovalSnapshot, ApprovalState
from core.replies import Reply, count_of

NAME = "approvals"
USAGE = "/mlops approvals [<model>]"
SUMMARY = "promotion requests waiting for approval, rollouts in progress and recent outcomes"
EXAMPLE = "/mlops approvals churn-model"

RECENT = 5


@dataclass(frozen=True)
class ApprovalsReply(Reply):
    model: str | None = None
    pending: tuple[ApprovalSnapshot, ...] = ()
    in_flight: tuple[ApprovalSnapshot, ...] = ()
    recent: tuple[ApprovalSnapshot, ...] = ()
    counted: tuple[int, ...] = ()
    """Approvals that count so far, one per pending request."""

    @property
    def fallback_text(self) -> str:
        waiting = count_of(len(self.pending), "promotion request")
        return f"{waiting} waiting for approval"


def run(ctx: CommandContext, words: list[str]) -> Reply:
    args = parse_args(words, options={}, usage=USAGE, max_positionals=1)
    model = ctx.model(args.positionals[0], usage=USAGE).name if args.positionals else None
    rules = ApprovalRules(ctx.settings, ctx.access)
    book = ApprovalBook(ctx.store, rules, ctx.clock)
    pending = book.in_states([ApprovalState.PENDING], model=model)
    counted = tuple(
        len(a.approvals_counted(rules.policy(a.target_env).allow_self_approval)) for a in pending
    )
    in_flight = book.in_states([ApprovalState.APPROVED, ApprovalState.ROLLING_OUT], model=model)
    recent = book.in_states(FINISHED, model=model, newest_first=True, limit=RECENT)
    return ApprovalsReply(
        model=model,
        pending=tuple(pending),
        in_flight=tuple(in_flight),
        recent=tuple(recent),
        counted=counted,
    )
