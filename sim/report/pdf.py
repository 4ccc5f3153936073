"""The report's PDF: its HTML page printed by a headless Chromium (or Chrome), offline.

Why a browser: the PDF is then the very page the HTML shows (same layout, the same inline
SVG charts, selectable text), with no Python package at all; the machines that run the
dashboard's browser test have Chromium already. The alternatives weigh more or print
another page: WeasyPrint needs Pango and its own layout engine; xhtml2pdf knows little
CSS and no inline SVG. The browser is found as ``$CART_TRIAL_SIM_BROWSER`` or on the PATH
(``chromium``, ``chromium-browser``, ``google-chrome``, ``chrome``); it gets a local file
and no network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sim.core.errors import InputError

ENV_VAR = "CART_TRIAL_SIM_BROWSER"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
TIMEOUT_S = 120


def find_browser() -> str:
    """The browser that prints the PDF; InputError saying how to get one when there is
    none."""
    given = os.environ.get(ENV_VAR, "").strip()
    if given:
        found = shutil.which(given)
        if found:
            return found
        raise InputError(f"is not a program that can be run: {given!r}", source=f"${ENV_VAR}")
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise InputError(
        "a PDF report is printed by Chromium or Chrome, and none was found: install one "
        f"(Debian: apt-get install chromium) or name it in ${ENV_VAR}; "
        "or write the report as .html"
    )


def html_to_pdf(page: str) -> bytes:
    """The HTML page ``page`` printed to PDF (A4, as its CSS says), offline."""
    browser = find_browser()
    with tempfile.TemporaryDirectory(prefix="cart-report-") as tmp:
        src = Path(tmp) / "report.html"
        out = Path(tmp) / "report.pdf"
        src.write_text(page, encoding="utf-8")
        command = [
            browser,
            "--headless",
            "--disable-gpu",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--no-sandbox")  # a browser refuses to run as root otherwise
        command.append(src.as_uri())
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InputError(f"could not print the PDF with {browser}: {exc}") from None
        if done.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise InputError(f"could not print the PDF with {browser}: {last}")
        return out.read_bytes()
