"""Shared fixtures: the reference workload, and small scenarios built from a base dict."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from sim.core.scenario import Scenario, apply_overrides, validate_scenario

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
"""Developers' reading beside a checkout (absent from a user's clone): tests that use it skip."""
REFERENCE_WORKLOAD = ROOT / "tests" / "fixtures" / "reference_workload.yaml"
"""A copy of the shared reference workload, so that the suite stands alone."""
SHARED_WORKLOAD = SHARED / "bench" / "reference_workload.yaml"
SCENARIOS = ROOT / "scenarios"

BASE: dict[str, Any] = {
    "name": "Test base",
    "start_date": "2016-01-04",  # a Monday
    "horizon_days": 2000,
    "target": {"count": 30, "milestone": "infused", "deadline": "2019-12-31"},
    "follow_up_days": 30,
    "referral": {"sites": [{"name": "A", "rate_per_month": 3.0}], "rate_shape": None},
    "screening": {
        "duration_days": {"dist": "uniform", "low": 5, "high": 15},
        "consent_decline_prob": 0.05,
        "criteria": {"cd19_negative": 0.05, "lvef_below_0_5": 0.05, "active_infection": 0.1},
    },
    "patients": {
        "weight_kg": {"dist": "lognormal", "mean": 60, "sd": 12},
        "height_cm": {"dist": "uniform", "low": 150, "high": 185},
    },
    "apheresis": {
        "slots": 1,
        "duration_days": 1,
        "weekdays_only": True,
        "failure_prob": 0.05,
        "max_attempts": 2,
        "retry_after_days": 7,
    },
    "manufacturing": {
        "suites": 2,
        "duration_days": {"dist": "triangular", "low": 7, "mode": 9, "high": 12},
        "qc_release_days": 3,
        "failure_prob": 0.05,
        "max_attempts": 2,
        "yield_cells": {"dist": "lognormal", "mean": 1.5e9, "sd": 6.0e8},
    },
    "dose": {"min_per_kg": 5.0e6, "max_per_kg": 1.0e7},
    "deterioration": {
        "time_to_event_days": {"dist": "exponential", "mean": 300},
        "bridging": {"prob": 0.5, "time_ratio": 1.5},
    },
    "conditioning": {
        "days_before_infusion": 5,
        "fludarabine_mg_per_m2_per_day": 30,
        "cyclophosphamide_mg_per_m2_per_day": 300,
        "treatment_days": 3,
    },
    "infusion": {"beds": 2, "stay_days": {"dist": "gamma", "mean": 21, "sd": 7},
                 "icu_prob": 0.3, "icu_days": 7},
}


def make_scenario(*overrides: str, base: dict[str, Any] | None = None, **values: Any
                  ) -> Scenario:
    """The base scenario with ``dotted.key=value`` strings and/or ``dotted__key=value`` kwargs."""
    from sim.core.scenario import parse_override

    data = copy.deepcopy(base or BASE)
    pairs = [parse_override(o) for o in overrides]
    pairs += [(k.replace("__", "."), v) for k, v in values.items()]
    return validate_scenario(apply_overrides(data, pairs), source="<test>")


@pytest.fixture
def base_scenario() -> Scenario:
    return make_scenario()
