"""What the dashboard's views draw, without Streamlit: a run (fresh or saved) as a
:class:`RunView`, the scenario loaded into the form, the forecast in words
(:func:`headline`), the referrals a scenario expects, paired differences between runs
(:func:`comparison_table`) and the scenario files offered."""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.app.sources import Sources
from sim.core.errors import InputError
from sim.core.referral import cumulative_intensity
from sim.core.scenario import DAYS_PER_MONTH, Scenario, parse_scenario
from sim.core.yamlio import parse_yaml, read_text
from sim.planning.compare import METRICS, per_replication
from sim.report.text import date_label, interval
from sim.run.results import RowTable, n_months
from sim.run.runner import Results
from sim.run.stats import paired_difference, welch_interval

# --- the scenario before any run ------------------------------------------------------------


def expected_referrals(scenario: Scenario) -> pd.DataFrame:
    """Expected referrals of each site in each calendar month (at its mean rate, with its
    opening day and ramp-up), up to the horizon: site, month, date (month end), referrals."""
    months = np.arange(1, n_months(scenario.horizon_days) + 1)
    ends = months * DAYS_PER_MONTH
    frames = []
    for site in scenario.referral.sites:
        rate = site.rate_per_month / DAYS_PER_MONTH
        cum = np.array([cumulative_intensity(site, d, rate) for d in np.concatenate([[0.0], ends])])
        frames.append(
            pd.DataFrame(
                {
                    "site": site.name,
                    "month": months,
                    "date": pd.Timestamp(scenario.start_date) + pd.to_timedelta(ends, unit="D"),
                    "referrals": np.diff(cum),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# --- runs ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LoadedInput:
    """The scenario the inputs start from: a file, an upload or a saved run."""

    key: tuple[str, ...]
    """What was loaded (kind and name), to tell when the choice changes."""
    origin: str
    """How the help texts name it: ``baseline.yaml``, ``saved run 'x'``."""
    scenario: Scenario
    sources: Sources
    view: RunView | None = None
    """The saved run's results, when a saved run was opened."""


@dataclass(frozen=True, eq=False)
class RunView:
    """One run to draw: fresh from the model or opened from the run store."""

    label: str
    scenario: Scenario
    seed: int
    replications: int
    summary: dict[str, Any]
    fan: pd.DataFrame
    rows: pd.DataFrame
    vein_to_vein: np.ndarray | None
    """Every infused patient's vein-to-vein days (None for a saved run: it keeps means)."""
    results: Results | None = None
    """The model's results (to save them); None for a saved run."""
    saved_as: str | None = None


def view_from_results(results: Results, label: str) -> RunView:
    """A fresh run of the model as a view (it keeps every patient's vein-to-vein days)."""
    return RunView(
        label=label,
        scenario=results.scenario,
        seed=results.seed,
        replications=results.replications,
        summary=results.summary(),
        fan=results.fan(),
        rows=results.frame(),
        vein_to_vein=np.asarray(results.table.vein_to_vein, dtype=float),
        results=results,
    )


def view_from_stored(run: Any) -> RunView:
    """A :class:`sim.io.store.StoredRun` as a view (nothing is run)."""
    scenario = parse_scenario(run.scenario_text, source=f"saved run {run.name!r}")
    return RunView(
        label=f"saved run {run.name!r}",
        scenario=scenario,
        seed=run.seed,
        replications=run.replications,
        summary=run.summary,
        fan=run.fan,
        rows=run.rows,
        vein_to_vein=None,
        saved_as=run.name,
    )


@dataclass(frozen=True)
class Headline:
    """The forecast in words: the chance by the deadline, the median date, the 80% interval,
    the share of trials reaching the target, and primary completion."""

    chance: str
    median: str
    interval: str
    reached: str
    completion: str


def headline(summary: Mapping[str, Any], horizon_end: dt.date | None = None) -> Headline:
    """The forecast in plain words, from a run's summary."""
    t = summary["target"]
    what = f"{t['count']} {t['milestone']}"
    n = summary["replications"]
    prob = summary.get("prob_target_by_deadline")
    if t.get("deadline") and prob is not None:
        ci = summary.get("prob_target_by_deadline_ci95") or [None, None]
        within = f" (95% interval {ci[0]:.0%} to {ci[1]:.0%})" if None not in ci else ""
        chance = f"{prob:.0%} chance of {what} by {date_label(t['deadline'])}{within}"
    else:
        chance = f"No deadline set for the target of {what}"
    dates = summary.get("target_date") or {}
    later = (
        f"after the end of the horizon ({date_label(horizon_end)})"
        if horizon_end
        else "after the end of the horizon"
    )
    p50 = dates.get("p50")
    median = f"Median date of reaching {what}: {date_label(p50) if p50 else later}"
    lo, hi = dates.get("p10"), dates.get("p90")
    interval_text = (
        f"80% interval: {date_label(lo) if lo else later} to {date_label(hi) if hi else later}"
    )
    ttt = summary.get("time_to_target_days") or {}
    frac = ttt.get("reached_fraction")
    reached = (
        f"{frac:.0%} of {n:,} simulated trials reach the target within the horizon"
        if frac is not None
        else ""
    )
    pc = (summary.get("primary_completion_date") or {}).get("p50")
    completion = (
        f"Median primary completion (target plus follow-up): {date_label(pc) if pc else later}"
    )
    return Headline(chance, median, interval_text, reached, completion)


# --- comparison ------------------------------------------------------------------------------


def _as_results(view: RunView) -> Results:
    if view.results is not None:
        return view.results
    rows = view.rows
    columns = {
        c: pd.to_numeric(rows[c], errors="coerce").to_numpy(float)
        for c in rows.columns
        if rows[c].dtype != object
    }
    n = len(rows)
    table = RowTable(
        columns,
        np.empty(0, np.float32),
        np.zeros((n, 0), np.int32),
        np.zeros((n, 0), np.int32),
    )
    return Results(view.scenario, view.seed, table)


def per_replication_frame(view: RunView) -> pd.DataFrame:
    """The compared figures of a run (sim.planning.compare.METRICS), a row a replication."""
    res = _as_results(view)
    values = per_replication(res)
    frame = pd.DataFrame(values)
    frame.index = res.table["replication"].astype(np.int64)
    return frame


def comparison_table(reference: RunView, other: RunView) -> pd.DataFrame:
    """``other`` minus ``reference`` on each compared figure: the means (columns
    ``reference`` and ``this run``), the difference,
    its paired 95% interval (common random numbers: same seed, replication by replication)
    and the unpaired (Welch) interval for contrast. Runs with different seeds share no
    random numbers: their paired interval is left empty."""
    a = per_replication_frame(reference)
    b = per_replication_frame(other)
    paired = reference.seed == other.seed
    common = a.index.intersection(b.index) if paired else pd.Index([])
    out = []
    for key, label in METRICS.items():
        x, y = a[key].to_numpy(float), b[key].to_numpy(float)
        mean_a = float(np.nanmean(x)) if np.isfinite(x).any() else math.nan
        mean_b = float(np.nanmean(y)) if np.isfinite(y).any() else math.nan
        unpaired = welch_interval(x, y)
        if len(common):
            d = paired_difference(
                a.loc[common, key].to_numpy(float), b.loc[common, key].to_numpy(float)
            )
            diff, (lo, hi), n = d["mean"], d["ci95"], d["n"]
        else:
            diff, lo, hi, n = mean_b - mean_a, None, None, 0
        out.append(
            {
                "figure": label,
                "reference": mean_a,
                "this run": mean_b,
                "difference": _nan(diff),
                "paired 95% CI": interval(lo, hi),
                "unpaired 95% CI": interval(*unpaired),
                "pairs": int(n),
            }
        )
    return pd.DataFrame(out)


def _nan(x: Any) -> float:
    return math.nan if x is None else float(x)


def unique_labels(labels: Iterable[str]) -> list[str]:
    """Labels made unique by numbering repeats: a, b, a -> a, b, a (2)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def scenario_files(folder: Path, first: str = "baseline.yaml") -> list[Path]:
    """The scenario files of a folder (YAML files that look like scenarios, not the other
    YAML kept beside them, such as sensitivity ranges), ``first`` first, then by name."""
    files = [
        p
        for p in folder.glob("*.y*ml")
        if p.is_file() and _looks_like_scenario(str(p), p.stat().st_mtime_ns)
    ]
    return sorted(files, key=lambda p: (p.name != first, p.name))


@functools.lru_cache(maxsize=256)
def _looks_like_scenario(path: str, mtime_ns: int) -> bool:
    """A YAML mapping with a name and a referral part (read again when the file changes)."""
    try:
        data = parse_yaml(read_text(path), path)
    except InputError:
        return True  # listed, so that choosing it says what is wrong with it
    return isinstance(data, dict) and "name" in data and "referral" in data
