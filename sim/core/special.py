"""Quantile functions the model and its statistics need, without importing SciPy.

Importing ``scipy.special`` costs about a quarter of a second, more than a short run of the
whole model, so the normal and Student-t quantiles that every run needs are computed here:
the normal by Wichura's algorithm AS241 (PPND16, relative error about 1e-16; the C version
of Python's own ``statistics.NormalDist``), the Student t
by Newton's method on its distribution function (a continued fraction of the incomplete beta
function). The gamma and beta quantiles, needed only by scenarios that use gamma
distributions, uncertain referral rates or a forecast, import SciPy when first used.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

try:  # Wichura's AS241 in C, as Python's NormalDist uses it (pure Python where C is missing)
    from statistics import _normal_dist_inv_cdf as _as241
except ImportError:  # pragma: no cover - every CPython since 3.9 has it
    from statistics import NormalDist

    def _as241(p: float, mu: float, sigma: float) -> float:
        return NormalDist(mu, sigma).inv_cdf(p)


_INF = math.inf


def ndtri(p: Any) -> np.ndarray:
    """The standard normal quantile of each ``p`` (-inf at 0, +inf at 1; AS241, relative
    error about 1e-16)."""
    values = np.asarray(p, dtype=float)
    out = [
        _as241(x, 0.0, 1.0) if 0.0 < x < 1.0 else (-_INF if x <= 0.0 else _INF)
        for x in values.ravel().tolist()
    ]
    return np.array(out, dtype=float).reshape(values.shape)


def norm_ppf(p: float) -> float:
    """The standard normal quantile of one probability."""
    return -_INF if p <= 0.0 else _INF if p >= 1.0 else _as241(p, 0.0, 1.0)


def _stirling_tail(z: float) -> float:
    """ln Gamma(z) minus its Stirling approximation (accurate to 1e-17 for z >= 20)."""
    z2 = z * z
    return (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680 - 1 / (1188 * z2)) / z2) / z2) / z2) / z


def _log_beta(a: float, b: float) -> float:
    """ln B(a, b); with one argument 1/2 and the other large, without the cancellation of
    two large log-gammas."""
    big = max(a, b)
    if min(a, b) == 0.5 and big >= 20:  # ln G(big + 1/2) - ln G(big), by Stirling's series
        ratio = big * math.log1p(0.5 / big) + 0.5 * math.log(big) - 0.5
        ratio += _stirling_tail(big + 0.5) - _stirling_tail(big)
        return 0.5 * math.log(math.pi) - ratio
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _betainc(a: float, b: float, x: float, y: float) -> float:
    """The regularised incomplete beta function I_x(a, b), given x and y = 1 - x (both,
    so that neither loses digits), by its continued fraction (modified Lentz)."""
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc(b, a, y, x)
    log_x = math.log1p(-y) if x > 0.5 else math.log(x)
    log_y = math.log1p(-x) if y > 0.5 else math.log(y)
    log_front = a * log_x + b * log_y - _log_beta(a, b)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 100_000):
        m2 = 2 * m
        for num in (
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-16:
            break
    return math.exp(log_front) * f / a


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom."""
    t2 = t * t
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2))
    return tail if t >= 0 else 1.0 - tail


def _t_central(t: float, df: float) -> float:
    """P(|T| < t), accurate for small t too."""
    t2 = t * t
    return _betainc(0.5, df / 2.0, t2 / (df + t2), df / (df + t2))


LARGE_DF = 5000
"""From here on the Cornish-Fisher expansion alone is exact to about 1e-14."""


def _cornish_fisher(z: float, df: float) -> float:
    """The t quantile from the normal one, to the fourth order in 1/df (Abramowitz and
    Stegun 26.7.5)."""
    z2 = z * z
    g1 = z * (z2 + 1) / 4
    g2 = z * ((5 * z2 + 16) * z2 + 3) / 96
    g3 = z * (((3 * z2 + 19) * z2 + 17) * z2 - 15) / 384
    g4 = z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) / 92160
    return z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df


def t_ppf(p: float, df: float) -> float:
    """The Student-t quantile of ``p`` with ``df`` degrees of freedom (``df`` >= 1)."""
    if not 0.0 < p < 1.0:
        return -math.inf if p <= 0.0 else math.inf
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    if p == 0.5:
        return 0.0
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = norm_ppf(p)
    t = _cornish_fisher(z, df)
    if df >= LARGE_DF:
        return t
    # Newton from there, on the central probability (near the middle) or on the upper tail
    # (towards 1), so that neither cancels
    central = 2.0 * (p - 0.5)
    log_density = -_log_beta(df / 2.0, 0.5) - 0.5 * math.log(df)
    for _ in range(100):
        density = math.exp(log_density - (df + 1) / 2 * math.log1p(t * t / df))
        if central < 0.5:
            step = (central - _t_central(t, df)) / (2.0 * density)
        else:
            step = (t_sf(t, df) - (1.0 - p)) / density
        t += step
        if abs(step) <= 1e-15 * abs(t):
            break
    return t


def gammaincinv(a: float, u: Any) -> Any:
    """The quantile of a gamma with shape ``a`` and scale 1 (SciPy, imported on first use)."""
    from scipy import special

    return special.gammaincinv(a, u)


def betaincinv(a: float, b: float, u: Any) -> Any:
    """The quantile of a beta(a, b) (SciPy, imported on first use)."""
    from scipy import special

    return special.betaincinv(a, b, u)


def ndtr(x: Any) -> Any:
    """The standard normal distribution function (SciPy, imported on first use)."""
    from scipy import special

    return special.ndtr(x)


def gammainc(a: float, x: Any) -> Any:
    """The regularised lower incomplete gamma function (SciPy, imported on first use)."""
    from scipy import special

    return special.gammainc(a, x)
