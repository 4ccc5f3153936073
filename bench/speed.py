"""Speed and scale benchmark: prints figures, asserts nothing.

    python bench/speed.py [--reps 1000] [--repeats 3] [--quick] [--only NAME ...]

1. startup: whole process, one replication of the reference workload
   (``python -m sim run FILE --reps 1 --executor serial --json``) beside the plain SimPy
   reference model's ``--reps 1`` (../shared/bench/reference_model.py, beside a checkout).
2. whole: whole process, 600 replications in one process, beside the reference model.
3. reference: replications per second in this process, interleaved with the reference.
4. workers: whole process, 2,000 baseline replications on 2 worker processes against 1.
5. baseline: wall time of 1,000 baseline replications with the full summary.
6. growth: time as the target grows 50, 500, 5,000 (referral rates scaled alike).
7. memory: peak memory of 10,000 and 100,000 summary-only replications.
Timings are medians of interleaved repeats; this machine is noisy. The comparisons with
the reference model are skipped where it is not beside the checkout.
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
REFERENCE_MODEL = SHARED_BENCH / "reference_model.py"
WORKLOAD = ROOT / "tests" / "fixtures" / "reference_workload.yaml"
"""The reference workload (a copy of ../shared/bench/reference_workload.yaml)."""
BASELINE = ROOT / "scenarios" / "baseline.yaml"


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _interleaved(commands: dict[str, list[str]], repeats: int) -> dict[str, list[float]]:
    """Wall times of each command, run in turn ``repeats`` times (so each meets the same
    load on a noisy machine)."""
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(repeats):
        for name, cmd in commands.items():
            times[name].append(_wall(cmd))
    return times


def _versus_reference(title: str, reps: int, repeats: int, extra: list[str]) -> None:
    if not REFERENCE_MODEL.exists():
        print(f"[{title}] skipped: the reference model is not beside this checkout")
        return
    times = _interleaved(
        {
            "reference": [sys.executable, str(REFERENCE_MODEL), "--reps", str(reps)],
            "ours": [sys.executable, "-m", "sim", "run", str(WORKLOAD), "--reps", str(reps),
                     "--executor", "serial", "--json", *extra],
        },
        repeats,
    )
    ref, ours = statistics.median(times["reference"]), statistics.median(times["ours"])
    ratios = sorted(o / r for r, o in zip(times["reference"], times["ours"], strict=True))
    print(f"[{title}: whole process, {reps} replication(s) of the reference workload, "
          f"median of {repeats} interleaved]")
    print(f"  reference model  {ref:.3f} s")
    print(f"  cart-trial-sim   {ours:.3f} s")
    print(f"  ours / reference time: {statistics.median(ratios):.2f} (per repeat "
          f"{', '.join(f'{r:.2f}' for r in ratios)}); speed ratio (reference / ours) "
          f"{ref / ours:.2f}")


def bench_startup(repeats: int) -> None:
    _versus_reference("start-up", 1, max(repeats, 9), [])


def bench_whole(repeats: int) -> None:
    _versus_reference("whole run", 600, repeats, ["--quiet"])


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
    if not REFERENCE_MODEL.exists():
        print("[reference] skipped: the reference model is not beside this checkout")
        return
    ref = _reference_module()
    workload = load_scenario(str(WORKLOAD))
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
    """Whole process: ``run`` of the baseline on 1 and on 2 worker processes."""
    base = [sys.executable, "-m", "sim", "run", str(BASELINE), "--reps", str(reps), "--json",
            "--quiet", "--executor", "process", "--workers"]  # fmt: skip
    times = _interleaved({"1": [*base, "1"], "2": [*base, "2"]}, repeats)
    t1, t2 = statistics.median(times["1"]), statistics.median(times["2"])
    print(f"[workers, whole process, baseline, {reps} replications, median of {repeats}]")
    print(f"  1 worker {t1:.2f} s, 2 workers {t2:.2f} s: speed-up {t1 / t2:.2f}x")


def bench_baseline(repeats: int) -> None:
    sc = load_scenario(str(BASELINE))
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
    path = str(WORKLOAD)
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
    base = load_scenario(str(WORKLOAD))
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


BENCHES = ("startup", "whole", "reference", "workers", "baseline", "growth", "memory")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="skip the 100,000-replication run")
    ap.add_argument("--only", nargs="+", choices=BENCHES, default=list(BENCHES))
    a = ap.parse_args()
    runs = {
        "startup": lambda: bench_startup(a.repeats),
        "whole": lambda: bench_whole(a.repeats),
        "reference": lambda: bench_reference(a.reps, a.repeats),
        "workers": lambda: bench_workers(2000, a.repeats),
        "baseline": lambda: bench_baseline(a.repeats),
        "growth": lambda: bench_target_growth(a.repeats),
        "memory": lambda: bench_memory([10_000] if a.quick else [10_000, 100_000]),
    }
    for name in BENCHES:
        if name in a.only:
            runs[name]()


if __name__ == "__main__":
    main()
