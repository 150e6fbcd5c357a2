"""Buttons that are not part of a feature package: Deploy under a finished training job.

(Approvals and alerts register their own buttons in their modules.)
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App

from bot.slack.inbox import action_key
from bot.slack.services import Services

JOB_DEPLOY = "job_deploy"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_VERSION = re.compile(r"^[A-Za-z0-9]{1,32}$")


def register(app: App, services: Services) -> None:
    services.inbox.on(JOB_DEPLOY, lambda body: deploy_from_job(services, body))

    @app.action(JOB_DEPLOY)
    def job_deploy(ack: Ack, body: dict[str, Any], context: dict[str, Any]) -> None:
        services.inbox.accept(JOB_DEPLOY, action_key(body), body, context)  # durable before the ack
        ack()


def deploy_from_job(services: Services, body: dict[str, Any]) -> None:
    """The Deploy button runs exactly what `/mlops deploy` would, as the person who clicked.

    The value ``model|version|env`` is untrusted: each part must look like what it claims to be,
    and the deploy command then checks the model, the environment and the clicker's rights.
    """
    from bot.slack.listeners.commands import run_slash_command

    action = (body.get("actions") or [{}])[0]
    parts = str(action.get("value") or "")[:128].split("|")
    user = str((body.get("user") or {}).get("id", ""))
    channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get(
        "id"
    )
    valid = (
        len(parts) == 3
        and _NAME.fullmatch(parts[0])
        and _VERSION.fullmatch(parts[1])
        and parts[2] in services.settings.env_names
    )
    if not valid:
        services.store.audit(user, "deploy", "refused", reason="malformed Deploy button value")
        return
    model, version, env = parts
    run_slash_command(
        services,
        {
            "user_id": user,
            "text": f"deploy {model} {version} --env {env}",
            "channel_id": channel,
            "team_id": (body.get("team") or {}).get("id"),
            "response_url": body.get("response_url"),
        },
    )
