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
    no_browser = _browser()
    buttons = (
        ("Report (HTML)", page, "html", "text/html", ":material/description:", None,
         "One page to share: the answer, the charts, every setting and its source. It "
         "opens offline in any browser."),
        ("Report (PDF)", pdf, "pdf", "application/pdf", ":material/picture_as_pdf:",
         no_browser, "The same page as a PDF (A4)."),
    )  # fmt: skip
    for col, (label, data, suffix, mime, icon, off, help) in zip(
        st.columns(2), buttons, strict=True
    ):
        col.download_button(
            label, data=data, file_name=f"{name}_report.{suffix}", mime=mime,
            on_click="ignore", icon=icon, width="stretch", disabled=off is not None,
            help=off or help,
        )  # fmt: skip
