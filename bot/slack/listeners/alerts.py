"""Alert card buttons: Retrain, Mute 24h, Acknowledge, Details — the Slack wiring only.

Every listener acks at once, runs the matching use case of :mod:`jobs.alerts.actions` in the
worker pool with the click's plain facts (the button's value is only the alert's fingerprint,
plus who clicked on which message), and shows the returned answer to the clicking user only.
What the team should see, the use case posts in the alert's thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError

from bot.slack.blocks.monitoring import ACTION_ACK, ACTION_DETAILS, ACTION_MUTE, ACTION_RETRAIN
from bot.slack.inbox import action_key
from bot.slack.listeners.clicks import Click
from bot.slack.services import Services
from core.reports import ButtonAnswer
from jobs.alerts.actions import AlertActions, Answer, Press

log = logging.getLogger(__name__)

Action = Callable[[AlertActions, Press], Answer | None]

ACTIONS: dict[str, Action] = {
    ACTION_ACK: AlertActions.acknowledge,
    ACTION_MUTE: AlertActions.mute,
    ACTION_DETAILS: AlertActions.details,
    ACTION_RETRAIN: AlertActions.retrain,
}


def handle(services: Services, action: Action, click: Click) -> None:
    """Run ``action`` for ``click`` (in a worker) and answer the user who clicked."""
    # The scheduler's context when one runs here: same clock, same watcher wake-up.
    actions = AlertActions(services.jobs_context, services.access)
    press = Press(
        fingerprint=click.value,
        user=click.user,
        channel=click.channel,
        message_ts=click.message_ts,
    )
    answer = action(actions, press)
    if answer is not None:
        tell(services, click, answer)


def tell(services: Services, click: Click, answer: Answer) -> None:
    """Show ``answer`` to the clicking user only (through the response URL when there is one)."""
    reply = ButtonAnswer(text=answer.text, ok=answer.ok, mention=answer.mention)
    try:
        if click.response_url:
            services.responder.respond(click.response_url, reply)
        elif click.channel:
            services.responder.ephemeral(click.channel, click.user, reply)
    except SlackApiError as exc:
        log.warning("could not answer %s: %s", click.user, exc.response.get("error"))


def register(app: App, services: Services) -> None:
    for action_id, action in ACTIONS.items():
        kind = f"alert:{action_id}"
        services.inbox.on(
            kind, lambda body, action=action: handle(services, action, Click.from_body(body))
        )
        app.action(action_id)(_acking(services, kind))


def _acking(services: Services, kind: str) -> Callable[..., None]:
    """A Bolt listener that records the click in the inbox (which queues it in the worker
    pool), then acks: an acked press survives a crash, and a graceful shutdown that waits for
    idle workers after the ack still runs it."""

    def listener(ack: Ack, body: dict[str, Any], context: dict[str, Any]) -> None:
        services.inbox.accept(kind, action_key(body), body, context)
        ack()

    return listener
