"""The `/mlops` slash command: ack at once, run the subcommand in a worker, answer in place."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError

from bot.slack.inbox import Completion, command_key
from bot.slack.responder import CommandMessage
from bot.slack.services import Services
from commands.context import CommandContext, Invocation
from commands.registry import dispatch
from core.replies import ErrorReply, JobReply, MessageReply, Reply, Tone, Upload

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    services.inbox.on("command", lambda body: Completion(answer_slash_command(services, body)[1]))

    @app.command("/mlops")
    def mlops(ack: Ack, body: dict[str, Any], context: dict[str, Any]) -> None:
        # Recorded in the inbox (and queued) before the ack: an acked command is never lost to
        # a crash, and whoever waits for idle workers once Slack has its answer sees the work.
        services.inbox.accept("command", command_key(body), body, context)
        ack()


def command_context(services: Services, invocation: Invocation, progress: Any) -> CommandContext:
    scheduler = services.scheduler
    return CommandContext(
        settings=services.settings,
        platform=services.platform,
        store=services.store,
        access=services.access,
        invocation=invocation,
        progress=progress,
        on_job_submitted=scheduler.job_submitted if scheduler is not None else None,
        scheduled_jobs=scheduler.scheduled_jobs if scheduler is not None else None,
    )


def run_slash_command(services: Services, body: dict[str, Any]) -> Reply:
    """Answer the command and record it (audit line, the job's card) at once."""
    reply, record = answer_slash_command(services, body)
    record()
    return reply


def answer_slash_command(
    services: Services, body: dict[str, Any]
) -> tuple[Reply, Callable[[], None]]:
    """Run the command and answer it; returns the reply and what records it (its audit line,
    a job's card), which the inbox writes with the row's completion."""
    invocation = Invocation(
        user_id=str(body.get("user_id", "")),
        text=str(body.get("text", "")),
        channel_id=body.get("channel_id"),
        team_id=body.get("team_id"),
        user_name=body.get("user_name"),
    )
    message = CommandMessage(services.responder, invocation.channel_id, body.get("response_url"))
    ctx = command_context(services, invocation, message.show)
    reply = dispatch(ctx)
    try:
        message.show(reply)
        uploads = getattr(reply, "uploads", ())
        if uploads:
            # Charts go into the card's thread (or, for ephemeral answers, the channel where
            # the command was typed), never as a flood of top-level messages.
            channel = message.ref.channel if message.ref else invocation.channel_id
            if channel:
                _upload_or_explain(services, message, channel, list(uploads), body)
    except Exception:
        log.exception("could not deliver the reply to %r", invocation.text[:100])
    name = invocation.text.strip().split(" ", 1)[0].lower() or "help"

    def record() -> None:
        services.store.audit(
            invocation.user_id,
            f"command:{name[:40]}",
            "error" if isinstance(reply, ErrorReply) else "ok",
            text=invocation.text[:500],
            channel=invocation.channel_id,
            error=reply.message if isinstance(reply, ErrorReply) else None,
        )
        if isinstance(reply, JobReply) and reply.job is not None and message.ref is not None:
            from infra.store import JobRun

            with services.store.session() as session:
                run = session.get(JobRun, reply.job.id)
                if run is not None:
                    run.channel, run.thread_ts = message.ref.channel, message.ref.ts
                    run.card_channel, run.card_ts = message.ref.channel, message.ref.ts

    return reply, record


#: Errors of a chart upload that only someone in Slack can fix (the bot is not in the channel).
_NOT_A_MEMBER = ("not_in_channel", "channel_not_found", "is_archived")


def _upload_or_explain(
    services: Services,
    message: CommandMessage,
    channel: str,
    uploads: list[Upload],
    body: dict[str, Any],
) -> None:
    """Upload the reply's charts; where the bot may not post (a channel it was not invited to),
    tell the person who asked how to get them instead of leaving "in the thread" unanswered."""
    try:
        services.responder.upload(
            channel, uploads, thread_ts=message.ref.ts if message.ref else None
        )
    except SlackApiError as exc:
        error = str(exc.response.get("error", ""))
        if error not in _NOT_A_MEMBER or not body.get("response_url"):
            raise
        log.info("charts not uploaded to %s (%s); told the user", channel, error)
        services.responder.respond(
            str(body["response_url"]),
            MessageReply(
                text=(
                    f"The {len(uploads)} chart(s) of this answer could not be posted here: the bot "
                    "is not a member of this channel. Invite it (`/invite @mlops-bot`) or run "
                    "the command in a channel it is in."
                ),
                tone=Tone.WARNING,
            ),
        )
