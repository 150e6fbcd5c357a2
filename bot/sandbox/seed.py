"""The demo workspace the sandbox starts with: who is who, which channels exist.

The identities match the embedded demo configuration (``infra/defaults.py``): Alice requests,
Bob and Carol are in ``@ml-approvers`` so a prod promotion can collect two distinct approvals,
Dave is an ordinary member who gets refused. Tests and the sandbox page use the same constants,
so a signed request built in a test names people and channels the fake server knows.

The tokens and signing secret are sandbox-only values (they never leave 127.0.0.1).
"""

from __future__ import annotations

from typing import Final

TEAM_ID: Final = "T0SANDBOX"
TEAM_NAME: Final = "MLOps Sandbox"
TEAM_DOMAIN: Final = "mlops-sandbox"
ENTERPRISE_ID: Final = None

APP_ID: Final = "A0MLOPSBOT"
BOT_ID: Final = "B0MLOPSBOT"
BOT_USER_ID: Final = "U0MLOPSBOT"
BOT_NAME: Final = "mlops-bot"

BOT_TOKEN: Final = "xoxb-0000000000-0000000000-sandboxbottoken00000000"
SIGNING_SECRET: Final = "5a4e0b1d9c8f7e6d5c4b3a2918070605"
VERIFICATION_TOKEN: Final = "sandboxverificationtoken"
APP_TOKEN: Final = "xapp-1-A0MLOPSBOT-0000000000-sandboxapptoken0000000000"
"""The app-level token for Socket Mode (``connections:write``), as Slack shapes them."""

ALICE: Final = "U0ALICE"
BOB: Final = "U0BOB"
CAROL: Final = "U0CAROL"
DAVE: Final = "U0DAVE"

APPROVERS_GROUP_ID: Final = "S0APPROVERS"
APPROVERS_GROUP_HANDLE: Final = "ml-approvers"

MLOPS_CHANNEL: Final = "C0MLOPS"
ALERTS_CHANNEL: Final = "C0ALERTS"
APPROVALS_CHANNEL: Final = "C0APPROVALS"
GENERAL_CHANNEL: Final = "C0GENERAL"

# Scopes the sandbox bot token holds by default: everything the served methods can need.
# Narrow them (Workspace(bot_scopes=...)) to check a manifest asks for enough.
DEFAULT_BOT_SCOPES: Final = (
    "chat:write",
    "commands",
    "users:read",
    "usergroups:read",
    "channels:read",
    "groups:read",
    "im:read",
    "im:write",
    "channels:history",
    "groups:history",
    "im:history",
    "files:write",
)

# (user id, handle, real name, title, is_admin)
DEMO_PEOPLE: Final = (
    (ALICE, "alice", "Alice Martin", "Data Scientist (requests promotions)", False),
    (BOB, "bob", "Bob Okafor", "ML Lead (approver)", True),
    (CAROL, "carol", "Carol Nguyen", "ML Platform Engineer (approver)", False),
    (DAVE, "dave", "Dave Kowalski", "Analyst", False),
)

# (channel id, name, topic, bot is a member)
DEMO_CHANNELS: Final = (
    (MLOPS_CHANNEL, "mlops", "Model status, digests and /mlops commands", True),
    (ALERTS_CHANNEL, "mlops-alerts", "Drift, performance and utilization alerts", True),
    (APPROVALS_CHANNEL, "mlops-approvals", "Promotion requests waiting for approval", True),
    (GENERAL_CHANNEL, "general", "Company-wide chatter (the bot is not a member)", False),
)

USER_NAMES: Final = {uid: handle for uid, handle, *_ in DEMO_PEOPLE} | {BOT_USER_ID: BOT_NAME}
CHANNEL_NAMES: Final = {cid: name for cid, name, *_ in DEMO_CHANNELS}
