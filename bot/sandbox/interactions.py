"""What a person does in the sandbox, turned into the signed request Slack would send.

Where :mod:`bot.sandbox.signed_requests` builds payloads from arguments, this module builds
them from the sandbox's state: a slash command gets a working response URL and trigger id from
the server, a button press is read off the stored message (its block, value, style, confirm,
whether it is ephemeral), a modal submission carries the open view. The sandbox page and the
scenario tests both use it, so both send what Slack would send.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.sandbox import seed, signed_requests
from bot.sandbox.errors import SlackError
from bot.sandbox.signed_requests import SignedRequest

if TYPE_CHECKING:
    from bot.sandbox.webapi import SlackWebApiServer


class Interactions:
    """Signed requests for people's actions against one running sandbox server."""

    def __init__(
        self,
        server: SlackWebApiServer,
        *,
        signing_secret: str = seed.SIGNING_SECRET,
        command: str = "/mlops",
    ) -> None:
        self._server = server
        self._ws = server.workspace
        self.signing_secret = signing_secret
        self.command = command

    def slash_command(
        self, text: str, *, user_id: str = seed.ALICE, channel_id: str = seed.MLOPS_CHANNEL
    ) -> SignedRequest:
        """``/mlops <text>`` typed by ``user_id`` in ``channel_id``."""
        with self._ws.lock:
            user = self._ws.user(user_id)
            channel = self._ws.channel(channel_id)
            return signed_requests.slash_command(
                text,
                user_id=user_id,
                channel_id=channel_id,
                team_id=self._ws.team_id,
                response_url=self._server.new_response_url(channel_id, user_id, kind="commands"),
                command=self.command,
                trigger_id=self._server.issue_trigger_id(user_id),
                user_name=user.name,
                channel_name=channel.name,
                team_domain=self._ws.team_domain,
                signing_secret=self.signing_secret,
            )

    def click(
        self,
        channel_id: str,
        message_ts: str,
        action_id: str,
        *,
        user_id: str = seed.ALICE,
        value: str | None = None,
    ) -> SignedRequest:
        """``user_id`` presses the element ``action_id`` on a stored message (channel, thread
        reply or one of the user's ephemeral messages). SlackError if there is no such button."""
        with self._ws.lock:
            stored = self._ws.ephemeral(user_id, message_ts)
            is_ephemeral = stored is not None
            message: dict[str, Any] = (
                dict(stored) if stored is not None else self._ws.message(channel_id, message_ts)
            )
            block_id, element = signed_requests.find_action(message.get("blocks") or [], action_id)
            if element is None:
                raise SlackError(
                    "action_not_found", messages=[f"no element {action_id!r} on {message_ts}"]
                )
            return signed_requests.block_actions(
                action_id,
                value,
                user_id=user_id,
                channel_id=channel_id,
                message_ts=message_ts,
                message=message,
                response_url=self._server.new_response_url(
                    channel_id, user_id, message_ts=message_ts, kind="actions"
                ),
                team_id=self._ws.team_id,
                block_id=block_id,
                action=element,
                is_ephemeral=is_ephemeral,
                trigger_id=self._server.issue_trigger_id(user_id),
                signing_secret=self.signing_secret,
            )

    def submit_view(
        self, view_id: str, state_values: Mapping[str, Any], *, user_id: str | None = None
    ) -> SignedRequest:
        """The owner of an open modal submits it with ``state_values`` (recorded on the view)."""
        with self._ws.lock:
            self._ws.views.set_state(view_id, dict(state_values))
            view = self._ws.views.get(view_id)
            owner = user_id or self._ws.views.owner(view_id) or seed.ALICE
            return signed_requests.view_submission(
                view["callback_id"],
                view["private_metadata"],
                state_values,
                user_id=owner,
                team_id=self._ws.team_id,
                view=view,
                trigger_id=self._server.issue_trigger_id(owner),
                signing_secret=self.signing_secret,
            )

    def open_home(self, user_id: str = seed.ALICE) -> SignedRequest:
        """``user_id`` opens the app's Home tab (``app_home_opened``, with the current view)."""
        return signed_requests.app_home_opened(
            user_id, view=self._ws.views.home(user_id), signing_secret=self.signing_secret
        )
