"""Sensitivity for the dashboard, without Streamlit: :func:`sensitivity_params` (a ranges
file or the default ranges), :func:`run_sensitivity` (one at a time, Morris or Sobol),
readable parameter names (:func:`parameter_label`), the table of the swings or indices, the
figures in words and the sampling error's warnings. Everything returned is plain data, so
the app can cache it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sim.app import form
from sim.core.scenario import Scenario
from sim.planning.ranges import Parameter, default_ranges, parse_ranges
from sim.planning.sensitivity import METHODS, runs_needed
from sim.planning.sensitivity import sensitivity as run_method
from sim.report.planning import half_width, sampling_lines
from sim.report.text import date_label, short
from sim.run.executors import ExecutorSpec

Progress = Callable[[int], None] | None

DEFAULT_RANGES = "±25% of every number (counts ±1)"
FIGURES = {
    # output: (axis title with unit, scale, number format, in words)
    "median_time_to_target_days": ("Median time to the target (days)", 1.0, ",.0f", "days"),
    "prob_target_by_deadline": ("Chance of the target by the deadline (%)", 100.0, ".0f", "%"),
}


METHOD_LABELS = {
    "oat": "One at a time (tornado)",
    "morris": "Morris screening",
    "sobol": "Sobol variance indices",
}
"""The methods in words, in :data:`sim.planning.sensitivity.METHODS` order."""
DEFAULT_SAMPLES = {"oat": 0, "morris": 10, "sobol": 64}
"""Morris trajectories and Sobol base samples when none are given."""
SOBOL_SAMPLES = (16, 32, 64, 128, 256, 512, 1024)
"""The Sobol base samples offered (powers of two)."""
INDEX_COLUMNS = {
    "morris": {
        "mu_star": "mu* (mean absolute effect)",
        "mu_star_conf": "mu* ±95%",
        "sigma": "sigma (interactions)",
    },
    "sobol": {
        "S1": "S1 (alone)",
        "S1_conf": "S1 ±95%",
        "ST": "ST (with interactions)",
        "ST_conf": "ST ±95%",
    },
}
assert tuple(METHOD_LABELS) == METHODS


def ranges_files(folder: Path) -> list[Path]:
    """The ranges files of the scenarios (``ranges/NAME.yaml`` goes with ``NAME.yaml``)."""
    return sorted((folder / "ranges").glob("*.yaml"))


def sensitivity_params(
    scenario: Scenario,
    ranges_text: str | None = None,
    source: str = "ranges",
    method: str = "oat",
) -> tuple[list[Parameter], str]:
    """The parameters to vary and where their ranges come from: the text of a ranges file
    (validated against the scenario for ``method``; InputError naming ``source`` and the key
    if it does not fit) or, with no text, the default ranges."""
    if ranges_text is None:
        return default_ranges(scenario), DEFAULT_RANGES
    return parse_ranges(ranges_text, source, scenario, method), source


def sensitivity_runs(params: Sequence[Parameter], method: str = "oat", samples: int = 0) -> int:
    """Scenario runs of a method (one at a time: the base and each end that moves)."""
    return runs_needed(method, params, samples or DEFAULT_SAMPLES[method])


def run_sensitivity(
    scenario: Scenario,
    params: Sequence[Parameter],
    *,
    reps: int,
    seed: int,
    executor: str | ExecutorSpec = "serial",
    progress: Progress = None,
    method: str = "oat",
    samples: int | None = None,
) -> dict[str, Any]:
    """Sensitivity by ``method`` (plain data), each tornado or index row with a readable
    ``label``."""
    result = run_method(
        scenario,
        method,
        list(params),
        reps=reps,
        seed=seed,
        samples=samples,
        executor=executor,
        progress=progress,
    )
    for rows in result.get("tornado", result.get("indices", {})).values():
        for row in rows:
            row["label"] = parameter_label(row["parameter"], scenario)
    return result


def indices_table(result: Mapping[str, Any], output: str) -> pd.DataFrame:
    """Morris or Sobol indices of one figure, one row a parameter in rank order."""
    cols = INDEX_COLUMNS[result["method"]]
    rows = [
        {"parameter": r.get("label") or r["parameter"], "scenario key": r["parameter"]}
        | {label: r[key] for key, label in cols.items()}
        for r in result["indices"].get(output, [])
    ]
    return pd.DataFrame(rows, columns=["parameter", "scenario key", *cols.values()])


def sampling_words(result: Mapping[str, Any], output: str) -> tuple[list[str], list[str]]:
    """The sampling error of a Morris or Sobol figure in words: (notes, warnings)."""
    lines = [re.sub(r" \(--\w+ \d+\)", "", line) for line in sampling_lines(dict(result), output)]
    warnings = [line.removeprefix("WARNING: ") for line in lines if line.startswith("WARNING")]
    return [line for line in lines if not line.startswith("WARNING")], warnings


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
    at each end, their swings (days; percentage points) and the larger half-width of the
    paired 95% intervals of the two ends' changes."""
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
                "±95% (days)": half_width(m) if m else None,
                "chance at low (%)": 100 * p["at_low"] if p else None,
                "chance at high (%)": 100 * p["at_high"] if p else None,
                "swing (points)": 100 * p["swing"] if p else None,
                "±95% (points)": _times(100, half_width(p)) if p else None,
            }
        )
    return pd.DataFrame(rows)


def _times(k: float, x: float | None) -> float | None:
    return None if x is None else k * x


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
        moving = [r for r in rows if r["swing"] > 0 and not r.get("within_noise")][:top]
        if not moving:
            lines.append(
                f"{head}; no parameter moves it over its range by more than chance "
                f"({result['replications']:,} trials a run)."
            )
            continue
        parts = []
        for r in moving:
            lo, hi = (format(scale * r[k], fmt) + _unit(unit) for k in ("at_low", "at_high"))
            name = r.get("label") or r["parameter"]
            parts.append(
                f"{_bare(name).lower()} from {short(r['low'])} to {short(r['high'])}: {lo} → {hi}"
            )
        noisy = sum(bool(r.get("within_noise")) for r in rows)
        tail = (
            f" {noisy} of {len(rows)} swings cannot be told from chance with "
            f"{result['replications']:,} trials a run."
            if noisy
            else ""
        )
        lines.append(f"{head}. Moved most by " + "; ".join(parts) + "." + tail)
    return lines


def _unit(unit: str) -> str:
    return unit if unit == "%" else f" {unit}"
