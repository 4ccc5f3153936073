"""The records of a check (:class:`CheckResult`, :class:`CheckGroup`), the two ways of
setting an acceptance interval (:func:`within_se`, :func:`exactly`), and the replications of
each check (:class:`VerifyConfig`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from scipy import stats as sps

from sim.report.text import sig

K_SE = 4.0
"""Standard errors either side of the expected value that a simulated mean may lie."""
Z95 = float(sps.norm.ppf(0.975))
"""The two-sided 95% normal quantile (1.96)."""
EXACT_ABS = 1e-9
"""Days (or counts): the floating-point tolerance of exact sums and identities."""


@dataclass(frozen=True)
class CheckResult:
    """One comparison: passes when ``low <= simulated <= high``.

    ``tolerance`` says in words how ``[low, high]`` was set. A result with ``gating=False`` is
    reported but does not change the exit status (a secondary face-validity comparison).
    """

    name: str
    what: str
    simulated: float
    expected: float
    low: float
    high: float
    tolerance: str
    unit: str = ""
    gating: bool = True

    @property
    def passed(self) -> bool:
        """``low <= simulated <= high``; a NaN value never passes."""
        return bool(self.low <= self.simulated <= self.high)  # NaN fails


@dataclass(frozen=True)
class CheckGroup:
    """The results of one check function, with its method note for the report."""

    key: str
    title: str
    method: str
    results: tuple[CheckResult, ...]
    seconds: float = field(default=0.0, compare=False)

    @property
    def passed(self) -> bool:
        """Every gating result passes (secondary comparisons do not count)."""
        return all(r.passed for r in self.results if r.gating)


def within_se(
    name: str,
    what: str,
    simulated: float,
    expected: float,
    se: float,
    k: float = K_SE,
    unit: str = "",
    note: str = "",
) -> CheckResult:
    """Pass when ``simulated`` is within ``k`` standard errors ``se`` of ``expected``."""
    half = k * se
    tol = f"±{sig(half)} ({k:g} SE; SE {sig(se)}{'; ' + note if note else ''})"
    return CheckResult(name, what, simulated, expected, expected - half, expected + half, tol, unit)


def exactly(
    name: str, what: str, simulated: float, expected: float, atol: float = EXACT_ABS, unit: str = ""
) -> CheckResult:
    """Pass when ``simulated`` equals ``expected`` up to floating point (``atol``)."""
    tol = "none: no violation allowed" if atol == 0 else f"±{atol:g} (floating point)"
    return CheckResult(name, what, simulated, expected, expected - atol, expected + atol, tol, unit)


@dataclass(frozen=True)
class VerifyConfig:
    """Replications and horizons of every check; :meth:`fast` is run in CI."""

    label: str
    seed: int = 1
    queue_reps: int = 30
    mm1_horizon_days: float = 4000.0
    mmc_horizon_days: float = 10000.0
    md1_horizon_days: float = 20000.0
    count_draws: int = 4000
    little_reps: int = 300
    fixed_reps: int = 5
    invariant_reps: int = 60
    eliana_reps: int = 1000
    protocol_reps: tuple[int, int] = (100, 2000)
    """Working calendars and phase 1: replications of each scenario of the calendar check
    and of the phase 1 rules, and simulated trials of the 3+3 decisions against the
    binomial formulas."""

    @property
    def calendar_reps(self) -> int:
        """Replications of each scenario of the calendar check and of the phase 1 rules."""
        return self.protocol_reps[0]

    @property
    def phase1_reps(self) -> int:
        """Simulated trials of the 3+3 decisions check."""
        return self.protocol_reps[1]

    @classmethod
    def fast(cls) -> VerifyConfig:
        """The fast subset: the committed report, in about a minute."""
        return cls(label="fast subset")

    @classmethod
    def full(cls) -> VerifyConfig:
        """More replications and longer horizons: tighter checks, a few minutes."""
        return cls(
            label="full",
            queue_reps=100,
            mm1_horizon_days=20000.0,
            mmc_horizon_days=36000.0,
            md1_horizon_days=36000.0,
            count_draws=40000,
            little_reps=2000,
            fixed_reps=50,
            invariant_reps=400,
            eliana_reps=5000,
            protocol_reps=(1000, 20000),
        )

    def scaled(self, factor: float) -> VerifyConfig:
        """Fewer (or more) replications in every check, for quick tests."""

        def n(value: int, least: int) -> int:
            return max(least, round(value * factor))

        return replace(
            self,
            label=f"{self.label}, replications x{factor:g}",
            queue_reps=n(self.queue_reps, 5),
            count_draws=n(self.count_draws, 200),
            little_reps=n(self.little_reps, 5),
            fixed_reps=n(self.fixed_reps, 1),
            invariant_reps=n(self.invariant_reps, 3),
            eliana_reps=n(self.eliana_reps, 20),
            protocol_reps=(n(self.calendar_reps, 3), n(self.phase1_reps, 50)),
        )
