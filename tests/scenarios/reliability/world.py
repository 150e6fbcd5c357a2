"""What "nothing changed" means, measured: every table of the bot's store, what each
environment serves, and every call the bot made to Slack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from core.serving import current_split
from infra.store import (
    Alert,
    Approval,
    AuditEntry,
    JobRun,
    Mute,
    OutboxMessage,
    Store,
    Vote,
)
from tests.fakes.slack_server import FakeSlackServer

TABLES = (AuditEntry, Approval, Vote, Alert, Mute, JobRun, OutboxMessage)

#: Slack methods that only read (Bolt's auth.test, group lookups): not a side effect.
SLACK_READS = frozenset(
    {
        "auth.test",
        "users.info",
        "users.list",
        "usergroups.list",
        "usergroups.users.list",
        "conversations.info",
        "chat.getPermalink",
    }
)


def slack_writes(slack: FakeSlackServer) -> list:
    """Every call that posted, edited, uploaded or answered something."""
    return [c for c in slack.calls if c.method not in SLACK_READS]


@dataclass(frozen=True)
class World:
    rows: dict[str, int]
    serving: dict[str, dict[str, int]]
    slack_calls: int

    def diff(self, other: World) -> dict[str, Any]:
        changed: dict[str, Any] = {}
        for name, count in self.rows.items():
            if other.rows.get(name) != count:
                changed[name] = (count, other.rows.get(name))
        if self.serving != other.serving:
            changed["serving"] = (self.serving, other.serving)
        if self.slack_calls != other.slack_calls:
            changed["slack_calls"] = (self.slack_calls, other.slack_calls)
        return changed


def snapshot(store: Store, platform: Any, slack: FakeSlackServer, model: str) -> World:
    rows: dict[str, int] = {}
    with store.session() as session:
        for table in TABLES:
            rows[table.__tablename__] = int(session.scalar(select(func.count()).select_from(table)))
        votes = session.scalars(select(Vote)).all()
        rows["votes_by_user"] = len({(v.approval_id, v.user_id) for v in votes})
        rows["approval_versions"] = int(
            session.scalar(select(func.coalesce(func.sum(Approval.version_no), 0)))
        )
        rows["alert_versions"] = int(
            session.scalar(select(func.coalesce(func.sum(Alert.version_no), 0)))
        )
    serving = {
        env: current_split(platform.endpoint_state(model, env))
        for env in ("dev", "preprod", "prod")
    }
    return World(rows, serving, len(slack_writes(slack)))
