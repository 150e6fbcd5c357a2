"""The drift check's reference profile is keyed by the reference's version, not re-fingerprinted.

A scheduled drift check used to hash the whole reference on every run (a fifth of its CPU) to
find its profile in the engine's cache. It now asks the platform for the reference's version (a
file's path, inode, size and modification time) before and after reading it: once per version
the profile is built, every later run hits the cache, and a changed reference is a new version,
hence a new profile and a new verdict.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import engine.drift
from engine.profile import PROFILE_CACHE
from engine.verdict import Verdict
from infra.defaults import demo_config
from infra.platform.guard import GuardedPlatform
from infra.platform.local import LocalPlatform
from infra.settings import ModelConfig, Settings
from jobs.checks.drift import drift_report

END = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
START = END - timedelta(days=1)


def table(cfg: ModelConfig, n: int, offset: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {name: rng.normal(offset, 1.0, n) for name in cfg.features.numeric}
    data |= {name: rng.choice(["a", "b", "c"], n) for name in cfg.features.categorical}
    data[cfg.columns.prediction] = rng.integers(0, 2, n)
    return pd.DataFrame(data)


class Ctx:
    """The part of the jobs' context a drift report reads: the platform and the clock."""

    def __init__(self, platform: Any, current: pd.DataFrame) -> None:
        self.platform = _Window(platform, current)

    def now(self) -> datetime:
        return END


class _Window:
    """The local platform's reference, with a fixed production window (no traffic needed)."""

    def __init__(self, inner: Any, current: pd.DataFrame) -> None:
        self.inner = inner
        self.current = current
        self.version_reads = 0

    def reference_version(self, model: str) -> str | None:
        self.version_reads += 1
        return self.inner.reference_version(model)

    def reference_data(self, model: str) -> pd.DataFrame:
        return self.inner.reference_data(model)

    def production_data(self, model: str, env: str, start: datetime, end: datetime) -> Any:
        return self.current


@pytest.fixture
def local(tmp_path: Path) -> tuple[LocalPlatform, ModelConfig]:
    settings = Settings.model_validate(demo_config()).model_copy(
        update={"resolved_state_dir": str(tmp_path / "state")}
    )
    platform = LocalPlatform(settings)
    cfg = settings.models[0]
    platform.reference_data_path(cfg.name).parent.mkdir(parents=True, exist_ok=True)
    return platform, cfg


def verdicts(report: Any) -> list[tuple[Any, str, Any]]:
    return [(s.level, s.headline, s.findings) for s in report.signals]


def counting_fingerprints(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = engine.drift.frame_fingerprint

    def counted(frame: Any, *args: Any, **kwargs: Any) -> str:
        calls.append(1)
        return real(frame, *args, **kwargs)

    monkeypatch.setattr(engine.drift, "frame_fingerprint", counted)
    return calls


def test_the_local_version_changes_with_the_file_not_with_reads(local) -> None:
    platform, cfg = local
    path = platform.reference_data_path(cfg.name)
    assert platform.reference_version(cfg.name) is None  # no file yet: unknown
    table(cfg, 500, 0.0, 1).to_parquet(path)
    first = platform.reference_version(cfg.name)
    platform.reference_data(cfg.name)
    assert first is not None and platform.reference_version(cfg.name) == first
    # Replaced by a rename (how pipelines publish a file), same size and mtime kept: new inode.
    other = path.with_suffix(".tmp")
    table(cfg, 500, 0.0, 2).to_parquet(other)
    stat = path.stat()
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    other.replace(path)
    assert platform.reference_version(cfg.name) != first
    # The guard passes it through, and turns a failing lookup into "unknown".
    assert GuardedPlatform(platform).reference_version(cfg.name) == platform.reference_version(
        cfg.name
    )
    assert GuardedPlatform(platform).reference_version("no-such-model") is None


def test_the_profile_is_built_once_per_reference_version(local, monkeypatch) -> None:
    platform, cfg = local
    path = platform.reference_data_path(cfg.name)
    table(cfg, 2000, 0.0, 1).to_parquet(path)
    current = table(cfg, 600, 1.5, 3)  # far from the reference: drift
    ctx = Ctx(platform, current)
    fingerprints = counting_fingerprints(monkeypatch)

    misses, hits = PROFILE_CACHE.misses, PROFILE_CACHE.hits
    first = drift_report(ctx, cfg, "prod", START, END)  # type: ignore[arg-type]
    again = drift_report(ctx, cfg, "prod", START, END)  # type: ignore[arg-type]
    assert fingerprints == []  # the version named the reference: no hashing of it
    assert (PROFILE_CACHE.misses - misses, PROFILE_CACHE.hits - hits) == (1, 1)
    assert verdicts(again) == verdicts(first) and again.fields == first.fields
    assert first.signals[0].level is not Verdict.HEALTHY

    # The reference moves to where the window is: a new version, a new profile, a new verdict.
    moved = path.with_suffix(".tmp")
    table(cfg, 2000, 1.5, 4).to_parquet(moved)
    moved.replace(path)
    after = drift_report(ctx, cfg, "prod", START, END)  # type: ignore[arg-type]
    assert PROFILE_CACHE.misses - misses == 2
    assert after.signals[0].level != first.signals[0].level
    assert fingerprints == []


def test_a_reference_changing_while_read_is_fingerprinted(local, monkeypatch) -> None:
    platform, cfg = local
    table(cfg, 2000, 0.0, 1).to_parquet(platform.reference_data_path(cfg.name))
    ctx = Ctx(platform, table(cfg, 600, 0.0, 3))
    versions = iter(["v1", "v2", "v3", "v4"])
    monkeypatch.setattr(ctx.platform, "reference_version", lambda model: next(versions))
    fingerprints = counting_fingerprints(monkeypatch)
    drift_report(ctx, cfg, "prod", START, END)  # type: ignore[arg-type]
    assert fingerprints == [1]  # the two stats disagreed: the frame read names itself


def test_a_worker_imports_the_checks_before_it_claims_one() -> None:
    import sys

    from jobs.worker import WARM_MODULES, warm_up

    assert warm_up() >= 0
    assert all(name in sys.modules for name in WARM_MODULES)
