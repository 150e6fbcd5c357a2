"""Live traffic for the demo: fresh customers scored through the endpoint, labels following.

``mlops-bot demo`` calls :func:`simulate_traffic` on a timer so charts and monitors have current
data; ``drifted=True`` sends customers from the drifted population (see :mod:`bot.demo.data`),
which is how the demo provokes a drift alert on demand.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.demo.data import TARGET, TIMESTAMP, generate_churn_data
from infra.defaults import CATEGORICAL_FEATURES, NUMERIC_FEATURES, SENSITIVE_FEATURES
from infra.platform.local import LocalPlatform


@dataclass(frozen=True)
class TrafficSummary:
    requests: int
    errors: int
    accuracy: float | None
    """Share of requests whose prediction matched the label (None when nothing was scored)."""
    by_deployment: dict[str, int]
    drifted: bool


def simulate_traffic(
    platform: LocalPlatform,
    settings: Any,
    model: str,
    env: str,
    requests: int,
    drifted: bool,
    *,
    seed: int | None = None,
    now: datetime | None = None,
    spread: timedelta = timedelta(minutes=1),
    with_labels: bool = True,
) -> TrafficSummary:
    """Score ``requests`` new customers on ``model``'s endpoint in ``env`` as one minute of
    traffic ending ``now``, record their true outcome as labels, and flush the request log."""
    if requests <= 0:
        return TrafficSummary(0, 0, None, {}, drifted)
    config = settings.model(model)
    inputs = list(config.features.all or (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES))
    inputs += [c for c in (config.sensitive_features or SENSITIVE_FEATURES) if c not in inputs]
    end = now or datetime.now(UTC)
    start = end - spread
    rows = generate_churn_data(
        requests,
        seed=seed if seed is not None else secrets.randbelow(2**31),
        start=start,
        end=end,
        drift_start=start if drifted else None,
    )
    ids = [uuid.uuid4().hex for _ in range(len(rows))]
    scored = platform.score(
        model,
        env,
        rows[inputs],
        timestamps=rows[TIMESTAMP],
        correlation_ids=ids,
        request_ids=ids,
        seed=seed,
    )
    if with_labels:
        platform.record_labels(model, env, dict(zip(ids, rows[TARGET], strict=True)))
    platform.flush()
    served = scored[~scored["error"].astype(bool)]
    correct = (
        served["prediction"].astype(float) == rows.loc[served.index, TARGET].astype(float)
    ).sum()
    return TrafficSummary(
        requests=len(scored),
        errors=int(scored["error"].sum()),
        accuracy=float(correct / len(served)) if len(served) else None,
        by_deployment=dict(Counter(scored["deployment"].dropna())),
        drifted=drifted,
    )
