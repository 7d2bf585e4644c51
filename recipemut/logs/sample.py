"""Request sampling at ingest: whole requests kept by a hash of ``request_id``, every request counted.

:func:`id_hash` is a 64-bit hash of each id's UTF-8 bytes (FNV-1a, then the splitmix64 finaliser),
computed with numpy over the arrow buffers: the same id hashes alike in every file, run and
machine, so the requests kept are the same in every file of a log and in every variant of a canary.
A request is kept when ``hash / 2**64 < fraction`` (:func:`keep_mask`).

:class:`Sampler` is what ingest hands each chunk of checked spans to: it drops the spans of other
recipes and unknown operations (counting them), records every request's first start and sample
rate in mergeable per-chunk partials (:class:`RequestCounts`: the rate series forecast uses counts
every request, sampled or not) and keeps the spans of the sampled requests. :class:`RequestSample`
is what the ingest report says of it.

Memory budget: :func:`estimated_memory` is what ingest and profile would hold for a set of files
(their content size times :data:`EXPANSION`, measured), :func:`memory_budget` the budget (a size,
``$RECIPEMUT_MEMORY_BUDGET``, or by default :data:`BUDGET_SHARE` of the available memory, at most
:data:`BUDGET_MAX`), and
:func:`auto_fraction` the fraction that fits the one in the other.

>>> h = id_hash(pa.array(["r-1", "r-2", "r-1"]))
>>> bool(h[0] == h[2]), bool(h[0] == h[1])
(True, False)
>>> parse_size("512M"), parse_size("2g"), parse_size("off"), parse_size("1000")
(536870912, 2147483648, 0, 1000)
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.errors import LogError
from recipemut.files.compressed import GZIP_RATIO, gzip_content_size, holes, packed_with, zstd_frame_content_size
from recipemut.files.read import os_error
from recipemut.logs.detect import detect_format
from recipemut.logs.lines import MAX_LINE_BYTES
from recipemut.logs.parquet import is_parquet_file, stored_bytes
from recipemut.logs.sources import HEAD_BYTES

#: ingest plus profile hold about this many bytes per byte of native JSONL content (measured: 1.4 GB
#: peak for the 527 MB benchmark log)
EXPANSION = 2.7
#: bytes held per span of a Parquet log (its rows times this; the same spans as JSONL take ~280 bytes)
PARQUET_ROW_BYTES = 760
#: ... or, when more, bytes held per uncompressed byte of its span columns (the footer's sizes): rows
#: of 40 KB request ids (8,000 rows, 320 MB) took 1.47 GB of peak RSS read whole, 3.9 times theirs
#: over what the process needs (:data:`PROCESS_BYTES`)
PARQUET_EXPANSION = 4
#: what a zstd log is taken to inflate to, times its size, when its frame does not say (span logs: 10 to 20)
ZSTD_RATIO = 15
#: the default budget: this share of the memory available when the command starts
BUDGET_SHARE = 0.5
#: ... and at most this much: a sampled suggest on 20 M spans (5.8 GB of JSONL) held 10.9 GiB under half
#: of this 24 GB machine's memory, and under 6 GB with this cap (benchmarks/README.md, "Big logs")
BUDGET_MAX = 4 << 30
BUDGET_ENV = "RECIPEMUT_MEMORY_BUDGET"
#: what a command needs before it reads any log (interpreter, numpy, pyarrow, pandas, scipy, statsmodels and
#: recipemut imported; measured peak RSS: profile of a one-line log 214 MiB, suggest of a 1,000-line log
#: 226 MiB): a memory budget below it cannot be kept, and the budget note says so
PROCESS_BYTES = 230 << 20
#: a log read in chunks (sampled) is read in chunks of this share of the memory budget ...
CHUNK_SHARE = 1 / 16
#: ... within these bounds: a chunk costs about 3.4 times its size while it is parsed (64 MiB chunks
#: added 300 MiB to the peak of a sampled read, 4 MiB chunks 22 MiB), and chunks under a few MiB slow
#: the read (2 M spans at a sample of 0.1: 3.3 s in 64 MiB chunks, 4.3 s in 4 MiB)
MIN_CHUNK_BYTES = 1 << 20
MAX_CHUNK_BYTES = 64 << 20

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_TWO53 = float(1 << 53)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def _splitmix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def id_hash(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The 64-bit hash (``uint64``) of each string: FNV-1a over its UTF-8 bytes, then splitmix64.

    Vectorised over positions, not rows: the ids are ordered by length (longest first) so that the
    ids still running at byte ``j`` are a prefix, and each step is one numpy gather over them.
    A null hashes as the empty string.
    """
    arr = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    n = len(arr)
    if n == 0:
        return np.zeros(0, np.uint64)
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    lens = np.diff(offsets)
    order = np.argsort(-lens, kind="stable")
    starts, lens_sorted = offsets[:-1][order], lens[order]
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    longest = int(lens_sorted[0])
    if longest:
        # running[j]: how many ids are longer than j bytes (a prefix of the sorted order)
        running = np.searchsorted(-lens_sorted, -np.arange(longest), side="left")
        with np.errstate(over="ignore"):
            for j in range(longest):
                k = int(running[j])
                h[:k] ^= data[starts[:k] + j]
                h[:k] *= _FNV_PRIME
    with np.errstate(over="ignore"):
        mixed = _splitmix(h)
    out = np.empty(n, np.uint64)
    out[order] = mixed
    return out


def row_hashes(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """:func:`id_hash` of every row, computed on the distinct ids only (dictionary-encoded)."""
    enc = pc.dictionary_encode(ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids)
    uniq = id_hash(enc.dictionary)
    n_uniq = len(uniq)
    table = np.append(uniq, id_hash(pa.array([""])))  # a null row hashes as the empty string
    idx = enc.indices.fill_null(n_uniq) if enc.indices.null_count else enc.indices
    return table[np.asarray(idx.to_numpy(zero_copy_only=False), dtype=np.int64)]


def keep_mask(hashes: np.ndarray, fraction: float) -> np.ndarray:
    """Which hashes fall in the sample: the top 53 bits, as a share of 2**53, below ``fraction``.

    >>> keep_mask(np.array([0, 2**63, 2**64 - 1], dtype=np.uint64), 0.5).tolist()
    [True, False, False]
    """
    if fraction >= 1.0:
        return np.ones(hashes.shape, bool)
    return (hashes >> np.uint64(11)).astype(np.float64) < fraction * _TWO53


# ---- the memory budget ------------------------------------------------------------------------


def parse_size(text: str | int | None) -> int | None:
    """A size in bytes from ``"512M"``, ``"2G"``, ``"1.5GiB"``, ``"1000"``; ``"off"`` or ``0`` is 0 (no
    budget); ``None``/``""`` is None (the default). Raises ``ValueError`` on anything else."""
    if text is None or text == "":
        return None
    if isinstance(text, int):
        return max(text, 0)
    if text.strip().lower() in {"off", "none", "0"}:
        return 0
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a size (e.g. 512M, 2G, off)")
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    size = int(float(m.group(1)) * scale)
    if size == 0 and float(m.group(1)) > 0:  # 0.9 was 0 bytes, "off", while 1 and 1.9 were one byte
        raise ValueError(f"{text!r} is under one byte, not a size (e.g. 512M, 2G; off for no limit)")
    return size


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable`` of ``/proc/meminfo``, else free pages)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return 8 << 30


def memory_budget(given: str | int | None = None) -> int:
    """The budget in bytes: ``given`` (``--memory-budget``), else ``$RECIPEMUT_MEMORY_BUDGET``, else
    :data:`BUDGET_SHARE` of the available memory, at most :data:`BUDGET_MAX`. 0 means no budget (never
    sample automatically)."""
    for value, where in ((given, "--memory-budget"), (os.environ.get(BUDGET_ENV), BUDGET_ENV)):
        try:
            size = parse_size(value)
        except ValueError as e:
            raise LogError(f"{where}: {e}", code="bad-memory-budget") from None
        if size is not None:
            return size
    return min(int(available_memory() * BUDGET_SHARE), BUDGET_MAX)


def stream_content_size(f: IO[bytes], kind: str, size: int) -> int:
    """The content size of a ``kind`` (``gzip`` or ``zstd``) file of ``size`` bytes open as ``f``, by one
    small read (a ranged read through fsspec for object storage): a gzip file's trailer
    (:func:`~recipemut.files.compressed.gzip_content_size`), a zstd file's first frame header when it
    states the size and that is not below ``size`` (else, a streamed frame or several,
    :data:`ZSTD_RATIO` times ``size``)."""
    if kind == "gzip":  # ten bytes: a file cut just after a member's header ends in that header, not a trailer
        f.seek(max(size - 10, 0))
        return gzip_content_size(f.read(10), size)
    f.seek(0)
    stated = zstd_frame_content_size(f.read(18))
    return stated if stated is not None and stated >= size else size * ZSTD_RATIO


def content_size(path: Path, kind: str, size: int, *, native: bool = True) -> int:
    """The bytes of content a log of ``size`` bytes on disk holds: ``size`` for a plain file (less its
    long holes, :func:`read_size`, when it is ``native`` JSONL: only the native reader skips them),
    the trailer's or frame header's figure for gzip and zstd (``kind``, as
    :func:`~recipemut.files.compressed.packed_with` names it), as :func:`estimated_memory` counts it."""
    if kind not in ("gzip", "zstd"):
        return read_size(path, size) if native else size
    try:
        with open(path, "rb") as f:
            return stream_content_size(f, kind, size)
    except OSError:
        return int(size * (GZIP_RATIO if kind == "gzip" else ZSTD_RATIO))


def budget_origin(given: str | int | None = None) -> str:
    """Where :func:`memory_budget` took the budget from, in words a note can give: the option, the
    environment variable, or the default (and how to change it)."""
    if given is not None and given != "":
        return f"--memory-budget {given}"
    if os.environ.get(BUDGET_ENV):
        return f"${BUDGET_ENV}={os.environ[BUDGET_ENV]}"
    return (
        f"the default: half the available memory, at most {human_bytes(BUDGET_MAX)}; "
        "--memory-budget SIZE sets another, off none"
    )


def over_budget(estimate: int, limit: int, given: str | int | None = None) -> str:
    """Why logs are sampled automatically: their estimate, the budget and where it came from
    (:func:`budget_origin`), and how to read every request instead; and, for a budget under what the
    process needs anyway, that it cannot be kept (:func:`budget_floor`)."""
    floor = budget_floor(limit)
    return (
        f"the logs would take about {human_bytes(estimate)} in memory, over the budget of {human_bytes(limit)} "
        f"({budget_origin(given)}; --sample-requests 1 reads every request)"
    ) + (f"; {floor}" if floor else "")


def budget_floor(limit: int) -> str:
    """What a note says of a budget of ``limit`` bytes under :data:`PROCESS_BYTES` (the process needs
    more before it reads any log), else ``""``.

    >>> budget_floor(50 << 20)
    'a budget under ~230 MiB cannot be kept: the process needs about 230 MiB before any log'
    >>> budget_floor(0), budget_floor(1 << 30)
    ('', '')
    """
    if not 0 < limit < PROCESS_BYTES:
        return ""
    need = human_bytes(PROCESS_BYTES)
    return f"a budget under ~{need} cannot be kept: the process needs about {need} before any log"


def floor_note(budget: str | int | None, sampled_by: str) -> str:
    """The note every engine gives of a memory budget (``budget`` as :func:`memory_budget` takes it)
    under :data:`PROCESS_BYTES`: its size, where it came from and :func:`budget_floor`; ``""`` when it
    is not under it, or when ``sampled_by`` (why the logs were sampled: the budget's own note) says it
    already, so that it is said once.

    >>> floor_note("50M", "")
    'memory budget of 50 MiB (--memory-budget 50M): a budget under ~230 MiB cannot be kept: the process \
needs about 230 MiB before any log'
    >>> floor_note("50M", over_budget(1 << 30, 50 << 20, "50M")), floor_note("1G", ""), floor_note("off", "")
    ('', '', '')
    """
    limit = memory_budget(budget)
    floor = budget_floor(limit)
    if not floor or floor in sampled_by:
        return ""
    return f"memory budget of {human_bytes(limit)} ({budget_origin(budget)}): {floor}"


def chunk_bytes_for(limit: int) -> int:
    """The bytes of content a log read in chunks is read in under a memory budget of ``limit`` bytes
    (0: none): :data:`CHUNK_SHARE` of it, within :data:`MIN_CHUNK_BYTES` and :data:`MAX_CHUNK_BYTES`.

    >>> [chunk_bytes_for(b) >> 20 for b in (0, 10 << 20, 50 << 20, 512 << 20, 4 << 30)]
    [64, 1, 3, 32, 64]
    """
    if limit <= 0:
        return MAX_CHUNK_BYTES
    return int(min(MAX_CHUNK_BYTES, max(MIN_CHUNK_BYTES, limit * CHUNK_SHARE)))


def reading_stage(fraction: float | None, sampled_by: str = "") -> str:
    """The progress stage of reading logs, saying while it runs (not only in the note at the end) that
    a sample is taken and why.

    >>> reading_stage(None), reading_stage(0.27, "the logs would take about 14.6 GiB ...")
    ('reading logs', 'reading logs (a sample of 0.27 of requests: over the memory budget)')
    """
    if fraction is None:
        return "reading logs"
    why = "--sample-requests" if sampled_by.startswith("--sample-requests") else "over the memory budget"
    return f"reading logs (a sample of {fraction:.4g} of requests: {why})"


def read_size(path: Path, size: int) -> int:
    """The bytes of a plain file of ``size`` bytes that a reader would hold: ``size``, less the holes of
    a sparse file (a crash's or ``truncate -s 20G``'s NUL tail) of :data:`.lines.MAX_LINE_BYTES` or
    more. Such a hole is inside a line longer than that, which the native reader rejects unread
    (:class:`.lines.Snapshot` skips holes with ``SEEK_DATA``): counted, its apparent size made a log of
    3,000 lines and a 20 GB hole (900 KB on disk) sampled automatically to 7.4%. Native JSONL only: the
    readers of trace documents refuse such a hole (:class:`~recipemut.files.compressed.SparseHole`),
    so :func:`estimated_memory` counts their files whole. Shorter holes count
    (a line of NULs under the limit is read). Only a file with fewer bytes allocated than its size
    (``st_blocks * 512``) is walked, by ``SEEK_DATA``/``SEEK_HOLE``: its allocated bytes alone would
    undercount a log on a compressing file system (btrfs, ZFS), which holds it in fewer blocks."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return size
    try:
        return size - sum(n for _, n in holes(fd, size) if n >= MAX_LINE_BYTES)  # past the walk's cap: counted
    except OSError:
        return size
    finally:
        os.close(fd)


def estimated_memory(
    paths: Sequence[Path], kinds: Mapping[Path, str], formats: Mapping[Path, str] | None = None
) -> int:
    """What reading and profiling ``paths`` would hold in memory (bytes): each file's content size
    (decompressed for gzip and zstd) times :data:`EXPANSION`, or a Parquet file's
    :func:`parquet_memory` (by its rows, or by its uncompressed bytes when its rows are wide).
    ``kinds`` says which files are ``"gzip"``, ``"zstd"`` or ``"parquet"``; ``formats`` which are
    ``"native"`` JSONL (:func:`plain_format`): only theirs have long holes left out (:func:`read_size`)."""
    formats = formats or {}
    total = 0.0
    for p in paths:
        try:
            size = p.stat().st_size
        except OSError:
            continue
        kind = kinds.get(p, "")
        if kind == "parquet":
            import pyarrow.parquet as pq

            try:
                total += parquet_memory(pq.ParquetFile(p).metadata)
            except (OSError, pa.ArrowException):
                total += size * EXPANSION
        else:
            total += content_size(p, kind, size, native=formats.get(p) == "native") * EXPANSION
    return int(total)


def plain_format(path: Path, log_format: str = "auto") -> str:
    """The format a plain log is read in, as :func:`estimated_memory` needs it: ``log_format`` when
    given, else what :func:`~recipemut.logs.detect.detect_format` tells from its first bytes."""
    if log_format != "auto":
        return log_format
    with open(path, "rb") as f:
        return detect_format(f.read(HEAD_BYTES))


def parquet_memory(meta: Any, groups: range | None = None) -> int:
    """What reading and profiling a Parquet file of footer ``meta`` (only its row groups ``groups``,
    when given: a partition) would hold (bytes): its rows times :data:`PARQUET_ROW_BYTES`, or its span
    columns' uncompressed bytes (:func:`~recipemut.logs.parquet.stored_bytes`) times
    :data:`PARQUET_EXPANSION` when more (wide rows)."""
    if groups is None:
        return max(int(meta.num_rows) * PARQUET_ROW_BYTES, stored_bytes(meta) * PARQUET_EXPANSION)
    rows = sum(int(meta.row_group(g).num_rows) for g in groups)
    return max(rows * PARQUET_ROW_BYTES, stored_bytes(meta, groups) * PARQUET_EXPANSION)


def auto_fraction(estimate: int, budget: int) -> float | None:
    """The fraction of requests that fits ``estimate`` under ``budget`` (two significant digits,
    rounded down), or None when it fits whole or there is no budget.

    >>> auto_fraction(10_000, 2_500), auto_fraction(1_000, 2_000), auto_fraction(10_000, 0)
    (0.25, None, None)
    """
    if budget <= 0 or estimate <= budget:
        return None
    f = budget / estimate
    digits = 1 - math.floor(math.log10(f))
    return max(math.floor(f * 10**digits) / 10**digits, 1e-6)


def sample_fraction(
    sample_requests: float | None, budget: str | int | None, estimate: Callable[[], int]
) -> tuple[float | None, str]:
    """The share of requests to keep and why, as every reader of logs decides it: ``sample_requests``
    (``--sample-requests``, checked to be in (0, 1]; 1 keeps every request), else the fraction that
    fits ``estimate()`` (bytes, asked only when there is a budget) under :func:`memory_budget`
    ``(budget)`` with :func:`over_budget`'s sentence, else ``(None, "")``: every request kept.

    >>> sample_fraction(0.25, None, lambda: 0), sample_fraction(1, None, lambda: 0)
    ((0.25, '--sample-requests 0.25'), (None, ''))
    >>> sample_fraction(None, "off", lambda: 1 << 40)
    (None, '')
    """
    if sample_requests is not None:
        if not (0 < sample_requests <= 1):
            raise LogError(f"--sample-requests {sample_requests!r} is outside (0, 1]", code="bad-sample-fraction")
        if sample_requests >= 1:
            return None, ""
        return float(sample_requests), f"--sample-requests {sample_requests:g}"
    limit = memory_budget(budget)
    if limit <= 0:
        return None, ""
    size = estimate()
    fraction = auto_fraction(size, limit)
    if fraction is None:
        return None, ""
    return fraction, over_budget(size, limit, budget)


def sampler_for(
    files: Sequence[Path],
    sample_requests: float | None,
    budget: str | int | None,
    *,
    recipe: Any = None,
    fill_rate: float = 1.0,
    log_format: str = "auto",
) -> tuple[Sampler | None, str]:
    """The :class:`Sampler` of ``--sample-requests``, or of the memory budget when ``files`` (on disk:
    standard input as its copy, read in ``log_format``) would not fit in it (:func:`estimated_memory`), with the reason
    said; or ``(None, "")``: every request kept (:func:`sample_fraction` decides). The sampler reads
    in chunks of :func:`chunk_bytes_for` the budget (:attr:`Sampler.chunk_bytes`), whatever chose it."""

    def estimate() -> int:
        on_disk = [p for p in files if p.is_file()]
        kinds: dict[Path, str] = {}
        formats: dict[Path, str] = {}
        for p in on_disk:  # files, not spans; an unreadable one is said as its reader says it
            try:
                kinds[p] = "parquet" if is_parquet_file(p) else packed_with(p)
                if not kinds[p]:
                    formats[p] = plain_format(p, log_format)
            except OSError as e:
                raise os_error(e, str(p), what="log") from None
        return estimated_memory(on_disk, kinds, formats)

    fraction, why = sample_fraction(sample_requests, budget, estimate)
    if fraction is None:
        return None, ""
    chunk = chunk_bytes_for(memory_budget(budget))
    return Sampler(fraction, recipe=recipe, fill_rate=fill_rate, chunk_bytes=chunk), why


def human_bytes(n: float) -> str:
    """``1.5 GiB``, ``512 MiB``, ``900 B``."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


# ---- what is counted and kept -------------------------------------------------------------------


class RequestCounts:
    """Every request's first start and sample rate, keyed by its id hash, as mergeable partials.

    :meth:`add` takes one chunk's spans; :meth:`merged` reduces all partials to one row per
    request. Partials of other chunks, files or workers merge the same way (min of the start, the
    first rate in order), which is what an engine computing them per partition would hand back.
    """

    def __init__(self) -> None:
        self.parts: list[pa.Table] = []

    @staticmethod
    def partial(hashes: np.ndarray, start_ms: np.ndarray, rate: np.ndarray) -> pa.Table:
        t = pa.table({"h": pa.array(hashes, pa.uint64()), "start": start_ms, "rate": rate})
        return _reduce(t)

    def add(self, hashes: np.ndarray, start_ms: np.ndarray, rate: np.ndarray) -> None:
        self.merge(self.partial(hashes, start_ms, rate))

    def merge(self, part: pa.Table) -> None:
        self.parts.append(part)
        if len(self.parts) >= 16:  # keep the partials compact: one row per request per few chunks
            self.parts = [_reduce(pa.concat_tables(self.parts))]

    def merged(self) -> pa.Table:
        if not self.parts:
            return pa.table({"h": pa.array([], pa.uint64()), "start": pa.array([], pa.float64()),
                             "rate": pa.array([], pa.float64())})  # fmt: skip
        return _reduce(pa.concat_tables(self.parts))


def _reduce(t: pa.Table) -> pa.Table:
    g = t.group_by("h", use_threads=False).aggregate([("start", "min"), ("rate", "first")])
    return g.rename_columns({"start_min": "start", "rate_first": "rate"}).select(["h", "start", "rate"])


@dataclass(frozen=True, eq=False)
class RequestSample:
    """What the ingest report says of a sample: the fraction, how many requests were kept of how
    many, why (``--sample-requests``, or the memory budget), and every request's first start and
    sample rate (``start_ms``, ``rates``: what forecast's rate series counts, sampled or not)."""

    fraction: float
    requests_total: int
    requests_kept: int
    automatic: bool = False
    reason: str = "--sample-requests"
    start_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rates: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def head(self) -> str:
        """What was sampled and why: the note (:meth:`summary`) before what that means."""
        how = "automatically, " + self.reason if self.automatic else self.reason
        kept = f"{self.requests_kept:,} of {self.requests_total:,} kept"
        return f"sampled {self.fraction:.4g} of requests by request_id ({kept}; {how})"

    def summary(self, *, written: bool = False) -> str:
        """The note: what was sampled and why (:meth:`head`); then what it means for the figures, or,
        ``written`` (``convert``), for the file: only the sample is in it, each span standing for 1/F requests."""
        means = (
            f"only the sample is written, each span's sample_rate multiplied by {self.fraction:.4g} "
            f"(profile and forecast of the file count each request as {1 / self.fraction:.3g})"
            if written
            else "figures are computed on the sample, the request rate counts every request"
        )
        return f"{self.head()}; {means}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "fraction": self.fraction,
            "requests_total": self.requests_total,
            "requests_kept": self.requests_kept,
            "automatic": self.automatic,
            "reason": self.reason,
        }


class Sampler:
    """Hands each chunk of checked spans through: recipe filter, request counts, sample."""

    def __init__(
        self, fraction: float, *, recipe: Any = None, fill_rate: float = 1.0, chunk_bytes: int = MAX_CHUNK_BYTES
    ) -> None:
        if not (0.0 < fraction <= 1.0):
            raise LogError(f"--sample-requests {fraction!r} is outside (0, 1]", code="bad-sample-fraction")
        self.fraction = float(fraction)
        self.chunk_bytes = chunk_bytes  # bytes of content a log is read in, each chunk sampled before the next
        self.recipe = recipe
        self.fill_rate = float(fill_rate)
        self.counts = RequestCounts()
        self.other: dict[str, int] = {}
        self.unknown: dict[str, int] = {}
        self._ops = pa.array(sorted(recipe.ops), pa.large_string()) if recipe is not None else None

    def take(self, table: pa.Table, lines: np.ndarray) -> tuple[pa.Table, np.ndarray]:
        """The spans of ``table`` (checked rows, :data:`~recipemut.logs.spans.PARSE_SCHEMA`) of sampled
        requests, with their line numbers; spans of other recipes and unknown operations dropped."""
        if table.num_rows == 0:
            return table, lines
        if self.recipe is not None:
            table, lines = self._recipe_spans(table, lines)
            if table.num_rows == 0:
                return table, lines
        h = row_hashes(table.column("request_id"))
        start = np.asarray(table.column("start_ms").to_numpy(), dtype=np.float64)
        rate_col = pc.fill_null(table.column("sample_rate"), self.fill_rate)
        self.counts.add(h, start, np.asarray(rate_col.to_numpy(), dtype=np.float64))
        keep = keep_mask(h, self.fraction)
        if keep.all():
            return table, lines
        return table.filter(pa.array(keep)), lines[keep]

    def _recipe_spans(self, table: pa.Table, lines: np.ndarray) -> tuple[pa.Table, np.ndarray]:
        rcol = table.column("recipe")
        foreign = pc.fill_null(pc.not_equal(rcol, self.recipe.name), False)
        known = pc.and_(pc.invert(foreign), pc.is_in(table.column("op"), value_set=self._ops))
        if pc.all(known).as_py():
            return table, lines
        _add_counts(self.other, rcol.filter(foreign))
        _add_counts(self.unknown, table.column("op").filter(pc.and_(pc.invert(foreign), pc.invert(known))))
        mask = np.asarray(known.to_numpy(zero_copy_only=False), dtype=bool)
        return table.filter(known), lines[mask]

    def result(
        self, requests_kept: int, *, automatic: bool = False, reason: str = "--sample-requests"
    ) -> RequestSample:
        m = self.counts.merged()
        return RequestSample(
            fraction=self.fraction,
            requests_total=m.num_rows,
            requests_kept=requests_kept,
            automatic=automatic,
            reason=reason,
            start_ms=np.asarray(m.column("start").to_numpy(), dtype=np.float64),
            rates=np.asarray(m.column("rate").to_numpy(), dtype=np.float64),
        )


def _add_counts(into: dict[str, int], values: pa.Array | pa.ChunkedArray) -> None:
    vc = pc.value_counts(values)
    for v, c in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True):
        if v is not None:
            into[str(v)] = into.get(str(v), 0) + int(c)


__all__ = [
    "BUDGET_ENV",
    "CHUNK_SHARE",
    "EXPANSION",
    "MAX_CHUNK_BYTES",
    "MIN_CHUNK_BYTES",
    "PARQUET_EXPANSION",
    "PARQUET_ROW_BYTES",
    "PROCESS_BYTES",
    "RequestCounts",
    "RequestSample",
    "Sampler",
    "auto_fraction",
    "budget_floor",
    "budget_origin",
    "chunk_bytes_for",
    "content_size",
    "estimated_memory",
    "floor_note",
    "human_bytes",
    "id_hash",
    "keep_mask",
    "memory_budget",
    "over_budget",
    "parquet_memory",
    "parse_size",
    "plain_format",
    "read_size",
    "reading_stage",
    "row_hashes",
    "sample_fraction",
    "sampler_for",
]
