"""`/mlops approvals` without Slack: pending requests, rollouts in flight, recent outcomes."""

from __future__ import annotations

from core.replies import MessageReply, Tone
from tests.commands.support import Bench, usage_error

USAGE = "/mlops approvals [<model>]"


def request(bench: Bench, text: str, user: str = "U0ALICE") -> None:
    reply = bench.command(text, user=user)
    assert isinstance(reply, MessageReply) and reply.tone is Tone.SUCCESS, reply


def test_nothing_pending_on_the_fresh_demo(bench: Bench) -> None:
    reply = bench.command("approvals")
    assert type(reply).__name__ == "ApprovalsReply"
    assert not reply.public
    assert (reply.model, reply.pending, reply.in_flight, reply.recent) == (None, (), (), ())  # type: ignore[attr-defined]
    assert reply.fallback_text == "0 promotion requests waiting for approval"


def test_pending_requests_are_listed_with_their_counted_votes(bench: Bench) -> None:
    request(bench, "promote churn-model --to prod")
    request(bench, "promote churn-model --to preprod", user="U0DAVE")
    reply = bench.command("approvals churn-model")
    assert type(reply).__name__ == "ApprovalsReply"
    pending = reply.pending  # type: ignore[attr-defined]
    assert reply.model == "churn-model"  # type: ignore[attr-defined]
    assert sorted((a.target_env, a.version, a.requester) for a in pending) == [
        ("preprod", "3", "U0DAVE"),
        ("prod", "2", "U0ALICE"),
    ]
    assert reply.counted == (0, 0)  # type: ignore[attr-defined]
    assert reply.in_flight == () and reply.recent == ()  # type: ignore[attr-defined]
    assert reply.fallback_text == "2 promotion requests waiting for approval"


def test_a_mistyped_model_gets_a_suggestion(bench: Bench) -> None:
    reply = usage_error(bench.command("approvals churn"), USAGE, "unknown model 'churn'")
    assert reply.suggestion == "churn-model"


def test_extra_words_are_refused(bench: Bench) -> None:
    usage_error(bench.command("approvals churn-model prod"), USAGE, "unexpected extra words: prod")
    usage_error(bench.command("approvals --env prod"), USAGE, "unknown option --env")


def test_one_pending_request_is_counted_in_the_singular(bench: Bench) -> None:
    request(bench, "promote churn-model --to prod")
    assert bench.command("approvals").fallback_text == "1 promotion request waiting for approval"
