"""Reading what serves where, shared by status, models, deploy and rollback."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from infra.platform.base import EndpointState, PlatformError

T = TypeVar("T")
K = TypeVar("K")

# Platform reads are network calls on Azure; a small pool keeps a status card to the latency of
# the slowest environment instead of the sum of all of them.
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="platform-read")


def gather(calls: dict[K, Callable[[], T]], *, parallel: bool = True) -> dict[K, T | PlatformError]:
    """Run independent platform reads (in parallel for remote platforms); a failed read becomes
    its PlatformError."""
    results: dict[K, T | PlatformError] = {}
    if not parallel:
        for key, call in calls.items():
            try:
                results[key] = call()
            except PlatformError as exc:
                results[key] = exc
        return results
    futures = {key: _POOL.submit(call) for key, call in calls.items()}
    for key, future in futures.items():
        try:
            results[key] = future.result()
        except PlatformError as exc:
            results[key] = exc
    return results


def traffic_summary(state: EndpointState | None) -> str:
    """``v3`` when one version serves everything, ``v3 90% · v4 10%`` during a rollout."""
    if state is None or not state.serving:
        return "not deployed"
    serving = state.serving
    if len(serving) == 1:
        return f"v{serving[0].model_version}"
    return " · ".join(f"v{d.model_version} {d.traffic}%" for d in serving)


def current_split(state: EndpointState) -> dict[str, int]:
    return {d.name: d.traffic for d in state.deployments if d.traffic > 0}


def split_with(current: dict[str, int], new_deployment: str, share: int) -> dict[str, int]:
    """Give ``new_deployment`` ``share`` percent and scale the others into the rest.

    Rounding goes to the largest remaining deployment so the split always sums to 100.
    """
    others = {name: t for name, t in current.items() if name != new_deployment and t > 0}
    if share >= 100 or not others:
        return {new_deployment: 100, **{name: 0 for name in others}}
    remaining = 100 - share
    total = sum(others.values())
    scaled = {name: (t * remaining) // total for name, t in others.items()}
    largest = max(others, key=lambda n: others[n])
    scaled[largest] += remaining - sum(scaled.values())
    return {new_deployment: share, **scaled}


def names(items: Iterable[object]) -> list[str]:
    return [str(i) for i in items]
