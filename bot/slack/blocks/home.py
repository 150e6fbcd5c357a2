"""App Home: the models overview, pending approvals (those waiting for the viewer first),
open alerts (with who acknowledged them) and the mutes in force."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk.models.blocks import Block, DividerBlock
from slack_sdk.models.views import View

from bot.slack.blocks.cards import models_blocks
from bot.slack.blocks.common import (
    LEVEL_MARK,
    ago,
    context,
    esc,
    header,
    link,
    section,
    slack_date,
    user,
)
from core.monitoring_state import ActiveMute, OpenAlert
from core.replies import ModelsReply, PendingApproval
from core.reports import SIGNAL_LABELS


def _signal(signal: str) -> str:
    """``data quality``, not the stored ``data_quality``."""
    return SIGNAL_LABELS.get(signal, signal).lower()


def home_view(
    models: ModelsReply,
    pending: Sequence[PendingApproval],
    alerts: Sequence[OpenAlert],
    *,
    viewer: str,
    is_approver: Callable[[str], bool],
    mutes: Sequence[ActiveMute] = (),
) -> dict[str, Any]:
    blocks: list[Block] = models_blocks(models)
    blocks.append(DividerBlock())
    blocks.append(header("Pending approvals"))
    if not pending:
        blocks.append(section("Nothing is waiting for approval."))
    waiting = sorted(
        pending, key=lambda p: not (is_approver(p.target_env) and p.requester != viewer)
    )
    for p in waiting[:10]:
        yours = is_approver(p.target_env) and p.requester != viewer
        mark = ":point_right: *waiting for you* · " if yours else ""
        card = f" · {link(p.link, 'open the card')}" if p.link else ""
        blocks.append(
            section(
                f"{mark}*{esc(p.model)}* v{esc(p.version)} {esc(p.source_env)} → {esc(p.target_env)}\n"
                f"requested by {user(p.requester)} · {p.votes}/{p.required} approvals · "
                f"expires {ago(p.expires_at)}{card}"
            )
        )
    blocks.append(DividerBlock())
    blocks.append(header("Open alerts"))
    if not alerts:
        blocks.append(section(":large_green_circle: No open alerts."))
    for alert in alerts[:10]:
        level = "flapping" if alert.state == "flapping" else "breach"
        blocks.append(
            section(
                f"{LEVEL_MARK[level]} *{esc(alert.model)}* · {esc(alert.environment)} · "
                f"{esc(_signal(alert.signal))} ({esc(alert.severity)})\n{esc(alert.headline)}"
            )
        )
        checks = "check" if alert.breach_count == 1 else "checks"
        about = f"opened {ago(alert.opened_at)} · {alert.breach_count} {checks} in breach"
        if alert.acknowledged_by:
            about += f" · :eyes: acknowledged by {user(alert.acknowledged_by)}"
        blocks.append(context(about))
    blocks.append(DividerBlock())
    blocks.append(header("Muted"))
    if not mutes:
        blocks.append(section("No alerts are muted."))
    for mute in mutes[:10]:
        what = "all alerts" if mute.signal == "*" else f"{esc(_signal(mute.signal))} alerts"
        blocks.append(
            section(
                f":no_bell: *{esc(mute.model)}* {what} until {slack_date(mute.until)} · "
                f"muted by {user(mute.by)}"
            )
        )
    return View(type="home", blocks=blocks[:100]).to_dict()
