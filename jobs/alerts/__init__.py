"""The alert use case: one conversation per incident instead of a flood.

* :mod:`jobs.alerts.book` — :class:`AlertBook`, which reads and advances the ``alerts`` rows
  after each check and posts the cards, edits and thread notes through the Publisher;
* :mod:`jobs.alerts.mutes` — who silenced which signal until when;
* :mod:`jobs.alerts.actions` — what the alert card's buttons do (acknowledge, mute, details,
  retrain), with plain arguments, returning what to tell the person who clicked.

The rules themselves (K in a row, flapping, reopening, mutes) are pure domain, in
:mod:`core.alerting.policy`; they are re-exported here for the callers of the use case.
:mod:`jobs.alerts.actions` is not imported here (it depends on :mod:`jobs.retraining`, which
depends on this package); import it by its name.
"""

from __future__ import annotations

from core.alerting.policy import (
    RETRAIN_TRIGGER,
    Effect,
    Snapshot,
    Transition,
    fingerprint,
    plan,
    retrain_mode,
    severity,
)
from jobs.alerts.book import (
    CARD_HOOK,
    AlertBook,
    Observation,
    Outcome,
    card_key,
    label,
    open_alert_signals,
)
from jobs.alerts.mutes import active_mute, list_mutes, remove_mutes, set_mute

__all__ = [
    "CARD_HOOK",
    "RETRAIN_TRIGGER",
    "AlertBook",
    "Effect",
    "Observation",
    "Outcome",
    "Snapshot",
    "Transition",
    "active_mute",
    "card_key",
    "fingerprint",
    "label",
    "list_mutes",
    "open_alert_signals",
    "plan",
    "remove_mutes",
    "retrain_mode",
    "set_mute",
    "severity",
]
