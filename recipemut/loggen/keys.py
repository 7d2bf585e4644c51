"""Value identities and hashing: splitmix64 over uint64 arrays, Zipf ranks, hex cache keys."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

U64 = np.uint64


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser over uint64 arrays (wrapping arithmetic)."""
    z = x.astype(U64, copy=True)
    z += U64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> U64(30))) * U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> U64(27))) * U64(0x94D049BB133111EB)
    return np.asarray(z ^ (z >> U64(31)))


def salt(*parts: str) -> np.uint64:
    h = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return U64(int.from_bytes(h, "little"))


def combine(salt: np.uint64, columns: list[np.ndarray], n: int) -> np.ndarray:
    acc = np.full(n, salt, dtype=U64)
    for col in columns:
        acc = mix(acc ^ col)
    return mix(acc)


def hex_ids(values: np.ndarray) -> np.ndarray:
    """uint64 -> 16-character lowercase hex strings, without a Python loop."""
    if values.size == 0:
        return np.array([], dtype=object)
    raw = values.astype(">u8").tobytes().hex().encode("ascii")
    return np.frombuffer(raw, dtype="S16").astype("U16")


def zipf_cdf(universe: int, s: float) -> np.ndarray:
    w = np.arange(1, universe + 1, dtype=float) ** -s
    cdf = np.cumsum(w)
    return np.asarray(cdf / cdf[-1])


def zipf_rank(u: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """Ranks (0-based) for uniforms ``u`` in [0, 1)."""
    return np.minimum(np.searchsorted(cdf, u, side="right"), cdf.size - 1).astype(U64)


def unit_float(h: np.ndarray) -> np.ndarray:
    """uint64 hash -> uniform float in [0, 1)."""
    return np.asarray((h >> U64(11)).astype(float) / float(1 << 53))


def hash_share(request_ids: np.ndarray | pd.Series) -> np.ndarray:
    """A stable uniform in [0, 1) per request id (how the generator assigns variants and samples).

    >>> float(hash_share(np.array(["r-1"]))[0]) == float(hash_share(np.array(["r-1"]))[0])
    True
    """
    h = pd.util.hash_array(np.asarray(request_ids, dtype=object))
    return unit_float(np.asarray(h, dtype=U64))
