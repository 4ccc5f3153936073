"""One-at-a-time sensitivity for the dashboard, without Streamlit:
:func:`sensitivity_params` (a ranges file or the default ranges), :func:`run_sensitivity`,
readable parameter names (:func:`parameter_label`), the table of the swings and the
figures in words. Everything returned is plain data, so the app can cache it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sim.app import form
from sim.core.scenario import Scenario
from sim.planning.ranges import Parameter, default_ranges, parse_ranges
from sim.planning.sensitivity import runs_needed
from sim.planning.sensitivity import sensitivity as run_oat
from sim.report.text import date_label, short
from sim.run.executors import ExecutorSpec

Progress = Callable[[int], None] | None

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
        p = form.PARAMS_BY_PATH.get(".".join(parts[:n]))
        if p is None:
            continue
        rest = " ".join(_DIST_PARTS.get(r, r.replace("_", " ")) for r in parts[n:]).strip()
        label = f"{p.label}, {rest}" if rest else p.label
        return f"{label} ({p.unit})" if p.unit else label
    return key


def range_label(row: Mapping[str, Any]) -> str:
    """A tornado row's name with its range: ``Apheresis slots (count): 1 to 2``."""
    return f"{row.get('label') or row['parameter']}: {short(row['low'])} to {short(row['high'])}"


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
                f"(about {date_label(when)})"
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
                f"{_bare(name).lower()} from {short(r['low'])} to {short(r['high'])}: {lo} → {hi}"
            )
        lines.append(f"{head}. Moved most by " + "; ".join(parts) + ".")
    return lines


def _unit(unit: str) -> str:
    return unit if unit == "%" else f" {unit}"
