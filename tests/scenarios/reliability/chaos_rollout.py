"""Rounds of ``kill -9`` at a random moment between the last approval's ack and the end of the
rollout, each followed by a restart on the same state, checking what issue 17 asks:

* every acked vote counted once (Bob's and Carol's, one ``recorded`` audit row each);
* one rollout (one ``rolling_out`` transition, at most one deployment of v2 on the endpoint, and
  at most one deployment created per attempt: a rollout killed before any traffic moved is
  resumed from the start as attempt 2, by design, and says so in its thread);
* a consistent endpoint (succeeded: v2 serves 100%; rolled back: v1 serves 100%);
* each state change's thread line present exactly once (Carol's vote, "Rolling out", the end
  naming the requester), and every line queued for the thread posted there exactly once.

Not part of the default test run (each round starts a bot in a child process and a restart):

    python -m tests.scenarios.reliability.chaos_rollout --rounds 50 [--max-delay 4] [--seed 1]

Prints one line per round and a summary; exits 1 when any round broke an invariant.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from bot.sandbox import seed
from core.promotion.states import ApprovalState
from infra.store import OutboxMessage
from tests.fakes.slack_server import running_slack_server
from tests.scenarios.approvals.harness import (
    MODEL,
    Bot,
    config,
    prepare_platform,
    settings_for,
    start_bot,
    wait_until,
)
from tests.scenarios.reliability.test_crash_exactly_once import _approve_both, _thread
from tests.scenarios.reliability.test_crash_restart import Child

RESUMED = "Resumed after a restart"
LOST_ANSWER = "posted again after a kill during its Slack call"
FINAL = (ApprovalState.SUCCEEDED, ApprovalState.ROLLED_BACK, ApprovalState.FAILED)


def one_round(delay: float, tmp: Path) -> tuple[str, list[str]]:
    """Run one round; returns the final state and the broken invariants (empty: all held)."""
    problems: list[str] = []
    with running_slack_server() as slack:
        state = tmp / "state"
        raw = config()
        settings = settings_for(raw, state)
        prepare_platform(settings)
        spec = {
            "config": raw,
            "state_dir": str(state),
            "slack_api_url": slack.base_url,
            "die_at": "random",
            "die_user": seed.CAROL,
            "die_after": delay,
        }
        child = Child(spec, tmp)
        try:
            ts = _approve_both(child, slack)
            child.wait_killed(timeout=delay + 60)
        finally:
            child.kill()
        runtime, http = start_bot(settings, slack.base_url)
        bot = Bot(slack, runtime, http)
        try:
            approval = wait_until(lambda: bot.approvals(), what="the request")[0]
            done = bot.wait_state(approval.id, *FINAL, timeout=90)
            if done.state is ApprovalState.SUCCEEDED:  # its last thread line: the retirement
                done = wait_until(
                    lambda: (
                        (a := bot.desk.book.require(approval.id))
                        .rollout.get("retire", {})
                        .get("done")
                        and a
                    ),
                    timeout=60,
                    what="the replaced deployment to be retired",
                )
            wait_until(
                lambda: runtime.services.outbox.counts().get("pending", 0) == 0,
                timeout=30,
                what="the outbox to drain",
            )
            check(bot, done, ts, problems)
            return done.state.value, problems
        finally:
            bot.stop()


def check(bot: Bot, done, ts: str, problems: list[str]) -> None:
    actions = Counter((a, o) for _, a, o in bot.audit(done.id))
    if sorted(done.approvers) != sorted([seed.BOB, seed.CAROL]):
        problems.append(f"approvers {done.approvers}")
    if actions[("approval_approve", "recorded")] != 2:
        problems.append(f"{actions[('approval_approve', 'recorded')]} recorded votes")
    if actions[("promotion", "rolling_out")] != 1:
        problems.append(f"{actions[('promotion', 'rolling_out')]} rollouts started")
    attempts = int((done.rollout or {}).get("attempt") or 1)
    if actions[("deployment_created", "ok")] > attempts:
        problems.append(f"{actions[('deployment_created', 'ok')]} deployments in {attempts} tries")
    deployments = bot.platform.endpoint_state(MODEL, "prod").deployments
    if [d.model_version for d in deployments].count("2") > 1:
        problems.append("two deployments of v2")
    serving = {d.model_version: d.traffic for d in deployments if d.traffic}
    expected = {"2": 100} if done.state is ApprovalState.SUCCEEDED else {"1": 100}
    if serving != expected:
        problems.append(f"{done.state.value} but serving {serving}")
    lines = _thread(bot.server, ts)
    # Every thread line the bot queued (one outbox row per line and attempt) is in the thread
    # exactly once: none lost, none posted twice. (Text alone cannot tell a resumed attempt's
    # second "Deploy v2" from a duplicate; the rows can.)
    with bot.runtime.store.session() as session:
        rows = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.dedupe_key.like(f"approval-thread:{done.id}:%")
            )
        ).all()
        queued = Counter(str(row.payload["args"].get("text", "")) for row in rows)
        undelivered = [row.dedupe_key for row in rows if row.delivered_at is None]
        # Rows the killed process had claimed (sent, maybe) and the restart sent again.
        resent = {str(row.payload["args"].get("text", "")) for row in rows if row.attempts > 1}
    if undelivered:
        problems.append(f"thread lines never delivered: {undelivered}")
    posted = Counter(lines)
    twice = list((posted - queued).elements())
    counted = lines
    if any(line not in resent for line in twice):
        problems.append(f"thread lines posted twice: {twice}")
    elif twice:
        # The known limit (RELIABILITY.md): killed after Slack took the post and before the
        # answer was recorded; Slack has no idempotency key, so the restart posts it again.
        problems.append(f"{LOST_ANSWER}: {twice}")
        # The checks below count each queued line once, or this one duplicate would be
        # reported a second time as, say, "the end line 2 times".
        counted = list((posted - Counter(twice)).elements())
    if queued - posted:
        problems.append(f"thread lines missing: {list((queued - posted).elements())}")
    if sum(RESUMED in line for line in lines) != attempts - 1:
        problems.append(f"{attempts} attempts, {len(lines)} lines: resumption notes do not match")
    for what, test in (
        ("Carol's vote line", lambda line: "(2 of 2)" in line),
        ("the approved line", lambda line: "Rolling out" in line),
        ("the end line", lambda line: f"<@{seed.ALICE}>" in line),
    ):
        count = sum(1 for line in counted if test(line))
        if count != 1:
            problems.append(f"{what} {count} times")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--max-delay", type=float, default=4.0, help="seconds after the ack")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--budget", type=float, default=None, help="stop after this many s")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    started = time.monotonic()
    outcomes: Counter[str] = Counter()
    failed = 0
    lost_answers = 0
    done = 0
    for number in range(1, args.rounds + 1):
        if args.budget and time.monotonic() - started > args.budget:
            break
        delay = rng.uniform(0.0, args.max_delay)
        with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
            t0 = time.monotonic()
            try:
                final, problems = one_round(delay, Path(tmp))
            except Exception as exc:  # a round that could not finish is a failure too
                final, problems = "error", [f"{type(exc).__name__}: {exc}"]
        done += 1
        outcomes[final] += 1
        known = [p for p in problems if p.startswith(LOST_ANSWER)]
        broken = [p for p in problems if p not in known]
        failed += bool(broken)
        lost_answers += bool(known)
        status = "ok" if not problems else "; ".join(problems)
        status = ("BROKEN " if broken else "known limit: ") + status if problems else status
        print(
            f"round {number:3d}: kill after {delay:4.2f}s -> {final:11s} "
            f"({time.monotonic() - t0:4.1f}s) {status}",
            flush=True,
        )
    print(
        f"{done} rounds: {done - failed - lost_answers} held every invariant, "
        f"{lost_answers} only posted a line twice in the lost-answer window (known limit), "
        f"{failed} broken; "
        f"outcomes {dict(outcomes)}; {time.monotonic() - started:.0f}s",
        flush=True,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
