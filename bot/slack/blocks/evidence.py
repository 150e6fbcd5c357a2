"""The Evidence section of a promotion request card: how the candidate answered the live
requests mirrored to it, beside the version serving them (see :mod:`core.promotion.shadow`).

One mrkdwn section per card; the worse-than-serving lines are also what the Approve confirm
dialog warns about (:func:`worse_text`).
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.slack.blocks.common import context, esc, section, slack_date
from core.promotion.evidence import ShadowState, ShadowView, shadow_view
from core.promotion.states import ApprovalSnapshot, ApprovalState
from engine.shadow import LatencySummary, ShadowComparison


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _latency(summary: LatencySummary) -> str:
    return f"{_ms(summary.p50_ms)} / {_ms(summary.p99_ms)} ms"


def _confusion(evidence: ShadowComparison, old: str, new: str) -> str | None:
    """The paired requests by (serving label, candidate label), as a small fixed-width table."""
    table = evidence.confusion
    if not table:
        return None
    rows = sorted(table)
    cols = sorted({c for r in table.values() for c in r})
    width = max(8, *(len(f"{new}: {c}") + 2 for c in cols))
    head = " " * 10 + "".join(f"{new}: {c}".rjust(width) for c in cols)
    lines = [head]
    for r in rows:
        cells = "".join(str(table[r].get(c, 0)).rjust(width) for c in cols)
        lines.append(f"{old}: {r}".ljust(10)[:10] + cells)
    return "```" + "\n".join(lines) + "```"


def _headline(view: ShadowView, approval: ApprovalSnapshot) -> str:
    env = esc(approval.target_env)
    if view.state is ShadowState.DEPLOYING:
        return f":hourglass_flowing_sand: Deploying v{esc(approval.version)} at 0% in {env} to mirror {view.mirror}% of its traffic to it…"
    if view.state is ShadowState.FAILED:
        return f":x: The shadow deployment failed: {esc(view.error or 'unknown error')}"
    if view.state is ShadowState.SKIPPED:
        return f":information_source: No shadow evaluation: {esc(view.note or '')}"
    if view.state is ShadowState.REMOVED:
        return f":information_source: Shadow deployment {esc(view.deployment or '')} removed."
    if approval.state is not ApprovalState.PENDING:
        reused = (approval.rollout or {}).get("new_deployment") == view.deployment
        what = (
            f"While the request was pending, {view.requests} live requests were mirrored to "
            f"v{esc(approval.version)}"
        )
        if reused:
            return (
                f":mag: {what}; the rollout reused its deployment `{esc(view.deployment or '?')}`"
            )
        return f":mag: {what}."
    since = slack_date(view.started, "{time}") if view.started else "?"
    until = slack_date(view.until, "{time}") if view.until else "?"
    what = (
        f"{view.mirror}% of {env}'s live traffic mirrored to v{esc(approval.version)} "
        f"(deployment `{esc(view.deployment or '?')}`) since {since}"
    )
    if view.state is ShadowState.FINISHED:
        return f":stopwatch: {what}; mirroring stopped at {until} (max_duration)"
    return f":mag: {what}, until {until}"


def _progress(view: ShadowView, approval: ApprovalSnapshot) -> str | None:
    if view.state not in (ShadowState.MIRRORING, ShadowState.FINISHED):
        return None
    if view.requests < view.min_requests:
        count = f"*{view.requests}* of {view.min_requests} mirrored requests"
    else:  # "107 of 100" reads as a miscount once the minimum is passed
        count = f"*{view.requests}* mirrored requests (at least {view.min_requests} needed)"
    if view.ready:
        # Once the request is decided the card has no buttons: say only that the gates passed.
        offered = ", Approve is offered" if approval.state is ApprovalState.PENDING else ""
        return f":white_check_mark: {count} · the gates pass{offered}"
    # The count is on this line already: the minimum is named once, not repeated from `waiting`.
    short = view.requests < view.min_requests
    others = [esc(w) for w in view.waiting if not w.startswith("at least ")]
    waiting = "; ".join(([f"all {view.min_requests} are in"] if short else []) + others)
    waiting = waiting or "waiting for evidence"
    if view.required:
        return f":hourglass_flowing_sand: {count} · Approve is offered once: {waiting}"
    return (
        f":hourglass_flowing_sand: {count} · advisory (approval.shadow.required is off): {waiting}"
    )


def evidence_lines(view: ShadowView, approval: ApprovalSnapshot) -> list[str]:
    """The evidence, one line per measure: candidate (new) beside serving (old)."""
    evidence = view.evidence
    if evidence is None:
        return []
    new = f"v{esc(approval.version)}"
    old = f"v{esc(view.serving_version or '?')}"
    lines = []
    if evidence.joinable and evidence.paired:
        if evidence.agreement is not None:
            lines.append(
                f"*Agreement* {_pct(evidence.agreement)} same label on {evidence.paired} paired requests"
            )
        if evidence.mean_abs_difference is not None:
            lines.append(
                f"*Mean absolute difference* {evidence.mean_abs_difference:.4g} on "
                f"{evidence.paired} paired requests"
            )
    elif not evidence.joinable:
        lines.append(
            f":information_source: Answers not paired: {esc(view.note or 'the platform cannot join them')}; distributions only"
        )
    if evidence.psi is not None:
        lines.append(f"*Score shift* PSI {evidence.psi:.3f} ({new} against {old})")
    c, s = evidence.candidate_latency, evidence.serving_latency
    lines.append(f"*Latency p50 / p99* {new} {_latency(c)} · {old} {_latency(s)}")
    lines.append(
        f"*Error rate* {new} {_pct(c.error_rate)} of {c.requests} · "
        f"{old} {_pct(s.error_rate)} of {s.requests}"
    )
    if evidence.labelled and evidence.candidate_accuracy is not None:
        regression = evidence.agreement is None and evidence.mean_abs_difference is not None
        if regression:
            lines.append(
                f"*MAE on {evidence.labelled} labelled requests* {new} "
                f"{evidence.candidate_accuracy:.4g} · {old} {evidence.serving_accuracy:.4g}"
            )
        else:
            lines.append(
                f"*Accuracy on the same {evidence.labelled} labelled requests* {new} "
                f"{_pct(evidence.candidate_accuracy)} · {old} {_pct(evidence.serving_accuracy)}"
            )
    elif evidence.paired:
        lines.append("*Accuracy* no labels for this window yet")
    return lines


def worse_text(approval: ApprovalSnapshot, *, mrkdwn: bool = True) -> str | None:
    """``v3 is worse than v1 on the mirrored requests: p99 latency 80 ms vs 30 ms``, or None."""
    view = shadow_view(approval)
    if view is None or not view.worse:
        return None
    served = view.serving_version or "?"
    lines = "; ".join(view.worse)
    if not mrkdwn:
        return f"On the mirrored requests v{approval.version} is worse than v{served}: {lines}."
    return (
        f":warning: *On the mirrored requests v{esc(approval.version)} is worse than "
        f"v{esc(served)}*: {esc(lines)}"
    )


def evidence_blocks(approval: ApprovalSnapshot) -> list[Block]:
    view = shadow_view(approval)
    if view is None:
        return []
    text = f"*Evidence* (shadow traffic)\n{_headline(view, approval)}"
    progress = _progress(view, approval)
    if progress and not approval.state.finished:
        text += f"\n{progress}"
    lines = evidence_lines(view, approval)
    if lines:
        text += "\n" + "\n".join(lines)
    blocks: list[Block] = [section(text)]
    evidence = view.evidence
    if evidence is not None and evidence.confusion:
        old, new = esc(f"v{view.serving_version or '?'}"), esc(f"v{approval.version}")
        table = _confusion(evidence, old, new)
        if table:
            blocks.append(section(f"*Paired predictions*: rows {old}, columns {new}\n{table}"))
    worse = worse_text(approval)
    if worse:
        blocks.append(section(worse))
    if view.refreshed is not None:
        blocks.append(context(f"Evidence updated {slack_date(view.refreshed, '{time}')}"))
    return blocks
