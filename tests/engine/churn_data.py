"""Realistic churn-like data for the monitoring tests (independent of the demo generator).

Customers have a tenure, a plan that sets the monthly charge, a contract, a payment method and
a region; churn is more likely early in the tenure, on month-to-month contracts and after
support calls. ``score`` is a model's churn probability (the true probability plus noise) and
``prediction`` thresholds it at 0.5. ``drifted=True`` shifts the population the way a
marketing campaign would: many new month-to-month customers on pricier plans, more support
calls, and a payment method the reference never saw.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from infra.defaults import demo_config
from infra.settings import ModelConfig

NUMERIC = [
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "data_usage_gb",
    "age",
]
CATEGORICAL = ["contract", "payment_method", "region", "plan"]

PLAN_PRICE = {"basic": 29.0, "standard": 59.0, "premium": 99.0}


def churn_frame(
    n: int,
    *,
    seed: int = 0,
    drifted: bool = False,
    start: datetime | None = None,
    missing_rate: float = 0.0,
    unfair: bool = False,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    if drifted:
        contract = rng.choice(["month-to-month", "one-year", "two-year"], n, p=[0.75, 0.15, 0.10])
        plan = rng.choice(["basic", "standard", "premium"], n, p=[0.2, 0.35, 0.45])
        payment = rng.choice(
            ["card", "bank-transfer", "electronic-check", "mailed-check", "crypto"],
            n,
            p=[0.3, 0.2, 0.25, 0.1, 0.15],
        )
        tenure = np.minimum(rng.geometric(1 / 9, n) - 1, 72)
        calls = rng.poisson(2.6, n)
    else:
        contract = rng.choice(["month-to-month", "one-year", "two-year"], n, p=[0.5, 0.25, 0.25])
        plan = rng.choice(["basic", "standard", "premium"], n, p=[0.4, 0.4, 0.2])
        payment = rng.choice(
            ["card", "bank-transfer", "electronic-check", "mailed-check"],
            n,
            p=[0.35, 0.25, 0.3, 0.1],
        )
        tenure = np.minimum(rng.geometric(1 / 24, n) - 1, 72)
        calls = rng.poisson(1.4, n)
    region = rng.choice(
        ["north", "south", "east", "west", "central"], n, p=[0.22, 0.2, 0.2, 0.23, 0.15]
    )
    gender = rng.choice(["female", "male", "nonbinary"], n, p=[0.49, 0.49, 0.02])
    monthly = np.array([PLAN_PRICE[p] for p in plan]) + rng.normal(0, 6, n)
    monthly = np.round(np.clip(monthly, 15, 140), 2)
    total = np.round(monthly * np.maximum(tenure, 1) * rng.uniform(0.9, 1.05, n), 2)
    usage = np.round(rng.lognormal(2.3 if not drifted else 2.5, 0.6, n), 2)
    age = np.clip(np.round(rng.normal(45, 14, n)), 18, 90)
    logit = (
        -1.2
        - 0.045 * tenure
        + 1.1 * (contract == "month-to-month")
        - 0.6 * (contract == "two-year")
        + 0.35 * calls
        + 0.008 * (monthly - 60)
        + 0.3 * (payment == "electronic-check")
    )
    probability = 1 / (1 + np.exp(-logit))
    churned = (rng.uniform(size=n) < probability).astype(int)
    score = np.clip(probability + rng.normal(0, 0.08, n), 0, 1)
    if unfair:
        score = np.where(gender == "female", np.clip(score + 0.18, 0, 1), score)
    prediction = (score >= 0.5).astype(int)
    start = start or datetime(2026, 5, 1, tzinfo=UTC)
    timestamp = pd.to_datetime(
        [start + timedelta(minutes=float(m)) for m in np.sort(rng.uniform(0, 1440, n))]
    )
    frame = pd.DataFrame(
        {
            "timestamp": timestamp,
            "tenure_months": tenure.astype(np.int64),
            "monthly_charges": monthly,
            "total_charges": total,
            "support_calls": calls.astype(np.int64),
            "data_usage_gb": usage,
            "age": age.astype(np.int64),
            "contract": contract,
            "payment_method": payment,
            "region": region,
            "plan": plan,
            "gender": gender,
            "churned": churned,
            "prediction": prediction,
            "score": np.round(score, 4),
        }
    )
    if missing_rate:
        holes = rng.uniform(size=n) < missing_rate
        frame["monthly_charges"] = frame["monthly_charges"].mask(holes)
    return frame


def churn_model() -> ModelConfig:
    """The demo model's configuration (features, columns, sensitive feature, thresholds)."""
    return ModelConfig.model_validate(demo_config()["models"][0])


def utilization_frame(
    hours: float = 6,
    *,
    seed: int = 0,
    cpu: float = 45,
    memory: float = 55,
    instances: int = 2,
    error_rate: float = 0.004,
    latency_p99: float = 320,
    ramp: float = 0.0,
    end: datetime | None = None,
) -> pd.DataFrame:
    """Five-minute metric samples shaped like ``MLPlatform.deployment_metrics`` output.

    ``ramp`` adds that many CPU points linearly over the window (traffic growing).
    """
    rng = np.random.default_rng(seed)
    periods = int(hours * 12)
    end = end or datetime(2026, 5, 2, 12, 0, tzinfo=UTC)
    index = pd.date_range(end=end, periods=periods, freq="5min", tz="UTC")
    trend = np.linspace(0, ramp, periods)
    daily = 6 * np.sin(np.linspace(0, np.pi, periods))
    cpu_values = np.clip(cpu + trend + daily + rng.normal(0, 3, periods), 0, 100)
    rpm = np.clip(120 * (cpu_values / max(cpu, 1)) * instances + rng.normal(0, 8, periods), 0, None)
    p50 = 40 + cpu_values * 0.8 + rng.normal(0, 3, periods)
    return pd.DataFrame(
        {
            "cpu_percent": cpu_values,
            "memory_percent": np.clip(memory + 0.3 * trend + rng.normal(0, 2, periods), 0, 100),
            "requests_per_minute": rpm,
            "latency_p50_ms": p50,
            "latency_p95_ms": p50 * 2.4,
            "latency_p99_ms": np.clip(
                latency_p99 * (0.6 + 0.4 * cpu_values / max(cpu, 1)) + rng.normal(0, 15, periods),
                1,
                None,
            ),
            "error_rate": np.clip(error_rate + rng.normal(0, error_rate / 4, periods), 0, 1),
            "instance_count": np.full(periods, instances, dtype=float),
        },
        index=index,
    )
