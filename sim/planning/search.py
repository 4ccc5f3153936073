"""The cheapest point of a lattice where a non-decreasing predicate holds (pure: the
predicate is given; sizing passes a simulation)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

MAX_LATTICE = 1_000_000
"""Above this many configurations the cheaper-point check (step 4) is skipped."""

Config = tuple[int, ...]


@dataclass
class MonotoneSearch:
    """Cheapest point of the lattice ``lower..upper`` where a non-decreasing predicate holds.

    ``feasible`` is called only where memo and dominance cannot decide; ``asked`` lists those
    calls in order.
    """

    feasible: Callable[[Config], bool]
    lower: Config
    upper: Config
    costs: Sequence[float]
    known: dict[Config, bool] = field(default_factory=dict)
    asked: list[Config] = field(default_factory=list)

    def cost(self, x: Config) -> float:
        return float(sum(c * v for c, v in zip(self.costs, x, strict=True)))

    def status(self, x: Config) -> bool:
        if x in self.known:
            return self.known[x]
        for y, ok in self.known.items():
            if ok and all(a >= b for a, b in zip(x, y, strict=True)):
                return True
            if not ok and all(a <= b for a, b in zip(x, y, strict=True)):
                return False
        ok = bool(self.feasible(x))
        self.known[x] = ok
        self.asked.append(x)
        return ok

    def raise_together(self, start: Config) -> Config | None:
        """The least feasible point ``start + d`` (each capped at its upper bound), or None."""
        if not self.status(self.upper):
            return None
        if self.status(start):
            return start
        top = max(u - s for s, u in zip(start, self.upper, strict=True))

        def at(d: int) -> Config:
            return tuple(min(s + d, u) for s, u in zip(start, self.upper, strict=True))

        bad, d = 0, 1
        while d < top and not self.status(at(d)):
            bad, d = d, d * 2
        good = min(d, top)
        while good - bad > 1:
            mid = (good + bad) // 2
            if self.status(at(mid)):
                good = mid
            else:
                bad = mid
        return at(good)

    def descend(self, x: Config) -> Config:
        """A minimal feasible point below feasible ``x``: each coordinate lowered in turn
        (costliest first) to the least value that keeps the predicate true."""
        x = list(x)
        order = sorted(range(len(x)), key=lambda i: (-self.costs[i], i))
        for i in order:
            good, bad = x[i], self.lower[i] - 1
            while good - bad > 1:
                mid = (good + bad) // 2
                if self.status((*x[:i], mid, *x[i + 1 :])):
                    good = mid
                else:
                    bad = mid
            x[i] = good
        return tuple(x)

    def ask(self, x: Config) -> bool:
        """The predicate itself at ``x`` (memoised, never inferred)."""
        if x not in self.known:
            self.known[x] = bool(self.feasible(x))
            self.asked.append(x)
        return self.known[x]

    def one_less(self, x: Config) -> list[Config]:
        """``x`` with one unit less of each coordinate above its lower bound."""
        return [(*x[:i], v - 1, *x[i + 1 :]) for i, v in enumerate(x) if v > self.lower[i]]

    def verified(self, best: Config | None) -> tuple[Config | None, list[Config]]:
        """``best`` checked by asking the predicate itself at one unit less of each coordinate;
        where one holds after all (a predicate that is not quite monotone), the descent goes
        on from it. Returns the final point and the points that contradicted the inference."""
        contradicted: list[Config] = []
        while best is not None:
            below = [y for y in self.one_less(best) if self.ask(y)]
            if not below:
                break
            contradicted.append(below[0])
            best = self.descend(below[0])
        return best, contradicted

    def cheapest(self, start: Config, max_lattice: int = MAX_LATTICE) -> tuple[Config | None, bool]:
        """(the cheapest feasible point or None, whether cheaper points were all ruled out)."""
        found = self.raise_together(start)
        if found is None:
            return None, True
        best = self.descend(found)
        axes = [np.arange(lo, hi + 1) for lo, hi in zip(self.lower, self.upper, strict=True)]
        size = math.prod(len(a) for a in axes)
        if size > max_lattice:
            return best, False
        points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))
        costs = points @ np.asarray(self.costs, dtype=float)
        alive = costs < self.cost(best) - 1e-9
        for y, ok in self.known.items():
            if not ok:
                alive &= ~np.all(points <= np.asarray(y), axis=1)
        while alive.any():
            idx = np.flatnonzero(alive)
            # the costliest candidate (ties: the lexicographically largest) is maximal among
            # the candidates, so a failure there rules out the most
            pick = idx[np.lexsort((*points[idx].T[::-1], costs[idx]))[-1]]
            x = tuple(int(v) for v in points[pick])
            if self.status(x):
                best = self.descend(x)
                alive &= costs < self.cost(best) - 1e-9
            else:
                alive &= ~np.all(points <= points[pick], axis=1)
        return best, True
