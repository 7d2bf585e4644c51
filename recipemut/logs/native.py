"""The native reader: JSONL spans, one object a line, into :data:`recipemut.logs.spans.PARSE_SCHEMA`.

The happy path is columnar: one ``pyarrow.json.read_json`` over the whole file. Line numbers come
from a numpy scan of the bytes for newlines (:func:`recipemut.logs.lines.index_lines`), so they stay
right with blank lines and CRLF. The table is trusted row-for-line only when every non-blank line
looks like one object (``{`` ... ``}``) and the row count equals the non-blank line count.
Otherwise (a parse error, invalid UTF-8, two objects on one line, ...) the file is re-read in
blocks of lines: lines of invalid UTF-8 are found first in one linear pass and rejected; a block
that fails is bisected until the bad lines stand alone, and each bad line is classified
(:func:`recipemut.logs.checks.classify_line`); a block with many bad lines has the rest of its
lines read by ``json`` one by one instead, so the time stays linear in the file. Before any of
this, lines nested deeper than :data:`recipemut.logs.lines.MAX_JSON_DEPTH` are found by a numpy scan
and rejected unread (JSON parsers recurse: pyarrow's crashed the process on a line 20,000 deep).
Short lines not shaped ``{...}`` are rejected in bulk while the index is built (:class:`_Junk`:
numpy, and Python work per distinct shape of line), and counted, not indexed: junk after a log's
first spans costs neither an index entry nor a ``json`` call per line.

A file whose first :data:`GIVE_UP_AFTER` non-blank lines are all bad is not a span log
(:func:`not_a_log`), and the rest of it is never read.

A plain file is read, never memory-mapped (:class:`~recipemut.logs.lines.Snapshot`): a file cut
while it is read (logrotate's ``copytruncate``) is "changed while it was read", exit 1, where a
mapped page past its new end killed the process (SIGBUS). Its lines longer than
:data:`~recipemut.logs.lines.MAX_LINE_BYTES` (a NUL-filled tail) are rejected unread.
"""

from __future__ import annotations

import codecs
import dataclasses
import itertools
import logging
import re
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from recipemut.errors import LogError
from recipemut.logs.checks import classify_line, line_problem
from recipemut.logs.lines import MAX_JSON_DEPTH, Lines, Snapshot, index_lines, long_line_message, too_deep
from recipemut.logs.report import MAX_EXAMPLES, Rejects
from recipemut.logs.spans import PARSE_SCHEMA, STRING_COLS

log = logging.getLogger(__name__)

#: a file whose first this-many non-blank lines are all rejected is not a span log
GIVE_UP_AFTER = 1000
#: bytes per block when re-reading a file that did not parse in one go
FALLBACK_BLOCK = 1 << 20
_PARSE_BLOCK = 1 << 24  # bytes per block of the one-pass parse: fewer, larger chunks to post-process

_PARSE_OPTIONS = pj.ParseOptions(explicit_schema=PARSE_SCHEMA, unexpected_field_behavior="ignore")
_ROW_HINT = re.compile(r" in row (\d+)")

#: printable ASCII bytes that begin no JSON value (Python's ``json`` reads ``NaN``, ``Infinity`` and
#: ``-Infinity`` too): a stripped line of ASCII opening with one is "not valid JSON at column 1:
#: Expecting value" to :func:`classify_line`, whatever follows
_NO_VALUE = np.zeros(256, bool)
_NO_VALUE[0x21:0x7F] = True
_NO_VALUE[np.frombuffer(b'"{[-0123456789tfnNI', np.uint8)] = False


def _within(pos: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Which of the spans ``starts``..``ends`` (sorted, apart) hold one of the positions ``pos`` (sorted)."""
    return np.searchsorted(pos, ends) > np.searchsorted(pos, starts)


class _Junk:
    """The rejections of short lines not shaped ``{...}``, decided by numpy and arrow with Python work
    per distinct line shape, not per line: a log of spans followed by 50 MiB of ``x`` lines had an
    index entry and a :func:`classify_line` call for each of its 26 M lines.

    Called as :func:`recipemut.logs.lines.index_lines`' ``sift`` (chunk by chunk, in file order), it
    takes the lines of at most :data:`MAX_JSON_DEPTH` bytes (never too deep) whose rejection it can
    tell, and keeps per reason their count and the first :data:`MAX_EXAMPLES` (line, message):

    - a line of ASCII whose first byte begins no JSON value (``x``, ``x123``, ``]``): one message;
    - the others by their distinct bytes (arrow's ``dictionary_encode``), digits 1-9 read as ``1`` in
      a line without ``"`` (its JSON reading is the same: only numbers hold those digits then, and
      a number's kind and validity do not depend on them), each distinct one given to
      :func:`classify_line` once; lines that strip to nothing or to ``{...}`` are left in the index.
    """

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.examples: dict[str, list[tuple[int, str]]] = {}

    def __call__(
        self, a: np.ndarray, starts: np.ndarray, ends: np.ndarray, numbers: np.ndarray, odd: np.ndarray
    ) -> np.ndarray:
        taken = np.zeros(starts.size, bool)
        cand = np.flatnonzero(odd & (ends - starts <= MAX_JSON_DEPTH))
        if cand.size == 0:
            return taken
        s, e = starts[cand], ends[cand]
        lo = int(s[0])
        region = a[lo : int(e[-1])]
        s, e = s - lo, e - lo
        high = _within(np.flatnonzero(region >= 0x80), s, e) if int(region.max()) >= 0x80 else np.zeros(s.size, bool)
        verdict = np.full(s.size, -1, np.int64)
        found: dict[tuple[str, str], int] = {}
        hopeless = _NO_VALUE[region[s]] & ~high
        h = np.flatnonzero(hopeless)
        if h.size:
            verdict[h] = found.setdefault(classify_line(region[s[h[0]] : e[h[0]]].tobytes().strip()), 0)
        rest = np.flatnonzero(~hopeless)
        if rest.size:
            verdict[rest] = self._by_shape(region, s[rest], e[rest], found)
        got = np.flatnonzero(verdict >= 0)
        if got.size == 0:
            return taken
        taken[cand[got]] = True
        said = list(found)
        reasons = list(dict.fromkeys(r for r, _ in said))
        code = np.array([reasons.index(r) for r, _ in said], np.int64)[verdict[got]]
        for r, count in zip(reasons, np.bincount(code, minlength=len(reasons)).tolist(), strict=True):
            self.counts[r] = self.counts.get(r, 0) + count
            ex = self.examples.setdefault(r, [])
            if len(ex) < MAX_EXAMPLES and count:
                for k in np.flatnonzero(code == reasons.index(r))[: MAX_EXAMPLES - len(ex)].tolist():
                    ex.append((int(numbers[cand[got[k]]]), said[int(verdict[got[k]])][1]))
        return taken

    @staticmethod
    def _by_shape(region: np.ndarray, s: np.ndarray, e: np.ndarray, found: dict[tuple[str, str], int]) -> np.ndarray:
        """The verdict (an index into ``found``, -1 to leave the line in the index) of each line
        ``s``..``e`` of ``region``, found once per distinct shape."""
        key = region
        digits = (region >= 0x31) & (region <= 0x39)
        if digits.any():
            quotes = np.flatnonzero(region == 0x22)
            quoted = _within(quotes, s, e) if quotes.size else None
            if quoted is not None and quoted.any():  # their digits stay: +1 where such a line starts, -1 at its end
                mark = np.zeros(region.size + 1, np.int32)
                mark[s[quoted]] = 1
                mark[e[quoted]] = -1
                digits &= np.cumsum(mark[:-1]) == 0
            key = np.where(digits, np.uint8(0x31), region)
        offsets = np.empty(2 * s.size, np.int64)  # each line, then the bytes to the next: never alike
        offsets[0::2], offsets[1::2] = s, e
        values = pa.Array.from_buffers(
            pa.large_binary(), 2 * s.size - 1, [None, pa.py_buffer(offsets), pa.py_buffer(key)]
        )
        coded = pc.dictionary_encode(values)
        idx = coded.indices.to_numpy()[0::2]
        # arrow numbers the values in the order they first come: a line's value is new where its
        # number passes every one before it
        firsts = np.flatnonzero(np.diff(np.maximum.accumulate(idx), prepend=-1) > 0)
        per = np.full(len(coded.dictionary), -1, np.int64)
        for j in firsts.tolist():
            raw = region[int(s[j]) : int(e[j])].tobytes().strip()
            if raw and not (raw[:1] == b"{" and raw[-1:] == b"}"):
                per[idx[j]] = found.setdefault(classify_line(raw), len(found))
        return per[idx]

    def into(self, rej: Rejects, more: list[tuple[int, str, str]]) -> None:
        """Add what it took to ``rej``, with the rejections ``more`` of the same stretch: in file order,
        so that reasons come in the order the line-by-line reading adds them."""
        every = [*more, *((n, r, m) for r, ex in self.examples.items() for n, m in ex)]
        for n, r, m in sorted(every, key=lambda x: x[0]):
            rej.add(n, r, m)
        for r, count in self.counts.items():
            if count > len(self.examples[r]):
                rej.count_more(r, count - len(self.examples[r]))


def _bad_utf8(buf: pa.Buffer, lines: Lines, among: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which of the lines ``among`` (indices) hold invalid UTF-8, and the 1-based byte of the first bad
    one in each: time linear in the bytes, with Python work per bad line only.

    Blocks of whole lines that are plain ASCII are passed over by a numpy test; the others are
    decoded, and each error resumes the decoding at the next line.
    """
    a = np.frombuffer(buf, dtype=np.uint8)
    view = memoryview(buf)
    starts, nexts = lines.starts, lines.nexts
    bad: list[int] = []
    at: list[int] = []
    if among.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cuts = np.searchsorted(starts[among], np.arange(0, int(nexts[among[-1]]), FALLBACK_BLOCK))
    for b0, b1 in itertools.pairwise([*np.unique(cuts).tolist(), among.size]):
        if b1 <= b0:
            continue
        first, last = int(among[b0]), int(among[b1 - 1])
        lo, hi = int(starts[first]), int(nexts[last])
        if hi <= lo or int(a[lo:hi].max()) < 0x80:
            continue
        pos = lo
        while pos < hi:
            try:
                codecs.utf_8_decode(view[pos:hi], "strict", True)
                break
            except UnicodeDecodeError as e:
                p = pos + e.start
                i = int(np.searchsorted(starts, p, side="right")) - 1
                if p >= int(nexts[i]):  # in a line left out of the index (its sift rejected it): go on after it
                    pos = int(starts[i + 1]) if i + 1 < starts.size else hi
                    continue
                bad.append(i)
                at.append(p - int(starts[i]) + 1)
                pos = int(nexts[i])
    if not bad:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    got, where = np.array(bad, np.int64), np.array(at, np.int64)
    keep = np.isin(got, among)  # a bad line between two of ``among`` counts only if it is one of them
    return got[keep], where[keep]


def _parse(buf: pa.Buffer | pa.NativeFile, block_size: int | None = None, *, infer: bool = False) -> pa.Table:
    """Parse JSONL from a buffer or a file (:meth:`Snapshot.stream`) into :data:`PARSE_SCHEMA`; invalid
    UTF-8 raises too.

    ``infer``: let the parser infer the types, then convert them (the one-pass read of a whole
    file: about a tenth less CPU than parsing against the explicit schema); a column whose type
    cannot be converted (a key of the wrong type) raises ``ArrowInvalid`` like the explicit parse.
    """
    opts = pj.ReadOptions(block_size=block_size or _PARSE_BLOCK)
    # never a path given to read_json: that would pick a decompressor from the file's extension (a
    # plain log named x.jsonl.gz would fail to inflate); gzip is found by magic bytes
    src = pa.BufferReader(buf) if isinstance(buf, pa.Buffer) else buf
    if infer:
        table = _conform_inferred(pj.read_json(src, read_options=opts))
    else:
        table = pj.read_json(src, read_options=opts, parse_options=_PARSE_OPTIONS)
    for name in STRING_COLS:
        table.column(name).validate(full=True)  # invalid UTF-8 raises ArrowInvalid
    return table


def _conform_inferred(table: pa.Table) -> pa.Table:
    """An inferred table as :data:`PARSE_SCHEMA`: absent keys null, integers as floats, strings large.

    >>> t = _conform_inferred(pa.table({"op": ["a"], "latency_ms": [3], "extra": [True]}))
    >>> t.schema == PARSE_SCHEMA, t.column("latency_ms").to_pylist(), t.column("request_id").null_count
    (True, [3.0], 1)
    """
    n = table.num_rows
    cols: list[pa.ChunkedArray | pa.Array] = []
    for f in PARSE_SCHEMA:
        i = table.schema.get_field_index(f.name)
        if i < 0 or pa.types.is_null(table.schema.field(i).type):
            cols.append(pa.nulls(n, f.type))
            continue
        col, t = table.column(i), table.schema.field(i).type
        if t == f.type:
            cols.append(col)
        elif pa.types.is_string(t) and pa.types.is_large_string(f.type):
            cols.append(col.cast(f.type))
        elif (pa.types.is_integer(t) or pa.types.is_floating(t)) and pa.types.is_floating(f.type):
            cols.append(col.cast(f.type, safe=False))  # rounds past 2**53 as parsing into a double does
        else:
            raise pa.ArrowInvalid(f"column {f.name}: {t} where {f.type} is expected")
    return pa.table(cols, schema=PARSE_SCHEMA)


def read_native(
    source: pa.Buffer | str, name: str, rej: Rejects, *, give_up: bool = True
) -> tuple[pa.Table, np.ndarray, int, int]:
    """Parse one native JSONL file: (table, 1-based line numbers, non-blank lines, blank lines).

    ``source`` is the gunzipped bytes, or the path of a plain file: that one is read into memory
    (:class:`~recipemut.logs.lines.Snapshot`, never memory-mapped: a file cut while it is read then
    raises "changed while it was read" instead of killing the process) only while scanning for
    lines (and again if the slow path needs it), and streamed to the parser from the same
    descriptor, so that its bytes are not held while the parser builds the table. Its lines longer
    than :data:`~recipemut.logs.lines.MAX_LINE_BYTES` are rejected unread (``malformed-json``).

    ``give_up=False`` reads on where the first :data:`GIVE_UP_AFTER` non-blank lines are all rejected
    (no "not a span log"): a later chunk of a file that opens with a stretch of junk, read whole in
    one call, its junk rejected in bulk.
    """
    if isinstance(source, pa.Buffer):
        return _read_native(lambda: source, None, name, rej, give_up=give_up)
    with Snapshot.open(source, name) as snap:
        table, nums, n_nonblank, n_blank = _read_native(
            lambda: pa.py_buffer(snap.read()), snap, name, rej, give_up=give_up
        )
        for (s, e), line in zip(snap.long, snap.long_lines, strict=True):
            rej.add(line, "malformed-json", long_line_message(e - s))
        return table, nums, n_nonblank + len(snap.long), n_blank - len(snap.long)


def _read_native(
    load: Callable[[], pa.Buffer], snap: Snapshot | None, name: str, rej: Rejects, *, give_up: bool
) -> tuple[pa.Table, np.ndarray, int, int]:
    """:func:`read_native` of the bytes ``load`` gives (called again for the slow path); ``snap``: the
    plain file they are a snapshot of, which the one-pass parse reads (or None: parse them)."""
    # The bytes are held only for the scan, so they are not held while the table is built (unless
    # they are not the file's: gunzipped, or with long lines left out). The one-pass parse runs after
    # the scan, and only when every non-blank line is shaped {...}: a file with another line goes to
    # the slow path whatever the parse gives, and arrow's JSON reader crashes the process on a
    # parse block that opens with `null` (a line `null`).
    buf = load()
    a = np.frombuffer(buf, dtype=np.uint8)
    whole, first = _give_up_early(buf, a, name, refuse=give_up)
    junk = None if whole is not None else _Junk()
    # blank lines are counted, not indexed; so are short junk lines (their rejections tallied by ``junk``)
    lines = whole or index_lines(a, blank=False, sift=junk)
    deep = too_deep(a, lines)
    if deep.any():  # never handed to a parser: the slow path rejects them unread
        lines = dataclasses.replace(lines, odd=lines.odd | deep, deep=deep)
    table: pa.Table | None = None
    clean = not lines.odd.any() and not lines.left_out
    held = buf if snap is None or snap.long or not clean else None  # the slow path reads them: not read again
    del a, buf
    if clean:
        try:
            table = _parse(held if held is not None else snap.stream(), infer=True)  # type: ignore[union-attr]
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            log.info("%s: one-pass parse failed (%s); re-reading in blocks", name, e)
        if snap is not None:
            snap.check()  # cut while parsed: its rows may be of the bytes after the cut
    n_nonblank = len(lines) + lines.left_out
    n_blank = lines.n_lines - n_nonblank
    if n_nonblank == 0:
        return PARSE_SCHEMA.empty_table(), np.zeros(0, np.int64), 0, n_blank
    if table is not None:
        if clean and table.num_rows == n_nonblank:
            return table, lines.line_numbers, n_nonblank, n_blank
        log.info(
            "%s: %d rows for %d lines, some not shaped {...}; re-reading in blocks", name, table.num_rows, n_nonblank
        )
        del table
    buf = held if held is not None else load()
    del held
    table, nums, spaces = _read_slow(buf, lines, first, name, rej, junk)
    return table, nums, n_nonblank - spaces, n_blank + spaces


def _give_up_early(buf: pa.Buffer, a: np.ndarray, name: str, *, refuse: bool) -> tuple[Lines | None, Lines | None]:
    """Raise "not a span log" when the first :data:`GIVE_UP_AFTER` non-blank lines (of more), all of them not
    shaped ``{...}``, are all rejected, before the rest of the file is indexed: a file of millions
    of tiny lines (``x``) cost an index entry per line, gigabytes, only to be refused by the same
    rule in :func:`_read_slow`, which reads those same lines the same way.

    Returns the index of the whole buffer when it has no more lines than that (the scan for them
    went through it all), else the index of those first lines (too deep ones marked odd and deep),
    which the slow path reads by the same rule (:func:`_read_slow`); None for them unless ``refuse``."""
    head = index_lines(a, blank=False, stop_after=GIVE_UP_AFTER + 1)
    if len(head) <= GIVE_UP_AFTER:  # the rule is for more lines than that (as in _read_slow)
        return head, None
    if not refuse:
        return None, None
    head = head.head(GIVE_UP_AFTER)
    deep = too_deep(a, head)
    if deep.any():
        head = dataclasses.replace(head, odd=head.odd | deep, deep=deep)
    if head.odd.all():
        _refuse_if_no_span(buf, head, name)
    return None, head


def _refuse_if_no_span(buf: pa.Buffer, head: Lines, name: str) -> None:
    """Raise :func:`not_a_log` when none of the lines ``head`` (a file's first :data:`GIVE_UP_AFTER`
    non-blank ones) is a span."""
    probe = Rejects(name)
    table, _, spaces = _read_lines(buf, head, probe)
    if table.num_rows == 0 and spaces == 0:
        raise not_a_log(name, int(head.line_numbers[-1]), probe)


def _join(buf: pa.Buffer, lines: Lines, idx: np.ndarray) -> pa.Buffer:
    """The lines ``idx`` (sorted) of ``buf`` copied into one buffer, each with its line end."""
    if idx.size == 0:
        return pa.py_buffer(b"")
    apart = np.diff(idx) != 1
    if lines.gaps is not None:  # lines left out of the index lie between two entries: they do not come along
        apart |= lines.gaps[idx[1:]]
    breaks = np.flatnonzero(apart)
    firsts = idx[np.concatenate(([0], breaks + 1))]
    lasts = idx[np.concatenate((breaks, [idx.size - 1]))]
    view = memoryview(buf)
    return pa.py_buffer(
        b"".join(view[int(a) : int(b)] for a, b in zip(lines.starts[firsts], lines.nexts[lasts], strict=True))
    )


def _read_slow(
    buf: pa.Buffer, lines: Lines, first: Lines | None, name: str, rej: Rejects, junk: _Junk | None
) -> tuple[pa.Table, np.ndarray, int]:
    """Slow path, taken when the one-pass parse cannot be trusted row-for-line.

    First the file's first :data:`GIVE_UP_AFTER` non-blank lines alone (``first``, when it has more):
    when none of them is a span, this is not a span log (``LogError``), and the rest is never read.
    Otherwise, short lines not shaped ``{...}`` are rejected in bulk (:class:`_Junk`: while the index
    was built, when ``junk`` took them then), the other ones not shaped ``{...}`` looked at one by
    one in Python (a span must be an object, so most are rejected by :func:`classify_line` without a
    parse; ones with stray whitespace are stripped and parsed together); the other lines are joined
    into one buffer and parsed in blocks, a block that fails being bisected down to its bad lines.
    Returns the table in file order, its line numbers and the count of whitespace-only lines.
    """
    if first is not None and not first.odd.all():  # all odd: _give_up_early looked already
        _refuse_if_no_span(buf, first, name)
    return _read_lines(buf, lines, rej, junk)


def not_a_log(name: str, through: int, rej: Rejects) -> LogError:
    first = rej.first
    assert first is not None
    return LogError(
        f"not a span log: the first {GIVE_UP_AFTER} non-blank lines are all rejected "
        f"(through line {through}); first problem at line {first.line}: {first.message} [{first.reason}]",
        file=name,
        line=first.line,
        code="not-a-log",
    )


def _read_lines(
    buf: pa.Buffer, lines: Lines, rej: Rejects, junk: _Junk | None = None
) -> tuple[pa.Table, np.ndarray, int]:
    """The slow path proper (see :func:`_read_slow`). ``junk``: the lines the index left out were taken
    by it (None: the index left none out; its short junk lines are taken here)."""
    odd = lines.odd
    line_no = lines.line_numbers
    # lines of invalid UTF-8 are found in one linear pass and rejected unparsed (bisecting a block
    # for each of them cost time quadratic in their number)
    bad, at = _bad_utf8(buf, lines, np.flatnonzero(~odd & ~lines.blank))
    if bad.size:
        for i, col in zip(bad.tolist(), at.tolist(), strict=True):
            rej.add(int(line_no[i]), "bad-encoding", f"invalid UTF-8 at byte {col} of the line")
        odd = odd.copy()
        odd[bad] = True
        skip = np.zeros(len(lines), bool)
        skip[bad] = True
    odd_idx = np.flatnonzero(odd & ~skip) if bad.size else np.flatnonzero(odd)
    deep = lines.deep
    tables: list[pa.Table] = []
    numbers: list[np.ndarray] = []
    if not odd.any() and not lines.left_out:
        clean_buf, clean_lines, clean_no = buf, lines, line_no
    else:
        keep = np.flatnonzero(~odd & ~lines.blank)
        clean_buf = _join(buf, lines, keep)  # the blank lines between two kept ones come along: not indexed
        clean_lines = index_lines(np.frombuffer(clean_buf, dtype=np.uint8), blank=False)
        clean_no = line_no[keep]
        if len(clean_lines) != keep.size:  # pragma: no cover - a bug, not a user error
            raise AssertionError("joined lines must keep their count")
    _bisect(clean_buf, clean_lines, clean_no, rej, tables, numbers)

    if junk is None:  # the index holds its short junk lines: taken here, in bulk
        junk = _Junk()
        took = junk(np.frombuffer(buf, np.uint8), lines.starts[odd_idx], lines.ends[odd_idx], line_no[odd_idx],
                    np.ones(odd_idx.size, bool))  # fmt: skip
        odd_idx = odd_idx[~took]
    spaces = 0
    candidates: list[tuple[int, bytes]] = []
    more: list[tuple[int, str, str]] = []  # the other rejections among them, added with junk's in file order
    view = memoryview(buf)
    for i in odd_idx.tolist():
        if deep is not None and deep[i]:
            more.append(
                (int(line_no[i]), "malformed-json", f"nested more than {MAX_JSON_DEPTH} levels deep (not read)")
            )
            continue
        raw = bytes(view[int(lines.starts[i]) : int(lines.nexts[i])]).strip()
        if not raw:
            spaces += 1
        elif raw[:1] == b"{" and raw[-1:] == b"}":
            candidates.append((int(line_no[i]), raw))
        else:
            more.append((int(line_no[i]), *classify_line(raw)))
    junk.into(rej, more)
    if candidates:
        joined = pa.py_buffer(b"".join(raw + b"\n" for _, raw in candidates))
        cand_lines = index_lines(np.frombuffer(joined, dtype=np.uint8))
        _bisect(joined, cand_lines, np.array([n for n, _ in candidates], np.int64), rej, tables, numbers)

    table = pa.concat_tables(tables) if tables else PARSE_SCHEMA.empty_table()
    nums = np.concatenate(numbers) if numbers else np.zeros(0, np.int64)
    if nums.size > 1 and not bool(np.all(nums[1:] > nums[:-1])):
        order = np.argsort(nums, kind="stable")
        table, nums = table.take(pa.array(order)), nums[order]
    return table, nums, spaces


def _bisect(
    buf: pa.Buffer,
    lines: Lines,
    line_no: np.ndarray,
    rej: Rejects,
    tables: list[pa.Table],
    numbers: list[np.ndarray],
    limit: int | None = 16,
) -> None:
    """Parse ``buf`` (lines shaped ``{...}`` or blank) in blocks, bisecting failed blocks to single lines.

    ``line_no[i]`` is the file line of ``buf``'s line ``i``. Accepted tables and their line numbers
    are appended to ``tables`` and ``numbers``; bad lines are added to ``rej``.

    Each failed parse costs a parser call, so a block in which more than ``limit`` parses failed
    (many bad lines: bisecting them all took time quadratic in their number) has its remaining
    lines sifted with ``json`` one by one instead (:func:`_sift`): a cost per line, not per bad line.
    """
    nonblank = ~lines.blank
    nonblank_cum = np.concatenate(([0], np.cumsum(nonblank)))
    cuts = np.searchsorted(lines.starts, np.arange(0, buf.size, FALLBACK_BLOCK))
    bounds = np.unique(np.concatenate((cuts, [len(lines)])))
    for b0, b1 in itertools.pairwise(bounds.tolist()):
        work = [(b0, b1)]
        failed = 0
        while work:
            i, j = work.pop()
            nb = int(nonblank_cum[j] - nonblank_cum[i])
            if nb == 0:
                continue
            if limit is not None and failed > limit and j - i > 1:
                rest = np.concatenate([np.arange(a, b) for a, b in ((i, j), *work)])
                work.clear()
                _sift(buf, lines, np.sort(rest[nonblank[rest]]), line_no, rej, tables, numbers)
                break
            sl = buf.slice(int(lines.starts[i]), int(lines.nexts[j - 1] - lines.starts[i]))
            if j - i == 1:
                raw = sl.to_pybytes().strip()
                try:
                    t = _parse(sl, block_size=max(len(raw) + 2, 1 << 16))
                    if t.num_rows == 1:
                        tables.append(t)
                        numbers.append(line_no[i : i + 1])
                        continue
                    msg = f"{t.num_rows} values on one line"
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                    msg = str(e)
                rej.add(int(line_no[i]), *classify_line(raw, msg))
                continue
            hint = -1
            try:
                t = _parse(sl, block_size=sl.size + 1)  # one block: the error's row is the range's row
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                m = _ROW_HINT.search(str(e))
                hint = int(m.group(1)) if m else -1
            else:
                if t.num_rows == nb:
                    tables.append(t)
                    numbers.append(line_no[i:j][nonblank[i:j]])
                    continue
            failed += 1
            if 0 <= hint < nb:
                # the parser named the bad row: split around that line (verified, since a wrong
                # guess only makes smaller ranges that are parsed again)
                k = i + int(np.flatnonzero(nonblank[i:j])[hint])
                work.extend(((k + 1, j), (k, k + 1), (i, k)))
                continue
            mid = (i + j) // 2
            work.append((mid, j))
            work.append((i, mid))


def _sift(
    buf: pa.Buffer,
    lines: Lines,
    idx: np.ndarray,
    line_no: np.ndarray,
    rej: Rejects,
    tables: list[pa.Table],
    numbers: list[np.ndarray],
) -> None:
    """The lines ``idx`` (sorted, non-blank) of a block with many bad lines: each is read by ``json``
    (:func:`line_problem`), the bad ones rejected with their reason, the others parsed together (and
    bisected, without a limit, in the rare case the parser still refuses one)."""
    view = memoryview(buf)
    good: list[int] = []
    for i in idx.tolist():
        problem = line_problem(bytes(view[int(lines.starts[i]) : int(lines.ends[i])]))
        if problem is None:
            good.append(i)
        else:
            rej.add(int(line_no[i]), *problem)
    if not good:
        return
    keep = np.array(good, np.int64)
    joined = _join(buf, lines, keep)  # lines of whitespace between two of them come along: not indexed
    again = index_lines(np.frombuffer(joined, dtype=np.uint8), blank=False)
    _bisect(joined, again, line_no[keep], rej, tables, numbers, None)


__all__ = ["FALLBACK_BLOCK", "GIVE_UP_AFTER", "not_a_log", "read_native"]
