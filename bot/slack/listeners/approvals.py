"""Slack wiring for promotions: Approve / Reject / Cancel on request cards, the reject-reason
dialog, and the Promote button on finished training jobs.

Every handler acks first. A button's value is only a request id: the state machine re-reads the
request, checks that the click came from that request's own card, applies the clicking user's
policy, and records at most one vote per person, so a forged value, a double click or a Slack
retry changes nothing. Refusals are answered ephemerally, naming the rule, and audited.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.blocks.approval import (
    ACTION_APPROVE,
    ACTION_CANCEL,
    ACTION_REJECT,
    MAX_REASON,
    REASON_ACTION,
    REASON_BLOCK,
    REJECT_VIEW,
    reject_modal,
)
from bot.slack.inbox import action_key, settled
from bot.slack.listeners.clicks import Click
from bot.slack.services import Services
from commands.context import Invocation
from core.promotion.desk import PromotionDesk
from core.promotion.votes import ActionResult, ClickLocation, Outcome
from core.replies import MessageReply, Reply, Tone

log = logging.getLogger(__name__)

JOB_PROMOTE = "job_promote"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_VERSION = re.compile(r"^[A-Za-z0-9]{1,32}$")


def register(app: App, services: Services) -> None:
    desk = services.desk
    inbox = services.inbox
    inbox.on("approve", lambda body: _vote(services, desk, Click.from_body(body), "approve"))
    inbox.on("cancel", lambda body: _vote(services, desk, Click.from_body(body), "cancel"))
    inbox.on("job_promote", lambda body: _promote_from_job(services, desk, Click.from_body(body)))

    @app.action(ACTION_APPROVE)
    def approve(ack: Ack, body: dict[str, Any], context: dict[str, Any]) -> None:
        # Recorded in the inbox before the ack: an acked vote survives a crash of this process
        # (a worker here or on another replica runs it), and it is queued before the ack so
        # whoever waits for idle workers once Slack has its answer sees it.
        inbox.accept("approve", action_key(body), body, context)
        ack()

    @app.action(ACTION_CANCEL)
    def cancel(ack: Ack, body: dict[str, Any], context: dict[str, Any]) -> None:
        inbox.accept("cancel", action_key(body), body, context)
        ack()

    # Trigger ids live three seconds: the reject dialog opens on a thread of its own right after
    # the ack (Bolt answers Slack once the listener returns), never behind queued work.
    dialogs = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dialog")

    @app.action(ACTION_REJECT)
    def reject(ack: Ack, body: dict[str, Any], client: WebClient, context: dict[str, Any]) -> None:
        if not settled(context):  # a replayed click: nothing happens (the front refuses it)
            ack()
            return
        ack()
        dialogs.submit(_open_reject_dialog, services, desk, client, body)

    @app.view(REJECT_VIEW)
    def reject_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = str((body.get("user") or {}).get("id", ""))
        approval_id = str(view.get("private_metadata") or "")[:64]
        values = (view.get("state") or {}).get("values") or {}
        reason = str(((values.get(REASON_BLOCK) or {}).get(REASON_ACTION) or {}).get("value") or "")
        reason = " ".join(reason.split())[:MAX_REASON]
        if len(reason) < 3:
            ack(response_action="errors", errors={REASON_BLOCK: "Say why in a few words."})
            return
        # The rejection, its audit row and its card edit and thread line commit together before
        # the ack (durable: Slack does not send an acked submission again); Slack is tried
        # after the commit, in a worker.
        with services.store.transaction(defer=services.workers.submit):
            result = desk.votes.reject(approval_id, user, reason, desk.announcer(user))
        if result.outcome is Outcome.REJECTED:
            ack()
            return
        message = outcome_reply("reject", result)
        ack(
            response_action="errors",
            errors={REASON_BLOCK: (message.text if message else "Nothing was changed.")[:150]},
        )
        if result.changed:
            services.workers.submit(desk.after_change, result, user)

    @app.action(JOB_PROMOTE)
    def job_promote(ack: Ack, body: dict[str, Any], context: dict[str, Any]) -> None:
        inbox.accept("job_promote", action_key(body), body, context)
        ack()


def _open_reject_dialog(
    services: Services, desk: PromotionDesk, client: WebClient, body: dict[str, Any]
) -> None:
    """Open the reject-reason dialog for an allowed click; otherwise answer why not."""
    try:
        click = Click.from_body(body)
        checked = desk.votes.check_reject(
            click.value, click.user, ClickLocation(click.channel, click.message_ts)
        )
        if checked.outcome is not Outcome.ALLOWED:
            if checked.changed:  # it expired just now
                services.workers.submit(desk.after_change, checked, click.user)
            services.workers.submit(_answer, services, click, "reject", checked)
            return
        assert checked.approval is not None
        try:
            client.views_open(
                trigger_id=body.get("trigger_id"), view=reject_modal(checked.approval)
            )
        except SlackApiError as exc:
            log.warning("could not open the reject dialog: %s", exc.response.get("error"))
            services.workers.submit(
                _tell,
                services,
                click,
                MessageReply(
                    text="Slack did not open the reject dialog in time; click Reject again.",
                    tone=Tone.WARNING,
                ),
            )
    except Exception:  # a Future nobody reads would swallow it
        log.exception("the reject click failed")


def _vote(services: Services, desk: PromotionDesk, click: Click, action: str) -> None:
    if action == "approve":
        result = desk.approve(
            click.value, click.user, ClickLocation(click.channel, click.message_ts)
        )
    else:
        result = desk.cancel(
            click.value, click.user, ClickLocation(click.channel, click.message_ts)
        )
    _answer(services, click, action, result)


def _answer(services: Services, click: Click, action: str, result: ActionResult) -> None:
    reply = outcome_reply(action, result)
    if reply is not None:
        _tell(services, click, reply)


def _tell(services: Services, click: Click, reply: Reply) -> None:
    """An ephemeral answer to the person who clicked, where they clicked."""
    try:
        if click.channel:
            services.responder.ephemeral(click.channel, click.user, reply)
            return
    except SlackApiError as exc:
        log.info("ephemeral answer failed (%s); using the response URL", exc.response.get("error"))
    if click.response_url:
        services.responder.respond(click.response_url, reply)


_VERB = {"approve": "approve", "reject": "reject", "cancel": "cancel"}


def outcome_reply(action: str, result: ActionResult) -> MessageReply | None:
    """What the clicking user is told (None when the card and its thread say it already)."""
    approval = result.approval
    verb = _VERB.get(action, action)
    if result.outcome is Outcome.UNKNOWN:
        return MessageReply(
            text="This button does not belong to a promotion request card the bot knows, so "
            "nothing was changed. The attempt was recorded.",
            tone=Tone.WARNING,
        )
    assert approval is not None
    subject = f"{approval.model} v{approval.version} to {approval.target_env}"
    if result.outcome is Outcome.DENIED:
        rule = result.rule or "the policy does not allow it"
        return MessageReply(
            title=f"You cannot {verb} the promotion of {subject}",
            text=f"{rule[0].upper()}{rule[1:]}. Nothing was changed; the attempt was recorded.",
            tone=Tone.WARNING,
        )
    if result.outcome is Outcome.NOT_PENDING:
        return MessageReply(
            text=f"The promotion of {subject} is already {approval.state.label}; nothing was "
            "changed.",
            tone=Tone.INFO,
        )
    if result.outcome is Outcome.EXPIRED:
        return MessageReply(
            text=f"The promotion request for {subject} expired at "
            f"{approval.expires_at:%Y-%m-%d %H:%M} UTC; nothing was changed. Request it again "
            "with /mlops promote if it is still wanted.",
            tone=Tone.WARNING,
        )
    missing = max(approval.required - result.counted, 0)
    if result.outcome is Outcome.RECORDED:
        return MessageReply(
            text=f"Your approval of {subject} is recorded: {result.counted} of "
            f"{approval.required}. It waits for {missing} more.",
            tone=Tone.SUCCESS,
        )
    if result.outcome is Outcome.APPROVED:
        return MessageReply(
            text=f"Your approval completes the policy for {subject} ({result.counted} of "
            f"{approval.required}); the rollout starts now. Follow it on the card.",
            tone=Tone.SUCCESS,
        )
    if result.outcome is Outcome.DUPLICATE:
        return MessageReply(
            text=f"You already approved {subject}; a second click does not count twice "
            f"({result.counted} of {approval.required}).",
            tone=Tone.INFO,
        )
    if result.outcome is Outcome.CANCELED:
        return MessageReply(text=f"You canceled the promotion of {subject}.", tone=Tone.INFO)
    return None


def _promote_from_job(services: Services, desk: PromotionDesk, click: Click) -> None:
    """The Promote button under a finished training job: the same path as `/mlops promote`.

    The value is ``model|version|env`` and is treated as untrusted input: each part must look
    like what it claims to be, and the promote command then checks everything else.
    """
    from bot.slack.listeners.commands import command_context
    from commands.registry import dispatch

    parts = click.value.split("|")
    settings = services.settings
    if (
        len(parts) != 3
        or not _NAME.fullmatch(parts[0])
        or not _VERSION.fullmatch(parts[1])
        or parts[2] not in settings.env_names
    ):
        services.store.audit(
            click.user, "promotion_request", "refused", reason="malformed Promote button value"
        )
        _tell(
            services,
            click,
            MessageReply(
                text="This Promote button is not valid; nothing was changed.", tone=Tone.WARNING
            ),
        )
        return
    model, version, env = parts
    invocation = Invocation(
        user_id=click.user,
        text=f"promote {model} {version} --to {env}",
        channel_id=click.channel,
        team_id=click.team,
    )
    reply = dispatch(command_context(services, invocation, lambda _reply: None))
    _tell(services, click, reply)
    desk.wake()
