"""CPU per scheduled check, by kind, as a worker process runs them.

    python benchmarks/check_cpu.py [--models 20] [--rounds 2] [--profile N] [--workdir DIR]
                                   [--code /work/main]

The same fleet as ``benchmarks/fleet.py`` (the seeded demo plus copies of churn-model on the
local platform, drift + performance + utilization per model in prod), and the same code path as
a worker (:func:`bot.runtime.build_worker_runtime`, then :func:`jobs.worker.run_item`'s
:func:`jobs.run.run_kind` per check), in this one process, one check after the other, so the
CPU of each check (``time.process_time``) is its own. Posts go to the outbox (delivered by
``serve`` in production, not here), charts are drawn where a worker draws them.

Round 1 is the first cycle a fresh worker runs (cold per-process caches, no stored history);
later rounds are the steady state of a long-lived worker. ``--profile N`` prints cProfile's top
N functions (``--sort``, cumulative by default) over the last round (``--profile-round``).
``--code DIR`` runs the same with another checkout's code: run it once with ``--code`` on the
baseline (e.g. main) and once without, one after the other, and compare.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout
sys.path.insert(0, str(ROOT / "benchmarks"))
from fleet import KINDS, PROD, clone_models, model_names, seed_base, write_config  # noqa: E402

# ``--code DIR``: the checks run with another checkout's code (the baseline, e.g. main's); the
# fleet helpers stay this checkout's.
if "--code" in sys.argv:
    sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--code") + 1]).resolve()))
    for _name in [m for m in sys.modules if m.split(".")[0] in {"bot", "infra", "tests"}]:
        del sys.modules[_name]  # what fleet imported from this checkout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", type=int, default=0, help="top N functions of the last round")
    parser.add_argument("--profile-round", type=int, help="the round to profile (default: last)")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key (or tottime)")
    parser.add_argument("--workdir", type=Path, help="keep the seeded base here")
    parser.add_argument(
        "--code",
        type=Path,
        help="run the checks with this checkout's code (a baseline such as /work/main)",
    )
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="check-cpu-"))
    base = seed_base(workdir)
    root = workdir / f"checks-{args.models}"
    if root.exists():
        shutil.rmtree(root)
    state = root / "state"
    shutil.copytree(base, state)
    names = model_names(args.models)
    clone_models(state, names)
    config = root / "mlops-bot.yaml"
    write_config(config, names, None, None)

    from tests.fakes.processes import serve_env
    from tests.fakes.slack_server import running_slack_server

    with running_slack_server() as slack:
        os.environ.update(serve_env(slack.base_url, state))
        started = time.process_time()
        import jobs.worker
        from bot.runtime import build_worker_runtime
        from infra.settings import Secrets, load_settings
        from jobs.run import run_kind

        if hasattr(jobs.worker, "warm_up"):
            jobs.worker.warm_up()  # as `mlops-bot worker` does before it claims anything
        settings = load_settings(str(config), state_dir=str(state))
        runtime = build_worker_runtime(settings, Secrets())
        ctx = runtime.context
        print(f"code: {Path(jobs.worker.__file__).resolve().parents[1]}")
        print(f"start-up (imports, runtime): {time.process_time() - started:.2f} s CPU")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for round_ in range(1, args.rounds + 1):
            profiled = args.profile_round or args.rounds
            profiler = cProfile.Profile() if args.profile and round_ == profiled else None
            per_kind: dict[str, list[float]] = {k: [] for k in KINDS}
            levels: dict[str, int] = {}
            wall = time.perf_counter()
            if profiler:
                profiler.enable()
            for name in names:
                for kind in KINDS:
                    t0 = time.process_time()
                    result = run_kind(ctx, kind, name, PROD)
                    per_kind[kind].append(time.process_time() - t0)
                    level = str(getattr(result, "level", "?"))
                    levels[f"{kind}:{level}"] = levels.get(f"{kind}:{level}", 0) + 1
            if profiler:
                profiler.disable()
            total = sum(sum(v) for v in per_kind.values())
            checks = sum(len(v) for v in per_kind.values())
            print(
                f"round {round_}: {checks} checks, {total:.2f} s CPU "
                f"({total / checks:.3f} s per check), wall {time.perf_counter() - wall:.1f} s, "
                f"load {os.getloadavg()[0]:.2f}"
            )
            for kind, values in per_kind.items():
                values.sort()
                print(
                    f"  {kind:12s} mean {sum(values) / len(values):.3f} s  "
                    f"median {values[len(values) // 2]:.3f} s  max {values[-1]:.3f} s"
                )
            print("  results: " + ", ".join(f"{k} x{v}" for k, v in sorted(levels.items())))
            if profiler:
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.profile)
                print(out.getvalue())
        runtime.close()
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
