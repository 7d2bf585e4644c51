"""The bytes model: what a field's transfer format costs, and how bytes drive an operation's latency.

Two parts, both used by the ``datapipe`` operator and by the simulator:

**The format table** (:mod:`recipemut.recipe.transfer`, overridable per recipe in its
``formats:`` section). Each
entry is a :class:`FormatCost`: ``size_ratio``, ``encode_ms_per_mb``, ``decode_ms_per_mb``. Names in
:data:`COMPRESSIONS` are compressions, every other name is a serialisation format. For a format,
``size_ratio`` is relative to JSON and the codec times are per MB (10^6 bytes) of the JSON-equivalent
payload; for a compression, ``size_ratio`` is relative to the uncompressed payload and the codec
times are per MB of the uncompressed payload. A field without ``format`` travels as ``json``,
without ``compression`` as ``none``. The defaults are round figures from public serialisation and
compression benchmarks (JSON ~100 MB/s encode; zstd level 3 ~350 MB/s compress, ~1 GB/s
decompress; gzip level 6 ~50 MB/s compress): orders of magnitude, not measurements of your services.
Put measured figures in the recipe's ``formats:`` section to override any entry (partially:
missing keys keep the default).

**The latency-vs-bytes fit** (:func:`fit`): per operation, ordinary least squares (``numpy.linalg.lstsq``)
of ``latency_ms ~ intercept + slope_in * bytes_in + slope_out * bytes_out`` over its ``ok`` calls,
excluding calls above the operation's 99th latency percentile (heavy tails are not caused by
bytes and would swamp the fit). A regressor that (nearly) does not vary (coefficient of variation
below ``MIN_CV``, 1%) is left out, its slope 0: it cannot be told from the intercept. A fit is
*good* when ``r2 >= MIN_R2`` (0.3: bytes explain at least 30% of the latency variance) on at least
``MIN_N`` (30) calls; a slope is *usable* when the fit is good and the slope positive with a t
statistic of at least ``MIN_T`` (3). Savings are only claimed from usable slopes; codec
(encode/decode) costs from the table are always counted, so the model never claims a saving it
has not measured but does charge costs it has not.

**Attribution of bytes to fields** (an approximation, documented because it matters): the logs
record bytes per call, not per field. An operation's ``bytes_in`` is split among its consumed fields
and ``bytes_out`` among its produced fields in proportion to a typical size per field type
(:data:`TYPE_WEIGHT`: bytes 4 KiB, object 2 KiB, array 1 KiB, string 40 B, number/integer 8 B,
boolean 1 B), so a JSON object beside an id gets nearly all of the bytes.

**Opaque files** (``type: bytes`` without a ``format`` naming a serialisation format of the table,
see :func:`recipemut.recipe.transfer.compressible`): the table's size ratios are figures for
serialised documents, not for an uploaded image, video or archive, which is often compressed
already. A change of such a field's format or compression is predicted to leave its bytes as
recorded (no saving claimed), while the compression's codec time (per MB of the file) is still
charged; a serialisation format costs nothing on a file, which is not serialised.

**Per request or summed** (:func:`latency_delta`, :func:`summed_delta`): the change is linear in the
recorded bytes, so its sum over the requests is the same coefficients times each operation's summed
bytes (:func:`byte_sums`, once per profile). Scoring candidates (``datapipe``) needs only the sum, a
few float operations per changed field; the simulator replays per request and takes the arrays.

>>> t = table()
>>> round(size_factor(t, "json", "none", "protobuf", "zstd"), 3)  # protobuf+zstd vs plain JSON
0.14
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from recipemut.profile.build import ST_OK, Profile
from recipemut.recipe.model import Recipe
from recipemut.recipe.transfer import (
    TYPE_WEIGHT,
    FormatCost,
    codec_ms_per_wire_mb,
    codec_of,
    compressible,
    size_factor,
    table,
)

log = logging.getLogger(__name__)

MB = 1_000_000.0
MIN_R2 = 0.3
MIN_N = 30
MIN_T = 3.0
#: A regressor varying less than this (coefficient of variation) is left out of the fit: its slope
#: cannot be told apart from the intercept.
MIN_CV = 0.01


# ---- the fit ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BytesFit:
    """``latency_ms ~ intercept + slope_in * bytes_in + slope_out * bytes_out`` for one operation."""

    op: str
    intercept: float
    slope_in: float  # ms per byte received
    slope_out: float  # ms per byte sent
    r2: float
    n: int
    t_in: float = 0.0  # t statistic of slope_in (0 when bytes_in did not vary)
    t_out: float = 0.0

    @property
    def good(self) -> bool:
        """Whether the fit may be used to claim an effect (``r2 >= MIN_R2`` on ``n >= MIN_N``)."""
        return self.n >= MIN_N and self.r2 >= MIN_R2

    def slope(self, side: str) -> float:
        """The slope (ms per byte) usable for a claim on ``side`` (``in``/``out``): 0 unless the fit is
        good, the slope positive and significant (``t >= MIN_T``)."""
        b, t = (self.slope_in, self.t_in) if side == "in" else (self.slope_out, self.t_out)
        return b if self.good and b > 0 and t >= MIN_T else 0.0

    def describe(self) -> str:
        """Short human form, e.g. ``R² 0.81, n 4,210, 0.021 ms/KB in, 0.000 ms/KB out``."""
        return (
            f"R² {self.r2:.2f}, n {self.n:,}, {self.slope_in * 1000:.3f} ms/KB in, "
            f"{self.slope_out * 1000:.3f} ms/KB out"
        )


def fit_one(op: str, latency: np.ndarray, bytes_in: np.ndarray, bytes_out: np.ndarray) -> BytesFit | None:
    """Least-squares fit for one operation's calls (all arrays 1-d, same length); None below 3 calls."""
    ok = np.isfinite(latency) & np.isfinite(bytes_in) & np.isfinite(bytes_out)
    lat, bi, bo = latency[ok], bytes_in[ok], bytes_out[ok]
    if lat.size >= 20:
        keep = lat <= np.quantile(lat, 0.99)
        lat, bi, bo = lat[keep], bi[keep], bo[keep]
    n = int(lat.size)
    if n < 3:
        return None
    # a (nearly) constant regressor is collinear with the intercept: leave it out (slope 0)
    cols = [c for c in (bi, bo) if c.std() > MIN_CV * max(abs(float(c.mean())), 1.0)]
    varies = [c.std() > MIN_CV * max(abs(float(c.mean())), 1.0) for c in (bi, bo)]
    x = np.column_stack([np.ones(n), *cols])
    coef, *_ = np.linalg.lstsq(x, lat, rcond=None)
    resid = lat - x @ coef
    ss_res = float(np.sum(resid**2))
    ss_tot = float(np.sum((lat - lat.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    dof = n - x.shape[1]
    se = np.sqrt(np.maximum(np.diag(np.linalg.pinv(x.T @ x)) * (ss_res / dof if dof > 0 else np.inf), 0.0))
    t = np.divide(coef, se, out=np.zeros_like(coef), where=se > 0)
    slopes, ts, k = [0.0, 0.0], [0.0, 0.0], 1
    for i in (0, 1):
        if varies[i]:
            slopes[i], ts[i], k = float(coef[k]), float(t[k]), k + 1
    return BytesFit(
        op=op, intercept=float(coef[0]), slope_in=slopes[0], slope_out=slopes[1], r2=r2, n=n, t_in=ts[0], t_out=ts[1]
    )


_FITS: weakref.WeakKeyDictionary[Profile, dict[str, BytesFit]] = weakref.WeakKeyDictionary()


def fit(profile: Profile) -> dict[str, BytesFit]:
    """Per-operation latency-vs-bytes fits over each operation's ``ok`` calls (ops with < 3 calls omitted).

    One vectorised least-squares solve per operation (columns of the request matrix); no loop over
    requests. A profile is immutable, so its fits are computed once and remembered (weakly); each
    call returns a new dict.
    """
    cached = _FITS.get(profile)
    if cached is None:
        cached = _FITS[profile] = _fit(profile)
    return dict(cached)


def _fit(profile: Profile) -> dict[str, BytesFit]:
    out: dict[str, BytesFit] = {}
    ok = profile.status == ST_OK
    for j, op in enumerate(profile.op_ids):
        rows = ok[:, j]
        f = fit_one(op, profile.latency_ms[rows, j], profile.bytes_in[rows, j], profile.bytes_out[rows, j])
        if f is not None:
            out[op] = f
    return out


# ---- attribution and the effect of a change ----------------------------------------------------


def field_shares(recipe: Recipe, op_id: str, side: str) -> dict[str, float]:
    """Share of an operation's ``bytes_in`` (``side="in"``) or ``bytes_out`` (``"out"``) per field.

    >>> from recipemut.recipe.model import recipe_from_dict
    >>> r = recipe_from_dict({"fields": {"id": {"type": "string"}, "cart": {"type": "object"}},
    ...     "inputs": ["id"], "outputs": ["cart"], "operations": [
    ...     {"id": "f", "service": "s", "action": "F", "consumes": ["id"], "produces": ["cart"]},
    ...     {"id": "g", "service": "s", "action": "G", "consumes": ["id", "cart"], "produces": []}]})
    >>> {k: round(v, 3) for k, v in field_shares(r, "g", "in").items()}
    {'id': 0.019, 'cart': 0.981}
    """
    op = recipe.ops[op_id]
    names = op.consumes if side == "in" else op.produces
    w = {f: TYPE_WEIGHT.get(recipe.fields[f].type if f in recipe.fields else "string", 64.0) for f in names}
    total = sum(w.values())
    return {f: v / total for f, v in w.items()} if total > 0 else {}


@dataclass(frozen=True)
class BytesDelta:
    """Per-request latency change (ms) per operation caused by a change of transfers."""

    per_op: Mapping[str, np.ndarray]  # op -> (n,) ms, 0 where the op did not run
    bytes_per_op: Mapping[str, np.ndarray]  # op -> (n,) change of bytes in + out
    unfitted: tuple[str, ...]  # ops whose transfers change but whose fit is not good (no saving claimed)

    def total(self, n: int) -> np.ndarray:
        """Summed change over operations, per request (an upper bound on the end-to-end change)."""
        out = np.zeros(n)
        for v in self.per_op.values():
            out += v
        return out


def _transfer_changes(before: Recipe, after: Recipe, op_id: str, side: str) -> dict[str, tuple[str, str, str, str]]:
    """Fields of ``op_id`` on ``side`` whose transfer changes: field -> (fmt0, comp0, fmt1, comp1).

    A field the operation no longer consumes/produces maps to ``("", "", "", "")`` (gone).
    """
    ob, oa = before.ops[op_id], after.ops[op_id]
    names_b = ob.consumes if side == "in" else ob.produces
    names_a = set(oa.consumes if side == "in" else oa.produces)
    out: dict[str, tuple[str, str, str, str]] = {}
    for f in names_b:
        c0 = codec_of(before.fields.get(f))
        if f not in names_a:
            out[f] = (*c0, "", "")
            continue
        c1 = codec_of(after.fields.get(f))
        if c1 != c0:
            out[f] = (*c0, *c1)
    return out


def _opaque_codec_ms_per_mb(tbl: Mapping[str, FormatCost], comp: str, side: str) -> float:
    """Compression codec time per MB of an opaque file (its wire size taken as its raw size)."""
    c = tbl.get(comp)
    if c is None:
        return 0.0
    return float(c.encode_ms_per_mb if side == "out" else c.decode_ms_per_mb)


def _compared(before: Recipe, after: Recipe, profile: Profile, only: Iterable[str] | None) -> Iterator[tuple[int, str]]:
    """``(column, operation)`` of the profile's operations present in both recipes with the same
    service and action (a substitute's bytes are not those recorded), within ``only`` if given."""
    wanted = set(only) if only is not None else None
    for j, op_id in enumerate(profile.op_ids):
        if op_id not in before.ops or op_id not in after.ops or (wanted is not None and op_id not in wanted):
            continue
        ob, oa = before.ops[op_id], after.ops[op_id]
        if (ob.service, ob.action) == (oa.service, oa.action):
            yield j, op_id


def _field_terms(
    before: Recipe, after: Recipe, op_id: str, side: str, t: Mapping[str, FormatCost]
) -> list[tuple[float, float, float, float]]:
    """Per field of ``op_id`` on ``side`` whose transfer changes: ``(share, factor, ms0, ms1)``.

    ``share`` of the recorded bytes is the field's (:func:`field_shares`); its wire bytes scale by
    ``factor`` (0 when no longer transferred); ``ms0``/``ms1`` are the codec ms per wire MB before and
    after. Empty when nothing changes on that side.
    """
    changes = _transfer_changes(before, after, op_id, side)
    if not changes:
        return []
    shares = field_shares(before, op_id, side)
    out: list[tuple[float, float, float, float]] = []
    for field_name, (f0, c0, f1, c1) in changes.items():
        if compressible(before.fields.get(field_name), t):
            factor = size_factor(t, f0, c0, f1, c1) if f1 else 0.0
            ms0 = codec_ms_per_wire_mb(t, f0, c0, side)
            ms1 = codec_ms_per_wire_mb(t, f1, c1, side) if f1 else 0.0
        else:  # an opaque file: no shrink is claimed, its compression's codec time is charged
            factor = 1.0 if f1 else 0.0
            ms0, ms1 = _opaque_codec_ms_per_mb(t, c0, side), _opaque_codec_ms_per_mb(t, c1, side)
        out.append((shares.get(field_name, 0.0), factor, ms0, ms1))
    return out


def latency_delta(
    before: Recipe,
    after: Recipe,
    profile: Profile,
    fits: Mapping[str, BytesFit],
    *,
    tbl: Mapping[str, FormatCost] | None = None,
    only: Iterable[str] | None = None,
) -> BytesDelta:
    """Per-request latency change of each operation whose transfers change between two recipes.

    For every operation present in both recipes with the same service and action, and every field
    it consumes (``in``) or produces (``out``) whose format/compression changed or that it stopped
    transferring: its bytes (the call's recorded bytes times the field's share, see
    :func:`field_shares`) scale by :func:`size_factor` (0 when no longer transferred). The latency
    change is ``slope * delta_bytes`` (only with a usable slope, :meth:`BytesFit.slope`) plus the
    change of codec time from the table (always). An opaque file (see the module docstring) keeps its
    recorded bytes while still transferred; only its compression's codec time changes. Vectorised over
    requests. ``only`` restricts the operations looked at (those known to be touched), to save time.

    The per-request arrays are what a replay needs (:mod:`recipemut.predict.simulate`); a change's
    sum or mean over the requests is :func:`summed_delta`, a few float operations per field.
    """
    t = tbl if tbl is not None else table(after.formats)
    per_op: dict[str, np.ndarray] = {}
    per_bytes: dict[str, np.ndarray] = {}
    unfitted: list[str] = []
    for j, op_id in _compared(before, after, profile, only):
        f = fits.get(op_id)
        lat = np.zeros(profile.n_requests)
        dbytes = np.zeros(profile.n_requests)
        touched = False
        for side, recorded in (("in", profile.bytes_in[:, j]), ("out", profile.bytes_out[:, j])):
            terms = _field_terms(before, after, op_id, side, t)
            if not terms:
                continue
            touched = True
            rec = np.nan_to_num(recorded, nan=0.0)
            slope = f.slope(side) if f is not None else 0.0
            for share, factor, ms0, ms1 in terms:
                wire0 = rec * share
                wire1 = wire0 * factor
                codec0 = ms0 * wire0 / MB
                codec1 = ms1 * wire1 / MB
                dbytes += wire1 - wire0
                lat += slope * (wire1 - wire0) + (codec1 - codec0)
        if touched:
            per_op[op_id] = lat
            per_bytes[op_id] = dbytes
            if f is None or not f.good:
                unfitted.append(op_id)
    return BytesDelta(
        per_op=MappingProxyType(per_op), bytes_per_op=MappingProxyType(per_bytes), unfitted=tuple(unfitted)
    )


# ---- the same change summed over the requests (scoring candidates) ------------------------------


@dataclass(frozen=True)
class SummedDelta:
    """A change of transfers summed over the profile's requests, per operation: what the arrays of
    :class:`BytesDelta` add up to (divide by the number of requests for the mean)."""

    latency_ms: Mapping[str, float]  # op -> summed latency change (ms)
    bytes: Mapping[str, float]  # op -> summed change of bytes in + out
    unfitted: tuple[str, ...]  # as in BytesDelta


_SUMS: weakref.WeakKeyDictionary[Profile, dict[str, np.ndarray]] = weakref.WeakKeyDictionary()


def byte_sums(profile: Profile) -> dict[str, np.ndarray]:
    """Recorded bytes summed over the requests per operation (profile columns): ``{"in": (k,), "out":
    (k,)}``, absent cells counted 0 (as :func:`latency_delta` counts them).

    One pass over each bytes matrix. A profile is immutable, so the sums are computed once per profile
    object and remembered weakly (they go with it: another profile, even of the same recipe, has its
    own); each call returns new arrays.
    """
    cached = _SUMS.get(profile)
    if cached is None:
        cached = _SUMS[profile] = {
            # one copy, each operation's column made a contiguous row: its sum is numpy's pairwise one
            side: np.nan_to_num(np.array(m.T, dtype=float, order="C"), nan=0.0, copy=False).sum(axis=1)
            for side, m in (("in", profile.bytes_in), ("out", profile.bytes_out))
        }
    return {side: v.copy() for side, v in cached.items()}


def summed_delta(
    before: Recipe,
    after: Recipe,
    profile: Profile,
    fits: Mapping[str, BytesFit],
    *,
    tbl: Mapping[str, FormatCost] | None = None,
    only: Iterable[str] | None = None,
    sums: Mapping[str, np.ndarray] | None = None,
) -> SummedDelta:
    """:func:`latency_delta` summed over the requests, without a per-request array.

    The per-request change is linear in the recorded bytes (``slope * (factor - 1) * share * bytes``
    plus the codec times, also per byte), so its sum over the requests is the same coefficients times
    the operation's summed bytes on that side (:func:`byte_sums`, computed once per profile): a few
    float operations per changed field, where the arrays cost a pass over every request. Equal to
    the arrays' sums up to float rounding. ``sums`` may be passed when the caller holds them.
    """
    t = tbl if tbl is not None else table(after.formats)
    totals = sums if sums is not None else byte_sums(profile)
    lat_sum: dict[str, float] = {}
    bytes_sum: dict[str, float] = {}
    unfitted: list[str] = []
    for j, op_id in _compared(before, after, profile, only):
        f = fits.get(op_id)
        lat = dbytes = 0.0
        touched = False
        for side in ("in", "out"):
            terms = _field_terms(before, after, op_id, side, t)
            if not terms:
                continue
            touched = True
            recorded = float(totals[side][j])
            slope = f.slope(side) if f is not None else 0.0
            for share, factor, ms0, ms1 in terms:
                wire0 = recorded * share
                wire1 = wire0 * factor
                dbytes += wire1 - wire0
                lat += slope * (wire1 - wire0) + (ms1 * wire1 / MB - ms0 * wire0 / MB)
        if touched:
            lat_sum[op_id] = lat
            bytes_sum[op_id] = dbytes
            if f is None or not f.good:
                unfitted.append(op_id)
    return SummedDelta(
        latency_ms=MappingProxyType(lat_sum), bytes=MappingProxyType(bytes_sum), unfitted=tuple(unfitted)
    )
