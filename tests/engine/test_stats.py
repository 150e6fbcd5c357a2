"""Each statistic against scipy's reference implementation or a hand-computed value."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from scipy.spatial import distance

from engine import stats

finite_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(finite_floats, min_size=1, max_size=60)
# Few distinct values: exercises ties inside and across the samples.
tied = st.lists(st.integers(min_value=-3, max_value=3).map(float), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(a=st.one_of(samples, tied), b=st.one_of(samples, tied))
def test_one_merge_gives_scipy_ks_and_wasserstein(a: list[float], b: list[float]) -> None:
    ref, cur = np.sort(a), np.sort(b)
    result = stats.compare_sorted(ref, cur)
    with np.errstate(all="ignore"):  # scipy's asymptotic p-value divides by zero for 1-row samples
        expected_ks = sps.ks_2samp(ref, cur, method="asymp").statistic
    assert result.ks == pytest.approx(expected_ks, abs=1e-12)
    assert result.wasserstein == pytest.approx(
        sps.wasserstein_distance(ref, cur), rel=1e-9, abs=1e-6
    )


@settings(max_examples=300, deadline=None)
@given(a=st.one_of(samples, tied), b=st.one_of(samples, tied))
def test_quantile_function_wasserstein_is_scipys(a: list[float], b: list[float]) -> None:
    ref, cur = np.sort(a), np.sort(b)
    assert stats.wasserstein_sorted(ref, cur) == pytest.approx(
        sps.wasserstein_distance(ref, cur), rel=1e-9, abs=1e-6
    )


@pytest.mark.parametrize(("n", "m"), [(20_000, 7_331), (7_331, 20_000), (9_000, 9_000), (6, 4)])
def test_quantile_function_wasserstein_agrees_with_the_merge(n: int, m: int) -> None:
    rng = np.random.default_rng(n + m)
    ref = np.sort(rng.normal(size=n).round(2))  # rounded: ties within and across the samples
    cur = np.sort(rng.normal(0.2, 1.3, size=m).round(2))
    expected = sps.wasserstein_distance(ref, cur)
    assert stats.wasserstein_sorted(ref, cur) == pytest.approx(expected, rel=1e-12)
    assert stats.compare_sorted(ref, cur).wasserstein == pytest.approx(expected, rel=1e-9)


def test_compare_sorted_large_unequal_samples() -> None:
    rng = np.random.default_rng(3)
    ref = np.sort(rng.normal(size=20_000))
    cur = np.sort(rng.normal(0.1, 1.2, size=7_331))
    result = stats.compare_sorted(ref, cur)
    assert result.ks == pytest.approx(sps.ks_2samp(ref, cur).statistic, abs=1e-12)
    assert result.wasserstein == pytest.approx(sps.wasserstein_distance(ref, cur), rel=1e-9)


def test_compare_sorted_hand_computed() -> None:
    # CDFs of {0, 1} and {1, 2}: gap 0.5 on [0, 2) -> KS 0.5, W1 = 0.5 * 2 = 1.
    result = stats.compare_sorted(np.array([0.0, 1.0]), np.array([1.0, 2.0]))
    assert result.ks == 0.5
    assert result.wasserstein == 1.0


def test_compare_sorted_rejects_empty() -> None:
    with pytest.raises(ValueError):
        stats.compare_sorted(np.array([]), np.array([1.0]))
    with pytest.raises(ValueError):
        stats.wasserstein_sorted(np.array([1.0]), np.array([]))


@pytest.mark.parametrize(
    ("n", "m", "shift"),
    [(300, 200, 0.0), (300, 200, 0.25), (20_000, 500, 0.12), (12_000, 15_000, 0.03)],
)
def test_ks_pvalue_matches_scipy_verdict(n: int, m: int, shift: float) -> None:
    rng = np.random.default_rng(n + m)
    ref, cur = np.sort(rng.normal(size=n)), np.sort(rng.normal(shift, 1, size=m))
    d = stats.compare_sorted(ref, cur).ks
    p, exact = stats.ks_pvalue(d, n, m, alpha=0.05, reference=ref, current=cur)
    auto = sps.ks_2samp(ref, cur, method="auto").pvalue
    assert (p <= 0.05) == (auto <= 0.05)
    if exact:
        assert p == pytest.approx(auto, rel=1e-9)
    else:
        assert p == pytest.approx(sps.ks_2samp(ref, cur, method="asymp").pvalue, rel=1e-9)


def test_ks_pvalue_goes_exact_only_near_alpha() -> None:
    rng = np.random.default_rng(11)
    ref = np.sort(rng.normal(size=400))
    far = np.sort(rng.normal(2.0, 1, size=400))
    p_far, exact_far = stats.ks_pvalue(
        stats.compare_sorted(ref, far).ks, 400, 400, alpha=0.05, reference=ref, current=far
    )
    assert p_far < 1e-10 and not exact_far
    # A statistic whose asymptotic p-value sits right at alpha is recomputed exactly.
    d_near = float(sps.kstwo.isf(0.05, 200))
    _p_near, exact_near = stats.ks_pvalue(d_near, 400, 400, alpha=0.05, reference=ref, current=ref)
    assert exact_near


def test_normalized_wasserstein_floor() -> None:
    assert stats.normalized_wasserstein(0.5, 2.0) == 0.25
    assert stats.normalized_wasserstein(0.002, 0.0) == pytest.approx(2.0)


@settings(max_examples=100, deadline=None)
@given(
    p=st.lists(st.integers(min_value=0, max_value=500), min_size=2, max_size=12),
    q=st.lists(st.integers(min_value=0, max_value=500), min_size=2, max_size=12),
)
def test_jensen_shannon_matches_scipy(p: list[int], q: list[int]) -> None:
    size = min(len(p), len(q))
    ref, cur = np.array(p[:size]), np.array(q[:size])
    if ref.sum() == 0 or cur.sum() == 0:
        return
    expected = distance.jensenshannon(ref / ref.sum(), cur / cur.sum(), base=2)
    assert stats.jensen_shannon(ref, cur) == pytest.approx(expected, abs=1e-12)
    assert 0.0 <= stats.jensen_shannon(ref, cur) <= 1.0 + 1e-12
    natural = distance.jensenshannon(ref / ref.sum(), cur / cur.sum())
    assert stats.jensen_shannon(ref, cur, base=None) == pytest.approx(natural, abs=1e-12)


def test_jensen_shannon_disjoint_is_one_in_base_two() -> None:
    assert stats.jensen_shannon(np.array([10, 0]), np.array([0, 5])) == pytest.approx(1.0)


def test_chi2_contingency_matches_scipy() -> None:
    ref, cur = np.array([120, 80, 40, 10]), np.array([30, 35, 20, 15])
    statistic, p = stats.chi2_contingency_test(ref, cur)
    expected = sps.chi2_contingency(np.vstack([ref, cur]))
    assert statistic == pytest.approx(expected.statistic)
    assert p == pytest.approx(expected.pvalue)


def test_chi2_contingency_drops_empty_categories_and_handles_one_category() -> None:
    _statistic, p = stats.chi2_contingency_test(np.array([5, 0, 7]), np.array([3, 0, 9]))
    expected = sps.chi2_contingency(np.array([[5, 7], [3, 9]]))
    assert p == pytest.approx(expected.pvalue)
    assert stats.chi2_contingency_test(np.array([10]), np.array([3])) == (0.0, 1.0)


def test_pearson_chi2_matches_scipy_chisquare() -> None:
    ref, cur = np.array([500, 300, 200]), np.array([40, 40, 20])
    statistic, p = stats.pearson_chi2_test(ref, cur)
    expected = sps.chisquare(cur, ref * cur.sum() / ref.sum())
    assert statistic == pytest.approx(expected.statistic)
    assert p == pytest.approx(expected.pvalue)


def test_pearson_chi2_unseen_category_is_p_zero() -> None:
    statistic, p = stats.pearson_chi2_test(np.array([50, 50, 0]), np.array([10, 10, 5]))
    assert math.isinf(statistic) and p == 0.0


def test_psi_hand_computed_with_epsilon_floor() -> None:
    ref, cur = np.array([50, 30, 20, 0]), np.array([30, 30, 30, 10])
    r = np.array([0.5, 0.3, 0.2, 1e-4])
    c = np.array([0.3, 0.3, 0.3, 0.1])
    assert stats.psi(ref, cur) == pytest.approx(float(np.sum((c - r) * np.log(c / r))))


def test_evidently_zero_fill() -> None:
    assert list(stats.evidently_zero_fill(np.array([0.5, 0.0, 0.5]))) == [0.5, 1e-4, 0.5]
    filled = stats.evidently_zero_fill(np.array([0.99995, 0.00005, 0.0]))
    assert filled[2] == pytest.approx(0.00005 / 1e6)


def test_z_test_hand_computed() -> None:
    # 40/100 vs 60/100 ones: pooled 0.5, se = sqrt(0.25 * 0.02), z = -0.2 / 0.0707.
    z, p = stats.proportions_z_test(np.array([60, 40]), np.array([40, 60]))
    assert z == pytest.approx(-0.2 / math.sqrt(0.25 * 0.02))
    assert p == pytest.approx(2 * sps.norm.sf(abs(z)))
    assert stats.proportions_z_test(np.array([10, 0]), np.array([7, 0])) == (0.0, 1.0)


def test_counts_in_bins_open_outer_bins() -> None:
    values = np.sort(np.array([-100.0, 0.0, 0.5, 1.0, 1.5, 99.0]))
    counts = stats.counts_in_bins(values, np.array([0.0, 1.0]))
    assert list(counts) == [2, 2, 2]  # (-inf, 0], (0, 1], (1, inf)


def test_quantile_edges_are_order_statistics() -> None:
    values = np.arange(101, dtype=float)
    assert list(stats.quantile_edges(values, 4)) == [25.0, 50.0, 75.0]
    assert list(stats.quantile_edges(np.zeros(10), 10)) == [0.0]


# --------------------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    n=st.integers(min_value=5000, max_value=10000),
)
def test_identical_distributions_stay_below_distance_thresholds(seed: int, n: int) -> None:
    """At >= 5000 rows per window the sampling noise of both distances is ~0.02, far below 0.1
    (at 2000 rows about one draw in fifty reaches 0.1 — small windows are what tests are for)."""
    rng = np.random.default_rng(seed)
    ref, cur = np.sort(rng.normal(5, 2, n)), np.sort(rng.normal(5, 2, n))
    w = stats.normalized_wasserstein(stats.compare_sorted(ref, cur).wasserstein, float(np.std(ref)))
    assert w < 0.1
    cats = np.array([0.4, 0.3, 0.2, 0.1])
    js = stats.jensen_shannon(rng.multinomial(n, cats), rng.multinomial(n, cats))
    assert js < 0.1


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    n=st.integers(min_value=2000, max_value=6000),
    shift=st.floats(min_value=0.3, max_value=3.0),
)
def test_shifted_distributions_cross_thresholds(seed: int, n: int, shift: float) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = np.sort(rng.normal(0, 1, n)), np.sort(rng.normal(shift, 1, n))
    comparison = stats.compare_sorted(ref, cur)
    assert stats.normalized_wasserstein(comparison.wasserstein, float(np.std(ref))) >= 0.1
    p, _ = stats.ks_pvalue(comparison.ks, n, n, alpha=0.05)
    assert p <= 0.05
    moved = stats.jensen_shannon(
        rng.multinomial(n, [0.4, 0.3, 0.2, 0.1]), rng.multinomial(n, [0.1, 0.2, 0.3, 0.4])
    )
    assert moved >= 0.1


def test_sorted_unique_and_union_match_numpy() -> None:
    """The engine's dedupe of sorted arrays (no ``numpy.ma`` import) against ``np.unique`` and
    ``np.union1d``, ties, signed zeros and empty arrays included."""
    from engine.stats import sorted_union, sorted_unique

    rng = np.random.default_rng(7)
    for _ in range(300):
        a = np.sort(rng.integers(-3, 4, size=rng.integers(0, 12)).astype(float))
        b = np.sort(rng.choice([-0.0, 0.0, 1.5, 2.0, -1.0], size=rng.integers(0, 6)))
        assert np.array_equal(sorted_unique(a), np.unique(a))
        assert np.array_equal(sorted_union(a, b), np.union1d(a, b))
