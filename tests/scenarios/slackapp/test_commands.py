"""Every /mlops subcommand through signed HTTP requests into the real Bolt app."""

from __future__ import annotations

import time

from bot.sandbox import seed
from bot.sandbox.signed_requests import slash_command
from core.serving import traffic_summary
from infra.platform.base import JobStatus
from tests.scenarios.slackapp.conftest import RunningBot, blocks_text


def test_status_card_names_every_environment_and_version(bot: RunningBot) -> None:
    started = time.monotonic()
    bot.command("status churn-model")
    assert time.monotonic() - started < 3.0
    reply = bot.wait_for_reply(lambda a: "status" in blocks_text(a))
    text = blocks_text(reply)
    platform = bot.runtime.platform
    for env in ("dev", "preprod", "prod"):
        state = platform.endpoint_state("churn-model", env)
        assert f"*{env}*" in text
        assert f"*v{state.primary.model_version}* (100%)" in text
    assert reply.get("response_type") == "ephemeral"


def test_empty_command_and_help_list_every_subcommand(bot: RunningBot) -> None:
    bot.command("")
    text = blocks_text(bot.wait_for_reply())
    for name in ("status", "models", "deploy", "rollback", "retrain", "jobs", "help"):
        assert f"*{name}*" in text


def test_unknown_subcommand_and_model_get_suggestions(bot: RunningBot) -> None:
    bot.command("stauts churn-model")
    text = blocks_text(bot.wait_for_reply())
    assert "unknown command" in text and "Did you mean *status*" in text
    bot.command("STATUS  churn-modle")
    text = blocks_text(bot.wait_for_reply(lambda a: "unknown model" in blocks_text(a)))
    assert "Did you mean *churn-model*" in text and "Usage" in text


def test_models_overview(bot: RunningBot) -> None:
    bot.command("models")
    text = blocks_text(bot.wait_for_reply(lambda a: "Models" in blocks_text(a)))
    assert "churn-model" in text and "*prod*" in text


def test_deploy_to_dev_is_blue_green_with_progress_in_place(bot: RunningBot) -> None:
    platform = bot.runtime.platform
    before = platform.endpoint_state("churn-model", "dev").primary
    target = next(
        v.version
        for v in platform.list_versions("churn-model", "dev")
        if v.version != before.model_version
    )
    bot.command(f"deploy churn-model v{target} --env=dev")
    bot.drain()
    posts = [
        c
        for c in bot.slack.calls_of("chat.postMessage")
        if "Deploy churn-model" in blocks_text(c.args)
    ]
    assert len(posts) == 1, "progress is one message, edited in place"
    updates = bot.slack.calls_of("chat.update")
    assert updates and all(u.args["ts"] == posts[0].response["ts"] for u in updates)
    final = blocks_text(updates[-1].args)
    assert "serves 100% of dev" in final and ":white_check_mark: Smoke test" in final
    state = platform.endpoint_state("churn-model", "dev")
    assert state.primary.model_version == target and state.primary.traffic == 100
    old = [d for d in state.deployments if d.model_version == before.model_version]
    assert old and old[0].traffic == 0, "the old deployment is kept for rollback"

    bot.command("rollback churn-model --env dev")
    bot.drain()
    assert (
        platform.endpoint_state("churn-model", "dev").primary.model_version == before.model_version
    )


def test_deploy_to_protected_environment_points_to_promote(bot: RunningBot) -> None:
    platform = bot.runtime.platform
    before = traffic_summary(platform.endpoint_state("churn-model", "prod"))
    bot.command("deploy churn-model 3 --env prod", user=seed.BOB)
    text = blocks_text(bot.wait_for_reply())
    assert (
        "does not take direct deploys" in text and "/mlops promote churn-model 3 --to prod" in text
    )
    assert traffic_summary(platform.endpoint_state("churn-model", "prod")) == before


def test_denied_user_gets_the_rule_and_the_attempt_is_audited(bot: RunningBot) -> None:
    before = bot.runtime.platform.endpoint_state("churn-model", "prod")
    bot.command("rollback churn-model --env prod", user=seed.DAVE)
    text = blocks_text(bot.wait_for_reply())
    assert "You may not roll back in prod" in text and "@ml-approvers" in text
    bot.drain()
    assert bot.runtime.platform.endpoint_state("churn-model", "prod") == before
    trail = bot.runtime.store.audit_trail(model="churn-model")
    assert any(
        e.actor == seed.DAVE and e.action == "rollback" and e.outcome == "denied" for e in trail
    )
    assert any(
        e.actor == seed.DAVE and e.action == "command:rollback"
        for e in bot.runtime.store.audit_trail()
    )


def test_bad_input_changes_nothing(bot: RunningBot) -> None:
    platform = bot.runtime.platform
    before = {
        env: platform.endpoint_state("churn-model", env) for env in ("dev", "preprod", "prod")
    }
    for text in (
        "deploy churn-model",
        "deploy churn-model 99 --env dev",
        "deploy churn-model 2 --env dev --traffic 150",
        "deploy churn-model 2 --env staging",
        "rollback churn-model",
        "retrain churn-model secret_param=1",
        'status "<!channel>"',
    ):
        bot.command(text)
    bot.drain()
    replies = [c for c in bot.slack.calls if c.method == "response_url"]
    assert len(replies) == 7
    assert all(r.args.get("response_type") == "ephemeral" for r in replies)
    joined = " ".join(blocks_text(r.args) for r in replies)
    for expected in (
        "expected the version of churn-model to deploy to dev",
        "Not found",
        "whole percentage",
        "unknown environment 'staging'",
        "say which environment",
        "cannot be set from Slack",
        "&lt;!channel&gt;",
    ):
        assert expected in joined, expected
    assert "<!channel>" not in joined
    after = {env: platform.endpoint_state("churn-model", env) for env in ("dev", "preprod", "prod")}
    assert after == before


def test_retrain_card_follows_the_job_and_mentions_the_requester_at_its_end(
    bot: RunningBot,
) -> None:
    from jobs.watcher import JobWatcher

    bot.command("retrain churn-model max_iter=30 learning_rate=0.2")
    bot.drain()
    posts = [
        c
        for c in bot.slack.calls_of("chat.postMessage")
        if "Retraining churn-model submitted" in blocks_text(c.args)
    ]
    assert len(posts) == 1
    thread_ts = posts[0].response["ts"]

    bot.command("retrain churn-model")
    text = blocks_text(
        bot.wait_for_reply(lambda a: "already has a retraining job" in blocks_text(a))
    )
    assert "wait for it to finish" in text

    watcher = JobWatcher(bot.runtime.services.jobs_context)
    deadline = time.monotonic() + 120
    while watcher.poll_once() == 0:
        assert time.monotonic() < deadline, "training job did not finish"
        time.sleep(0.5)
    reports = [
        c for c in bot.slack.calls_of("chat.postMessage") if c.args.get("thread_ts") == thread_ts
    ]
    assert len(reports) == 1
    requester = seed.ALICE  # the harness sends commands as Alice
    line = reports[0].args.get("text", "")
    assert f"<@{requester}>" in line, "whoever asked is told when it ends"
    assert "Retraining churn-model completed in" in line and "new version v" in line
    # The card itself follows the job: edited in place to its end, with the new version.
    edits = [c for c in bot.slack.calls_of("chat.update") if c.args.get("ts") == thread_ts]
    assert edits, "the card was never edited"
    card = blocks_text(edits[-1].args)
    assert "Retraining churn-model completed in" in card and "new version v" in card
    assert "queued" not in card.split("\n")[0]
    assert f"Requested by <@{requester}>" in card
    assert "job_deploy" in card
    assert watcher.poll_once() == 0, "reported exactly once"
    jobs = bot.runtime.platform.list_jobs("churn-model", "dev", 1)
    assert jobs[0].status is JobStatus.COMPLETED and jobs[0].produced_version

    bot.command("jobs churn-model")
    assert jobs[0].id in blocks_text(
        bot.wait_for_reply(lambda a: "Recent training jobs" in blocks_text(a))
    )


def test_bad_signature_is_refused_and_changes_nothing(bot: RunningBot) -> None:
    body, headers = slash_command("deploy churn-model 2 --env dev", signing_secret="not-the-secret")
    assert bot.send((body, headers)).status == 401
    stale = slash_command("status churn-model", timestamp=int(time.time()) - 600)
    assert bot.send(stale).status == 401
    body, headers = slash_command("status churn-model")
    assert bot.send((body.replace(b"status", b"deploy"), headers)).status == 401
    time.sleep(0.3)
    assert not [c for c in bot.slack.calls if c.method in ("response_url", "chat.postMessage")]


def test_app_home_shows_overview_and_pending_work(bot: RunningBot) -> None:
    from datetime import UTC, datetime, timedelta

    from infra.store import Alert
    from jobs.alerts.mutes import set_mute

    now = datetime.now(UTC)
    store = bot.runtime.store
    set_mute(store, "churn-model", "drift", now + timedelta(hours=24), seed.CAROL, now)
    with store.session() as session:
        session.add(
            Alert(
                fingerprint="churn-model/prod/performance",
                model="churn-model",
                environment="prod",
                signal="performance",
                severity="warning",
                state="open",
                summary={"headline": "accuracy 0.70 below 0.75"},
                opened_at=now,
                breach_count=1,
                acknowledged_by=seed.ALICE,
            )
        )
    bot.send(bot.slack.interactions.open_home(seed.BOB))
    call = bot.slack.wait_for("views.publish", timeout=10)
    assert call.args["user_id"] == seed.BOB
    text = blocks_text(
        call.args["view"]
        if isinstance(call.args["view"], dict)
        else __import__("json").loads(call.args["view"])
    )
    assert "churn-model" in text and "Pending approvals" in text and "Open alerts" in text
    assert f"acknowledged by <@{seed.ALICE}>" in text
    assert "drift alerts until" in text and f"muted by <@{seed.CAROL}>" in text


def test_probes(bot: RunningBot) -> None:
    import urllib.request

    assert urllib.request.urlopen(f"{bot.http.url}/healthz").status == 200
    with urllib.request.urlopen(f"{bot.http.url}/readyz") as response:
        assert response.status == 200
        assert b'"store": "ok"' in response.read()


def test_deploy_button_under_a_job_runs_the_deploy_as_the_clicker(bot: RunningBot) -> None:
    from bot.slack.blocks.render import message_payload
    from core.replies import JobReply

    platform = bot.runtime.platform
    current = platform.endpoint_state("churn-model", "dev").primary.model_version
    other = next(
        v.version for v in platform.list_versions("churn-model", "dev") if v.version != current
    )
    card = message_payload(
        JobReply(
            public=True,
            heading="Retraining finished",
            actions=(("job_deploy", "Deploy", f"churn-model|{other}|dev"),),
        )
    )
    posted = bot.runtime.services.client.chat_postMessage(channel=seed.MLOPS_CHANNEL, **card)
    bot.send(
        bot.slack.interactions.click(
            posted["channel"], posted["ts"], "job_deploy", user_id=seed.ALICE
        )
    )
    bot.drain()
    assert platform.endpoint_state("churn-model", "dev").primary.model_version == other
    trail = bot.runtime.store.audit_trail(model="churn-model")
    assert any(
        e.actor == seed.ALICE and e.action == "deploy" and e.outcome == "succeeded" for e in trail
    )


def test_tampered_deploy_button_is_refused_without_side_effects(bot: RunningBot) -> None:
    from bot.slack.blocks.render import message_payload
    from core.replies import JobReply

    platform = bot.runtime.platform
    before = platform.endpoint_state("churn-model", "dev")
    card = message_payload(
        JobReply(
            public=True,
            heading="x",
            actions=(("job_deploy", "Deploy", "churn-model|1|dev;rm -rf"),),
        )
    )
    posted = bot.runtime.services.client.chat_postMessage(channel=seed.MLOPS_CHANNEL, **card)
    bot.send(
        bot.slack.interactions.click(
            posted["channel"], posted["ts"], "job_deploy", user_id=seed.ALICE
        )
    )
    bot.drain()
    assert platform.endpoint_state("churn-model", "dev") == before
    assert any(e.outcome == "refused" for e in bot.runtime.store.audit_trail())


def test_charts_in_a_channel_the_bot_is_not_in_are_explained_not_lost(bot: RunningBot) -> None:
    """The card answers through response_url; the chart upload is refused (not_in_channel), so
    the user is told how to get the charts instead of waiting for a thread that never comes."""
    bot.command("drift churn-model", channel=seed.GENERAL_CHANNEL)
    deadline = time.monotonic() + 60
    texts: list[str] = []
    while time.monotonic() < deadline:
        texts = [blocks_text(c.args) for c in bot.slack.calls if c.method == "response_url"]
        if any("could not be posted here" in t for t in texts):
            break
        time.sleep(0.2)
    assert any("could not be posted here" in t and "/invite @mlops-bot" in t for t in texts), texts
