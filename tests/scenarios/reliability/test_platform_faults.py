"""The ML platform failing: transient errors are retried, a rollout that fails half-way is
rolled back, a missing role is named, and a platform that hangs holds up neither the acks nor
the other models' checks (every call has a deadline; a hung model fails fast after the first).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bot.sandbox import seed
from core.promotion.states import ApprovalState
from infra.platform.base import ConflictError
from infra.platform.guard import Deadlines, GuardedPlatform
from infra.platform.local import LocalPlatform
from jobs.run import run_kind
from tests.scenarios.approvals.harness import wait_until
from tests.scenarios.reliability.faulty import (
    Hang,
    Misbehaving,
    fails_at,
    fails_transiently,
    lacks_role,
)
from tests.scenarios.scheduling.conftest import model_config
from tests.scenarios.scheduling.platform import ScriptedPlatform
from tests.scenarios.slackapp.conftest import blocks_text

MODEL = "churn-model"


def test_transient_read_errors_are_retried_and_the_answer_arrives(start_demo_bot) -> None:
    faulty: list[Misbehaving] = []

    def flaky(settings):
        faulty.append(
            Misbehaving(LocalPlatform(settings), fails_transiently({"endpoint_state"}, times=2))
        )
        return faulty[0]

    bot = start_demo_bot(platform=flaky)
    bot.runtime.platform.backoff = 0.01
    bot.command(f"status {MODEL}")
    reply = bot.wait_for_reply(lambda a: "prod" in blocks_text(a))
    assert "did not answer" not in blocks_text(reply) and "429" not in blocks_text(reply)
    assert faulty[0].calls["endpoint_state"] >= 3  # two failures, then the answers


def test_creating_calls_are_not_retried_so_nothing_is_created_twice(start_demo_bot) -> None:
    faulty: list[Misbehaving] = []

    def flaky(settings):
        faulty.append(
            Misbehaving(LocalPlatform(settings), fails_transiently({"begin_deploy"}, times=1))
        )
        return faulty[0]

    bot = start_demo_bot(platform=flaky)
    platform = bot.runtime.platform
    before = {d.name for d in platform.endpoint_state(MODEL, "dev").deployments}
    target = next(
        v.version
        for v in platform.list_versions(MODEL, "dev")
        if v.version != platform.endpoint_state(MODEL, "dev").primary.model_version
    )
    bot.command(f"deploy {MODEL} {target} --env dev")
    bot.drain(60)
    assert faulty[0].calls["begin_deploy"] == 1
    after = {d.name for d in platform.endpoint_state(MODEL, "dev").deployments}
    assert after == before  # no half-made deployment was left behind
    final = bot.slack.calls_of("chat.update")[-1].args if bot.slack.calls_of("chat.update") else {}
    assert "429" in blocks_text(final) or "try again" in blocks_text(final)


def test_a_rollout_that_fails_half_way_is_rolled_back(make_bot) -> None:
    bot = make_bot(prod_rollout={"bake_time": "0.1s"})
    guard: GuardedPlatform = bot.runtime.platform  # type: ignore[assignment]
    approval, ts = bot.request()
    # The second traffic change (to 50%) is refused by the workspace, for good.
    guard.inner = Misbehaving(
        guard.inner,
        fails_at("set_traffic", nth=2, error=ConflictError("endpoint update refused: quota")),
    )
    bot.click(ts, "approval_approve", seed.BOB)
    bot.wait_ephemeral(seed.BOB, "1 of 2")
    bot.click(ts, "approval_approve", seed.CAROL)
    done = bot.wait_state(
        approval.id, ApprovalState.ROLLED_BACK, ApprovalState.SUCCEEDED, ApprovalState.FAILED
    )
    assert done.state is ApprovalState.ROLLED_BACK, done.reason
    assert "quota" in (done.reason or "")
    assert bot.serving() == {"1": 100}
    wait_until(lambda: "Rolled back" in bot.card_text(ts), what="the card to say so")


def test_transient_errors_during_a_rollout_are_retried_and_it_succeeds(make_bot) -> None:
    bot = make_bot(prod_rollout={"bake_time": "0.1s"})
    guard: GuardedPlatform = bot.runtime.platform  # type: ignore[assignment]
    guard.backoff = 0.01
    approval, ts = bot.request()
    guard.inner = Misbehaving(
        guard.inner,
        fails_transiently({"set_traffic", "copy_version", "endpoint_state"}, times=2),
    )
    bot.click(ts, "approval_approve", seed.BOB)
    bot.wait_ephemeral(seed.BOB, "1 of 2")
    bot.click(ts, "approval_approve", seed.CAROL)
    done = bot.wait_state(
        approval.id, ApprovalState.ROLLED_BACK, ApprovalState.SUCCEEDED, ApprovalState.FAILED
    )
    assert done.state is ApprovalState.SUCCEEDED, done.reason
    assert bot.serving()["2"] == 100


ROLE = "AzureML Data Scientist"
SCOPE = "workspace mlw-prod"


def test_permission_errors_name_the_missing_role(start_demo_bot) -> None:
    bot = start_demo_bot(
        platform=lambda s: Misbehaving(
            LocalPlatform(s), lacks_role({"production_data", "begin_deploy"}, ROLE, SCOPE)
        )
    )
    bot.command(f"drift {MODEL} --env prod")
    # The answer replaces the public "running the check" message, naming role and scope.
    reply = bot.wait_for_reply(lambda a: ROLE in blocks_text(a))
    assert SCOPE in blocks_text(reply) and "Something went wrong" not in blocks_text(reply)

    platform = bot.runtime.platform
    target = next(
        v.version
        for v in platform.list_versions(MODEL, "dev")
        if v.version != platform.endpoint_state(MODEL, "dev").primary.model_version
    )
    bot.command(f"deploy {MODEL} {target} --env dev")
    reply = bot.wait_for_reply(
        lambda a: ROLE in blocks_text(a) and "deploy" in blocks_text(a).lower()
    )
    assert SCOPE in blocks_text(reply)

    services = bot.runtime.services
    result = run_kind(services.jobs_context, "drift", MODEL, "prod", publish=False)
    assert result.level == "unknown" and ROLE in result.headline


def test_a_rollout_refused_for_a_missing_role_fails_with_the_role_named(make_bot) -> None:
    bot = make_bot()
    guard: GuardedPlatform = bot.runtime.platform  # type: ignore[assignment]
    approval, ts = bot.request()
    guard.inner = Misbehaving(
        guard.inner, lacks_role({"copy_version"}, "AzureML Registry User", "registry mlr-shared")
    )
    bot.click(ts, "approval_approve", seed.BOB)
    bot.wait_ephemeral(seed.BOB, "1 of 2")
    bot.click(ts, "approval_approve", seed.CAROL)
    done = bot.wait_state(
        approval.id, ApprovalState.FAILED, ApprovalState.ROLLED_BACK, ApprovalState.SUCCEEDED
    )
    assert done.state is ApprovalState.FAILED
    assert "AzureML Registry User" in (done.reason or "")
    wait_until(lambda: "AzureML Registry User" in bot.card_text(ts), what="the role on the card")
    assert bot.serving() == {"1": 100}


# --------------------------------------------------------------------------- hangs


def test_a_hung_platform_holds_up_neither_acks_nor_answers(start_demo_bot) -> None:
    hang = Hang(MODEL)
    bot = start_demo_bot(platform=lambda s: Misbehaving(LocalPlatform(s), hang))
    bot.runtime.platform.deadlines = Deadlines(read=1.0, data=1.0, change=2.0)
    try:
        acks = []
        for _ in range(10):
            started = time.monotonic()
            bot.command(f"status {MODEL}")
            acks.append(time.monotonic() - started)
        assert max(acks) < 1.0, acks
        bot.command("models")
        bot.command("help")
        assert bot.runtime.services.workers.wait_idle(30), "commands waited on the hung platform"
        answers = [c.args for c in bot.slack.calls_of("response_url")]
        assert len(answers) >= 12
        status_answers = [
            a
            for a in answers
            if "did not answer" in blocks_text(a) or "has not answered" in blocks_text(a)
        ]
        assert status_answers, [blocks_text(a)[:200] for a in answers]
        assert hang.stuck <= 6  # after the first deadline the others failed fast
    finally:
        hang.release()


@pytest.fixture
def hanging() -> Iterator[Hang]:
    hang = Hang("fraud-model")
    yield hang
    hang.release()


@pytest.fixture
def platform(hanging: Hang) -> GuardedPlatform:
    """The scheduling harness's scripted platform, hung for one model, under deadlines."""
    return GuardedPlatform(
        Misbehaving(ScriptedPlatform(), hanging),  # type: ignore[arg-type]
        deadlines=Deadlines(read=1.0, data=1.5, change=2.0),
    )


@pytest.mark.usefixtures("quick_charts")
def test_a_model_whose_platform_hangs_does_not_hold_up_the_other_models(
    make_harness, hanging: Hang
) -> None:
    harness = make_harness(model_config(), model_config(name="fraud-model"))
    scheduler = harness.start()
    harness.clock.advance()
    started = time.monotonic()
    hung_jobs = [
        "drift:fraud-model:prod",
        "performance:fraud-model:prod",
        "utilization:fraud-model:prod",
    ]
    marks = {job: scheduler.run_now(job) for job in hung_jobs}
    time.sleep(0.2)  # the hung checks have taken their threads
    fine = scheduler.run_now("drift:churn:prod")
    assert scheduler.wait_for("drift:churn:prod", fine, timeout=30)
    churn_took = time.monotonic() - started
    assert churn_took < 10, churn_took
    for job, mark in marks.items():
        assert scheduler.wait_for(job, mark, timeout=30), f"{job} never ended"
    assert time.monotonic() - started < 15
    # The hung model's checks ended as "could not run", with the reason, not as a breach.
    from infra.store import Alert

    with harness.store.session() as session:
        rows = session.query(Alert).filter(Alert.model == "fraud-model").all()
        assert rows and all(r.state not in ("open", "pending") for r in rows)
        assert any(
            "did not answer" in str(r.summary.get("headline"))
            or "not answered" in str(r.summary.get("headline"))
            for r in rows
        )
    assert len(harness.top_level("C0MLOPS")) >= 1  # churn's summary went out
    assert threading.active_count() < 200
