"""Exactly once at the edges, in-process (issue 17): the database forbids a second open request
and a second rollout on an endpoint, replicas share replay memory, acked work waits in the inbox,
and a state change commits with the messages announcing it.

The kill -9 scenarios are in ``test_crash_exactly_once.py`` (child processes, slow); the random
kill rounds in ``chaos_rollout.py``.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.sandbox import seed
from core.promotion.book import NewRequest, RequestAlreadyOpenError
from core.promotion.states import ApprovalState
from infra.holders import new_holder
from infra.rollout_locks import EndpointBusyError, EndpointLock, hold_endpoint
from infra.store import InboxItem, OutboxMessage, retry_on_conflict
from tests.fakes.postgres import fresh_postgres_url, needs_postgres
from tests.fakes.signing import post
from tests.scenarios.approvals.harness import APPROVALS, MODEL, wait_until


def _promote_at_once(pairs: list[tuple[object, object]]) -> None:
    """Send each (bot, signed request) from its own thread, all released by one barrier."""
    go = threading.Barrier(len(pairs))

    def send(bot, request) -> None:
        go.wait()
        result = post(bot.url, request.body, request.headers)
        assert result.status == 200, result.text

    threads = [threading.Thread(target=send, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)


def _open_requests(bot) -> list:
    open_states = (ApprovalState.PENDING, ApprovalState.APPROVED, ApprovalState.ROLLING_OUT)
    return [a for a in bot.approvals() if a.state in open_states]


# --------------------------------------------------------------------------- one open request


def test_the_database_refuses_a_second_open_request(make_bot) -> None:
    """Past the command's own check (two promotes that both found no open request), the
    database keeps one: the second insert names the first."""
    bot = make_bot()
    book = bot.desk.book
    request = NewRequest(MODEL, "2", "preprod", "prod", seed.ALICE, context={})
    first = book.create(request)
    with pytest.raises(RequestAlreadyOpenError) as lost:
        book.create(NewRequest(MODEL, "2", "preprod", "prod", seed.CAROL, context={}))
    assert lost.value.existing.id == first.id
    assert [a.id for a in _open_requests(bot)] == [first.id]
    # Once the first has ended, a new request may open. The running bot's sweeps may touch the
    # row meanwhile, so the cancel re-reads and retries like every product read-decide-write.
    retry_on_conflict(
        lambda: book.transition(
            book.require(first.id), ApprovalState.CANCELED, actor=seed.ALICE, reason="x"
        )
    )
    assert book.create(request).id != first.id


def test_concurrent_promotes_on_one_replica_open_one_request(make_bot) -> None:
    bot = make_bot()
    act = bot.server.interactions
    text = f"promote {MODEL} --to prod"
    users = (seed.ALICE, seed.CAROL) * 2
    _promote_at_once([(bot, act.slash_command(text, user_id=user)) for user in users])
    bot.runtime.services.workers.wait_idle(30)
    opened = _open_requests(bot)
    assert len(opened) == 1, opened
    wait_until(lambda: len(bot.cards()) == 1, what="one card")
    # Every loser is told which request is open (the card's link follows once it is posted).
    answers = bot.ephemeral_texts(seed.ALICE) + bot.ephemeral_texts(seed.CAROL)
    assert sum(f"request {opened[0].id}" in t and "already" in t for t in answers) == 3, answers


@pytest.mark.postgres
@needs_postgres
def test_concurrent_promotes_across_two_replicas_on_postgres_open_one_request(
    make_bot, tmp_path
) -> None:
    url = fresh_postgres_url()
    first = make_bot(database_url=url)
    second = make_bot(database_url=url)
    act = first.server.interactions
    text = f"promote {MODEL} --to prod"
    pairs = []
    for _ in range(3):
        pairs += [(first, act.slash_command(text)), (second, act.slash_command(text))]
    _promote_at_once(pairs)
    for bot in (first, second):
        bot.runtime.services.workers.wait_idle(30)
    assert len(_open_requests(first)) == 1
    wait_until(lambda: len(first.cards()) == 1, what="one card")


# --------------------------------------------------------------------------- one rollout per endpoint


def test_a_rollback_is_refused_while_a_rollout_runs_on_the_endpoint(make_bot) -> None:
    bot = make_bot()
    before = bot.serving()
    store = bot.runtime.store
    with hold_endpoint(
        store, MODEL, "prod", holder="promotion:abc", what="the promotion of v2 (request abc)"
    ):
        bot.command(f"rollback {MODEL} --env prod", user=seed.BOB)  # an ml-approver
        answer = bot.wait_ephemeral(seed.BOB, "a rollout is already running")
        assert "the promotion of v2 (request abc)" in answer
        assert bot.serving() == before
    trail = store.audit_trail(model=MODEL, limit=50)
    assert [e.outcome for e in trail if e.action == "rollback"] == ["refused"]


def test_a_promotion_does_not_start_its_traffic_steps_on_a_busy_endpoint(make_bot) -> None:
    """A direct deploy (or a rollback) holds the endpoint: an approved promotion on it ends
    with a clear reason instead of fighting over the traffic split."""
    bot = make_bot()
    approval, ts = bot.request()
    with hold_endpoint(
        bot.runtime.store, MODEL, "prod", holder=new_holder(), what="a deploy of v1 by <@U1>"
    ):
        bot.click(ts, "approval_approve", seed.BOB)
        bot.click(ts, "approval_approve", seed.CAROL)
        done = bot.wait_state(
            approval.id, ApprovalState.FAILED, ApprovalState.SUCCEEDED, ApprovalState.ROLLED_BACK
        )
    assert done.state is ApprovalState.FAILED
    assert "a rollout is already running on" in (done.reason or "")
    assert bot.serving() == {"1": 100}


def test_an_endpoint_lock_of_a_dead_process_is_taken_over(make_bot) -> None:
    bot = make_bot()
    store = bot.runtime.store
    dead = f"{new_holder().split(':')[0]}:999999:gone"
    EndpointLock(store, MODEL, "prod", dead, "a deploy", ttl=timedelta(hours=1)).acquire()
    with pytest.raises(EndpointBusyError):  # a live holder (this process) is respected ...
        live = EndpointLock(store, MODEL, "prod", new_holder(), "a rollback")
        live.acquire()
        EndpointLock(store, MODEL, "prod", new_holder(), "another rollback").acquire()
    live.release()
    # ... a holder whose process does not run any more is not: its lock is taken over.
    EndpointLock(store, MODEL, "prod", dead, "a deploy", ttl=timedelta(hours=1)).acquire()
    with hold_endpoint(store, MODEL, "prod", holder=new_holder(), what="a rollback") as taken:
        assert taken.holder != dead


# --------------------------------------------------------------------------- replay memory


def test_a_request_replayed_to_another_replica_is_refused(make_bot) -> None:
    first = make_bot()
    second = make_bot()  # same state directory: the same database
    request = first.server.interactions.slash_command(f"status {MODEL}", user_id=seed.ALICE)
    assert post(first.url, request.body, request.headers).status == 200
    replayed = post(second.url, request.body, request.headers)
    assert replayed.status == 401, replayed.text
    again = post(first.url, request.body, request.headers)
    assert again.status == 401
    for bot in (first, second):
        bot.runtime.services.workers.wait_idle(30)
    trail = first.runtime.store.audit_trail(limit=50)
    assert [e.action for e in trail].count("command:status") == 1


# --------------------------------------------------------------------------- inbox + outbox


def test_acked_interactions_are_recorded_before_the_ack_and_run_once(make_bot) -> None:
    bot = make_bot()
    approval, ts = bot.request()
    request = bot.server.interactions.click(APPROVALS, ts, "approval_approve", user_id=seed.BOB)
    bot.send(request)
    # Slack's retry of the same click (its ack was lost) is the same inbox row.
    bot.send(request, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    bot.runtime.services.workers.wait_idle(30)
    with bot.runtime.store.session() as session:
        rows = session.scalars(select(InboxItem).where(InboxItem.kind == "approve")).all()
        assert len(rows) == 1
        assert rows[0].done_at is not None and rows[0].claimed_by is None
        assert rows[0].payload["user"]["id"] == seed.BOB
    current = bot.desk.book.require(approval.id)
    assert [v.user for v in current.votes] == [seed.BOB]


def test_a_vote_and_its_thread_line_commit_together(make_bot) -> None:
    """When the state change fails, nothing of it is queued; when it commits, its line is."""
    bot = make_bot()
    approval, ts = bot.request()
    store = bot.runtime.store
    thread_rows = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.dedupe_key.like(f"approval-thread:{approval.id}:%"))
    )

    class Boom(Exception):
        pass

    def failing(result) -> None:
        bot.desk.announce(result, seed.BOB)  # queues the line in the vote's transaction ...
        raise Boom  # ... which then fails

    with pytest.raises(Boom):
        bot.desk.votes.approve(approval.id, seed.BOB, None, failing)
    with store.session() as session:
        assert session.scalar(thread_rows) == 0
    assert bot.desk.book.require(approval.id).votes == ()
    bot.click(ts, "approval_approve", seed.BOB)
    bot.runtime.services.workers.wait_idle(30)
    with store.session() as session:
        assert session.scalar(thread_rows) == 1
    wait_until(lambda: "1 of 2" in bot.thread_text(ts), what="the vote line")


@pytest.mark.postgres
@needs_postgres
def test_concurrent_votes_across_two_replicas_on_postgres_count_once_and_roll_out_once(
    make_bot,
) -> None:
    """Each vote is inserted, counted and announced in one transaction that locks the request
    first: two votes committing at once on PostgreSQL neither stall the request nor both
    complete it."""
    url = fresh_postgres_url()
    first = make_bot(database_url=url)
    second = make_bot(database_url=url)
    approval, ts = first.request()
    act = first.server.interactions
    pairs = [
        (bot, act.click(APPROVALS, ts, "approval_approve", user_id=user))
        for user in (seed.BOB, seed.CAROL) * 5
        for bot in (first, second)
    ]
    _promote_at_once(pairs)
    done = second.wait_state(approval.id, ApprovalState.SUCCEEDED, ApprovalState.ROLLED_BACK)
    assert done.state is ApprovalState.SUCCEEDED, done.reason
    actions = [(a, o) for _, a, o in first.audit(approval.id)]
    assert actions.count(("approval_approve", "recorded")) == 2
    assert actions.count(("promotion", "rolling_out")) == 1
    lines = wait_until(
        lambda: (t := first.thread_text(ts)) and "is live" in t and t.splitlines(),
        what="the end line",
    )
    assert len(lines) == len(set(lines)), lines
