"""Alert card buttons: Retrain, Mute 24h, Acknowledge, Details.

Every handler acks at once and works in the worker pool. A button's value is only the alert's
fingerprint; the handler re-reads the alert and accepts the click only from the alert's own
card (channel and message), so a forged value or a stale copy of a card changes nothing.
Acknowledging and "Details" are compare-and-set on the alert row, so a double click or a Slack
retry acts once. Answers to the clicking user are ephemeral; what the team should see goes in
the alert's thread. Everything is audited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError

from bot.slack.blocks.monitoring import ACTION_ACK, ACTION_DETAILS, ACTION_MUTE, ACTION_RETRAIN
from bot.slack.listeners.clicks import Click
from bot.slack.outbox import key_of
from bot.slack.services import Services
from jobs.training import RetrainDenied
from core.replies import MessageRef
from core.reports import ButtonAnswer, DetailsReply
from infra.settings import ModelConfig
from infra.store import Alert, StaleStateError
from jobs.alerts import AlertBook, label, set_mute
from jobs.context import MonitorContext

log = logging.getLogger(__name__)

MUTE_FOR = timedelta(hours=24)
CAS_ATTEMPTS = 5


class AlertButtons:
    """The four handlers, with the services they act through."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def context(self) -> MonitorContext:
        """The scheduler's context when one runs here (same clock, same watcher wake-up)."""
        return self.services.jobs_context

    # -- shared checks
    def _alert(self, click: Click, action: str) -> tuple[Alert, ModelConfig] | None:
        book = AlertBook(self.context())
        row = book.get(click.value)
        if row is None:
            self._tell(click, "This alert no longer exists.", ok=False)
            return None
        if row.channel != click.channel or row.message_ts != click.message_ts:
            self.services.store.audit(
                click.user,
                f"alert:{action}",
                "refused",
                model=row.model,
                environment=row.environment,
                subject=row.fingerprint,
                reason="click not from the alert's card",
            )
            self._tell(click, "This button does not belong to this alert's card.", ok=False)
            return None
        try:
            model_cfg = self.services.settings.model(row.model)
        except KeyError:
            self._tell(click, f"{row.model} is no longer configured.", ok=False)
            return None
        return row, model_cfg

    def _tell(
        self, click: Click, text: str, ok: bool = True, *, mention: str | None = None
    ) -> None:
        reply = ButtonAnswer(text=text, ok=ok, mention=mention)
        try:
            if click.response_url:
                self.services.responder.respond(click.response_url, reply)
            elif click.channel:
                self.services.responder.ephemeral(click.channel, click.user, reply)
        except SlackApiError as exc:
            log.warning("could not answer %s: %s", click.user, exc.response.get("error"))

    def _thread(self, row: Alert) -> MessageRef | None:
        return MessageRef(row.channel, row.message_ts) if row.channel and row.message_ts else None

    # -- Acknowledge
    def acknowledge(self, click: Click) -> None:
        found = self._alert(click, "ack")
        if found is None:
            return
        row, model_cfg = found
        ctx = self.context()
        book = AlertBook(ctx)
        for _ in range(CAS_ATTEMPTS):
            if row.acknowledged_by:
                self._tell(click, "Already acknowledged by", mention=row.acknowledged_by)
                return
            try:
                self.services.store.compare_and_set(
                    Alert, row.fingerprint, row.version_no, acknowledged_by=click.user
                )
                break
            except StaleStateError:
                fresh = book.get(row.fingerprint)
                if fresh is None:
                    return
                row = fresh
        else:
            self._tell(click, "The alert kept changing; try again.", ok=False)
            return
        self.services.store.audit(
            click.user,
            "alert:ack",
            "ok",
            model=row.model,
            environment=row.environment,
            subject=row.fingerprint,
        )
        book.refresh(row.fingerprint, model_cfg)
        ref = self._thread(row)
        if ref is not None:
            ctx.note(ref, f":eyes: <@{click.user}> acknowledged this alert.")

    # -- Mute 24h
    def mute(self, click: Click) -> None:
        found = self._alert(click, "mute")
        if found is None:
            return
        row, model_cfg = found
        ctx = self.context()
        now = ctx.now()
        until = now + MUTE_FOR
        set_mute(self.services.store, row.model, row.signal, until, click.user, now)
        self.services.store.audit(
            click.user,
            "mute",
            "ok",
            model=row.model,
            environment=row.environment,
            subject=row.signal,
            until=until.isoformat(),
            via="alert button",
        )
        AlertBook(ctx).refresh(row.fingerprint, model_cfg)
        ref = self._thread(row)
        if ref is not None:
            ctx.note(
                ref,
                f":no_bell: <@{click.user}> muted {label(row.signal).lower()} alerts of {row.model} "
                f"for 24h (until {until:%Y-%m-%d %H:%M} UTC). Summaries still run.",
            )

    # -- Details
    def details(self, click: Click) -> None:
        found = self._alert(click, "details")
        if found is None:
            return
        row, _ = found
        ctx = self.context()
        book = AlertBook(ctx)
        checked = str(row.summary.get("checked_at", ""))
        for _ in range(CAS_ATTEMPTS):
            if row.summary.get("details_for") == checked:
                self._tell(click, "The full report of the last check is already in the thread.")
                return
            try:
                self.services.store.compare_and_set(
                    Alert,
                    row.fingerprint,
                    row.version_no,
                    summary={**row.summary, "details_for": checked},
                )
                break
            except StaleStateError:
                fresh = book.get(row.fingerprint)
                if fresh is None:
                    return
                row = fresh
                checked = str(row.summary.get("checked_at", ""))
        else:
            return
        ref = self._thread(row)
        if ref is None:
            return
        title = f"Full report · {label(row.signal)} · {row.model} · {row.environment}"
        window = row.summary.get("window")
        lines = tuple(row.summary.get("details", ())) or (str(row.summary.get("headline", "")),)
        if window:
            title += f" · {window}"
        posted = ctx.publish(
            key_of("details", row.fingerprint, checked),
            ref.channel,
            DetailsReply(title=title, lines=lines),
            (),
            what=f"the details of {row.fingerprint}",
            thread_ts=ref.ts,
        )
        if posted is None and ctx.outbox is None:  # lost, not queued: let the next click retry
            book.set_fields(row.fingerprint, summary={"details_for": None})
            self._tell(click, "Slack did not take the report; try again.", ok=False)
            return
        self.services.store.audit(
            click.user,
            "alert:details",
            "ok",
            model=row.model,
            environment=row.environment,
            subject=row.fingerprint,
        )

    # -- Retrain
    def retrain(self, click: Click) -> None:
        from jobs.retraining import submit_from_alert

        found = self._alert(click, "retrain")
        if found is None:
            return
        row, model_cfg = found
        try:
            decision = submit_from_alert(
                self.context(),
                model_cfg,
                user_id=click.user,
                access=self.services.access,
                alert_fingerprint=row.fingerprint,
            )
        except RetrainDenied as exc:
            self._tell(click, str(exc), ok=False)
            return
        if decision.submitted is not None:
            self._tell(
                click,
                f"Retraining of {row.model} submitted ({decision.submitted.id}); "
                "the result will be posted in the alert's thread.",
            )
        else:
            self._tell(click, f"Nothing submitted: {decision.sentence}.", ok=False)


def register(app: App, services: Services) -> None:
    buttons = AlertButtons(services)
    handlers = {
        ACTION_ACK: buttons.acknowledge,
        ACTION_MUTE: buttons.mute,
        ACTION_DETAILS: buttons.details,
        ACTION_RETRAIN: buttons.retrain,
    }
    for action_id, handler in handlers.items():
        app.action(action_id)(_acking(services, handler))


def _acking(services: Services, handler: Callable[[Click], None]) -> Callable[..., None]:
    """A Bolt listener that queues ``handler`` in the worker pool, then acks (queued first,
    so a graceful shutdown that waits for idle workers after the ack still runs it)."""

    def listener(ack: Ack, body: dict[str, Any]) -> None:
        services.workers.submit(handler, Click.from_body(body))
        ack()

    return listener
