"""Where the lines of a log's bytes are, and how deeply each is nested: numpy scans, no Python loop per line.

:func:`index_lines` finds every line's bytes (and which lines are blank, and which are not shaped
``{...}``); :func:`too_deep` finds the lines nested deeper than :data:`MAX_JSON_DEPTH` before any
JSON parser sees them (parsers recurse: pyarrow's crashed the process on a line 20,000 deep), with
:func:`line_depths`, a bracket count that skips brackets inside strings.
"""

from __future__ import annotations

import errno
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from recipemut.errors import InputFileError, os_reason

#: a native line nested deeper than this (objects and arrays) is rejected unread: JSON parsers recurse
MAX_JSON_DEPTH = 512
#: a native line longer than this (bytes, its line end left out) is rejected unread: its bytes are never
#: held in memory nor handed to a parser (a crash's NUL-filled tail, a sparse file of 20 GB, is one line)
MAX_LINE_BYTES = 64 << 20
_READ_BLOCK = 16 << 20  # bytes per read of a plain log
_PROBE = 64 << 10  # bytes per read of the long-line scan, which looks for a block's first and last line end
_DEPTH_WINDOW = 1 << 22  # bytes per step of the nesting scan
_SCAN_CHUNK = 1 << 20  # bytes: a chunk and its mask stay in the CPU cache
_SPACES_MAX = 256  # bytes: a longer line of whitespace only is indexed (the reader strips it, one by one)
_NONE = np.zeros(0, np.int64)  # the line numbers of a full index (every line: not kept)

#: told a scan chunk's entries (the buffer, starts, ends, 1-based numbers, odd), says which to leave out
Sift = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Lines:
    """Byte layout of the lines of a buffer (numpy; one entry per line, or per non-blank line when
    :func:`index_lines` was told ``blank=False``: then ``numbers`` says which lines they are)."""

    starts: np.ndarray  # int64 first byte
    ends: np.ndarray  # int64 end of content (before "\r\n" / "\n")
    nexts: np.ndarray  # int64 first byte of the next line (or buffer end)
    blank: np.ndarray  # bool: empty (after one trailing \r)
    odd: np.ndarray  # bool: non-blank but not of the shape "{...}"
    deep: np.ndarray | None = None  # bool: nested deeper than MAX_JSON_DEPTH (odd too; never parsed)
    numbers: np.ndarray | None = None  # int64 1-based line number of each entry (None: entry i is line i + 1)
    total: int = -1  # lines in the buffer, blank ones included (-1: as many as entries)
    left_out: int = 0  # non-blank lines a ``sift`` took (not indexed): the buffer's are len(self) + left_out
    gaps: np.ndarray | None = None  # bool: lines were left out just before this entry (None: none left out)

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    @property
    def line_numbers(self) -> np.ndarray:
        """The 1-based line number of each entry."""
        if self.numbers is None:
            return np.arange(1, len(self) + 1, dtype=np.int64)
        return self.numbers

    @property
    def n_lines(self) -> int:
        """Lines in the buffer, blank ones included."""
        return len(self) if self.total < 0 else self.total

    def head(self, k: int) -> Lines:
        """The first ``k`` entries (the line count becomes the last one's number) of an index that left
        no line out (one that did has no "first lines" to give)."""
        if self.left_out:  # pragma: no cover - a bug, not a user error
            raise AssertionError("the head of an index that left lines out")
        nums = self.line_numbers[:k]
        return Lines(
            self.starts[:k],
            self.ends[:k],
            self.nexts[:k],
            self.blank[:k],
            self.odd[:k],
            None if self.deep is None else self.deep[:k],
            nums,
            int(nums[-1]) if k else 0,
        )


def index_lines(a: np.ndarray, *, blank: bool = True, stop_after: int | None = None, sift: Sift | None = None) -> Lines:
    """Lines of a uint8 buffer, found with a chunked numpy scan for ``\\n``.

    The chunks are small enough to stay in the CPU cache, and the bytes around each newline (the
    last one or two of a line, the first of the next) are picked up while their chunk is hot:
    gathering them afterwards would be a cache miss per line.

    ``blank=False`` keeps entries for the non-blank lines only (with their ``numbers``; ``total``
    counts every line): a buffer of 64 M empty lines then costs a chunk's worth of memory, not
    gigabytes. A line of whitespace only (up to 256 bytes) is blank there too: the reader counts it so.
    ``stop_after``: stop at the end of the chunk in which that many entries were found
    (``total`` is then the lines up to there).

    ``sift`` (with ``blank=False``) is told each chunk's non-blank entries while the chunk is hot and
    returns the mask of those it takes (it counts them; the reader: lines whose rejection numpy can
    decide): those are left out of the index, counted in ``left_out``, and the entry after them is
    marked in ``gaps``. A buffer of 50 MiB of junk lines then costs a chunk's worth of entries.

    A line holding a CR that does not end it is odd too: arrow's JSON reader ends lines at a lone
    CR as well, so to it that line is several (and one of them may open a parse block).

    >>> L = index_lines(np.frombuffer(b'{"a":1}\\r\\n\\n x\\n{}', dtype=np.uint8))
    >>> L.starts.tolist(), L.ends.tolist(), L.blank.tolist(), L.odd.tolist()
    ([0, 9, 10, 13], [7, 9, 12, 15], [False, True, False, False], [False, False, True, False])
    >>> L = index_lines(np.frombuffer(b'{"a":1}\\r\\n\\n x\\n{}', dtype=np.uint8), blank=False)
    >>> L.starts.tolist(), L.numbers.tolist(), L.odd.tolist(), L.total
    ([0, 10, 13], [1, 3, 4], [False, True, False], 4)
    """
    n = int(a.shape[0])
    parts: list[tuple[np.ndarray, ...]] = []
    found = 0
    line0 = 0  # lines ended before the chunk
    prev = -1  # the last newline before the chunk
    open_cr = False  # the line still open at the chunk's end holds a lone CR
    carry, left_out = False, 0  # lines a sift took after the last entry so far; taken in all
    for off in range(0, n, _SCAN_CHUNK):
        chunk = a[off : off + _SCAN_CHUNK]
        nl = chunk == 10
        if not blank and prev == off - 1 and chunk[-1] == 10 and np.count_nonzero(nl) == chunk.size:  # empty lines
            line0 += int(chunk.size)
            prev, open_cr = off + int(chunk.size) - 1, False
            continue
        g = np.flatnonzero(nl)
        crs = np.flatnonzero(chunk == 13)
        if crs.size:  # a CR not followed by a newline (nor the buffer's last byte) is a lone one
            crs += off
            crs = crs[(crs < n - 1) & (a[np.minimum(crs + 1, n - 1)] != 10)]
        if g.size == 0:
            open_cr = open_cr or bool(crs.size)
            continue
        g = g.astype(np.int64, copy=False) + off
        starts = np.empty(g.size, np.int64)
        starts[0] = prev + 1
        starts[1:] = g[:-1] + 1
        lone = np.zeros(g.size, bool)
        lone[0] = open_cr
        if crs.size:
            at = np.searchsorted(g, crs)
            lone[at[at < g.size]] = True
            open_cr = bool((at == g.size).any())
        else:
            open_cr = False
        parts.append(_entries(a, starts, g, np.minimum(g + 1, n), lone, line0, keep_blank=blank))
        if sift is not None:
            parts[-1], carry, taken = _sifted(a, parts[-1], sift, carry)
            left_out += taken
        found += parts[-1][0].size
        line0 += int(g.size)
        prev = int(g[-1])
        if stop_after is not None and found >= stop_after:
            n = prev + 1  # the rest is not looked at
            break
    if prev + 1 < n:  # the last line, not ended by a newline
        end = np.array([n], np.int64)
        parts.append(
            _entries(a, np.array([prev + 1], np.int64), end, end, np.array([open_cr]), line0, keep_blank=blank)
        )
        if sift is not None:
            parts[-1], carry, taken = _sifted(a, parts[-1], sift, carry)
            left_out += taken
        line0 += 1
    if not parts:
        z, zb = np.zeros(0, np.int64), np.zeros(0, bool)
        return Lines(z, z, z, zb, zb) if blank else Lines(z, z, z, zb, zb, numbers=z, total=line0)
    cols = [np.concatenate(c) if len(parts) > 1 else c[0] for c in zip(*parts, strict=True)]
    if blank:
        return Lines(cols[0], cols[1], cols[2], cols[3], cols[4])
    starts, ends, nexts, blanks, odd, numbers, *gaps = cols
    if not left_out:
        return Lines(starts, ends, nexts, blanks, odd, None, numbers, line0)
    return Lines(starts, ends, nexts, blanks, odd, None, numbers, line0, left_out, gaps[0])


def _sifted(
    a: np.ndarray, entries: tuple[np.ndarray, ...], sift: Sift, carry: bool
) -> tuple[tuple[np.ndarray, ...], bool, int]:
    """A chunk's non-blank ``entries`` less those ``sift`` takes, with one more column: whether lines
    were left out just before each entry (``carry``: some were, after the previous chunk's last
    entry). Returns them, the new ``carry`` and how many were taken."""
    starts, _, _, _, odd, numbers = entries
    taken = sift(a, starts, entries[1], numbers, odd) if odd.any() else None
    if taken is None or not taken.any():
        gaps = np.zeros(starts.size, bool)
        if gaps.size:
            gaps[0], carry = carry, False
        return (*entries, gaps), carry, 0
    before = np.cumsum(taken)  # entries taken at or before each one
    keep = np.flatnonzero(~taken)
    upto = before[keep]
    gaps = np.diff(upto, prepend=0) > 0
    if keep.size:
        gaps[0] |= carry
        carry = bool(before[-1] > upto[-1])
    else:
        carry = True
    return (*(x[keep] for x in entries), gaps), carry, int(before[-1])


def _entries(
    a: np.ndarray,
    starts: np.ndarray,
    raw_ends: np.ndarray,
    nexts: np.ndarray,
    lone: np.ndarray,
    line0: int,
    *,
    keep_blank: bool,
) -> tuple[np.ndarray, ...]:
    """The index entries of the lines ``starts``..``raw_ends`` (line ends, CR not yet taken off) of
    ``a``: starts, ends, nexts, blank, odd and 1-based numbers, blank lines left out unless ``keep_blank``."""
    n = int(a.shape[0])
    length = raw_ends - starts
    blank = length == 0
    one = np.flatnonzero(length == 1)
    if one.size:  # a lone CR before the newline: blank too
        blank[one] = a[starts[one]] == 13
    numbers = _NONE
    if not keep_blank:
        blank |= _spaces_only(a, starts, length, blank)
        keep = np.flatnonzero(~blank)
        numbers = keep + (line0 + 1)
        if keep.size < starts.size:
            starts, raw_ends, nexts, lone, blank = (x[keep] for x in (starts, raw_ends, nexts, lone, blank))
    b1 = a[np.maximum(raw_ends - 1, 0)]
    cr = (raw_ends > starts) & (b1 == 13)
    ends = raw_ends - cr
    last = np.where(cr, a[np.maximum(raw_ends - 2, 0)], b1)
    first = a[np.minimum(starts, max(n - 1, 0))]
    odd = ~blank & (lone | (first != 0x7B) | (last != 0x7D))
    return starts, ends, nexts, blank, odd, numbers


def _is_space(x: np.ndarray) -> np.ndarray:
    """Which bytes ``bytes.strip()`` takes off (space, tab, CR, LF, VT, FF)."""
    return (x == 32) | ((x >= 9) & (x <= 13))


def _spaces_only(a: np.ndarray, starts: np.ndarray, length: np.ndarray, blank: np.ndarray) -> np.ndarray:
    """Which lines (not ``blank``, at most :data:`_SPACES_MAX` bytes) hold whitespace only: the reader
    counts them as blank lines. Only lines opening with whitespace are looked at, byte by byte."""
    out = np.zeros(starts.size, bool)
    n = int(a.shape[0])
    cand = np.flatnonzero(~blank & (length <= _SPACES_MAX) & _is_space(a[np.minimum(starts, max(n - 1, 0))]))
    if cand.size == 0:
        return out
    lens = length[cand]
    offs = np.concatenate(([0], np.cumsum(lens)[:-1]))
    pos = np.repeat(starts[cand] - offs, lens) + np.arange(int(lens.sum()), dtype=np.int64)
    solid = ~_is_space(a[pos])
    out[cand] = np.add.reduceat(solid, offs) == 0
    return out


_DepthState = tuple[int, bool, int, int, int]


def _window_depths(w: np.ndarray, firsts: np.ndarray, state: _DepthState) -> tuple[np.ndarray, _DepthState]:
    """Deepest nesting in window ``w`` of each line starting at ``firsts`` (relative, sorted; the first is 0).

    Line 0 carries ``state`` = (backslashes just before the window, inside a string, depth, lowest
    depth, deepest rise) from the previous window; the others start afresh. Returns the deepest rise
    of each line and the state at the window's end (for its last line)."""
    bs_in, inq_in, d_in, low_in, top_in = state
    n = int(w.shape[0])
    nl = int(firsts.shape[0])
    # quotes not escaped: an odd run of backslashes before one escapes it
    q = np.flatnonzero(w == 34)
    b = np.flatnonzero(w == 92)
    if b.size:
        new = np.empty(b.size, bool)
        new[0] = True
        new[1:] = np.diff(b) != 1
        run0 = np.maximum.accumulate(np.where(new, b, 0))
        run_len = b - run0 + 1 + np.where(run0 == 0, bs_in, 0)
        if q.size:
            k = np.searchsorted(b, q) - 1
            prev = (k >= 0) & (b[np.maximum(k, 0)] == q - 1)
            esc = np.zeros(q.size, bool)
            esc[prev] = (run_len[k[prev]] % 2) == 1
            if bs_in % 2 and q[0] == 0:
                esc[0] = True
            q = q[~esc]
        bs_out = int(run_len[-1]) if b[-1] == n - 1 else 0
    else:
        if bs_in % 2 and q.size and q[0] == 0:
            q = q[1:]
        bs_out = 0
    # a string cannot span a line end, nor a CR (JSON readers end lines there too, or refuse it)
    cr = np.flatnonzero(w == 13) + 1
    segs = np.union1d(firsts, cr) if cr.size else firsts  # sorted, segs[0] == 0
    carried = 1 if inq_in else 0
    low7 = w | 0x20  # '[' -> '{', ']' -> '}'
    pos = np.flatnonzero((low7 == 123) | (low7 == 125))
    val = np.where(low7[pos] == 123, 1, -1)
    if q.size or carried:  # drop the brackets inside strings
        seg0 = segs[np.searchsorted(segs, pos, side="right") - 1]
        before = np.searchsorted(q, pos) - np.searchsorted(q, seg0) + np.where(seg0 == 0, carried, 0)
        outside = (before & 1) == 0
        pos, val = pos[outside], val[outside]
    # string state at the window's end (of its last segment)
    last = int(segs[-1])
    inq_out = bool((q.size - int(np.searchsorted(q, last)) + (carried if last == 0 else 0)) % 2)
    top = np.zeros(nl, np.int64)
    top[0] = top_in
    if pos.size == 0:
        if nl == 1:
            return top, (bs_out, inq_out, d_in, low_in, top_in)
        return top, (bs_out, inq_out, 0, 0, 0)
    if nl == 1:  # one line (or the middle of one): no resets
        rel = np.cumsum(val) + d_in
        low = np.minimum(np.minimum.accumulate(rel), low_in)
        top[0] = max(top_in, int((rel - low).max()))
        return top, (bs_out, inq_out, int(rel[-1]), int(low[-1]), int(top[0]))
    line = np.searchsorted(firsts, pos, side="right") - 1
    cum = np.cumsum(val)
    change = np.flatnonzero(np.concatenate(([True], line[1:] != line[:-1])))
    base = cum[change] - val[change]
    ln = line[change]
    init_d = np.where(ln == 0, d_in, 0)
    rel = cum - np.repeat(base - init_d, np.diff(np.append(change, pos.size)))
    big = 2 * (abs(d_in) + abs(low_in) + pos.size + 1)
    x = rel - line * big
    low = np.minimum.accumulate(x) + line * big
    low = np.minimum(low, np.where(line == 0, low_in, 0))
    rise = rel - low
    per = np.maximum.reduceat(rise, change)
    top[ln] = np.maximum(top[ln], per)  # each line once: its events are contiguous
    if int(line[-1]) == nl - 1:
        state = (bs_out, inq_out, int(rel[-1]), int(low[-1]), int(top[nl - 1]))
    else:
        state = (bs_out, inq_out, 0, 0, 0)
    return top, state


def line_depths(buf: np.ndarray, firsts: np.ndarray, window: int | None = None) -> np.ndarray:
    """Deepest bracket nesting of each line of ``buf`` (lines start at ``firsts``; the bytes between
    lines are line ends), scanned with numpy in windows of ``window`` bytes (memory stays bounded
    however long a line is), brackets inside strings skipped.

    "Deepest" is the largest rise of the bracket count over the line, so a line that closes more than
    it opened cannot hide a deep part after it; a string ends at a CR too (a JSON reader ends lines
    there, or refuses the CR). For valid JSON it is the nesting depth.

    >>> line_depths(np.frombuffer(b'{"a": [[1]], "b": "[[[["}\\n["\\\\"{"]', np.uint8), np.array([0, 26]))
    array([3, 1])
    """
    window = window or _DEPTH_WINDOW
    n = int(buf.shape[0])
    out = np.zeros(firsts.shape[0], np.int64)
    state: _DepthState = (0, False, 0, 0, 0)
    for w0 in range(0, n, window):
        w1 = min(w0 + window, n)
        k0 = int(np.searchsorted(firsts, w0, side="right")) - 1
        k1 = int(np.searchsorted(firsts, w1, side="left"))
        if firsts[k0] == w0:
            state = (0, False, 0, 0, 0)
        rel = firsts[k0:k1] - w0
        rel[0] = 0
        top, state = _window_depths(buf[w0:w1], rel, state)
        np.maximum(out[k0:k1], top, out=out[k0:k1])
    return out


def too_deep(a: np.ndarray, lines: Lines) -> np.ndarray:
    """Mask of the lines nested deeper than :data:`MAX_JSON_DEPTH`, found before any parser sees them
    (pyarrow's JSON reader crashes the process on a line nested some 20,000 deep).

    Only a line longer than the limit can be that deep, and only one with more opening brackets than
    the limit: a span log's lines are short, so the usual cost is one comparison per line; when there
    are long lines, their opening brackets are counted with a chunked numpy scan. Only the lines
    over the limit are scanned for their nesting (:func:`line_depths`), in batches of about
    :data:`_DEPTH_WINDOW` bytes (a longer line alone, not copied).
    """
    deep = np.zeros(len(lines), bool)
    cand = np.flatnonzero((lines.ends - lines.starts) > MAX_JSON_DEPTH)
    if cand.size == 0:
        return deep
    lo, hi = int(lines.starts[cand[0]]), int(lines.ends[cand[-1]])
    found = []
    for off in range(lo, hi, _SCAN_CHUNK):
        chunk = a[off : min(off + _SCAN_CHUNK, hi)]
        pos = np.flatnonzero((chunk | 0x20) == 0x7B)  # '{' or '[' ('[' | 0x20 is '{')
        if pos.size:
            found.append(pos + off)
    opens = np.concatenate(found) if found else np.zeros(0, np.int64)
    counts = np.searchsorted(opens, lines.ends[cand]) - np.searchsorted(opens, lines.starts[cand])
    cand = cand[counts > MAX_JSON_DEPTH]
    if cand.size == 0:
        return deep
    lengths = (lines.ends - lines.starts)[cand]
    huge = lengths > _DEPTH_WINDOW
    for i in cand[huge].tolist():
        s, e = int(lines.starts[i]), int(lines.ends[i])
        deep[i] = bool(line_depths(a[s:e], np.zeros(1, np.int64))[0] > MAX_JSON_DEPTH)
    rest, lens = cand[~huge], lengths[~huge]
    if rest.size == 0:
        return deep
    cum = np.cumsum(lens)
    cuts = np.unique(np.searchsorted(cum, np.arange(_DEPTH_WINDOW, int(cum[-1]), _DEPTH_WINDOW), side="right"))
    for b0, b1 in itertools.pairwise([0, *cuts.tolist(), rest.size]):
        if b1 <= b0:
            continue
        idx, ln = rest[b0:b1], lens[b0:b1]
        firsts = np.concatenate(([0], np.cumsum(ln + 1)[:-1]))
        joined = np.full(int(ln.sum() + ln.size), 10, np.uint8)  # the lines, each ended by a newline
        before = np.concatenate(([0], np.cumsum(ln)[:-1]))
        k = np.arange(int(ln.sum()), dtype=np.int64)
        joined[k + np.repeat(firsts - before, ln)] = a[k + np.repeat(lines.starts[idx] - before, ln)]
        deep[idx] = line_depths(joined, firsts) > MAX_JSON_DEPTH
    return deep


def long_line_message(length: int) -> str:
    """What the rejection of a line longer than :data:`MAX_LINE_BYTES` says (reason ``malformed-json``).

    >>> long_line_message(21_474_836_480)
    'a line of 21,474,836,480 bytes, longer than the 64 MiB a line may hold (not read)'
    """
    return f"a line of {length:,} bytes, longer than the {MAX_LINE_BYTES >> 20} MiB a line may hold (not read)"


def changed_while_read(name: str, size: int, now: int) -> InputFileError:
    """The error of a plain log cut (or swapped) while it was read: what was read cannot be trusted.

    >>> str(changed_while_read("app.jsonl", 2_000_000, 1_000))
    'app.jsonl: changed while it was read: it was 2,000,000 bytes, now 1,000 (cut by a log rotation, \
copytruncate?); read it again once it is complete, or read the rotated copy'
    """
    return InputFileError(
        f"changed while it was read: it was {size:,} bytes, now {now:,} (cut by a log rotation, copytruncate?); "
        "read it again once it is complete, or read the rotated copy",
        file=name,
        code="file-changed",
    )


def pread_exact(fd: int, view: memoryview, at: int, name: str, size: int) -> None:
    """Fill ``view`` with the bytes of the file open as ``fd`` from byte ``at`` on (``pread``, as many
    reads as it takes). A read that comes short (the file, ``size`` bytes when opened, now ends
    before) is :func:`changed_while_read`, naming the file ``name`` (its display name); an OS error
    is ``cannot read (...)``. The one such loop of the plain-file readers (:class:`Snapshot`, the
    OTLP fast path)."""
    got, n = 0, len(view)
    while got < n:
        try:
            k = os.preadv(fd, [view[got:]], at + got)
        except OSError as e:
            raise InputFileError(f"cannot read: {os_reason(e)}", file=name, code="unreadable") from None
        if not k:
            now = os.fstat(fd).st_size
            raise changed_while_read(name, size, now if now < size else at + got)
        got += k


def check_unchanged(fd: int, name: str, size: int) -> None:
    """Raise :func:`changed_while_read` when the file open as ``fd`` (``size`` bytes when opened, named
    ``name``) is now shorter."""
    now = os.fstat(fd).st_size
    if now < size:
        raise changed_while_read(name, size, now)


@dataclass
class Snapshot:
    """The first ``size`` bytes of a plain log, read with ``pread`` from one open descriptor, never
    memory-mapped: a mapped page past the end of a file cut while it is read (logrotate's
    ``copytruncate``) kills the process with SIGBUS, which Python cannot catch. A read that comes
    short, or a file found shorter than ``size`` after a read, is :func:`changed_while_read`.

    Lines longer than :data:`MAX_LINE_BYTES` (``long``: their file byte ranges, line end left out)
    are found by a first pass that looks for line ends only (``memchr``, a block at a time; holes of
    a sparse file are skipped unread with ``SEEK_DATA``, they hold no line end) and are never read:
    :meth:`read` leaves each as an empty line, so line numbers stay those of the file.
    """

    fd: int
    path: str
    name: str
    size: int
    start: int = 0  # 3 past a UTF-8 byte-order mark (some Windows tools write one): not part of line 1
    long: list[tuple[int, int]] = field(default_factory=list)
    long_lines: list[int] = field(default_factory=list)  # 1-based line number of each (known after read)

    @classmethod
    def open(cls, path: str, name: str) -> Snapshot:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as e:
            raise InputFileError(f"cannot read: {os_reason(e)}", file=name, code="unreadable") from None
        snap = cls(fd, path, name, os.fstat(fd).st_size)
        try:
            if os.pread(fd, 3, 0) == b"\xef\xbb\xbf":
                snap.start = 3
            snap.long = snap._long_ranges()
        except BaseException:
            snap.close()
            raise
        return snap

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def check(self) -> None:
        """Raise :func:`changed_while_read` when the file is now shorter than when it was opened."""
        check_unchanged(self.fd, self.name, self.size)

    def _long_ranges(self) -> list[tuple[int, int]]:
        """The byte ranges of the lines longer than :data:`MAX_LINE_BYTES`: a line inside one block is
        shorter than a block, so only the first and last line end of each block are looked for
        (:meth:`_find_end`, a few KiB a block for a log of short lines; :meth:`read` reads it). The
        probe is the size of a block, or of the file when smaller (16 MiB for a one-line file were
        allocated on every open)."""
        out: list[tuple[int, int]] = []
        probe = bytearray(min(self.size, _READ_BLOCK))
        start = pos = self.start  # where the open line starts; where the next block starts
        while pos < self.size:
            data = self._next_data(pos)
            if data > pos:  # a hole: NUL bytes, no line end
                pos = data
                continue
            end = min(pos + _READ_BLOCK, self.size)
            first, last = self._find_end(probe, pos, end, forward=True)
            if first >= 0:
                if first - start > MAX_LINE_BYTES:
                    out.append((start, first))
                if last < 0:
                    last, _ = self._find_end(probe, first, end, forward=False)
                start = last + 1
            pos = end
        if self.size - start > MAX_LINE_BYTES:
            out.append((start, self.size))
        self.check()
        return out

    def _find_end(self, probe: bytearray, lo: int, hi: int, *, forward: bool) -> tuple[int, int]:
        """The file offset of the first (``forward``) or last line end in ``[lo, hi)``, or -1; read
        from ``lo`` on (or back from ``hi``) :data:`_PROBE` bytes first, twice as many each read after,
        and all that is left in one read once a read would pass the middle of ``[lo, hi)`` (a block
        whose only line end is near its middle was read one and a half times: forward to its end,
        then back). Second: the last line end (``forward``) when that read reached ``hi``, else -1."""
        view = memoryview(probe)
        mid = lo + (hi - lo) // 2
        at, n = (lo if forward else hi), _PROBE
        while (at < hi) if forward else (at > lo):
            if (at + n > mid) if forward else (at - n < mid):  # past the middle: the rest in one read
                n = hi - at if forward else at - lo
            base = at if forward else at - n
            pread_exact(self.fd, view[:n], base, self.name, self.size)
            i = probe.find(b"\n", 0, n) if forward else probe.rfind(b"\n", 0, n)
            if i >= 0:
                return base + i, (base + probe.rfind(b"\n", 0, n) if forward and base + n == hi else -1)
            at, n = (base + n if forward else base), 2 * n
        return -1, -1

    def _next_data(self, pos: int) -> int:
        """Where data starts at or after ``pos`` (``pos`` itself where holes cannot be told)."""
        seek_data = getattr(os, "SEEK_DATA", None)
        if seek_data is None:  # pragma: no cover - every Linux has it
            return pos
        try:
            return min(os.lseek(self.fd, pos, seek_data), self.size)
        except OSError as e:
            if e.errno == errno.ENXIO:  # a hole to the end, or the file is now shorter
                self.check()
                return self.size
            return pos

    def stream(self) -> pa.NativeFile:
        """The snapshot's bytes as a stream a parser reads (none long: :meth:`read` otherwise): arrow's
        own reads (``pread``, never a map) of the file open on the same descriptor, at most ``size``
        bytes; one cut short ends early, which :meth:`check` then tells."""
        if self.long:  # pragma: no cover - a bug, not a user error
            raise AssertionError("a snapshot with long lines is read, not streamed")
        same = f"/proc/self/fd/{self.fd}"  # the file opened, even if the name is now another's
        try:
            f = pa.OSFile(same if os.path.exists(same) else self.path)
            return f.get_stream(self.start, max(self.size - self.start, 0))
        except OSError as e:
            raise InputFileError(f"cannot read ({e.strerror or e})", file=self.name, code="unreadable") from None

    def read(self) -> np.ndarray:
        """The snapshot's bytes (uint8), each long line left empty (a last one given its line end)."""
        keep: list[tuple[int, int]] = []
        at = self.start
        for s, e in self.long:
            keep.append((at, s))
            at = e
        keep.append((at, max(at, self.size)))
        tail = bool(self.long) and self.long[-1][1] == self.size
        out = np.empty(sum(e - s for s, e in keep) + tail, np.uint8)
        view = out.data
        o = 0
        places: list[int] = []  # where each long line's (empty) place is in ``out``
        for s, e in keep:
            for pos in range(s, e, _READ_BLOCK):
                pread_exact(self.fd, view[o + pos - s : o + min(e, pos + _READ_BLOCK) - s], pos, self.name, self.size)
            o += e - s
            places.append(o)
        if tail:
            out[-1] = 10
        self.check()
        count, prev = 0, 0  # line numbers: the newlines before each place
        self.long_lines = []
        for p in places[: len(self.long)]:
            for c in range(prev, p, _READ_BLOCK):
                count += int(np.count_nonzero(out[c : min(c + _READ_BLOCK, p)] == 10))
            prev = p
            self.long_lines.append(count + 1)
        return out


__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_LINE_BYTES",
    "Lines",
    "Snapshot",
    "changed_while_read",
    "check_unchanged",
    "index_lines",
    "line_depths",
    "long_line_message",
    "pread_exact",
    "too_deep",
]
