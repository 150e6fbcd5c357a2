"""build_app(...) -> slack_bolt.App. Nothing else lives here: listeners register by kind."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack.groups import SlackGroupResolver
from bot.slack.listeners import register_all
from bot.slack.responder import Responder, make_client
from bot.slack.services import Services, WorkerPool
from commands.context import AccessPolicy
from infra.platform.base import MLPlatform
from infra.settings import Secrets, Settings
from infra.store import Store


def build_services(
    settings: Settings,
    platform: MLPlatform,
    store: Store,
    client: WebClient | None = None,
    *,
    secrets: Secrets | None = None,
) -> Services:
    secrets = secrets or Secrets()
    client = client or make_client(secrets.slack_bot_token, secrets.slack_api_url)
    groups = SlackGroupResolver(client, settings.slack.group_cache_ttl.total_seconds())
    return Services(
        settings=settings,
        platform=platform,
        store=store,
        client=client,
        responder=Responder(client),
        access=AccessPolicy(settings, groups),
        groups=groups,
        workers=WorkerPool(),
    )


def build_app(
    settings: Settings,
    platform: MLPlatform,
    store: Store,
    client: WebClient | None = None,
    *,
    secrets: Secrets | None = None,
    services: Services | None = None,
) -> App:
    secrets = secrets or Secrets()
    services = services or build_services(settings, platform, store, client, secrets=secrets)
    app = App(
        client=services.client,
        signing_secret=secrets.slack_signing_secret or "",
        # Ack first, work after: the listener only acks and hands over to the worker pool, so a
        # big executor just keeps acks from queueing behind each other.
        process_before_response=False,
        listener_executor=ThreadPoolExecutor(max_workers=32, thread_name_prefix="bolt"),
        token_verification_enabled=False,
        request_verification_enabled=True,
    )
    app.services = services  # type: ignore[attr-defined]
    register_all(app, services)
    return app
