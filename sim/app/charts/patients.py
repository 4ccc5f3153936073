"""The patients of one simulated trial: a Gantt chart of each patient's stages and
where the patient left the pathway."""

from __future__ import annotations

import datetime as dt
import math

import altair as alt
import pandas as pd

from .theme import _UTC, MEANINGS, OKABE_ITO, WAITING, _date_tip, _date_x, as_datetime
from .theme import _fixed_colour as _by

# (stage, from column, to column): a bar from the first day to the second (or to the exit
# day when the patient left during the stage)
GANTT_STAGES = (
    ("screening", "referred_day", "screened_day"),
    ("waiting for apheresis", "enrolled_day", "apheresis_start_day"),
    ("apheresis", "apheresis_start_day", "apheresed_day"),
    ("waiting for a suite", "apheresed_day", "manufacturing_start_day"),
    ("manufacturing and QC", "manufacturing_start_day", "released_day"),
    ("waiting for a bed", "released_day", "conditioning_start_day"),
    ("conditioning", "conditioning_start_day", "infused_day"),
    ("inpatient stay", "infused_day", "discharged_day"),
)
STAGE_COLOURS = {
    "screening": MEANINGS["screening"],
    "waiting for apheresis": WAITING["apheresis"],
    "apheresis": MEANINGS["apheresis"],
    "waiting for a suite": WAITING["manufacturing"],
    "manufacturing and QC": MEANINGS["manufacturing"],
    "waiting for a bed": WAITING["beds"],
    "conditioning": MEANINGS["conditioning"],
    "inpatient stay": MEANINGS["beds"],
}
"""Each stage in its resource's colour; a wait for a resource in a light tint of it."""
OUTCOME_SHAPES = {
    "infused": "circle",
    "declined_consent": "triangle-down",
    "screen_failed": "square",
    "deteriorated": "cross",
    "apheresis_failed": "diamond",
    "manufacturing_failed": "triangle-up",
    "in_pathway": "triangle-right",
}


def _patient_label(pid: int) -> str:
    return f"patient {pid + 1}"


def gantt_table(patients: pd.DataFrame, start_date: dt.date) -> pd.DataFrame:
    """One row per patient and stage reached: patient, label, stage, start and end (dates),
    days. A stage cut short (the patient left) ends at the exit day; waits of no length and
    stages never reached are left out."""
    out = []
    for rec in patients.itertuples(index=False):
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
    frame["label"] = frame["patient"].map(_patient_label)
    frame["start"] = as_datetime(start_date, frame["start_day"]).to_numpy()
    frame["end"] = as_datetime(start_date, frame["end_day"]).to_numpy()
    frame["days"] = frame["end_day"] - frame["start_day"]
    return frame[["patient", "label", "stage", "start", "end", "days"]]


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


def gantt_chart(patients: pd.DataFrame, *, start_date: dt.date, title: str) -> alt.LayerChart:
    """A row per patient (in order of referral), a bar per stage coloured by stage, and the
    patient's outcome marked where the patient left the pathway."""
    bars_data = gantt_table(patients, start_date)
    marks_data = outcome_table(patients, start_date).dropna(subset=["date"])
    order = [_patient_label(p) for p in patients.sort_values("referred_day")["patient"]]
    stages = [s for s, _, _ in GANTT_STAGES]
    outcomes = [o.replace("_", " ") for o in OUTCOME_SHAPES]
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
                scale=alt.Scale(domain=outcomes, range=list(OUTCOME_SHAPES.values())),
                legend=alt.Legend(orient="bottom", columns=2, labelLimit=200, titleLimit=260),
            ),
            tooltip=[
                alt.Tooltip("label:N", title="patient"),
                alt.Tooltip("outcome_label:N", title="outcome"),
                _date_tip("date", "left on"),
            ],
        )
    )
    n = max(len(order), 1)
    row = 12 if n <= 120 else max(3, 1440 // n)
    return (
        alt.layer(bars, marks)
        .resolve_legend(color="independent", shape="independent")
        .properties(
            height=alt.Step(row),
            title=alt.TitleParams(
                title, subtitle=["Scroll on the chart to zoom in time,", "drag to move along it."]
            ),
        )
        .interactive(bind_y=False)
    )


# --- the patients moving through the pathway ------------------------------------------------

DONE = "infused and discharged"
LEFT = "left the pathway"
PATHWAY_COLUMNS = (*(s for s, _, _ in GANTT_STAGES), DONE, LEFT)
"""The animation's columns, in the pathway's order: each stage and wait, then where a
patient ends (infused, or left before infusion)."""


def pathway_table(patients: pd.DataFrame, start_date: dt.date) -> pd.DataFrame:
    """Where each patient of one simulated trial is, as intervals (days from the start): one
    row per stage or wait reached (from :func:`gantt_table`), then the patient's end state
    from then on, open-ended (``infused and discharged`` after the inpatient stay, else
    ``left the pathway`` from the exit day, with the outcome). Columns: patient, label,
    column, outcome, start_day, end_day."""
    stages = gantt_table(patients, start_date)
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
    columns = list(PATHWAY_COLUMNS)
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
