"""A local stand-in for Slack: the Web API subset the bot uses, response URLs, file uploads,
and signed interaction requests, for the demo, the sandbox page and end-to-end tests.

Start one with ``SlackWebApiServer().start()`` and point the bot's ``SLACK_API_URL`` at the
returned base URL.
"""

from bot.sandbox.calllog import FILE_UPLOAD, RESPONSE_URL, ApiCall, CallLog
from bot.sandbox.errors import SlackError
from bot.sandbox.faults import Fault
from bot.sandbox.interactions import Interactions
from bot.sandbox.signed_requests import SignedRequest
from bot.sandbox.webapi import HttpRequest, HttpResponse, SlackWebApiServer
from bot.sandbox.workspace import Workspace

__all__ = [
    "FILE_UPLOAD",
    "RESPONSE_URL",
    "ApiCall",
    "CallLog",
    "Fault",
    "HttpRequest",
    "HttpResponse",
    "Interactions",
    "SignedRequest",
    "SlackError",
    "SlackWebApiServer",
    "Workspace",
]
