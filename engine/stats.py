"""Two-sample statistics on numpy arrays: the arithmetic under every drift verdict.

Everything here is pure and vectorized. Numeric columns arrive *sorted and finite* (the caller
sorts each sample once and caches the reference), categorical columns arrive as aligned count
vectors (factorize + bincount upstream), so each statistic is one or two linear passes.

The definitions follow scipy's reference implementations, which the tests check against:
``scipy.stats.ks_2samp``, ``scipy.stats.wasserstein_distance``,
``scipy.spatial.distance.jensenshannon``, ``scipy.stats.chi2_contingency`` and
``scipy.stats.chisquare``.
"""

from __future__ import annotations

import math
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from engine.lazy import LazyModule

# Imported where a p-value needs them: the distances (Wasserstein, Jensen–Shannon, PSI) are
# numpy only, so a large-window run never pays scipy.stats' half-second import.
stats = LazyModule("scipy.stats")
special = LazyModule("scipy.special")

#: scipy's ``ks_2samp(method="auto")`` is exact up to this many rows per sample.
KS_EXACT_MAX_N = 10_000

#: Empty bins get this share before a log ratio (PSI); the usual choice in credit-risk PSI.
PSI_EPSILON = 1e-4


@dataclass(frozen=True)
class SortedComparison:
    """Both empirical CDFs compared in one merge of the two sorted samples."""

    ks: float
    """Kolmogorov–Smirnov statistic: the largest vertical gap between the two CDFs."""
    wasserstein: float
    """First Wasserstein distance (area between the CDFs), in the column's units."""


def compare_sorted(reference: np.ndarray, current: np.ndarray) -> SortedComparison:
    """Exact KS statistic and exact W1 distance from one merge of two sorted float arrays.

    The current sample is placed into the reference with one ``searchsorted`` (ties go after
    equal reference values), which yields the merged order without re-sorting. Walking the
    merged values once gives both CDFs: KS is the largest gap at the end of each run of equal
    values, W1 the gap integrated over the spacing between consecutive values.
    """
    n, m = len(reference), len(current)
    if n == 0 or m == 0:
        raise ValueError("both samples must be non-empty")
    total = n + m
    work = _workspace()
    # Number of reference values <= each current value; current value j lands at ref_le[j] + j.
    ref_le = np.searchsorted(reference, current, side="right")
    # Reference value i lands after the current values that sort strictly before it.
    cur_before_ref = np.bincount(ref_le, minlength=n + 1)[:n]
    np.cumsum(cur_before_ref, out=cur_before_ref)
    merged = work.floats("merged", total)
    gap = work.floats("gap", total)  # F_ref - F_cur just after each merged element
    side = work.floats("side", max(n, m))
    position = work.ints("position", max(n, m))

    cur_gap = np.multiply(ref_le, 1.0 / n, out=side[:m])
    cur_gap -= _cdf_steps(m)
    cur_pos = np.add(ref_le, _arange(m), out=position[:m])
    merged[cur_pos] = current
    gap[cur_pos] = cur_gap

    ref_gap = np.multiply(cur_before_ref, -1.0 / m, out=side[:n])
    ref_gap += _cdf_steps(n)
    ref_pos = np.add(cur_before_ref, _arange(n), out=position[:n])
    merged[ref_pos] = reference
    gap[ref_pos] = ref_gap

    np.abs(gap, out=gap)
    steps = np.subtract(merged[1:], merged[:-1], out=work.floats("steps", total - 1))
    wasserstein = weighted_sum(gap[:-1], steps)
    if np.count_nonzero(steps) == len(steps):
        ks = float(gap.max())
    else:
        # Inside a run of ties the CDFs are not complete yet: only the end of each run counts.
        ks = float(max(np.where(steps != 0, gap[:-1], 0.0).max(initial=0.0), gap[-1]))
    return SortedComparison(ks=min(ks, 1.0), wasserstein=wasserstein)


def weighted_sum(weights: np.ndarray, values: np.ndarray) -> float:
    """Σ weights · values without BLAS: ``np.dot`` goes to OpenBLAS, whose own threads fight
    the engine's column threads for the cores (10x slower on a busy 2-core machine)."""
    return float(np.einsum("i,i->", weights, values))


def wasserstein_sorted(reference: np.ndarray, current: np.ndarray) -> float:
    """Exact W1 distance of two sorted float arrays, from their quantile functions.

    W1 = ∫₀¹ |Q_ref(u) − Q_cur(u)| du, and both quantile functions are step functions that
    change only at u = i/n and u = j/m. Where each step lies in the other sample's steps is
    integer arithmetic (no search and no merge), so the cost is a few linear passes over
    monotone indices: about a third of a merge for a million rows. Equal sizes reduce to
    mean |a_i − b_i|. This gives ``scipy.stats.wasserstein_distance`` exactly, ties included.
    """
    n, m = len(reference), len(current)
    if n == 0 or m == 0:
        raise ValueError("both samples must be non-empty")
    if n == m:
        return float(np.mean(np.abs(reference - current)))
    # In units of 1/(n·m): reference steps end at i·m (i = 1..n), current steps at j·n.
    # The interval ending at a reference step i reads current value ceil(i·m/n) − 1 and starts
    # at the later of the previous reference step and the last current step before it
    # (a tie puts the reference step first, so one of two equal steps has zero width).
    ends = _arange_from_one(n) * m
    partner = (ends - 1) // n
    widths = (ends - np.maximum(ends - m, partner * n)).astype(np.float64)
    total = weighted_sum(widths, np.abs(reference - current[partner]))
    # Likewise for a current step j: reference value ceil(j·n/m) − 1, starting at the later of
    # the previous current step and the last reference step at or before it.
    ends = _arange_from_one(m) * n
    partner = (ends + m - 1) // m - 1
    widths = (ends - np.maximum(ends - n, (ends // m) * m)).astype(np.float64)
    total += weighted_sum(widths, np.abs(reference[partner] - current))
    return total / (n * m)


class _Workspace(threading.local):
    """Per-thread scratch arrays reused from column to column.

    A merge of two million-row samples needs ~100 MB of temporaries; allocating them afresh per
    column means page-faulting every page again (on a VM, about as slow as the arithmetic).
    Each worker thread keeps its own buffers, grown when a larger column comes along.
    """

    def __init__(self) -> None:
        self.buffers: dict[str, np.ndarray] = {}

    def _get(self, name: str, size: int, dtype: type) -> np.ndarray:
        buffer = self.buffers.get(name)
        if buffer is None or len(buffer) < size:
            buffer = np.empty(max(size, 1), dtype=dtype)
            self.buffers[name] = buffer
        return buffer[:size]

    def floats(self, name: str, size: int) -> np.ndarray:
        return self._get(name, size, np.float64)

    def ints(self, name: str, size: int) -> np.ndarray:
        return self._get(name, size, np.int64)


_WORKSPACE = _Workspace()


def _workspace() -> _Workspace:
    return _WORKSPACE


@lru_cache(maxsize=8)
def _arange(n: int) -> np.ndarray:
    """0..n-1, cached read-only: many columns share a length, and allocating (page-faulting)
    fresh index arrays is a visible share of a merge."""
    values = np.arange(n, dtype=np.int64)
    values.flags.writeable = False
    return values


@lru_cache(maxsize=8)
def _arange_from_one(n: int) -> np.ndarray:
    """1..n as int64, cached read-only (see ``_arange``)."""
    values = np.arange(1, n + 1, dtype=np.int64)
    values.flags.writeable = False
    return values


@lru_cache(maxsize=8)
def _cdf_steps(n: int) -> np.ndarray:
    """(1..n)/n, the empirical CDF after each of n sorted values, cached read-only."""
    values = np.arange(1, n + 1, dtype=np.float64) / n
    values.flags.writeable = False
    return values


def ks_pvalue(
    statistic: float,
    n: int,
    m: int,
    *,
    alpha: float,
    reference: np.ndarray | None = None,
    current: np.ndarray | None = None,
    band: float = 4.0,
) -> tuple[float, bool]:
    """Two-sided KS p-value: asymptotic, exact only where it could change the verdict.

    The asymptotic value is scipy's ``method="asymp"`` (``kstwo.sf(D, round(n*m/(n+m)))``). When
    it lies within a factor ``band`` of ``alpha`` and both samples are small enough for scipy's
    exact computation (<= 10 000 rows, scipy's own limit for ``method="auto"``), the exact
    p-value replaces it, so the verdict equals ``ks_2samp(method="auto")`` while the expensive
    exact path runs only for the few columns near the threshold. Returns ``(p, exact)``.
    """
    big, small = max(n, m), min(n, m)
    en = big * small / (big + small)
    with np.errstate(all="ignore"):  # kstwo divides by zero at D = 0 (p = 1) on the way
        p = float(np.clip(stats.kstwo.sf(statistic, np.round(en)), 0.0, 1.0))
    near = alpha / band <= p <= alpha * band
    if near and big <= KS_EXACT_MAX_N and reference is not None and current is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            exact = stats.ks_2samp(reference, current, method="exact")
        return float(exact.pvalue), True
    return p, False


def normalized_wasserstein(w1: float, reference_std: float, floor: float = 1e-3) -> float:
    """W1 divided by the reference standard deviation (population, ddof=0), floored at 0.001.

    The normalization makes one threshold (0.1) meaningful for every column whatever its units;
    the floor keeps near-constant references from dividing by zero. Same definition as
    Evidently's ``wasserstein`` test and Azure ML's "normalized Wasserstein distance".
    """
    return w1 / max(reference_std, floor)


def shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.zeros(len(counts), dtype=np.float64)


def jensen_shannon(
    reference_counts: np.ndarray, current_counts: np.ndarray, base: float | None = 2.0
) -> float:
    """Jensen–Shannon *distance* (square root of the divergence) between two count vectors.

    Base 2 keeps it in [0, 1] (0 identical, 1 disjoint supports). ``base=None`` is the natural
    log (scipy's default, used by Evidently), whose range is [0, sqrt(ln 2)] ≈ [0, 0.833].
    """
    p, q = shares(reference_counts.astype(np.float64)), shares(current_counts.astype(np.float64))
    if not p.any() or not q.any():
        return 0.0  # an empty window: scipy gives NaN, which reads as "no distance"
    # scipy.spatial.distance.jensenshannon: sqrt((KL(p||m) + KL(q||m)) / 2), m the midpoint;
    # 0 · log 0 is 0, and m > 0 wherever p or q is, so no term is infinite.
    m = (p + q) / 2.0
    divergence = _relative_entropy(p, m) + _relative_entropy(q, m)
    if base is not None:
        divergence /= math.log(base)
    return math.sqrt(max(divergence / 2.0, 0.0))


def _relative_entropy(p: np.ndarray, m: np.ndarray) -> float:
    present = p > 0
    return float(np.sum(p[present] * np.log(p[present] / m[present])))


def psi(
    reference_counts: np.ndarray, current_counts: np.ndarray, epsilon: float = PSI_EPSILON
) -> float:
    """Population stability index Σ (c − r) · ln(c / r) over bins, empty bins floored at epsilon."""
    r = np.maximum(shares(reference_counts.astype(np.float64)), epsilon)
    c = np.maximum(shares(current_counts.astype(np.float64)), epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def chi2_contingency_test(
    reference_counts: np.ndarray, current_counts: np.ndarray
) -> tuple[float, float]:
    """Chi-squared test of homogeneity on the 2 x K table (reference, current) x categories.

    Both samples are treated as samples (``scipy.stats.chi2_contingency``), unlike the
    goodness-of-fit form that takes reference shares as exact truth and so over-alarms when the
    reference is small. Categories empty in both rows are dropped. Yates' continuity correction
    applies only to a 2 x 2 table (scipy's default). Returns ``(statistic, p_value)``.
    """
    table = np.vstack([reference_counts, current_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    result = stats.chi2_contingency(table)
    return float(result.statistic), float(result.pvalue)


def pearson_chi2_test(
    reference_counts: np.ndarray, current_counts: np.ndarray
) -> tuple[float, float]:
    """Pearson's goodness-of-fit chi-squared: current counts against reference shares x n_cur.

    This is ``scipy.stats.chisquare`` (Evidently's ``chisquare`` test). A category present in
    the current window but absent from the reference has an expected count of zero, which makes
    the statistic infinite and the p-value 0 — reported as such rather than as an error.
    """
    ref = reference_counts.astype(np.float64)
    cur = current_counts.astype(np.float64)
    keep = (ref + cur) > 0
    ref, cur = ref[keep], cur[keep]
    if len(ref) < 2:
        return 0.0, 1.0
    expected = ref * (cur.sum() / ref.sum())
    if ((expected == 0) & (cur > 0)).any():
        return math.inf, 0.0
    result = stats.chisquare(cur, expected)
    return float(result.statistic), float(result.pvalue)


def proportions_z_test(
    reference_counts: np.ndarray, current_counts: np.ndarray
) -> tuple[float, float]:
    """Two-proportion z-test for a binary column (pooled variance, two-sided normal p-value).

    Evidently's ``z`` test for binary columns of small samples; the first category (in the
    caller's order) is the "0" outcome. Returns ``(z, p_value)``; identical constant samples
    give ``(0, 1)``.
    """
    n1, n2 = float(reference_counts.sum()), float(current_counts.sum())
    p1 = 1.0 - reference_counts[0] / n1
    p2 = 1.0 - current_counts[0] / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2)
    if variance <= 0:
        return 0.0, 1.0
    z = (p1 - p2) / math.sqrt(variance)
    return z, float(2 * (1 - special.ndtr(abs(z))))


def counts_in_bins(sorted_values: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    """Counts of a sorted sample in the bins (-inf, e0], (e0, e1], ..., (e_last, +inf).

    ``len(inner_edges) + 1`` bins, the outer two open so nothing falls outside. One
    ``searchsorted`` of the edges into the sorted sample: O(bins · log n).
    """
    cuts = np.searchsorted(sorted_values, inner_edges, side="right")
    return np.diff(np.concatenate(([0], cuts, [len(sorted_values)])))


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values of a nondecreasing array (what ``np.unique`` returns for it).

    ``np.unique`` sorts again and imports ``numpy.ma`` on first use (a few hundredths of a
    second of ``mlops-bot drift``'s start-up); on sorted input one comparison pass is enough."""
    if len(values) < 2:
        return values.copy()
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def sorted_union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.union1d`` of two small arrays, without its ``numpy.ma`` import."""
    return sorted_unique(np.sort(np.concatenate((a, b))))


def quantile_edges(sorted_values: np.ndarray, n_bins: int) -> np.ndarray:
    """Inner edges of ``n_bins`` equal-mass bins of a sorted sample, duplicates removed.

    The edges are order statistics (``numpy.quantile(method="lower")``), so the same edges come
    out whether the sample is in memory or was summarized in chunks.
    """
    if len(sorted_values) == 0 or n_bins < 2:
        return np.empty(0, dtype=np.float64)
    levels = np.arange(1, n_bins) / n_bins
    index = np.floor(levels * (len(sorted_values) - 1)).astype(np.int64)
    return sorted_unique(sorted_values[index])


def evidently_zero_fill(values: np.ndarray) -> np.ndarray:
    """Evidently's ``feel_zeroes``: empty bins get 1e-4, or a millionth of the smallest
    non-empty share when that is already <= 1e-4 (``get_binned_data``)."""
    filled = values.astype(np.float64).copy()
    nonzero = filled[filled != 0]
    if len(nonzero) == 0:
        return filled
    smallest = nonzero.min()
    filled[filled == 0] = smallest / 10**6 if smallest <= 1e-4 else 1e-4
    return filled


def psi_evidently(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """PSI with Evidently's zero filling (for the ``evidently`` profile)."""
    r = evidently_zero_fill(shares(reference_counts.astype(np.float64)))
    c = evidently_zero_fill(shares(current_counts.astype(np.float64)))
    return float(np.sum((r - c) * np.log(r / c)))
