"""Fixtures for the Azure adapter: real SDKs, HTTP replayed, sockets guarded, no sleeping.

Three workspaces (dev, preprod, prod) and a registry live in a :class:`FakeAzureCloud` answering at
the ``requests`` layer; the adapter is built with a fake credential and a transport that records
instead of sleeping. Every test also runs under a socket guard and fails if anything tried to
leave the machine, even if the attempt was swallowed by a retry.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.settings import Settings

from .azure_fake_cloud import FakeAzureCloud
from .azure_harness import FakeCredential, NoWaitTransport, SocketGuard
from .azure_replay import HttpInterceptor
from .azure_world import azure_settings as build_settings
from .azure_world import build_cloud, client_options


@pytest.fixture(autouse=True)
def socket_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[SocketGuard]:
    guard = SocketGuard().install(monkeypatch)
    yield guard
    assert not guard.attempts, f"a test tried to reach the network: {guard.attempts}"


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpInterceptor]:
    interceptor = HttpInterceptor().install(monkeypatch)
    yield interceptor
    assert not interceptor.unhandled, (
        f"requests no fake answered: {[e.url for e in interceptor.unhandled]}"
    )


@pytest.fixture
def credential() -> FakeCredential:
    return FakeCredential()


@pytest.fixture
def transport() -> NoWaitTransport:
    return NoWaitTransport()


@pytest.fixture
def cloud(http: HttpInterceptor) -> FakeAzureCloud:
    fake = build_cloud()
    http.add(fake)
    return fake


@pytest.fixture
def azure_settings(tmp_path: Path) -> Settings:
    return build_settings(tmp_path)


@pytest.fixture
def platform(
    azure_settings: Settings,
    cloud: FakeAzureCloud,
    credential: FakeCredential,
    transport: NoWaitTransport,
):
    from infra.platform.azure import AzurePlatform

    adapter = AzurePlatform(
        azure_settings, credential=credential, client_options=client_options(transport)
    )
    yield adapter
    adapter.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """azure-ai-ml's schemas warn about marshmallow 4 on import; that noise is not ours."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(
                pytest.mark.filterwarnings("ignore::marshmallow.warnings.Marshmallow4Warning")
            )
