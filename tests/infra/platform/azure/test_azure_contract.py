"""The platform port's contract suite, run against the Azure adapter.

The tests are the ones in tests/infra/platform/test_contract.py, imported here so they run with this
module's ``platform_env`` (the Azure harness) without touching the shared suite's parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.platform.conftest import PlatformHarness
from tests.infra.platform.test_contract import *  # noqa: F403 - re-collect every contract test here

from .azure_contract import make_azure_harness


@pytest.fixture
def platform_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PlatformHarness]:
    yield from make_azure_harness(request, tmp_path)
