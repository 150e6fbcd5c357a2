"""PostgreSQL for the tests that run on it too: skipped unless MLOPS_BOT_TEST_POSTGRES_URL names a
server (.ci/run starts one and sets it), and a private database per use."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

POSTGRES_URL = os.environ.get("MLOPS_BOT_TEST_POSTGRES_URL")

needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="set MLOPS_BOT_TEST_POSTGRES_URL to run against PostgreSQL (.ci/run does)",
)


def fresh_postgres_url() -> str:
    """A private database per test run, so tests never see each other's rows."""
    assert POSTGRES_URL, "needs MLOPS_BOT_TEST_POSTGRES_URL"
    name = f"mlops_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
