"""Test doubles around the SDKs: a credential, a transport that never sleeps, a socket guard."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from typing import Any

import pytest
from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.pipeline.transport import RequestsTransport

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OBJECT_ID = "11111111-2222-3333-4444-555555555555"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(audience: str, *, tenant_id: str = TENANT_ID, lifetime: int = 3600) -> str:
    """A structurally real JWT (HS256 over a throwaway key) with the claims SDKs look at."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "aud": audience,
        "iss": f"https://sts.windows.net/{tenant_id}/",
        "tid": tenant_id,
        "oid": OBJECT_ID,
        "appid": "22222222-3333-4444-5555-666666666666",
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
    }
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(b"not-a-secret", signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


class FakeCredential:
    """Implements both ``get_token`` and ``get_token_info``; remembers the scopes asked for."""

    def __init__(self) -> None:
        self.scopes: list[str] = []
        self._lock = threading.Lock()

    def _token(self, scopes: tuple[str, ...]) -> tuple[str, int]:
        with self._lock:
            self.scopes.extend(scopes)
        audience = scopes[0].removesuffix("/.default") if scopes else "https://management.azure.com"
        expires = int(time.time()) + 3600
        return make_jwt(audience), expires

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token, expires = self._token(scopes)
        return AccessToken(token, expires)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        token, expires = self._token(scopes)
        return AccessTokenInfo(token, expires)


class NoWaitTransport(RequestsTransport):
    """azure-core's requests transport, except that it never sleeps: LRO polling intervals and
    retry back-offs are recorded instead of waited for."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sleeps: list[float] = []

    def sleep(self, duration: float) -> None:
        self.sleeps.append(duration)


class NetworkBlocked(RuntimeError):
    """Deliberately not an OSError: urllib3 and azure-core retry OSErrors, this must surface."""


_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


def _is_local(address: Any) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) and address else address
    return str(host) in _LOCAL_HOSTS or str(host).startswith("127.")


class SocketGuard:
    """Fails (and remembers) every attempt to resolve or connect to a non-loopback host."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> SocketGuard:
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_getaddrinfo = socket.getaddrinfo
        guard = self

        def connect(sock: socket.socket, address: Any) -> Any:
            guard._check(address)
            return real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> Any:
            guard._check(address)
            return real_connect_ex(sock, address)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if host is not None:
                guard._check((host,))
            return real_getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        return self

    def _check(self, address: Any) -> None:
        if not _is_local(address):
            self.attempts.append(str(address))
            raise NetworkBlocked(f"test tried to reach the network: {address}")
