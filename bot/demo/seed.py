"""Seed the embedded platform with the demo: three versions serving, a month of traffic, drift.

Everything goes through the real paths: versions are trained by the retraining script in real
training jobs, copied between environments through the registry, deployed at 0% and switched to
100%, and the traffic is scored by the deployed models and logged like live requests (in
micro-batches, so a month of it takes seconds). The traffic drifts from a known day on (see
:mod:`bot.demo.data`), so the prod model's accuracy drops after it; v3, trained on the recent
labelled traffic, copes better, so promoting it is the demo's happy ending.

Seeding is idempotent and resumable: each finished step is recorded in ``demo-seed.json`` in
the state directory and checked against the platform state before being skipped, and the
traffic of a day that is already logged is never scored again.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from bot.demo.data import ID_COLUMN, TARGET, TIMESTAMP, generate_churn_data
from infra.defaults import CATEGORICAL_FEATURES, DEMO_MODEL, NUMERIC_FEATURES, SENSITIVE_FEATURES
from infra.platform.base import JobInfo, JobStatus, NotFoundError
from infra.platform.local import LocalPlatform

MARKER_FILE = "demo-seed.json"
REFERENCE_ROWS = 5_000
FEATURES = [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES]

#: ``progress(message, fraction_done)``; fraction_done goes from 0 to 1.
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class VersionPlan:
    key: str
    parameters: Mapping[str, str]
    serves_from_end: int
    """Which environment it serves, counted from the end of the chain (0 = production)."""
    trained_on_traffic: bool = False
    """Trained after the month of traffic, on the recent labelled requests (drift included)."""


@dataclass(frozen=True)
class SeedPlan:
    days: int = 30
    drift_day: int = 20
    history_days: int = 90
    history_rows: int = 12_000
    requests_per_day: Mapping[int, int] = field(default_factory=lambda: {0: 500, 1: 150, 2: 60})
    """Requests per day by environment position from the end of the chain (0 = production)."""
    batch_rows: int = 250
    seed: int = 7
    versions: tuple[VersionPlan, ...] = (
        VersionPlan(
            "v1",
            {"learning_rate": "0.1", "max_iter": "80", "max_depth": "3", "window_days": "0"},
            0,
        ),
        VersionPlan(
            "v2",
            {"learning_rate": "0.05", "max_iter": "150", "max_depth": "4", "window_days": "60"},
            1,
        ),
        VersionPlan(
            "v3",
            {"learning_rate": "0.1", "max_iter": "100", "max_depth": "4", "window_days": "12"},
            2,
            trained_on_traffic=True,
        ),
    )


@dataclass(frozen=True)
class SeedSummary:
    state_dir: Path
    model: str
    seeded: bool
    """False when the demo was already complete and nothing was done."""
    versions: dict[str, str]
    """Plan key (v1, v2, v3) -> registered version number."""
    serving: dict[str, str]
    """Environment -> version deployed there by the seed."""
    requests: dict[str, int]
    """Environment -> requests logged by the seed."""
    start: datetime
    end: datetime
    drift_start: datetime
    seconds: float
    now_serving: dict[str, str] = field(default_factory=dict)
    """Environment -> what serves there now, read from the platform (``v2``, ``v1 90% · v2 10%``,
    ``nothing``): after a promotion in an earlier run it is no longer what the seed deployed."""

    def describe(self) -> str:
        """A few lines for the terminal: what serves *now*, and the seed's state when it
        differs (so the tour's commands make sense, or ``--reset`` is the way back)."""
        if not self.seeded:
            head = f"The demo was already seeded in {self.state_dir}; it continues where it was."
        else:
            head = f"Seeded the demo into {self.state_dir} in {self.seconds:.1f}s."
        seeded = {env: f"v{version}" for env, version in self.serving.items()}
        now = self.now_serving or seeded
        serving = ", ".join(f"{env}: {what}" for env, what in now.items())
        lines = [head, f"{self.model} serves now: {serving}"]
        if any(now.get(env) != what for env, what in seeded.items()):
            lines.append(
                "(seeded as "
                + ", ".join(f"{env}: {what}" for env, what in seeded.items())
                + "; `mlops-bot demo --reset` starts over from the seed)"
            )
        requests = ", ".join(f"{env}: {count}" for env, count in self.requests.items())
        lines.append(
            f"Seeded traffic {self.start:%Y-%m-%d %H:%M} .. {self.end:%Y-%m-%d %H:%M} UTC "
            f"({requests} requests), drift from {self.drift_start:%Y-%m-%d %H:%M} UTC"
        )
        return "\n".join(lines)


class SeedError(RuntimeError):
    """Seeding could not finish (a training job failed, a deploy failed), or a reset was
    refused."""


def reset_demo(state_dir: Path) -> bool:
    """Delete the demo's state directory so the next seed starts from scratch: the platform,
    the bot's database (approvals, alerts, schedules), the sandbox's messages.

    Only a directory the demo seeded (it holds ``demo-seed.json``) or an empty one is deleted:
    ``--reset`` with a mistyped ``--state-dir`` must never remove someone's files. Returns
    whether anything was deleted. Stop a running demo on the directory first.
    """
    state_dir = Path(state_dir)
    if not state_dir.exists():
        return False
    if not state_dir.is_dir():
        raise SeedError(f"{state_dir} is not a directory; nothing was deleted")
    if not (state_dir / MARKER_FILE).is_file() and any(state_dir.iterdir()):
        raise SeedError(
            f"{state_dir} does not look like a demo state directory (no {MARKER_FILE}); "
            "nothing was deleted"
        )
    _stop_training_runners(state_dir)
    shutil.rmtree(state_dir)
    return True


def _stop_training_runners(state_dir: Path) -> None:
    """Training runners outlive the bot (own session); stop those working in ``state_dir``
    before it goes, so none writes a half-deleted environment back into existence."""
    root = str(state_dir.resolve())
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if "infra.platform.local.runner" in cmdline and any(
            arg == root or arg.startswith(root + os.sep) for arg in cmdline
        ):
            with contextlib.suppress(psutil.Error):
                process.terminate()


def seed_demo(
    settings: Any, progress: Progress | None = None, *, plan: SeedPlan | None = None
) -> SeedSummary:
    """Seed the demo into ``settings.state_path`` unless it is already there."""
    if settings.platform != "local":
        raise SeedError(
            "the demo seeds the embedded local platform; this configuration uses Azure ML"
        )
    started = time.perf_counter()
    platform = LocalPlatform(settings)
    try:
        seeder = _Seeder(settings, platform, plan or SeedPlan(), progress or (lambda _m, _f: None))
        seeded = seeder.run()
        summary = seeder.summary(seeded, time.perf_counter() - started)
        return replace(summary, now_serving=now_serving(platform, seeder.model, seeder.chain))
    finally:
        platform.close()


class _Seeder:
    def __init__(
        self, settings: Any, platform: LocalPlatform, plan: SeedPlan, progress: Progress
    ) -> None:
        self.settings = settings
        self.platform = platform
        self.plan = plan
        self.progress = progress
        self.model = DEMO_MODEL
        try:
            settings.model(self.model)
        except KeyError:
            raise SeedError(f"the configuration has no model {self.model!r} to seed") from None
        self.chain = list(settings.env_names)
        self.train_env = settings.training_env(settings.model(self.model))
        self.marker_path = Path(settings.state_path) / MARKER_FILE
        self.state = self._load_marker()
        self.steps_done = 0
        self.steps_total = 3 + 3 * len(plan.versions)

    # -- marker
    def _load_marker(self) -> dict[str, Any]:
        if self.marker_path.is_file():
            state = json.loads(self.marker_path.read_text(encoding="utf-8"))
            if state.get("model") == self.model:
                return state
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(days=self.plan.days)
        return {
            "model": self.model,
            "plan": _plan_id(self.plan),
            "start": start.isoformat(),
            "end": end.isoformat(),
            "drift_start": (start + timedelta(days=self.plan.drift_day)).isoformat(),
            "versions": {},
            "serving": {},
            "requests": {},
            "complete": False,
        }

    def _save(self) -> None:
        self.marker_path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.marker_path.with_suffix(".tmp")
        staging.write_text(json.dumps(self.state, indent=2, sort_keys=True), encoding="utf-8")
        staging.replace(self.marker_path)

    @property
    def start(self) -> datetime:
        return datetime.fromisoformat(self.state["start"])

    @property
    def end(self) -> datetime:
        return datetime.fromisoformat(self.state["end"])

    @property
    def drift_start(self) -> datetime:
        return datetime.fromisoformat(self.state["drift_start"])

    def _step(self, message: str) -> None:
        self.progress(message, min(1.0, self.steps_done / self.steps_total))
        self.steps_done += 1

    # -- the plan
    def run(self) -> bool:
        if self.state["complete"] and self._still_there():
            self.progress("The demo is already seeded", 1.0)
            return False
        if self.state["complete"]:  # the marker outlived the state it describes: start again
            self.marker_path.unlink()
            self.state = self._load_marker()
        # Load the scoring stack while the first job trains: the first deploy needs it next.
        threading.Thread(target=_warm_up, name="seed-warm-up", daemon=True).start()
        self._write_history()
        # Versions trained on traffic come last; each version's training overlaps the replay of
        # the previous version's traffic (a job is a separate process), and versions still
        # register in plan order because a job starts only after the previous one finished.
        ordered = [v for v in self.plan.versions if not v.trained_on_traffic]
        ordered += [v for v in self.plan.versions if v.trained_on_traffic]
        running = self._start_training(ordered[0]) if ordered else None
        for index, version in enumerate(ordered):
            self._finish_training(version, running)
            self._deploy(version)
            if index == 0:
                self._write_reference()
            upcoming = ordered[index + 1] if index + 1 < len(ordered) else None
            if upcoming is not None and upcoming.trained_on_traffic:
                self._export_feedback()
            running = self._start_training(upcoming) if upcoming is not None else None
            self._traffic(self._serving_env(version))
        self.state["complete"] = True
        self._save()
        self.progress("Demo seeded", 1.0)
        return True

    def _still_there(self) -> bool:
        try:
            for number in self.state["versions"].values():
                self.platform.get_version(self.model, number, self.train_env)
            for env in self.state["serving"]:
                if not self.platform.endpoint_state(self.model, env).exists:
                    return False
        except NotFoundError:
            return False
        return self.platform.reference_data_path(self.model).is_file()

    def _serving_env(self, version: VersionPlan) -> str | None:
        index = len(self.chain) - 1 - version.serves_from_end
        return self.chain[index] if index >= 0 else None

    def _write_history(self) -> None:
        self._step("Generating the training history")
        target = self.platform.training_data_dir(self.model) / "history.parquet"
        if target.is_file():
            return
        history = generate_churn_data(
            self.plan.history_rows,
            seed=self.plan.seed,
            start=self.start - timedelta(days=self.plan.history_days),
            end=self.start,
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        history.to_parquet(target, index=False)

    def _start_training(self, version: VersionPlan) -> JobInfo | None:
        """Submit the version's training job unless the version is registered already."""
        self._step(f"Training {version.key} ({_describe(version.parameters)})")
        number = self.state["versions"].get(version.key)
        if number is not None:
            try:
                self.platform.get_version(self.model, number, self.train_env)
                return None
            except NotFoundError:
                pass
        return self.platform.submit_training(
            self.model, self.train_env, dict(version.parameters), reason=f"demo seed {version.key}"
        )

    def _finish_training(self, version: VersionPlan, job: JobInfo | None) -> None:
        if job is None:
            return
        finished = _wait(self.platform, self.train_env, job)
        if finished.status != JobStatus.COMPLETED or not finished.produced_version:
            raise SeedError(
                f"training {version.key} failed: {finished.error}\n{finished.log_tail}".rstrip()
            )
        self.state["versions"][version.key] = finished.produced_version
        self._save()

    def _deploy(self, version: VersionPlan) -> None:
        env = self._serving_env(version)
        self._step(f"Deploying {version.key} to {env or '(no environment)'}")
        if env is None or env in self.state["serving"]:
            return
        number = self.state["versions"][version.key]
        if env != self.train_env:
            self.platform.copy_version(self.model, number, self.train_env, env)
        state = self.platform.endpoint_state(self.model, env)
        existing = next((d for d in state.deployments if d.model_version == number), None)
        if existing is None:
            existing = self.platform.begin_deploy(self.model, number, env).wait(timeout=120)
        self.platform.set_traffic(self.model, env, {existing.name: 100}, mirror={})
        self.state["serving"][env] = number
        self._save()

    def _write_reference(self) -> None:
        """The baseline: held-back history rows scored by the production model."""
        self._step("Writing the reference data")
        path = self.platform.reference_data_path(self.model)
        if path.is_file():
            return
        production = self.chain[-1]
        deployment = self.platform.endpoint_state(self.model, production).primary
        if deployment is None:
            raise SeedError(f"no deployment serves {self.model} in {production}")
        history = pd.read_parquet(self.platform.training_data_dir(self.model) / "history.parquet")
        reference = history.tail(REFERENCE_ROWS).reset_index(drop=True)
        scored = self.platform.smoke_test(
            self.model, production, deployment.name, reference[FEATURES].to_dict("records")
        )
        if not scored.ok:
            raise SeedError(f"scoring the reference data failed: {scored.detail}")
        columns = self.settings.model(self.model).columns
        reference[columns.prediction] = scored.response["predictions"]
        reference[columns.score or "score"] = scored.response["scores"]
        path.parent.mkdir(parents=True, exist_ok=True)
        reference.to_parquet(path, index=False)

    def _traffic(self, env: str | None) -> None:
        self._step(f"Replaying {self.plan.days} days of traffic in {env}")
        if env is None:
            return
        position = len(self.chain) - 1 - self.chain.index(env)
        per_day = self.plan.requests_per_day.get(position, 0)
        if per_day <= 0:
            return
        rows = self._traffic_rows(env)
        logged = set(self.platform.traffic_days(self.model, env))
        days = rows[TIMESTAMP].dt.strftime("%Y-%m-%d")
        todo = rows[~days.isin(logged)].reset_index(drop=True)
        for offset in range(0, len(todo), self.plan.batch_rows):
            batch = todo.iloc[offset : offset + self.plan.batch_rows]
            ids = batch[ID_COLUMN].tolist()
            self.platform.score(
                self.model,
                env,
                batch[[*FEATURES, *SENSITIVE_FEATURES]].reset_index(drop=True),
                timestamps=batch[TIMESTAMP],
                correlation_ids=ids,
                request_ids=ids,
                seed=self.plan.seed + offset,
            )
        self.platform.record_labels(
            self.model, env, dict(zip(todo[ID_COLUMN], todo[TARGET], strict=True))
        )
        self.platform.flush()
        self.state["requests"][env] = len(rows)
        self._save()

    def _traffic_rows(self, env: str) -> pd.DataFrame:
        position = len(self.chain) - 1 - self.chain.index(env)
        return generate_churn_data(
            self.plan.requests_per_day[position] * self.plan.days,
            seed=self.plan.seed * 100 + position + 1,
            start=self.start,
            end=self.end,
            drift_start=self.drift_start,
        )

    def _export_feedback(self) -> None:
        """Production's labelled requests become training data, as a labelling pipeline would."""
        self._step("Exporting labelled production traffic as training data")
        production = self.chain[-1]
        if self.plan.requests_per_day.get(0, 0) <= 0:
            return
        labelled = self._traffic_rows(production)
        target = self.platform.training_data_dir(self.model) / f"feedback-{production}.parquet"
        labelled.to_parquet(target, index=False)

    def summary(self, seeded: bool, seconds: float) -> SeedSummary:
        return SeedSummary(
            state_dir=Path(self.settings.state_path),
            model=self.model,
            seeded=seeded,
            versions=dict(self.state["versions"]),
            serving={
                e: self.state["serving"][e]
                for e in reversed(self.chain)
                if e in self.state["serving"]
            },
            requests={
                e: int(self.state["requests"][e])
                for e in reversed(self.chain)
                if e in self.state["requests"]
            },
            start=self.start,
            end=self.end,
            drift_start=self.drift_start,
            seconds=seconds,
        )


def now_serving(platform: LocalPlatform, model: str, chain: list[str]) -> dict[str, str]:
    """What serves ``model`` in each environment now, production first."""
    shown: dict[str, str] = {}
    for env in reversed(chain):
        serving = platform.endpoint_state(model, env).serving
        if not serving:
            shown[env] = "nothing"
        elif len(serving) == 1:
            shown[env] = f"v{serving[0].model_version}"
        else:
            shown[env] = " · ".join(f"v{d.model_version} {d.traffic}%" for d in serving)
    return shown


def _warm_up() -> None:
    import sklearn.compose
    import sklearn.ensemble
    import sklearn.pipeline
    import sklearn.preprocessing  # noqa: F401


def _plan_id(plan: SeedPlan) -> str:
    return json.dumps(asdict(plan), sort_keys=True, default=str)


def _describe(parameters: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in parameters.items())


def _wait(platform: LocalPlatform, env: str, job: JobInfo, timeout: float = 600.0) -> JobInfo:
    deadline = time.monotonic() + timeout
    while not job.status.finished:
        if time.monotonic() > deadline:
            platform.cancel_job(env, job.id)
            raise SeedError(f"training job {job.id} did not finish within {timeout:.0f}s")
        time.sleep(0.2)
        job = platform.get_job(env, job.id)
    return job
