"""The local platform's environments, opened on first use, and the lookups every part of the
platform shares: a model's configuration, an environment's stores, an endpoint's state.

One object owns them so the platform (:mod:`infra.platform.local.platform`) and its traffic
side (:mod:`infra.platform.local.traffic`) open each environment's database once, and a model
or environment that is not configured gets the same message whichever operation asked.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.platform.base import EndpointState, NotFoundError
from infra.platform.local.db import Database
from infra.platform.local.endpoints import EndpointStore
from infra.platform.local.jobs import JobStore
from infra.platform.local.layout import EnvLayout, StateLayout
from infra.platform.local.telemetry import TrafficLog
from infra.platform.local.versions import SharedRegistry, VersionStore


@dataclass
class EnvStores:
    """The stores of one environment: all on its own SQLite file and directory."""

    layout: EnvLayout
    db: Database
    versions: VersionStore
    endpoints: EndpointStore
    jobs: JobStore
    traffic: TrafficLog


class Environments:
    """The configured environments' stores, opened lazily and shared by threads."""

    def __init__(
        self, settings: Any, layout: StateLayout, registry: SharedRegistry, job_page: str | None
    ) -> None:
        self.settings = settings
        self.layout = layout
        self.registry = registry
        self.job_page = job_page
        self._lock = threading.Lock()
        self._opened: dict[str, EnvStores] = {}

    def open(self, env: str) -> EnvStores:
        """The stores of ``env`` (opened on first use); ``NotFoundError`` if not configured."""
        with self._lock:
            opened = self._opened.get(env)
            if opened is None:
                env_layout = self.layout.envs.get(env)
                if env_layout is None:
                    raise NotFoundError(
                        f"environment {env!r} is not configured; expected one of "
                        f"{list(self.layout.envs)}"
                    )
                db = Database(env_layout.db)
                opened = EnvStores(
                    layout=env_layout,
                    db=db,
                    versions=VersionStore(db, self.layout, env_layout, self.registry),
                    endpoints=EndpointStore(db, env),
                    jobs=JobStore(db, env_layout, self.job_page),
                    traffic=TrafficLog(env_layout),
                )
                self._opened[env] = opened
            return opened

    def opened(self) -> list[EnvStores]:
        """The environments opened so far (flushing needs only those)."""
        with self._lock:
            return list(self._opened.values())

    def model(self, model: str) -> Any:
        """The model's configuration; ``NotFoundError`` naming the configured ones."""
        try:
            return self.settings.model(model)
        except KeyError:
            known = [m.name for m in self.settings.models]
            raise NotFoundError(
                f"model {model!r} is not configured; expected one of {known}"
            ) from None

    def endpoint_state(self, model: str, env: str) -> EndpointState:
        endpoint = self.model(model).endpoint(env)
        return self.open(env).endpoints.state(model, endpoint)

    def reference_data_path(self, model: str) -> Path:
        """``models[].reference_data`` if set, else the file the demo seeds."""
        configured = self.model(model).reference_data
        if configured:
            return self.layout.resolve(configured)
        return self.layout.data_dir(model) / "reference.parquet"

    def close(self) -> None:
        """Close the databases; the next lookup opens them again."""
        with self._lock:
            for store in self._opened.values():
                store.db.close()
            self._opened.clear()
