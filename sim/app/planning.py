"""What the dashboard's planning views need, without Streamlit.

- Capacity sizing: :func:`sizing_with_grid` runs :func:`sim.planning.sizing.size` and a small
  sweep of manufacturing suites x apheresis slots around its answer (same seed: common random
  numbers, so the heat map's cell at the answer is the answer's own figure);
  :func:`sizing_words` says the answer and its evidence in plain words.
- Sensitivity: :func:`sensitivity_params` (a ranges file or the default ranges) and
  :func:`run_sensitivity` (one at a time), with readable parameter names
  (:func:`parameter_label`) and a table of the swings.
- Forecast from observed data: :func:`read_log_upload`, :func:`run_forecast` (the prior and
  updated forecasts as plain data) and :func:`posterior_words`.

Everything returned is plain data (dicts, frames, frozen dataclasses), so the app can cache
it and the tests can check it without a browser.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.app import state
from sim.core.errors import InputError
from sim.core.scenario import Scenario
from sim.core.yamlio import decode_text
from sim.forecasting.forecast import forecast
from sim.forecasting.observed import MAX_LOG_BYTES, ObservedLog
from sim.planning.grid import point_scenario
from sim.planning.ranges import Parameter, default_ranges, parse_ranges
from sim.planning.sensitivity import runs_needed
from sim.planning.sensitivity import sensitivity as run_oat
from sim.planning.sizing import capacity_keys, size
from sim.planning.sweep import sweep, sweep_frame
from sim.run.executors import ExecutorSpec

Progress = Callable[[int], None] | None

# --- capacity sizing -------------------------------------------------------------------------

DEFAULT_RESOURCES = ("manufacturing.suites", "apheresis.slots")
HEAT_ROWS = "manufacturing.suites"
HEAT_COLUMNS = "apheresis.slots"
HEAT_SIDE_MAX = 5
"""At most this many values of each heat-map axis (a 5 x 5 grid: 25 configurations)."""


def sizeable(scenario: Scenario) -> list[str]:
    """The scenario's counts that can be sized (apheresis.slots, manufacturing.suites,
    infusion.beds), in the order the defaults are listed first."""
    keys = capacity_keys(scenario)
    return [k for k in DEFAULT_RESOURCES if k in keys] + [
        k for k in keys if k not in DEFAULT_RESOURCES
    ]


def resource_title(key: str) -> str:
    """``Manufacturing suites``: the form's label of a sizeable count."""
    p = state.PARAMS_BY_PATH.get(key)
    return p.label if p else key


def count_words(key: str, n: int) -> str:
    """``2 manufacturing suites``, ``1 apheresis slot``, ``3 infusion beds``."""
    stage, _, noun = key.rpartition(".")
    stage = stage.rsplit(".", 1)[-1]
    if n == 1 and noun.endswith("s"):
        noun = noun[:-1]
    return f"{n} {stage} {noun}"


def config_words(values: Mapping[str, int]) -> str:
    """``2 manufacturing suites and 1 apheresis slot``."""
    parts = [count_words(k, int(v)) for k, v in values.items()]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def chosen_config(result: Mapping[str, Any]) -> dict[str, int]:
    """The answer of a sizing (or, when no configuration reaches the probability, the
    cheapest configuration reaching the highest probability found)."""
    pick = result["answer"] if result["feasible"] else result["best_found"]
    return {k: int(v) for k, v in pick["set"].items()}


def heatmap_axes(scenario: Scenario, result: Mapping[str, Any]) -> dict[str, list[int]]:
    """The heat map's grid: suites and slots from 1 (or higher, for a large answer) to one
    above the answer, at least to 3, at most :data:`HEAT_SIDE_MAX` values each. An axis that
    was not sized is centred on the scenario's own value."""
    chosen = chosen_config(result)
    current = scenario.to_dict()
    grid = {}
    for key in (HEAT_ROWS, HEAT_COLUMNS):
        centre = chosen.get(key, int(state.get_path(current, key)))
        hi = max(centre + 1, 3)
        lo = max(1, hi - HEAT_SIDE_MAX + 1)
        grid[key] = list(range(lo, hi + 1))
    return grid


def heatmap_scenario(scenario: Scenario, result: Mapping[str, Any]) -> Scenario:
    """The scenario the heat map sweeps: any other sized resource (beds) at the answer."""
    others = {k: v for k, v in chosen_config(result).items() if k not in (HEAT_ROWS, HEAT_COLUMNS)}
    return point_scenario(scenario, others, source="sizing") if others else scenario


def sizing_with_grid(
    scenario: Scenario,
    resources: Sequence[str],
    probability: float,
    *,
    reps: int,
    seed: int,
    max_units: int,
    criterion: str = "estimate",
    executor: str | ExecutorSpec = "serial",
    progress: Progress = None,
    grid_progress: Progress = None,
) -> dict[str, Any]:
    """The sizing (``size``) and the heat map's sweep around its answer, on the same seed
    and replications: ``{"sizing": ..., "heatmap": ...}`` (plain data)."""
    result = size(
        scenario,
        list(resources),
        probability,
        reps=reps,
        seed=seed,
        max_units=max_units,
        criterion=criterion,
        executor=executor,
        progress=progress,
    )
    grid = heatmap_axes(scenario, result)
    heat = sweep(
        heatmap_scenario(scenario, result),
        grid,
        reps,
        seed,
        executor=executor,
        progress=grid_progress,
    )
    return {"sizing": result, "heatmap": heat}


def heatmap_points(heat: Mapping[str, Any]) -> pd.DataFrame:
    """The heat map's sweep, one row a configuration (see
    :func:`sim.planning.sweep.sweep_frame`)."""
    return sweep_frame(dict(heat))


def heatmap_subtitle(result: Mapping[str, Any], heat: Mapping[str, Any]) -> list[str]:
    """The heat map's legend in words: trials a cell, what the outline and ticks mark."""
    outlined = "the answer" if result["feasible"] else "the fewest units at the highest chance"
    return [
        f"{heat['replications']:,} simulated trials a cell (seed {heat['seed']}).",
        "Beneath each chance: its 95% interval.",
        f"Outlined: {outlined}.",
        f"✓: at least the {_pct(result['probability_wanted'])} wanted.",
    ]


def evaluations_table(result: Mapping[str, Any]) -> pd.DataFrame:
    """Every configuration the sizing simulated, fewest units first: the count of each
    resource, the units, the chance (%) with its 95% interval, and whether it meets the
    wanted chance."""
    rows = []
    for e in result["evaluations"]:
        lo, hi = e["prob_ci95"]
        rows.append(
            {
                **{resource_title(k): v for k, v in e["set"].items()},
                "units": e["units"],
                "chance by the deadline (%)": round(100 * e["prob_target_by_deadline"], 1),
                "95% interval (%)": f"{100 * lo:.0f} to {100 * hi:.0f}",
                "meets the wanted chance": bool(e["meets"]),
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    keys = [resource_title(k) for k in result["resources"]]
    return frame.sort_values(["units", *keys], kind="stable").reset_index(drop=True)


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%"


def _with_interval(e: Mapping[str, Any]) -> str:
    lo, hi = e["prob_ci95"]
    return f"{_pct(e['prob_target_by_deadline'])} (95% interval {_pct(lo)} to {_pct(hi)})"


@dataclass(frozen=True)
class SizingText:
    """A sizing in words: the answer (markdown), the evidence at one unit less, the search
    effort, notes, and what the heat map shows."""

    answer: str
    evidence: list[str]
    effort: str
    notes: list[str]
    grid: str


def sizing_words(result: Mapping[str, Any], heat: Mapping[str, Any] | None = None) -> SizingText:
    t = result["target"]
    goal = f"{t['count']} {t['milestone']} by {state.day_label(t['deadline'])}"
    want = _pct(result["probability_wanted"])
    strict = result["criterion"] == "lower"
    by = " (by its 95% lower bound)" if strict else ""
    reps = result["replications"]
    if result["feasible"]:
        a = result["answer"]
        which = (
            "with the fewest units"
            if result["cheaper_points_ruled_out"]
            else "with a minimal configuration (perhaps not the fewest units)"
        )
        answer = (
            f"**{config_words(a['set'])}**: a chance of {_with_interval(a)} of {goal}, "
            f"at least the {want} wanted{by}, {which}."
        )
    else:
        top, best = result["highest_probability"], result["best_found"]
        answer = (
            f"**Not reachable:** no configuration with each resource at most "
            f"{result['max_units']} gives {goal} a chance of at least {want}{by}. "
            f"The highest chance, with every resource at {result['max_units']}, is "
            f"{_with_interval(top)}, and as high a chance comes with as little as "
            f"**{config_words(best['set'])}**, at {_with_interval(best)}: more of these "
            "resources does not raise it, so what "
            "limits the target lies elsewhere (the Sensitivity tab shows what moves it)."
        )
    evidence = []
    for e in result["one_unit_less"]:
        if e["set"] is None:
            evidence.append(f"{resource_title(e['resource'])}: already at the minimum, 1.")
            continue
        n = e["set"][e["resource"]]
        if result["feasible"]:
            verdict = "also meets it" if e["meets"] else "falls short"
        else:
            same = e["reached_by_deadline"] >= result["best_found"]["reached_by_deadline"]
            verdict = "as high" if same else "lower"
        evidence.append(
            f"With {count_words(e['resource'], n)} (one less): {_with_interval(e)}: {verdict}."
        )
    effort = (
        f"Simulated {result['configurations_simulated']} of {result['lattice_size']:,} "
        f"configurations, {reps:,} trials each (seed {result['seed']}, the same simulated "
        "patients in each: common random numbers)"
    )
    if result["cheaper_points_ruled_out"]:
        effort += (
            "; every configuration with fewer units was ruled out, on the assumption that "
            "more capacity never lowers the chance on the same patients."
        )
    else:
        effort += (
            "; too many configurations to rule out every one with fewer units, so the answer "
            "is minimal (one unit less of anything falls short) but may not be the fewest."
        )
    effort += f" The scenario as set has {config_words(result['current'])}."
    grid = ""
    if heat is not None:
        points = heatmap_points(heat)
        probs = points["prob_target_by_deadline"].astype(float)
        axes = heat["grid"]
        span = " x ".join(f"{resource_title(k).lower()} {v[0]} to {v[-1]}" for k, v in axes.items())
        others = {
            k: v for k, v in chosen_config(result).items() if k not in (HEAT_ROWS, HEAT_COLUMNS)
        }
        held = f", {config_words(others)} as in the answer" if others else ""
        grid = (
            f"Over the heat map ({span}{held}; {len(points)} configurations, the same "
            f"{heat['replications']:,} trials each) the chance ranges from {_pct(probs.min())} "
            f"to {_pct(probs.max())}."
        )
    return SizingText(answer, evidence, effort, list(result["notes"]), grid)


# --- sensitivity -----------------------------------------------------------------------------

DEFAULT_RANGES = "±25% of every number (counts ±1)"
FIGURES = {
    # output: (axis title with unit, scale, number format, in words)
    "median_time_to_target_days": ("Median time to the target (days)", 1.0, ",.0f", "days"),
    "prob_target_by_deadline": ("Chance of the target by the deadline (%)", 100.0, ".0f", "%"),
}


def ranges_files(folder: Path) -> list[Path]:
    """The ranges files of the scenarios (``ranges/NAME.yaml`` goes with ``NAME.yaml``)."""
    return sorted((folder / "ranges").glob("*.yaml"))


def sensitivity_params(
    scenario: Scenario, ranges_text: str | None = None, source: str = "ranges"
) -> tuple[list[Parameter], str]:
    """The parameters to vary and where their ranges come from: the text of a ranges file
    (validated against the scenario; InputError naming ``source`` and the key if it does not
    fit) or, with no text, the default ranges."""
    if ranges_text is None:
        return default_ranges(scenario), DEFAULT_RANGES
    return parse_ranges(ranges_text, source, scenario, "oat"), source


def sensitivity_runs(params: Sequence[Parameter]) -> int:
    """Scenario runs of one-at-a-time sensitivity (the base and each end that moves)."""
    return runs_needed("oat", params, 0)


def run_sensitivity(
    scenario: Scenario,
    params: Sequence[Parameter],
    *,
    reps: int,
    seed: int,
    executor: str | ExecutorSpec = "serial",
    progress: Progress = None,
) -> dict[str, Any]:
    """One-at-a-time sensitivity (plain data), each tornado row with a readable ``label``."""
    result = run_oat(
        scenario, "oat", list(params), reps=reps, seed=seed, executor=executor, progress=progress
    )
    for rows in result["tornado"].values():
        for row in rows:
            row["label"] = parameter_label(row["parameter"], scenario)
    return result


_SITE_FIELDS = {
    "rate_per_month": "Referral rate (patients/month)",
    "opens_day": "Opening day (days from the start)",
    "ramp_up_days": "Ramp-up (days)",
    "rate_shape": "Gamma shape of the rate (no unit)",
}
_DIST_PARTS = {"value": "", "mean": "mean", "sd": "sd", "low": "low", "mode": "mode"}


def parameter_label(key: str, scenario: Scenario | None = None) -> str:
    """A scenario key in words, with its unit: ``Manufacturing duration, mode (days)``,
    ``Referral rate (patients/month)`` (``, site 2`` when there are several sites),
    ``Fails screening: active infection (probability 0-1)``."""
    parts = key.split(".")
    if key.startswith("referral.sites.") and len(parts) == 4 and parts[2].isdigit():
        label = _SITE_FIELDS.get(parts[3], parts[3].replace("_", " "))
        several = scenario is not None and len(scenario.referral.sites) > 1
        if several:
            name, _, unit = label.partition(" (")
            return f"{name}, site {int(parts[2]) + 1} ({unit}"
        return label
    if key.startswith("screening.criteria.") and len(parts) == 3:
        return f"Fails screening: {parts[2].replace('_', ' ')} (probability 0-1)"
    for n in range(len(parts), 0, -1):
        p = state.PARAMS_BY_PATH.get(".".join(parts[:n]))
        if p is None:
            continue
        rest = " ".join(_DIST_PARTS.get(r, r.replace("_", " ")) for r in parts[n:]).strip()
        label = f"{p.label}, {rest}" if rest else p.label
        return f"{label} ({p.unit})" if p.unit else label
    return key


def _short(x: float) -> str:
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        mantissa, _, exp = f"{x:.2g}".partition("e")
        return f"{mantissa}e{int(exp)}"
    return f"{x:.4g}"


def range_label(row: Mapping[str, Any]) -> str:
    """A tornado row's name with its range: ``Apheresis slots (count): 1 to 2``."""
    return f"{row.get('label') or row['parameter']}: {_short(row['low'])} to {_short(row['high'])}"


def tornado_rows(result: Mapping[str, Any], output: str) -> list[dict[str, Any]]:
    """The tornado rows of one figure, each labelled with its range (for the chart)."""
    return [{**r, "label": range_label(r)} for r in result["tornado"].get(output, [])]


def sensitivity_table(result: Mapping[str, Any]) -> pd.DataFrame:
    """One row a parameter (largest swing in the median first): its range and both figures
    at each end, and their swings (days; percentage points)."""
    tornado = result["tornado"]
    med = {r["parameter"]: r for r in tornado.get("median_time_to_target_days", [])}
    prob = {r["parameter"]: r for r in tornado.get("prob_target_by_deadline", [])}
    order = list(med) or list(prob)
    rows = []
    for key in order:
        m, p = med.get(key), prob.get(key)
        r = m or p
        assert r is not None
        rows.append(
            {
                "parameter": r.get("label") or key,
                "scenario key": key,
                "low": r["low"],
                "high": r["high"],
                "median days at low": m["at_low"] if m else None,
                "median days at high": m["at_high"] if m else None,
                "swing (days)": m["swing"] if m else None,
                "chance at low (%)": 100 * p["at_low"] if p else None,
                "chance at high (%)": 100 * p["at_high"] if p else None,
                "swing (points)": 100 * p["swing"] if p else None,
            }
        )
    return pd.DataFrame(rows)


def _bare(label: str) -> str:
    """A label without its trailing ``(unit)``."""
    return label.rsplit(" (", 1)[0] if label.endswith(")") else label


def sensitivity_words(result: Mapping[str, Any], scenario: Scenario, top: int = 3) -> list[str]:
    """Per figure: its value at the scenario's values and the parameters that move it most
    (each from the low to the high end of its range)."""
    lines = []
    for output, rows in result["tornado"].items():
        _, scale, fmt, unit = FIGURES[output]
        base = result["base"][output]
        if output == "median_time_to_target_days":
            when = scenario.start_date + dt.timedelta(days=int(base))
            head = (
                f"**Median time to the target:** {base:,.0f} days at the scenario's values "
                f"(about {state.day_label(when)})"
            )
        else:
            head = f"**Chance of the target by the deadline:** {scale * base:.0f}%"
        moving = [r for r in rows if r["swing"] > 0][:top]
        if not moving:
            lines.append(f"{head}; no parameter moves it over its range.")
            continue
        parts = []
        for r in moving:
            lo, hi = (format(scale * r[k], fmt) + _unit(unit) for k in ("at_low", "at_high"))
            name = r.get("label") or r["parameter"]
            parts.append(
                f"{_bare(name).lower()} from {_short(r['low'])} to {_short(r['high'])}: {lo} → {hi}"
            )
        lines.append(f"{head}. Moved most by " + "; ".join(parts) + ".")
    return lines


def _unit(unit: str) -> str:
    return unit if unit == "%" else f" {unit}"


# --- forecast from observed data -------------------------------------------------------------

EXAMPLE_LOG = "observed_example.csv"
EXAMPLE_AS_OF = dt.date(2017, 6, 1)
"""The date the example log is complete to (it is the baseline cut at that date)."""


def read_log_upload(data: bytes, name: str) -> str:
    """An uploaded observed log as text, or InputError (too large, binary, not UTF-8)."""
    if b"\x00" in data[:MAX_LOG_BYTES]:
        raise InputError("is a binary file, not a CSV table", source=name)
    return decode_text(data, name, MAX_LOG_BYTES)


def app_message(exc: InputError) -> str:
    """An observed log's error in the app's words (the library names the command line's
    ``--as-of`` option; here it is the as-of date input)."""
    return exc.message.replace("--as-of", "the as-of date")


@dataclass(frozen=True)
class ForecastView:
    """A forecast from observed data, as the view draws it (plain data)."""

    summary: dict[str, Any]
    """Observed counts, posterior, both forecasts (``Forecast.summary``)."""
    prior_fan: pd.DataFrame
    updated_fan: pd.DataFrame
    observed: dict[str, list[float]]
    """Observed milestone days (enrolled, infused), for the step lines."""
    as_of: dt.date
    source: str


def run_forecast(
    scenario: Scenario,
    log: ObservedLog,
    *,
    reps: int,
    seed: int,
    executor: str | ExecutorSpec = "serial",
    progress: Progress = None,
) -> ForecastView:
    """The prior forecast (the scenario alone) and the one updated by the log."""
    f = forecast(scenario, log, reps, seed, executor=executor, progress=progress)
    return ForecastView(
        summary=f.summary(),
        prior_fan=f.prior.fan(),
        updated_fan=f.updated.fan(),
        observed=f.observed_cumulative(),
        as_of=log.as_of,
        source=log.source,
    )


def posterior_words(summary: Mapping[str, Any]) -> list[str]:
    """What the log says, prior -> posterior: the observed counts, each site's referral
    rate, the screen-failure and batch-failure probabilities."""
    o = summary["observed"]
    post = summary["posterior"]
    lines = [
        f"Observed to {state.day_label(summary['as_of'])}: {o['referred']} referred, "
        f"{o['enrolled']} enrolled, {o['infused']} infused, {o['in_pathway']} still in the "
        "pathway."
    ]
    for name, s in post["sites"].items():
        lines.append(
            f"Referral rate of {name}: {s['prior_rate_per_month']:.2f} → "
            f"**{s['posterior_rate_per_month']:.2f}** patients/month "
            f"({s['observed_referrals']} referrals seen in {s['exposure_months']:.1f} months "
            "at the full rate)."
        )
    for key, what, of in (
        ("screen_fail_prob", "Screen failure", "screened patients"),
        ("manufacturing_failed_prob", "Manufacturing failed (every batch)", "patients"),
    ):
        b = post.get(key)
        if b is None:
            continue
        lo, hi = b["posterior_90_interval"]
        lines.append(
            f"{what}: {_pct1(b['prior'])} → **{_pct1(b['posterior_mean'])}** "
            f"(90% interval {_pct1(lo)} to {_pct1(hi)}; {b['observed_failures']:g} of "
            f"{b['observed_trials']:g} {of} observed)."
        )
    batch = post.get("batch_fail_prob")
    whole = post.get("manufacturing_failed_prob") or {}
    same = batch is not None and all(batch[k] == whole.get(k) for k in ("prior", "posterior_mean"))
    if batch is not None and not same:  # one batch a patient: the line above says it
        lines.append(
            f"So each batch fails with probability {_pct1(batch['prior'])} → "
            f"**{_pct1(batch['posterior_mean'])}** (QC or low yield)."
        )
    return lines


def _pct1(p: float) -> str:
    return f"{100 * p:.1f}%"
