"""Phase 1 pacing: a schedule computed by hand, the 3+3 decisions against the binomial
formulas, and the pacing rules (stagger, DLT window, slot order) over many replications of
the shipped phase 1 scenario."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pandas as pd

from sim.core.scenario import Scenario, validate_scenario
from sim.run.runner import run_replications, simulate
from sim.verify.records import EXACT_ABS, CheckGroup, VerifyConfig, exactly, within_se
from sim.verify.scenarios import NEUTRAL, shipped_scenario

LEAD, STAGGER, WINDOW = 5.0, 7.0, 28.0


def fixed_phase1(levels: list[dict[str, float]], rate: float = 60.0, **phase1: Any) -> Scenario:
    """Fixed durations (collection 1, manufacturing 9, QC 3, lead 5, stay 14 days), ample
    capacity, no loss, ``rate`` referrals a month: a phase 1 whose schedule is known by
    hand."""
    data = copy.deepcopy(NEUTRAL)
    data["name"] = "Verification: phase 1 with fixed durations"
    data.update(horizon_days=1500, target={"count": 6 * len(levels) + 1, "deadline": None})
    data["referral"]["sites"][0]["rate_per_month"] = rate
    data["apheresis"]["duration_days"] = 1.0
    data["manufacturing"].update(duration_days=9.0, qc_release_days=3.0)
    data["conditioning"].update(days_before_infusion=LEAD, treatment_days=3)
    data["infusion"]["stay_days"] = 14.0
    data["phase1"] = {
        "cohort_size": 3,
        "stagger_days": STAGGER,
        "dlt_window_days": WINDOW,
        "dose_levels": levels,
        **phase1,
    }
    return validate_scenario(data, source="verify")


def clears(p: float) -> float:
    """Chance that 3+3 escalates from a level with DLT probability ``p``: no DLT in three,
    or one in three and none in three more."""
    return (1 - p) ** 3 + 3 * p * (1 - p) ** 2 * (1 - p) ** 3


def recommended_chances(probs: list[float]) -> list[float]:
    """Chance that 3+3 recommends no level, then each level, given each level's DLT chance."""
    e = [clears(p) for p in probs]
    out = [1 - e[0]]
    for k in range(len(probs)):
        out.append(math.prod(e[: k + 1]) * (1 - e[k + 1] if k + 1 < len(e) else 1.0))
    return out


def _schedule(cfg: VerifyConfig) -> list:
    levels = [{"dose_per_kg": 1e6 * (k + 1), "dlt_prob": 0.0} for k in range(3)]
    sc = fixed_phase1(levels)
    worst = 0.0
    want = np.array([0, 7, 14, 47, 54, 61, 94, 101, 108], dtype=float)
    for r in range(cfg.fixed_reps):
        p = simulate(sc, cfg.seed, r).patients
        days = np.sort(p.loc[p["phase"] == 1, "infused_day"].to_numpy())
        got = days - days[0] if len(days) == len(want) else np.full(len(want), math.inf)
        worst = max(worst, float(np.max(np.abs(got - want))))
    return [
        exactly(
            "phase1_schedule",
            "three levels without DLT, fixed durations: phase 1 infusions on days 0, 7, 14, "
            "47, 54, 61, 94, 101, 108 from the first (stagger 7; window 28 plus the lead 5 "
            "between cohorts); largest deviation",
            worst,
            0.0,
            unit="days",
        )
    ]


def _decisions(cfg: VerifyConfig) -> list:
    shipped = shipped_scenario("phase1_3plus3.yaml").phase1
    probs = [lv.dlt_prob for lv in shipped.dose_levels]
    levels = [lv.model_dump() for lv in shipped.dose_levels]
    sc = fixed_phase1(levels, rate=15.0, when_full="refer_elsewhere", stagger_days=0.0)
    n = cfg.phase1_reps
    level = run_replications(sc, n, seed=cfg.seed).table["phase1.recommended_level"]
    rows = []
    for k, want in enumerate(recommended_chances(probs)):
        share = float(np.mean(level == k - 1))
        name = "none (stopped for toxicity)" if k == 0 else f"level {k}"
        rows.append(
            within_se(
                f"phase1_recommends_{'none' if k == 0 else k}",
                f"share of trials recommending {name}, from the binomial chances of clearing "
                f"each level (DLT chances {', '.join(f'{p:g}' for p in probs)})",
                share,
                want,
                math.sqrt(want * (1 - want) / n),
                note=f"{n} trials",
            )
        )
    return rows


def pacing_violations(p: pd.DataFrame, sc: Scenario) -> dict[str, int]:
    """Breaks of the pacing rules in one replication's patients table."""
    spec = sc.phase1
    v = {"stagger": 0, "window": 0, "order": 0, "decision": 0, "phase2": 0}
    ph1 = p[(p["phase"] == 1) & p["infused_day"].notna()].sort_values("infused_day")
    last_end = -math.inf
    for _, c in ph1.groupby("cohort", sort=True):
        days = c["infused_day"].to_numpy()
        v["stagger"] += int((np.diff(days) < spec.stagger_days - EXACT_ABS).sum())
        v["window"] += int(days[0] < last_end + spec.dlt_window_days - EXACT_ABS)
        in_order = c["slot_day"].is_monotonic_increasing
        v["order"] += int(not in_order) + int(len(c) > spec.cohort_size)
        gap = c["dlt_decision_day"].dropna() - days[-1] - spec.dlt_window_days
        if len(c) == spec.cohort_size:
            v["decision"] += int((np.abs(gap) > EXACT_ABS).sum())
        last_end = days[-1]
    end = ph1["dlt_decision_day"].max() if len(ph1) else math.inf
    late = p[(p["phase"] == 2) & p["infused_day"].notna()]
    v["phase2"] = int((late["infused_day"] < end - EXACT_ABS).sum())
    return v


RULES = {
    "stagger": "two infusions of a cohort closer than stagger_days",
    "window": "a cohort's first infusion before the previous cohort's last plus dlt_window_days",
    "order": "a cohort's infusions not in the order of its slots, or more than cohort_size",
    "decision": "a DLT decision not dlt_window_days after the cohort's last infusion",
    "phase2": "a phase 2 infusion before the end of phase 1",
}


def _rules(cfg: VerifyConfig) -> list:
    sc = shipped_scenario("phase1_3plus3.yaml")
    totals = dict.fromkeys(RULES, 0)
    for r in range(cfg.calendar_reps):
        for k, n in pacing_violations(simulate(sc, cfg.seed, r).patients, sc).items():
            totals[k] += n
    return [
        exactly(f"phase1_{k}", text, float(totals[k]), 0.0, atol=0, unit="violations")
        for k, text in RULES.items()
    ]


def check_phase1(cfg: VerifyConfig) -> CheckGroup:
    """Phase 1: the hand-computed schedule, 3+3 against the binomial formulas, the rules."""
    rows = [*_schedule(cfg), *_decisions(cfg), *_rules(cfg)]
    method = (
        "A phase 1 with fixed durations (collection 1, manufacturing 9, QC 3, conditioning "
        f"lead 5, stay 14 days), ample capacity and no loss, {cfg.fixed_reps} replications: "
        "the infusion days are computed by hand. The 3+3 decisions: "
        f"{cfg.phase1_reps} trials of that pathway with phase1_3plus3.yaml's dose levels; "
        "the chance of clearing a level with DLT chance p is (1-p)^3 + 3p(1-p)^2(1-p)^3, and "
        "the share recommending each level is compared with the product of those chances. "
        f"The rules: {cfg.calendar_reps} replications (seed {cfg.seed}) of "
        "phase1_3plus3.yaml, read from the patients table."
    )
    return CheckGroup("phase1", "Phase 1 pacing", method, tuple(rows))
