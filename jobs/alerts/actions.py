"""What the alert card's buttons do: acknowledge, mute for 24h, post the full report, retrain.

Each action takes plain arguments — the alert's fingerprint (the button's value, untrusted),
who clicked, and the card the click came from — and returns the :class:`Answer` to show the
person who clicked (None when there is nothing to say to them). The Slack listener only parses
the click, acks it and renders the answer.

An action re-reads the alert and accepts the click only from the alert's own card (channel and
message), so a forged value or a stale copy of a card changes nothing. Acknowledging and
"Details" are compare-and-set on the alert row (:func:`infra.store.retry_on_conflict`), so a
double click or a Slack retry acts once. What the team should see goes in the alert's thread.
Everything is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core.access import AccessPolicy
from core.publisher import key_of
from core.replies import MessageRef
from core.reports import DetailsReply
from infra.settings import ModelConfig
from infra.store import Alert, StaleStateError, retry_on_conflict
from jobs.alerts.book import AlertBook, label
from jobs.alerts.mutes import set_mute
from jobs.context import MonitorContext
from jobs.retraining import submit_from_alert
from jobs.training import RetrainDenied

MUTE_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class Answer:
    """What to tell the person who clicked, only them."""

    text: str
    ok: bool = True
    mention: str | None = None
    """A user to mention after the text (rendered as a real mention)."""


@dataclass(frozen=True)
class Press:
    """One click on an alert card's button, as the use case sees it."""

    fingerprint: str
    """The button's value: which alert the card says it is about (untrusted)."""
    user: str
    channel: str | None
    message_ts: str | None


class AlertActions:
    """The four button actions, acting through the jobs' context (same clock, same Publisher,
    same job-watcher wake-up as the scheduler) and the access policy."""

    def __init__(self, ctx: MonitorContext, access: AccessPolicy) -> None:
        self.ctx = ctx
        self.access = access
        self.book = AlertBook(ctx)

    # -- shared checks
    def _alert(self, press: Press, action: str) -> tuple[Alert, ModelConfig] | Answer:
        """The alert the press is about and its model, or the answer refusing it."""
        row = self.book.get(press.fingerprint)
        if row is None:
            return Answer("This alert no longer exists.", ok=False)
        if row.channel != press.channel or row.message_ts != press.message_ts:
            self.ctx.store.audit(
                press.user,
                f"alert:{action}",
                "refused",
                model=row.model,
                environment=row.environment,
                subject=row.fingerprint,
                reason="click not from the alert's card",
            )
            return Answer("This button does not belong to this alert's card.", ok=False)
        try:
            model_cfg = self.ctx.settings.model(row.model)
        except KeyError:
            return Answer(f"{row.model} is no longer configured.", ok=False)
        return row, model_cfg

    @staticmethod
    def _thread(row: Alert) -> MessageRef | None:
        return MessageRef(row.channel, row.message_ts) if row.channel and row.message_ts else None

    # -- Acknowledge
    def acknowledge(self, press: Press) -> Answer | None:
        """Record who acknowledged the alert (once), update the card, say so in its thread."""
        found = self._alert(press, "ack")
        if isinstance(found, Answer):
            return found
        row, model_cfg = found

        def attempt() -> Alert | str | None:
            """The acknowledged row, who acknowledged it before, or None when it is gone."""
            current = self.book.get(row.fingerprint)
            if current is None:
                return None
            if current.acknowledged_by:
                return current.acknowledged_by
            self.ctx.store.compare_and_set(
                Alert, current.fingerprint, current.version_no, acknowledged_by=press.user
            )
            return current

        try:
            outcome = retry_on_conflict(attempt)
        except StaleStateError:
            return Answer("The alert kept changing; try again.", ok=False)
        if outcome is None:
            return None
        if isinstance(outcome, str):
            return Answer("Already acknowledged by", mention=outcome)
        self.ctx.store.audit(
            press.user,
            "alert:ack",
            "ok",
            model=outcome.model,
            environment=outcome.environment,
            subject=outcome.fingerprint,
        )
        self.book.refresh(outcome.fingerprint, model_cfg)
        ref = self._thread(outcome)
        if ref is not None:
            self.ctx.note(ref, f":eyes: <@{press.user}> acknowledged this alert.")
        return None

    # -- Mute 24h
    def mute(self, press: Press) -> Answer | None:
        """Mute the alert's signal of its model for :data:`MUTE_FOR`; say so in the thread."""
        found = self._alert(press, "mute")
        if isinstance(found, Answer):
            return found
        row, model_cfg = found
        now = self.ctx.now()
        until = now + MUTE_FOR
        set_mute(self.ctx.store, row.model, row.signal, until, press.user, now)
        self.ctx.store.audit(
            press.user,
            "mute",
            "ok",
            model=row.model,
            environment=row.environment,
            subject=row.signal,
            until=until.isoformat(),
            via="alert button",
        )
        self.book.refresh(row.fingerprint, model_cfg)
        ref = self._thread(row)
        if ref is not None:
            self.ctx.note(
                ref,
                f":no_bell: <@{press.user}> muted {label(row.signal).lower()} alerts of "
                f"{row.model} for 24h (until {until:%Y-%m-%d %H:%M} UTC). Summaries still run.",
            )
        return None

    # -- Details
    def details(self, press: Press) -> Answer | None:
        """Post the full report of the last check in the alert's thread, once per check."""
        found = self._alert(press, "details")
        if isinstance(found, Answer):
            return found
        row, _ = found

        def attempt() -> tuple[Alert, str] | None:
            """The row claimed for this check's report, or None when it is posted already."""
            current = self.book.get(row.fingerprint)
            if current is None:
                return None
            checked = str(current.summary.get("checked_at", ""))
            if current.summary.get("details_for") == checked:
                return None
            self.ctx.store.compare_and_set(
                Alert,
                current.fingerprint,
                current.version_no,
                summary={**current.summary, "details_for": checked},
            )
            return current, checked

        try:
            claimed = retry_on_conflict(attempt)
        except StaleStateError:
            return None  # others keep changing it: one of those clicks posts the report
        if claimed is None:
            if self.book.get(row.fingerprint) is None:
                return None
            return Answer("The full report of the last check is already in the thread.")
        row, checked = claimed
        ref = self._thread(row)
        if ref is None:
            return None
        title = f"Full report · {label(row.signal)} · {row.model} · {row.environment}"
        window = row.summary.get("window")
        lines = tuple(row.summary.get("details", ())) or (str(row.summary.get("headline", "")),)
        if window:
            title += f" · {window}"
        # Through the outbox: when Slack does not take it now it is queued, never lost.
        self.ctx.publish(
            key_of("details", row.fingerprint, checked),
            ref.channel,
            DetailsReply(title=title, lines=lines),
            (),
            what=f"the details of {row.fingerprint}",
            thread_ts=ref.ts,
        )
        self.ctx.store.audit(
            press.user,
            "alert:details",
            "ok",
            model=row.model,
            environment=row.environment,
            subject=row.fingerprint,
        )
        # The report lands in the thread, which the clicker may not have open: say where.
        return Answer("The full report of the last check is posted in this alert's thread.")

    # -- Retrain
    def retrain(self, press: Press) -> Answer:
        """Submit the model's retraining on the clicking user's authority (permissions, one run
        in flight, cooldown); the result is reported in the alert's thread."""
        found = self._alert(press, "retrain")
        if isinstance(found, Answer):
            return found
        row, model_cfg = found
        try:
            decision = submit_from_alert(
                self.ctx,
                model_cfg,
                user_id=press.user,
                access=self.access,
                alert_fingerprint=row.fingerprint,
            )
        except RetrainDenied as exc:
            return Answer(str(exc), ok=False)
        except KeyError:
            return Answer("This alert no longer exists.", ok=False)
        if decision.submitted is not None:
            return Answer(
                f"Retraining of {row.model} submitted ({decision.submitted.id}); "
                "the result will be posted in the alert's thread."
            )
        return Answer(f"Nothing submitted: {decision.sentence}.", ok=False)
