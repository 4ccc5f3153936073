"""Distribution specs of scenario files, and samplers that draw from an injected Generator.

A duration or quantity in a scenario is a plain number (fixed) or a mapping with ``dist``:
``fixed`` (value), ``exponential`` (mean), ``uniform`` (low, high), ``triangular``
(low, mode, high), ``lognormal`` (mean, sd of the variable itself), ``gamma`` (mean, sd) or
``empirical`` (values, resampled with equal weight).

Every sampler draws by inversion of the cumulative distribution from uniforms of the given
Generator, one uniform per value. So a change of a parameter moves each draw monotonically
and keeps the stream aligned: common random numbers hold across scenarios that differ in
a distribution's parameters, not only in capacity.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from sim.core import special

_CONFIG = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

NonNeg = Annotated[float, Field(ge=0)]
Pos = Annotated[float, Field(gt=0)]


MAX_PARAM = 1e12
"""The largest size of any parameter of a distribution (days, kg, cm, cells): every draw and
every sum of draws then stays a finite number."""
MAX_CV = 1000.0
"""The largest ratio of a lognormal's or gamma's sd to its mean."""


class _Dist(BaseModel):
    model_config = _CONFIG

    @model_validator(mode="after")
    def _finite_sums(self) -> _Dist:
        for name, value in self:
            for x in value if isinstance(value, list) else [value]:
                if isinstance(x, float) and abs(x) > MAX_PARAM:
                    raise ValueError(
                        f"{name.rstrip('_')} ({x:g}) is beyond the {MAX_PARAM:g} a "
                        "distribution's parameter may be"
                    )
        return self

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws, by inversion of ``n`` uniforms from ``rng``."""
        return self.ppf(rng.random(n))

    def ppf(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def mean(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def lowest(self) -> float:  # pragma: no cover - abstract
        """The smallest value the distribution can give."""
        raise NotImplementedError

    def cdf(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """P(value <= x), elementwise."""
        raise NotImplementedError

    def remaining(self, u: float, elapsed: float) -> float:
        """What is left of a duration that has already lasted ``elapsed``: a draw, by
        inversion of the uniform ``u``, from the distribution given that it exceeds
        ``elapsed``, less ``elapsed``; 0 when it cannot last that long."""
        if elapsed <= 0:
            return float(self.ppf(np.array([u]))[0])
        f = float(self.cdf(np.array([elapsed], dtype=float))[0])
        if f >= 1.0:
            return 0.0
        return max(0.0, float(self.ppf(np.array([f + u * (1.0 - f)]))[0]) - elapsed)

    def scaled(self, factor: float) -> _Dist:
        """The same shape, every value multiplied by ``factor`` (> 0)."""
        spec = self.spec
        for name in self.param_names():
            value = spec[name]
            spec[name] = [v * factor for v in value] if isinstance(value, list) else value * factor
        return type(self).model_validate(spec)

    # --- moments and conversions (the dashboard converts a distribution to another kind)

    @classmethod
    def kind(cls) -> str:
        """Its ``dist`` name: ``"gamma"``."""
        return cls.model_fields["dist"].annotation.__args__[0]

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """Its parameters as a scenario file names them: ``("low", "mode", "high")``."""
        return tuple(f.alias or name for name, f in cls.model_fields.items() if name != "dist")

    @property
    def spec(self) -> dict[str, Any]:
        """The distribution as a scenario file writes it: ``{"dist": "gamma", "mean": ...}``."""
        return self.model_dump(by_alias=True)

    @property
    def std(self) -> float:
        """Standard deviation, in the unit of its values: the ``sd`` of a kind that states
        it (lognormal, gamma), 0 for a fixed value; the other kinds compute their own."""
        return float(self.spec.get("sd", 0.0))

    @classmethod
    def spec_from_moments(cls, mean: float, sd: float, floor: float = -math.inf) -> dict[str, Any]:
        """The spec of a distribution of this kind with mean ``mean`` and standard deviation
        ``sd`` (where the kind has a spread; an exponential's is its mean), parameters to 4
        significant figures, no bound below ``floor``.

        Plain data, not validated: moments this kind cannot have (an exponential of mean 0)
        are reported where the spec is validated, which names the field."""
        by_moment = {"value": mean, "mean": mean, "sd": sd}
        return cls._spec(**{name: by_moment[name] for name in cls.param_names()})

    def convert(self, kind: str) -> dict[str, Any]:
        """This distribution as the spec of a ``kind`` one with the same mean, and the same
        standard deviation where ``kind`` has a spread (see :meth:`spec_from_moments`); a
        lower bound stays at 0 or above when this one never goes below 0."""
        if kind == self.kind():
            return self.spec
        floor = 0.0 if self.lowest >= 0 else -math.inf
        return DIST_CLASSES[kind].spec_from_moments(self.mean, self.std, floor)

    @classmethod
    def _spec(cls, **params: Any) -> dict[str, Any]:
        return {"dist": cls.kind(), **{k: _sig4(v) for k, v in params.items()}}


class Fixed(_Dist):
    dist: Literal["fixed"] = "fixed"
    value: float

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.full(np.shape(u), self.value, dtype=float)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=float) >= self.value).astype(float)

    @property
    def mean(self) -> float:
        return self.value

    @property
    def lowest(self) -> float:
        return self.value


class Exponential(_Dist):
    dist: Literal["exponential"]
    mean_: Pos = Field(alias="mean")

    model_config = ConfigDict(**_CONFIG, populate_by_name=True)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return -self.mean_ * np.log1p(-u)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return -np.expm1(-np.maximum(np.asarray(x, dtype=float), 0.0) / self.mean_)

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def lowest(self) -> float:
        return 0.0

    @property
    def std(self) -> float:
        return self.mean_


class Uniform(_Dist):
    dist: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be at least low ({self.low})")
        return self

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.low + (self.high - self.low) * u

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if self.high == self.low:
            return (x >= self.low).astype(float)
        return np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def lowest(self) -> float:
        return self.low

    @property
    def std(self) -> float:
        return (self.high - self.low) / math.sqrt(12)

    @classmethod
    def spec_from_moments(cls, mean: float, sd: float, floor: float = -math.inf) -> dict[str, Any]:
        half = math.sqrt(3) * sd
        return cls._spec(low=max(mean - half, floor), high=mean + half)


class Triangular(_Dist):
    dist: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.low <= self.mode <= self.high:
            raise ValueError(
                f"needs low <= mode <= high, got low {self.low}, mode {self.mode}, high {self.high}"
            )
        return self

    def ppf(self, u: np.ndarray) -> np.ndarray:
        lo, mo, hi = self.low, self.mode, self.high
        width = hi - lo
        if width == 0:
            return np.full(np.shape(u), lo, dtype=float)
        c = (mo - lo) / width
        left = lo + np.sqrt(u * width * (mo - lo))
        right = hi - np.sqrt((1 - u) * width * (hi - mo))
        return np.where(u < c, left, right)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        lo, mo, hi = self.low, self.mode, self.high
        x = np.asarray(x, dtype=float)
        if hi == lo:
            return (x >= lo).astype(float)
        width = hi - lo
        with np.errstate(divide="ignore", invalid="ignore"):
            left = (x - lo) ** 2 / (width * (mo - lo))
            right = 1.0 - (hi - x) ** 2 / (width * (hi - mo))
        return np.select([x <= lo, x <= mo, x < hi], [0.0, left, right], 1.0)

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    @property
    def lowest(self) -> float:
        return self.low

    @property
    def std(self) -> float:
        a, c, b = self.low, self.mode, self.high
        return math.sqrt(max((a * a + b * b + c * c - a * b - a * c - b * c) / 18, 0.0))

    @classmethod
    def spec_from_moments(cls, mean: float, sd: float, floor: float = -math.inf) -> dict[str, Any]:
        half = math.sqrt(6) * sd
        return cls._spec(low=max(mean - half, floor), mode=mean, high=mean + half)


class _ByMeanSd(_Dist):
    """A distribution given the mean and standard deviation of the variable itself (its
    ``dist`` comes first, so a scenario file keeps its order); with ``sd`` 0 it is that fixed
    value."""

    dist: str
    mean_: Pos = Field(alias="mean")
    sd: NonNeg

    model_config = ConfigDict(**_CONFIG, populate_by_name=True)

    @model_validator(mode="after")
    def _spread_bounded(self) -> _ByMeanSd:
        if self.sd > MAX_CV * self.mean_:
            raise ValueError(
                f"sd ({self.sd:g}) must be at most {MAX_CV:,.0f} times the mean ({self.mean_:g})"
            )
        return self

    def ppf(self, u: np.ndarray) -> np.ndarray:
        if self.sd == 0:
            return np.full(np.shape(u), self.mean_, dtype=float)
        return self._spread(u)

    def _spread(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if self.sd == 0:
            return (x >= self.mean_).astype(float)
        return self._spread_cdf(np.maximum(x, 0.0))

    def _spread_cdf(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def lowest(self) -> float:
        return 0.0 if self.sd > 0 else self.mean_


class LogNormal(_ByMeanSd):
    """Log-normal given the mean and standard deviation of the variable itself."""

    dist: Literal["lognormal"]

    def _log_params(self) -> tuple[float, float]:
        sigma2 = math.log1p((self.sd / self.mean_) ** 2)
        return math.log(self.mean_) - sigma2 / 2, math.sqrt(sigma2)

    def _spread(self, u: np.ndarray) -> np.ndarray:
        mu, sigma = self._log_params()
        return np.exp(mu + sigma * special.ndtri(u))

    def _spread_cdf(self, x: np.ndarray) -> np.ndarray:
        mu, sigma = self._log_params()
        with np.errstate(divide="ignore"):
            return special.ndtr((np.log(x) - mu) / sigma)


class Gamma(_ByMeanSd):
    """Gamma given its mean and standard deviation."""

    dist: Literal["gamma"]

    def _spread(self, u: np.ndarray) -> np.ndarray:
        ratio = self.mean_ / self.sd
        if ratio > 1e12:  # a spread below 1e-12 of the mean: its mean, to float precision
            return np.full(np.shape(u), self.mean_, dtype=float)
        return special.gammaincinv(ratio**2, u) * (self.sd**2 / self.mean_)

    def _spread_cdf(self, x: np.ndarray) -> np.ndarray:
        shape = (self.mean_ / self.sd) ** 2
        return special.gammainc(shape, x / (self.sd**2 / self.mean_))


class Empirical(_Dist):
    """Resamples the given values with equal weight."""

    dist: Literal["empirical"]
    values: Annotated[list[float], Field(min_length=1)]

    def ppf(self, u: np.ndarray) -> np.ndarray:
        arr = np.asarray(self.values, dtype=float)
        idx = np.minimum((np.asarray(u) * len(arr)).astype(np.int64), len(arr) - 1)
        return arr[idx]

    def cdf(self, x: np.ndarray) -> np.ndarray:
        arr = np.sort(np.asarray(self.values, dtype=float))
        return np.searchsorted(arr, np.asarray(x, dtype=float), side="right") / len(arr)

    def remaining(self, u: float, elapsed: float) -> float:
        """One of the values above ``elapsed``, each as likely (picked by ``u``), less
        ``elapsed``; 0 when none is above."""
        if elapsed <= 0:
            return super().remaining(u, elapsed)
        above = sorted(v for v in self.values if v > elapsed)
        if not above:
            return 0.0
        return above[min(int(u * len(above)), len(above) - 1)] - elapsed

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def lowest(self) -> float:
        return min(self.values)

    @property
    def std(self) -> float:
        return float(np.std(self.values))

    @classmethod
    def spec_from_moments(cls, mean: float, sd: float, floor: float = -math.inf) -> dict[str, Any]:
        return cls._spec(values=[mean])


DIST_CLASSES: dict[str, type[_Dist]] = {
    "fixed": Fixed,
    "exponential": Exponential,
    "uniform": Uniform,
    "triangular": Triangular,
    "lognormal": LogNormal,
    "gamma": Gamma,
    "empirical": Empirical,
}
DIST_NAMES = tuple(DIST_CLASSES)


def _sig4(x: Any) -> Any:
    """A number (or each of a list) rounded to 4 significant figures."""
    if isinstance(x, list):
        return [_sig4(v) for v in x]
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.4g}")


def _number_to_fixed(value: Any) -> Any:
    """A plain number means a fixed value; a mapping names its ``dist``."""
    if isinstance(value, bool):
        raise ValueError("must be a number or a distribution mapping, not a boolean")
    if isinstance(value, int | float):
        return {"dist": "fixed", "value": value}
    if isinstance(value, dict):
        name = value.get("dist")
        if name not in DIST_NAMES:
            raise ValueError(f"unknown distribution {name!r}; allowed: {', '.join(DIST_NAMES)}")
    elif isinstance(value, _Dist):
        return value
    else:
        raise ValueError("must be a number or a mapping with 'dist' (e.g. {dist: fixed, value: 3})")
    return value


def _at_least(bound: float, strict: bool):
    def check(d: _Dist) -> _Dist:
        low = d.lowest
        open_low = isinstance(d, Exponential | LogNormal | Gamma) and low == 0.0
        bad = (low < bound or (low == bound and not open_low)) if strict else low < bound
        if bad:
            relation = "above" if strict else "at least"
            raise ValueError(
                f"every value must be {relation} {bound:g}; this {d.dist} reaches {low:g}"
            )
        return d

    return check


Dist = Annotated[
    Fixed | Exponential | Uniform | Triangular | LogNormal | Gamma | Empirical,
    Field(discriminator="dist"),
]
AnyDist = Annotated[Dist, BeforeValidator(_number_to_fixed)]
Duration = Annotated[AnyDist, AfterValidator(_at_least(0.0, strict=False))]
"""A non-negative duration in days, fixed or random."""
PositiveQuantity = Annotated[AnyDist, AfterValidator(_at_least(0.0, strict=True))]
"""A quantity that must be above zero (a weight, a height), fixed or random."""
NonNegQuantity = Duration
"""A quantity that may be zero but not negative (a cell yield)."""
