"""The dashboard in a real browser: `streamlit run app.py` headless on a free loopback port,
driven by Playwright with the system's Chromium (Debian's `chromium` package; nothing is
downloaded).

Expected: the page opens on the baseline scenario; after **Run simulation** with 500
replications every view shows its charts drawn (an `svg` or `canvas` inside `.vega-embed`,
not only its container) within 5 s of the click; no exception box appears anywhere. The
time is printed, and screenshots of the views are kept in test-artifacts/.

Run with `make test-browser` (the default `make test` deselects the `browser` marker).
Outside CI the test skips when /usr/bin/chromium is missing; in CI (the CI environment
variable set) it fails instead, since `.ci/run` installs Chromium.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPS = 500
BUDGET_S = 5.0
CHART = ".vega-embed svg, .vega-embed canvas"
# tab -> charts it draws once a run is shown
CHART_VIEWS = {"Forecast": 2, "Patient flow": 2, "Capacity": 7, "Patients": 1}
# tab -> a button it shows (these views draw no chart until asked)
OTHER_VIEWS = {"Compare": "Compare", "Saved runs": "Save run"}

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Server:
    url: str
    log: Path


def _need_browser() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; in CI .ci/run installs it, so this test must run")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"streamlit did not start:\n{log.read_text()}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`streamlit run app.py`, headless, on a free loopback port, with its own run store."""
    _need_browser()
    pytest.importorskip("playwright.sync_api")
    tmp = tmp_path_factory.mktemp("browser")
    port = _free_port()
    log = tmp / "streamlit.log"
    env = dict(os.environ, CART_TRIAL_SIM_STORE=str(tmp / "runs.sqlite"))
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, proc, log)
            yield Server(url, log)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)


@pytest.fixture(scope="module")
def page(server: Server) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1500, "height": 1000})
            pg.goto(server.url)
            yield pg
        finally:
            browser.close()


def _panel(page: Any) -> Any:
    """The tab panel on screen."""
    return page.locator('[role="tabpanel"]:visible').first


def test_run_shows_every_view_within_budget(page: Any, server: Server) -> None:
    """Opens on the baseline; 500 replications: every view's charts drawn within 5 s of
    submit, and no exception box. On failure: a screenshot and the server's log."""
    try:
        _check_views(page)
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "browser-failure.png"))
        print("streamlit log (end):\n" + server.log.read_text()[-4000:])
        raise


def _check_views(page: Any) -> None:
    from playwright.sync_api import expect

    run = page.get_by_role("button", name="Run simulation")
    run.wait_for(timeout=60_000)
    expect(page.get_by_text("Scenario: Seed protocol baseline")).to_be_visible()
    reps = page.get_by_role("spinbutton", name="Replications (trials)")
    expect(reps).to_have_value(str(REPS))
    expect(_panel(page).locator(CHART)).to_have_count(1)  # the referrals the scenario expects

    started = time.perf_counter()
    run.click()
    expect(page.get_by_text(f"{REPS} simulated trials, seed")).to_be_visible(timeout=60_000)
    seen = {}
    for tab, charts in CHART_VIEWS.items():
        page.get_by_role("tab", name=tab).click()
        drawn = _panel(page).locator(CHART)
        expect(drawn).to_have_count(charts, timeout=60_000)
        for i in range(charts):
            expect(drawn.nth(i)).to_be_visible(timeout=60_000)
        seen[tab] = time.perf_counter() - started
    for tab, button in OTHER_VIEWS.items():
        page.get_by_role("tab", name=tab).click()
        _panel(page).get_by_role("button", name=button, exact=True).wait_for(timeout=60_000)
        seen[tab] = time.perf_counter() - started
    elapsed = time.perf_counter() - started

    caption = page.get_by_text("simulated trials, seed").first.inner_text()
    print(
        f"\nsubmit to every view drawn, {REPS} replications: {elapsed:.2f} s "
        f"({', '.join(f'{k} {v:.2f} s' for k, v in seen.items())}); server: {caption}"
    )
    assert page.locator('[data-testid="stException"]').count() == 0

    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1500, "height": 2300})
    for tab in (*CHART_VIEWS, *OTHER_VIEWS):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(700)
        page.screenshot(path=str(ARTIFACTS / f"browser-{tab.lower().replace(' ', '-')}.png"))
    page.get_by_role("tab", name="Forecast").click()
    page.set_viewport_size({"width": 1500, "height": 1300})
    page.wait_for_timeout(700)
    page.screenshot(path=str(ARTIFACTS / "browser-dashboard.png"))
    assert page.locator('[data-testid="stException"]').count() == 0
    assert elapsed < BUDGET_S, f"every view took {elapsed:.2f} s after submit (budget 5 s)"
