"""The standing summary: one message per model and environment that scheduled checks edit in
place, so the main channel is not flooded with one card per run.

A scheduled check records its verdict on the ``standing_summaries`` row (compare-and-set, so
concurrent workers and replicas agree on what the previous verdict was) and learns whether it
changed. Only a change earns a new top-level message (the check's own summary, with charts);
an unchanged result only edits the standing message. The row keeps where the message is, so
a restarted bot edits the same one; until Slack has taken the first post, edits ride on its
outbox key. The daily digest carries the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from core.publisher import key_of
from core.replies import MessageRef
from core.reports import CheckReport, StandingEntry, StandingSummaryReply
from infra.settings import ModelConfig
from infra.store import StaleStateError, StandingSummary, retry_on_conflict
from jobs.alerts import open_alert_signals
from jobs.context import MonitorContext

STANDING_HOOK = "standing-summary"
"""The outbox hook under which a late-delivered standing summary is recorded on its row."""


@dataclass(frozen=True)
class Recorded:
    """What recording one check's verdict found."""

    previous: str | None
    """The check's verdict before this run; None the first time."""
    level: str

    @property
    def changed(self) -> bool:
        """A first verdict is a change too: it gets its own message with its charts."""
        return self.previous != self.level


def row_key(model: str, environment: str) -> str:
    return key_of("standing", model, environment)


def post_key(row: StandingSummary) -> str:
    """The outbox key of the row's message; a new generation would post a new one."""
    return key_of("standing", row.model, row.environment, row.generation)


class StandingSummaries:
    def __init__(self, ctx: MonitorContext) -> None:
        self.ctx = ctx

    def get(self, model: str, environment: str) -> StandingSummary | None:
        with self.ctx.store.read() as session:
            return session.get(StandingSummary, row_key(model, environment))

    def record(self, report: CheckReport, muted: tuple[str, ...]) -> Recorded:
        """Store this run's verdict for its check kind; returns the previous one."""
        now = self.ctx.now()
        level = report.level.value
        signals = {s.signal for s in report.signals}

        def attempt() -> Recorded:
            row = self._load_or_create(report.model, report.environment)
            entries = dict(row.entries or {})
            before = entries.get(report.kind) or {}
            previous = before.get("level")
            entries[report.kind] = {
                "level": level,
                "headline": report.headline,
                "checked_at": now.isoformat(),
                "changed_at": before.get("changed_at") if previous == level else now.isoformat(),
                "signals": [[s.signal, s.level.value, s.headline] for s in report.signals],
                "muted": [m for m in muted if m in signals],
            }
            self.ctx.store.compare_and_set(
                StandingSummary, row.key, row.version_no, entries=entries, updated_at=now
            )
            return Recorded(previous=previous, level=level)

        return retry_on_conflict(attempt)

    def show(
        self, model_cfg: ModelConfig, environment: str, *, create: bool = True
    ) -> MessageRef | None:
        """Edit the standing message to what the row says now; post it the first time unless
        ``create`` is False (then a message that does not exist yet stays unposted)."""
        row = self.get(model_cfg.name, environment)
        if row is None:
            return None
        reply = self.reply(row)
        if row.channel and row.message_ts:
            ref = MessageRef(row.channel, row.message_ts)
            self.ctx.out.update(key_of("standing-edit", ref.channel, ref.ts), ref, reply)
            return ref
        if not create and not self.ctx.out.is_pending(post_key(row)):
            return None
        channel = self.ctx.settings.channel(model_cfg, "digest")
        key = post_key(row)
        # Posting again under the same key while the first post waits refreshes its content.
        delivery = self.ctx.out.post(
            key,
            channel,
            reply,
            hook=STANDING_HOOK,
            hook_args={"key": row.key, "generation": row.generation},
        )
        if delivery.ref is None:
            return None
        if self.record_message(row.key, row.generation, delivery.ref):
            # Delivered earlier (another run, another replica): bring it up to date.
            self.ctx.out.update(
                key_of("standing-edit", delivery.ref.channel, delivery.ref.ts), delivery.ref, reply
            )
        return delivery.ref

    def delivered(self, args: Mapping[str, Any], ref: MessageRef | None, deferred: bool) -> None:
        """Outbox hook (:data:`STANDING_HOOK`): the standing message went out; remember it."""
        if ref is not None:
            self.record_message(str(args.get("key")), int(args.get("generation") or 0), ref)

    def record_message(self, key: str, generation: int, ref: MessageRef) -> bool:
        """Remember where the message of ``generation`` is (compare-and-set; the first wins)."""

        def attempt() -> bool:
            with self.ctx.store.read() as session:
                row = session.get(StandingSummary, key)
            if row is None or row.generation != generation or row.message_ts:
                return False
            self.ctx.store.compare_and_set(
                StandingSummary, key, row.version_no, channel=ref.channel, message_ts=ref.ts
            )
            return True

        try:
            return retry_on_conflict(attempt)
        except StaleStateError:
            return False

    def reply(self, row: StandingSummary) -> StandingSummaryReply:
        entries = tuple(
            StandingEntry(
                kind=kind,
                level=str(e.get("level", "no_data")),
                headline=str(e.get("headline", "")),
                checked_at=_when(e.get("checked_at")),
                changed_at=_when(e.get("changed_at") or e.get("checked_at")),
                signals=tuple((str(s), str(lv), str(h)) for s, lv, h in e.get("signals", [])),
                muted=tuple(str(m) for m in e.get("muted", [])),
            )
            for kind, e in sorted((row.entries or {}).items())
        )
        signals = [s for e in entries for s, _, _ in e.signals]
        return StandingSummaryReply(
            public=True,
            model=row.model,
            environment=row.environment,
            entries=entries,
            open_alerts=tuple(
                open_alert_signals(self.ctx.store, row.model, row.environment, signals)
            ),
        )

    def _load_or_create(self, model: str, environment: str) -> StandingSummary:
        row = self.get(model, environment)
        if row is not None:
            return row
        try:
            with self.ctx.store.session() as session:
                session.add(
                    StandingSummary(
                        key=row_key(model, environment),
                        model=model,
                        environment=environment,
                        generation=0,
                        entries={},
                        version_no=0,
                    )
                )
        except IntegrityError:
            pass  # created concurrently; read theirs
        row = self.get(model, environment)
        assert row is not None
        return row


def _when(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))
