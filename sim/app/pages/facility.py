"""The Facility tab: several trials sharing the unit's resources (a facility file of
scenarios/facilities/), simulated together: the chance that every trial meets its deadline,
each trial's headline, and the shared resources."""

from __future__ import annotations

from typing import Any

import streamlit as st

from sim.app import cache, charts, session
from sim.app.pages.common import chart, reps_input, tiles
from sim.app.planning import facility
from sim.app.views import RunView, total_tiles
from sim.core.errors import InputError
from sim.report.facility import facility_cost_notes

FACILITY_REPS = 200
REPS = "Replications (runs of the facility)"
REPS_HELP = "Simulated runs of every trial together, on the sidebar's seed."
BUTTON = "Run the facility"


def view(run: RunView | None) -> None:
    """Run a facility file (on submit) and show the last result."""
    ss = st.session_state
    st.subheader("Facility: trials sharing the unit")
    st.caption(
        "A facility file names several trials (scenario files), the day each opens, its "
        "priority in the shared queues and the units the trials share. Every trial keeps "
        "its own referral, protocol and target; they run together on the facility's clock. "
        f"Seed {int(ss.seed)} (the sidebar's)."
    )
    files = facility.facility_files(session.SCENARIOS)
    if not files:
        st.info("No facility file in scenarios/facilities/.", icon=":material/info:")
        return
    with st.form("facility"):
        a, b = st.columns([3, 1])
        path = a.selectbox(
            "Facility file", files, format_func=lambda p: f"facilities/{p.name}",
            key="facility_file",
        )  # fmt: skip
        reps = reps_input(b, "facility_reps", REPS, REPS_HELP, value=FACILITY_REPS, step=50)
        go = st.form_submit_button(BUTTON, type="primary", icon=":material/factory:")
    status = st.empty()
    if go:
        try:
            fac = facility.load(path)
            bar = cache.ProgressBar(status, int(reps), f"{len(fac.trials)} trials")
            out = cache.facility_run(
                str(path), fac.digest(), int(ss.seed), int(reps), _progress=bar
            )
        except InputError as exc:
            st.error(f"{exc.message}. Fix the facility file.", icon=":material/error:")
        else:
            ss["facility_result"] = {"file": path.name, "out": out}
        status.empty()
    done = ss.get("facility_result")
    if not done:
        st.info(f"Pick a facility file and press **{BUTTON}**.", icon=":material/factory:")
        return
    out = done["out"]
    st.markdown(f"**{out['facility']}** (facilities/{done['file']}). " + facility.headline(out))
    st.dataframe(facility.trials_table(out), hide_index=True, width="stretch")
    chart(charts.facility_chances(out), "facility_chances")
    st.markdown("**Shared resources** (all trials together)")
    st.dataframe(facility.resources_table(out), hide_index=True, width="stretch")
    st.caption(
        "Days count from the facility's start; utilisation is of the unit-days in force; "
        "waits are those of granted requests. Each trial's whole summary is in the JSON of "
        "`python -m sim run` on the same file."
    )
    costs(out)


def costs(out: dict[str, Any]) -> None:
    """The facility's costs per run (when it or a trial has prices): the total and per
    infused patient with their 80% intervals, and its parts."""
    c = out.get("costs")
    if not c:
        return
    cur = c.get("currency")
    st.markdown(f"**Facility costs{f' ({cur})' if cur else ''}**, per run of the facility")
    tiles(total_tiles(c["per_facility"], c["per_infused_patient"], "facility run"))
    st.table(facility.cost_table(out), hide_index=True)
    why = ("A shared unit's availability is the facility's cost (its costs block), paid once; "
           "each trial's costs block prices what it uses.")  # fmt: skip
    st.caption(" ".join([why, *facility_cost_notes(c)]))
