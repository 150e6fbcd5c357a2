"""No-drift simulation: how often does each rule flag a column when nothing changed?

Reference and current windows are drawn from the same distribution many times; the share of
draws in which a column is flagged is its false-alarm rate. A p-value test at alpha = 0.05
should flag about 5% of them (a little less for KS on data with ties, which makes it
conservative); a distance at threshold 0.1 should flag almost none once both samples are large.
Evidently's rule, which picks a distance whenever the *reference* is large, is run beside ours
to show why the switch looks at the smaller sample.

    /work/venv/bin/python -m tests.engine.false_alarms            # the table for the notes
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.drift import (
    DriftOptions,
    InMemoryNumeric,
    categorical_column_drift,
    numeric_column_drift,
)
from engine.methods import Profile
from engine.profile import NumericReference
from engine.samples import CategoricalSample, NumericSample

CATEGORIES = np.array(["a", "b", "c", "d", "e", "f"])
CATEGORY_P = np.array([0.35, 0.25, 0.15, 0.12, 0.08, 0.05])

Draw = Callable[[np.random.Generator, int], np.ndarray]

GENERATORS: dict[str, Draw] = {
    "normal": lambda rng, n: rng.normal(50, 10, n),
    "lognormal": lambda rng, n: rng.lognormal(3, 0.8, n),
    "counts (Poisson 3)": lambda rng, n: rng.poisson(3, n).astype(float),
    "categorical (6)": lambda rng, n: rng.choice(CATEGORIES, n, p=CATEGORY_P),
}

SETTINGS: tuple[tuple[int, int], ...] = (
    (200, 200),
    (5000, 200),
    (5000, 500),
    (5000, 1000),
    (5000, 5000),
    (20000, 20000),
)


def _numeric(values: np.ndarray) -> NumericSample:
    return NumericSample(np.sort(values), len(values), 0, 0, 0)


def _categorical(values: np.ndarray) -> CategoricalSample:
    counts = pd.Series(values).value_counts(sort=False)
    return CategoricalSample(
        pd.Index(counts.index.astype(str), dtype=object), counts.to_numpy(np.int64), len(values), 0
    )


@dataclass(frozen=True)
class Rate:
    column: str
    n_reference: int
    n_current: int
    profile: str
    method: str
    rate: float
    trials: int


def false_alarm_rate(
    column: str, n_ref: int, n_cur: int, profile: Profile, trials: int, seed: int = 7
) -> Rate:
    rng = np.random.default_rng(seed)
    draw = GENERATORS[column]
    options = DriftOptions(profile=profile)
    alarms = 0
    methods: set[str] = set()
    for _ in range(trials):
        ref, cur = draw(rng, n_ref), draw(rng, n_cur)
        if ref.dtype.kind in "fi":
            result = numeric_column_drift(
                column,
                NumericReference(_numeric(ref)),
                InMemoryNumeric(_numeric(cur)),
                options,
                with_distribution=False,
            )
        else:
            result = categorical_column_drift(
                column, _categorical(ref), _categorical(cur), options, with_distribution=False
            )
        alarms += result.drifted
        methods.add(str(result.method))
    return Rate(
        column, n_ref, n_cur, str(profile), "/".join(sorted(methods)), alarms / trials, trials
    )


def table(trials: int = 400, settings: tuple[tuple[int, int], ...] = SETTINGS) -> list[Rate]:
    rows = []
    for n_ref, n_cur in settings:
        for column in GENERATORS:
            for profile in (Profile.DEFAULT, Profile.EVIDENTLY):
                rows.append(false_alarm_rate(column, n_ref, n_cur, profile, trials))
    return rows


def format_table(rows: list[Rate]) -> str:
    lines = [
        "| n_ref | n_cur | column | default rule: method | false alarms | Evidently rule: method | false alarms |",
        "|---:|---:|---|---|---:|---|---:|",
    ]
    by_key: dict[tuple[int, int, str], dict[str, Rate]] = {}
    for row in rows:
        by_key.setdefault((row.n_reference, row.n_current, row.column), {})[row.profile] = row
    for (n_ref, n_cur, column), pair in by_key.items():
        ours, theirs = pair["default"], pair["evidently"]
        lines.append(
            f"| {n_ref} | {n_cur} | {column} | {ours.method} | {ours.rate:.1%} | {theirs.method} | {theirs.rate:.1%} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    trials = int(argv[0]) if argv else 400
    rows = table(trials)
    print(f"No-drift false-alarm rate per column, {trials} draws per cell (seed 7)\n")
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
