"""The forecast from observed data for the dashboard, without Streamlit:
:func:`read_log_upload`, :func:`run_forecast` (the prior and updated forecasts as plain
data, so the app can cache them) and :func:`posterior_words`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.core.errors import InputError
from sim.core.scenario import Scenario
from sim.core.yamlio import decode_text
from sim.forecasting.forecast import forecast
from sim.forecasting.observed import MAX_LOG_BYTES, ObservedLog
from sim.report.text import date_label, pct
from sim.run.executors import ExecutorSpec

Progress = Callable[[int], None] | None

EXAMPLE_LOG = "observed_example.csv"
EXAMPLE_AS_OF = dt.date(2017, 6, 1)
"""The date the example log is complete to (it is the baseline cut at that date)."""


def read_log_upload(data: bytes, name: str) -> str:
    """An uploaded observed log as text, or InputError (too large, binary, not UTF-8)."""
    if b"\x00" in data[:MAX_LOG_BYTES]:
        raise InputError("is a binary file, not a CSV table", source=name)
    return decode_text(data, name, MAX_LOG_BYTES)


def app_message(exc: InputError) -> str:
    """An observed log's error in the app's words (the library names the command line's
    ``--as-of`` option; here it is the as-of date input)."""
    return exc.message.replace("--as-of", "the as-of date")


@dataclass(frozen=True)
class ForecastView:
    """A forecast from observed data, as the view draws it (plain data)."""

    summary: dict[str, Any]
    """Observed counts, posterior, both forecasts (``Forecast.summary``)."""
    prior_fan: pd.DataFrame
    updated_fan: pd.DataFrame
    observed: dict[str, list[float]]
    """Observed milestone days (enrolled, infused), for the step lines."""
    as_of: dt.date
    source: str


def run_forecast(
    scenario: Scenario,
    log: ObservedLog,
    *,
    reps: int,
    seed: int,
    progress: Progress = None,
    executor: str | ExecutorSpec = "serial",
) -> ForecastView:
    """The prior forecast (the scenario alone) and the one updated by the log, from ``reps``
    simulated trials each on ``seed``; ``progress`` is called with each count of trials
    done."""
    f = forecast(scenario, log, reps, seed, executor=executor, progress=progress)
    return ForecastView(
        summary=f.summary(),
        prior_fan=f.prior.fan(),
        updated_fan=f.updated.fan(),
        observed=f.observed_cumulative(),
        as_of=log.as_of,
        source=log.source,
    )


def posterior_words(summary: Mapping[str, Any]) -> list[str]:
    """What the log says, prior -> posterior: the observed counts, each site's referral
    rate, the screen-failure and batch-failure probabilities."""
    o = summary["observed"]
    post = summary["posterior"]
    lines = [
        f"Observed to {date_label(summary['as_of'])}: {o['referred']} referred, "
        f"{o['enrolled']} enrolled, {o['infused']} infused, {o['in_pathway']} still in the "
        "pathway."
    ]
    for name, s in post["sites"].items():
        lines.append(
            f"Referral rate of {name}: {s['prior_rate_per_month']:.2f} → "
            f"**{s['posterior_rate_per_month']:.2f}** patients/month "
            f"({s['observed_referrals']} referrals seen in {s['exposure_months']:.1f} months "
            "at the full rate)."
        )
    for key, what, of in (
        ("screen_fail_prob", "Screen failure", "screened patients"),
        (
            "manufacturing_failed_prob",
            "Manufacturing failure (every batch of a patient)",
            "patients",
        ),
    ):
        b = post.get(key)
        if b is None:
            continue
        lo, hi = b["posterior_90_interval"]
        lines.append(
            f"{what}: {pct(b['prior'], 1)} → **{pct(b['posterior_mean'], 1)}** "
            f"(90% interval {pct(lo, 1)} to {pct(hi, 1)}; {b['observed_failures']:g} of "
            f"{b['observed_trials']:g} {of} observed)."
        )
    batch = post.get("batch_fail_prob")
    whole = post.get("manufacturing_failed_prob") or {}
    same = batch is not None and all(batch[k] == whole.get(k) for k in ("prior", "posterior_mean"))
    if batch is not None and not same:  # one batch a patient: the line above says it
        lines.append(
            f"So each batch fails with probability {pct(batch['prior'], 1)} → "
            f"**{pct(batch['posterior_mean'], 1)}** (QC or low yield)."
        )
    return lines
