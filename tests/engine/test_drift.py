"""The drift engine end to end on churn-like data: verdicts, method choice, edge cases."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine import (
    ColumnOverride,
    ColumnStatus,
    DriftOptions,
    Method,
    Profile,
    ProfileCache,
    QualityCheck,
    Verdict,
    build_profile,
    drift_frames,
    drift_from_summary,
    iter_parquet,
    run_drift,
    summarize,
)
from engine.chunks import NumericSummary
from engine.quality import QualityThresholds
from engine.samples import ColumnKind, infer_kinds
from infra.settings import DriftConfig
from jobs.checks.options import drift_options
from tests.engine.churn_data import CATEGORICAL, NUMERIC, churn_frame, churn_model


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return churn_frame(8000, seed=1)


def test_steady_window_is_healthy(reference: pd.DataFrame) -> None:
    report = run_drift(churn_model(), reference, churn_frame(3000, seed=2), cache=None)
    assert list(report.columns) == NUMERIC + CATEGORICAL
    assert report.verdict is Verdict.HEALTHY
    assert report.drifted_count == 0 and not report.dataset_drift
    assert {str(r.method) for r in report.columns.values()} == {"wasserstein", "jensenshannon"}
    assert set(report.outputs) == {"prediction", "score"}
    assert not report.prediction_drift
    assert report.quality.findings == ()


def test_drifted_window_breaches_with_the_right_columns(reference: pd.DataFrame) -> None:
    report = run_drift(
        churn_model(), reference, churn_frame(3000, seed=3, drifted=True), cache=None
    )
    assert report.dataset_drift and report.verdict is Verdict.BREACH
    drifted = {r.column for r in report.drifted}
    assert {"tenure_months", "contract", "payment_method", "support_calls", "plan"} <= drifted
    assert "age" not in drifted and "region" not in drifted
    assert report.share_drifted == pytest.approx(report.drifted_count / 10)
    assert report.prediction_drift
    ranked = report.ranked()
    assert ranked[0].drifted and not ranked[-1].drifted
    new = [f for f in report.quality.findings if f.check is QualityCheck.NEW_CATEGORIES]
    assert new and new[0].column == "payment_method" and new[0].examples == ("crypto",)
    assert new[0].value == pytest.approx(0.15, abs=0.03)


def test_small_current_window_uses_tests_not_distances(reference: pd.DataFrame) -> None:
    report = run_drift(churn_model(), reference, churn_frame(400, seed=4), cache=None)
    methods = {name: r.method for name, r in report.columns.items()}
    assert methods["age"] is Method.KS and methods["contract"] is Method.CHI2
    assert all(r.p_value is not None and r.score == r.p_value for r in report.columns.values())
    evidently = run_drift(
        churn_model(),
        reference,
        churn_frame(400, seed=4),
        options=DriftOptions(profile=Profile.EVIDENTLY),
        cache=None,
    )
    # Evidently looks at the reference only: 8000 rows -> distances even for 400 current rows.
    assert evidently.columns["age"].method is Method.WASSERSTEIN
    assert evidently.columns["contract"].method is Method.JENSEN_SHANNON


def test_threshold_boundaries() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=5000)})
    cur = pd.DataFrame({"x": rng.normal(size=5000) + 0.3})
    score = drift_frames(ref, cur).columns["x"].score
    assert score is not None
    at = drift_frames(
        ref, cur, options=DriftOptions(columns={"x": ColumnOverride(threshold=score)})
    )
    above = drift_frames(
        ref, cur, options=DriftOptions(columns={"x": ColumnOverride(threshold=score * 1.001)})
    )
    assert at.columns["x"].drifted and not above.columns["x"].drifted


def test_nan_and_inf_are_dropped_and_reported() -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(size=4000)})
    values = rng.normal(size=4000)
    values[:800] = np.nan
    values[800:840] = np.inf
    cur = pd.DataFrame({"x": values})
    report = drift_frames(ref, cur)
    column = report.columns["x"]
    assert column.n_current == 4000 - 840 and not column.drifted
    checks = {f.check: f for f in report.quality.findings}
    assert checks[QualityCheck.MISSING_VALUES].value == pytest.approx(0.2)
    assert checks[QualityCheck.MISSING_VALUES].verdict is Verdict.WARNING
    assert checks[QualityCheck.INVALID_VALUES].value == pytest.approx(0.01)
    quality = report.quality.columns["x"]
    assert quality.missing_rate == pytest.approx(0.2) and quality.reference_missing_rate == 0


def test_type_errors_in_a_numeric_column() -> None:
    ref = pd.DataFrame({"x": np.arange(200, dtype=float)})
    cur = pd.DataFrame({"x": [str(v) for v in range(185)] + ["oops"] * 15}, dtype=object)
    report = drift_frames(ref, cur, kinds={"x": ColumnKind.NUMERIC})
    invalid = [f for f in report.quality.findings if f.check is QualityCheck.INVALID_VALUES]
    assert (
        invalid and invalid[0].verdict is Verdict.BREACH and "15 not numbers" in invalid[0].message
    )


def test_out_of_range_values() -> None:
    ref = pd.DataFrame({"x": np.linspace(0, 100, 3000)})
    cur = pd.DataFrame({"x": np.concatenate([np.linspace(0, 100, 2700), np.full(300, 150.0)])})
    report = drift_frames(ref, cur)
    finding = next(f for f in report.quality.findings if f.check is QualityCheck.OUT_OF_RANGE)
    assert finding.value == pytest.approx(0.1) and finding.verdict is Verdict.WARNING
    # A model that tolerates less says so in its configuration: the same 10% is a breach.
    strict = DriftConfig.model_validate(
        {"quality": {"out_of_range": {"warning": 0.01, "breach": 0.05}}}
    )
    report = drift_frames(ref, cur, options=drift_options(strict))
    finding = next(f for f in report.quality.findings if f.check is QualityCheck.OUT_OF_RANGE)
    assert finding.verdict is Verdict.BREACH


@pytest.mark.parametrize(
    ("ref", "cur", "note"),
    [
        (np.full(500, 3.0), np.full(500, 3.0), "constant column"),
        (np.arange(500.0), np.array([], dtype=float), "no valid values in the current window"),
        (np.arange(500.0), np.arange(12.0), "not enough data: 12 valid values"),
        (np.arange(500.0), np.full(500, np.nan), "no valid values"),
    ],
)
def test_untestable_columns_say_not_enough_data(
    ref: np.ndarray, cur: np.ndarray, note: str
) -> None:
    report = drift_frames(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}))
    column = report.columns["x"]
    assert column.status is ColumnStatus.NOT_ENOUGH_DATA and not column.drifted
    assert note in (column.note or "")
    assert report.verdict is Verdict.NO_DATA and not report.dataset_drift
    assert json.loads(json.dumps(report.to_json()))["columns"]["x"]["score"] is None


def test_constant_categorical_and_reference_constant_numeric() -> None:
    same = drift_frames(pd.DataFrame({"c": ["a"] * 300}), pd.DataFrame({"c": ["a"] * 300}))
    assert same.columns["c"].status is ColumnStatus.NOT_ENOUGH_DATA
    moved = drift_frames(
        pd.DataFrame({"x": np.zeros(2000)}), pd.DataFrame({"x": np.arange(2000.0)})
    )
    assert moved.columns["x"].drifted and "reference is constant" in (moved.columns["x"].note or "")


def test_untested_columns_do_not_dilute_the_share() -> None:
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.normal(size=3000), "c": np.ones(3000)})
    cur = pd.DataFrame(
        {"a": rng.normal(size=3000) + 1, "b": rng.normal(size=3000), "c": np.ones(3000)}
    )
    report = drift_frames(ref, cur)
    assert report.tested_count == 2 and report.drifted_count == 1
    assert report.share_drifted == 0.5 and report.dataset_drift
    assert "1 not tested" in report.headline


def test_missing_columns(reference: pd.DataFrame) -> None:
    current = churn_frame(2000, seed=5).drop(columns=["plan"])
    report = run_drift(churn_model(), reference, current, cache=None)
    assert report.columns["plan"].status is ColumnStatus.NOT_ENOUGH_DATA
    finding = next(f for f in report.quality.findings if f.column == "plan")
    assert finding.check is QualityCheck.MISSING_COLUMN and finding.verdict is Verdict.BREACH


def test_numeric_with_few_values_is_treated_as_discrete() -> None:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"k": rng.integers(0, 4, 5000)})
    cur = pd.DataFrame({"k": rng.integers(0, 4, 5000)})
    big = drift_frames(ref, cur).columns["k"]
    small = drift_frames(ref, cur.head(300)).columns["k"]
    assert big.method is Method.JENSEN_SHANNON and small.method is Method.CHI2
    assert big.distribution is not None and big.distribution.labels == ("0", "1", "2", "3")


def test_method_overrides_and_invalid_override_fall_back() -> None:
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"x": rng.normal(size=3000), "c": rng.choice(list("abc"), 3000)})
    cur = pd.DataFrame({"x": rng.normal(size=3000), "c": rng.choice(list("abc"), 3000)})
    options = DriftOptions(
        columns={"x": ColumnOverride(Method.PSI, 0.2), "c": ColumnOverride(Method.KS)}
    )
    report = drift_frames(ref, cur, options=options)
    assert report.columns["x"].method is Method.PSI and report.columns["x"].threshold == 0.2
    assert report.columns["c"].method is Method.JENSEN_SHANNON
    assert "needs numbers" in (report.columns["c"].note or "")
    for method in (Method.KS, Method.JENSEN_SHANNON, Method.CHI2, Method.PEARSON_CHI2):
        result = drift_frames(
            ref, cur, options=DriftOptions(columns={"x": ColumnOverride(method)})
        ).columns["x"]
        assert result.method is method and not result.drifted, method


def test_options_from_model_config() -> None:
    config = DriftConfig.model_validate(
        {
            "share_threshold": 0.3,
            "small_sample_rows": 500,
            "min_rows": 100,
            "columns": {"age": {"method": "ks", "threshold": 0.01}},
        }
    )
    options = drift_options(config)
    assert options.share_threshold == 0.3 and options.small_sample_rows == 500
    assert options.min_rows == 100
    assert options.override("age") == ColumnOverride(Method.KS, 0.01)
    assert options.override("plan") == ColumnOverride()
    # The configuration's default quality levels are the engine's own defaults.
    assert options.quality == QualityThresholds()


def test_profile_cache_reuses_the_reference(reference: pd.DataFrame) -> None:
    cache = ProfileCache(max_entries=2)
    model = churn_model()
    first = run_drift(model, reference, churn_frame(1500, seed=6), cache=cache)
    second = run_drift(model, reference, churn_frame(1500, seed=7), cache=cache)
    assert cache.misses == 1 and cache.hits == 1 and len(cache) == 1
    assert first.columns.keys() == second.columns.keys()
    changed = reference.assign(age=reference["age"] + 1)
    run_drift(model, changed, churn_frame(1500, seed=6), cache=cache)
    assert cache.misses == 2
    run_drift(model, reference, churn_frame(1500, seed=6), cache=cache, reference_key="ref-v1")
    assert cache.misses == 3 and len(cache) == 2  # LRU bound


def test_profile_cache_is_bounded_by_bytes_and_keeps_the_newest(reference: pd.DataFrame) -> None:
    """A fleet's many small profiles all stay (a count bound of 16 evicted each before its
    model's next run); the byte budget evicts the least recently used, never the newest."""
    model = churn_model()
    size = (
        ProfileCache()
        .get_or_build("m", "k", {"age": ColumnKind.NUMERIC}, lambda: _profile_of(reference))
        .nbytes
    )
    assert size >= reference["age"].notna().sum() * 8
    cache = ProfileCache(max_bytes=int(size * 2.5))
    for key in ("v1", "v2", "v3"):
        cache.get_or_build(
            model.name, key, {"age": ColumnKind.NUMERIC}, lambda: _profile_of(reference)
        )
    assert len(cache) == 2 and cache.nbytes == 2 * size  # v1 evicted
    cache.get_or_build(
        model.name, "v2", {"age": ColumnKind.NUMERIC}, lambda: _profile_of(reference)
    )
    assert cache.hits == 1
    tiny = ProfileCache(max_bytes=1)
    tiny.get_or_build(model.name, "v1", {"age": ColumnKind.NUMERIC}, lambda: _profile_of(reference))
    assert len(tiny) == 1  # over budget on its own, still kept for the next run
    fleet = ProfileCache()
    for i in range(50):
        fleet.get_or_build(
            f"m{i}", "v", {"age": ColumnKind.NUMERIC}, lambda: _profile_of(reference)
        )
    assert len(fleet) == 50


def _profile_of(reference: pd.DataFrame) -> Any:
    from engine.profile import build_profile

    return build_profile(reference, {"age": ColumnKind.NUMERIC}, fingerprint="x", max_workers=1)


def test_json_schema(reference: pd.DataFrame) -> None:
    report = run_drift(
        churn_model(), reference, churn_frame(2000, seed=8, drifted=True), cache=None
    )
    payload = json.loads(json.dumps(report.to_json()))
    assert set(payload) == {"dataset_drift", "drifted_count", "share_drifted", "columns"}
    assert payload["drifted_count"] == report.drifted_count
    for column in payload["columns"].values():
        assert set(column) == {"method", "score", "threshold", "p_value", "drifted", "note"}


def test_pyarrow_table_input_equals_pandas(reference: pd.DataFrame) -> None:
    current = churn_frame(2500, seed=9, drifted=True)
    from_pandas = drift_frames(reference, current)
    from_arrow = drift_frames(pa.Table.from_pandas(reference), pa.Table.from_pandas(current))
    for name, result in from_pandas.columns.items():
        assert from_arrow.columns[name].score == pytest.approx(result.score), name
        assert from_arrow.columns[name].drifted == result.drifted


def test_evidently_profile_definitions() -> None:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame(
        {
            "c": rng.choice(list("abcd"), 5000, p=[0.4, 0.3, 0.2, 0.1]),
            "b": rng.choice(["y", "n"], 5000),
        }
    )
    cur = pd.DataFrame(
        {
            "c": rng.choice(list("abcd"), 5000, p=[0.3, 0.3, 0.2, 0.2]),
            "b": rng.choice(["y", "n"], 5000),
        }
    )
    ours = drift_frames(ref, cur).columns["c"]
    theirs = drift_frames(ref, cur, options=DriftOptions(profile=Profile.EVIDENTLY)).columns["c"]
    # Same distance, different log base: natural-log JS = base-2 JS * sqrt(ln 2).
    assert theirs.score == pytest.approx(ours.score * np.sqrt(np.log(2)))
    small = drift_frames(
        ref.head(500), cur.head(500), options=DriftOptions(profile=Profile.EVIDENTLY)
    )
    assert (
        small.columns["c"].method is Method.PEARSON_CHI2 and small.columns["b"].method is Method.Z
    )


# --------------------------------------------------------------------------- chunked windows


def test_chunked_summary_matches_in_memory(tmp_path, reference: pd.DataFrame) -> None:
    current = churn_frame(20_000, seed=10, drifted=True, missing_rate=0.05)
    path = tmp_path / "current.parquet"
    pq.write_table(pa.Table.from_pandas(current), path, row_group_size=3000)
    names = NUMERIC + CATEGORICAL
    profile = build_profile(reference, infer_kinds(reference, names))
    for method in (Method.AUTO, Method.KS, Method.PSI):
        options = DriftOptions(columns={n: ColumnOverride(method) for n in NUMERIC})
        exact = drift_frames(reference, current, columns=names, options=options)
        summary = summarize(iter_parquet(path, names, batch_rows=2500), profile, names)
        approx = drift_from_summary(profile, summary, names, options=options)
        assert not approx.exact
        for name in names:
            a, b = exact.columns[name], approx.columns[name]
            assert a.method == b.method and a.drifted == b.drifted, (method, name)
            if (
                b.method is Method.PSI
                or a.kind is ColumnKind.CATEGORICAL
                or (name == "support_calls" and method is Method.PSI)
            ):
                assert b.score == pytest.approx(a.score, rel=1e-9), (method, name)
            elif a.method is Method.KS:
                assert b.statistic == pytest.approx(a.statistic, abs=2e-3), name
            else:
                assert b.score == pytest.approx(a.score, rel=0.03, abs=2e-3), (method, name)
        assert {f.check for f in approx.quality.findings} == {
            f.check for f in exact.quality.findings
        }


def test_summaries_merge_like_one_pass(reference: pd.DataFrame) -> None:
    profile = build_profile(reference, {"age": ColumnKind.NUMERIC, "plan": ColumnKind.CATEGORICAL})
    current = churn_frame(6000, seed=11)
    whole = summarize([current], profile, ["age", "plan"])
    halves = summarize([current.iloc[:2500]], profile, ["age", "plan"]).merge(
        summarize([current.iloc[2500:]], profile, ["age", "plan"])
    )
    a, b = whole.columns["age"], halves.columns["age"]
    assert isinstance(a, NumericSummary) and isinstance(b, NumericSummary)
    assert np.array_equal(a.counts, b.counts) and a.small_values == b.small_values
    assert whole.columns["plan"].counts == halves.columns["plan"].counts  # type: ignore[union-attr]
    assert halves.n_rows == 6000


def test_chunked_memory_does_not_grow_with_rows(reference: pd.DataFrame) -> None:
    profile = build_profile(
        reference, {"monthly_charges": ColumnKind.NUMERIC, "region": ColumnKind.CATEGORICAL}
    )
    chunk = churn_frame(2000, seed=12)
    few = summarize([chunk] * 2, profile, ["monthly_charges", "region"])
    many = summarize([chunk] * 40, profile, ["monthly_charges", "region"])
    a, b = few.columns["monthly_charges"], many.columns["monthly_charges"]
    assert isinstance(a, NumericSummary) and isinstance(b, NumericSummary)
    assert a.counts.nbytes == b.counts.nbytes and b.small_values is None
    assert len(many.columns["region"].counts) == 5  # type: ignore[union-attr]
    assert many.n_rows == 80_000
