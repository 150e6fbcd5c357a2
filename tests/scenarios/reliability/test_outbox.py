"""The outbox against a Slack that rate-limits, fails, hangs and refuses: every message that
matters is delivered once Slack takes it, and never twice.

These drive :class:`bot.slack.outbox.Outbox` directly against the fake Slack (over HTTP, through the
bot's own slack_sdk client); ``test_slack_faults.py`` shows the same through alerts, approval
cards, rollouts and job results.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.sandbox import seed
from bot.slack.outbox import NEVER, Outbox, delivery_client
from bot.slack.responder import make_client
from core.replies import MessageRef, MessageReply
from infra.store import OutboxMessage, Store, open_store
from tests.fakes.slack_server import FakeSlackServer

CHANNEL = seed.ALERTS_CHANNEL
HOOK_CALLS: list[tuple[dict[str, Any], MessageRef | None, bool]] = []


def record_hook(args: dict[str, Any], ref: MessageRef | None, deferred: bool) -> None:
    """A delivery hook, registered as "record" (every process registers its hooks by name)."""
    HOOK_CALLS.append((dict(args), ref, deferred))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path / 'bot.db'}")
    yield store
    store.close()


@pytest.fixture
def make_outbox(store: Store, slack_server: FakeSlackServer) -> Callable[..., Outbox]:
    def make(timeout: int = 5, **options: Any) -> Outbox:
        client = delivery_client(
            make_client(seed.BOT_TOKEN, slack_server.base_url, timeout=timeout)
        )
        options.setdefault("backoff_base", 0.2)
        return Outbox(store, client, **options)

    return make


def posts(slack: FakeSlackServer, text: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(CHANNEL) if text in str(m.get("text"))]


def make_due(store: Store) -> None:
    """Jump the backoff: every waiting row is due now (what time would do)."""
    from datetime import UTC, datetime

    with store.session() as session:
        for row in session.scalars(select(OutboxMessage)):
            if row.delivered_at is None and row.next_attempt_at < NEVER:
                row.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)


def test_delivered_at_once_and_never_twice(make_outbox, slack_server) -> None:
    outbox = make_outbox()
    first = outbox.post("alert:a", CHANNEL, MessageReply(text="drift in prod"))
    again = outbox.post("alert:a", CHANNEL, MessageReply(text="drift in prod, newer"))
    assert first.delivered and again.delivered and first.ref == again.ref
    assert len(slack_server.calls_of("chat.postMessage")) == 1
    assert outbox.counts() == {"delivered": 1, "pending": 0, "given_up": 0}


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 503},
        {"status": 429, "retry_after": 1},
        {"error": "internal_error"},
        {"error": "fatal_error"},
    ],
    ids=["500", "503", "429", "internal_error", "fatal_error"],
)
def test_outage_keeps_the_message_and_delivers_it_once_when_slack_is_back(
    make_outbox, slack_server, store, fault
) -> None:
    outbox = make_outbox()
    slack_server.inject("chat.postMessage", times=None, **fault)
    queued = outbox.post("alert:b", CHANNEL, MessageReply(text="performance breach"))
    assert not queued.delivered and queued.error
    outbox._resume()  # the pause after a failure is over (what time would do)
    make_due(store)
    assert outbox.deliver_due() == 0  # still down: kept, attempts counted
    with store.session() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert row.attempts == 2 and row.last_error and row.delivered_at is None
    slack_server.clear_faults()
    make_due(store)
    outbox._resume()
    assert outbox.deliver_due() == 1
    assert outbox.deliver_due() == 0
    assert len(posts(slack_server, "performance breach")) == 1


def test_retry_after_is_honoured(make_outbox, slack_server, store) -> None:
    outbox = make_outbox()
    slack_server.inject("chat.postMessage", status=429, retry_after=2, times=1)
    started = time.monotonic()
    assert not outbox.post("alert:c", CHANNEL, "rate limited once").delivered
    assert outbox.paused  # no other message tries Slack before Retry-After either
    assert not outbox.post("alert:d", CHANNEL, "behind it").delivered
    assert outbox.deliver_due() == 0  # not due yet
    while outbox.deliver_due() < 2 and time.monotonic() - started < 10:
        time.sleep(0.1)
    assert time.monotonic() - started >= 1.5
    assert [m["text"] for m in slack_server.messages(CHANNEL)] == ["rate limited once", "behind it"]
    statuses = [c.http_status for c in slack_server.calls_of("chat.postMessage")]
    assert statuses == [429, 200, 200]  # the queued one waited instead of hitting the limit


def test_slack_that_hangs_times_out_and_is_retried(make_outbox, slack_server, store) -> None:
    outbox = make_outbox(timeout=1)
    # Slack hangs past the client's timeout and then fails: nothing was posted.
    slack_server.inject("chat.postMessage", status=503, delay=2.5, times=1)
    started = time.monotonic()
    queued = outbox.post("result:job-1", CHANNEL, "job finished")
    assert time.monotonic() - started < 5  # the caller waited for the timeout, not for Slack
    assert not queued.delivered and "timed out" in str(queued.error).lower()
    make_due(store)
    outbox._resume()
    time.sleep(2)  # the hung request ends on the fake's side
    assert outbox.deliver_due() == 1
    assert len(posts(slack_server, "job finished")) == 1


def test_an_answer_lost_after_slack_posted_can_repeat_the_post_once(
    make_outbox, slack_server, store
) -> None:
    """The one window the outbox cannot close (Slack has no idempotency key for posts): Slack
    posted, but the answer never arrived. Measured here so RELIABILITY.md can state it."""
    outbox = make_outbox(timeout=1)
    slack_server.inject("chat.postMessage", delay=1.5, times=1)  # succeeds, too late
    assert not outbox.post("result:job-2", CHANNEL, "ambiguous").delivered
    deadline = time.monotonic() + 20
    while not posts(slack_server, "ambiguous"):  # Slack posts it after the client gave up
        assert time.monotonic() < deadline, "the late post never landed"
        time.sleep(0.05)
    make_due(store)
    outbox._resume()
    assert outbox.deliver_due() == 1
    assert len(posts(slack_server, "ambiguous")) == 2


def test_errors_no_retry_can_fix_are_given_up_and_recorded(
    make_outbox, slack_server, store
) -> None:
    outbox = make_outbox()
    slack_server.inject("chat.postMessage", error="invalid_blocks", times=1)
    delivery = outbox.post("card:x", CHANNEL, MessageReply(text="card"))
    assert not delivery.delivered and delivery.error == "invalid_blocks"
    assert outbox.counts()["given_up"] == 1
    make_due(store)
    assert outbox.deliver_due() == 0
    trail = store.audit_trail(limit=5)
    assert trail[0].action == "slack_message" and trail[0].outcome == "given_up"


def test_a_channel_the_bot_cannot_post_in_is_kept_until_it_can(
    make_outbox, slack_server, store
) -> None:
    outbox = make_outbox()
    slack_server.inject("chat.postMessage", error="not_in_channel", times=1)
    assert not outbox.post("alert:e", CHANNEL, "invite me").delivered
    assert not outbox.paused  # other channels still work
    assert outbox.post("alert:f", seed.MLOPS_CHANNEL, "elsewhere").delivered
    slack_server.inject("chat.postMessage", error="not_in_channel", times=1)
    make_due(store)
    assert outbox.deliver_due() == 0
    make_due(store)
    assert outbox.deliver_due() == 1
    assert len(posts(slack_server, "invite me")) == 1


def test_edits_queued_during_an_outage_end_with_the_newest_content(
    make_outbox, slack_server, store
) -> None:
    outbox = make_outbox()
    ref = outbox.post("card:y", CHANNEL, MessageReply(text="step 1 of 3")).ref
    assert ref is not None
    slack_server.inject("chat.update", status=500, times=None)
    for step in (2, 3):
        outbox.update("card:y:edit", ref, MessageReply(text=f"step {step} of 3"))
    slack_server.clear_faults()
    outbox._resume()
    make_due(store)
    assert outbox.deliver_due() == 1
    updates = [c for c in slack_server.calls_of("chat.update") if c.http_status == 200]
    assert len(updates) == 1 and "step 3 of 3" in str(updates[0].args["blocks"])
    assert "step 3 of 3" in str(slack_server.workspace.message(CHANNEL, ref.ts)["blocks"])
    # A later edit of a delivered card is sent again (edits replace, they do not repeat).
    outbox.update("card:y:edit", ref, MessageReply(text="done"))
    assert "done" in str(slack_server.workspace.message(CHANNEL, ref.ts)["blocks"])


def test_replies_wait_for_their_queued_parent(make_outbox, slack_server, store) -> None:
    outbox = make_outbox()
    outbox.on_delivered("record", record_hook)
    HOOK_CALLS.clear()
    slack_server.inject("chat.postMessage", status=503, times=2)  # the client retries a 5xx once
    parent = outbox.post(
        "alert:g",
        CHANNEL,
        MessageReply(text="drift alert"),
        hook="record",
        hook_args={"fingerprint": "g"},
    )
    assert not parent.delivered
    outbox._resume()
    child = outbox.post("alert:g:note", None, "still drifting", parent="alert:g")
    assert not child.delivered and child.error == "waiting for its parent message"
    make_due(store)
    assert outbox.deliver_due() == 2  # the parent first, then its reply into its thread
    top = posts(slack_server, "drift alert")
    assert len(top) == 1
    thread = slack_server.thread(CHANNEL, top[0]["ts"])
    assert [m["text"] for m in thread][1:] == ["still drifting"]
    assert [({"fingerprint": "g"}, MessageRef(CHANNEL, top[0]["ts"]), True)] == HOOK_CALLS


def test_two_replicas_draining_the_same_outbox_send_each_message_once(
    make_outbox, slack_server, store
) -> None:
    first, second = make_outbox(), make_outbox()
    slack_server.inject("chat.postMessage", status=503, times=None)
    for i in range(40):  # the first fails, the rest are queued without trying (Slack is down)
        first.post(f"alert:{i}", CHANNEL, f"message {i}")
    slack_server.clear_faults()
    first._resume()
    make_due(store)
    barrier = threading.Barrier(2)

    def drain(outbox: Outbox) -> None:
        barrier.wait()
        while outbox.counts()["pending"]:
            outbox.deliver_due()

    threads = [threading.Thread(target=drain, args=(o,)) for o in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    texts = [m["text"] for m in slack_server.messages(CHANNEL)]
    assert sorted(texts) == sorted(f"message {i}" for i in range(40))


def test_a_restarted_bot_delivers_what_the_previous_one_queued(
    make_outbox, slack_server, store
) -> None:
    before_crash = make_outbox()
    slack_server.inject("chat.postMessage", status=503, times=None)
    before_crash.post("result:job-9", CHANNEL, "queued before the crash")
    del before_crash  # the process is gone; its row stays
    slack_server.clear_faults()
    make_due(store)
    after_restart = make_outbox(interval_seconds=0.05)
    after_restart.start()
    try:
        deadline = time.monotonic() + 10
        while not posts(slack_server, "queued before the crash") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        after_restart.stop()
    assert len(posts(slack_server, "queued before the crash")) == 1


@pytest.mark.parametrize(
    ("method", "fault"),
    [
        ("files.completeUploadExternal", {"status": 500, "times": 2}),
        ("files.getUploadURLExternal", {"error": "internal_error", "times": 1}),
        ("files.getUploadURLExternal", {"status": 503, "delay": 2.0, "times": 1}),
        ("file_upload", {"status": 500, "times": 1}),
    ],
    ids=["complete_500", "get_url_ok_false", "get_url_timeout", "upload_500"],
)
def test_uploads_are_kept_and_delivered_into_the_thread(
    make_outbox, slack_server, store, method, fault
) -> None:
    from core.replies import Upload

    outbox = make_outbox(timeout=1)
    ref = outbox.post("summary:z", CHANNEL, "summary").ref
    chart = Upload("drift.png", b"\x89PNG fake", "drift", "a drift chart")
    slack_server.inject(method, **fault)
    assert not outbox.upload("summary:z:chart", ref.channel, [chart], thread_ts=ref.ts).delivered
    time.sleep(fault.get("delay", 0))
    # The injected faults may take more than one attempt to use up (under load the first
    # attempt can time out before it reaches the faulty call): the row is kept and retried until
    # Slack takes it, and then it is delivered once.
    delivered = 0
    for _ in range(4):
        outbox._resume()
        make_due(store)
        delivered += outbox.deliver_due()
        if delivered:
            break
    assert delivered == 1
    files = [m for m in slack_server.thread(CHANNEL, ref.ts) if m.get("files")]
    assert len(files) == 1 and files[0]["files"][0]["title"] == "drift"
