"""Endpoints and their deployments in one environment's database, with Azure ML's rules.

The rules are the ones an online endpoint enforces, so a rollout that works here does not
surprise anyone on Azure: deployment names are 3-32 lowercase characters and unique per
endpoint; live traffic names existing deployments and adds up to 100; mirror traffic goes only to
deployments without live traffic, at most 50% in total; only a Succeeded deployment takes
traffic; a deployment still taking traffic cannot be deleted. Every change is one write
transaction, so a refused request changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from sqlalchemy import Connection, Row, delete, select, update

from infra.platform.base import (
    ConflictError,
    Deployment,
    EndpointState,
    InvalidRequestError,
    NotFoundError,
    deployment_name,
)
from infra.platform.local.db import Database, deployments, endpoints, utcnow

DEPLOYMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{2,31}$")
MAX_MIRROR_PERCENT = 50
SUCCEEDED = "Succeeded"


class EndpointStore:
    def __init__(self, db: Database, env: str) -> None:
        self.db = db
        self.env = env

    # -- reading
    def state(self, model: str, endpoint: str) -> EndpointState:
        with self.db.read() as conn:
            exists = conn.execute(select(endpoints).where(endpoints.c.name == endpoint)).first()
            rows = conn.execute(
                select(deployments)
                .where(deployments.c.endpoint == endpoint)
                .order_by(deployments.c.created, deployments.c.name)
            ).all()
        if exists is None:
            return EndpointState(
                model=model, environment=self.env, endpoint=endpoint, scoring_url=None
            )
        return EndpointState(
            model=model,
            environment=self.env,
            endpoint=endpoint,
            scoring_url=f"local://{self.env}/{endpoint}/score",
            deployments=tuple(to_deployment(r) for r in rows),
        )

    def row(self, endpoint: str, name: str) -> Row[Any]:
        with self.db.read() as conn:
            found = conn.execute(_one(endpoint, name)).first()
            names = [] if found else _names(conn, endpoint)
        if found is None:
            listed = f"; it has {', '.join(names)}" if names else "; it has no deployments"
            raise NotFoundError(
                f"deployment {name!r} not found on endpoint {endpoint!r} in {self.env}{listed}"
            )
        return found

    # -- writing
    def create(
        self,
        *,
        endpoint: str,
        model: str,
        version: str,
        name: str | None,
        instance_type: str,
        instance_count: int,
    ) -> str:
        """Insert a Creating deployment at 0% (creating the endpoint if needed); its name."""
        if name is not None and not DEPLOYMENT_NAME.match(name):
            raise InvalidRequestError(
                f"deployment name {name!r} is invalid; expected 3-32 lowercase letters, "
                "digits or dashes, starting with a letter"
            )
        if instance_count < 1:
            raise InvalidRequestError(f"instance_count must be at least 1, got {instance_count}")
        with self.db.write() as conn:
            if not _endpoint_exists(conn, endpoint):
                conn.execute(
                    endpoints.insert().values(name=endpoint, model=model, created=utcnow())
                )
            taken = {
                r.name: r.model_version
                for r in conn.execute(
                    select(deployments.c.name, deployments.c.model_version).where(
                        deployments.c.endpoint == endpoint
                    )
                )
            }
            chosen = name or deployment_name(model, version, taken)
            if chosen in taken:
                raise ConflictError(
                    f"deployment {chosen!r} already exists on {endpoint} in {self.env} (version "
                    f"{taken[chosen]}); choose another name or delete it first"
                )
            conn.execute(
                deployments.insert().values(
                    endpoint=endpoint,
                    name=chosen,
                    model=model,
                    model_version=version,
                    traffic=0,
                    mirror_traffic=0,
                    provisioning_state="Creating",
                    instance_type=instance_type,
                    instance_count=instance_count,
                    created=utcnow(),
                )
            )
        return chosen

    def set_state(self, endpoint: str, name: str, state: str, error: str | None = None) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(deployments)
                .where(deployments.c.endpoint == endpoint, deployments.c.name == name)
                .values(provisioning_state=state, error=error)
            )

    def set_traffic(
        self, endpoint: str, traffic: Mapping[str, int], mirror: Mapping[str, int] | None
    ) -> None:
        """Replace the live split (and the mirror split unless ``mirror`` is None)."""
        with self.db.write() as conn:
            if not _endpoint_exists(conn, endpoint):
                raise NotFoundError(
                    f"endpoint {endpoint} does not exist in {self.env}; deploy a version first"
                )
            rows = {
                r.name: r
                for r in conn.execute(select(deployments).where(deployments.c.endpoint == endpoint))
            }
            live = checked_split(traffic, rows, "traffic", endpoint)
            total = sum(live.values())
            if rows and total != 100:
                raise InvalidRequestError(
                    f"traffic on {endpoint} must add up to 100, got {total} ({_describe(live)})"
                )
            if not rows and total != 0:
                raise InvalidRequestError(
                    f"endpoint {endpoint} has no deployments; traffic must be empty"
                )
            mirrored = (
                {n: r.mirror_traffic for n, r in rows.items() if r.mirror_traffic}
                if mirror is None
                else checked_split(mirror, rows, "mirror traffic", endpoint)
            )
            check_mirror(live, mirrored, endpoint)
            for name, row in rows.items():
                if (live.get(name) or mirrored.get(name)) and row.provisioning_state != SUCCEEDED:
                    raise InvalidRequestError(
                        f"deployment {name} is {row.provisioning_state}; only a Succeeded "
                        "deployment can take traffic"
                    )
            for name in rows:
                conn.execute(
                    update(deployments)
                    .where(deployments.c.endpoint == endpoint, deployments.c.name == name)
                    .values(traffic=live.get(name, 0), mirror_traffic=mirrored.get(name, 0))
                )

    def mark_deleting(self, endpoint: str, name: str) -> Row[Any]:
        """Refuse while the deployment takes traffic; otherwise mark it Deleting."""
        with self.db.write() as conn:
            found = conn.execute(_one(endpoint, name)).first()
            if found is not None and (found.traffic or found.mirror_traffic):
                raise ConflictError(
                    f"deployment {name} still takes {found.traffic}% live and "
                    f"{found.mirror_traffic}% mirrored traffic on {endpoint}; shift it away first"
                )
            if found is not None:
                conn.execute(
                    update(deployments)
                    .where(deployments.c.endpoint == endpoint, deployments.c.name == name)
                    .values(provisioning_state="Deleting")
                )
        return found if found is not None else self.row(endpoint, name)

    def delete(self, endpoint: str, name: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                delete(deployments).where(
                    deployments.c.endpoint == endpoint, deployments.c.name == name
                )
            )


# --------------------------------------------------------------------------- rules


def to_deployment(row: Any) -> Deployment:
    return Deployment(
        name=row.name,
        model_version=row.model_version,
        traffic=row.traffic,
        mirror_traffic=row.mirror_traffic,
        provisioning_state=row.provisioning_state,
        instance_type=row.instance_type,
        instance_count=row.instance_count,
    )


def checked_split(
    split: Mapping[str, int], rows: Mapping[str, Any], kind: str, endpoint: str
) -> dict[str, int]:
    unknown = sorted(set(split) - set(rows))
    if unknown:
        raise InvalidRequestError(
            f"{kind} names unknown deployment(s) {', '.join(unknown)} on {endpoint}; "
            f"expected some of {', '.join(sorted(rows)) or '(none)'}"
        )
    checked: dict[str, int] = {}
    for name, value in split.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | np.integer)
            or not 0 <= value <= 100
        ):
            raise InvalidRequestError(
                f"{kind} for {name} must be a whole percentage 0-100, got {value!r}"
            )
        if value:
            checked[name] = int(value)
    return checked


def check_mirror(live: Mapping[str, int], mirrored: Mapping[str, int], endpoint: str) -> None:
    both = sorted(n for n in mirrored if live.get(n))
    if both:
        raise InvalidRequestError(
            f"deployment(s) {', '.join(both)} on {endpoint} cannot take live and mirrored "
            "traffic at once"
        )
    total = sum(mirrored.values())
    if total > MAX_MIRROR_PERCENT:
        raise InvalidRequestError(
            f"mirror traffic on {endpoint} may be at most {MAX_MIRROR_PERCENT}% in total, got {total}"
        )


def _describe(split: Mapping[str, int]) -> str:
    return ", ".join(f"{n}={v}" for n, v in split.items()) or "nothing"


def _one(endpoint: str, name: str) -> Any:
    return select(deployments).where(deployments.c.endpoint == endpoint, deployments.c.name == name)


def _names(conn: Connection, endpoint: str) -> list[str]:
    return list(
        conn.execute(select(deployments.c.name).where(deployments.c.endpoint == endpoint)).scalars()
    )


def _endpoint_exists(conn: Connection, endpoint: str) -> bool:
    return (
        conn.execute(select(endpoints.c.name).where(endpoints.c.name == endpoint)).first()
        is not None
    )
