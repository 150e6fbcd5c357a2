"""Work after an ack waits for a quiet moment in the acks, never longer than its bound."""

from __future__ import annotations

import threading
import time

from bot.slack.ack_traffic import AckTraffic


def test_with_no_ack_answered_work_starts_at_once() -> None:
    assert AckTraffic().wait_for_quiet() < 0.01


def test_work_waits_while_an_ack_is_being_answered_and_starts_after_the_quiet() -> None:
    traffic = AckTraffic(quiet_seconds=0.05, longest_wait_seconds=5)
    answering = threading.Event()
    release = threading.Event()

    def ack() -> None:
        with traffic.acking():
            answering.set()
            release.wait(5)

    acker = threading.Thread(target=ack)
    acker.start()
    answering.wait(5)
    threading.Timer(0.2, release.set).start()
    started = time.monotonic()
    waited = traffic.wait_for_quiet()
    acker.join(5)
    # 0.2 s of ack, then 0.05 s of quiet; the bound (5 s) was not what ended the wait.
    assert 0.24 <= waited < 2
    assert time.monotonic() - started >= 0.24


def test_a_stream_of_acks_cannot_hold_work_back_past_the_bound() -> None:
    traffic = AckTraffic(quiet_seconds=0.05, longest_wait_seconds=0.3)
    stop = threading.Event()

    def stream() -> None:
        while not stop.is_set():
            with traffic.acking():
                time.sleep(0.01)

    acker = threading.Thread(target=stream)
    acker.start()
    try:
        waited = traffic.wait_for_quiet()
    finally:
        stop.set()
        acker.join(5)
    assert 0.3 <= waited < 1


def test_the_quiet_is_counted_from_the_last_ack_with_a_clock() -> None:
    now = [100.0]
    traffic = AckTraffic(quiet_seconds=1.0, longest_wait_seconds=10, clock=lambda: now[0])
    with traffic.acking():
        pass
    now[0] = 101.5  # 1.5 s after the last ack: quiet
    assert traffic.wait_for_quiet() == 0.0


def test_an_inbox_run_starts_once_the_acks_in_flight_are_answered(tmp_path) -> None:
    from bot.slack.inbox import InboxWorker
    from infra.holders import new_holder
    from infra.inbox import Inbox
    from infra.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'bot.db'}")
    traffic = AckTraffic(quiet_seconds=0.01, longest_wait_seconds=5)
    ran_at: list[float] = []
    queued: list[threading.Thread] = []

    def submit(fn, *args) -> None:  # the worker pool, one thread per item
        queued.append(threading.Thread(target=fn, args=args))
        queued[-1].start()

    worker = InboxWorker(Inbox(store, new_holder()), submit, traffic=traffic)
    worker.on("command", lambda body: ran_at.append(time.monotonic()))
    with traffic.acking():  # the listener records and queues inside its ack
        assert worker.accept("command", "command:t1", {"text": "status"})
        time.sleep(0.2)
        answered_at = time.monotonic()
    queued[0].join(5)
    assert ran_at and ran_at[0] >= answered_at
