"""What the dashboard's views draw, without Streamlit: a run (fresh or saved) as a
:class:`RunView`, the scenario loaded into the form, the forecast in words
(:func:`headline`), the referrals a scenario expects, paired differences between runs
(:func:`comparison_table`) and the scenario files offered."""

from __future__ import annotations

import functools
from collections.abc import Iterable
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
from sim.planning.compare import per_replication
from sim.report.comparison import comparison_rows
from sim.report.headline import Headline, headline
from sim.report.text import days, money, num, pct, pct_interval
from sim.run.results import RowTable, n_months
from sim.run.runner import Results

__all__ = ["Headline", "headline"]  # the words of the forecast live in sim.report

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


# --- the dose-finding phase of a run ---------------------------------------------------------

PHASE1_HELP = {
    "Patients in phase 1": "Patients infused in the dose-finding phase, mean per simulated "
    "trial, and the cohorts whose DLT decision was made.",
    "DLTs in phase 1": "Dose-limiting toxicities in phase 1, mean per simulated trial.",
    "Stopped for toxicity": "Share of the simulated trials that no dose level cleared, so "
    "the trial stopped; interval: Wilson 95%.",
    "Phase 1 length (median)": "Days from the first infusion of phase 1 to its last DLT "
    "decision, over every trial (a phase 1 still running at the end counts as beyond).",
}


def phase1_figures(ph: dict[str, Any]) -> tuple[list[tuple[str, str, str]], pd.DataFrame]:
    """The summary's phase 1 block in words: four tiles (label, value, note) and the share of
    trials recommending each dose level (then none, and phase 1 unfinished)."""
    ci = ph["prob_stopped_for_toxicity_ci95"]
    d = ph["days_first_infusion_to_end"]
    unfinished = 1.0 - ph["finished_fraction"]
    late = f"; unfinished in {pct(unfinished)} of trials" if unfinished > 0 else ""
    tiles = [
        (
            "Patients in phase 1",
            num(ph["patients_mean"]),
            f"infused in {num(ph['cohorts_mean'])} cohorts (mean per trial)",
        ),
        ("DLTs in phase 1", num(ph["dlts_mean"]), "dose-limiting toxicities, mean per trial"),
        (
            "Stopped for toxicity",
            pct(ph["prob_stopped_for_toxicity"]),
            f"95% interval {pct_interval(*ci)}; when no dose level is cleared",
        ),
        (
            "Phase 1 length (median)",
            _days(d["p50"]),
            f"first infusion to the last DLT decision; 80% of trials {_days(d['p10'])} to "
            f"{_days(d['p90'])}{late}",
        ),
    ]
    shares = ph["recommended_level"]
    doses = ph["dose_levels_per_kg"]
    rows = [
        (f"level {k}", f"{doses[int(k) - 1]:.1e}", pct(v))
        for k, v in shares.items()
        if k not in ("none", "unfinished")
    ]
    rows.append(("none (stopped for toxicity)", "", pct(shares["none"])))
    rows.append(("phase 1 unfinished", "", pct(shares["unfinished"])))
    table = pd.DataFrame(rows, columns=["dose level recommended", "dose (cells/kg)", "trials"])
    return tiles, table.set_index("dose level recommended")


def _days(x: float | None) -> str:
    """``361 days``, or where a percentile falls among the trials whose phase 1 never ended."""
    return days(x) if x is None else f"{days(x, '.0f')} days"


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


# --- costs -----------------------------------------------------------------------------------

COST_HELP = {
    "Cost per trial": "Total cost of one simulated trial, from the scenario's costs block: "
    "the mean over the simulated trials; 80%: from the 10th to the 90th percentile.",
    "Cost per infused patient": "Each simulated trial's cost divided by its infused patients, "
    "averaged over the trials with one or more infused; 80%: the 10th to 90th percentile "
    "of those trials.",
    "Per infused patient, ratio of the means": "The mean cost per trial divided by the mean "
    "infused patients per trial (every trial counts): a cost per infused patient weighted by "
    "trial size.",
}


def cost_tiles(summary: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The costs of a run as tiles (label, value, note), each with its 80% interval; empty
    without a costs block."""
    c = summary.get("costs")
    if not c:
        return []
    return total_tiles(c["per_trial"], c["per_infused_patient"], "trial")


def total_tiles(t: dict[str, Any], p: dict[str, Any] | None, of: str) -> list[tuple[str, str, str]]:
    """A total cost per ``of`` (a trial, a facility run) and its cost per infused patient
    (none when ``p`` is None) as tiles, each with its 80% interval."""
    tiles = [(f"Cost per {of}", money(t["mean"]), f"80% of {of}s {money(t['p10'])} to "
              f"{money(t['p90'])}")]  # fmt: skip
    if p is None:
        return tiles
    without = p["trials_without_infused"]
    left_out = f"; {without} {of}s with none infused left out" if without else ""
    return [
        *tiles,
        ("Cost per infused patient", money(p["mean_of_trial_ratios"]),
         f"80% of {of}s {money(p['p10'])} to {money(p['p90'])}{left_out}"),
        ("Per infused patient, ratio of the means", money(p["ratio_of_means"]),
         f"mean cost per {of} / mean infused per {of}"),
    ]  # fmt: skip


def cost_table(summary: dict[str, Any]) -> pd.DataFrame:
    """A run's costs by category, a row each priced one: what is priced (its price and that
    quantity's mean per trial), the cost per trial (mean) and its 80% interval; three
    columns, so that it fits a phone."""
    c = summary.get("costs") or {}
    rows = [
        {
            "category": f"{k['quantity']} ({money(k['price'])} each, "
            f"{k['quantity_mean']:,.1f} per trial)",
            "mean per trial": money(k["mean"]),
            "80% of trials": f"{money(k['p10'])} to {money(k['p90'])}",
        }
        for k in (c.get("by_category") or {}).values()
        if k["price"]
    ]
    return pd.DataFrame(rows)


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
    """``other`` minus ``reference`` on each compared figure, the means and their difference
    over the same trials, in the figure's unit (see
    :func:`sim.report.comparison.comparison_rows`)."""
    return pd.DataFrame(comparison_rows(_as_results(reference), _as_results(other)))


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
