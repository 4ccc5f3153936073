"""The report's downloads: the run shown as a one-page HTML or PDF report
(:mod:`sim.report.page`), made when the button is pressed."""

from __future__ import annotations

import functools
import re

import streamlit as st

from sim.app.views import LoadedInput, RunView
from sim.core.errors import InputError
from sim.report.page import ReportRun, render_html


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:60] or "scenario"


@functools.cache
def _can_draw() -> str | None:
    """Why the report cannot be drawn here (a missing package), or None."""
    try:
        import vl_convert  # noqa: F401
    except ImportError:
        return "install vl-convert-python to download the report"
    return None


def _browser() -> str | None:
    from sim.report.pdf import find_browser

    try:
        find_browser()
    except InputError as exc:
        return exc.message
    return None


def buttons(run: RunView, loaded: LoadedInput) -> None:
    """Download the run shown as a one-page report (HTML, and PDF where a browser can
    print it); a saved run, which keeps no per-month tables, says to run it again."""
    if run.results is None:
        st.caption("A report is made from a run: press **Run simulation** to make one.")
        return
    missing = _can_draw()
    if missing:
        st.caption(f"Report: {missing}.")
        return
    origin = (
        loaded.origin
        if run.scenario.digest() == loaded.scenario.digest()
        else f"edited in the dashboard from {loaded.origin}"
    )
    job = ReportRun(run.results, loaded.sources, origin)

    def page() -> str:
        return render_html(job)

    def pdf() -> bytes:
        from sim.report.pdf import html_to_pdf

        return html_to_pdf(render_html(job))

    name = _slug(run.label)
    left, right = st.columns(2)
    left.download_button(
        "Report (HTML)",
        data=page,
        file_name=f"{name}_report.html",
        mime="text/html",
        on_click="ignore",
        icon=":material/description:",
        width="stretch",
        help="One page to share: the answer, the charts, every setting and its source. "
        "It opens offline in any browser.",
    )
    no_browser = _browser()
    right.download_button(
        "Report (PDF)",
        data=pdf,
        file_name=f"{name}_report.pdf",
        mime="application/pdf",
        on_click="ignore",
        icon=":material/picture_as_pdf:",
        width="stretch",
        disabled=no_browser is not None,
        help=no_browser or "The same page as a PDF (A4).",
    )
