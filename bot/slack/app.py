"""build_app(services) -> slack_bolt.App. Nothing else lives here: listeners register by kind."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App

from bot.slack.listeners import register_all
from bot.slack.services import Services

SlackApp = App
"""The Bolt app, named for the layers above, which hold it without importing Bolt."""


def build_app(services: Services, *, signing_secret: str) -> App:
    app = App(
        client=services.client,
        signing_secret=signing_secret,
        # Every listener records its work (inbox, worker pool) and acks; nothing slow runs
        # before it returns. So Bolt runs it on the request's own thread and answers as soon as
        # it returns, instead of handing it to the executor and polling for the ack every 10 ms
        # (which put 10 ms on every ack, over HTTP and Socket Mode alike).
        process_before_response=True,
        listener_executor=ThreadPoolExecutor(max_workers=32, thread_name_prefix="bolt"),
        token_verification_enabled=False,
        request_verification_enabled=True,
    )
    register_all(app, services)
    return app
