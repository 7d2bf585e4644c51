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

A file whose first :data:`GIVE_UP_AFTER` non-blank lines are all bad is not a span log
(:func:`not_a_log`), and the rest of it is never read.
"""

from __future__ import annotations

import codecs
import dataclasses
import itertools
import logging
import re

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from recipemut.errors import InputFileError, LogError
from recipemut.logs.checks import classify_line, line_problem
from recipemut.logs.lines import MAX_JSON_DEPTH, Lines, index_lines, too_deep
from recipemut.logs.report import Rejects
from recipemut.logs.spans import PARSE_SCHEMA, STRING_COLS

log = logging.getLogger(__name__)

#: a file whose first this-many non-blank lines are all rejected is not a span log
GIVE_UP_AFTER = 1000
#: bytes per block when re-reading a file that did not parse in one go
FALLBACK_BLOCK = 1 << 20
_PARSE_BLOCK = 1 << 24  # bytes per block of the one-pass parse: fewer, larger chunks to post-process

_PARSE_OPTIONS = pj.ParseOptions(explicit_schema=PARSE_SCHEMA, unexpected_field_behavior="ignore")
_ROW_HINT = re.compile(r" in row (\d+)")


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
                bad.append(i)
                at.append(p - int(starts[i]) + 1)
                pos = int(nexts[i])
    if not bad:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    got, where = np.array(bad, np.int64), np.array(at, np.int64)
    keep = np.isin(got, among)  # a bad line between two of ``among`` counts only if it is one of them
    return got[keep], where[keep]


def _parse(buf: pa.Buffer | str, block_size: int | None = None, *, infer: bool = False) -> pa.Table:
    """Parse JSONL from a buffer or a file path into :data:`PARSE_SCHEMA`; invalid UTF-8 raises too.

    ``infer``: let the parser infer the types, then convert them (the one-pass read of a whole
    file: about a tenth less CPU than parsing against the explicit schema); a column whose type
    cannot be converted (a key of the wrong type) raises ``ArrowInvalid`` like the explicit parse.
    """
    opts = pj.ReadOptions(block_size=block_size or _PARSE_BLOCK)
    # a path is opened here, not by read_json: that would pick a decompressor from the file's
    # extension (a plain log named x.jsonl.gz would fail to inflate); gzip is found by magic bytes
    src = pa.OSFile(buf) if isinstance(buf, str) else pa.BufferReader(buf)
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


def _map(path: str) -> pa.Buffer:
    try:
        return pa.memory_map(path, "r").read_buffer()
    except OSError as e:
        raise InputFileError(f"cannot read ({e.strerror or e})", file=path, code="unreadable") from None


def read_native(source: pa.Buffer | str, name: str, rej: Rejects) -> tuple[pa.Table, np.ndarray, int, int]:
    """Parse one native JSONL file: (table, 1-based line numbers, non-blank lines, blank lines).

    ``source`` is the gunzipped bytes, or the path of a plain file: that one is memory-mapped only
    while scanning for lines (and again if the slow path needs it), so that its pages are not
    resident while the parser builds the table.
    """
    # A plain file is memory-mapped only for the scan, so its pages are not held while the table
    # is built. The one-pass parse runs after the scan, and only when every non-blank line is shaped
    # {...}: a file with another line goes to the slow path whatever the parse gives, and arrow's
    # JSON reader crashes the process on a parse block that opens with `null` (a line `null`).
    buf = source if isinstance(source, pa.Buffer) else _map(source)
    a = np.frombuffer(buf, dtype=np.uint8)
    lines = _give_up_early(buf, a, name) or index_lines(a, blank=False)  # blank lines counted, not indexed
    deep = too_deep(a, lines)
    del a, buf
    if deep.any():  # never handed to a parser: the slow path rejects them unread
        lines = dataclasses.replace(lines, odd=lines.odd | deep, deep=deep)
    table: pa.Table | None = None
    if not lines.odd.any():
        try:
            table = _parse(source, infer=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            log.info("%s: one-pass parse failed (%s); re-reading in blocks", name, e)
    n_nonblank = len(lines)
    n_blank = lines.n_lines - n_nonblank
    if n_nonblank == 0:
        return PARSE_SCHEMA.empty_table(), np.zeros(0, np.int64), 0, n_blank
    if table is not None:
        if not lines.odd.any() and table.num_rows == n_nonblank:
            return table, lines.line_numbers, n_nonblank, n_blank
        log.info(
            "%s: %d rows for %d lines, some not shaped {...}; re-reading in blocks", name, table.num_rows, n_nonblank
        )
        del table
    buf = source if isinstance(source, pa.Buffer) else _map(source)
    table, nums, spaces = _read_slow(buf, lines, name, rej)
    return table, nums, n_nonblank - spaces, n_blank + spaces


def _give_up_early(buf: pa.Buffer, a: np.ndarray, name: str) -> Lines | None:
    """Raise "not a span log" when the first :data:`GIVE_UP_AFTER` non-blank lines (of more), all of them not
    shaped ``{...}``, are all rejected, before the rest of the file is indexed: a file of millions
    of tiny lines (``x``) cost an index entry per line, gigabytes, only to be refused by the same
    rule in :func:`_read_slow`, which reads those same lines the same way.

    Returns the index of the whole buffer when it has no more lines than that (the scan for them
    went through it all), else None."""
    head = index_lines(a, blank=False, stop_after=GIVE_UP_AFTER + 1)
    if len(head) <= GIVE_UP_AFTER:  # the rule is for more lines than that (as in _read_slow)
        return head
    head = head.head(GIVE_UP_AFTER)
    if not head.odd.all():
        return None
    deep = too_deep(a, head)
    if deep.any():
        head = dataclasses.replace(head, deep=deep)
    _refuse_if_no_span(buf, head, name)
    return None


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
    breaks = np.flatnonzero(np.diff(idx) != 1)
    firsts = idx[np.concatenate(([0], breaks + 1))]
    lasts = idx[np.concatenate((breaks, [idx.size - 1]))]
    view = memoryview(buf)
    return pa.py_buffer(
        b"".join(view[int(a) : int(b)] for a, b in zip(lines.starts[firsts], lines.nexts[lasts], strict=True))
    )


def _read_slow(buf: pa.Buffer, lines: Lines, name: str, rej: Rejects) -> tuple[pa.Table, np.ndarray, int]:
    """Slow path, taken when the one-pass parse cannot be trusted row-for-line.

    First the file's first :data:`GIVE_UP_AFTER` non-blank lines alone: when none of them is a
    span, this is not a span log (``LogError``), and the rest is never read. Otherwise, lines not
    shaped ``{...}`` are looked at one by one in Python (a span must be an object, so most are
    rejected by :func:`classify_line` without a parse; ones with stray whitespace are stripped and
    parsed together); the other lines are joined into one buffer and parsed in blocks, a block
    that fails being bisected down to its bad lines. Returns the table in file order, its line
    numbers and the count of whitespace-only lines.
    """
    nonblank_idx = np.flatnonzero(~lines.blank)
    if nonblank_idx.size > GIVE_UP_AFTER:
        cut = int(nonblank_idx[GIVE_UP_AFTER - 1]) + 1
        _refuse_if_no_span(buf, lines.head(cut), name)
    return _read_lines(buf, lines, rej)


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


def _read_lines(buf: pa.Buffer, lines: Lines, rej: Rejects) -> tuple[pa.Table, np.ndarray, int]:
    """The slow path proper (see :func:`_read_slow`)."""
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
    if not odd.any():
        clean_buf, clean_lines, clean_no = buf, lines, line_no
    else:
        keep = np.flatnonzero(~odd & ~lines.blank)
        clean_buf = _join(buf, lines, keep)  # the blank lines between two kept ones come along: not indexed
        clean_lines = index_lines(np.frombuffer(clean_buf, dtype=np.uint8), blank=False)
        clean_no = line_no[keep]
        if len(clean_lines) != keep.size:  # pragma: no cover - a bug, not a user error
            raise AssertionError("joined lines must keep their count")
    _bisect(clean_buf, clean_lines, clean_no, rej, tables, numbers)

    spaces = 0
    candidates: list[tuple[int, bytes]] = []
    view = memoryview(buf)
    for i in odd_idx.tolist():
        if deep is not None and deep[i]:
            rej.add(int(line_no[i]), "malformed-json", f"nested more than {MAX_JSON_DEPTH} levels deep (not read)")
            continue
        raw = bytes(view[int(lines.starts[i]) : int(lines.nexts[i])]).strip()
        if not raw:
            spaces += 1
        elif raw[:1] == b"{" and raw[-1:] == b"}":
            candidates.append((int(line_no[i]), raw))
        else:
            rej.add(int(line_no[i]), *classify_line(raw))
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
    joined = _join(buf, lines, keep)
    _bisect(joined, index_lines(np.frombuffer(joined, dtype=np.uint8)), line_no[keep], rej, tables, numbers, None)


__all__ = ["FALLBACK_BLOCK", "GIVE_UP_AFTER", "not_a_log", "read_native"]
