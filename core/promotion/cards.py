"""What the promotion desk tells people, as data: the request card, the link to it, and the
lines of the card's thread (a vote, the approval, a rollout step, a note, the end).

All strings here are plain domain values; the Slack layer (:mod:`bot.slack.blocks.approval`)
renders each reply, adding mentions, emoji and escaping. A thread line's :attr:`ThreadLine.key`
identifies what it says, so the same line is posted once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from core.promotion.policy import PolicySummary
from core.promotion.states import ApprovalSnapshot, ApprovalState
from core.publisher import digest
from core.replies import Reply, Step


@dataclass(frozen=True)
class ApprovalCardReply(Reply):
    """The request card in the approvals channel, rendered from the store's state."""

    approval: ApprovalSnapshot | None = None
    policy: PolicySummary | None = None
    public: bool = True

    @property
    def fallback_text(self) -> str:
        a = self.approval
        if a is None:
            return "Promotion request"
        return (
            f"Promotion request: {a.model} v{a.version} {a.source_env} -> {a.target_env} "
            f"({a.state.label})"
        )


#: Headline metrics a promotion is compared on, and whether higher is better.
HIGHER_IS_BETTER = {"accuracy": True, "f1": True, "roc_auc": True, "r2": True}
LOWER_IS_BETTER = {"mae": False, "rmse": False}
COMPARED_METRICS = {**HIGHER_IS_BETTER, **LOWER_IS_BETTER}
#: Differences smaller than this are noise of the evaluation, not a worse model.
REGRESSION_TOLERANCE = 0.001


@dataclass(frozen=True)
class MetricChange:
    metric: str
    change: float
    """Candidate minus serving (negative accuracy change, positive rmse change: worse)."""


def metric_regressions(approval: ApprovalSnapshot) -> list[MetricChange]:
    """The version metrics on which the candidate is worse than what served the target when
    the promotion was requested; empty when it is as good or there is nothing to compare.

    Approvers decide on this, so the card and the confirm dialog show it prominently rather
    than leaving it to a reader to work out from two rows of numbers.
    """
    new = (approval.context.get("source") or {}).get("metrics") or {}
    old = (approval.context.get("target") or {}).get("metrics") or {}
    if not (approval.context.get("target") or {}).get("version"):
        return []
    worse = []
    for metric, higher_better in COMPARED_METRICS.items():
        if metric in new and metric in old:
            change = float(new[metric]) - float(old[metric])
            if (-change if higher_better else change) > REGRESSION_TOLERANCE:
                worse.append(MetricChange(metric, change))
    return worse


#: Request context key: until when (epoch seconds) the desk leaves the card's link to the
#: command's answer, which waits that long for the card, so the requester gets one message.
LINK_WITH_ANSWER_UNTIL = "link_with_answer_until"


@dataclass(frozen=True)
class CardLinkReply(Reply):
    """Tells the requester where their request card is: the command's own answer when the
    card was up in time (``title`` and ``detail`` say what the request needs), else a follow-up
    from the desk."""

    approval: ApprovalSnapshot | None = None
    link: str | None = None
    title: str = ""
    detail: str = ""

    @property
    def fallback_text(self) -> str:
        a = self.approval
        return f"Your promotion request for {a.model} v{a.version} is posted" if a else "Posted"


# --------------------------------------------------------------------------- thread lines


@dataclass(frozen=True)
class ThreadLine(Reply):
    """A line posted in the thread of a request card."""

    public: bool = True

    @property
    def key(self) -> str:
        """A fingerprint of what the line says (its fields), for the outbox's dedupe key."""
        values = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return digest(f"{type(self).__name__}({values})")


@dataclass(frozen=True)
class StepLine(ThreadLine):
    """A rollout step that finished (done, failed) or was settled."""

    step: Step | None = None

    @property
    def fallback_text(self) -> str:
        return f"{self.step.label}: {self.step.state.value}" if self.step else "Rollout step"


@dataclass(frozen=True)
class NoteLine(ThreadLine):
    """A note about the rollout (resumed, reconciled, rolled back after a restart)."""

    note: str = ""

    @property
    def fallback_text(self) -> str:
        return self.note


@dataclass(frozen=True)
class VoteLine(ThreadLine):
    """``voter`` approved; ``counted`` of ``required`` approvals count now."""

    voter: str = ""
    counted: int = 0
    required: int = 0

    @classmethod
    def of(cls, approval: ApprovalSnapshot, voter: str, counted: int) -> VoteLine:
        return cls(voter=voter, counted=counted, required=approval.required)

    @property
    def fallback_text(self) -> str:
        return f"{self.voter} approved ({self.counted} of {self.required})."


@dataclass(frozen=True)
class ApprovedLine(ThreadLine):
    """The policy is met: the rollout starts."""

    approvers: tuple[str, ...] = ()
    model: str = ""
    version: str = ""
    target_env: str = ""

    @classmethod
    def of(cls, approval: ApprovalSnapshot) -> ApprovedLine:
        return cls(
            approvers=tuple(approval.approvers),
            model=approval.model,
            version=approval.version,
            target_env=approval.target_env,
        )

    @property
    def fallback_text(self) -> str:
        return f"Approved. Rolling out {self.model} v{self.version} to {self.target_env}."


@dataclass(frozen=True)
class ClosedLine(ThreadLine):
    """A request that ended before any rollout: rejected, expired or canceled."""

    state: ApprovalState = ApprovalState.CANCELED
    requester: str = ""
    rejector: str | None = None
    reason: str = ""
    approvals: int = 0
    required: int = 0

    @classmethod
    def of(cls, approval: ApprovalSnapshot) -> ClosedLine:
        rejects = [v.user for v in approval.votes if v.decision == "reject"]
        return cls(
            state=approval.state,
            requester=approval.requester,
            rejector=rejects[-1] if rejects else None,
            reason=approval.reason or "",
            approvals=len(approval.approvers),
            required=approval.required,
        )

    @property
    def fallback_text(self) -> str:
        return f"The promotion request was {self.state.label}."


@dataclass(frozen=True)
class EndedLine(ThreadLine):
    """A rollout ended (succeeded, rolled back, failed); ``people`` are told (the requester and
    the approvers)."""

    state: ApprovalState = ApprovalState.SUCCEEDED
    people: tuple[str, ...] = ()
    model: str = ""
    version: str = ""
    target_env: str = ""
    reason: str = ""
    before: str = "the previous version"

    @classmethod
    def of(cls, approval: ApprovalSnapshot) -> EndedLine:
        people: list[str] = []
        for person in [approval.requester, *approval.approvers]:
            if person not in people:
                people.append(person)
        target = approval.context.get("target") or {}
        return cls(
            state=approval.state,
            people=tuple(people),
            model=approval.model,
            version=approval.version,
            target_env=approval.target_env,
            reason=approval.reason or "",
            before=str(target.get("serving", "the previous version")),
        )

    @property
    def fallback_text(self) -> str:
        subject = f"{self.model} v{self.version}"
        return f"The promotion of {subject} to {self.target_env}: {self.state.label}."
