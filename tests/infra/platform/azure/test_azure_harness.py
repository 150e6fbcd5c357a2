"""The harness itself: the socket guard really blocks, the credential hands out real-looking JWTs."""

from __future__ import annotations

import base64
import json
import socket
import urllib.request

import pytest

from .azure_harness import NetworkBlocked, make_jwt
from .azure_world import MODEL


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_the_guard_blocks_and_records_real_connections(socket_guard) -> None:
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("management.azure.com", 443), timeout=1)
    with pytest.raises(NetworkBlocked):
        urllib.request.urlopen("https://login.microsoftonline.com/", timeout=1)
    assert len(socket_guard.attempts) == 2
    socket_guard.attempts.clear()  # this test made them on purpose


def test_loopback_stays_allowed(socket_guard) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=1)
    client.close()
    server.close()
    assert socket_guard.attempts == []


def test_tokens_are_jwts_with_audience_tenant_and_expiry(platform, credential) -> None:
    token = make_jwt("https://management.azure.com")
    assert set(claims(token)) >= {"aud", "tid", "exp"}
    platform.list_models("dev")
    platform.production_data(MODEL, "prod", *_window())
    audiences = {scope.removesuffix("/.default") for scope in credential.scopes}
    assert {"https://management.azure.com", "https://storage.azure.com"} <= audiences


def _window():
    from datetime import UTC, datetime, timedelta

    end = datetime.now(UTC)
    return end - timedelta(hours=1), end
