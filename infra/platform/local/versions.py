"""Model versions: per-environment records, artifacts as files, and the shared registry.

Version numbers are reserved in the shared registry directory (one ``mkdir`` per number, which
is atomic across processes), so a number means the same artifact in every environment and a
promotion never collides with a version trained elsewhere. Copying a version between
environments goes through the registry, like Azure ML's registry: the artifact is published
once, then the target environment registers a reference to it with source ``registry``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.exc import IntegrityError

from infra.platform.base import ConflictError, InvalidRequestError, ModelVersion, NotFoundError
from infra.platform.local.db import Database, model_versions, utcnow
from infra.platform.local.layout import EnvLayout, StateLayout
from infra.store import StaleStateError, retry_on_conflict

ARTIFACT_SUFFIXES = (".joblib", ".pkl", ".pickle")
REGISTRY_SOURCE = "registry"
_META = "meta.json"
_RESERVED = ".versions"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_artifact(directory: Path) -> Path:
    """The model file a training script left in its output directory.

    ``model.joblib`` (or ``model.pkl``) wins; otherwise exactly one pickle-like file must exist.
    """
    for preferred in ("model.joblib", "model.pkl"):
        if (directory / preferred).is_file():
            return directory / preferred
    found = sorted(p for p in directory.glob("*") if p.suffix in ARTIFACT_SUFFIXES and p.is_file())
    if len(found) == 1:
        return found[0]
    if not found:
        raise InvalidRequestError(
            f"no model artifact in {directory}; expected model.joblib (or one *.joblib/*.pkl file)"
        )
    raise InvalidRequestError(
        f"several model artifacts in {directory} ({', '.join(p.name for p in found)}); "
        "expected one, preferably named model.joblib"
    )


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (-1, version)


class SharedRegistry:
    """The registry directory shared by every environment."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _model_dir(self, model: str) -> Path:
        return self.root / model

    def highest_number(self, model: str) -> int:
        reserved = self._model_dir(model) / _RESERVED
        if not reserved.is_dir():
            return 0
        return max((int(p.name) for p in reserved.iterdir() if p.name.isdigit()), default=0)

    def reserve(self, model: str, at_least: int) -> str:
        """Claim the lowest free version number >= ``at_least`` (atomic across processes)."""
        reserved = self._model_dir(model) / _RESERVED
        reserved.mkdir(parents=True, exist_ok=True)
        number = max(at_least, self.highest_number(model) + 1)
        while True:
            try:
                (reserved / str(number)).mkdir()
                return str(number)
            except FileExistsError:
                number += 1

    def entry(self, model: str, version: str) -> dict[str, Any] | None:
        meta = self._model_dir(model) / version / _META
        if not meta.is_file():
            return None
        return json.loads(meta.read_text(encoding="utf-8"))

    def publish(self, model: str, version: str, artifact: Path, meta: Mapping[str, Any]) -> Path:
        """Put the artifact in the registry unless it is there already; returns its path there."""
        final = self._model_dir(model) / version

        def attempt() -> Path:
            existing = self.entry(model, version)
            if existing is not None:
                if existing["sha256"] != meta["sha256"]:
                    raise ConflictError(
                        f"the registry already holds {model} version {version} with different "
                        f"content (from {existing.get('origin_env', '?')})"
                    )
                return final / existing["artifact"]
            staging = self._model_dir(model) / f".staging-{uuid.uuid4().hex}"
            staging.mkdir(parents=True)
            shutil.copy2(artifact, staging / artifact.name)
            record = {**meta, "artifact": artifact.name, "published": utcnow().isoformat()}
            (staging / _META).write_text(json.dumps(record, indent=2, sort_keys=True), "utf-8")
            try:
                os.rename(staging, final)  # the compare-and-set: only one rename wins
            except OSError:  # another process published first: compare with theirs
                shutil.rmtree(staging, ignore_errors=True)
                raise StaleStateError(
                    f"{model} version {version} was published meanwhile"
                ) from None
            (self._model_dir(model) / _RESERVED / version).mkdir(parents=True, exist_ok=True)
            return final / artifact.name

        try:
            return retry_on_conflict(attempt, attempts=3)
        except StaleStateError:
            raise ConflictError(
                f"could not publish {model} version {version} to the registry"
            ) from None


class VersionStore:
    """The versions registered in one environment."""

    def __init__(
        self, db: Database, layout: StateLayout, env: EnvLayout, registry: SharedRegistry
    ) -> None:
        self.db = db
        self.layout = layout
        self.env = env
        self.registry = registry

    # -- reading
    def models(self) -> list[str]:
        with self.db.read() as conn:
            names = conn.execute(select(model_versions.c.model).distinct()).scalars().all()
        return sorted(names)

    def list(self, model: str) -> list[ModelVersion]:
        with self.db.read() as conn:
            rows = conn.execute(select(model_versions).where(model_versions.c.model == model)).all()
        ordered = sorted(rows, key=lambda r: (_version_key(r.version), r.created), reverse=True)
        return [self._to_version(r) for r in ordered]

    def find_row(self, model: str, version: str) -> Row[Any] | None:
        with self.db.read() as conn:
            return conn.execute(
                select(model_versions).where(
                    model_versions.c.model == model, model_versions.c.version == str(version)
                )
            ).first()

    def row(self, model: str, version: str) -> Row[Any]:
        found = self.find_row(model, version)
        if found is None:
            known = [v.version for v in self.list(model)]
            where = f"; {self.env.name} has {', '.join(known)}" if known else ""
            raise NotFoundError(
                f"model {model} version {version} is not registered in {self.env.name}{where}"
            )
        return found

    def get(self, model: str, version: str) -> ModelVersion:
        return self._to_version(self.row(model, version))

    def artifact_path(self, model: str, version: str) -> Path:
        return self.layout.resolve(self.row(model, version).artifact)

    # -- writing
    def register_file(
        self,
        model: str,
        artifact: Path,
        *,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
        training_job: str | None = None,
        source: str | None = None,
    ) -> ModelVersion:
        """Register ``artifact`` as the next version of ``model`` in this environment."""
        if not artifact.is_file():
            raise NotFoundError(f"model artifact {artifact} does not exist")
        sha = sha256_file(artifact)
        local_highest = max(
            (int(v.version) for v in self.list(model) if v.version.isdigit()), default=0
        )
        version = self.registry.reserve(model, local_highest + 1)
        target_dir = self.env.models / model / version
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / artifact.name
        shutil.copy2(artifact, target)
        now = utcnow()
        with self.db.write() as conn:
            conn.execute(
                model_versions.insert().values(
                    model=model,
                    version=version,
                    created=now,
                    registered=now,
                    tags={str(k): str(v) for k, v in (tags or {}).items()},
                    metrics={str(k): float(v) for k, v in (metrics or {}).items()},
                    training_job=training_job,
                    source=source or self.env.name,
                    artifact=self.layout.relative(target),
                    sha256=sha,
                )
            )
        return self.get(model, version)

    def import_from(self, source: VersionStore, model: str, version: str) -> ModelVersion:
        """Register ``source``'s version here through the registry; a no-op when present."""
        origin = source.row(model, version)
        present = self.find_row(model, version)
        if present is not None:
            return self._same_or_conflict(present, origin)
        published = self.registry.publish(
            model,
            origin.version,
            self.layout.resolve(origin.artifact),
            {
                "model": model,
                "version": origin.version,
                "sha256": origin.sha256,
                "origin_env": source.env.name,
                "training_job": origin.training_job,
                "created": origin.created.isoformat(),
            },
        )
        try:
            with self.db.write() as conn:
                conn.execute(
                    model_versions.insert().values(
                        model=model,
                        version=origin.version,
                        created=origin.created,
                        registered=utcnow(),
                        tags=dict(origin.tags),
                        metrics=dict(origin.metrics),
                        training_job=origin.training_job,
                        source=REGISTRY_SOURCE,
                        artifact=self.layout.relative(published),
                        sha256=origin.sha256,
                    )
                )
        except IntegrityError:  # a concurrent copy won the race
            return self._same_or_conflict(self.row(model, version), origin)
        return self.get(model, version)

    def _same_or_conflict(self, present: Row[Any], origin: Row[Any]) -> ModelVersion:
        if present.sha256 != origin.sha256:
            raise ConflictError(
                f"{self.env.name} already has {present.model} version {present.version} with "
                "different content; refusing to overwrite it"
            )
        return self._to_version(present)

    @staticmethod
    def _to_version(row: Row[Any]) -> ModelVersion:
        created: datetime = row.created
        return ModelVersion(
            name=row.model,
            version=row.version,
            created=created,
            tags=dict(row.tags or {}),
            metrics=dict(row.metrics or {}),
            training_job=row.training_job,
            source=row.source,
        )
