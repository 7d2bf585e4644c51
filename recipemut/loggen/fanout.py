"""Several calls of one operation per request: fan-out over a list, batches, calls in flight, retries.

An operation with ``foreach`` calls once per ``batch_size`` items of its request's list (after
dropping repeated items when ``dedupe: true``), in item order, on ``concurrency`` slots: each call
starts on the slot that frees first (greedy list scheduling), so ``concurrency: 1`` runs them one
after another and a concurrency at least the number of calls starts them all at once. The
operation's cell ends when its last call ends; its successors start then.

Each call is tried up to ``retry.max_attempts`` times: a failed attempt (``error_prob``) is followed
at once by the next, each attempt its own span (``attempt`` 1, 2, ...); the call fails only when its
last attempt fails, and then the request fails (the operation's descendants do not run). An
operation with ``retry`` and no ``foreach`` is one call per request with those attempts.

A call's latency is a fresh draw of the operation's latency model plus ``per_item_ms`` per item it
handles; the bytes the request's fields carry (and the time they cost) are shared among its calls
by items. A deterministic operation's ``cache_key`` is per call: a hash of the other consumed
values and the call's items, so repeated items repeat keys. A ``cache`` answers repeated keys
(times: the cell's start), a ``hedge`` works per attempt.

Everything is vectorised over calls; the scheduler loops over the call index (at most the longest
list), never over requests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recipemut.loggen.keys import U64, combine, mix
from recipemut.loggen.params import OpParams
from recipemut.predict import cachesim
from recipemut.recipe.model import Operation


def draw_latency(rng: np.random.Generator, p: OpParams, n: int) -> np.ndarray:
    """Service time (ms) of ``n`` calls: lognormal body, Pareto tail with probability ``tail_share``."""
    body = p.latency_median_ms * np.exp(p.latency_sigma * rng.standard_normal(n))
    tail = p.latency_median_ms * p.tail_scale * (1.0 + rng.pareto(p.tail_alpha, n)) if p.tail_alpha > 0 else body
    return np.asarray(np.where(rng.random(n) < p.tail_share, tail, body))


def list_schedule(call_req: np.ndarray, duration: np.ndarray, ready: np.ndarray, slots: int) -> np.ndarray:
    """Start of each call: greedy list scheduling of each request's calls on ``slots`` slots.

    ``call_req`` (sorted) is each call's request, ``duration`` its time, ``ready`` each request's
    time the first call may start. Calls are taken in order; each starts on the slot that frees
    first.

    >>> list_schedule(np.array([0, 0, 0, 1]), np.array([5, 3, 4, 2]), np.array([0, 10]), 2).tolist()
    [0, 0, 3, 10]
    """
    n_calls = np.bincount(call_req, minlength=ready.size)
    first = np.cumsum(n_calls) - n_calls
    j = np.arange(call_req.size, dtype=np.int64) - first[call_req]  # call index within its request
    most = int(n_calls.max()) if n_calls.size else 0
    k = max(1, min(int(slots), most))
    if k >= most:  # every call has its slot
        return np.asarray(ready[call_req])
    if k == 1:  # one after another: the durations of the earlier calls added up
        done = np.cumsum(duration) - duration
        return np.asarray(ready[call_req] + done - done[first[call_req]])
    order = np.lexsort((call_req, j))
    bounds = np.searchsorted(j[order], np.arange(most + 1))
    free = np.repeat(ready[:, None], k, axis=1)
    start = np.empty(call_req.size, dtype=ready.dtype)
    for i in range(most):
        sel = order[bounds[i] : bounds[i + 1]]
        r = call_req[sel]
        slot = free[r].argmin(axis=1)
        at = free[r, slot]
        start[sel] = at
        free[r, slot] = at + duration[sel]
    return start


@dataclass(frozen=True, eq=False)
class CallSpans:
    """The spans of an operation's calls (one per attempt) and what they mean for each request."""

    req: np.ndarray  # (spans,) request position in the run
    call: np.ndarray  # (spans,) call index within the request (item order)
    attempt: np.ndarray  # (spans,) 1, 2, ...
    items: np.ndarray  # (spans,) items the call handled (-1: not a fan-out)
    start_t: np.ndarray  # (spans,) ticks
    lat_t: np.ndarray  # (spans,) ticks
    status: np.ndarray  # (spans,) 0 ok, 1 error, 2 halted
    cost: np.ndarray
    cpu: np.ndarray
    mem: np.ndarray
    bytes_in: np.ndarray
    bytes_out: np.ndarray
    key: np.ndarray | None  # (spans,) uint64 cache keys (deterministic operations)
    end_t: np.ndarray  # (n,) when the last call ended (the start where the operation did not run)
    stopped: np.ndarray  # (n,) a call failed after its last attempt, or the operation halted


@dataclass(frozen=True, eq=False)
class CellInputs:
    """What the generator knows of each request (``n``) when the operation is due."""

    runs: np.ndarray  # bool: the operation runs
    start_t: np.ndarray  # int64 ticks: its predecessors have finished
    extra_ms: np.ndarray  # latency the request's bytes and codecs add (shared by items)
    bytes_in: np.ndarray
    bytes_out: np.ndarray
    err_p: np.ndarray  # error probability of an attempt
    lat_factor: np.ndarray  # a treatment's latency factor
    cost_factor: np.ndarray
    key_salt: np.uint64
    key_cols: tuple[np.ndarray, ...]  # consumed values that key a call, besides its items


def _calls_of_items(
    ireq: np.ndarray, ival: np.ndarray | None, n: int, batch: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Items (request-sorted) -> calls of ``batch`` items: (call's request, items per call, item hash)."""
    per_req = np.bincount(ireq, minlength=n)
    calls = -(-per_req // batch)
    call_first = np.cumsum(calls) - calls
    item_first = np.cumsum(per_req) - per_req
    pos = np.arange(ireq.size, dtype=np.int64) - item_first[ireq]
    gid = call_first[ireq] + pos // batch
    n_calls = int(calls.sum())
    call_req = np.repeat(np.arange(n, dtype=np.int64), calls)
    items = np.bincount(gid, minlength=n_calls)
    if ival is None:
        return call_req, items, None
    if batch == 1:
        return call_req, items, ival
    acc = np.zeros(n_calls, dtype=U64)
    np.bitwise_xor.at(acc, gid, mix(ival))
    return call_req, items, acc


def call_spans(
    rng: np.random.Generator,
    op: Operation,
    p: OpParams,
    cell: CellInputs,
    list_items: tuple[np.ndarray, np.ndarray] | None,
    ticks_per_ms: int,
) -> CallSpans:
    """The spans of ``op``'s calls in every request where it runs.

    ``list_items`` is the iterated field's items (request position, item id; request-sorted), or
    ``None`` for an operation without ``foreach`` (one call per request).
    """
    n = int(cell.runs.size)
    fan = list_items is not None
    if list_items is not None:
        ireq, ival = list_items
        keep = cell.runs[ireq]
        ireq, ival = ireq[keep], ival[keep]
        if op.dedupe:
            first = ~pd.DataFrame({"r": ireq, "v": ival}).duplicated().to_numpy()
            ireq, ival = ireq[first], ival[first]
        call_req, items, call_item = _calls_of_items(ireq, ival, n, max(op.batch_size, 1))
    else:
        call_req = np.flatnonzero(cell.runs).astype(np.int64)
        items = np.ones(call_req.size, dtype=np.int64)
        call_item = None
    n_calls = int(call_req.size)
    per_req = np.bincount(call_req, minlength=n)
    call_index = np.arange(n_calls, dtype=np.int64) - (np.cumsum(per_req) - per_req)[call_req]
    req_items = np.maximum(np.bincount(call_req, weights=items, minlength=n), 1.0)
    share = items / req_items[call_req]  # the call's share of the request's bytes

    key = None
    if op.deterministic:
        cols = [c[call_req] for c in cell.key_cols] + ([call_item] if call_item is not None else [])
        key = combine(cell.key_salt, cols, n_calls)
    hit = np.zeros(n_calls, dtype=bool)
    if op.cache is not None and key is not None and n_calls:
        codes = pd.factorize(key)[0]
        hit = cachesim.hits(cell.start_t[call_req] / ticks_per_ms, codes, op.cache.ttl_s, op.cache.max_entries)

    # attempts: each fails with the request's error probability; a hit answers at the first
    attempts = max(op.max_attempts, 1)
    fail = (rng.random((n_calls, attempts)) < cell.err_p[call_req][:, None]) & ~hit[:, None]
    all_failed = fail.all(axis=1)
    n_att = np.where(all_failed, attempts, fail.argmin(axis=1) + 1).astype(np.int64)
    n_spans = int(n_att.sum())
    span_call = np.repeat(np.arange(n_calls, dtype=np.int64), n_att)
    att_first = np.cumsum(n_att) - n_att
    attempt = np.arange(n_spans, dtype=np.int64) - att_first[span_call] + 1
    status = ((attempt < n_att[span_call]) | all_failed[span_call]).astype(np.int8)
    r = call_req[span_call]

    extra = cell.extra_ms[r] * share[span_call] + p.per_item_ms * items[span_call]
    lat = draw_latency(rng, p, n_spans) + extra
    sent = np.ones(n_spans)
    if op.hedge is not None:  # duplicates of an attempt after `after_ms`; the first answer wins
        for k in range(1, op.hedge.max_extra + 1):
            dup = lat > k * op.hedge.after_ms
            again = k * op.hedge.after_ms + np.maximum(draw_latency(rng, p, n_spans) + extra, 1.0 / ticks_per_ms)
            lat = np.where(dup, np.minimum(lat, again), lat)
            sent += dup
    lat = np.maximum(lat, 1.0 / ticks_per_ms) * cell.lat_factor[r]
    span_hit = hit[span_call]
    if op.cache is not None:
        lat = np.where(span_hit, op.cache.hit_latency_ms, lat)
    lat_t = np.maximum(1, np.round(lat * ticks_per_ms)).astype(np.int64)

    duration = np.bincount(span_call, weights=lat_t, minlength=n_calls).astype(np.int64)
    call_start = list_schedule(call_req, duration, cell.start_t, op.concurrency)
    before = np.cumsum(lat_t) - lat_t
    start_t = call_start[span_call] + before - before[att_first[span_call]]
    end = start_t + lat_t
    end_t = cell.start_t.copy()
    np.maximum.at(end_t, r, end)
    stopped = np.bincount(call_req, weights=all_failed, minlength=n) > 0

    if op.may_halt and p.halt_prob > 0:  # the request stops here: its last-ending span says so
        halted = cell.runs & ~stopped & (rng.random(n) < p.halt_prob)
        last = np.lexsort((np.arange(n_spans), end, r))
        is_last = np.ones(n_spans, dtype=bool)
        is_last[last[:-1]] = r[last[:-1]] != r[last[1:]]
        mark = np.flatnonzero(is_last)
        mark = mark[halted[r[mark]]]
        status[mark] = 2
        stopped = stopped | halted

    noise = np.round(1.0 + p.cost_noise * rng.standard_normal(n_spans), 2)
    cost = np.maximum(0.0, (op.cost_per_call_usd or 0.0) * noise) * cell.cost_factor[r] * sent
    cost = np.where(span_hit, 0.0, cost)
    b_in = np.round(cell.bytes_in[r] * share[span_call])
    b_out = np.round(cell.bytes_out[r] * share[span_call])
    cpu = np.maximum(lat, 0.0) * max(p.cpu_share, 0.0) * np.exp(0.2 * rng.standard_normal(n_spans))
    mem = max(p.mem_mb, 0.0) * np.exp(0.1 * rng.standard_normal(n_spans)) + (b_in + b_out) / 1e6
    return CallSpans(
        req=r,
        call=call_index[span_call],
        attempt=attempt,
        items=items[span_call] if fan else np.full(n_spans, -1, dtype=np.int64),
        start_t=start_t,
        lat_t=lat_t,
        status=status,
        cost=cost,
        cpu=cpu,
        mem=mem,
        bytes_in=b_in,
        bytes_out=b_out,
        key=key[span_call] if key is not None else None,
        end_t=end_t,
        stopped=stopped,
    )
