"""`mlops-bot drift` as whole processes, an older tree against this one, interleaved.

    git worktree add /tmp/drift-before main      # or: git archive COMMIT | tar -x -C DIR
    python benchmarks/drift_cli_ab.py REF.parquet CUR.parquet --before /tmp/drift-before [--runs 5]

Each run is ``python -m bot.cli drift REF CUR --json`` from exec to exit, with the child's CPU
(user + system, from ``wait4``) and peak RSS beside its wall time. The two trees alternate run by
run so both see the same load; CPU is the figure a busy machine inflates least. The files can be
the ones ``drift_vs_evidently.py --workdir DIR`` leaves behind.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(tree: Path, args: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one drift process on ``tree``'s code."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "drift", *args, "--json"],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # 1 is "dataset drift"
        raise RuntimeError(f"{tree}: drift exited {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("current")
    parser.add_argument("--before", type=Path, required=True, help="an older source tree")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", default="default")
    args = parser.parse_args(argv)
    trees = {"before": args.before.resolve(), "now": ROOT}
    drift_args = [args.reference, args.current, "--profile", args.profile]
    load = os.getloadavg()[0]
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in trees}
    for _ in range(args.runs):
        for name, tree in trees.items():
            results[name].append(run(tree, drift_args))
    print(
        f"mlops-bot drift {Path(args.reference).name} {Path(args.current).name} · "
        f"{os.cpu_count()} CPUs · load average {load:.1f} -> {os.getloadavg()[0]:.1f} · "
        f"{args.runs} runs each, interleaved"
    )
    for name, rows in results.items():
        walls, cpus, peaks = zip(*rows, strict=True)
        print(
            f"  {name:<6} wall best {min(walls):.2f} s, median {statistics.median(walls):.2f} s · "
            f"CPU best {min(cpus):.2f} s, median {statistics.median(cpus):.2f} s · "
            f"peak RSS {max(peaks):.0f} MB"
        )
    before, now = (statistics.median(r[1] for r in results[k]) for k in trees)
    print(f"  CPU median now / before: {now / before:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
