"""Synthetic churn data for the demo model, with a drift that starts on a known day.

The generator is a small causal story rather than noise: churn depends on contract, tenure,
price, support calls and payment method through a logistic link, so a gradient-boosted model
learns it well (accuracy around 0.8). From the drift start a competitor's price cut changes the
population (higher monthly charges, more support calls, more month-to-month contracts) *and* the
relationship between features and churn (long tenure protects less, price and support calls
matter less, the south region defects), so a model trained before the drift loses accuracy
after it (about 0.83 before, 0.6 after for the demo's v1). The
sensitive attribute ``gender`` is generated independently of churn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from infra.defaults import CATEGORICAL_FEATURES, NUMERIC_FEATURES, SENSITIVE_FEATURES

TARGET = "churned"
TIMESTAMP = "timestamp"
ID_COLUMN = "customer_id"

CONTRACTS = ("month-to-month", "one-year", "two-year")
PAYMENT_METHODS = ("electronic-check", "mailed-check", "bank-transfer", "credit-card")
REGIONS = ("north", "south", "east", "west")
PLANS = ("basic", "standard", "premium")
GENDERS = ("female", "male")

_PLAN_PRICE = {"basic": 35.0, "standard": 65.0, "premium": 95.0}
_PLAN_USAGE = {"basic": 6.0, "standard": 18.0, "premium": 45.0}


@dataclass(frozen=True)
class Population:
    """Parameters of the customer population; the drifted one differs in the shifted features."""

    contract_mix: tuple[float, float, float] = (0.5, 0.3, 0.2)
    monthly_charges_shift: float = 0.0
    support_call_rate: float = 1.2


BASELINE = Population()
DRIFTED = Population(
    contract_mix=(0.7, 0.2, 0.1), monthly_charges_shift=12.0, support_call_rate=2.0
)

#: The features that drift, for tests and for the demo's narrative.
DRIFTING_FEATURES = ("monthly_charges", "support_calls", "contract")


def _features(rng: np.random.Generator, rows: int, population: Population) -> pd.DataFrame:
    plan = rng.choice(PLANS, size=rows, p=(0.4, 0.4, 0.2))
    tenure = rng.integers(1, 73, size=rows)
    base_price = np.vectorize(_PLAN_PRICE.__getitem__, otypes=[float])(plan)
    monthly = np.round(
        base_price + rng.normal(0.0, 9.0, size=rows) + population.monthly_charges_shift, 2
    ).clip(10.0, None)
    usage = np.vectorize(_PLAN_USAGE.__getitem__, otypes=[float])(plan)
    return pd.DataFrame(
        {
            "tenure_months": tenure.astype("int64"),
            "monthly_charges": monthly,
            "total_charges": np.round(monthly * tenure * rng.uniform(0.9, 1.05, size=rows), 2),
            "support_calls": rng.poisson(population.support_call_rate, size=rows).astype("int64"),
            "data_usage_gb": np.round(rng.gamma(2.0, usage / 2.0), 2),
            "age": rng.normal(45.0, 14.0, size=rows).clip(18, 85).round().astype("int64"),
            "contract": rng.choice(CONTRACTS, size=rows, p=population.contract_mix),
            "payment_method": rng.choice(PAYMENT_METHODS, size=rows, p=(0.35, 0.2, 0.25, 0.2)),
            "region": rng.choice(REGIONS, size=rows),
            "plan": plan,
            "gender": rng.choice(GENDERS, size=rows),
        }
    )


def _churn_logit(frame: pd.DataFrame, drifted: np.ndarray) -> np.ndarray:
    """Log-odds of churning; the drifted regime weighs the same features differently."""
    m2m = (frame["contract"] == "month-to-month").to_numpy(float)
    two_year = (frame["contract"] == "two-year").to_numpy(float)
    echeck = (frame["payment_method"] == "electronic-check").to_numpy(float)
    south = (frame["region"] == "south").to_numpy(float)
    tenure = frame["tenure_months"].to_numpy(float)
    price = frame["monthly_charges"].to_numpy(float)
    calls = frame["support_calls"].to_numpy(float)
    usage = frame["data_usage_gb"].to_numpy(float)

    before = (
        -2.0
        + 2.4 * m2m
        - 1.8 * two_year
        - 0.07 * (tenure - 36.0)
        + 0.045 * (price - 60.0)
        + 0.9 * (calls - 1.2)
        + 0.9 * echeck
    )
    # A competitor undercuts on price and targets the south: tenure protects less, price and
    # support calls explain less, southern customers and heavy data users are poached.
    after = (
        -2.2
        + 1.4 * m2m
        - 1.0 * two_year
        - 0.02 * (tenure - 36.0)
        + 0.01 * (price - 70.0)
        + 0.3 * (calls - 2.0)
        + 0.5 * echeck
        + 2.4 * south
        + 0.03 * (usage - 18.0)
    )
    return np.where(drifted, after, before)


def generate_churn_data(
    rows: int,
    *,
    seed: int,
    start: datetime,
    end: datetime,
    drift_start: datetime | None = None,
) -> pd.DataFrame:
    """``rows`` customers with timestamps spread over [start, end), labelled with ``churned``.

    Rows stamped at or after ``drift_start`` come from the drifted population and regime.
    Timestamps follow a daily cycle (busier in the day) so traffic charts look alive.
    """
    if rows <= 0:
        return pd.DataFrame(
            columns=[
                ID_COLUMN,
                TIMESTAMP,
                *NUMERIC_FEATURES,
                *CATEGORICAL_FEATURES,
                *SENSITIVE_FEATURES,
                TARGET,
            ]
        )
    rng = np.random.default_rng(seed)
    timestamps = _timestamps(rng, rows, start, end)
    drifted = (
        np.zeros(rows, dtype=bool)
        if drift_start is None
        else np.asarray(timestamps >= utc(drift_start))
    )
    frame = _features(rng, rows, BASELINE)
    if drifted.any():
        shifted = _features(rng, rows, DRIFTED)
        frame.loc[drifted] = shifted.loc[drifted]
    logit = _churn_logit(frame, drifted)
    churned = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype("int64")
    frame.insert(0, TIMESTAMP, timestamps)
    frame.insert(0, ID_COLUMN, [f"C{seed:04d}-{i:07d}" for i in range(rows)])
    frame[TARGET] = churned
    return frame.sort_values(TIMESTAMP, kind="stable").reset_index(drop=True)


def utc(moment: datetime | pd.Timestamp) -> pd.Timestamp:
    """A UTC timestamp; naive datetimes are taken to be UTC already."""
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _timestamps(
    rng: np.random.Generator, rows: int, start: datetime, end: datetime
) -> pd.DatetimeIndex:
    start_ts, end_ts = utc(start), utc(end)
    span = (end_ts - start_ts).total_seconds()
    if span <= 0:
        raise ValueError(f"end ({end_ts}) must be after start ({start_ts})")
    # A daily cycle: draw uniformly, then move most night-time draws to a fresh uniform draw.
    offsets = rng.uniform(0.0, span, size=rows)
    start_second = (start_ts - start_ts.normalize()).total_seconds()
    hours = ((start_second + offsets) % 86400) / 3600.0
    night = (hours < 6) & (rng.random(rows) < 0.6)
    offsets[night] = rng.uniform(0.0, span, size=int(night.sum()))
    return pd.DatetimeIndex(start_ts + pd.to_timedelta(offsets, unit="s"))
