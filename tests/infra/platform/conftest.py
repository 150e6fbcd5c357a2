"""Fixtures for the platform port's contract suite (``test_contract.py``).

``platform_env`` yields one :class:`PlatformHarness` per adapter listed in ``ADAPTERS``. Every
contract test takes only that harness, so a new adapter joins the suite by providing one:

1. Write a generator ``def make_<name>_harness(request, tmp_path) -> Iterator[PlatformHarness]``
   that yields one harness and cleans up after it (``request.getfixturevalue`` reaches other
   fixtures). For Azure ML, build the adapter with the
   recorded-HTTP transport and fake credential from ``tests/infra/platform/azure`` so nothing leaves
   the machine; ``seed_version`` then registers a model version in the fake workspace (or points
   at a recorded one), ``send_traffic`` replays scoring calls / inserts request-log rows, and
   ``failing_model`` / ``slow_model`` name models whose recorded jobs fail / stay running.
2. Add it to ``ADAPTERS`` below, e.g. ``"azure": make_azure_harness``, wrapped in
   ``pytest.param(..., marks=...)`` if it needs a marker.

Harness fields are documented on the class; the contract only relies on them and on the port.
Small data everywhere: a pre-trained model is shared by the session, each test gets a fresh
state directory (a few milliseconds to create), and only the training tests start processes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest

from bot.demo.data import generate_churn_data
from infra.defaults import CATEGORICAL_FEATURES, NUMERIC_FEATURES, demo_config
from infra.platform.base import JobInfo, MLPlatform, ModelVersion
from infra.platform.local import LocalPlatform
from infra.platform.local.scripts.train_churn import build_pipeline, parse_args
from infra.settings import Settings

MODEL = "churn-model"
FAILING_MODEL = "broken-model"
SLOW_MODEL = "slow-model"
FEATURES = [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES]

FAILING_SCRIPT = """\
import sys

print("loading data from", sys.argv[sys.argv.index("--data") + 1])
raise SystemExit("boom: the training data has no 'churned' column")
"""

SLOW_SCRIPT = """\
import time
print("training for a long time", flush=True)
time.sleep(120)
"""


@dataclass
class PlatformHarness:
    """What the contract suite needs from an adapter under test."""

    name: str
    platform: MLPlatform
    model: str
    """A configured model with an endpoint per environment and a working retraining pipeline."""
    envs: list[str]
    """Environment names in chain order; at least two."""
    known_version: str
    """A version of ``model`` registered in ``envs[0]`` before the test starts."""
    sample: list[dict[str, Any]]
    """A valid scoring payload for ``model``."""
    seed_version: Callable[[str], ModelVersion]
    """Register one more version of ``model`` in the given environment."""
    send_traffic: Callable[[str, int], None]
    """Put ``n`` scored requests on ``model``'s endpoint in the environment (now)."""
    failing_model: str
    """A configured model whose retraining fails."""
    slow_model: str
    """A configured model whose retraining runs long enough to be cancelled."""
    training_parameters: Mapping[str, str] = field(default_factory=dict)
    job_timeout: float = 90.0

    def wait_job(
        self, env: str, job: JobInfo, *, until: Callable[[JobInfo], bool] | None = None
    ) -> JobInfo:
        """Poll until the job finishes (or ``until`` holds)."""
        done = until or (lambda info: info.status.finished)
        deadline = time.monotonic() + self.job_timeout
        while not done(job):
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job.id} still {job.status} after {self.job_timeout}s")
            time.sleep(0.1)
            job = self.platform.get_job(env, job.id)
        return job


# --------------------------------------------------------------------------- local adapter


@pytest.fixture(scope="session")
def churn_frames(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Small training data, a reference set and one pre-trained model, shared by all tests."""
    root = tmp_path_factory.mktemp("churn")
    now = datetime.now(UTC)
    history = generate_churn_data(1_200, seed=11, start=now - timedelta(days=40), end=now)
    model = build_pipeline(parse_args(["--data", "-", "--out", "-", "--max-iter", "15"]))
    model.fit(history[FEATURES], history["churned"])
    artifact = root / "model.joblib"
    joblib.dump(model, artifact)
    return {"history": history, "artifact": artifact, "root": root}


def local_settings(state_dir: Path, scripts_dir: Path) -> Settings:
    """The demo configuration plus two models whose retraining fails / takes long."""
    scripts_dir.mkdir(parents=True, exist_ok=True)
    (scripts_dir / "fail.py").write_text(FAILING_SCRIPT)
    (scripts_dir / "slow.py").write_text(SLOW_SCRIPT)
    raw = demo_config(label_delay=False)  # the contract labels requests made a moment ago
    demo_model = raw["models"][0]
    demo_model["retraining"]["parameters"] = {"max_iter": "15", "max_depth": "3"}
    for name, script in ((FAILING_MODEL, "fail.py"), (SLOW_MODEL, "slow.py")):
        raw["models"].append(
            {
                "name": name,
                "task": "classification",
                "features": demo_model["features"],
                "retraining": {"pipeline": str(scripts_dir / script)},
            }
        )
    return Settings.model_validate(raw).model_copy(update={"resolved_state_dir": str(state_dir)})


def make_local_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PlatformHarness]:
    churn_frames: dict[str, Any] = request.getfixturevalue("churn_frames")
    settings = local_settings(tmp_path / "state", tmp_path / "scripts")
    platform = LocalPlatform(settings)
    history: pd.DataFrame = churn_frames["history"]
    training_dir = platform.training_data_dir(MODEL)
    training_dir.mkdir(parents=True)
    history.to_parquet(training_dir / "history.parquet")
    reference = platform.reference_data_path(MODEL)
    history.tail(200).to_parquet(reference)
    envs = settings.env_names

    def seed_version(env: str) -> ModelVersion:
        return platform.register_model_file(
            MODEL, env, churn_frames["artifact"], metrics={"accuracy": 0.8}, tags={"seeded": "yes"}
        )

    def send_traffic(env: str, count: int) -> None:
        now = datetime.now(UTC)
        rows = generate_churn_data(count, seed=count, start=now - timedelta(minutes=5), end=now)
        platform.score(MODEL, env, rows[FEATURES], timestamps=rows["timestamp"])

    known = seed_version(envs[0])
    yield PlatformHarness(
        name="local",
        platform=platform,
        model=MODEL,
        envs=envs,
        known_version=known.version,
        sample=json.loads(history[FEATURES].head(3).to_json(orient="records")),
        seed_version=seed_version,
        send_traffic=send_traffic,
        failing_model=FAILING_MODEL,
        slow_model=SLOW_MODEL,
        training_parameters={"max_iter": "10"},
    )
    _cancel_unfinished(platform, settings)
    platform.close()


def _cancel_unfinished(platform: LocalPlatform, settings: Settings) -> None:
    """Leave no training process behind a test."""
    for env in settings.env_names:
        for model in settings.models:
            for job in platform.list_jobs(model.name, env, limit=50):
                if not job.status.finished:
                    platform.cancel_job(env, job.id)


ADAPTERS: dict[str, Callable[..., Iterator[PlatformHarness]]] = {"local": make_local_harness}


@pytest.fixture(params=sorted(ADAPTERS))
def platform_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PlatformHarness]:
    yield from ADAPTERS[request.param](request, tmp_path)


@pytest.fixture
def local_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PlatformHarness]:
    """The local adapter's harness, for tests of local specifics."""
    yield from make_local_harness(request, tmp_path)
