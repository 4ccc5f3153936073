"""Exact sums: with every duration fixed and capacity ample, each milestone is the exact
sum of the stages before it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.report.text import sig
from sim.run.runner import simulate
from sim.verify.records import CheckGroup, VerifyConfig, exactly
from sim.verify.report import valued
from sim.verify.scenarios import neutral

FIXED = {
    "screening": 10.0,
    "apheresis": 1.0,
    "manufacturing": 9.0,
    "qc": 3.0,
    "lead": 5.0,
    "stay": 14.0,
}
"""Days of each stage of the fixed pathway (``lead``: conditioning start to infusion)."""


def check_fixed_sums(cfg: VerifyConfig) -> CheckGroup:
    """All durations fixed and capacity ample: every milestone is the exact sum of stages."""
    f = FIXED
    sc = neutral(
        horizon_days=1500,
        referral={"sites": [{"name": "A", "rate_per_month": 4.0}], "rate_shape": None},
        screening={"duration_days": f["screening"]},
        apheresis={"duration_days": f["apheresis"]},
        manufacturing={"duration_days": f["manufacturing"], "qc_release_days": f["qc"]},
        conditioning={"days_before_infusion": f["lead"], "treatment_days": 3},
        infusion={"stay_days": f["stay"]},
    )
    frames = [simulate(sc, cfg.seed, r).patients for r in range(cfg.fixed_reps)]
    p = pd.concat(frames, ignore_index=True)
    inf = p[p["outcome"] == "infused"]
    gaps = (
        ("screened_day", "referred_day", f["screening"], "screening"),
        ("apheresed_day", "screened_day", f["apheresis"], "collection"),
        ("released_day", "apheresed_day", f["manufacturing"] + f["qc"], "manufacturing + QC"),
        ("infused_day", "released_day", f["lead"], "conditioning lead"),
        ("discharged_day", "infused_day", f["stay"], "stay"),
        ("vein_to_vein_days", None, f["apheresis"] + f["manufacturing"] + f["qc"] + f["lead"], ""),
    )
    rows = []
    for late, early, expected, label in gaps:
        diff = inf[late] if early is None else inf[late] - inf[early]
        worst = float(np.max(np.abs(diff - expected))) if len(inf) else math.nan
        what = (
            "vein to vein = collection + manufacturing + QC + conditioning lead "
            f"({sig(expected)} days)"
            if early is None
            else f"{label}: {late} - {early} = {valued(expected, 'days')}"
        )
        rows.append(
            exactly(
                f"fixed_{late.removesuffix('_day').removesuffix('_days')}",
                f"{what}; largest deviation over {len(inf)} infused patients",
                worst,
                0.0,
                unit="days",
            )
        )
    rows.append(
        exactly(
            "fixed_all_infused",
            "no failure, loss or wait possible: every referred patient is infused "
            "(patients not infused, of those whose pathway fits before the horizon)",
            float(((p["outcome"] != "infused") & (p["referred_day"] < 1500 - 60)).sum()),
            0.0,
            atol=0,
            unit="patients",
        )
    )
    method = (
        f"A pathway with every duration fixed (screening {f['screening']:g}, collection "
        f"{f['apheresis']:g}, manufacturing {f['manufacturing']:g}, QC {f['qc']:g}, "
        f"conditioning lead {f['lead']:g}, stay {f['stay']:g} days), no failures, no "
        "deterioration and 10,000 units of every resource, so nobody waits; "
        f"{cfg.fixed_reps} replications (seed {cfg.seed}) of 4 referrals/month over 1,500 "
        "days. The simulated value is the largest absolute deviation from the sum."
    )
    return CheckGroup("fixed", "Exact sums with fixed durations", method, tuple(rows))
