"""`/mlops models` without Slack: one row per model, the serving split per environment."""

from __future__ import annotations

from core.replies import ModelsReply, ProgressReply, Tone
from tests.commands.support import Bench, usage_error

USAGE = "/mlops models"


def test_the_demo_serves_v3_v2_v1_along_the_chain(bench: Bench) -> None:
    reply = bench.command("models")
    assert isinstance(reply, ModelsReply)
    assert not reply.public
    assert reply.environments == ("dev", "preprod", "prod")
    assert len(reply.rows) == 1
    row = reply.rows[0]
    assert (row.name, row.task) == ("churn-model", "classification")
    assert dict(row.versions) == {"dev": "v3", "preprod": "v2", "prod": "v1"}
    assert row.problems == ()
    assert reply.fallback_text == "1 model"


def test_a_split_shows_both_versions(bench: Bench) -> None:
    deployed = bench.command("deploy churn-model 1 --env dev --traffic 20")
    assert isinstance(deployed, ProgressReply) and deployed.tone is Tone.SUCCESS, deployed
    reply = bench.command("models")
    assert isinstance(reply, ModelsReply)
    assert reply.rows[0].versions["dev"] == "v3 80% · v1 20%"
    assert reply.rows[0].versions["prod"] == "v1"


def test_models_takes_no_arguments(bench: Bench) -> None:
    usage_error(bench.command("models churn-model"), USAGE, "unexpected extra words: churn-model")
    reply = usage_error(bench.command("models --env prod"), USAGE, "unknown option --env")
    assert reply.suggestion is None
