"""Spans of requests run through a recipe's DAG (see the package docstring for the model)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa

from recipemut.errors import RecipemutError
from recipemut.loggen.arrivals import DEFAULT_PEAK_HOUR, DEFAULT_START_MS, poisson_arrivals
from recipemut.loggen.fanout import CallSpans, CellInputs, call_spans, draw_latency
from recipemut.loggen.items import list_items, list_sizes
from recipemut.loggen.keys import U64, combine, hash_share, hex_ids, mix, salt, unit_float, zipf_cdf, zipf_rank
from recipemut.loggen.nested import callers_in, depths, enclose
from recipemut.loggen.params import FieldParams, LoggenParams, OpParams
from recipemut.logs.spans import CALL_SCHEMA, DEFAULT_VARIANT, SPAN_SCHEMA, to_span_frame
from recipemut.predict import cachesim
from recipemut.recipe import transfer
from recipemut.recipe.model import Operation, Recipe, Variant, recipe_from_dict

log = logging.getLogger(__name__)


#: Times are generated in integer ticks of 10 µs, so a successor starts exactly when its last
#: predecessor ends (``start + latency`` equals the next start up to float rounding).
TICKS_PER_MS = 100
#: the shortest latency generated (one tick)
_MIN_MS = 1.0 / TICKS_PER_MS


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


def _knob_arrays(
    knobs: Mapping[str, Mapping[str, float]], variant: np.ndarray, op_id: str, error_prob: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per request, a treatment's latency factor, cost factor and error probability for ``op_id``."""
    n = variant.size
    lat, cost, err = np.ones(n), np.ones(n), np.full(n, error_prob)
    for var, kn in knobs.items():
        m = variant == var
        lat[m] *= kn.get("*", 1.0) * kn.get(op_id, 1.0)
        cost[m] *= kn.get(op_id + "@cost", 1.0)
        if op_id + "@error" in kn:
            err[m] = kn[op_id + "@error"]
    return lat, cost, err


def _append_calls(cols: dict[str, list[np.ndarray]], s: CallSpans, members: np.ndarray, code: int) -> None:
    """Add the spans of an operation's calls to the columns being built."""
    cols["row"].append(members[s.req])
    cols["op"].append(np.full(s.req.size, code, dtype=np.int32))
    cols["start"].append(s.start_t)
    cols["lat"].append(s.lat_t)
    cols["status"].append(s.status)
    cols["cost"].append(np.round(s.cost, 10))
    cols["cpu"].append(np.round(s.cpu, 1))
    cols["mem"].append(np.round(s.mem))
    cols["bin"].append(s.bytes_in)
    cols["bout"].append(s.bytes_out)
    cols["key"].append(hex_ids(s.key) if s.key is not None else np.full(s.req.size, None, dtype=object))
    cols["call"].append(s.call)
    cols["att"].append(s.attempt)
    cols["items"].append(s.items)


def _call_columns(cat: Mapping[str, np.ndarray], seed: int, parent: np.ndarray | None) -> list[pa.Array]:
    """``span_id`` (unique per attempt), ``parent_span_id`` (the span of ``parent`` rows; -1: none),
    ``attempt`` and ``items`` columns."""
    m = cat["row"].size
    uid = cat["row"].astype(U64) + (U64(seed) << U64(32))
    cols = [uid, cat["op"].astype(U64), cat["call"].astype(U64), cat["att"].astype(U64)]
    span = hex_ids(combine(salt("span_id"), cols, m))
    items = cat["items"]
    if parent is not None and (parent >= 0).any():
        parents = pa.array(span[np.maximum(parent, 0)], pa.string(), mask=parent < 0)
    else:
        parents = pa.nulls(m, pa.string())
    return [
        pa.array(span, pa.string()),
        parents,
        pa.array(cat["att"], pa.int64()),
        pa.array(items, pa.int64(), mask=items < 0),
    ]


def _inside_error(params: LoggenParams, callee: str, why: str) -> RecipemutError:
    """An ``inside`` the recipe does not allow, naming its line in ``loggen.yaml``."""
    at = ("operations", callee, "inside")
    line = params.lines.get(at, params.lines.get(at[:2]))
    return RecipemutError(f"operations.{callee}.inside: {why}", file=params.source, line=line, code="loggen-inside")


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

    Rows are sorted by start time, dtypes are those of :func:`recipemut.logs.spans.to_span_frame`;
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
    arrival = poisson_arrivals(
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
    for k in ("call", "att", "items"):  # which call and attempt a span is, and its items (-1: none)
        cols[k] = []
    for k in ("caller", "depth"):  # the operation a span is called from within (-1: none), how deep
        cols[k] = []
    inside = params.callers()
    # the base recipe must allow every `inside` it runs; a canary's own recipe drops what it cannot
    nesting = bool(inside) and bool(callers_in(recipe, inside, fail=lambda c, why: _inside_error(params, c, why)))
    runs_no = [0]  # each run's calls draw from streams of their own
    labels: dict[tuple[str, str], int] = {}  # (op id, service) -> code, base recipe's operations first
    for op_id in order:
        labels.setdefault((op_id, recipe.ops[op_id].service), len(labels))
    cdfs: dict[str, np.ndarray] = {}

    def cdf(name: str, fp: FieldParams) -> np.ndarray:
        if name not in cdfs:
            cdfs[name] = zipf_cdf(int(fp.universe or 1), fp.zipf)
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
        uid = idx[members].astype(U64) + (U64(seed) << U64(32))  # the requests' identities
        lists: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # list fields: (request, item id) per item
        run_no = runs_no[0]
        runs_no[0] += 1
        nest = callers_in(grecipe, inside) if inside else {}
        nest_depth = depths(nest)

        def nested(op_id: str, size: int) -> None:
            """Record what ``op_id``'s ``size`` new spans are called from within."""
            caller = nest.get(op_id)
            ccode = labels.setdefault((caller, grecipe.ops[caller].service), len(labels)) if caller else -1
            cols["caller"].append(np.full(size, ccode, dtype=np.int32))
            cols["depth"].append(np.full(size, nest_depth.get(op_id, 0), dtype=np.int32))

        def items_of(name: str) -> tuple[np.ndarray, np.ndarray]:
            if name not in lists:
                fp = fparams(name)
                lists[name] = list_items(name, fp, uid, list_sizes(name, fp, uid))
            return lists[name]

        def fparams(name: str) -> FieldParams:
            return params.for_field(name, grecipe.fields.get(name))

        def size_of(fp: FieldParams) -> np.ndarray:
            z = rng.standard_normal(n)
            return np.asarray(
                np.maximum(1.0, np.round(fp.bytes_mean * np.exp(fp.bytes_sigma * z - fp.bytes_sigma**2 / 2)))
            )

        codecs = transfer.table(grecipe.formats)
        wire: dict[str, float] = {}  # bytes on the wire per JSON byte, for each field
        codec_ms: dict[str, tuple[float, float]] = {}  # extra (encode, decode) ms per JSON MB vs plain JSON
        for name in grecipe.fields:
            fmt, comp = transfer.codec_of(grecipe.fields.get(name))
            wire[name] = transfer.size_factor(codecs, "json", "none", fmt, comp)
            codec_ms[name] = tuple(  # type: ignore[assignment]
                transfer.codec_ms_per_wire_mb(codecs, fmt, comp, side) * wire[name]
                - transfer.codec_ms_per_wire_mb(codecs, "json", "none", side)
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
            ranks = zipf_rank(rng.random(n), cdf(name, fp)) if fp.universe else uid
            values[name] = mix(ranks ^ salt("field", name))
            sizes[name] = sized(name)

        ok: dict[str, np.ndarray] = {}
        end_t: dict[str, np.ndarray] = {}
        for op_id in gorder:
            op = grecipe.ops[op_id]
            p = _op_params(params, op, recipe)
            preds = list(gdag.predecessors(op_id))
            runs = np.logical_and.reduce([ok[q] for q in preds]) if preds else np.ones(n, dtype=bool)
            start = np.maximum.reduce([end_t[q] for q in preds]) if preds else g_arrival.copy()
            if op.when is not None:  # a branch, taken by a share of the requests (by request id)
                runs = runs & (unit_float(combine(salt("when", op.id), [uid], n)) < p.when_prob)

            # products: values and sizes
            consumed = [f for f in op.consumes if f in values]
            for f in op.produces:
                fp = fparams(f)
                if op.deterministic:
                    h = combine(salt("value", op.id, f), [values[c] for c in consumed], n)
                    v = mix(zipf_rank(unit_float(h), cdf(f, fp)) ^ salt("field", f)) if fp.universe else h
                elif fp.universe:
                    v = mix(zipf_rank(rng.random(n), cdf(f, fp)) ^ salt("field", f))
                else:
                    v = rng.integers(0, np.iinfo(np.int64).max, size=n, dtype=np.int64).astype(U64)
                values[f] = v
                sizes[f] = sized(f)
            bytes_in = np.sum([sizes[f] for f in consumed], axis=0) if consumed else np.zeros(n)
            bytes_out = np.sum([sizes[f] for f in op.produces if f in sizes], axis=0) if op.produces else np.zeros(n)

            # latency
            extra = codec_delta(consumed, 1) + codec_delta(list(op.produces), 0)
            if p.throughput_bytes_per_ms > 0:
                extra = extra + bytes_in / p.throughput_bytes_per_ms
            if op.foreach is not None or op.max_attempts > 1:
                lat_f, cost_f, err_f = _knob_arrays(knobs, g_variant, op_id, p.error_prob)
                cell = CellInputs(
                    runs=runs,
                    start_t=start,
                    extra_ms=np.broadcast_to(np.asarray(extra, dtype=float), (n,)),
                    bytes_in=np.asarray(bytes_in, dtype=float),
                    bytes_out=np.asarray(bytes_out, dtype=float),
                    err_p=err_f,
                    lat_factor=lat_f,
                    cost_factor=cost_f,
                    key_salt=salt("cache_key", *consumed),
                    key_cols=tuple(values[c] for c in consumed if c != op.foreach),
                )
                op_rng = np.random.default_rng([seed, int(salt("calls", op.id)), run_no])
                its = items_of(op.foreach) if op.foreach is not None else None
                spans = call_spans(op_rng, op, p, cell, its, TICKS_PER_MS)
                ok[op_id] = runs & ~spans.stopped
                end_t[op_id] = spans.end_t
                _append_calls(cols, spans, members, labels.setdefault((op_id, op.service), len(labels)))
                nested(op_id, spans.req.size)
                continue
            # a faster transfer format can save more than a small service time: never below one tick
            lat = np.maximum(draw_latency(rng, p, n) + extra, _MIN_MS)
            noise = np.round(1.0 + p.cost_noise * rng.standard_normal(n), 2)  # a few significant digits
            cost = np.maximum(0.0, (op.cost_per_call_usd or 0.0) * noise)
            if op.hedge is not None:
                # a duplicate call after `after_ms` without an answer; the first answer wins
                calls = np.ones(n)
                for k in range(1, op.hedge.max_extra + 1):
                    sent = lat > k * op.hedge.after_ms
                    again = k * op.hedge.after_ms + np.maximum(draw_latency(rng, p, n) + extra, _MIN_MS)
                    lat = np.where(sent, np.minimum(lat, again), lat)
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
                key_codes = pd.factorize(combine(salt("cache_key", *consumed), [values[c] for c in consumed], n))[0]
                key_codes = np.where(runs, key_codes, -1)
                hit = cachesim.hits(start / TICKS_PER_MS, key_codes, op.cache.ttl_s, op.cache.max_entries)
                lat_t = np.where(hit, max(1, round(op.cache.hit_latency_ms * TICKS_PER_MS)), lat_t)
                cost = np.where(hit, 0.0, cost)
                status = np.where(hit & (status == 1), np.int8(0), status)
            ok[op_id] = runs & (status == 0)
            end_t[op_id] = start + lat_t

            # never negative: ingest rejects a negative cpu_ms or mem_mb
            cpu = np.maximum(lat, 0.0) * max(p.cpu_share, 0.0) * np.exp(0.2 * rng.standard_normal(n))
            mem = max(p.mem_mb, 0.0) * np.exp(0.1 * rng.standard_normal(n)) + (bytes_in + bytes_out) / 1e6
            key = (
                combine(salt("cache_key", *consumed), [values[c] for c in consumed], n) if op.deterministic else None
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
            cols["key"].append(hex_ids(key[rows]) if key is not None else np.full(rows.size, None, dtype=object))
            cols["call"].append(np.zeros(rows.size, dtype=np.int64))
            cols["att"].append(np.ones(rows.size, dtype=np.int64))
            cols["items"].append(np.full(rows.size, -1, dtype=np.int64))
            nested(op_id, rows.size)

    # a variant that carries its own recipe (written by `apply --canary`) runs through it
    own = {v.name: _variant_recipe(recipe, v) for v in recipe.variants if v.name in variants and v.recipe}
    base = ~np.isin(variant, list(own)) if own else np.ones(n, dtype=bool)
    nesting = nesting or any(callers_in(g, inside) for g in own.values())
    has_calls = nesting or any(
        o.foreach is not None or o.max_attempts > 1 for g in (recipe, *own.values()) for o in g.operations
    )
    run(recipe, np.flatnonzero(base))
    for name, vrecipe in own.items():
        run(vrecipe, np.flatnonzero(variant == name))

    if not cols["row"]:
        return to_span_frame(SPAN_SCHEMA.empty_table())
    cat = {k: np.concatenate(v) for k, v in cols.items()}
    srt = np.lexsort((cat["op"], cat["row"], cat["start"]))
    cat = {k: v[srt] for k, v in cat.items()}
    row, opj = cat["row"], cat["op"]
    parent = None
    if nesting:  # callers' spans grow to hold their callees'; callees name their caller's span
        parent, cat["lat"] = enclose(row, opj, cat["caller"], cat["depth"], cat["start"], cat["lat"])
    op_names = np.array([k[0] for k in labels], dtype=object)
    services = np.array([k[1] for k in labels], dtype=object)
    m = row.size
    span_start = cat["start"] / TICKS_PER_MS
    span_lat = cat["lat"] / TICKS_PER_MS
    if has_calls:
        # a call starts as the one before it on its slot ends: in epoch-ms floats too, so a reader
        # adding latency to start sees them touch, not overlap (end - start is exact, Sterbenz)
        end_ms = (cat["start"] + cat["lat"]) / TICKS_PER_MS
        span_lat = np.where(span_start + span_lat == end_ms, span_lat, end_ms - span_start)
    table = pa.Table.from_arrays(
        [
            pa.array(request_ids[row], pa.string()),
            pa.array(np.full(m, recipe.name, dtype=object), pa.string()),
            pa.array(np.full(m, recipe.version, dtype=np.int64), pa.int64()),
            pa.array(variant[row], pa.string()),
            pa.array(op_names[opj], pa.string()),
            pa.array(services[opj], pa.string()),
            pa.array(span_start, pa.float64()),
            pa.array(span_lat, pa.float64()),
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
            *(_call_columns(cat, seed, parent) if has_calls else []),
        ],
        schema=pa.schema([*SPAN_SCHEMA, *CALL_SCHEMA]) if has_calls else SPAN_SCHEMA,
    )
    log.debug("generated %d spans for %d of %d requests of %s", m, n, n_total, recipe.name)
    return to_span_frame(table)
