"""Little's law on the baseline: the time-weighted queue length equals the arrival rate
times the mean time in queue, counted independently from the event log."""

from __future__ import annotations

import pandas as pd

from sim.core.station import RESOURCES
from sim.report.text import sig
from sim.run.runner import simulate
from sim.verify.records import EXACT_ABS, CheckGroup, VerifyConfig, exactly
from sim.verify.scenarios import shipped_scenario

_QUEUE_EXITS = {
    "apheresis": ("start", "renege"),
    "manufacturing": ("start", "renege"),
    "beds": ("bed_booked", "renege"),
}
"""The events that take a request out of each resource's queue."""


def queue_time_from_log(events: pd.DataFrame, resource: str, end: float) -> tuple[int, float]:
    """(requests that joined the queue of ``resource``, total days they spent in it), from
    the event log: each ``queue`` event is closed by the patient's next start (a booking for
    beds) or renege there, or by the end of the replication."""
    ev = events[events["resource"] == resource]
    joins = ev["event"] == "queue"
    exits = ev["event"].isin(_QUEUE_EXITS[resource])
    n_join = int(joins.sum())
    open_at_end = n_join - int(exits.sum())
    total = float(ev.loc[exits, "time"].sum() - ev.loc[joins, "time"].sum() + open_at_end * end)
    return n_join, total


def check_little(cfg: VerifyConfig) -> CheckGroup:
    """L = lambda W on every resource of the baseline scenario."""
    sc = shipped_scenario("baseline.yaml")
    reps, seed = cfg.little_reps, cfg.seed
    area = dict.fromkeys(RESOURCES, 0.0)
    joined = dict.fromkeys(RESOURCES, 0)
    in_queue = dict.fromkeys(RESOURCES, 0.0)
    total_end = 0.0
    for r in range(reps):
        rep = simulate(sc, seed, r)
        end = rep.row["end_days"]
        total_end += end
        for res in RESOURCES:
            area[res] += rep.row[f"{res}.queue_days"]
            n, days = queue_time_from_log(rep.events, res, end)
            joined[res] += n
            in_queue[res] += days
    rows = []
    for res in RESOURCES:
        lam = joined[res] / total_end
        w = in_queue[res] / joined[res] if joined[res] else 0.0
        length = area[res] / total_end
        rows.append(
            exactly(
                f"little_{res}",
                f"{res}: time-weighted mean queue length (the summary's mean_queue_length) = "
                f"arrival rate x mean time in queue (lambda = {sig(lam)}/day, "
                f"W = {sig(w)} days, from the event log)",
                length,
                lam * w,
                atol=EXACT_ABS * max(1.0, lam * w),
            )
        )
    method = (
        f"The baseline scenario (scenarios/baseline.yaml), {reps} replications (seed {seed}). "
        "L is the station's own time-weighted queue length (area under the queue-length curve "
        "over the replication's length), as reported in the summary. lambda and W are "
        "counted independently from the event log: every request that joined the queue, and "
        "its time until it started (apheresis, manufacturing), booked (beds) or left because "
        "the patient deteriorated, with requests still waiting cut at the end of the "
        "replication. Pooled over replications, L = lambda W is a sample-path identity "
        "(no steady state needed), so the tolerance is floating point: any difference is a "
        "bookkeeping error (a wait not counted, a renege not closed, a weekend deferral "
        "missed). The summary's mean_wait_days is over granted requests only and so excludes "
        "reneges; it is not this W."
    )
    return CheckGroup("little", "Little's law on the baseline", method, tuple(rows))
