"""Random streams: one per activity, derived from a replication's seed and the stream's name.

A stream's seed depends on the replication's ``SeedSequence`` and a stable hash of the
stream's name, never on the order in which streams are created, so a stream added later
shifts no other, and two scenarios meet the same draws for the same activity.
"""

from __future__ import annotations

import hashlib

import numpy as np


def name_key(name: str) -> int:
    """A stable 32-bit key for a stream name (the same on every platform and run)."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=4).digest(), "big")


def replication_seeds(seed: int, reps: int) -> list[np.random.SeedSequence]:
    """The per-replication seeds: ``SeedSequence(seed).spawn(reps)``."""
    return np.random.SeedSequence(seed).spawn(reps)


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """Seed of replication ``r``: the same as ``SeedSequence(seed).spawn(n)[r]`` for any n."""
    return np.random.SeedSequence(seed, spawn_key=(replication,))


class Streams:
    """Named generators of one replication; ``streams["screening.duration"]`` is a Generator."""

    def __init__(self, seed: np.random.SeedSequence | int, prefix: str = "") -> None:
        if not isinstance(seed, np.random.SeedSequence):
            seed = np.random.SeedSequence(seed)
        self.seed = seed
        self.prefix = prefix
        """Prepended to every stream's name: another trial of a facility draws its own."""
        self._cache: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        rng = self._cache.get(name)
        if rng is None:
            rng = self._cache[name] = self._fresh(name)
        return rng

    def _fresh(self, name: str) -> np.random.Generator:
        child = np.random.SeedSequence(
            entropy=self.seed.entropy,
            spawn_key=(*self.seed.spawn_key, name_key(self.prefix + name)),
            pool_size=self.seed.pool_size,
        )
        return np.random.Generator(np.random.PCG64(child))

    def uniform(self, name: str, index: int) -> float:
        """The ``index``-th uniform the stream ``name`` gives (from its start, whatever has
        been drawn from it since): the uniform behind a value drawn by inversion."""
        return float(self._fresh(name).random(index + 1)[index])
