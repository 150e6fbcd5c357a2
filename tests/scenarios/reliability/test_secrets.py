"""Secrets never leave the bot: not in logs, not in error messages, not in Slack replies, not
in the health endpoints; the container runs as non-root; the audit log cannot be edited
through the bot.

The bot runs with its secrets in the environment (as in production) and a platform whose
errors carry secrets the way cloud SDK errors sometimes do (a SAS signature in a URL, a client
secret in a credential error, a connection string). Everything the test can capture is then
scanned: every log record (through the bot's own redacting filter), every call the bot made
to Slack, every answer of the HTTP server, every row of the store.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.sandbox import seed
from bot.sandbox.signed_requests import block_actions, slash_command
from infra.platform.base import PermissionDeniedError, PlatformError
from infra.platform.local import LocalPlatform
from infra.store import AuditEntry, OutboxMessage
from tests.scenarios.reliability.faulty import Misbehaving
from tests.scenarios.slackapp.conftest import RunningBot

ROOT = Path(__file__).resolve().parents[3]
AZURE_SECRET = "Zq8~azure-client-secret-Vb93kL"
DB_PASSWORD = "pg-pa55word-Hk29x"
SECRETS = {
    "SLACK_BOT_TOKEN": seed.BOT_TOKEN,
    "SLACK_SIGNING_SECRET": seed.SIGNING_SECRET,
    "AZURE_CLIENT_SECRET": AZURE_SECRET,
    "MLOPS_BOT_DATABASE_URL": f"postgresql://bot:{DB_PASSWORD}@db.internal/mlops",
}
NEEDLES = [seed.BOT_TOKEN, seed.SIGNING_SECRET, AZURE_SECRET, DB_PASSWORD, "xoxb-"]


def leaky(method: str, args: tuple[Any, ...]) -> None:
    """Platform errors that carry secrets, as SDK errors sometimes do."""
    if method == "production_data":
        raise PlatformError(
            f"GET https://acct.blob.core.windows.net/data/x.parquet?sig={AZURE_SECRET} failed: 403"
        )
    if method == "begin_deploy":
        raise PermissionDeniedError(
            f"ClientSecretCredential(secret='{AZURE_SECRET}') was refused",
            hint="grant the bot's identity the AzureML Data Scientist role",
        )
    if method == "list_jobs":
        raise RuntimeError(
            f"unexpected: token {seed.BOT_TOKEN} in {SECRETS['MLOPS_BOT_DATABASE_URL']}"
        )
    if method == "check":
        raise PlatformError(f"cannot reach postgresql://bot:{DB_PASSWORD}@db.internal/mlops")


def found(text: str) -> list[str]:
    return [n for n in NEEDLES if n in text]


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("secret_env")
def test_secrets_appear_in_no_log_no_reply_and_no_error(
    start_demo_bot, captured_logs, slack_server
) -> None:
    bot: RunningBot = start_demo_bot(platform=lambda s: Misbehaving(LocalPlatform(s), leaky))
    answers: list[str] = []
    for text in (
        "status churn-model",
        "drift churn-model --env prod",
        "deploy churn-model 2 --env dev",
        "jobs churn-model",
        f"retrain churn-model token={seed.BOT_TOKEN}",
        f"status {AZURE_SECRET}",
        "help",
    ):
        result = bot.command(text, user=seed.BOB)
        answers.append(result.text)
    # Forged and broken requests: what the server answers must not echo anything secret.
    forged = slash_command("status churn-model", signing_secret="wrong")
    answers.append(bot.send(forged).text)
    answers.append(
        bot.send(block_actions("job_deploy", value=f"churn-model|{seed.BOT_TOKEN}|dev")).text
    )
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as not_ready:
        urllib.request.urlopen(f"{bot.http.url}/readyz", timeout=10)
    answers.append(not_ready.value.read().decode())
    bot.drain(60)
    time.sleep(0.3)

    assert not found("\n".join(answers)), "an HTTP answer"
    slack_calls = json.dumps([c.args for c in bot.slack.calls], default=str)
    assert not found(slack_calls), f"a Slack call: {found(slack_calls)}"
    assert "AzureML Data Scientist" in slack_calls  # the useful part of the error stayed
    logs = "\n".join(captured_logs.lines)
    assert not found(logs), [line for line in captured_logs.lines if found(line)][:3]
    assert "failed (reference" in logs  # the internal error was logged, with its traceback
    with bot.runtime.store.session() as session:
        audit = json.dumps(
            [(e.action, e.detail) for e in session.scalars(select(AuditEntry))], default=str
        )
        outbox = json.dumps([m.payload for m in session.scalars(select(OutboxMessage))])
    assert not found(audit), found(audit)
    assert not found(outbox)


def test_the_container_runs_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    final_stage = dockerfile.split("\nFROM ")[-1]
    users = re.findall(r"^USER\s+(\S+)", final_stage, flags=re.MULTILINE)
    assert users, "the runtime stage sets no USER: it would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user
    assert "SLACK_BOT_TOKEN" not in dockerfile and "ENV SLACK" not in dockerfile


def test_the_audit_log_cannot_be_edited_through_the_bot(start_demo_bot) -> None:
    """Every command (with hostile arguments) and button the bot has, and not one UPDATE or
    DELETE reaches the audit table; the rows written before are byte-for-byte the same after."""
    bot: RunningBot = start_demo_bot(background=True)
    store = bot.runtime.store
    bot.command("promote churn-model --to prod")
    bot.drain(30)
    with store.session() as session:
        before = [
            (e.id, e.at.isoformat(), e.actor, e.action, e.outcome, json.dumps(e.detail))
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert before
    statements: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def watch(conn, cursor, statement, parameters, context, executemany) -> None:
        if re.search(r"\b(UPDATE|DELETE\s+FROM|DROP|ALTER)\b[^;]*\baudit_log\b", statement, re.I):
            statements.append(statement)

    try:
        for text in (
            "audit churn-model",
            "audit churn-model --limit 200",
            "audit churn-model --request ' OR 1=1 --",
            "audit churn-model; DELETE FROM audit_log",
            "audit churn-model --env prod --request 000000000000",
            "mute churn-model drift 1h",
            "unmute churn-model drift",
            "deploy churn-model 1 --env dev",
            "rollback churn-model --env dev",
            "promote churn-model --to preprod",
            "approvals",
            "jobs churn-model",
            "status churn-model",
        ):
            bot.command(text, user=seed.BOB)
        for action in (
            "approval_approve",
            "approval_cancel",
            "alert_ack",
            "alert_mute",
            "job_deploy",
        ):
            bot.send(block_actions(action, value="audit_log", user_id=seed.BOB))
        bot.drain(120)
    finally:
        event.remove(store.engine, "before_cursor_execute", watch)
    assert statements == []
    with store.session() as session:
        after = [
            (e.id, e.at.isoformat(), e.actor, e.action, e.outcome, json.dumps(e.detail))
            for e in session.scalars(
                select(AuditEntry).where(AuditEntry.id <= before[-1][0]).order_by(AuditEntry.id)
            )
        ]
        total = len(session.scalars(select(AuditEntry)).all())
    assert after == before
    assert total > len(before)  # everything above was recorded, appended
