"""The status card: every environment of the chain, readable on a phone."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk.models.blocks import Block, DividerBlock

from bot.slack.blocks.common import (
    LEVEL_MARK,
    ago,
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
from core.replies import EnvironmentStatus, PendingApproval, StatusReply
from core.reports import SIGNAL_LABELS
from engine.verdict import Verdict
from infra.durations import format_duration
from infra.platform.base import JobInfo, JobStatus

JOB_MARK = {
    JobStatus.QUEUED: ":hourglass:",
    JobStatus.RUNNING: ":arrows_counterclockwise:",
    JobStatus.COMPLETED: ":white_check_mark:",
    JobStatus.FAILED: ":x:",
    JobStatus.CANCELED: ":heavy_minus_sign:",
}


def environment_blocks(env: EnvironmentStatus) -> list[Block]:
    if env.error:
        return [section(f"*{esc(env.name)}*  :warning: unavailable\n{esc(env.error)}")]
    state = env.endpoint
    if state is None or not state.deployments:
        return [section(f"*{esc(env.name)}*  :white_circle: not deployed")]
    health = ":large_green_circle: healthy" if state.healthy else ":red_circle: unhealthy"
    serving = state.serving
    if len(serving) == 1:
        serving_text = f"*v{esc(serving[0].model_version)}* (100%)"
    elif serving:
        serving_text = " · ".join(f"*v{esc(d.model_version)}* {d.traffic}%" for d in serving)
    else:
        serving_text = "no traffic"
    deployments = "\n".join(
        f"{code(d.name)} v{esc(d.model_version)} {d.traffic}%"
        + (f" (mirror {d.mirror_traffic}%)" if d.mirror_traffic else "")
        + ("" if d.healthy else f" :warning: {esc(d.provisioning_state)}")
        for d in state.deployments
    )
    # One line per deployment, named: a bare "1 × local-process" beside two deployments left
    # the reader guessing which one it was.
    instances = (
        "\n".join(
            f"{code(d.name)} {d.instance_count} × {esc(d.instance_type or 'default')}"
            for d in state.deployments[:4]
        )
        or "-"
    )
    metrics = (
        "\n".join(
            f"v{esc(v)}: {metrics_line(m, ('accuracy', 'f1', 'roc_auc', 'mae', 'rmse', 'r2'))}"
            for v, m in env.serving_metrics.items()
        )
        or "-"
    )
    blocks: list[Block] = [
        section(
            f"*{esc(env.name)}*  {health}\nserving {serving_text} on {code(state.endpoint)}",
            fields=[
                f"*Deployments*\n{deployments}",
                f"*Instances*\n{instances}",
                f"*Version metrics*\n{metrics}",
            ],
        )
    ]
    if env.verdicts:
        blocks.append(
            context(
                *(
                    f"{LEVEL_MARK.get(v.level, ':white_circle:')} "
                    # "Data quality no data", as the alerts say it; not "data_quality no_data"
                    f"*{esc(SIGNAL_LABELS.get(v.signal, v.signal))}* "
                    f"{esc(Verdict.parse(v.level).label)}"
                    + (f": {esc(v.summary)}" if v.summary else "")
                    + (f" ({ago(v.at)})" if v.at else "")
                    for v in env.verdicts
                )
            )
        )
    else:
        blocks.append(context("no monitoring verdicts yet"))
    return blocks


def job_text(job: JobInfo) -> str:
    text = f"{JOB_MARK[job.status]} {code(job.id)} {job.status.value}"
    if job.duration_seconds is not None:
        # "running in 2s" reads as a start two seconds from now: a job still going runs *for*
        so_far = not job.status.finished
        text += f" {'for' if so_far else 'in'} {format_duration(job.duration_seconds)}"
    if job.produced_version:
        text += f" → v{esc(job.produced_version)}"
    text += f", {ago(job.created)}"
    if job.url and job.url.startswith(("https://", "http://")):
        # A file: URL would only tell the channel where the server keeps its state.
        text += f" · {link(job.url, 'open')}"
    return text


def pending_text(p: PendingApproval) -> str:
    card = f" · {link(p.link, 'card')}" if p.link else ""
    return (
        f"v{esc(p.version)} {esc(p.source_env)} → {esc(p.target_env)} by {user(p.requester)}: "
        f"{p.votes}/{p.required} approvals, expires {ago(p.expires_at)}{card}"
    )


def status_blocks(reply: StatusReply, now: datetime | None = None) -> list[Block]:
    now = now or datetime.now(UTC)
    blocks: list[Block] = [header(f"{reply.model} · status")]
    subtitle = esc(reply.task) + (f" · {esc(reply.description)}" if reply.description else "")
    blocks.append(context(subtitle))
    for env in reply.environments:
        blocks.append(DividerBlock())
        blocks.extend(environment_blocks(env))
    blocks.append(DividerBlock())
    if reply.latest_versions:
        latest = "\n".join(
            f"v{esc(v.version)} · {metrics_line(v.metrics, ('accuracy', 'f1', 'roc_auc', 'mae', 'r2'))}"
            f" · {ago(v.created, now)}"
            for v in reply.latest_versions
        )
        blocks.append(section(f"*Latest registered versions*\n{latest}"))
    blocks.append(
        section(
            "*Last training job*\n" + (job_text(reply.last_job) if reply.last_job else "none yet")
        )
    )
    pending = "\n".join(pending_text(p) for p in reply.pending) or "none"
    blocks.append(section(f"*Pending approvals*\n{pending}"))
    blocks.append(context(f"Updated {slack_date(now)}"))
    return blocks
