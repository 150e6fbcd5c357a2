"""The alert lifecycle rules of one fingerprint (model, environment, signal), pure.

:func:`plan` turns the previous :class:`Snapshot` of an alert and the level one check measured
into a :class:`Transition`: the next state, and what it implies (post a new card, edit it, a
note for its thread), tagged with an :class:`Effect`. The rules:

* a breach must hold for ``consecutive_breaches`` checks (K) before it counts ("pending" until);
* the first confirmed breach posts one alert; later breaches reply in its thread and edit the
  alert's counters; recovery edits it to "resolved" and says so in the thread;
* a fingerprint whose confirmed condition flips ``flap_threshold`` times within ``flap_window``
  is held as "flapping" (one note, counters edited silently) until it settles;
* a mute suppresses posting (the state still advances).

Also here: the fingerprint of an alert, its severity, and which retraining policy answers a
breach. Nothing in this module reads the store or posts anything.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from infra.durations import format_duration
from infra.settings import AlertConfig, ModelConfig, Settings

#: Which retraining trigger answers a breach of each signal.
RETRAIN_TRIGGER = {
    "drift": "on_drift",
    "performance": "on_performance",
    "fairness": "on_performance",
}


def fingerprint(model: str, environment: str, signal: str) -> str:
    return f"{model}/{environment}/{signal}"


def retrain_mode(model_cfg: ModelConfig, signal: str) -> str:
    """off / auto / ask: the retraining policy that applies to a breach of ``signal``."""
    key = RETRAIN_TRIGGER.get(signal)
    return str(getattr(model_cfg.retraining, key)) if key else "off"


def severity(settings: Settings, environment: str, level: str) -> str:
    """Production breaches are critical; anything else is a warning."""
    production = settings.env_names[-1]
    return "critical" if level == "breach" and environment == production else "warning"


# --------------------------------------------------------------------------- the pure rules


class Effect(StrEnum):
    NONE = "none"
    PENDING = "pending"
    OPENED = "opened"
    UPDATED = "updated"
    REOPENED = "reopened"
    RESOLVED = "resolved"
    FLAPPING = "flapping"
    SETTLED = "settled"
    SUPPRESSED = "suppressed"
    """Breaching while muted: state advances, nothing is posted."""


@dataclass(frozen=True)
class Snapshot:
    """The parts of an ``alerts`` row the rules read."""

    state: str = "ok"
    consecutive: int = 0
    breach_count: int = 0
    condition: str = "clear"
    flips: tuple[str, ...] = ()
    opened_at: datetime | None = None
    resolved_at: datetime | None = None
    has_message: bool = False


@dataclass(frozen=True)
class Transition:
    state: str
    consecutive: int
    breach_count: int
    condition: str
    flips: tuple[str, ...]
    opened_at: datetime | None
    resolved_at: datetime | None
    effect: Effect
    post_new: bool = False
    """Post a new top-level alert (the old message, if any, belongs to a past incident)."""
    edit: bool = False
    note: str | None = None
    """Text for the alert's thread."""

    @property
    def confirmed_breach(self) -> bool:
        return self.condition == "breach" and self.state == "open"


def plan(
    before: Snapshot,
    level: str,
    *,
    rules: AlertConfig,
    muted: bool,
    now: datetime,
    headline: str,
) -> Transition:
    """The next state of one fingerprint after a check that measured ``level``."""
    breach = level == "breach"
    if level == "unknown":
        # Not enough data says nothing about recovery or breach: keep everything as it is.
        return Transition(
            before.state,
            before.consecutive,
            before.breach_count,
            before.condition,
            before.flips,
            before.opened_at,
            before.resolved_at,
            Effect.NONE,
        )
    consecutive = before.consecutive + 1 if breach else 0
    if breach and consecutive >= rules.consecutive_breaches:
        condition = "breach"
    elif not breach:
        condition = "clear"
    else:
        condition = before.condition
    horizon = now - rules.flap_window
    flips = [f for f in before.flips if datetime.fromisoformat(f) > horizon]
    if condition != before.condition:
        flips.append(now.isoformat())
    flapping = len(flips) >= rules.flap_threshold
    breach_count = before.breach_count + 1 if breach else before.breach_count
    base = Transition(
        state=before.state,
        consecutive=consecutive,
        breach_count=breach_count,
        condition=condition,
        flips=tuple(flips),
        opened_at=before.opened_at,
        resolved_at=before.resolved_at,
        effect=Effect.NONE,
    )
    has_message = before.has_message

    if flapping:
        if before.state != "flapping":
            window = format_duration(rules.flap_window)
            return replace(
                base,
                state="flapping",
                effect=Effect.FLAPPING,
                edit=has_message,
                note=f":arrows_counterclockwise: Flapping: {len(flips)} changes in the last "
                f"{window}. Holding further alerts until it settles.",
            )
        return replace(base, state="flapping", edit=has_message)

    if condition == "breach":
        if before.state == "open":
            if has_message:
                note = (
                    None
                    if muted
                    else (
                        f":red_circle: Still breaching (check {breach_count}, "
                        f"{consecutive} in a row): {headline}"
                    )
                )
                return replace(
                    base,
                    effect=Effect.SUPPRESSED if muted else Effect.UPDATED,
                    edit=True,
                    note=note,
                )
            if muted:
                return replace(base, effect=Effect.SUPPRESSED)
            return replace(base, effect=Effect.OPENED, post_new=True)
        if before.state == "flapping" and has_message:
            return replace(
                base,
                state="open",
                effect=Effect.SETTLED,
                edit=True,
                note=f":red_circle: Settled, still breaching: {headline}",
            )
        # A new incident.
        opened = replace(
            base, state="open", opened_at=now, resolved_at=None, breach_count=consecutive
        )
        if muted:
            return replace(opened, effect=Effect.SUPPRESSED)
        recent = before.resolved_at is not None and now - before.resolved_at <= rules.flap_window
        if has_message and recent:
            return replace(
                opened,
                effect=Effect.REOPENED,
                edit=True,
                note=f":red_circle: Breaching again: {headline}",
            )
        return replace(opened, effect=Effect.OPENED, post_new=True)

    # condition == "clear"
    if before.state in ("open", "flapping"):
        if before.state == "open" and before.opened_at is not None:
            text = f":large_green_circle: Resolved after {format_duration(now - before.opened_at)}: {headline}"
        else:
            text = f":large_green_circle: Settled and resolved: {headline}"
        return replace(
            base,
            state="resolved",
            resolved_at=now,
            effect=Effect.RESOLVED if before.state == "open" else Effect.SETTLED,
            edit=has_message,
            note=text if has_message else None,
        )
    if breach:
        return replace(base, state="pending", effect=Effect.PENDING)
    if before.state == "pending":
        return replace(base, state="ok")
    return base
