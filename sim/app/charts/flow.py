"""Patient flow: the funnel from referral to infusion, with the patients lost at each
step by reason, and the screen failures by criterion."""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from sim.report.palette import LIGHT_GREY

from .theme import GREY, MEANINGS, _fixed_colour

FUNNEL_STEPS = (
    ("referred", "Referred"),
    ("consented", "Consented"),
    ("enrolled", "Enrolled (passed screening)"),
    ("apheresed", "Apheresed (cells collected)"),
    ("manufactured", "Product released"),
    ("conditioned", "Conditioned"),
    ("infused", "Infused"),
)
# The losses a step's own outcomes explain (in this order); the rest of a step's loss left by
# deterioration (or was still in the pathway at the end of the horizon, or when phase 1
# stopped the trial: the summary does not say at which step those were).
STEP_LOSS_REASON = {
    "referred": (("declined_consent", "declined consent"),),
    "consented": (("screen_failed", "failed screening"),),
    "enrolled": (("no_slot", "no cohort slot (phase 1)"), ("apheresis_failed", "apheresis failed")),
    "apheresed": (("manufacturing_failed", "manufacturing failed"),),
}
CONTINUES = "went on to the next step"
DETERIORATED = "deteriorated or still in pathway"
STOPPED = "deteriorated, stopped or in pathway"
"""The rest of a step's loss when phase 1 stopped some trials for toxicity."""
SEGMENT_COLOURS = {
    CONTINUES: MEANINGS["infused"],
    "declined consent": GREY,
    "failed screening": MEANINGS["screening"],
    "no cohort slot (phase 1)": LIGHT_GREY,
    "apheresis failed": MEANINGS["apheresis"],
    "manufacturing failed": MEANINGS["manufacturing"],
    DETERIORATED: MEANINGS["deteriorated"],
    STOPPED: MEANINGS["deteriorated"],
    "infused": MEANINGS["infused"],
}
"""A loss at a stage in the stage's colour; deterioration in the colour of losses; no
cohort slot in the grey of the wait for one (the patient timeline's)."""


def funnel_table(funnel: Mapping[str, float], outcomes: Mapping[str, float]) -> pd.DataFrame:
    """The funnel as bar segments: for each step, the patients (mean per trial) who went on
    to the next step, and those lost before it by reason (the step's own outcomes, then the
    rest). Columns: step, order, segment, start, end, patients."""
    rows = []
    keys = [k for k, _ in FUNNEL_STEPS]
    rest = STOPPED if float(outcomes.get("stopped") or 0.0) > 0 else DETERIORATED
    for i, (key, label) in enumerate(FUNNEL_STEPS):
        here = float(funnel.get(key) or 0.0)
        if i == len(keys) - 1:
            rows.append((label, i, "infused", 0.0, here, here))
            break
        nxt = min(float(funnel.get(keys[i + 1]) or 0.0), here)
        rows.append((label, i, CONTINUES, 0.0, nxt, nxt))
        lost = here - nxt
        x = nxt
        for outcome, reason in STEP_LOSS_REASON.get(key, ()):
            own = min(float(outcomes.get(outcome) or 0.0), lost)
            if own > 0:
                rows.append((label, i, reason, x, x + own, own))
                x += own
                lost -= own
        if lost > 1e-9:
            rows.append((label, i, rest, x, x + lost, lost))
    return pd.DataFrame(rows, columns=["step", "order", "segment", "start", "end", "patients"])


def funnel_chart(funnel: Mapping[str, float], outcomes: Mapping[str, float]) -> alt.LayerChart:
    """Referred to infused: each bar is the patients reaching a step (mean per simulated
    trial, the number at its end), split into those who went on and those lost before the
    next step, by reason."""
    data = funnel_table(funnel, outcomes)
    order = [label for _, label in FUNNEL_STEPS]
    present = [s for s in SEGMENT_COLOURS if s in set(data["segment"])]
    totals = pd.DataFrame(
        {
            "step": [label for key, label in FUNNEL_STEPS],
            "patients": [float(funnel.get(key) or 0.0) for key, _ in FUNNEL_STEPS],
        }
    )
    totals["text"] = totals["patients"].map(lambda v: f"{v:,.1f}")
    numbers = (
        alt.Chart(totals)
        .mark_text(align="left", dx=4, fontWeight="bold")
        .encode(
            y=alt.Y("step:N", sort=order, title=None),
            x=alt.X("patients:Q"),
            text="text:N",
        )
    )
    legend = alt.Legend(orient="bottom", columns=2, labelLimit=260)
    bars = (
        alt.Chart(data)
        .mark_bar(height={"band": 0.75})
        .encode(
            y=alt.Y("step:N", sort=order, title=None, axis=alt.Axis(labelLimit=220)),
            x=alt.X("start:Q", title="Patients (mean per simulated trial)"),
            x2="end:Q",
            color=_fixed_colour("segment", "At this step", present, SEGMENT_COLOURS, legend),
            tooltip=[
                alt.Tooltip("step:N"),
                alt.Tooltip("segment:N", title="patients who"),
                alt.Tooltip("patients:Q", title="patients per trial", format=".2f"),
            ],
        )
    )
    return alt.layer(bars, numbers).properties(
        height=alt.Step(40),
        title=alt.TitleParams(
            "Patient flow, referral to infusion",
            subtitle=[
                "Patients reaching each step (mean per trial);",
                "coloured end: lost before the next step.",
            ],
        ),
    )


def criteria_table(
    by_criterion: Mapping[str, float], labels: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Screen failures by criterion (mean patients per trial), largest first, each named by
    its label in the scenario (``labels``), else by its key with spaces."""
    labels = labels or {}
    frame = pd.DataFrame(
        {
            "criterion": [labels.get(k) or k.replace("_", " ") for k in by_criterion],
            "patients": [float(v or 0.0) for v in by_criterion.values()],
        }
    )
    return frame.sort_values("patients", ascending=False, kind="stable").reset_index(drop=True)


def criteria_chart(
    by_criterion: Mapping[str, float], labels: Mapping[str, str] | None = None
) -> alt.Chart:
    """Patients failing each screening criterion (mean per simulated trial; a patient may
    fail several), named by the scenario's labels."""
    data = criteria_table(by_criterion, labels)
    return (
        alt.Chart(data)
        .mark_bar(color=MEANINGS["screening"])
        .encode(
            y=alt.Y(
                "criterion:N",
                sort=list(data["criterion"]),
                title=None,
                axis=alt.Axis(labelLimit=260),
            ),
            x=alt.X("patients:Q", title="Patients failing it (mean per simulated trial)"),
            tooltip=[
                alt.Tooltip("criterion:N"),
                alt.Tooltip("patients:Q", title="patients per trial", format=".2f"),
            ],
        )
        .properties(
            height=alt.Step(22),
            title=alt.TitleParams(
                "Screen failures by criterion",
                subtitle="A patient may fail several criteria; each is counted.",
            ),
        )
    )
