"""The promotion request card (before, during and after its rollout), the reject dialog, the
thread lines the worker posts (:mod:`core.promotion.cards` line types as mrkdwn text), and the
`/mlops approvals` and `/mlops audit` answers.

Buttons carry only the request id; the listeners re-read everything else from the store.
Approve asks for confirmation when the target is production. Once a request is no longer
pending the card has no buttons at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.slack.blocks.cards import STEP_MARK
from bot.slack.blocks.common import (
    LEVEL_MARK,
    ago,
    clip,
    code,
    context,
    esc,
    header,
    link,
    metrics_line,
    section,
    slack_date,
    user,
)
from bot.slack.blocks.evidence import evidence_blocks, worse_text
from commands.approvals import ApprovalsReply
from commands.audit import AuditReply
from core.promotion.cards import (
    ApprovalCardReply,
    ApprovedLine,
    CardLinkReply,
    ClosedLine,
    EndedLine,
    NoteLine,
    StepLine,
    VoteLine,
    metric_regressions,
)
from core.promotion.evidence import shadow_view
from core.promotion.policy import PolicySummary
from core.promotion.states import ApprovalSnapshot, ApprovalState, parse_time, rollout_steps
from core.replies import Step
from infra.settings import Principals
from infra.store import AuditRecord

ACTION_APPROVE = "approval_approve"
ACTION_REJECT = "approval_reject"
ACTION_CANCEL = "approval_cancel"
REJECT_VIEW = "approval_reject_reason"
REASON_BLOCK = "reason"
REASON_ACTION = "reason_input"
MAX_REASON = 500

STATE_MARK = {
    ApprovalState.PENDING: (":hourglass_flowing_sand:", "Waiting for approval"),
    ApprovalState.APPROVED: (":rocket:", "Approved, starting the rollout"),
    ApprovalState.ROLLING_OUT: (":arrows_counterclockwise:", "Rolling out"),
    ApprovalState.SUCCEEDED: (":white_check_mark:", "Promoted"),
    ApprovalState.ROLLED_BACK: (":leftwards_arrow_with_hook:", "Rolled back"),
    ApprovalState.FAILED: (":x:", "Failed"),
    ApprovalState.REJECTED: (":no_entry:", "Rejected"),
    ApprovalState.EXPIRED: (":hourglass:", "Expired"),
    ApprovalState.CANCELED: (":heavy_multiplication_x:", "Canceled"),
}


def mention_principals(principals: Principals) -> str:
    if principals.everyone:
        return "anyone"
    names = [user(u) for u in principals.users] + [f"@{esc(g)}" for g in principals.groups]
    return ", ".join(names) if names else "nobody"


def _policy_text(policy: PolicySummary) -> str:
    return esc(policy.describe(approvers="\x00")).replace(
        "\x00", mention_principals(policy.approvers)
    )


def _counted(approval: ApprovalSnapshot, policy: PolicySummary) -> list[str]:
    return approval.approvals_counted(policy.self_approval)


def _rejected_by(approval: ApprovalSnapshot) -> str | None:
    rejects = [v.user for v in approval.votes if v.decision == "reject"]
    return rejects[-1] if rejects else None


# --------------------------------------------------------------------------- the card


def _status(approval: ApprovalSnapshot, policy: PolicySummary) -> str:
    mark, label = STATE_MARK[approval.state]
    text = f"{mark} *{label}*"
    if approval.state is ApprovalState.PENDING:
        text += f" · {len(_counted(approval, policy))} of {approval.required} approvals"
    if approval.direct and not approval.state.finished:
        text += f" · {esc(approval.target_env)} takes direct deploys, no approval needed"
    if approval.state is ApprovalState.REJECTED:
        rejector = _rejected_by(approval)
        text += f" by {user(rejector)}" if rejector else ""
    if approval.state.finished and approval.reason:
        text += f"\n{esc(approval.reason)}"
    return text


def _metrics(approval: ApprovalSnapshot) -> str:
    source = approval.context.get("source") or {}
    target = approval.context.get("target") or {}
    new: Mapping[str, float] = source.get("metrics") or {}
    old: Mapping[str, float] = target.get("metrics") or {}
    old_version = target.get("version")
    lines = [f"v{esc(approval.version)}: {metrics_line(new)}"]
    if old_version:
        lines.append(f"v{esc(old_version)}: {metrics_line(old)}")
        changes = [
            f"{key} {new[key] - old[key]:+.3f}"
            for key in ("accuracy", "f1", "roc_auc", "mae", "rmse", "r2")
            if key in new and key in old
        ]
        if changes:
            lines.append("change: " + " · ".join(changes))
    return "\n".join(lines)


def _training_job(approval: ApprovalSnapshot) -> str:
    job = (approval.context.get("source") or {}).get("training_job") or {}
    if not job.get("id"):
        return "unknown"
    text = f"{code(job['id'])}"
    if job.get("status"):
        text += f" {esc(job['status'])}"
    parameters = job.get("parameters") or {}
    if parameters:
        text += "\n" + ", ".join(code(f"{k}={v}") for k, v in sorted(parameters.items()))
    return text


def _fields(approval: ApprovalSnapshot, policy: PolicySummary) -> list[str]:
    source = approval.context.get("source") or {}
    target = approval.context.get("target") or {}
    fields = [
        f"*Model*\n{esc(approval.model)} v{esc(approval.version)}",
        f"*From → to*\n{esc(approval.source_env)} → {esc(approval.target_env)}",
        f"*Requested by*\n{user(approval.requester)}",
        f"*{esc(approval.target_env)} served when requested*\n{esc(target.get('serving', 'unknown'))}",
        f"*Metrics*\n{_metrics(approval)}",
        f"*In {esc(approval.source_env)}*\n{esc(source.get('health', 'unknown'))}",
        f"*Training job*\n{_training_job(approval)}",
        f"*Policy*\n{_policy_text(policy)}",
    ]
    if approval.state is ApprovalState.PENDING:
        fields.append(f"*Expires*\n{slack_date(approval.expires_at)}")
    else:
        fields.append(f"*Requested*\n{slack_date(approval.created_at)}")
    return fields


def _verdicts(approval: ApprovalSnapshot) -> str | None:
    verdicts = (approval.context.get("source") or {}).get("verdicts") or []
    if not verdicts:
        return None
    lines = []
    for v in verdicts[:8]:
        mark = LEVEL_MARK.get(str(v.get("level")), LEVEL_MARK["unknown"])
        when = parse_time(v.get("at"))
        age = f" ({ago(when)})" if when else ""
        lines.append(f"{mark} {esc(v.get('signal', ''))}: {esc(v.get('summary', ''))}{age}")
    return f"*Latest verdicts in {esc(approval.source_env)}*\n" + "\n".join(lines)


def _votes(approval: ApprovalSnapshot) -> str | None:
    if not approval.votes:
        return None
    lines = []
    for vote in approval.votes:
        mark = ":white_check_mark:" if vote.decision == "approve" else ":no_entry:"
        verb = "approved" if vote.decision == "approve" else "rejected"
        lines.append(f"{mark} {user(vote.user)} {verb} · {slack_date(vote.at, '{time}')}")
    return "*Votes*\n" + "\n".join(lines)


def step_line(step: Step) -> str:
    line = f"{STEP_MARK[step.state]} {esc(step.label)}"
    if step.detail:
        line += f" — _{esc(step.detail)}_"
    return line


def regression_text(approval: ApprovalSnapshot, *, mrkdwn: bool = True) -> str | None:
    """``v2 is worse than v1, which serves prod: accuracy −0.089 · f1 −0.130``, or None."""
    worse = metric_regressions(approval)
    if not worse:
        return None
    served = (approval.context.get("target") or {}).get("version")
    changes = " · ".join(f"{w.metric} {w.change:+.3f}".replace("-", "−") for w in worse)
    if not mrkdwn:
        return (
            f"v{approval.version} is worse than v{served}, which serves {approval.target_env}: "
            f"{changes}."
        )
    return (
        f":warning: *v{esc(approval.version)} is worse than v{esc(served)}, which serves "
        f"{esc(approval.target_env)}*: {esc(changes)}"
    )


def approve_held(approval: ApprovalSnapshot, policy: PolicySummary) -> bool:
    """Approve is not offered while the shadow policy still waits for evidence."""
    if not policy.shadow_required:
        return False
    view = shadow_view(approval)
    return view is None or view.blocks_approval


def _buttons(approval: ApprovalSnapshot, policy: PolicySummary) -> ActionsBlock:
    confirm = None
    worse = " ".join(
        w
        for w in (regression_text(approval, mrkdwn=False), worse_text(approval, mrkdwn=False))
        if w
    )
    if policy.production or worse:
        # Whether the clicker may approve is only known on the click, so the dialog does not
        # promise that their approval counts.
        text = (
            f"Approving promotes {approval.model} v{approval.version} into "
            f"{approval.target_env} once the policy is met; the bot then rolls it out."
        )
        confirm = ConfirmObject(
            title="Approve a worse model?" if worse else "Approve for production?",
            text=PlainTextObject(text=clip(f"{worse} {text}" if worse else text, 300)),
            confirm="Approve anyway" if worse else "Approve",
            deny="Not yet",
            style="danger" if worse else "primary",
        )
    approve = ButtonElement(
        text="Approve",
        action_id=ACTION_APPROVE,
        value=approval.id,
        style="primary",
        confirm=confirm,
    )
    return ActionsBlock(
        block_id=f"approval-actions-{approval.id}",
        elements=[
            *([] if approve_held(approval, policy) else [approve]),
            ButtonElement(
                text="Reject", action_id=ACTION_REJECT, value=approval.id, style="danger"
            ),
            ButtonElement(text="Cancel request", action_id=ACTION_CANCEL, value=approval.id),
        ],
    )


def approval_card_blocks(reply: ApprovalCardReply) -> list[Block]:
    approval, policy = reply.approval, reply.policy
    assert approval is not None and policy is not None
    blocks: list[Block] = [
        header(
            f"Promote {approval.model} v{approval.version}: "
            f"{approval.source_env} → {approval.target_env}"
        ),
        section(_status(approval, policy)),
    ]
    worse = regression_text(approval)
    if worse and not approval.state.finished:
        blocks.append(section(worse))
    blocks.append(section("", fields=_fields(approval, policy)))
    for extra in (_verdicts(approval), _votes(approval)):
        if extra:
            blocks.append(section(extra))
    evidence = evidence_blocks(approval)
    if not evidence and approval.state is ApprovalState.PENDING and policy.shadow_required:
        evidence = [
            section(
                "*Evidence* (shadow traffic)\n:hourglass_flowing_sand: Starting the shadow "
                "evaluation: Approve is offered once its evidence is in."
            )
        ]
    blocks.extend(evidence)
    steps = rollout_steps(approval)
    if steps:
        blocks.append(section("*Rollout*\n" + "\n".join(step_line(s) for s in steps)))
    notes = approval.rollout.get("notes") or []
    if notes:
        blocks.append(context(*(f":information_source: {esc(n)}" for n in notes[-3:])))
    if approval.state is ApprovalState.PENDING:
        blocks.append(_buttons(approval, policy))
    blocks.append(
        context(
            f"Request {code(approval.id)} · "
            f"{code(f'/mlops audit {approval.model} --request {approval.id}')} shows its trail"
        )
    )
    return blocks


def card_link_blocks(reply: CardLinkReply) -> list[Block]:
    approval = reply.approval
    assert approval is not None
    where = link(reply.link, "open the card") if reply.link else "see the approvals channel"
    if reply.title:
        text = f":white_check_mark: *{esc(reply.title)}*"
        if reply.detail:
            text += f"\n{esc(reply.detail)}"
        return [section(f"{text}\nThe card: {where}.")]
    return [
        section(
            f":white_check_mark: Your promotion request for *{esc(approval.model)}* "
            f"v{esc(approval.version)} ({esc(approval.source_env)} → "
            f"{esc(approval.target_env)}) is posted: {where}."
        )
    ]


# --------------------------------------------------------------------------- the reject dialog


def reject_modal(approval: ApprovalSnapshot) -> dict[str, Any]:
    return View(
        type="modal",
        callback_id=REJECT_VIEW,
        private_metadata=approval.id,
        title=PlainTextObject(text="Reject promotion"),
        submit=PlainTextObject(text="Reject"),
        close=PlainTextObject(text="Back"),
        blocks=[
            section(
                f"Reject *{esc(approval.model)}* v{esc(approval.version)} "
                f"({esc(approval.source_env)} → {esc(approval.target_env)}), requested by "
                f"{user(approval.requester)}?"
            ),
            InputBlock(
                block_id=REASON_BLOCK,
                label=PlainTextObject(text="Reason"),
                hint=PlainTextObject(text="The requester and the card's thread will see it."),
                element=PlainTextInputElement(
                    action_id=REASON_ACTION,
                    multiline=True,
                    min_length=3,
                    max_length=MAX_REASON,
                    placeholder=PlainTextObject(text="What must change before it can go ahead?"),
                ),
            ),
        ],
    ).to_dict()


# --------------------------------------------------------------------------- thread lines


def vote_line_text(line: VoteLine) -> str:
    return f":white_check_mark: {user(line.voter)} approved ({line.counted} of {line.required})."


def approved_line_text(line: ApprovedLine) -> str:
    by = ", ".join(user(u) for u in line.approvers) or "policy"
    return (
        f":rocket: Approved by {by}. Rolling out {esc(line.model)} v{esc(line.version)} "
        f"to {esc(line.target_env)}."
    )


def step_line_text(line: StepLine) -> str:
    assert line.step is not None
    return step_line(line.step)


def note_line_text(line: NoteLine) -> str:
    return f":information_source: {esc(line.note)}"


def closed_line_text(line: ClosedLine) -> str:
    if line.state is ApprovalState.REJECTED:
        return (
            f":no_entry: {user(line.rejector)} rejected this request: {esc(line.reason)} "
            f"{user(line.requester)}"
        )
    if line.state is ApprovalState.EXPIRED:
        return (
            f":hourglass: {user(line.requester)} this request expired with "
            f"{line.approvals} of {line.required} approvals; nothing was deployed."
        )
    if line.state is ApprovalState.CANCELED:
        return f":heavy_multiplication_x: Canceled by {user(line.requester)}."
    return f"{STATE_MARK[line.state][0]} {esc(line.state.label)}"


def ended_line_text(line: EndedLine) -> str:
    subject = f"{esc(line.model)} v{esc(line.version)}"
    env = esc(line.target_env)
    reason = esc(line.reason)
    people = " ".join(user(p) for p in line.people)
    if line.state is ApprovalState.SUCCEEDED:
        return f":white_check_mark: {people} {subject} is live: {reason}."
    if line.state is ApprovalState.ROLLED_BACK:
        return (
            f":leftwards_arrow_with_hook: {people} the promotion of {subject} to "
            f"{env} was rolled back: {reason}. {env} serves {esc(line.before)} as before."
        )
    return f":x: {people} the promotion of {subject} to {env} failed: {reason}."


# --------------------------------------------------------------------------- command answers


def _request_line(approval: ApprovalSnapshot, extra: str) -> str:
    permalink = approval.context.get("permalink")
    name = (
        link(permalink, f"{approval.model} v{approval.version}")
        if permalink
        else (f"*{esc(approval.model)}* v{esc(approval.version)}")
    )
    return (
        f"{name} {esc(approval.source_env)} → {esc(approval.target_env)} · requested by "
        f"{user(approval.requester)} · {extra} · {code(approval.id)}"
    )


def approvals_blocks(reply: ApprovalsReply) -> list[Block]:
    title = f"Promotions · {reply.model}" if reply.model else "Promotions"
    blocks: list[Block] = [header(title)]
    pending = [
        _request_line(a, f"{n} of {a.required} approvals, expires {ago(a.expires_at)}")
        for a, n in zip(reply.pending, reply.counted, strict=False)
    ]
    blocks.append(
        section("*Waiting for approval*\n" + ("\n".join(pending[:20]) or "nothing is waiting"))
    )
    if reply.in_flight:
        lines = []
        for a in reply.in_flight:
            running = next((s for s in rollout_steps(a) if s.state.value == "running"), None)
            lines.append(_request_line(a, esc(running.label) if running else a.state.label))
        blocks.append(section("*In progress*\n" + "\n".join(lines[:20])))
    if reply.recent:
        lines = [
            _request_line(a, f"{STATE_MARK[a.state][0]} {a.state.label} {ago(a.updated_at)}")
            for a in reply.recent
        ]
        blocks.append(section("*Recently ended*\n" + "\n".join(lines)))
    return blocks


_ACTION_TEXT = {
    ("promotion_request", "created"): "requested v{version} {source} → {environment}",
    ("promotion_request", "refused"): "request refused: {reason}",
    ("approval_approve", "recorded"): "approved",
    ("approval_approve", "duplicate"): "clicked Approve again (counted once)",
    ("approval_approve", "denied"): "Approve refused: {rule}",
    ("approval_approve", "ignored"): "clicked Approve on a request already {state}",
    ("approval_approve", "refused"): "clicked Approve on a button that matches no request card",
    ("approval_reject", "denied"): "Reject refused: {rule}",
    ("approval_reject", "ignored"): "clicked Reject on a request already {state}",
    ("approval_reject", "refused"): "clicked Reject on a button that matches no request card",
    ("approval_cancel", "denied"): "Cancel refused: {rule}",
    ("approval_cancel", "ignored"): "clicked Cancel on a request already {state}",
    ("approval_cancel", "refused"): "clicked Cancel on a button that matches no request card",
    ("deployment_created", "ok"): "created deployment {deployment} of v{version} at 0%",
    ("rollout_succeeded", "ok"): "rollout of v{version} finished on {deployment}",
    ("rolled_back", "ok"): "rolled back {deployment}: {reason}",
    ("rollback_failed", "failed"): "rollback of {deployment} failed: {error}",
    (
        "promotion_step",
        "retired",
    ): "retired the previous deployment (removed {removed}, kept {kept})",
    ("promotion_step", "taken_over"): "took over an interrupted rollout",
    ("promotion_step", "resumed"): "resumed the rollout after a restart (attempt {attempt})",
    (
        "promotion_step",
        "finished_before_restart",
    ): "found {deployment} already at 100% after a restart",
}


def _split(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {v}%" for k, v in value.items()) or "nothing"
    return str(value)


def describe_entry(entry: AuditRecord) -> str:
    """One audit entry as a sentence (plain text; escaped by the caller)."""
    detail = {k: ("" if v is None else v) for k, v in dict(entry.detail).items()}
    if entry.action == "promotion":
        text = f"request {detail.get('previous', '?')} → {entry.outcome}"
        return text + (f": {detail['reason']}" if detail.get("reason") else "")
    if entry.action == "traffic":
        text = f"traffic {_split(detail.get('before'))} → {_split(detail.get('after'))}"
        return text + (f" ({detail['reason']})" if detail.get("reason") else "")
    template = _ACTION_TEXT.get((entry.action, entry.outcome))
    if template is None:
        return f"{entry.action} {entry.outcome}"
    values: dict[str, Any] = {"environment": entry.environment or "", **detail}
    for key in ("removed", "kept"):
        if isinstance(values.get(key), list):
            values[key] = ", ".join(values[key]) or "none"
    try:
        return template.format_map(_Blank(values))
    except (ValueError, IndexError):
        return f"{entry.action} {entry.outcome}"


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def audit_blocks(reply: AuditReply) -> list[Block]:
    where = f" · {reply.environment}" if reply.environment else ""
    request = f" · request {reply.request}" if reply.request else ""
    blocks: list[Block] = [header(f"Audit trail · {reply.model}{where}{request}")]
    if not reply.entries:
        blocks.append(section("Nothing recorded yet."))
        return blocks
    rows = []
    for entry in reply.entries:
        actor = user(entry.actor) if entry.actor.startswith(("U", "W")) else esc(entry.actor)
        env = f" [{esc(entry.environment)}]" if entry.environment and not reply.environment else ""
        subject = f" {code(entry.subject)}" if entry.subject and not reply.request else ""
        rows.append(
            f"`{entry.at:%Y-%m-%d %H:%M:%S}` {actor}{env} {esc(describe_entry(entry))}{subject}"
        )
    chunk: list[str] = []
    for row in rows:
        row = clip(row, 900)
        if sum(len(r) + 1 for r in chunk) + len(row) > 2900:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(row)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    footer = "Times in UTC, oldest first."
    if reply.truncated:
        footer += " Older entries exist: raise --limit or narrow with --env / --request."
    blocks = blocks[:48]
    blocks.append(context(footer))
    return blocks


def register_renderers() -> None:
    from bot.slack.blocks.render import register_renderer, register_text_renderer

    register_renderer(ApprovalCardReply, approval_card_blocks)
    register_renderer(CardLinkReply, card_link_blocks)
    register_renderer(ApprovalsReply, approvals_blocks)
    register_renderer(AuditReply, audit_blocks)
    register_text_renderer(VoteLine, vote_line_text)
    register_text_renderer(ApprovedLine, approved_line_text)
    register_text_renderer(StepLine, step_line_text)
    register_text_renderer(NoteLine, note_line_text)
    register_text_renderer(ClosedLine, closed_line_text)
    register_text_renderer(EndedLine, ended_line_text)


__all__ = [
    "ACTION_APPROVE",
    "ACTION_CANCEL",
    "ACTION_REJECT",
    "MAX_REASON",
    "REASON_ACTION",
    "REASON_BLOCK",
    "REJECT_VIEW",
    "approval_card_blocks",
    "register_renderers",
]
