"""Small cards: messages, errors, help, the models overview, progress and jobs."""

from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, DividerBlock

from bot.slack.blocks.common import (
    TONE_MARK,
    ago,
    code,
    context,
    esc,
    header,
    metrics_line,
    pre,
    section,
    user,
)
from bot.slack.blocks.status import job_text
from core.replies import (
    ErrorReply,
    HelpReply,
    JobReply,
    JobsReply,
    MessageReply,
    ModelsReply,
    ProgressReply,
    StepState,
    TableReply,
    Tone,
)
from infra.redact import public_text

STEP_MARK = {
    StepState.PENDING: ":white_circle:",
    StepState.RUNNING: ":arrows_counterclockwise:",
    StepState.DONE: ":white_check_mark:",
    StepState.FAILED: ":x:",
    StepState.SKIPPED: ":heavy_minus_sign:",
}


def message_blocks(reply: MessageReply) -> list[Block]:
    blocks: list[Block] = []
    if reply.title:
        blocks.append(section(f"{TONE_MARK[reply.tone]} *{esc(reply.title)}*\n{esc(reply.text)}"))
    else:
        blocks.append(section(f"{TONE_MARK[reply.tone]} {esc(reply.text)}"))
    notes = [esc(reply.context)] if reply.context else []
    if reply.requested_by:
        notes.append(f"Requested by {user(reply.requested_by)}")
    if notes:
        blocks.append(context(" · ".join(notes)))
    return blocks


def error_blocks(reply: ErrorReply) -> list[Block]:
    text = f":warning: {esc(reply.message)}"
    if reply.suggestion:
        text += f"\nDid you mean *{esc(reply.suggestion)}*?"
    blocks: list[Block] = [section(text)]
    if reply.usage:
        blocks.append(context(f"Usage: {code(reply.usage)} · `/mlops help` lists every command"))
    return blocks


def help_blocks(reply: HelpReply) -> list[Block]:
    blocks: list[Block] = [header("mlops-bot commands")]
    if reply.intro:
        blocks.append(context(esc(reply.intro)))
    for command in reply.commands:
        blocks.append(
            section(
                f"*{esc(command.name)}* — {esc(command.summary)}\n{code(command.usage)}\n"
                f"e.g. {code(command.example)}"
            )
        )
    return blocks


def models_blocks(reply: ModelsReply) -> list[Block]:
    blocks: list[Block] = [header("Models")]
    if not reply.rows:
        blocks.append(
            section("No models are configured. Add them under `models:` in the configuration.")
        )
    for row in reply.rows:
        fields = [f"*{esc(env)}*\n{esc(row.versions.get(env, '-'))}" for env in reply.environments]
        blocks.append(section(f"*{esc(row.name)}* · {esc(row.task)}", fields=fields))
        if row.problems:
            blocks.append(context(*(f":warning: {esc(p)}" for p in row.problems)))
    blocks.append(context("`/mlops status <model>` for the full card"))
    return blocks


def progress_blocks(reply: ProgressReply) -> list[Block]:
    mark = TONE_MARK[reply.tone] if reply.finished else ":arrows_counterclockwise:"
    lines = []
    for step in reply.steps:
        line = f"{STEP_MARK[step.state]} {esc(step.label)}"
        if step.detail:
            line += f" — _{esc(step.detail)}_"
        lines.append(line)
    blocks: list[Block] = [section(f"{mark} *{esc(reply.title)}*"), section("\n".join(lines))]
    if reply.outcome:
        blocks.append(section(esc(reply.outcome)))
    if reply.actor:
        blocks.append(context(f"Started by {user(reply.actor)}"))
    return blocks


def job_blocks(reply: JobReply) -> list[Block]:
    blocks: list[Block] = [section(f"*{esc(reply.heading)}*")]
    job = reply.job
    if job is not None:
        fields = [f"*Job*\n{job_text(job)}", f"*Environment*\n{esc(job.environment)}"]
        if job.parameters:
            params = ", ".join(code(f"{k}={v}") for k, v in sorted(job.parameters.items()))
            fields.append(f"*Parameters*\n{params}")
        if job.metrics:
            text = metrics_line(job.metrics)
            if reply.baseline_metrics:
                source = esc(reply.baseline_source) if reply.baseline_source else "serving now"
                text += f"\n_{source}:_ {metrics_line(reply.baseline_metrics)}"
            fields.append(f"*Metrics*\n{text}")
        blocks.append(section("", fields=fields))
        if job.error or (job.status.value == "failed" and job.log_tail):
            # Never a server path, command line or traceback in a channel: the full log
            # stays behind the job's link.
            tail = "\n".join(public_text(job.log_tail).strip().splitlines()[-15:])[-2500:]
            text = f"*Error*: {esc(public_text(job.error) or 'see the log')}"
            if tail:
                text += f"\n{pre(tail)}"
            blocks.append(section(text))
    who = f"Requested by {user(reply.requested_by)}" if reply.requested_by else ""
    footer = " · ".join(part for part in (who, esc(reply.reason)) if part)
    if footer:
        blocks.append(context(footer))
    if reply.actions:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(text=label, action_id=action_id, value=value)
                    for action_id, label, value in reply.actions
                ]
            )
        )
    return blocks


def jobs_blocks(reply: JobsReply) -> list[Block]:
    title = f"Jobs · {reply.model}" if reply.model else "Jobs"
    blocks: list[Block] = [header(title)]
    if reply.rows:
        lines = [f"*{esc(r.model)}* ({esc(r.environment)}) {job_text(r.job)}" for r in reply.rows]
        blocks.append(section("*Recent training jobs*\n" + "\n".join(lines)))
    else:
        blocks.append(
            section("*Recent training jobs*\nnone yet — `/mlops retrain <model>` starts one")
        )
    if reply.scheduled:
        blocks.append(DividerBlock())
        lines = [
            f"{code(s.name)} next {ago(s.next_run) if s.next_run else 'paused'} · "
            f"{trigger_text(s.trigger)}"
            for s in reply.scheduled[:25]
        ]
        blocks.append(section("*Scheduled*\n" + "\n".join(lines)))
    return blocks


def trigger_text(trigger: str) -> str:
    """``cron */2 * * * * UTC`` with the expression as code (mrkdwn would bold ``*/2 *``); the
    scheduler's spread (``... UTC + 41s``) stays outside the code, or it reads as cron syntax."""
    if trigger.startswith("cron "):
        expression, plus, spread = trigger.removeprefix("cron ").partition(" + ")
        zone = " UTC" if expression.endswith(" UTC") else ""
        text = f"cron {code(expression.removesuffix(' UTC'))}{zone}"
        return text + (f" (+{esc(spread)} spread)" if plus else "")
    return esc(trigger)


def table_blocks(reply: TableReply) -> list[Block]:
    blocks: list[Block] = [header(reply.title)]
    if not reply.rows:
        blocks.append(section(esc(reply.empty)))
        return blocks
    chunk: list[str] = []
    for row in (esc(r) for r in reply.rows):
        if sum(len(r) + 1 for r in chunk) + len(row) > 2800:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(row)
    blocks.append(section("\n".join(chunk)))
    return blocks[:50]


__all__ = ["Tone", "ago"]
