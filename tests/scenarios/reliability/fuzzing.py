"""Hostile `/mlops` text for property-based tests, a platform that reads for real but refuses
every change, and the property every answer must have: no mention or link the user typed
comes out live.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from commands.registry import MODULES
from infra.platform.base import (
    ConflictError,
    Deployment,
    EndpointState,
    JobInfo,
    MLPlatform,
    ModelVersion,
    NotFoundError,
    Operation,
    SmokeTestResult,
)

COMMANDS = [m.NAME for m in MODULES]
MODELS = ["churn-model", "CHURN-MODEL", "churn-modle", "churn_model", "other-model", "*", ".."]
VALUES = ["v1", "v2", "2", "3", "v999", "latest", "0", "-1", "1e9", "prod", "dev", "preprod"]
OPTIONS = [
    "--env",
    "--to",
    "--window",
    "--reason",
    "--request",
    "--limit",
    "--force",
    "--env=prod",
    "--env=PROD",
    "--to=prod",
    "--to=preprod",
    "--env=",
    "--window=0s",
    "--window=-1d",
    "--window=99999d",
    "--window=6h",
    "--limit=0",
    "--limit=100000",
    "--request=0000",
    "--",
    "-",
    "---env",
    "learning_rate=0.05",
    "learning_rate=<!channel>",
    "epochs=1e999",
    "=value",
    "a=b=c",
]
#: What someone would type to make the bot ping a channel, impersonate a user or forge a link.
HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!here|here>",
    "<!subteam^S0EVIL|@evil-team>",
    "<!subteam^S0EVIL>",
    "<@U0EVIL>",
    "<@U0EVIL|ceo>",
    "<@W0EVIL>",
    "<#C0EVIL|general>",
    "<http://evil.example|click here>",
    "<https://evil.example/login>",
    "<mailto:ceo@evil.example|ceo>",
    "<evil.example>",
    "&lt;!channel&gt;",
    "&amp;lt;!here&amp;gt;",
    "@channel",
    "@here",
    "*bold*",
    "_italic_",
    "~strike~",
    "`code`",
    "```\nblock\n```",
    ">quote",
    "<",
    ">",
    "<>",
    "&",
    '"',
    "'",
    "“quoted”",
    "‘single’",
    "\\",
    "%s%s%n",
    "{0}{1}",
    "${HOME}",
    "'; DROP TABLE audit_log; --",
    "\u202egnp.exe",
    "\u200b",
    "\x00",
    "\x1b[31m",
    "🚀",
    "é̀",
    "𝓊𝓃𝒾𝒸𝑜𝒹𝑒",
    "\r\n",
    "\t",
]
SEPARATORS = [" ", "  ", "\n", "\t", " \u00a0", ""]


def words() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(COMMANDS),
        st.sampled_from([c.upper() for c in COMMANDS] + [c[:-1] for c in COMMANDS]),
        st.sampled_from(MODELS),
        st.sampled_from(VALUES),
        st.sampled_from(OPTIONS),
        st.sampled_from(HOSTILE),
        st.text(min_size=1, max_size=12),
        st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40),
    )


ENVS = ["dev", "preprod", "prod", "PROD", "staging"]
SIGNALS = ["drift", "performance", "fairness", "utilization", "*", "all"]
DURATIONS = ["1h", "24h", "7d", "0s", "30m", "1000d", "-5h", "h", "soon"]


def option_values() -> st.SearchStrategy[str]:
    """An option with a value that is plausible, hostile, or quoted free text."""
    value = st.one_of(
        st.sampled_from(ENVS + VALUES + SIGNALS + DURATIONS),
        st.sampled_from(HOSTILE),
        st.text(max_size=30),
        st.lists(st.sampled_from(HOSTILE + VALUES), min_size=1, max_size=6).map(
            lambda ws: '"' + " ".join(ws) + '"'
        ),
    )
    name = st.sampled_from(["--env", "--to", "--reason", "--window", "--limit", "--request"])
    glue = st.sampled_from([" ", "="])
    return st.tuples(name, glue, value).map(lambda t: f"{t[0]}{t[1]}{t[2]}")


#: Every subcommand in a valid shape; each {slot} gets a valid value or a hostile one.
TEMPLATES = [
    "status {model}",
    "status {model} --env {env}",
    "models",
    "deploy {model} {version} --env {env} --traffic {percent}",
    "promote {model} {version} --to {env}",
    "promote {model} --to {env} --from {env}",
    "approvals {model}",
    "rollback {model} --env {env}",
    "retrain {model} {param}={value}",
    "jobs {model}",
    "drift {model} --env {env} --window {duration}",
    "perf {model} --env {env} --window {duration}",
    "usage {model} --window {duration}",
    "mute {model} {signal} {duration}",
    "unmute {model} {signal}",
    "audit {model} --env {env} --request {request} --limit {limit}",
    "help {model}",
]
SLOTS = {
    "model": ["churn-model", "churn-model", "CHURN-MODEL", "churn-modle"],
    "env": ENVS,
    "version": VALUES,
    "percent": ["0", "10", "50", "100", "101", "-5", "50%"],
    "param": ["learning_rate", "n_estimators", "max_depth", "unknown_param"],
    "value": ["0.05", "100", "-1", "nan", "1e999"],
    "duration": DURATIONS,
    "signal": [*SIGNALS, "data_quality"],
    "request": ["3f9c2a7b1d04", "0" * 12, "x"],
    "limit": ["1", "50", "200", "201", "0"],
}


@st.composite
def templated(draw: st.DrawFn) -> str:
    """A well-formed command where each argument is valid, or (one time in four) hostile."""
    template = draw(st.sampled_from(TEMPLATES))
    values = {}
    for slot, choices in SLOTS.items():
        if "{" + slot + "}" in template:
            hostile = draw(st.integers(0, 3)) == 0
            values[slot] = draw(
                st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1, max_size=20))
                if hostile
                else st.sampled_from(choices)
            )
    return template.format(**values)


@st.composite
def command_texts(draw: st.DrawFn) -> str:
    """`/mlops` text: mostly a real subcommand on a real model with plausible and hostile
    arguments (so the deep paths run), sometimes anything at all."""
    kind = draw(st.integers(0, 9))
    if kind >= 6:
        return draw(templated())
    if kind == 0:
        return draw(st.text(max_size=300))
    if kind == 1:
        hostile = draw(st.sampled_from(HOSTILE)) * draw(st.integers(1, 400))
        return draw(st.sampled_from(COMMANDS)) + " " + hostile
    glue = draw(st.sampled_from(SEPARATORS[:4]))
    if kind in (2, 3):
        return glue.join(draw(st.lists(words(), min_size=0, max_size=10)))
    command = draw(st.sampled_from(COMMANDS))
    model = draw(
        st.one_of(st.just("churn-model"), st.just("churn-model"), st.sampled_from(MODELS), words())
    )
    rest = draw(
        st.lists(
            st.one_of(
                option_values(),
                st.sampled_from(VALUES + SIGNALS + DURATIONS),
                words(),
            ),
            max_size=6,
        )
    )
    return glue.join([command, model, *rest])


# --------------------------------------------------------------------------- the property

_TOKEN = re.compile(r"<([^<>]*)>")
FORBIDDEN = ("!channel", "!here", "!everyone", "!subteam", "@U0EVIL", "@W0EVIL", "#C0EVIL")


def mrkdwn_texts(payload: Any) -> Iterable[str]:
    """Every string Slack would parse for mentions and links: mrkdwn text objects and the
    notification text (plain_text objects are shown literally)."""
    if isinstance(payload, Mapping):
        if payload.get("type") == "mrkdwn" and isinstance(payload.get("text"), str):
            yield payload["text"]
        for key, value in payload.items():
            if key == "text" and isinstance(value, str) and payload.get("type") is None:
                yield value  # a message's top-level fallback text
            elif isinstance(value, (Mapping, list)):
                yield from mrkdwn_texts(value)
    elif isinstance(payload, list):
        for item in payload:
            yield from mrkdwn_texts(item)


def live_tokens(payload: Any) -> list[str]:
    """``<...>`` sequences Slack would turn into mentions or links."""
    return [m for text in mrkdwn_texts(payload) for m in _TOKEN.findall(text)]


def unsafe_tokens(payload: Any) -> list[str]:
    """Live mentions or links that could only have come from what the user typed."""
    bad = []
    for token in live_tokens(payload):
        if (
            (token.startswith("!") and not token.startswith("!date^"))
            or any(f in f"<{token}" for f in FORBIDDEN)
            or "evil.example" in token
        ):
            bad.append(token)
    return bad


def payload_json(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False)


# --------------------------------------------------------------------------- the platform


class ReadOnlyPlatform(MLPlatform):
    """The real platform for reads of state, refusals for changes and for bulk data (so tens of
    thousands of commands stay fast and the demo copy is never changed)."""

    def __init__(self, inner: MLPlatform) -> None:
        self.inner = inner
        self.name = inner.name
        self.remote = inner.remote

    def _refuse(self, what: str) -> Exception:
        return ConflictError(f"{what} is switched off in this test")

    def check(self) -> None:
        self.inner.check()

    def list_models(self, env: str) -> list[str]:
        return self.inner.list_models(env)

    def list_versions(self, model: str, env: str) -> list[ModelVersion]:
        return self.inner.list_versions(model, env)

    def get_version(self, model: str, version: str, env: str) -> ModelVersion:
        return self.inner.get_version(model, version, env)

    def copy_version(
        self, model: str, version: str, source_env: str, target_env: str
    ) -> ModelVersion:
        raise self._refuse("copying versions")

    def endpoint_state(self, model: str, env: str) -> EndpointState:
        return self.inner.endpoint_state(model, env)

    def begin_deploy(self, model: str, version: str, env: str, **_: Any) -> Operation[Deployment]:
        raise self._refuse("deploying")

    def smoke_test(
        self, model: str, env: str, deployment: str, sample: Mapping[str, Any] | Sequence[Any]
    ) -> SmokeTestResult:
        raise self._refuse("scoring")

    def set_traffic(
        self, model: str, env: str, traffic: Mapping[str, int], mirror: Any = None
    ) -> EndpointState:
        raise self._refuse("moving traffic")

    def begin_delete_deployment(self, model: str, env: str, deployment: str) -> Operation[None]:
        raise self._refuse("deleting deployments")

    def submit_training(
        self, model: str, env: str, parameters: Mapping[str, str], *, reason: str = ""
    ) -> JobInfo:
        raise self._refuse("training")

    def get_job(self, env: str, job_id: str) -> JobInfo:
        return self.inner.get_job(env, job_id)

    def list_jobs(self, model: str, env: str, limit: int = 10) -> list[JobInfo]:
        return self.inner.list_jobs(model, env, limit)

    def cancel_job(self, env: str, job_id: str) -> JobInfo:
        raise self._refuse("canceling jobs")

    def deployment_metrics(self, model: str, env: str, start: datetime, end: datetime, **_: Any):
        raise NotFoundError("no metrics in this test")

    def reference_data(self, model: str):
        raise NotFoundError("no reference data in this test")

    def production_data(self, model: str, env: str, start: datetime, end: datetime):
        raise NotFoundError("no production data in this test")

    def close(self) -> None:
        self.inner.close()
