"""Slack messages that matter, delivered at least once and posted at most once.

Alerts, approval cards and their threads, rollout results and training-job results must not be
lost because Slack rate-limits, fails, times out or is down for an hour. Each one goes through
the ``outbox`` table under a *dedupe key* that names what it is (``alert:<fingerprint>:<incident>``,
``job-result:<job id>``, ...):

* ``send`` stores it (or refreshes the stored content of an undelivered one) and, unless Slack is
  known to be unavailable right now, tries to deliver it at once in the caller's thread, so when
  Slack is up nothing is slower than a direct call;
* a message that could not be delivered stays in the table with the error and a next attempt
  time (``Retry-After`` honoured, exponential backoff otherwise); the delivery loop (a thread of
  the running bot, any replica) retries it when it is due, after a restart too;
* every attempt starts with a compare-and-set claim on the row, so two threads or two replicas
  never send the same row at once; a delivered post is never sent again, and a second ``send``
  with the same key returns the first delivery's message instead of posting a duplicate;
* edits (``chat.update``) are *replaceable*: the newest content wins, and a newer edit queued
  while an older one is in flight is sent after it, so a card always ends up showing the latest
  state;
* a thread reply or a chart whose parent message is itself still queued waits for it and is
  then sent into its thread;
* what the owner must learn after a late delivery (an alert card's ``ts``, a request card's
  ``ts``) is told through a *delivery hook*, stored by name: every process registers the same
  hooks at start-up (:meth:`Outbox.on_delivered`), so whichever one delivers the row calls it.

Errors that no retry can fix (``invalid_blocks``, ``msg_too_long``, ``message_not_found``...) are
given up at once and logged; everything else is retried for ``max_age`` (a day by default).
A post whose answer was lost (a timeout after Slack accepted it) can still appear twice; Slack
has no idempotency key for ``chat.postMessage``, so this window is only as large as one request.

The parts:

* :mod:`bot.slack.outbox.queue` — :class:`Outbox`, what the bot sends through;
* :mod:`bot.slack.outbox.rows` — the ``outbox`` table: queueing under a dedupe key, counts;
* :mod:`bot.slack.outbox.delivery` — one attempt: claim, send, mark delivered / release / give up;
* :mod:`bot.slack.outbox.failures` — which errors are retried when, and the outage pause;
* :mod:`bot.slack.outbox.loop` — the background thread that delivers what is due;
* :mod:`bot.slack.outbox.slack_api` — the Slack calls themselves and the client they use;
* :mod:`bot.slack.outbox.settings` — timings and sizes shared by these parts.
"""

from __future__ import annotations

from bot.slack.outbox.failures import PERMANENT_ERRORS, TRANSIENT_ERRORS, Failure, classify
from bot.slack.outbox.queue import Outbox
from bot.slack.outbox.rows import NEVER
from bot.slack.outbox.slack_api import POST, UPDATE, UPLOAD, delivery_client

__all__ = [
    "NEVER",
    "PERMANENT_ERRORS",
    "POST",
    "TRANSIENT_ERRORS",
    "UPDATE",
    "UPLOAD",
    "Failure",
    "Outbox",
    "classify",
    "delivery_client",
]
