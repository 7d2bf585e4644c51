"""Cache replay: which recorded calls of an operation a cache in front of it would have answered.

The logs carry ``cache_key``, a hash of the values an operation consumed. Replaying those keys in
time order says exactly which calls a cache keyed on the consumed fields would have served.

Semantics of :func:`hits` (the simulator and the ``cache`` operator share them):

* **Expire-after-write** (the default, ``policy="write"``): a miss at time ``t`` stores the answer,
  which is served to every later call with the same key at a time in ``[t, t + ttl)``; the first
  call at or after ``t + ttl`` is a miss again and stores a fresh answer. A hit does not extend the
  entry's life, so no answer older than ``ttl`` is ever served (the staleness bound a TTL promises;
  what ``SET key EX ttl`` does). ``policy="access"`` gives expire-after-access instead: a call is a
  hit when the previous call with the same key was less than ``ttl`` ago (a sliding window).
* Times are compared at microsecond resolution (a log's millisecond floats carry no more).
* The entry is available from the miss's *start* time (the call's own latency is ignored; at the
  millisecond scale of TTLs in seconds this matters only for bursts of identical keys).
* Calls with key ``-1`` (the operation did not run, or logged no key) or a NaN time are never hits
  and never store anything.
* **Capacity**: each key holds at most one live entry, so the number of live entries at a time is
  the number of entries stored and not yet expired (under expire-after-write: the misses of the
  preceding ``ttl``). When that never exceeds
  ``max_entries`` the replay is exact. When it does, capacity is approximated by *offline LFU
  admission*: only the ``max_entries`` most requested keys of the trace are cached (ties: smaller
  key code), every call with another key is a miss. This is exact for a static popularity
  ranking and optimistic for an LRU cache when popularity drifts over the trace; :func:`replay`
  reports whether the approximation was used (``capacity_bound``).
* **A sample of the requests** (``fraction`` F < 1: request sampling kept each request with
  probability F by a hash of its id, :mod:`recipemut.logs.sample`): the calls replayed are a
  uniform thinning of the calls the cache would see, so each key arrives F times as often and
  repeats are seen less often within a TTL (replayed as is, the hit rate of a 25% sample is
  about half the full log's at short TTLs). The replay corrects for it by using a TTL of ``T / F``
  and the same capacity ``N``. Why: take a key whose calls arrive at rate ``λ`` (Poisson).
  Expire-after-write runs in cycles: a miss, an entry alive for ``T`` answering ``λT`` calls on
  average, then a wait of ``1/λ`` for the next miss; so the key's hit rate is ``λT / (1 + λT)``
  and its entry is alive ``T / (T + 1/λ)`` of the time. On the sample the rate is ``Fλ``; with
  the TTL ``T/F``, ``(Fλ)(T/F) = λT``: the same hit rate, and the same share of time alive,
  ``(T/F) / (T/F + 1/(Fλ))``, hence the same expected number of live entries at any time (the
  sum over keys) and the same peak. So the capacity is *not* scaled: the live entries of the
  sample already shrink by about F under the TTL ``T`` (that is the bias), and lengthening the
  TTL restores them; scaling ``N`` to ``N*F`` on top would count the thinning twice (measured on
  40,000 generated checkout requests, F = 0.25, capacity a fifth of the peak: full log 27.5%,
  sample with ``T/F, N`` 27.3%, with ``T/F, N*F`` 20.6%, uncorrected 16.7%). The popular keys
  LFU admission keeps are the same on the sample (counts scale by F, the ranking holds).
  Expire-after-access is the same renewal argument with gaps ``< T``: ``P(gap < T/F)`` at rate
  ``Fλ`` equals ``P(gap < T)`` at rate ``λ``. Repeats within one request (:func:`call_hits`)
  are not thinned (whole requests are kept) and happen at one instant, so the longer TTL leaves
  them alone. The result still reports the TTL ``T`` (``ttl_s``) it was asked for.

Vectorised: expire-after-write is a chain per key (each miss determines the next), computed for all
keys at once by binary lifting over a "next miss" pointer array (``O(n log n)``, no Python loop
over calls).

>>> import numpy as np
>>> t = np.array([0.0, 1000.0, 2000.0, 3500.0, 0.0, 500.0])
>>> k = np.array([7, 7, 7, 7, 8, -1])
>>> hits(t, k, ttl_s=3.0, max_entries=10).tolist()  # 7 stored at 0 s, fresh again at 3.5 s
[False, True, True, False, False, False]
>>> hits(t, k, ttl_s=3.0, max_entries=10, policy="access").tolist()
[False, True, True, True, False, False]
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

log = logging.getLogger(__name__)

Policy = Literal["write", "access"]

#: Default TTLs the ``cache`` operator tries, in seconds.
DEFAULT_TTLS_S: tuple[float, ...] = (30.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass(frozen=True)
class CacheReplay:
    """The outcome of replaying one operation's calls through a cache."""

    hits: np.ndarray  # (n,) bool, aligned with the input
    calls: int  # calls that could be cached (key >= 0, finite time)
    hit_rate: float  # hits / calls (0.0 when calls == 0)
    peak_entries: int  # most live entries at any time, without a capacity limit
    capacity_bound: bool  # True when max_entries < peak_entries (LFU admission used)
    ttl_s: float
    max_entries: int
    fraction: float = 1.0  # the share of requests the calls are a sample of (the TTL replayed: ttl_s / fraction)


def _check_fraction(fraction: float) -> float:
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return float(fraction)


def _sorted_valid(times_ms: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of cacheable calls sorted by (key, time), with their keys and times."""
    valid = np.flatnonzero((keys >= 0) & np.isfinite(times_ms))
    order = valid[np.lexsort((times_ms[valid], keys[valid]))]
    return order, keys[order], times_ms[order]


def _next_miss_pointer(s_keys: np.ndarray, s_times: np.ndarray, ttl_ms: float) -> np.ndarray:
    """For each sorted call i, the first call j of the same key with time >= t_i + ttl (m if none)."""
    m = s_keys.shape[0]
    group_end = np.searchsorted(s_keys, s_keys, side="right")
    fast = _next_by_offsets(s_keys, s_times, ttl_ms)
    if fast is not None:
        fast[fast >= group_end] = m
        return fast
    # Merge queries (key, t + ttl) into the events (key, t); a query sorts before an event with the
    # same key and time, so the events before a query are exactly those with time < t + ttl.
    all_keys = np.concatenate([s_keys, s_keys])
    all_times = np.concatenate([s_times, s_times + ttl_ms])
    kind = np.concatenate([np.ones(m, np.int8), np.zeros(m, np.int8)])  # 0 = query, sorts first
    order = np.lexsort((kind, all_times, all_keys))
    is_event = kind[order] == 1
    events_before = np.cumsum(is_event) - is_event  # events strictly before each position
    nxt = np.empty(m, dtype=np.int64)
    qpos = ~is_event
    nxt[order[qpos] - m] = events_before[qpos]
    # a pointer that left its key's group means "no further call of this key"
    nxt[nxt >= group_end] = m
    return nxt


def _next_by_offsets(s_keys: np.ndarray, s_times: np.ndarray, ttl_ms: float) -> np.ndarray | None:
    """The same pointers by one ``searchsorted``: times in integer microseconds, each key's calls
    shifted into a band of their own so the sorted (key, time) order is one increasing integer
    array. None when the bands would overflow int64 (the merge above is used then)."""
    if s_times.size == 0:
        return np.zeros(0, dtype=np.int64)
    t0 = float(s_times.min())
    us = np.round((s_times - t0) * 1000.0).astype(np.int64)
    ttl_us = round(ttl_ms * 1000.0)
    band = int(us.max()) + ttl_us + 1
    group = np.cumsum(np.r_[False, s_keys[1:] != s_keys[:-1]], dtype=np.int64)
    if (int(group[-1]) + 1) * band >= 2**62:
        return None
    comp = group * band + us
    return np.searchsorted(comp, comp + ttl_us, side="left").astype(np.int64)


def _write_misses(s_keys: np.ndarray, s_times: np.ndarray, ttl_ms: float) -> np.ndarray:
    """Miss mask (sorted order) for expire-after-write, by binary lifting along next-miss pointers."""
    m = s_keys.shape[0]
    if m == 0:
        return np.zeros(0, dtype=bool)
    nxt = np.append(_next_miss_pointer(s_keys, s_times, ttl_ms), m)  # m is a fixed point
    target = np.arange(m)
    root = np.searchsorted(s_keys, s_keys, side="left")  # each key's first call is always a miss
    longest = int(np.max(np.searchsorted(s_keys, s_keys, side="right") - root))
    levels = [nxt]
    while (1 << len(levels)) < longest + 1:
        levels.append(levels[-1][levels[-1]])
    # the chain of misses from the root is strictly increasing: greedily take the largest jumps
    # that stay <= target; the call is a miss iff the chain lands exactly on it
    cur = root.copy()
    for jump in reversed(levels):
        cand = jump[cur]
        cur = np.where(cand <= target, cand, cur)
    return cur == target


def _access_misses(s_keys: np.ndarray, s_times: np.ndarray, ttl_ms: float) -> np.ndarray:
    first = np.r_[True, s_keys[1:] != s_keys[:-1]]
    gap = np.diff(s_times, prepend=-np.inf)
    return first | (gap >= ttl_ms)


def _peak_overlap(starts: np.ndarray, ends: np.ndarray) -> int:
    """Most intervals ``[start, end)`` alive at once (the maximum is reached at some start)."""
    if starts.size == 0:
        return 0
    s, e = np.sort(starts), np.sort(ends)
    return int((np.searchsorted(s, s, side="right") - np.searchsorted(e, s, side="right")).max())


def _peak_live(s_keys: np.ndarray, s_times: np.ndarray, miss: np.ndarray, ttl_ms: float, policy: Policy) -> int:
    """Most live entries at once, without a capacity limit.

    Expire-after-write: each miss keeps an entry for ``[t, t + ttl)``. Expire-after-access: an
    entry lives from a miss until ``ttl`` after the last hit that follows it.
    """
    if miss.size == 0:
        return 0
    if policy == "write":
        t = s_times[miss]
        return _peak_overlap(t, t + ttl_ms)
    last_of_run = np.r_[miss[1:], True]  # the next call starts a new entry (or ends the key)
    return _peak_overlap(s_times[miss], s_times[last_of_run] + ttl_ms)


def replay(
    times_ms: np.ndarray,
    keys: np.ndarray,
    ttl_s: float,
    max_entries: int,
    *,
    policy: Policy = "write",
    fraction: float = 1.0,
) -> CacheReplay:
    """Replay calls (time in epoch ms, integer key code; -1 = no key) through a cache.

    Returns the hit mask and what a reader needs to trust it (see the module docstring for the
    exact semantics and the capacity approximation). ``fraction``: the share of requests the calls
    are a sample of (request sampling); below 1 the TTL replayed is ``ttl_s / fraction`` (module
    docstring, "A sample of the requests").
    """
    times = np.asarray(times_ms, dtype=np.float64)
    kcodes = np.asarray(keys, dtype=np.int64)
    if times.shape != kcodes.shape or times.ndim != 1:
        raise ValueError(f"times_ms and keys must be 1-d of equal length, got {times.shape} and {kcodes.shape}")
    if not ttl_s > 0 or max_entries < 0:
        raise ValueError(f"ttl_s must be > 0 and max_entries >= 0, got {ttl_s} and {max_entries}")
    fraction = _check_fraction(fraction)
    ttl_ms = float(ttl_s) * 1000.0 / fraction
    order, s_keys, s_times = _sorted_valid(times, kcodes)
    miss_fn = _write_misses if policy == "write" else _access_misses
    miss = miss_fn(s_keys, s_times, ttl_ms)
    peak = _peak_live(s_keys, s_times, miss, ttl_ms, policy)
    bound = peak > max_entries
    if bound:
        uniq, counts = np.unique(s_keys, return_counts=True)
        rank = np.lexsort((uniq, -counts))  # most requested first, ties by smaller key
        admitted = np.zeros(uniq.size, dtype=bool)
        admitted[rank[:max_entries]] = True
        miss = miss | ~admitted[np.searchsorted(uniq, s_keys)]
        log.debug("cache capacity %d below peak %d live entries: LFU admission", max_entries, peak)
    out = np.zeros(times.shape[0], dtype=bool)
    out[order] = ~miss
    calls = int(order.size)
    n_hits = int(out.sum())
    return CacheReplay(
        hits=out,
        calls=calls,
        hit_rate=n_hits / calls if calls else 0.0,
        peak_entries=peak,
        capacity_bound=bool(bound),
        ttl_s=float(ttl_s),
        max_entries=int(max_entries),
        fraction=fraction,
    )


@dataclass(frozen=True, eq=False)
class _MemoEntry:
    settings: tuple[float, int, str, float]  # ttl_s, max_entries, policy, fraction
    inputs_id: Hashable | None  # the caller's name for the inputs, or None: the arrays below are compared
    times: np.ndarray | None
    keys: np.ndarray | None
    result: CacheReplay
    nbytes: int

    def holds(self, settings: tuple[float, int, str, float], inputs_id: Hashable | None,
              times: np.ndarray, keys: np.ndarray) -> bool:
        if settings != self.settings or inputs_id != self.inputs_id:
            return False
        if inputs_id is not None:
            return True
        assert self.times is not None and self.keys is not None
        # NaN times are equal here: replay treats every one alike (never a hit, never stored)
        return bool(np.array_equal(self.keys, keys) and np.array_equal(self.times, times, equal_nan=True))


class ReplayMemo:
    """Replays already run, returned again for the same inputs: what :func:`replay` returns, without its
    sort and pointer walk of every call (``O(n log n)``) when nothing it reads changed.

    A search replays hundreds of candidate recipes, and a cache in front of an operation mostly sees
    the same calls at the same times in each (a candidate changing nothing upstream of it): on 20,000
    generated checkout requests, ``suggest`` replayed one cache 94 times on 6 distinct inputs.

    An entry is reused when the settings (``ttl_s``, ``max_entries``, ``policy``, ``fraction``) are
    equal and so are the inputs: either ``inputs_id`` (the caller's name for arrays that name alone
    determines, e.g. ``(profile, column)``; only the result is kept) or, without one, the arrays
    themselves (kept as copies and compared element by element on lookup, never by a hash). A name
    compares by ``==``, so one holding an object compared by identity (a
    :class:`~recipemut.profile.build.Profile`) never matches another object's entries; keep the
    memo no longer than the owner of the arrays (:class:`~recipemut.predict.simulate.ReplayBase`
    holds one per profile). At most ``size`` entries and ``max_bytes`` of arrays are kept, the
    least recently used dropped first (the newest entry always stays). Each call returns its own
    copy of the hit mask.

    >>> memo = ReplayMemo()
    >>> t, k = np.array([0.0, 1000.0, 5000.0]), np.array([7, 7, 7])
    >>> memo.replay(t, k, 3.0, 10).hits.tolist(), memo.replay(t, k, 3.0, 10).hits.tolist()
    ([False, True, False], [False, True, False])
    >>> memo.reused, memo.computed, len(memo)
    (1, 1, 1)
    >>> memo.replay(t, k, 6.0, 10).hits.tolist(), memo.computed  # another TTL: replayed
    ([False, True, True], 2)
    """

    def __init__(self, size: int = 16, max_bytes: int = 128 << 20) -> None:
        if size < 1 or max_bytes < 0:
            raise ValueError(f"size must be >= 1 and max_bytes >= 0, got {size} and {max_bytes}")
        self.size = size
        self.max_bytes = max_bytes
        self.reused = 0  # lookups answered from an entry
        self.computed = 0  # lookups that ran replay()
        self._entries: list[_MemoEntry] = []  # least recently used first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """Bytes of arrays held (inputs and hit masks)."""
        return sum(e.nbytes for e in self._entries)

    def replay(
        self,
        times_ms: np.ndarray,
        keys: np.ndarray,
        ttl_s: float,
        max_entries: int,
        *,
        policy: Policy = "write",
        fraction: float = 1.0,
        inputs_id: Hashable | None = None,
    ) -> CacheReplay:
        """:func:`replay` of these arguments, from an entry when one holds them (see the class)."""
        times = np.asarray(times_ms, dtype=np.float64)
        kcodes = np.asarray(keys, dtype=np.int64)
        settings = (ttl_s, max_entries, policy, fraction)
        with self._lock:
            for i, e in enumerate(self._entries):
                if e.holds(settings, inputs_id, times, kcodes):
                    self._entries.append(self._entries.pop(i))
                    self.reused += 1
                    return dataclasses.replace(e.result, hits=e.result.hits.copy())
        result = replay(times, kcodes, ttl_s, max_entries, policy=policy, fraction=fraction)
        kept = result.hits.copy()
        kept.flags.writeable = False
        t: np.ndarray | None = None
        k: np.ndarray | None = None
        if inputs_id is None:
            t, k = times.copy(), kcodes.copy()
            t.flags.writeable = k.flags.writeable = False
        nbytes = kept.nbytes + (0 if t is None or k is None else t.nbytes + k.nbytes)
        entry = _MemoEntry(settings, inputs_id, t, k, dataclasses.replace(result, hits=kept), nbytes)
        with self._lock:
            self.computed += 1
            self._entries.append(entry)
            while len(self._entries) > 1 and (
                len(self._entries) > self.size or self.nbytes > self.max_bytes
            ):
                self._entries.pop(0)
        return result


def hits(
    times_ms: np.ndarray,
    keys: np.ndarray,
    ttl_s: float,
    max_entries: int,
    *,
    policy: Policy = "write",
    fraction: float = 1.0,
) -> np.ndarray:
    """Boolean mask of the calls a cache (TTL ``ttl_s``, ``max_entries``) would have answered.

    ``times_ms``: call start times in epoch ms; ``keys``: integer key codes, ``-1`` for none;
    ``fraction``: the share of requests they are a sample of. See the module docstring for the
    exact semantics.
    """
    return replay(times_ms, keys, ttl_s, max_entries, policy=policy, fraction=fraction).hits


def nice_capacity(entries: int) -> int:
    """Round a capacity up to 1, 2 or 5 times a power of ten (at least 1).

    >>> [nice_capacity(n) for n in (0, 1, 3, 7, 12, 20001)]
    [1, 1, 5, 10, 20, 50000]
    """
    if entries <= 1:
        return 1
    exp = 10 ** math.floor(math.log10(entries))
    for m in (1, 2, 5, 10):
        if m * exp >= entries:
            return m * exp
    return 10 * exp  # pragma: no cover - the loop always returns


@dataclass(frozen=True)
class CacheChoice:
    """TTL and capacity chosen from the logs, with the replay that justifies them."""

    ttl_s: float
    max_entries: int
    replay: CacheReplay
    tried: tuple[tuple[float, float], ...]  # (ttl_s, hit rate) for every TTL tried


def choose(
    times_ms: np.ndarray,
    keys: np.ndarray,
    *,
    ttls_s: Sequence[float] = DEFAULT_TTLS_S,
    max_entries_cap: int = 100_000,
    good_enough: float = 0.9,
    min_hit_rate: float = 0.0,
    fraction: float = 1.0,
) -> CacheChoice | None:
    """Pick a TTL and a capacity for a cache from the recorded calls.

    Every TTL in ``ttls_s`` is replayed with capacity ``max_entries_cap``. The chosen TTL is the
    *shortest* one reaching ``good_enough`` (90%) of the best hit rate: a longer TTL serves staler
    answers for little gain. The capacity is the peak number of live entries at that TTL, with 25%
    headroom, rounded up by :func:`nice_capacity` and capped at ``max_entries_cap``; the returned
    replay is re-run with that capacity. ``None`` when there is no cacheable call, or when no cache
    could reach ``min_hit_rate`` (checked first against the bound ``1 - distinct keys / calls``).
    ``fraction`` < 1: the calls are a sample of that share of the requests, and every replay is
    corrected for it (module docstring); the peak of live entries it measures is then the full
    traffic's, so the capacity needs no scaling.
    """
    k = np.asarray(keys, dtype=np.int64)
    valid = k[(k >= 0) & np.isfinite(np.asarray(times_ms, dtype=np.float64))]
    if valid.size == 0 or 1.0 - np.unique(valid).size / valid.size < min_hit_rate:
        return None
    runs = [replay(times_ms, keys, t, max_entries_cap, fraction=fraction) for t in sorted(ttls_s)]
    if not runs:
        return None
    best = max(r.hit_rate for r in runs)
    pick = next(r for r in runs if r.hit_rate >= good_enough * best)
    cap = min(max_entries_cap, nice_capacity(math.ceil(pick.peak_entries * 1.25)))
    final = replay(times_ms, keys, pick.ttl_s, cap, fraction=fraction)
    return CacheChoice(
        ttl_s=pick.ttl_s,
        max_entries=cap,
        replay=final,
        tried=tuple((r.ttl_s, r.hit_rate) for r in runs),
    )


def call_hits(
    start_ms: np.ndarray,
    keys: np.ndarray,
    ttl_s: float,
    max_entries: int,
    *,
    policy: Policy = "write",
    fraction: float = 1.0,
) -> np.ndarray:
    """Hits of the calls of a fan-out operation: ``keys`` is (requests × calls), one recorded key
    per call (-1: no key, or no call), in recorded order; ``start_ms`` (requests,) the time the
    operation started in each request. A request's calls are taken at that time, one after
    another in column order, so a key repeated within one request is a hit from its second call
    (the first stored it), and keys repeated across requests follow the TTL as in :func:`hits`
    (``fraction``: the share of requests the rows are a sample of, as there).

    >>> k = np.array([[5, 6, 5, -1], [6, 7, -1, -1]])
    >>> call_hits(np.array([0.0, 1000.0]), k, ttl_s=60.0, max_entries=10).astype(int).tolist()
    [[0, 0, 1, 0], [1, 0, 0, 0]]
    """
    kc = np.asarray(keys, dtype=np.int64)
    if kc.ndim != 2 or kc.shape[0] != np.asarray(start_ms).shape[0]:
        raise ValueError(f"keys must be a (requests, calls) matrix matching start_ms, got {kc.shape}")
    times = np.broadcast_to(np.asarray(start_ms, dtype=np.float64)[:, None], kc.shape)
    return hits(times.ravel(), kc.ravel(), ttl_s, max_entries, policy=policy, fraction=fraction).reshape(kc.shape)
