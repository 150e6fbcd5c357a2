"""Where the embedded platform keeps things on disk, derived from the settings.

::

    <state>/envs/<env>/platform.db                       versions, endpoints, deployments, jobs, labels
    <state>/envs/<env>/models/<model>/<version>/...      artifacts of versions trained in <env>
    <state>/envs/<env>/jobs/<job id>/                    job logs and outputs
    <state>/envs/<env>/traffic/<model>/<YYYY-MM-DD>/     request logs (parquet parts)
    <state>/registry/<model>/<version>/                  artifacts shared between environments
    <state>/data/<model>/reference.parquet               reference (baseline) data
    <state>/data/<model>/training/                       training data read by the retraining script

Relative paths in the configuration are resolved against the state directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENVS_DIR = "envs"
REGISTRY_DIR = "registry"
DB_FILE = "platform.db"


@dataclass(frozen=True)
class EnvLayout:
    name: str
    root: Path

    @property
    def db(self) -> Path:
        return self.root / DB_FILE

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    def traffic(self, model: str) -> Path:
        return self.root / "traffic" / model


@dataclass(frozen=True)
class StateLayout:
    root: Path
    registry: Path
    envs: dict[str, EnvLayout]

    @classmethod
    def from_settings(cls, settings: object) -> StateLayout:
        """Read the coordinates from a :class:`infra.settings.Settings` (duck-typed to stay light)."""
        root = Path(settings.state_path).expanduser().absolute()  # type: ignore[attr-defined]
        envs: dict[str, EnvLayout] = {}
        for env in settings.environments:  # type: ignore[attr-defined]
            configured = env.local.path if env.local and env.local.path else None
            envs[env.name] = EnvLayout(env.name, root / (configured or f"{ENVS_DIR}/{env.name}"))
        registry_cfg = settings.registry.local  # type: ignore[attr-defined]
        registry = root / (
            registry_cfg.path if registry_cfg and registry_cfg.path else REGISTRY_DIR
        )
        return cls(root=root, registry=registry, envs=envs)

    def data_dir(self, model: str) -> Path:
        return self.root / "data" / model

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.root / candidate

    def relative(self, path: Path) -> str:
        """A path to store in a database: relative to the state directory when inside it, so a
        state directory can be moved as a whole."""
        try:
            return path.absolute().relative_to(self.root).as_posix()
        except ValueError:
            return str(path.absolute())
