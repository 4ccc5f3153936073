"""``python -m sim verify``: the checks pass, the report is stable, and a wrong expectation
fails with exit status 1.

The checks run once (and a second time for the byte-for-byte comparison) in a module fixture
at a fraction of the fast subset's replications, so the file stays well under a minute.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path

import pytest
from scipy import stats as sps

from sim.cli.verify import add_verify_parser, cmd_verify
from sim.verify import CHECKS, DEFAULT_OUT, CheckGroup, VerifyConfig, verify
from sim.verify.eliana import compare_share, eliana_cohort
from sim.verify.fixed import check_fixed_sums
from sim.verify.queueing import erlang_c_wait, pk_wait
from sim.verify.records import K_SE, within_se
from sim.verify.referral import check_referral_counts, negbin_moments
from sim.verify.scenarios import shipped_scenario

ROOT = Path(__file__).resolve().parents[1]
SMALL = VerifyConfig.fast().scaled(0.4)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The checks at a small configuration, run twice into two report files."""
    folder = tmp_path_factory.mktemp("verify")
    first, second = folder / "first.md", folder / "second.md"
    status, groups = verify(SMALL, first, command="python -m sim verify")
    status2, _ = verify(SMALL, second, command="python -m sim verify")
    return status, status2, groups, first, second


@pytest.mark.slow  # runs the verification twice; CI runs it in full
def test_fast_subset_passes(runs):
    """Every gating check of the (scaled) fast subset passes, and the exit status is 0."""
    status, status2, groups, _, _ = runs
    failed = [r.name for g in groups for r in g.results if r.gating and not r.passed]
    assert failed == []
    assert status == status2 == 0
    assert [g.key for g in groups] == [
        "queueing",
        "little",
        "referral",
        "fixed",
        "invariants",
        "calendars",
        "phase1",
        "eliana",
    ]
    assert sum(len(g.results) for g in groups) >= 30


@pytest.mark.slow  # runs the verification twice; CI runs it in full
def test_report_is_written_and_byte_identical_on_a_rerun(runs):
    """The report holds a table row per check, no timings, and the same bytes twice."""
    _, _, groups, first, second = runs
    text = first.read_text(encoding="utf-8")
    assert first.read_bytes() == second.read_bytes()
    assert "| Check | What it checks | Simulated | Expected | Tolerance | Result |" in text
    for g in groups:
        assert f"{g.title}\n" in text
        for r in g.results:
            assert f"| `{r.name}` |" in text
    assert "**Result: all" in text
    assert str(ROOT) not in text  # no paths of this machine


@pytest.mark.slow  # runs the verification twice; CI runs it in full
def test_committed_report_lists_every_check(runs):
    """docs/validation.md is the report of the current checks (regenerate it when they change)."""
    _, _, groups, _, _ = runs
    committed = (ROOT / DEFAULT_OUT).read_text(encoding="utf-8")
    for g in groups:
        for r in g.results:
            assert f"| `{r.name}` |" in committed, r.name
    assert "**Result: all" in committed


def test_wrong_expected_value_fails_the_check():
    """The tolerance is not vacuous: the ELIANA infused share against a wrong count fails,
    against the published one passes; a mean 10% off its expectation fails."""
    sc = shipped_scenario("eliana_face_validity.yaml")
    counts, _ = eliana_cohort(sc, 40, seed=1)
    right = compare_share("x", "", counts["infused"], counts["enrolled"], 79, 97)
    wrong = compare_share("x", "", counts["infused"], counts["enrolled"], 50, 97)
    assert right.passed and not wrong.passed
    assert not wrong.low <= wrong.simulated <= wrong.high

    good = within_se("m", "", 10.0, 10.0, se=0.1)
    bad = within_se("m", "", 10.0, 11.0, se=0.1)
    assert good.passed and not bad.passed
    assert bad.high - bad.expected == pytest.approx(K_SE * 0.1)
    assert not within_se("m", "", math.nan, 10.0, se=1.0).passed  # NaN never passes


def _broken(cfg: VerifyConfig) -> CheckGroup:
    """The referral-count check evaluated against a wrong expected mean (10% too high)."""
    group = check_referral_counts(cfg)
    r = group.results[0]
    se = (r.high - r.expected) / K_SE
    wrong = within_se(r.name, r.what, r.simulated, r.expected * 1.1, se, unit=r.unit)
    return replace(group, results=(wrong, *group.results[1:]))


def test_a_failing_check_gives_exit_status_1(tmp_path, capsys):
    """One failed check: exit status 1, a one-line summary naming it, FAIL in the report."""
    out = tmp_path / "report.md"
    args = argparse.Namespace(full=False, out=str(out), workers=1, quiet=True)
    assert cmd_verify(args, checks=[_broken]) == 1
    line = capsys.readouterr().out.strip()
    assert line.startswith("verify: 1 of 5 checks FAIL (referral_poisson_mean)")
    assert "\n" not in line
    text = out.read_text(encoding="utf-8")
    assert "| FAIL |" in text and "failed: referral_poisson_mean" in text
    # the same command with only passing checks exits 0
    assert cmd_verify(args, checks=[check_fixed_sums]) == 0


def test_parser_accepts_the_documented_options():
    """`verify [--full] [--out FILE] [--workers N] [--quiet]` parses as the lead wires it."""
    parser = argparse.ArgumentParser()
    add_verify_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["verify", "--full", "--out", "x.md", "--quiet", "--workers", "2"])
    assert (args.full, args.out, args.quiet, args.workers) == (True, "x.md", True, 2)
    args = parser.parse_args(["verify"])
    assert (args.full, args.out, args.quiet, args.workers) == (False, DEFAULT_OUT, False, None)
    assert len(CHECKS) == 8


def test_theory_helpers_agree_with_known_cases():
    """Erlang C with one server is M/M/1; P-K with exponential service is M/M/1; the
    negative binomial moments match scipy's."""
    lam, mu = 0.5, 1.0
    mm1 = (lam / mu) / (mu - lam)
    assert erlang_c_wait(lam, mu, 1) == pytest.approx(mm1)
    assert pk_wait(lam, 1 / mu, 1 / mu**2) == pytest.approx(mm1)
    assert erlang_c_wait(1.0, 0.5, 2) == math.inf  # rho = 1: no steady state
    m, k = 39.4, 3.0
    nb = sps.nbinom(k, k / (k + m))
    var, mu4 = negbin_moments(m, k)
    assert var == pytest.approx(nb.var())
    assert mu4 == pytest.approx((nb.stats(moments="k") + 3) * nb.var() ** 2)
    var, mu4 = negbin_moments(m, None)
    assert var == pytest.approx(m) and mu4 == pytest.approx(m + 3 * m * m)
