"""The scenarios of the checks: a neutral pathway that does nothing (each analytic check
switches on the stage it tests), and the scenario files shipped in the repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.core.errors import InputError
from sim.core.scenario import Scenario, load_scenario, validate_scenario

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
"""The repository's ``scenarios`` folder."""

NEUTRAL: dict[str, Any] = {
    "name": "Verification: neutral pathway",
    "start_date": "2016-01-04",
    "horizon_days": 1000,
    "target": {"count": 1_000_000, "milestone": "infused", "deadline": None},
    "follow_up_days": 0,
    "referral": {"sites": [{"name": "A", "rate_per_month": 1.0}], "rate_shape": None},
    "screening": {"duration_days": 0, "consent_decline_prob": 0, "criteria": {}},
    "patients": {"weight_kg": 60, "height_cm": 165},
    "apheresis": {
        "slots": 10000,
        "duration_days": 0,
        "weekdays_only": False,
        "failure_prob": 0,
        "max_attempts": 1,
        "retry_after_days": 0,
    },
    "manufacturing": {
        "suites": 10000,
        "duration_days": 0,
        "qc_release_days": 0,
        "failure_prob": 0,
        "max_attempts": 1,
        "yield_cells": None,
    },
    "dose": {"min_per_kg": 5.0e6, "max_per_kg": 1.0e7},
    "deterioration": None,
    "conditioning": {
        "days_before_infusion": 0,
        "fludarabine_mg_per_m2_per_day": 30,
        "cyclophosphamide_mg_per_m2_per_day": 300,
        "treatment_days": 0,
    },
    "infusion": {"beds": 10000, "stay_days": 0, "icu_prob": 0},
}
"""A pathway that does nothing: no waits, no losses, zero durations, ample capacity. Each
analytic check switches on the one stage it tests."""


def neutral(**parts: Any) -> Scenario:
    """The neutral pathway with whole blocks (or top-level values) replaced or merged."""
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in NEUTRAL.items()}
    for key, value in parts.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return validate_scenario(data, source="verify")


def shipped_scenario(filename: str) -> Scenario:
    """A scenario file shipped in the repository's ``scenarios`` folder (or ``./scenarios``)."""
    for folder in (SCENARIO_DIR, Path.cwd() / "scenarios"):
        path = folder / filename
        if path.is_file():
            return load_scenario(str(path))
    raise InputError(
        "not found beside the package or in ./scenarios; run verify from the repository",
        source=f"scenarios/{filename}",
    )
