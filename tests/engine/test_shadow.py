"""The shadow comparison: agreement, confusion, PSI, latency and accuracy on the same requests,
and the verdict the approval card and the Approve gate read from it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from core.promotion.evidence import judged, waiting_for, worse_lines
from engine.shadow import LatencySummary, ShadowComparison, compare_shadow, latency_summary
from infra.settings import RolloutPolicy, ShadowPolicy


def frames(
    n: int = 400, flip: float = 0.1, seed: int = 0, slow: float = 1.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Serving answers n requests; the candidate answers the same ids, ``flip`` of them with
    the other label, ``slow`` times the latency."""
    rng = np.random.default_rng(seed)
    ids = [f"c{i}" for i in range(n)]
    label = rng.integers(0, 2, n)
    old = label.copy()
    old[rng.random(n) < 0.2] ^= 1  # serving is 80% right
    new = old.copy()
    flipped = rng.random(n) < flip
    new[flipped] ^= 1
    serving = pd.DataFrame(
        {
            "correlation_id": ids,
            "request_id": ids,
            "prediction": old,
            "score": rng.random(n),
            "label": label,
            "latency_ms": rng.uniform(5, 15, n),
            "error": False,
        }
    )
    candidate = serving.assign(
        prediction=new, score=rng.random(n), latency_ms=serving["latency_ms"] * slow
    )
    return serving, candidate


def test_agreement_confusion_and_accuracy_are_on_the_same_requests() -> None:
    serving, candidate = frames(flip=0.1)
    result = compare_shadow(serving, candidate)
    assert result.paired == result.candidate_requests == 400
    agree = float((serving["prediction"] == candidate["prediction"]).mean())
    assert result.agreement == pytest.approx(agree)
    assert 0.85 < result.agreement < 0.95
    confusion = result.confusion
    assert sum(sum(row.values()) for row in confusion.values()) == 400
    same = sum(confusion[k].get(k, 0) for k in confusion)
    assert same == round(agree * 400)
    truth = serving["label"]
    assert result.serving_accuracy == pytest.approx(float((serving["prediction"] == truth).mean()))
    assert result.candidate_accuracy == pytest.approx(
        float((candidate["prediction"] == truth).mean())
    )
    assert result.labelled == 400


def test_only_paired_requests_count_and_unlabelled_ones_give_no_accuracy() -> None:
    serving, candidate = frames(n=200)
    candidate = candidate.iloc[:50]  # 25% mirrored
    serving = serving.assign(label=None)
    result = compare_shadow(serving, candidate.assign(label=None))
    assert (result.paired, result.candidate_requests, result.serving_requests) == (50, 50, 200)
    assert result.labelled == 0 and result.candidate_accuracy is None


def test_identical_versions_agree_fully_and_do_not_shift() -> None:
    serving, _ = frames()
    result = compare_shadow(serving, serving.copy())
    assert result.agreement == 1.0
    assert result.psi == pytest.approx(0.0, abs=1e-9)
    assert worse_lines(result) == []


def test_a_shifted_score_distribution_has_a_large_psi() -> None:
    serving, candidate = frames()
    shifted = candidate.assign(score=np.clip(candidate["score"] + 0.5, 0, 1.5))
    assert compare_shadow(serving, shifted).psi > 1.0
    assert compare_shadow(serving, candidate).psi < 0.1  # both uniform: noise only


def test_without_a_join_only_distributions_and_latency_are_compared() -> None:
    serving, candidate = frames()
    result = compare_shadow(serving, candidate, joinable=False)
    assert not result.joinable and result.paired == 0
    assert result.agreement is None and result.confusion == {}
    assert result.psi is not None and result.candidate_latency.p99_ms is not None


def test_regression_compares_mean_absolute_difference_and_error() -> None:
    serving, _ = frames()
    serving = serving.assign(prediction=np.linspace(0, 10, 400), label=np.linspace(0, 10, 400))
    candidate = serving.assign(prediction=serving["prediction"] + 0.5)
    result = compare_shadow(
        serving.drop(columns="score"), candidate.drop(columns="score"), task="regression"
    )
    assert result.mean_abs_difference == pytest.approx(0.5)
    assert result.serving_accuracy == pytest.approx(0.0)
    assert result.candidate_accuracy == pytest.approx(0.5)
    assert result.agreement is None
    assert any(line.startswith("MAE") for line in worse_lines(result, "regression"))


def test_latency_is_per_request_and_errors_count() -> None:
    records = pd.DataFrame(
        {
            "request_id": ["a", "a", "b", "c"],
            "latency_ms": [10.0, 10.0, 20.0, 30.0],
            "error": [False, True, False, False],
        }
    )
    summary = latency_summary(records)
    assert summary.requests == 3
    assert summary.p50_ms == pytest.approx(20.0)
    assert summary.error_rate == pytest.approx(1 / 3)


def test_worse_lines_flag_a_slower_less_accurate_candidate() -> None:
    serving, candidate = frames(flip=0.0, slow=3.0)
    truth = serving["label"]
    # the candidate gets 40 more requests wrong than serving
    wrong = candidate.index[candidate["prediction"] == truth][:40]
    candidate.loc[wrong, "prediction"] ^= 1
    worse = worse_lines(compare_shadow(serving, candidate))
    assert any(line.startswith("accuracy") for line in worse)
    assert any(line.startswith("p50 latency") for line in worse)
    assert any(line.startswith("p99 latency") for line in worse)


def test_gates_wait_for_the_minimum_and_the_rollout_limits() -> None:
    policy = ShadowPolicy(mirror="20%", min_requests=500, max_duration=timedelta(hours=2))
    assert policy.mirror == 20
    rollout = RolloutPolicy(max_error_rate=0.02, max_latency_p99_ms=100)
    assert waiting_for(None, policy, rollout) == ["at least 500 mirrored requests (none yet)"]
    few = ShadowComparison(candidate_requests=120)
    assert waiting_for(few, policy, rollout) == ["at least 500 mirrored requests (120 so far)"]
    enough = ShadowComparison(
        candidate_requests=600,
        candidate_latency=LatencySummary(600, 10.0, 250.0, 0.05),
    )
    waiting = waiting_for(enough, policy, rollout)
    assert len(waiting) == 2 and "error rate 5.0%" in waiting[0] and "p99" in waiting[1]
    healthy = ShadowComparison(
        candidate_requests=600, candidate_latency=LatencySummary(600, 10.0, 40.0, 0.0)
    )
    assert judged(healthy, policy, rollout, "classification")["ready"] is True
    strict = policy.model_copy(update={"min_agreement": 0.95})
    low = ShadowComparison(
        candidate_requests=600, paired=600, agreement=0.9, candidate_latency=LatencySummary(600)
    )
    assert "agreement 90.0%" in waiting_for(low, strict, rollout)[0]


def test_evidence_survives_its_json_round_trip() -> None:
    serving, candidate = frames()
    result = compare_shadow(serving, candidate)
    import json

    again = ShadowComparison.from_dict(json.loads(json.dumps(result.as_dict())))
    assert again == result


@pytest.mark.parametrize("bad", ["60%", 0, "lots"])
def test_impossible_mirror_shares_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="mirror"):
        ShadowPolicy(mirror=bad)


def test_latency_from_bucketed_metrics_weights_p50_and_bounds_p99() -> None:
    from core.promotion.shadow_platform import metrics_summary

    metrics = pd.DataFrame(
        {
            "requests_per_minute": [2.0, 0.0, 6.0],
            "latency_p50_ms": [10.0, None, 20.0],
            "latency_p99_ms": [50.0, None, 40.0],
            "error_rate": [0.0, None, 0.1],
        }
    )
    summary = metrics_summary(metrics, 5)
    assert summary.requests == 40
    assert summary.p50_ms == pytest.approx((10 * 10 + 20 * 30) / 40)
    assert summary.p99_ms == 50.0
    assert summary.error_rate == pytest.approx(0.075)
    assert metrics_summary(pd.DataFrame(), 5) == LatencySummary()


def test_a_score_shift_is_flagged_only_once_the_bins_have_requests() -> None:
    """The demo's card said "v2 is worse: PSI 4.054" after 3 mirrored requests (empty bins)."""
    from core.promotion.evidence import PSI_MIN_REQUESTS

    few = ShadowComparison(candidate_requests=3, serving_requests=6, paired=3, psi=4.054)
    assert worse_lines(few) == []
    enough = replace(few, candidate_requests=PSI_MIN_REQUESTS, serving_requests=200)
    assert worse_lines(enough) == ["score distribution shifted (PSI 4.054, above 0.25)"]
