"""The patients of one simulated trial: a Gantt chart of each patient's stages and
where the patient left the pathway."""

from __future__ import annotations

import datetime as dt
import math

import altair as alt
import pandas as pd

from sim.report.palette import DARK_GREY, LIGHT_GREY

from .theme import _UTC, GREY, MEANINGS, OKABE_ITO, WAITING, _date_tip, _date_x, as_datetime
from .theme import _fixed_colour as _by

# (stage, from column, to column): a bar from the first day to the second (or to the exit
# day when the patient left during the stage); the columns ending in _ready_day, _wait_day
# and _end_day are worked out from the event log (:func:`timeline_days`)
GANTT_STAGES = (
    ("screening", "referred_day", "screened_day"),
    ("waiting for a cohort slot", "slot_wait_day", "slot_end_day"),
    ("waiting for apheresis", "apheresis_ready_day", "apheresis_start_day"),
    ("apheresis", "apheresis_start_day", "apheresed_day"),
    ("waiting for a suite", "apheresed_day", "manufacturing_start_day"),
    ("manufacturing and QC", "manufacturing_start_day", "released_day"),
    ("waiting for its turn", "turn_wait_day", "turn_end_day"),
    ("waiting for a bed", "bed_ready_day", "conditioning_start_day"),
    ("conditioning", "conditioning_start_day", "infused_day"),
    ("inpatient stay", "infused_day", "discharged_day"),
)
PHASE1_WAITS = ("waiting for a cohort slot", "waiting for its turn")
"""Waits of phase 1 only: for a slot in a cohort, and for the patient's turn to be infused
(the stagger after the cohort's previous infusion, or the previous cohort's DLT window)."""
DLT_WINDOW = "DLT observation (phase 1)"
"""From a phase 1 patient's infusion to its cohort's DLT decision (drawn over the stay)."""
STAGE_COLOURS = {
    "screening": MEANINGS["screening"],
    "waiting for a cohort slot": LIGHT_GREY,
    "waiting for apheresis": WAITING["apheresis"],
    "apheresis": MEANINGS["apheresis"],
    "waiting for a suite": WAITING["manufacturing"],
    "manufacturing and QC": MEANINGS["manufacturing"],
    "waiting for its turn": GREY,
    "waiting for a bed": WAITING["beds"],
    "conditioning": MEANINGS["conditioning"],
    "inpatient stay": MEANINGS["beds"],
    DLT_WINDOW: DARK_GREY,
}
"""Each stage in its resource's colour; a wait for a resource in a light tint of it; the
protocol's own waits and the DLT window in greys (they hold no resource)."""
STOP_CROSS = (
    "M-0.95,-0.46L-0.46,-0.95L0,-0.49L0.46,-0.95L0.95,-0.46L0.49,0L0.95,0.46L0.46,0.95"
    "L0,0.49L-0.46,0.95L-0.95,0.46L-0.49,0Z"
)
"""An x (SVG path): the patient left when the trial stopped."""
OUTCOME_SHAPES = {
    "infused": "circle",
    "declined_consent": "triangle-down",
    "screen_failed": "square",
    "deteriorated": "cross",
    "apheresis_failed": "diamond",
    "manufacturing_failed": "triangle-up",
    "in_pathway": "triangle-right",
    "no_slot": "triangle-left",
    "stopped": STOP_CROSS,
}
PHASE1_OUTCOMES = ("no_slot", "stopped")
"""Outcomes of a trial with phase 1 only: no cohort slot open (referred elsewhere), and
still in the pathway when phase 1 stopped the trial for toxicity."""


def _patient_label(pid: int) -> str:
    return f"patient {pid + 1}"


def _is_phase1(patients: pd.DataFrame) -> bool:
    """Whether the patients are of a trial with a dose-finding phase 1."""
    return "phase" in patients.columns


def timeline_days(patients: pd.DataFrame, events: pd.DataFrame | None = None) -> pd.DataFrame:
    """The patients with the days of the timeline's waits (days from the start; NaN: none):
    when each became ready for apheresis (``apheresis_ready_day``: enrolled, or given a
    cohort slot after waiting for one) and for a bed (``bed_ready_day``: released, or its
    turn come); for phase 1, the wait for a cohort slot (``slot_wait_day`` to
    ``slot_end_day``: the slot, or the start of phase 2) and for its turn
    (``turn_wait_day``, its release, to ``turn_end_day``: its turn, or the start of phase
    2). A wait ended by the patient leaving has no end (the chart ends it at the exit).
    From the phase 1 events of ``events`` (slot_wait, slot, turn, phase2) when given, else
    from the patients' slot and turn days."""
    out = patients.copy()
    nan = pd.Series(math.nan, index=out.index)
    if not _is_phase1(out):
        for name in ("slot_wait_day", "slot_end_day", "turn_wait_day", "turn_end_day"):
            out[name] = nan
        out["apheresis_ready_day"] = out["enrolled_day"]
        out["bed_ready_day"] = out["released_day"]
        return out
    released = out["released_day"]
    if events is not None:
        ev = events[events["event"].isin(("slot_wait", "slot", "turn", "phase2"))]
        first = ev.groupby(["patient", "event"])["time"].min().unstack()
        day = {e: out["patient"].map(first[e]) for e in first.columns}
        wait, slot = day.get("slot_wait", nan), day.get("slot", nan)
        turn, phase2 = day.get("turn", nan), day.get("phase2", nan)
        out["slot_wait_day"] = wait
        out["slot_end_day"] = slot.where(slot >= wait, phase2.where(phase2 >= wait))
        out["turn_wait_day"] = released.where(slot.notna() & ~(phase2 < released))
        out["turn_end_day"] = turn.where(turn.notna(), phase2.where(phase2 >= released))
    else:  # only the waits that ended in a slot or a turn are known
        slot, turn = out["slot_day"], out["turn_day"]
        wait = out["enrolled_day"].where(slot > out["enrolled_day"])
        out["slot_wait_day"], out["slot_end_day"] = wait, slot.where(wait.notna())
        out["turn_wait_day"] = released.where(turn > released)
        out["turn_end_day"] = turn.where(out["turn_wait_day"].notna())
    out["apheresis_ready_day"] = out["enrolled_day"].where(
        out["slot_wait_day"].isna(), out["slot_end_day"]
    )
    waited = out["turn_wait_day"].notna()
    out["bed_ready_day"] = out["released_day"].where(~waited, out["turn_end_day"])
    return out


def gantt_table(
    patients: pd.DataFrame, start_date: dt.date, events: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per patient and stage reached: patient, label, stage, start and end (dates),
    days. A stage cut short (the patient left) ends at the exit day; waits of no length and
    stages never reached are left out. ``events`` (the trial's log) times the phase 1
    waits (:func:`timeline_days`)."""
    out = []
    for rec in timeline_days(patients, events).itertuples(index=False):
        r = rec._asdict()
        exit_day = r.get("exit_day", math.nan)
        for stage, a, b in GANTT_STAGES:
            start = r.get(a, math.nan)
            end = r.get(b, math.nan)
            if start is None or math.isnan(start):
                continue
            if end is None or math.isnan(end):
                if exit_day is None or math.isnan(exit_day) or exit_day < start:
                    continue
                if stage == "inpatient stay" and exit_day <= start:
                    continue
                end = exit_day
            if end - start <= 1e-9:
                continue
            out.append((int(r["patient"]), stage, float(start), float(end)))
    frame = pd.DataFrame(out, columns=["patient", "stage", "start_day", "end_day"])
    return _dated(frame, start_date)[["patient", "label", "stage", "start", "end", "days"]]


def _dated(frame: pd.DataFrame, start_date: dt.date) -> pd.DataFrame:
    """Rows of days from the start (``start_day``, ``end_day``) with the patient's label,
    the dates and the days between."""
    frame["label"] = frame["patient"].map(_patient_label)
    frame["start"] = as_datetime(start_date, frame["start_day"]).to_numpy()
    frame["end"] = as_datetime(start_date, frame["end_day"]).to_numpy()
    frame["days"] = frame["end_day"] - frame["start_day"]
    return frame


def dlt_table(patients: pd.DataFrame, start_date: dt.date) -> pd.DataFrame:
    """Each phase 1 patient's DLT window, from its infusion to its cohort's DLT decision:
    patient, label, cohort, level, start, end (dates), days, dlt (True: a dose-limiting
    toxicity), result (``DLT`` or ``no DLT``). Empty without phase 1 or a decision yet."""
    columns = ["patient", "label", "cohort", "level", "start", "end", "days", "dlt", "result"]
    if not _is_phase1(patients):
        return pd.DataFrame(columns=columns)
    decided = patients[patients["dlt_decision_day"].notna() & patients["infused_day"].notna()]
    frame = pd.DataFrame(
        {
            "patient": decided["patient"].astype(int),
            "cohort": decided["cohort"].astype(int),
            "level": decided["dose_level"].astype(int),
            "start_day": decided["infused_day"].astype(float),
            "end_day": decided["dlt_decision_day"].astype(float),
            "dlt": decided["dlt"].astype(bool),
        }
    )
    frame["result"] = frame["dlt"].map({True: "DLT", False: "no DLT"})
    return _dated(frame, start_date).reset_index(drop=True)[columns]


def outcome_table(patients: pd.DataFrame, start_date: dt.date) -> pd.DataFrame:
    """Each patient's outcome and the date the patient left the pathway (NaT if still in)."""
    frame = pd.DataFrame(
        {
            "patient": patients["patient"].astype(int),
            "label": patients["patient"].astype(int).map(_patient_label),
            "outcome": patients["outcome"].astype(str),
            "date": as_datetime(start_date, patients["exit_day"]).to_numpy(),
        }
    )
    frame["outcome_label"] = frame["outcome"].str.replace("_", " ")
    return frame


def _stages_shown(patients: pd.DataFrame) -> list[str]:
    """The stages a timeline's legend names: phase 1's waits and window only with phase 1."""
    phase1 = _is_phase1(patients)
    extra = () if phase1 else (*PHASE1_WAITS, DLT_WINDOW)
    return [s for s in STAGE_COLOURS if s not in extra]


def gantt_chart(
    patients: pd.DataFrame,
    *,
    start_date: dt.date,
    title: str,
    events: pd.DataFrame | None = None,
) -> alt.LayerChart:
    """A row per patient (in order of referral), a bar per stage coloured by stage, and the
    patient's outcome marked where the patient left the pathway. With phase 1: the waits
    for a cohort slot and for the patient's turn, and each patient's DLT window over its
    stay, marked ``DLT`` where the decision found one (``events`` times the waits)."""
    bars_data = gantt_table(patients, start_date, events)
    marks_data = outcome_table(patients, start_date).dropna(subset=["date"])
    order = [_patient_label(p) for p in patients.sort_values("referred_day")["patient"]]
    stages = _stages_shown(patients)
    shown = [o for o in OUTCOME_SHAPES if _is_phase1(patients) or o not in PHASE1_OUTCOMES]
    y = alt.Y(
        "label:N",
        sort=order,
        title="Patient (in order of referral)",
        axis=alt.Axis(labelFontSize=9, labelLimit=90),
    )
    legend = alt.Legend(orient="bottom", columns=2, labelLimit=200)
    bars = (
        alt.Chart(bars_data)
        .mark_bar(height={"band": 0.8})
        .encode(
            x=_date_x("start", title="Date"),
            x2="end:T",
            y=y,
            color=_by("stage", "Stage", stages, STAGE_COLOURS, legend),
            tooltip=[
                alt.Tooltip("label:N", title="patient"),
                alt.Tooltip("stage:N"),
                _date_tip("start"),
                _date_tip("end"),
                alt.Tooltip("days:Q", format=".1f", title="days"),
            ],
        )
    )
    marks = (
        alt.Chart(marks_data)
        .mark_point(filled=True, size=42, color=OKABE_ITO["black"], opacity=0.9)
        .encode(
            x=alt.X("date:T", scale=_UTC),
            y=y,
            shape=alt.Shape(
                "outcome_label:N",
                title="Outcome (where the patient left)",
                scale=alt.Scale(
                    domain=[o.replace("_", " ") for o in shown],
                    range=[OUTCOME_SHAPES[o] for o in shown],
                ),
                legend=alt.Legend(orient="bottom", columns=2, labelLimit=200, titleLimit=260),
            ),
            tooltip=[
                alt.Tooltip("label:N", title="patient"),
                alt.Tooltip("outcome_label:N", title="outcome"),
                _date_tip("date", "left on"),
            ],
        )
    )
    layers = [bars, *_dlt_layers(patients, start_date, y), marks]
    n = max(len(order), 1)
    row = 12 if n <= 120 else max(3, 1440 // n)
    return (
        alt.layer(*layers)
        .resolve_legend(color="independent", shape="independent")
        .properties(
            height=alt.Step(row),
            title=alt.TitleParams(
                title, subtitle=["Scroll on the chart to zoom in time,", "drag to move along it."]
            ),
        )
        .interactive(bind_y=False)
    )


def _dlt_layers(patients: pd.DataFrame, start_date: dt.date, y: alt.Y) -> list[alt.Chart]:
    """Phase 1's DLT windows as thin bars over the stays, and ``DLT`` at the end of each
    window whose decision found one (none without phase 1)."""
    data = dlt_table(patients, start_date)
    if data.empty:
        return []
    window = (
        alt.Chart(data)
        .mark_bar(height={"band": 0.3}, color=STAGE_COLOURS[DLT_WINDOW])
        .encode(
            x=alt.X("start:T", scale=_UTC),
            x2="end:T",
            y=y,
            tooltip=[
                alt.Tooltip("label:N", title="patient"),
                alt.Tooltip("cohort:Q", title="cohort"),
                alt.Tooltip("level:Q", title="dose level"),
                _date_tip("start", "infused"),
                _date_tip("end", "DLT decision"),
                alt.Tooltip("days:Q", format=".1f", title="days observed"),
                alt.Tooltip("result:N", title="result"),
            ],
        )
    )
    if not data["dlt"].any():
        return [window]
    found = (
        alt.Chart(data[data["dlt"]])
        .mark_text(align="left", dx=3, fontSize=9, fontWeight="bold", color=OKABE_ITO["black"])
        .encode(x=alt.X("end:T", scale=_UTC), y=y, text="result:N")
    )
    return [window, found]


# --- the patients moving through the pathway ------------------------------------------------

DONE = "infused and discharged"
LEFT = "left the pathway"
PATHWAY_COLUMNS = (*(s for s, _, _ in GANTT_STAGES), DONE, LEFT)
"""The animation's columns, in the pathway's order: each stage and wait, then where a
patient ends (infused, or left before infusion)."""


def pathway_table(
    patients: pd.DataFrame, start_date: dt.date, events: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Where each patient of one simulated trial is, as intervals (days from the start): one
    row per stage or wait reached (from :func:`gantt_table`), then the patient's end state
    from then on, open-ended (``infused and discharged`` after the inpatient stay, else
    ``left the pathway`` from the exit day, with the outcome). Columns: patient, label,
    column, outcome, start_day, end_day. ``events`` times the phase 1 waits."""
    stages = gantt_table(patients, start_date, events)
    start = (stages["start"] - pd.Timestamp(start_date)).dt.total_seconds() / 86400.0
    end = (stages["end"] - pd.Timestamp(start_date)).dt.total_seconds() / 86400.0
    outcome = dict(zip(patients["patient"].astype(int), patients["outcome"], strict=True))
    rows = pd.DataFrame(
        {
            "patient": stages["patient"],
            "label": stages["label"],
            "column": stages["stage"],
            "outcome": stages["patient"].map(outcome),
            "start_day": start,
            "end_day": end,
        }
    )
    last = rows.groupby("patient")["end_day"].max()
    ends = []
    for rec in patients.itertuples(index=False):
        r = rec._asdict()
        infused = r.get("infused_day")
        done = infused is not None and not math.isnan(infused)
        at = last.get(int(r["patient"]), math.nan) if done else r.get("exit_day")
        if at is None or math.isnan(at):
            continue  # still in the pathway at the end
        pid = int(r["patient"])
        column = DONE if done else LEFT
        ends.append((pid, _patient_label(pid), column, r["outcome"], float(at), math.inf))
    tail = pd.DataFrame(ends, columns=rows.columns)
    out = pd.concat([rows, tail], ignore_index=True) if len(tail) else rows
    return out.sort_values(["patient", "start_day"], kind="stable").reset_index(drop=True)


def pathway_animation(
    table: pd.DataFrame, *, start_date: dt.date, day: float, end_day: float, title: str
) -> alt.LayerChart:
    """The patients of one simulated trial as dots in the column of the stage (or wait)
    each is in on a day, coloured as in the timeline; the day is a slider on the chart
    (``day`` is where it starts; days from ``start_date``, up to ``end_day``). Play moves
    it on (the Patients tab)."""
    data = table.assign(end_day=table["end_day"].replace(math.inf, 1e9))
    t = alt.param(
        name="day",
        value=float(round(day)),
        bind=alt.binding_range(min=0, max=math.ceil(end_day), step=1, name="Day of the trial "),
    )
    colours = {**STAGE_COLOURS, DONE: MEANINGS["infused"], LEFT: MEANINGS["deteriorated"]}
    here = set(table["column"])
    columns = [c for c in PATHWAY_COLUMNS if c not in PHASE1_WAITS or c in here]
    base = (
        alt.Chart(data)
        .transform_filter("datum.start_day <= day && datum.end_day > day")
        .transform_window(place="row_number()", groupby=["column"], sort=[{"field": "patient"}])
    )
    x = alt.X(
        "column:N",
        sort=columns,
        scale=alt.Scale(domain=columns),
        title=None,
        axis=alt.Axis(labelAngle=-35, labelLimit=140),
    )
    dots = base.mark_circle(size=70, opacity=0.9, stroke="white", strokeWidth=0.5).encode(
        x=x,
        y=alt.Y("place:Q", title="Patients there (count)", scale=alt.Scale(zero=True)),
        color=alt.Color(
            "column:N",
            scale=alt.Scale(domain=columns, range=[colours[c] for c in columns]),
            legend=None,
        ),
        tooltip=[
            alt.Tooltip("label:N", title="patient"),
            alt.Tooltip("column:N", title="now"),
            alt.Tooltip("outcome:N", title="outcome in the end"),
        ],
    )
    when = (
        alt.Chart(pd.DataFrame({"x": [0]}))
        .mark_text(align="left", baseline="top", fontSize=15, fontWeight="bold", dx=4, dy=4)
        .encode(x=alt.value(0), y=alt.value(0))
        .transform_calculate(
            text=f"'Day ' + day + ': ' + utcFormat(utc({start_date.year}, "
            f"{start_date.month - 1}, {start_date.day}) + day * 86400000, '%d %b %Y')"
        )
        .encode(text="text:N")
    )
    return (
        alt.layer(dots, when)
        .add_params(t)
        .properties(
            height=340,
            title=alt.TitleParams(
                title, subtitle=["Each dot a patient, in the stage it is in;", "move the day."]
            ),
        )
    )
