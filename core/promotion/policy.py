"""The approval policy of each environment: who may approve, reject or cancel, how many votes
count, and the freeze windows during which nothing is promoted.

:class:`ApprovalRules` applies the configuration to one user and one request and answers with
a :class:`core.access.Decision` that names the rule; :class:`PolicySummary` is the policy as the
card and the command replies show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.access import AccessPolicy, Decision
from core.promotion.evidence import approval_gate
from core.promotion.states import ApprovalSnapshot
from infra.cron import crontab_trigger
from infra.durations import format_duration
from infra.settings import ApprovalPolicy, FreezeWindow, Principals, Settings

# --------------------------------------------------------------------------- freeze windows


@dataclass(frozen=True)
class ActiveFreeze:
    window: FreezeWindow
    started: datetime
    ends: datetime

    def describe(self, env: str) -> str:
        return (
            f"promotions into {env} are frozen until {self.ends:%Y-%m-%d %H:%M} UTC: "
            f"{self.window.reason} (freeze window '{self.window.cron}' for "
            f"{format_duration(self.window.duration)})"
        )


def active_freeze(windows: Sequence[FreezeWindow], at: datetime) -> ActiveFreeze | None:
    """The freeze window covering ``at``, if any.

    ``at`` is frozen when some firing ``s`` of the window's cron satisfies
    ``s <= at < s + duration``; the earliest firing at or after ``at - duration`` is the only
    candidate (or the next one, when that first firing ends exactly at ``at``).
    """
    for window in windows:
        trigger = crontab_trigger(window.cron)
        start = trigger.get_next_fire_time(None, at - window.duration)
        if start is not None and start + window.duration <= at:
            start = trigger.get_next_fire_time(None, start + timedelta(seconds=1))
        if start is not None and start <= at < start + window.duration:
            return ActiveFreeze(window, start, start + window.duration)
    return None


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class PolicySummary:
    """The policy as the card and the command reply show it."""

    approvers: Principals
    required: int
    self_approval: bool
    production: bool
    expiry: timedelta
    shadow_required: bool = False
    """``approval.shadow.required``: Approve waits for the shadow evidence."""

    def describe(self, approvers: str | None = None) -> str:
        """Plain text; ``approvers`` replaces the default plain list (e.g. with mentions)."""
        if self.required == 0:
            return "no approval needed (direct deploys are allowed here)"
        who = approvers if approvers is not None else plain_principals(self.approvers)
        plural = "s" if self.required > 1 else ""
        own = (
            "the requester may approve too"
            if self.self_approval
            else "the requester's own approval never counts"
        )
        return f"{self.required} distinct approval{plural} from {who}; {own}"

    @property
    def text(self) -> str:
        return self.describe()


def plain_principals(principals: Principals) -> str:
    """``U012AB, @ml-approvers`` (no mrkdwn), for text that is escaped later."""
    if principals.everyone:
        return "anyone"
    names = [*principals.users, *(f"@{g}" for g in principals.groups)]
    return ", ".join(names) if names else "nobody"


class ApprovalRules:
    """The configured policy of each environment, applied to one user and one request."""

    def __init__(self, settings: Settings, access: AccessPolicy) -> None:
        self.settings = settings
        self.access = access

    def policy(self, env: str) -> ApprovalPolicy:
        return self.settings.environment(env).approval

    def is_production(self, env: str) -> bool:
        return env == self.settings.env_names[-1]

    def is_direct(self, env: str) -> bool:
        return self.settings.environment(env).allow_direct_deploy

    def required(self, env: str) -> int:
        return 0 if self.is_direct(env) else self.policy(env).required

    def summary(self, env: str) -> PolicySummary:
        policy = self.policy(env)
        return PolicySummary(
            approvers=policy.approvers,
            required=self.required(env),
            self_approval=policy.allow_self_approval,
            production=self.is_production(env),
            expiry=policy.expiry,
            shadow_required=bool(policy.shadow and policy.shadow.required),
        )

    def freeze(self, env: str, at: datetime) -> ActiveFreeze | None:
        return active_freeze(self.policy(env).freeze_windows, at)

    def can_be_approved(self, env: str) -> Decision:
        """Whether anybody at all could approve: an empty approver list refuses up front."""
        approvers = self.policy(env).approvers
        rule = f"approval.approvers of {env}"
        if self.is_direct(env) or not approvers.empty:
            return Decision(True, rule)
        return Decision(False, f"{rule} is empty, so nobody may approve promotions into {env}")

    def _approver_rule(self, env: str, principals: Principals) -> str:
        return f"approvals for {env} come from {plain_principals(principals)} (approval.approvers of {env})"

    def may_approve(self, approval: ApprovalSnapshot, user: str, at: datetime) -> Decision:
        env = approval.target_env
        policy = self.policy(env)
        if user == approval.requester and not policy.allow_self_approval:
            where = "production" if self.is_production(env) else env
            return Decision(
                False,
                f"you requested this promotion, and in {where} the requester's own approval "
                f"never counts (approval.allow_self_approval of {env} is off)",
            )
        if not self.access.is_member(user, policy.approvers):
            return Decision(
                False, f"{self._approver_rule(env, policy.approvers)}, and you are not one of them"
            )
        frozen = self.freeze(env, at)
        if frozen is not None:
            return Decision(False, frozen.describe(env))
        held = self.shadow_hold(approval)
        if held is not None:
            return Decision(False, held)
        return Decision(True, self._approver_rule(env, policy.approvers))

    def shadow_hold(self, approval: ApprovalSnapshot) -> str | None:
        """Why the shadow evaluation holds Approve back (``approval.shadow.required``), if it
        does; read from the request as stored, the same verdict its card shows."""
        return approval_gate(approval, self.policy(approval.target_env).shadow)

    def may_reject(self, approval: ApprovalSnapshot, user: str) -> Decision:
        env = approval.target_env
        policy = self.policy(env)
        rule = f"rejections for {env} come from its approvers, {plain_principals(policy.approvers)}"
        if user == approval.requester:
            return Decision(False, "you requested this promotion; use Cancel to withdraw it")
        if not self.access.is_member(user, policy.approvers):
            return Decision(False, f"{rule}, and you are not one of them")
        return Decision(True, rule)

    def may_cancel(self, approval: ApprovalSnapshot, user: str) -> Decision:
        rule = "only the requester can cancel a promotion request"
        return Decision(user == approval.requester, rule)
