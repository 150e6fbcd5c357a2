"""``workers:`` and its environment override: a bad ``MLOPS_BOT_WORKERS`` is a configuration
error (one line, exit 2 from the CLI), never a traceback when ``serve`` starts the pool."""

from __future__ import annotations

import pytest

from infra.settings import ConfigError, Workers, load_settings


@pytest.mark.parametrize("value", ["lots", "-3", "2.5"])
def test_a_bad_override_is_refused_with_the_settings(
    value: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("MLOPS_BOT_WORKERS", value)
    with pytest.raises(ConfigError, match="MLOPS_BOT_WORKERS must be auto or a whole number"):
        load_settings(None, state_dir=tmp_path)


def test_the_override_wins_over_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_BOT_WORKERS", "3")
    assert Workers(processes=1).process_count() == 3
    monkeypatch.setenv("MLOPS_BOT_WORKERS", "auto")
    assert Workers(processes=0).process_count() >= 1
    monkeypatch.delenv("MLOPS_BOT_WORKERS")
    assert Workers(processes=0).process_count() == 0
