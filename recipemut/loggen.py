"""The log generator: realistic execution logs for a recipe, vectorised over requests.

Used by the shipped examples (``recipes/*/logs.jsonl.gz``), by tests that need traffic with a
*known* shape (a growth rate, a daily cycle, an improvement on a canary) and by the benchmarks.
:func:`generate_spans` returns a span table (:data:`recipemut.spans.SPAN_SCHEMA`) and
:func:`write_jsonl` writes it in the native log format.

Semantics are those of the simulator (docs/ARCHITECTURE.md): an operation starts when all its DAG
predecessors (data and ``after`` edges) have finished, the request starts at its arrival time, and
an operation that ends ``halted`` or ``error`` keeps its DAG descendants from running.

The model, per request and operation:

* **arrivals**: a non-homogeneous Poisson process conditioned on ``n_requests`` arrivals over
  ``duration_s``; its intensity is :func:`rate_function` (daily and weekly cosine cycles,
  exponential growth);
* **latency** (ms): lognormal body ``median * exp(sigma * Z)``; with probability ``tail_share``
  a Pareto tail ``median * tail_scale * (1 + Lomax(tail_alpha))`` instead; plus
  ``bytes_in / throughput_bytes_per_ms`` (bytes drive latency); counted in integer ticks of
  10 µs, so a successor's start equals its predecessor's end exactly;
* **field values**: every field carries a value id per request. Inputs with a ``universe`` draw
  it with Zipf popularity; a deterministic operation's products are a hash of what it consumed
  (mapped onto the field's universe when it has one, keeping Zipf popularity); other products are
  fresh random values. ``cache_key`` (deterministic operations only) is a hex hash of the consumed
  fields' names and values, so identical inputs give identical keys whoever consumes them;
* **bytes**: each field value has a lognormal size around ``bytes_mean``; ``bytes_in`` is the sum
  over consumed fields, ``bytes_out`` over produced fields;
* **cost** ``cost_per_call_usd * (1 + cost_noise * Z)``; **cpu** a share of latency; **memory**
  a base plus the bytes held.

What mutations write into a recipe shows in its logs, as it would in production: a field's
``format``/``compression`` scales its bytes (loggen sizes are plain-JSON sizes) and adds or saves
codec time (:mod:`recipemut.bytesmodel`'s table); an operation's ``cache`` answers repeated keys
with ``hit_latency_ms`` at no cost (:func:`recipemut.cachesim.hits`, expire-after-write); a
``hedge`` sends up to ``max_extra`` duplicates ``after_ms`` apart, keeps the first answer and
pays for every call. A canary kept under ``variants:`` runs through its own recipe.

>>> from recipemut.model import recipe_from_dict
>>> r = recipe_from_dict(synthetic_recipe(8, seed=1))
>>> df = generate_spans(r, 50, seed=3)
>>> set(df["status"]) <= {"ok", "error", "halted"}, df["request_id"].nunique()
(True, 50)
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from . import bytesmodel, cachesim
from .errors import InputFileError, RecipemutError
from .ingest import to_span_frame
from .model import FieldSpec, Operation, Recipe, Variant, recipe_from_dict
from .spans import DEFAULT_VARIANT, SPAN_SCHEMA

log = logging.getLogger(__name__)

#: 2025-11-24T00:00:00Z, a Monday: the default start of generated logs.
DEFAULT_START_MS = 1_763_942_400_000.0
DAY_MS = 86_400_000.0
#: Times are generated in integer ticks of 10 µs, so a successor starts exactly when its last
#: predecessor ends (``start + latency`` equals the next start up to float rounding).
TICKS_PER_MS = 100
#: UTC hour at which the daily cycle peaks.
DEFAULT_PEAK_HOUR = 15.0

_U64 = np.uint64


# ---- parameters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpParams:
    """How one operation behaves in generated logs (see the module docstring for the model)."""

    latency_median_ms: float = 20.0
    latency_sigma: float = 0.35
    tail_share: float = 0.01
    tail_alpha: float = 2.5
    tail_scale: float = 3.0
    throughput_bytes_per_ms: float = 50_000.0
    halt_prob: float = 0.0  # only used when the operation has may_halt
    error_prob: float = 0.001
    cpu_share: float = 0.3
    mem_mb: float = 64.0
    cost_noise: float = 0.05


@dataclass(frozen=True)
class FieldParams:
    """Size and popularity of a field's values."""

    bytes_mean: float = 64.0
    bytes_sigma: float = 0.3
    universe: int | None = None  # distinct values; None: unique per request
    zipf: float = 1.1  # popularity exponent over the universe (rank r has weight r**-zipf)


#: Default bytes of a field by (type, format).
_DEFAULT_BYTES = {"object": 2048.0, "array": 1024.0, "string": 40.0, "number": 8.0, "integer": 8.0, "boolean": 1.0}


@dataclass(frozen=True)
class LoggenParams:
    """Per-operation and per-field generation parameters (a ``loggen.yaml`` beside a recipe).

    Anything not given is derived from the recipe: a guard (``may_halt``) halts 15% of the
    requests it sees, object fields weigh 2 KiB, strings 40 bytes, and so on.
    """

    ops: Mapping[str, OpParams] = field(default_factory=lambda: MappingProxyType({}))
    fields: Mapping[str, FieldParams] = field(default_factory=lambda: MappingProxyType({}))
    defaults: OpParams = field(default_factory=OpParams)

    def for_op(self, op: Operation) -> OpParams:
        if op.id in self.ops:
            return self.ops[op.id]
        p = self.defaults
        if op.may_halt and p.halt_prob == 0.0:
            p = replace(p, halt_prob=0.15)
        if op.expected is not None and op.expected.latency_p50_ms:
            p = replace(p, latency_median_ms=float(op.expected.latency_p50_ms))
        return p

    def for_field(self, name: str, spec: FieldSpec | None) -> FieldParams:
        if name in self.fields:
            return self.fields[name]
        kind = spec.type if spec is not None else "string"
        return FieldParams(bytes_mean=_DEFAULT_BYTES.get(kind, 64.0))


_OP_KEYS = {f.name: f.type for f in fields(OpParams)}
_FIELD_KEYS = {f.name: f.type for f in fields(FieldParams)}


def _line_index(text: str) -> dict[tuple[str, ...], int]:
    """Document path -> 1-based line, for messages about a loggen.yaml."""
    out: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        out[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = str(k.value)
                out[(*path, key)] = k.start_mark.line + 1
                walk(v, (*path, key))

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return out
    if root is not None:
        walk(root, ())
    return out


def _parse_section(
    raw: Any,
    cls: type[Any],
    keys: Mapping[str, Any],
    path: tuple[str, ...],
    src: str,
    lines: dict[tuple[str, ...], int],
) -> Any:
    def fail(msg: str, at: tuple[str, ...]) -> RecipemutError:
        return RecipemutError(msg, file=src, line=lines.get(at, lines.get(path)), code="loggen-params")

    if not isinstance(raw, Mapping):
        raise fail(f"{'.'.join(path)}: expected a mapping, got {type(raw).__name__}", path)
    kw: dict[str, Any] = {}
    for k, v in raw.items():
        if k not in keys:
            raise fail(f"{'.'.join(path)}: unknown key {k!r} (expected one of {', '.join(sorted(keys))})", (*path, k))
        if v is None and "None" in str(keys[k]):
            kw[k] = None
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise fail(f"{'.'.join((*path, str(k)))}: expected a number, got {v!r}", (*path, k))
        if v < 0:
            raise fail(f"{'.'.join((*path, str(k)))}: must not be negative, got {v!r}", (*path, k))
        kw[k] = int(v) if k == "universe" else float(v)
    return cls(**kw)


def load_params(path: str | os.PathLike[str]) -> LoggenParams:
    """Read a ``loggen.yaml``: ``defaults:`` (OpParams keys), ``operations: {id: {...}}``,
    ``fields: {name: {...}}``. Unknown keys and wrong types are errors naming file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError("no such file", file=str(p), code="missing-file") from None
    except IsADirectoryError:
        raise InputFileError("is a directory, expected a loggen.yaml file", file=str(p), code="not-a-file") from None
    except (UnicodeDecodeError, OSError) as e:
        raise InputFileError(f"cannot read: {e}", file=str(p), code="unreadable") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise RecipemutError(
            f"not valid YAML: {getattr(e, 'problem', e)}",
            file=str(p),
            line=mark.line + 1 if mark else None,
            code="yaml",
        ) from None
    return params_from_dict(raw or {}, source=str(p), lines=_line_index(text))


def params_from_dict(
    raw: Any, *, source: str = "<loggen>", lines: dict[tuple[str, ...], int] | None = None
) -> LoggenParams:
    """Build :class:`LoggenParams` from plain data (the parsed ``loggen.yaml``)."""
    lines = lines or {}
    if not isinstance(raw, Mapping):
        raise RecipemutError(f"expected a mapping at the top, got {type(raw).__name__}", file=source, line=1)
    unknown = set(raw) - {"defaults", "operations", "fields"}
    if unknown:
        k = sorted(map(str, unknown))[0]
        raise RecipemutError(
            f"unknown key {k!r} (expected defaults, operations, fields)", file=source, line=lines.get((k,))
        )
    defaults = _parse_section(raw.get("defaults") or {}, OpParams, _OP_KEYS, ("defaults",), source, lines)
    ops_raw = raw.get("operations") or {}
    fields_raw = raw.get("fields") or {}
    for name, sect in (("operations", ops_raw), ("fields", fields_raw)):
        if not isinstance(sect, Mapping):
            raise RecipemutError(
                f"{name}: expected a mapping of id -> parameters", file=source, line=lines.get((name,))
            )
    ops = {}
    for k, v in ops_raw.items():
        parsed = _parse_section(v or {}, OpParams, _OP_KEYS, ("operations", str(k)), source, lines)
        ops[str(k)] = replace(defaults, **{name: getattr(parsed, name) for name in (v or {})})
    flds = {
        str(k): _parse_section(v or {}, FieldParams, _FIELD_KEYS, ("fields", str(k)), source, lines)
        for k, v in fields_raw.items()
    }
    return LoggenParams(ops=MappingProxyType(ops), fields=MappingProxyType(flds), defaults=defaults)


# ---- arrivals -------------------------------------------------------------------------------------


def _shape(
    t_ms: np.ndarray,
    start_ms: float,
    diurnal_amplitude: float,
    weekly_amplitude: float,
    growth_per_day: float,
    peak_hour: float,
) -> np.ndarray:
    hours = (t_ms / 3_600_000.0) % 24.0
    # day of week with Monday = 0 (the epoch, 1970-01-01, was a Thursday)
    weekday = ((t_ms / DAY_MS) + 3.0) % 7.0
    days = (t_ms - start_ms) / DAY_MS
    daily = 1.0 + diurnal_amplitude * np.cos(2 * np.pi * (hours - peak_hour) / 24.0)
    weekly = 1.0 + weekly_amplitude * np.cos(2 * np.pi * (weekday - 2.5) / 7.0)  # peak Wednesday noon
    return np.asarray(daily * weekly * (1.0 + growth_per_day) ** days)


def _grid(start_ms: float, duration_s: float) -> np.ndarray:
    steps = max(int(duration_s // 60), 1)  # one point a minute
    return np.linspace(start_ms, start_ms + duration_s * 1000.0, steps + 1)


def rate_function(
    t_ms: np.ndarray | float,
    *,
    n_requests: int,
    start_ms: float = DEFAULT_START_MS,
    duration_s: float = 14 * 86400,
    diurnal_amplitude: float = 0.6,
    weekly_amplitude: float = 0.0,
    growth_per_day: float = 0.0,
    peak_hour: float = DEFAULT_PEAK_HOUR,
) -> np.ndarray:
    """Expected arrival rate (requests per second, before sampling) at epoch-ms times ``t_ms``.

    ``rate(t) = c * (1 + D cos(2π (hour(t) - peak_hour) / 24)) * (1 + W cos(2π (weekday(t) - 2.5) / 7))
    * (1 + growth_per_day) ** days_since_start``, with ``c`` such that the rate integrates to
    ``n_requests`` over the window; hours are UTC, weekday 0 is Monday. Extrapolating beyond the
    window is what a forecast should find.

    >>> r = rate_function(np.array([DEFAULT_START_MS, DEFAULT_START_MS + 7 * DAY_MS]),
    ...                   n_requests=10_000, duration_s=14 * 86400, growth_per_day=0.1)
    >>> round(float(r[1] / r[0]), 4) == round(1.1 ** 7, 4)
    True
    """
    args = (start_ms, diurnal_amplitude, weekly_amplitude, growth_per_day, peak_hour)
    g = _grid(start_ms, duration_s)
    total_ms = float(np.trapezoid(_shape(g, *args), g))
    c = n_requests / (total_ms / 1000.0)
    return np.asarray(c * _shape(np.asarray(t_ms, dtype=float), *args))


def _arrivals(
    rng: np.random.Generator,
    n: int,
    start_ms: float,
    duration_s: float,
    args: tuple[float, float, float, float, float],
) -> np.ndarray:
    """``n`` sorted arrival times (epoch ms) of the NHPP conditioned on ``n`` events (inverse CDF)."""
    g = _grid(start_ms, duration_s)
    lam = _shape(g, *args)
    cum = np.concatenate([[0.0], np.cumsum((lam[1:] + lam[:-1]) / 2.0 * np.diff(g))])
    u = np.sort(rng.random(n)) * cum[-1]
    return np.asarray(np.interp(u, cum, g))


# ---- hashing helpers ------------------------------------------------------------------------------


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser over uint64 arrays (wrapping arithmetic)."""
    z = x.astype(_U64, copy=True)
    z += _U64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return np.asarray(z ^ (z >> _U64(31)))


def _salt(*parts: str) -> np.uint64:
    h = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return _U64(int.from_bytes(h, "little"))


def _combine(salt: np.uint64, columns: list[np.ndarray], n: int) -> np.ndarray:
    acc = np.full(n, salt, dtype=_U64)
    for col in columns:
        acc = _mix(acc ^ col)
    return _mix(acc)


def _hex(values: np.ndarray) -> np.ndarray:
    """uint64 -> 16-character lowercase hex strings, without a Python loop."""
    if values.size == 0:
        return np.array([], dtype=object)
    raw = values.astype(">u8").tobytes().hex().encode("ascii")
    return np.frombuffer(raw, dtype="S16").astype("U16")


def _zipf_cdf(universe: int, s: float) -> np.ndarray:
    w = np.arange(1, universe + 1, dtype=float) ** -s
    cdf = np.cumsum(w)
    return np.asarray(cdf / cdf[-1])


def _zipf_rank(u: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """Ranks (0-based) for uniforms ``u`` in [0, 1)."""
    return np.minimum(np.searchsorted(cdf, u, side="right"), cdf.size - 1).astype(_U64)


def _unit(h: np.ndarray) -> np.ndarray:
    """uint64 hash -> uniform float in [0, 1)."""
    return np.asarray((h >> _U64(11)).astype(float) / float(1 << 53))


def hash_share(request_ids: np.ndarray | pd.Series) -> np.ndarray:
    """A stable uniform in [0, 1) per request id (how the generator assigns variants and samples).

    >>> float(hash_share(np.array(["r-1"]))[0]) == float(hash_share(np.array(["r-1"]))[0])
    True
    """
    h = pd.util.hash_array(np.asarray(request_ids, dtype=object))
    return _unit(np.asarray(h, dtype=_U64))


# ---- generation -----------------------------------------------------------------------------------


def _treatment_masks(
    recipe: Recipe, treatment: Mapping[str, Mapping[str, float]] | None, variants: Mapping[str, float]
) -> dict[str, dict[str, float]]:
    """Validate ``treatment``: {variant: {"op": latency factor, "op@cost": factor, "op@error": prob,
    "*": latency factor for every operation}}."""
    out: dict[str, dict[str, float]] = {}
    for var, knobs in (treatment or {}).items():
        if var not in variants:
            raise RecipemutError(
                f"treatment names variant {var!r}, which gets no traffic (variants: {sorted(variants)})"
            )
        for key, val in knobs.items():
            op_id, _, what = key.partition("@")
            if op_id != "*" and op_id not in recipe.ops:
                raise RecipemutError(f"treatment {key!r}: recipe {recipe.name!r} has no operation {op_id!r}")
            if what not in ("", "cost", "error"):
                raise RecipemutError(f"treatment {key!r}: expected op, op@cost or op@error")
            if val < 0 or (what == "error" and val > 1):
                raise RecipemutError(f"treatment {key!r}: value {val} out of range")
        out[var] = {k: float(v) for k, v in knobs.items()}
    return out


def _draw_latency(rng: np.random.Generator, p: OpParams, n: int) -> np.ndarray:
    """Service time (ms) of ``n`` calls: lognormal body, Pareto tail with probability ``tail_share``."""
    body = p.latency_median_ms * np.exp(p.latency_sigma * rng.standard_normal(n))
    tail = p.latency_median_ms * p.tail_scale * (1.0 + rng.pareto(p.tail_alpha, n)) if p.tail_alpha > 0 else body
    return np.asarray(np.where(rng.random(n) < p.tail_share, tail, body))


def _variant_recipe(recipe: Recipe, v: Variant) -> Recipe:
    """The recipe a canary variant runs (its full document is kept in the base recipe)."""
    vr = recipe_from_dict(v.recipe, source=recipe.source)
    try:
        vr.topo_order  # noqa: B018 - compile now to report a cycle here
    except Exception:  # networkx.NetworkXUnfeasible
        raise RecipemutError(
            f"variant {v.name!r}: its recipe has a cycle", file=recipe.source, code="variant-cycle"
        ) from None
    return vr


def _op_params(params: LoggenParams, op: Operation, base: Recipe) -> OpParams:
    """Parameters of ``op``; a substituted operation (a variant's) takes the catalogue prior of
    the alternative it now calls: median = expected p50, sigma from p95/p50."""
    p = params.for_op(op)
    if not op.substituted_from:
        return p
    for alt in base.alternatives:
        e = alt.expected
        if alt.service == op.service and alt.action == op.action and e is not None and e.latency_p50_ms:
            p = replace(p, latency_median_ms=float(e.latency_p50_ms))
            if e.latency_p95_ms and e.latency_p95_ms > e.latency_p50_ms:
                p = replace(p, latency_sigma=float(np.log(e.latency_p95_ms / e.latency_p50_ms) / 1.645))
            break
    return p


def generate_spans(
    recipe: Recipe,
    n_requests: int,
    *,
    seed: int = 0,
    params: LoggenParams | None = None,
    start_ms: float = DEFAULT_START_MS,
    duration_s: float = 14 * 86400,
    diurnal_amplitude: float = 0.6,
    weekly_amplitude: float = 0.0,
    growth_per_day: float = 0.0,
    peak_hour: float = DEFAULT_PEAK_HOUR,
    variants: Mapping[str, float] | None = None,
    treatment: Mapping[str, Mapping[str, float]] | None = None,
    sample_rate: float | None = None,
) -> pd.DataFrame:
    """Generate the spans of ``n_requests`` requests of ``recipe`` as a span table.

    ``variants={"canary": 0.1}`` sends that share of requests (by :func:`hash_share` of the
    request id) to the named variant, the rest to ``control``. ``treatment={"canary": {"op": 0.7}}``
    multiplies ``op``'s latency by 0.7 in that variant; ``"op@cost"`` scales its cost,
    ``"op@error"`` sets its error probability, ``"*"`` scales every operation's latency.
    When ``variants`` is not given, the recipe's own ``variants:`` section (a canary written by
    ``apply --canary``) is used, and each such variant's requests run through *its* recipe: a
    dropped ``after`` edge, a removed or substituted operation (drawn from the alternative's
    ``expected`` prior) shows in its spans, so ``evaluate`` can be tested on structural changes.
    ``sample_rate`` keeps only that share of requests (each independently) and records it on every
    span, as sampled tracing does: ``n_requests`` is the traffic before sampling, and
    :func:`rate_function` the rate before sampling.

    Rows are sorted by start time, dtypes are those of :func:`recipemut.ingest.to_span_frame`;
    ``source_file``/``source_line`` are null.
    """
    if n_requests < 0:
        raise RecipemutError(f"n_requests must be >= 0, got {n_requests}")
    if duration_s <= 0:
        raise RecipemutError(f"duration must be positive, got {duration_s} s")
    if sample_rate is not None and not 0 < sample_rate <= 1:
        raise RecipemutError(f"sample_rate must be in (0, 1], got {sample_rate}")
    if variants is None and recipe.variants:
        variants = {v.name: v.share for v in recipe.variants}
    variants = dict(variants or {})
    if any(s < 0 for s in variants.values()) or sum(variants.values()) > 1 + 1e-9:
        raise RecipemutError(f"variant shares must be >= 0 and sum to at most 1, got {variants}")
    if DEFAULT_VARIANT in variants:
        raise RecipemutError(f"{DEFAULT_VARIANT!r} is the variant of the remaining traffic; name variants otherwise")
    knobs = _treatment_masks(recipe, treatment, variants)
    params = params or LoggenParams()
    rng = np.random.default_rng(seed)
    order = recipe.topo_order
    n_total = int(n_requests)
    # Sampled tracing keeps each request independently: the kept ones are a Poisson process of
    # the same shape, thinned, so only they are drawn (memory stays O(kept requests)).
    n = n_total if sample_rate is None or sample_rate >= 1 else int(rng.binomial(n_total, sample_rate))
    arrival = _arrivals(
        rng, n, start_ms, duration_s, (start_ms, diurnal_amplitude, weekly_amplitude, growth_per_day, peak_hour)
    )
    idx = np.arange(n)
    arrival_t = np.round(arrival * TICKS_PER_MS).astype(np.int64)
    request_ids = np.asarray(("r" + str(seed) + "-" + pd.Series(idx).astype(str)).to_numpy(dtype=object))
    share = hash_share(request_ids)

    variant = np.full(n, DEFAULT_VARIANT, dtype=object)
    lo = 0.0
    for name, s in variants.items():
        variant[(share >= lo) & (share < lo + s)] = name
        lo += s

    cols: dict[str, list[np.ndarray]] = {
        k: [] for k in ("row", "op", "start", "lat", "status", "cost", "cpu", "mem", "bin", "bout", "key")
    }
    labels: dict[tuple[str, str], int] = {}  # (op id, service) -> code, base recipe's operations first
    for op_id in order:
        labels.setdefault((op_id, recipe.ops[op_id].service), len(labels))
    cdfs: dict[str, np.ndarray] = {}

    def cdf(name: str, fp: FieldParams) -> np.ndarray:
        if name not in cdfs:
            cdfs[name] = _zipf_cdf(int(fp.universe or 1), fp.zipf)
        return cdfs[name]

    def run(grecipe: Recipe, members: np.ndarray) -> None:
        """Generate the spans of requests ``members`` (row numbers) run through ``grecipe``."""
        n = int(members.size)
        gorder = grecipe.topo_order
        gdag = grecipe.dag
        g_arrival = arrival_t[members]
        g_variant = variant[members]
        values: dict[str, np.ndarray] = {}  # field values (uint64 ids) and sizes per request
        sizes: dict[str, np.ndarray] = {}

        def fparams(name: str) -> FieldParams:
            return params.for_field(name, grecipe.fields.get(name))

        def size_of(fp: FieldParams) -> np.ndarray:
            z = rng.standard_normal(n)
            return np.asarray(
                np.maximum(1.0, np.round(fp.bytes_mean * np.exp(fp.bytes_sigma * z - fp.bytes_sigma**2 / 2)))
            )

        codecs = bytesmodel.table(grecipe.formats)
        wire: dict[str, float] = {}  # bytes on the wire per JSON byte, for each field
        codec_ms: dict[str, tuple[float, float]] = {}  # extra (encode, decode) ms per JSON MB vs plain JSON
        for name in grecipe.fields:
            fmt, comp = bytesmodel.codec_of(grecipe.fields.get(name))
            wire[name] = bytesmodel.size_factor(codecs, "json", "none", fmt, comp)
            codec_ms[name] = tuple(  # type: ignore[assignment]
                bytesmodel.codec_ms_per_wire_mb(codecs, fmt, comp, side) * wire[name]
                - bytesmodel.codec_ms_per_wire_mb(codecs, "json", "none", side)
                for side in ("out", "in")
            )

        def sized(name: str) -> np.ndarray:
            """Bytes of a field's values on the wire (loggen sizes are JSON sizes)."""
            size = size_of(fparams(name))
            return np.asarray(np.maximum(1.0, np.round(size * wire[name]))) if wire.get(name, 1.0) != 1.0 else size

        def codec_delta(names: list[str], side: int) -> np.ndarray | float:
            """Encode (0) or decode (1) time a non-JSON transfer format adds (or saves), in ms."""
            out: np.ndarray | float = 0.0
            for f in names:
                if f in codec_ms and codec_ms[f][side] != 0.0:
                    out = out + codec_ms[f][side] * sizes[f] / wire[f] / 1e6
            return out

        for name in grecipe.inputs:
            fp = fparams(name)
            # a Zipf-popular value, or one unique to the request
            unique = idx[members].astype(_U64) + (_U64(seed) << _U64(32))
            ranks = _zipf_rank(rng.random(n), cdf(name, fp)) if fp.universe else unique
            values[name] = _mix(ranks ^ _salt("field", name))
            sizes[name] = sized(name)

        ok: dict[str, np.ndarray] = {}
        end_t: dict[str, np.ndarray] = {}
        for op_id in gorder:
            op = grecipe.ops[op_id]
            p = _op_params(params, op, recipe)
            preds = list(gdag.predecessors(op_id))
            runs = np.logical_and.reduce([ok[q] for q in preds]) if preds else np.ones(n, dtype=bool)
            start = np.maximum.reduce([end_t[q] for q in preds]) if preds else g_arrival.copy()

            # products: values and sizes
            consumed = [f for f in op.consumes if f in values]
            for f in op.produces:
                fp = fparams(f)
                if op.deterministic:
                    h = _combine(_salt("value", op.id, f), [values[c] for c in consumed], n)
                    v = _mix(_zipf_rank(_unit(h), cdf(f, fp)) ^ _salt("field", f)) if fp.universe else h
                elif fp.universe:
                    v = _mix(_zipf_rank(rng.random(n), cdf(f, fp)) ^ _salt("field", f))
                else:
                    v = rng.integers(0, np.iinfo(np.int64).max, size=n, dtype=np.int64).astype(_U64)
                values[f] = v
                sizes[f] = sized(f)
            bytes_in = np.sum([sizes[f] for f in consumed], axis=0) if consumed else np.zeros(n)
            bytes_out = np.sum([sizes[f] for f in op.produces if f in sizes], axis=0) if op.produces else np.zeros(n)

            # latency
            extra = codec_delta(consumed, 1) + codec_delta(list(op.produces), 0)
            if p.throughput_bytes_per_ms > 0:
                extra = extra + bytes_in / p.throughput_bytes_per_ms
            lat = _draw_latency(rng, p, n) + extra
            noise = np.round(1.0 + p.cost_noise * rng.standard_normal(n), 2)  # a few significant digits
            cost = np.maximum(0.0, (op.cost_per_call_usd or 0.0) * noise)
            if op.hedge is not None:
                # a duplicate call after `after_ms` without an answer; the first answer wins
                calls = np.ones(n)
                for k in range(1, op.hedge.max_extra + 1):
                    sent = lat > k * op.hedge.after_ms
                    lat = np.where(sent, np.minimum(lat, k * op.hedge.after_ms + _draw_latency(rng, p, n) + extra), lat)
                    calls += sent
                cost = cost * calls
            err_p = np.full(n, p.error_prob)
            for var, kn in knobs.items():
                m = g_variant == var
                f_all = kn.get("*", 1.0) * kn.get(op_id, 1.0)
                lat = np.where(m, lat * f_all, lat)
                cost = np.where(m, cost * kn.get(op_id + "@cost", 1.0), cost)
                if op_id + "@error" in kn:
                    err_p = np.where(m, kn[op_id + "@error"], err_p)
            lat_t = np.maximum(1, np.round(lat * TICKS_PER_MS)).astype(np.int64)

            u = rng.random(n)
            status = np.zeros(n, dtype=np.int8)  # 0 ok, 1 error, 2 halted
            status[u < err_p] = 1
            if op.may_halt:
                status[(u >= err_p) & (u < err_p + p.halt_prob)] = 2
            if op.cache is not None and op.deterministic:
                # a cache keyed on the consumed values (expire-after-write, as the simulator replays it)
                key_codes = pd.factorize(_combine(_salt("cache_key", *consumed), [values[c] for c in consumed], n))[0]
                key_codes = np.where(runs, key_codes, -1)
                hit = cachesim.hits(start / TICKS_PER_MS, key_codes, op.cache.ttl_s, op.cache.max_entries)
                lat_t = np.where(hit, max(1, round(op.cache.hit_latency_ms * TICKS_PER_MS)), lat_t)
                cost = np.where(hit, 0.0, cost)
                status = np.where(hit & (status == 1), np.int8(0), status)
            ok[op_id] = runs & (status == 0)
            end_t[op_id] = start + lat_t

            cpu = lat * p.cpu_share * np.exp(0.2 * rng.standard_normal(n))
            mem = p.mem_mb * np.exp(0.1 * rng.standard_normal(n)) + (bytes_in + bytes_out) / 1e6
            key = (
                _combine(_salt("cache_key", *consumed), [values[c] for c in consumed], n) if op.deterministic else None
            )

            rows = np.flatnonzero(runs)
            code = labels.setdefault((op_id, op.service), len(labels))
            cols["row"].append(members[rows])
            cols["op"].append(np.full(rows.size, code, dtype=np.int32))
            cols["start"].append(start[rows])
            cols["lat"].append(lat_t[rows])
            cols["status"].append(status[rows])
            cols["cost"].append(np.round(cost[rows], 10))
            cols["cpu"].append(np.round(cpu[rows], 1))
            cols["mem"].append(np.round(mem[rows]))
            cols["bin"].append(bytes_in[rows])
            cols["bout"].append(bytes_out[rows])
            cols["key"].append(_hex(key[rows]) if key is not None else np.full(rows.size, None, dtype=object))

    # a variant that carries its own recipe (written by `apply --canary`) runs through it
    own = {v.name: _variant_recipe(recipe, v) for v in recipe.variants if v.name in variants and v.recipe}
    base = ~np.isin(variant, list(own)) if own else np.ones(n, dtype=bool)
    run(recipe, np.flatnonzero(base))
    for name, vrecipe in own.items():
        run(vrecipe, np.flatnonzero(variant == name))

    if not cols["row"]:
        return to_span_frame(SPAN_SCHEMA.empty_table())
    cat = {k: np.concatenate(v) for k, v in cols.items()}
    srt = np.lexsort((cat["op"], cat["row"], cat["start"]))
    cat = {k: v[srt] for k, v in cat.items()}
    row, opj = cat["row"], cat["op"]
    op_names = np.array([k[0] for k in labels], dtype=object)
    services = np.array([k[1] for k in labels], dtype=object)
    m = row.size
    table = pa.Table.from_arrays(
        [
            pa.array(request_ids[row], pa.string()),
            pa.array(np.full(m, recipe.name, dtype=object), pa.string()),
            pa.array(np.full(m, recipe.version, dtype=np.int64), pa.int64()),
            pa.array(variant[row], pa.string()),
            pa.array(op_names[opj], pa.string()),
            pa.array(services[opj], pa.string()),
            pa.array(cat["start"] / TICKS_PER_MS, pa.float64()),
            pa.array(cat["lat"] / TICKS_PER_MS, pa.float64()),
            pa.array(np.array(["ok", "error", "halted"], dtype=object)[cat["status"]], pa.string()),
            pa.array(cat["cost"], pa.float64()),
            pa.array(cat["cpu"], pa.float64()),
            pa.array(cat["mem"], pa.float64()),
            pa.array(cat["bin"], pa.float64()),
            pa.array(cat["bout"], pa.float64()),
            pa.array(cat["key"], pa.string()),
            pa.array(np.full(m, sample_rate if sample_rate is not None else np.nan), pa.float64(), from_pandas=True),
            pa.nulls(m, pa.string()),
            pa.nulls(m, pa.int64()),
        ],
        schema=SPAN_SCHEMA,
    )
    log.debug("generated %d spans for %d of %d requests of %s", m, n, n_total, recipe.name)
    return to_span_frame(table)


# ---- writing --------------------------------------------------------------------------------------


def _json_values(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A column as JSON texts (``null`` for nulls), computed by Arrow kernels."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    t = arr.type
    text = pa.large_string()
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if len(arr) > 64:
            codes = pc.dictionary_encode(arr)
            if len(codes.dictionary) * 4 < len(arr):  # few distinct values: quote each once
                return pc.fill_null(_json_values(codes.dictionary).take(codes.indices), pa.scalar("null", text))
        s = arr.cast(text)
        if pc.any(pc.match_substring_regex(s, r'["\\\x00-\x1f]')).as_py():  # rare: escape what JSON needs
            s = pc.replace_substring(s, "\\", "\\\\")
            s = pc.replace_substring(s, '"', '\\"')
            s = pc.replace_substring_regex(s, r"[\x00-\x1f]", " ")  # control characters become spaces
        q = pa.scalar('"', text)
        s = pc.binary_join_element_wise(q, s, q, pa.scalar("", text))
    elif pa.types.is_floating(t):
        s = pc.if_else(pc.is_finite(arr), pc.cast(arr, text), pa.scalar(None, text))
    elif pa.types.is_boolean(t):
        s = pc.if_else(arr, pa.scalar("true", text), pa.scalar("false", text))
    else:
        s = pc.cast(arr, text)
    return pc.fill_null(s, pa.scalar("null", text))


def write_jsonl(df: pd.DataFrame, path: str | os.PathLike[str]) -> int:
    """Write a span table as JSON lines (gzip when ``path`` ends in ``.gz``), atomically.

    Columns that are null throughout (``source_file``, ``sample_rate`` when not sampled, ...)
    are left out; other nulls are written as ``null``. Returns the number of lines written.
    """
    p = Path(path)
    table = pa.Table.from_pandas(df, preserve_index=False)
    drop = {"source_file", "source_line"} | {c for c in table.column_names if table.column(c).null_count == len(table)}
    names = [c for c in table.column_names if c not in drop]
    parts: list[Any] = []
    for i, c in enumerate(names):
        parts.append(pa.scalar(("{" if i == 0 else ",") + '"' + c + '":', pa.large_string()))
        parts.append(_json_values(table.column(c)))
    parts.append(pa.scalar("}\n", pa.large_string()))
    if len(table) and names:
        lines = pc.binary_join_element_wise(*parts, pa.scalar("", pa.large_string()))
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64, count=len(lines) + 1, offset=lines.offset * 8)
        data = memoryview(lines.buffers()[2])[int(offsets[0]) : int(offsets[-1])]
    else:
        data = memoryview(b"")
    try:
        mode = stat.S_IMODE(os.stat(p).st_mode)  # an existing file keeps its permissions
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        mode = 0o666 & ~mask
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except OSError as e:
        raise InputFileError(f"cannot write here: {e.strerror}", file=str(p), code="write") from None
    try:
        with os.fdopen(fd, "wb") as raw:
            if p.suffix == ".gz":
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
                    gz.write(data)
            else:
                raw.write(data)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(table)


# ---- synthetic recipes ----------------------------------------------------------------------------


def synthetic_recipe(n_ops: int = 40, seed: int = 0) -> dict[str, Any]:
    """A valid layered recipe document with ``n_ops`` operations, for benchmarks and tests.

    Operations sit in layers of about five; each consumes one or two fields of earlier layers
    (or the inputs) and produces one; a few carry ``after`` edges the data does not need, one in
    the middle is a guard (``may_halt``), about a third are deterministic, the last is an external
    side effect; six services share the work.

    >>> from recipemut.model import recipe_from_dict
    >>> d = synthetic_recipe(12, seed=2)
    >>> r = recipe_from_dict(d)
    >>> len(r.operations), len(r.topo_order), r.outputs[0] in r.producers
    (12, 12, True)
    """
    if n_ops < 1:
        raise RecipemutError(f"n_ops must be >= 1, got {n_ops}")
    rng = np.random.default_rng(seed)
    n_services = 6
    services = [f"svc{i}" for i in range(n_services)]
    fields_doc: dict[str, Any] = {"request_id": {"type": "string"}, "user_id": {"type": "string"}}
    available: list[str] = ["request_id", "user_id"]
    ops: list[dict[str, Any]] = []
    layer_size = 5
    guard_at = n_ops // 2
    prev_layer: list[str] = []
    producer_of: dict[str, str] = {}
    layer: list[str] = []
    for i in range(n_ops):
        if i and i % layer_size == 0:
            prev_layer, layer = layer, []
        oid = f"op{i:03d}"
        k = int(rng.integers(1, 3))
        pool = available[-12:]
        consumes = sorted({str(x) for x in rng.choice(pool, size=min(k, len(pool)), replace=False)})
        out = f"f{i:03d}"
        big = rng.random() < 0.15
        fields_doc[out] = {"type": "object", "format": "json"} if big else {"type": "string"}
        op: dict[str, Any] = {
            "id": oid,
            "service": services[int(rng.integers(n_services))],
            "action": f"Do{i:03d}",
            "consumes": consumes,
            "produces": [out],
            "cost_per_call_usd": round(float(rng.uniform(0.00001, 0.0005)), 6),
        }
        feeders = {producer_of.get(f) for f in consumes}
        after = [q for q in prev_layer if rng.random() < 0.2 and q not in feeders]
        if after:
            op["after"] = after[:2]
        if rng.random() < 0.33:
            op["deterministic"] = True
        if i == guard_at:
            op["may_halt"] = True
        if i == n_ops - 1 and n_ops > 1:
            op["side_effects"] = "external"
        ops.append(op)
        layer.append(oid)
        available.append(out)
        producer_of[out] = oid
    final = f"f{n_ops - 1:03d}"
    return {
        "apiVersion": "recipemut/v1",
        "kind": "Recipe",
        "name": f"synthetic{n_ops}",
        "version": 1,
        "fields": fields_doc,
        "inputs": ["request_id", "user_id"],
        "outputs": [final],
        "operations": ops,
        "services": {s: {"replicas": 4, "concurrency_per_replica": 16, "target_utilization": 0.7} for s in services},
        "constraints": {
            "slo": {"latency_p95_ms": 2000},
            "max_cost_per_request_usd": 0.05,
            "frozen": [ops[-1]["id"]] if n_ops > 1 else [],
        },
    }
