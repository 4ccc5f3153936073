"""Speed and scale benchmark: prints figures, asserts nothing.

    python bench/speed.py [--reps 1000] [--quick]

1. Replications per second of cart-trial-sim on the reference workload beside the plain
   SimPy reference model (../shared/bench/reference_model.py) on the same replications.
2. Speed-up of 2 worker processes over 1 on 2,000 replications.
3. Wall time of 1,000 baseline replications with the full summary (default executor).
4. Peak memory of 10,000 and 100,000 summary-only replications.
5. Time as the target grows 50, 500, 5,000 (referral rates scaled alike).
Quote medians of repeated timings; this machine is noisy.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.core.scenario import load_scenario, with_overrides  # noqa: E402
from sim.run.runner import run_replications  # noqa: E402

SHARED_BENCH = ROOT.parent / "shared" / "bench"


def _reference_module():
    spec = importlib.util.spec_from_file_location("reference_model",
                                                  SHARED_BENCH / "reference_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_reference(reps: int, repeats: int) -> None:
    ref = _reference_module()
    workload = load_scenario(str(SHARED_BENCH / "reference_workload.yaml"))
    seeds = np.random.SeedSequence(1).spawn(reps)
    t_ref, t_ours = [], []
    for _ in range(repeats):  # interleaved, so both meet the same load on this noisy machine
        t_ref.append(_median_time(lambda: [ref.replication(s) for s in seeds], 1))
        t_ours.append(_median_time(
            lambda: run_replications(workload, reps, 1, executor="serial"), 1))
    ratios = sorted(r / o for r, o in zip(t_ref, t_ours, strict=True))
    t_r, t_o = statistics.median(t_ref), statistics.median(t_ours)
    print(f"[reference workload, {reps} replications, serial, median of {repeats}, interleaved]")
    print(f"  reference model  {reps / t_r:8.1f} replications/s  ({t_r:.2f} s)")
    print(f"  cart-trial-sim   {reps / t_o:8.1f} replications/s  ({t_o:.2f} s)")
    print(f"  ratio (ours / reference): {statistics.median(ratios):.2f} "
          f"(per repeat {', '.join(f'{r:.2f}' for r in ratios)})")


def bench_workers(reps: int, repeats: int) -> None:
    workload = load_scenario(str(SHARED_BENCH / "reference_workload.yaml"))
    t1 = _median_time(lambda: run_replications(workload, reps, 1, executor="process",
                                               workers=1), repeats)
    t2 = _median_time(lambda: run_replications(workload, reps, 1, executor="process",
                                               workers=2), repeats)
    print(f"[workers, reference workload, {reps} replications, median of {repeats}]")
    print(f"  1 worker {t1:.2f} s, 2 workers {t2:.2f} s: speed-up {t1 / t2:.2f}x")


def bench_baseline(repeats: int) -> None:
    sc = load_scenario(str(ROOT / "scenarios" / "baseline.yaml"))
    t = _median_time(lambda: run_replications(sc, 1000, 1, executor="process").summary(),
                     repeats)
    print(f"[baseline, 1,000 replications with the full summary, process pool, median of "
          f"{repeats}]")
    print(f"  wall {t:.2f} s")


_MEMORY_CHILD = """
import json, resource, sys
sys.path.insert(0, {root!r})
from sim.run.runner import run_replications
from sim.core.scenario import load_scenario
sc = load_scenario({path!r})
res = run_replications(sc, {reps}, 1, executor="process")
s = res.summary()
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({{"self_mb": me / 1024, "worker_mb": kids / 1024,
                  "table_mb": res.table.nbytes / 2**20, "reps": res.replications}}))
"""


def bench_memory(counts: list[int]) -> None:
    path = str(SHARED_BENCH / "reference_workload.yaml")
    print("[peak memory, summary-only replications, reference workload, process pool]")
    for reps in counts:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD.format(
            root=str(ROOT), path=path, reps=reps)], capture_output=True, text=True,
            check=True)
        m = json.loads(out.stdout)
        print(f"  {reps:>7,} replications: main process {m['self_mb']:.0f} MB peak, largest "
              f"worker {m['worker_mb']:.0f} MB, rows {m['table_mb']:.0f} MB, "
              f"{time.perf_counter() - t0:.0f} s")


def bench_target_growth(repeats: int) -> None:
    base = load_scenario(str(SHARED_BENCH / "reference_workload.yaml"))
    print(f"[time as the target grows, rates scaled alike, 20 replications, median of "
          f"{repeats}]")
    previous = None
    for count in (50, 500, 5000):
        k = count / 50
        sc = with_overrides(base, [
            f"target.count={count}",
            f"referral.sites.0.rate_per_month={2.0 * k}",
            f"apheresis.slots={max(1, round(k))}",
            f"manufacturing.suites={2 * round(k)}",
            f"infusion.beds={4 * round(k)}",
        ])
        t = _median_time(lambda sc=sc: run_replications(sc, 20, 1, executor="serial"),
                         repeats)
        growth = "" if previous is None else f"  ({t / previous:.1f}x the previous)"
        print(f"  target {count:>5}: {t:.2f} s{growth}")
        previous = t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="skip the 100,000-replication run")
    a = ap.parse_args()
    bench_reference(a.reps, a.repeats)
    bench_workers(2000, a.repeats)
    bench_baseline(a.repeats)
    bench_target_growth(a.repeats)
    bench_memory([10_000] if a.quick else [10_000, 100_000])


if __name__ == "__main__":
    main()
