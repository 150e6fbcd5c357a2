"""A real bot on the local platform and the fake Slack, driven through signed HTTP requests.

Used by the scenario tests and by ``run_bot.py`` (the same bot in a child process, for the
test that kills a rollout half-way).
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import joblib

from bot.runtime import Runtime, build_runtime, serve_http
from bot.sandbox import seed
from bot.slack.server import SlackHTTPServer
from core.promotion.desk import PromotionDesk
from core.promotion.states import ApprovalSnapshot, ApprovalState
from infra.defaults import demo_config
from infra.platform.local import LocalPlatform
from infra.settings import Secrets, Settings
from tests.fakes.signing import HttpResult, SignedRequest, block_actions, post
from tests.fakes.slack_server import FakeSlackServer
from tests.scenarios.approvals.models import FEATURES, fitted_model

MODEL = "churn-model"
APPROVALS = seed.APPROVALS_CHANNEL
T = TypeVar("T")

SAMPLE = {"input_data": [{"x1": 0.1, "x2": 0.2, "x3": -0.3}, {"x1": -1.0, "x2": 0.4, "x3": 0.9}]}


def config(
    *,
    bake: str = "0.05s",
    retire_after: str = "1s",
    prod_approval: dict[str, Any] | None = None,
    prod_rollout: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The demo's policy (section 6 of the issue) with a tiny model and tiny bake times."""
    raw = copy.deepcopy(demo_config(shadow=False))
    for env in raw["environments"]:
        env["rollout"] = {**env["rollout"], "bake_time": bake, "retire_after": retire_after}
        if env["name"] == "prod":
            env["approval"] = {**env["approval"], **(prod_approval or {})}
            env["rollout"] = {**env["rollout"], **(prod_rollout or {})}
    raw["models"] = [
        {
            "name": MODEL,
            "task": "classification",
            "description": "test model",
            "features": {"numeric": FEATURES},
            "positive_label": 1,
            "sample_request": SAMPLE,
        }
    ]
    return raw


def settings_for(raw: dict[str, Any], state_dir: Path) -> Settings:
    return Settings.model_validate(raw).model_copy(
        update={"resolved_state_dir": str(state_dir), "source": "tests/scenarios/approvals"}
    )


def deploy(platform: LocalPlatform, version: str, env: str) -> str:
    """Blue/green by hand: new deployment, then all traffic to it."""
    deployment = platform.begin_deploy(MODEL, version, env).wait(30)
    state = platform.endpoint_state(MODEL, env)
    split = {d.name: 0 for d in state.deployments}
    split[deployment.name] = 100
    platform.set_traffic(MODEL, env, split)
    return deployment.name


def prepare_platform(settings: Settings, candidate: Any | None = None) -> None:
    """v1 serves prod and preprod; v2 (``candidate`` or a plain model) serves preprod."""
    platform = LocalPlatform(settings)
    try:
        settings.state_path.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=settings.state_path))
        joblib.dump(fitted_model(seed=1), work / "v1.joblib")
        joblib.dump(
            candidate if candidate is not None else fitted_model(seed=2), work / "v2.joblib"
        )
        v1 = platform.register_model_file(
            MODEL, "dev", work / "v1.joblib", metrics={"accuracy": 0.81}
        )
        v2 = platform.register_model_file(
            MODEL, "dev", work / "v2.joblib", metrics={"accuracy": 0.86}
        )
        for env in ("preprod", "prod"):
            platform.copy_version(MODEL, v1.version, "dev", env)
        deploy(platform, v1.version, "prod")
        platform.copy_version(MODEL, v2.version, "dev", "preprod")
        deploy(platform, v2.version, "preprod")
    finally:
        platform.close()


def secrets_for(server_url: str, database_url: str | None = None) -> Secrets:
    return Secrets(
        slack_bot_token=seed.BOT_TOKEN,
        slack_signing_secret=seed.SIGNING_SECRET,
        slack_api_url=server_url,
        mlops_bot_database_url=database_url,
    )


def wait_until(check: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    """``check()`` once it is truthy. The generous default is for a loaded CI machine (child
    processes, deployments that start runners): it only matters when something is slow."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def start_bot(
    settings: Settings, slack_api_url: str, database_url: str | None = None
) -> tuple[Runtime, SlackHTTPServer]:
    """A bot on ``settings`` (its store in the state directory, or at ``database_url``)."""
    runtime = build_runtime(
        settings, secrets_for(slack_api_url, database_url), platform=LocalPlatform(settings)
    )
    desk: PromotionDesk = runtime.services.desk
    desk.interval = 0.05
    desk.wake()
    return runtime, serve_http(runtime, "127.0.0.1", 0)


@dataclass
class Bot:
    """One running bot and the fake Slack it talks to."""

    server: FakeSlackServer
    runtime: Runtime
    http: SlackHTTPServer
    stopped: bool = False

    @property
    def url(self) -> str:
        return f"{self.http.url}/slack/events"

    @property
    def desk(self) -> PromotionDesk:
        return self.runtime.services.desk

    @property
    def platform(self) -> LocalPlatform:
        return self.runtime.platform  # type: ignore[return-value]

    def send(self, request: SignedRequest, **extra_headers: str) -> HttpResult:
        result = post(self.url, request.body, {**request.headers, **extra_headers})
        assert result.status == 200, result.text
        return result

    def command(self, text: str, user: str = seed.ALICE) -> HttpResult:
        return self.send(self.server.interactions.slash_command(text, user_id=user))

    def click(self, ts: str, action: str, user: str, value: str | None = None) -> HttpResult:
        return self.send(
            self.server.interactions.click(APPROVALS, ts, action, user_id=user, value=value)
        )

    def click_stale(self, old_card: dict[str, Any], action: str, user: str) -> HttpResult:
        """A click on a copy of the card as it was (a client that has not refreshed yet)."""
        return self.send(
            block_actions(
                action,
                user_id=user,
                channel_id=APPROVALS,
                message=old_card,
                response_url=self.server.new_response_url(APPROVALS, user, kind="actions"),
            )
        )

    # -- what Slack shows
    def cards(self) -> list[dict[str, Any]]:
        return self.server.messages(APPROVALS)

    def card(self, ts: str) -> dict[str, Any]:
        return self.server.workspace.message(APPROVALS, ts)

    def card_text(self, ts: str) -> str:
        return json.dumps(self.card(ts)["blocks"], ensure_ascii=False)

    def thread_text(self, ts: str) -> str:
        return "\n".join(m.get("text", "") for m in self.server.thread(APPROVALS, ts)[1:])

    def ephemeral_texts(self, user: str) -> list[str]:
        return [
            json.dumps(m.get("blocks") or m.get("text"), ensure_ascii=False)
            for m in self.server.ephemerals(user)
        ]

    def wait_ephemeral(self, user: str, contains: str, timeout: float = 30.0) -> str:
        try:
            return wait_until(
                lambda: next((t for t in self.ephemeral_texts(user) if contains in t), None),
                timeout,
                f"an ephemeral for {user} containing {contains!r}",
            )
        except AssertionError as missing:
            raise AssertionError(f"{missing}; {user} saw {self.ephemeral_texts(user)}") from None

    # -- the store
    def approvals(self) -> list[ApprovalSnapshot]:
        return self.desk.book.in_states(list(ApprovalState))

    def only_approval(self) -> ApprovalSnapshot:
        found = self.approvals()
        assert len(found) == 1, found
        return found[0]

    def wait_state(
        self, approval_id: str, *states: ApprovalState, timeout: float = 60.0
    ) -> ApprovalSnapshot:
        try:
            return wait_until(
                lambda: (a := self.desk.book.get(approval_id)) and a.state in states and a,
                timeout,
                f"request {approval_id} to reach {states}",
            )
        except AssertionError as missing:
            last = self.desk.book.get(approval_id)
            raise AssertionError(f"{missing}; it is {last}") from None

    def request(
        self, text: str = f"promote {MODEL} --to prod", user: str = seed.ALICE
    ) -> tuple[ApprovalSnapshot, str]:
        """Ask for a promotion and wait for its card; returns the request and the card's ts."""
        before = {m["ts"] for m in self.cards()}
        self.command(text, user=user)
        card = wait_until(
            lambda: next((m for m in self.cards() if m["ts"] not in before), None),
            what="the request card",
        )
        approval = wait_until(
            lambda: next((a for a in self.approvals() if a.message_ts == card["ts"]), None),
            what="the card to be recorded",
        )
        return approval, card["ts"]

    def audit(self, approval_id: str) -> list[tuple[str, str, str]]:
        trail = self.runtime.store.audit_trail(subject=approval_id, limit=500)
        return [(e.actor, e.action, e.outcome) for e in reversed(trail)]

    def serving(self, env: str = "prod") -> dict[str, int]:
        state = self.platform.endpoint_state(MODEL, env)
        return {d.model_version: d.traffic for d in state.deployments}

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.runtime.stop()
