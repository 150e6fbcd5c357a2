"""What one refresh of a request card's shadow evidence costs on the local platform.

    python benchmarks/shadow_evidence.py [--rows 20000 100000]

A prepared platform (the approvals scenario's: v1 serves prod, v2 at 0% with 50% of the traffic
mirrored to it), then for each size: that many live requests with their labels, and the best of
three refreshes (``scored_requests`` over the window + :func:`engine.shadow.compare_shadow`)
beside the best of three reads of the same window's production data (what a drift check reads),
as a ratio measured in the same run. Prints the load average: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from engine.shadow import ShadowComparison, compare_shadow  # noqa: E402
from infra.platform.local import LocalPlatform  # noqa: E402
from tests.scenarios.approvals.harness import (  # noqa: E402
    MODEL,
    config,
    prepare_platform,
    settings_for,
)
from tests.scenarios.approvals.models import training_frame  # noqa: E402


def best(work: Callable[[], object], times: int = 3) -> float:
    timings = []
    for _ in range(times):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 100_000])
    args = parser.parse_args()
    settings = settings_for(config(), Path(tempfile.mkdtemp()) / "state")
    prepare_platform(settings)
    platform = LocalPlatform(settings)
    platform.copy_version(MODEL, "2", "preprod", "prod")
    candidate = platform.begin_deploy(MODEL, "2", "prod").wait(60)
    serving = platform.endpoint_state(MODEL, "prod").primary
    assert serving is not None
    platform.set_traffic(MODEL, "prod", {serving.name: 100}, mirror={candidate.name: 50})
    start = datetime.now(UTC) - timedelta(minutes=1)
    sent = 0
    for total in sorted(args.rows):
        while sent < total:
            frame, labels = training_frame(rows=500, seed=sent)
            ids = [uuid.uuid4().hex for _ in range(len(frame))]
            platform.score(MODEL, "prod", frame, correlation_ids=ids, request_ids=ids)
            platform.record_labels(MODEL, "prod", dict(zip(ids, labels.tolist(), strict=True)))
            sent += len(frame)
        platform.flush()
        end = datetime.now(UTC) + timedelta(seconds=1)

        def refresh(end: datetime = end) -> ShadowComparison:
            scored = platform.scored_requests(
                MODEL, "prod", start, end, [serving.name, candidate.name]
            ).frame
            old = scored[(scored["deployment"] == serving.name) & ~scored["mirrored"]]
            return compare_shadow(old, scored[scored["deployment"] == candidate.name])

        result = refresh()
        took = best(refresh)
        baseline = best(lambda end=end: platform.production_data(MODEL, "prod", start, end))
        print(
            f"{result.serving_requests} served + {result.candidate_requests} mirrored requests "
            f"({result.paired} paired, {result.labelled} labelled): refresh {took * 1000:.0f} ms, "
            f"production_data read {baseline * 1000:.0f} ms, ratio {took / baseline:.2f}x"
        )
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    platform.close()


if __name__ == "__main__":
    main()
