"""A facility for the dashboard, without Streamlit: the shipped facility files, a run of
one (plain data, so the app can cache it), and its tables in words: each trial's headline,
the shared resources and the facility's costs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sim.core.facility import Facility, load_facility
from sim.report.text import date_label, money
from sim.run.executors import ExecutorSpec
from sim.run.facility import run_facility_replications

FOLDER = "facilities"
"""Where the facility files live, inside the scenarios folder."""


def facility_files(scenarios: Path) -> list[Path]:
    """The shipped facility files (``scenarios/facilities/*.yaml``)."""
    return sorted((scenarios / FOLDER).glob("*.y*ml"))


def load(path: Path) -> Facility:
    """The facility and its trials (InputError naming the file and field if not valid)."""
    return load_facility(str(path))


def run(
    facility: Facility,
    *,
    reps: int,
    seed: int,
    executor: str | ExecutorSpec = "serial",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """``reps`` replications of the facility: its summary (plain data)."""
    return run_facility_replications(
        facility, reps, seed, executor=executor, progress=progress
    ).summary()


def _date(summary: dict[str, Any], key: str) -> str:
    return date_label((summary.get("target_date") or {}).get(key)) or "beyond the horizon"


def trials_table(s: dict[str, Any]) -> pd.DataFrame:
    """One row a trial: when it opens, its priority, its target and deadline, its chance by
    the deadline (%) with the 95% interval, the median target date, and per run its
    patients infused and deteriorated before infusion, and its mean waits (days)."""
    rows = []
    for t in s["trials"]:
        x = t["summary"]
        lo, hi = x.get("prob_target_by_deadline_ci95") or (None, None)
        target = x["target"]
        rows.append(
            {
                "trial": t["label"],
                "opens (day)": t["opens_day"],
                "priority": t["priority"],
                "target": f"{target['count']} {target['milestone']}",
                "deadline": target.get("deadline"),
                "chance by deadline (%)": _pct(x.get("prob_target_by_deadline")),
                "95% interval (%)": f"{_pct(lo):.0f} to {_pct(hi):.0f}" if lo is not None else "",
                "median target date": _date(x, "p50"),
                "infused per run": x["funnel"]["infused"],
                "deteriorated before infusion per run": x["outcomes"]["deteriorated"],
                **{
                    f"mean wait, {r} (days)": v["mean_wait_days"] for r, v in x["resources"].items()
                },
            }
        )
    return pd.DataFrame(rows)


def _pct(x: float | None) -> float | None:
    return None if x is None else 100 * x


def resources_table(s: dict[str, Any]) -> pd.DataFrame:
    """One row a resource: its units (shared or each trial's own) and, over all trials, the
    utilisation of the unit-days in force (%), the mean wait (days) and the mean queue."""
    rows = []
    for name, r in s["resources"].items():
        steps = r.get("schedule") or []
        units = ", ".join(f"{n} from day {d:g}" for d, n in steps) if steps else ""
        rows.append(
            {
                "resource": name,
                "shared": "shared" if r["shared"] else "each trial's own",
                "units": units or str(r["capacity"]),
                "utilisation (%)": 100 * r["utilization"],
                "mean wait (days)": r["mean_wait_days"],
                "mean queue": r["mean_queue_length"],
            }
        )
    return pd.DataFrame(rows)


def cost_table(s: dict[str, Any]) -> pd.DataFrame:
    """The facility's costs per run, a row each: the shared units' availability (at the
    facility's prices), each trial's own costs (without the shared units), then every
    priced category of all of them together; mean and 80% interval of the runs."""
    c = s.get("costs") or {}
    if not c:
        return pd.DataFrame()
    shared = c["shared_availability"]
    priced = ", ".join(
        f"{name} {money(r['price'])} x {r['quantity_mean']:,.1f} {r['quantity']}"
        for name, r in shared["resources"].items()
        if r["price"] is not None
    )
    rows = [("shared units' availability" + (f" ({priced})" if priced else " (not priced)"),
             shared)]  # fmt: skip
    rows += [(f"{t['label']}: its own costs", t["cost"]) for t in c["by_trial"] if t["cost"]]
    rows += [(f"all: {k}", v) for k, v in c["by_category"].items() if v["mean"]]
    return pd.DataFrame(
        [
            {"what": what, "mean per run": money(v["mean"]),
             "80% of runs": f"{money(v['p10'])} to {money(v['p90'])}"}
            for what, v in rows
        ]
    )  # fmt: skip


def headline(s: dict[str, Any]) -> str:
    """The facility's answer in one sentence."""
    e = s["every_target"]
    lo, hi = e["prob_all_by_deadline_ci95"]
    return (
        f"Chance that every trial reaches its target by its deadline: "
        f"**{100 * e['prob_all_by_deadline']:.0f}%** (95% interval {100 * lo:.0f}% to "
        f"{100 * hi:.0f}%), over {s['replications']:,} simulated runs of the facility "
        f"(seed {s['seed']})."
    )
