"""Streaming native ingest: a JSONL log (plain or gzip) read in chunks of whole lines, each parsed by the
columnar native reader (:func:`recipemut.logs.native.read_native`), checked, and handed to a
:class:`~recipemut.logs.sample.Sampler`, so that what stays in memory is the sample, not the file.

Each chunk is :data:`CHUNK_BYTES` of content (less under a small memory budget:
:func:`~recipemut.logs.sample.chunk_bytes_for`) cut after its last line end; line numbers, rejected
lines and their examples are those of the file (a chunk's are shifted by the lines before it). A
gzip or zstd log cut short gives its complete lines, and its cut last line is rejected saying how
much was recovered (:func:`line_chunks`, :func:`read_chunk`; the whole read: :func:`whole_content`).
The first :data:`~recipemut.logs.native.GIVE_UP_AFTER` non-blank lines all bad still make the file
"not a span log", and ``strict`` still stops at the first bad line; a later chunk that opens with as
many bad lines (a damaged stretch) is read on, those lines rejected and counted (:func:`read_chunk`).
"""

from __future__ import annotations

import errno
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from recipemut.errors import LogError
from recipemut.files.compressed import (
    STREAM_ERRORS,
    CutShort,
    InflatesTooFar,
    TrailingJunk,
    gzip_limit,
    inflate,
    is_cut,
    open_decompressed,
    packed_with,
)
from recipemut.files.progress import Progress
from recipemut.logs.checks import check_spans
from recipemut.logs.detect import UTF8_BOM
from recipemut.logs.lines import MAX_LINE_BYTES, changed_while_read, long_line_message
from recipemut.logs.native import GIVE_UP_AFTER, not_a_log, read_native
from recipemut.logs.report import MAX_EXAMPLES, Rejection, Rejects
from recipemut.logs.sample import MAX_CHUNK_BYTES, Sampler, content_size, human_bytes
from recipemut.logs.sources import too_far, unreadable
from recipemut.logs.spans import PARSE_SCHEMA

#: bytes of content per chunk (whole lines; a longer line makes its chunk longer) when no memory budget
#: says less (ingest reads a sampled log in chunks of :attr:`~recipemut.logs.sample.Sampler.chunk_bytes`)
CHUNK_BYTES = MAX_CHUNK_BYTES


def line_chunks(
    path: Path, name: str, chunk_bytes: int | None = None
) -> Iterator[tuple[memoryview | CutShort | LongLine, int]]:
    """The content of ``path`` (decompressed when gzip or zstd, up to the same limit as a whole read:
    :func:`~recipemut.files.compressed.gzip_limit`) in chunks of whole lines, each with the number of
    lines before it. A UTF-8 byte-order mark opening the file is left out. A chunk is ``chunk_bytes``
    of content (a memory budget's: :attr:`~recipemut.logs.sample.Sampler.chunk_bytes`), at most
    :data:`CHUNK_BYTES`.

    A compressed stream that ends early (a log cut while it was written) gives every complete line
    before the cut, then the cut line as a last :class:`~recipemut.files.compressed.CutShort` chunk
    (empty when the cut falls between lines), which :func:`read_chunk` rejects as cut.

    Each chunk is a view of a buffer the file was read into (no further copy), valid until the
    next one is asked for: parse it before.
    """
    chunk_bytes = min(chunk_bytes or CHUNK_BYTES, CHUNK_BYTES)  # a memory budget's chunk, never more than that
    offset = 0
    carry = b""
    first = True
    cut: BaseException | None = None
    try:
        with open_decompressed(path) as f:
            plain = isinstance(f, io.BufferedReader)
            size = os.fstat(f.fileno()).st_size if plain else 0
            taken = 0  # bytes read (of a plain file: fewer than its size is a file cut while read)
            buf: bytearray | bytes
            while True:
                buf = bytearray(len(carry) + chunk_bytes)
                memoryview(buf)[: len(carry)] = carry  # (a bytearray slice assignment copies ``carry`` first)
                held, carry = len(carry), b""  # in ``buf`` now: not held twice
                room = memoryview(buf)[held:]
                if plain:  # read as it was when opened: what a writer appends since is not this read's
                    room = room[: max(size - taken, 0)]
                got = f.readinto(room) if len(room) else 0  # type: ignore[attr-defined]
                room.release()  # a view held on ``buf`` would keep it alive once let go below
                if not got:
                    carry = bytes(memoryview(buf)[:held])
                    cut = getattr(f, "cut", None)
                    break
                taken += got
                end = held + got
                start = 3 if first and buf.startswith(UTF8_BOM) and end >= 3 else 0
                first = False
                at = buf.rfind(b"\n", start, end)
                if at < 0 and end - start <= MAX_LINE_BYTES:  # one copy of the open line, this buffer let go
                    carry = bytes(memoryview(buf)[start:end])
                    buf = bytearray()
                    continue
                nl = buf.find(b"\n", start, end)
                if nl < 0 or nl - start > MAX_LINE_BYTES:  # a line too long: never held whole
                    rest: bytes | None
                    if nl >= 0:
                        length, rest = nl - start, bytes(buf[nl + 1 : end])
                    else:
                        buf = bytearray()  # let go before reading on
                        length, rest, more = _skip_line(f, end - start)
                        taken += more
                    yield LongLine(length), offset
                    offset += 1
                    if rest is None:  # it ran to the end
                        carry = b""
                        cut = getattr(f, "cut", None)
                        break
                    buf, start, end, at = rest, 0, len(rest), rest.rfind(b"\n")
                    if at < 0:
                        carry = rest
                        continue
                carry = bytes(buf[at + 1 : end])
                yield memoryview(buf)[start : at + 1], offset
                offset += buf.count(b"\n", start, at + 1)
            seen = getattr(f, "seen", 0)
            if plain and taken < size:
                raise changed_while_read(name, size, os.fstat(f.fileno()).st_size)
    except InflatesTooFar as e:
        raise too_far(e, name) from None
    except STREAM_ERRORS as e:  # worded as a whole read words it: "not a readable zstd file (Truncated ...)"
        try:
            kind = packed_with(path)
        except OSError:
            kind = ""
        raise unreadable(e, kind, name) from None
    if cut is not None:
        if not seen:  # nothing before the cut: not a log that can be read at all
            raise unreadable(cut, packed_with(path), name)
        if isinstance(cut, TrailingJunk) and carry:  # the stream is whole: its last line is too, newline or not
            yield memoryview(carry), offset
            offset += 1
            carry = b""
        if not offset and not isinstance(cut, TrailingJunk):  # cut inside its first line: no line to read
            raise cut_in_first_line(cut, packed_with(path), name, len(carry))
        last = CutShort(carry, packed_with(path), cut, seen)
        last.lines = offset
        yield last, offset
    elif carry:
        yield memoryview(carry), offset


class LongLine(bytes):
    """A line longer than :data:`~recipemut.logs.lines.MAX_LINE_BYTES` that :func:`line_chunks` passed over
    unread (a crash's NUL-filled tail: one line of gigabytes), given as one chunk of one empty line
    that :func:`read_chunk` rejects (``malformed-json``) with its ``length`` in bytes."""

    length: int

    def __new__(cls, length: int) -> LongLine:
        out = super().__new__(cls, b"\n")
        out.length = length
        return out


def _skip_line(f: BinaryIO, length: int) -> tuple[int, bytes | None, int]:
    """Read ``f`` to the end of a line ``length`` bytes long so far, a block at a time (``memchr``):
    its whole length, the bytes after its line end (None: it ran to the end) and the bytes read."""
    block = bytearray(16 << 20)
    view = memoryview(block)
    read = 0
    fd = f.fileno() if isinstance(f, io.BufferedReader) and hasattr(os, "SEEK_DATA") else -1
    while True:
        if fd >= 0:  # a plain file: the holes of a sparse one hold no line end, and are passed over unread
            pos = f.tell()
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as e:  # ENXIO: a hole to the end (else no way to tell: read on)
                data = max(pos, os.fstat(fd).st_size) if e.errno == errno.ENXIO else pos
            f.seek(data)
            if data > pos:
                length += data - pos
                read += data - pos
        got = f.readinto(view)  # type: ignore[attr-defined]
        if not got:
            return length, None, read
        read += got
        nl = block.find(b"\n", 0, got)
        if nl >= 0:
            return length + nl, bytes(view[nl + 1 : got]), read
        length += got


def cut_in_first_line(cut: BaseException | str, kind: str, name: str, content: int) -> LogError:
    """The error of a compressed log cut before the end of its first line: no line to read, as unreadable
    as one cut inside its header (:func:`~recipemut.logs.sources.unreadable`), saying how much came out.

    >>> str(cut_in_first_line(EOFError("Compressed file ended early"), "gzip", "c.jsonl.gz", 130))
    'c.jsonl.gz: not a readable gzip file (Compressed file ended early; it ends inside its first line, after 130 B \
of content)'
    """
    said = f"; it ends inside its first line, after {human_bytes(content)} of content" if content else ""
    return unreadable(EOFError(f"{cut}{said}"), kind, name)


def cut_message(cut: CutShort, lines_before: int, content_before: int) -> str:
    """What the rejection of a cut line says: where the stream ends and what was read before it.

    The same words are a warning (the lines before it are read) and, under ``--strict``, the error that
    refuses the run: "unless --strict" keeps them true in both (they said "are recovered" while refusing).

    >>> cut_message(CutShort(b'{"a', "zstd", "Truncated compressed stream", 10), 91_811, 26_476_525)
    'the zstd stream ends early, inside this line (the file is cut: rotated or copied while written?); \
the 91,811 complete lines before it (25.2 MiB of content) are recovered unless --strict'
    >>> cut_message(CutShort(b"", "gzip", "gzip stream followed by junk from byte 900", 10, junk=900), 2, 10)
    'the gzip stream is followed by bytes that are not gzip from byte 900 of the file (junk appended?); \
they are ignored, as gzip -dc ignores them, and the 2 complete lines before them (10 B of content) are read \
unless --strict'
    """
    junk = cut.junk
    if junk is not None:  # the stream is whole, junk follows it: the content ends there (gzip -dc's rule)
        return (
            f"the {cut.kind} stream is followed by bytes that are not {cut.kind} from byte {junk:,} of the file "
            f"(junk appended?); they are ignored, as {cut.kind} -dc ignores them, and the {lines_before:,} "
            f"complete lines before them ({human_bytes(content_before)} of content) are read unless --strict"
        )
    where = "inside this line" if len(cut) else "here, after a complete line"
    return (
        f"the {cut.kind} stream ends early, {where} (the file is cut: rotated or copied while written?); "
        f"the {lines_before:,} complete lines before it ({human_bytes(content_before)} of content) are recovered "
        "unless --strict"
    )


def merge_rejects(into: Rejects, part: Rejects, offset: int) -> None:
    """Add the rejections of one chunk (line numbers of the chunk) to the file's, shifted by ``offset``."""
    for reason, count in part.counts.items():
        into.counts[reason] = into.counts.get(reason, 0) + count
    for reason, examples in part.examples.items():
        ex = into.examples.setdefault(reason, [])
        ex.extend(Rejection(into.file, e.line + offset, e.reason, e.message) for e in examples)
        ex.sort(key=lambda e: e.line)
        del ex[MAX_EXAMPLES:]
    if part.first is not None:
        first = Rejection(into.file, part.first.line + offset, part.first.reason, part.first.message)
        if into.first is None or first.line < into.first.line:
            into.first = first


def read_chunk(
    chunk: bytes | memoryview, name: str, rej: Rejects, *, first: bool
) -> tuple[pa.Table, np.ndarray, int, int]:
    """:func:`read_native` of one chunk of whole lines of a file (line numbers of the chunk).

    Only the file's first chunk (``first``) can be "not a span log": a later one that opens with
    :data:`GIVE_UP_AFTER` bad lines (a damaged stretch of the file) is read on in one call
    (``give_up=False``), its junk rejected in bulk as in a whole read. It was read
    :data:`GIVE_UP_AFTER` lines at a time, with two integers a line for the whole chunk: 64 MiB of
    ``x`` lines took 14.1 CPU s and 1,186 MB.
    """
    if isinstance(chunk, CutShort):
        return _read_cut(chunk, name, rej, first=first)
    if isinstance(chunk, LongLine):
        rej.add(1, "malformed-json", long_line_message(chunk.length))
        return PARSE_SCHEMA.empty_table(), np.zeros(0, np.int64), 1, 0
    return read_native(pa.py_buffer(chunk), name, rej, give_up=first)


def whole_content(path: Path, name: str) -> tuple[pa.Buffer, CutShort | None]:
    """The content of a gzip or zstd log read whole (:func:`~recipemut.files.compressed.inflate`, held to
    :func:`~recipemut.files.compressed.gzip_limit`), and, when its stream ends early, its complete lines
    only, with the cut line after them as a :class:`~recipemut.files.compressed.CutShort` for
    :func:`reject_cut` (the line chunks' rule: :func:`line_chunks`). The buffer is the content, not a copy."""
    size = path.stat().st_size
    limit = gzip_limit(size)
    kind = packed_with(path) or "gzip"
    try:
        out, cut = inflate(path, limit)
    except STREAM_ERRORS as e:
        raise unreadable(e, kind, name) from None
    if len(out) > limit:
        del out
        raise too_far(InflatesTooFar(kind, limit, size), name)
    if cut is None:
        return pa.py_buffer(out), None
    if not is_cut(cut):  # corrupt, not cut: refused, as the chunks refuse it
        raise unreadable(cut, kind, name)
    at = len(out) if isinstance(cut, TrailingJunk) else out.rfind(b"\n") + 1  # junk after it: its last line is whole
    if not at:
        raise cut_in_first_line(cut, kind, name, len(out))
    return pa.py_buffer(out).slice(0, at), CutShort(out[at:], kind, cut, len(out))


def reject_cut(rej: Rejects, cut: CutShort, lines_before: int) -> None:
    """Reject the cut line of a stream that ends early (:func:`cut_message`), numbered after the
    ``lines_before`` complete lines read before it."""
    rej.add(lines_before + 1, "cut-short", cut_message(cut, lines_before, cut.total - len(cut)))


def _read_cut(chunk: CutShort, name: str, rej: Rejects, *, first: bool) -> tuple[pa.Table, np.ndarray, int, int]:
    """:func:`read_chunk` of content that ends where its stream was cut: its complete lines read, the cut
    line after them rejected as cut (``cut-short``), saying how much was read before it. ``chunk``
    is the cut line alone (:func:`line_chunks`), or a whole content read in one go (a URL's)."""
    at = len(chunk) if chunk.junk is not None else chunk.rfind(b"\n") + 1
    if first and not at and not chunk.lines:  # a whole content (a URL's) cut inside its first line
        raise cut_in_first_line(chunk.error, chunk.kind, name, len(chunk))
    if at:
        table, lines, n_read, n_blank = read_chunk(memoryview(chunk)[:at], name, rej, first=first)
    else:
        table, lines, n_read, n_blank = PARSE_SCHEMA.empty_table(), np.zeros(0, np.int64), 0, 0
    rest = CutShort(chunk[at:], chunk.kind, chunk.error, chunk.total, chunk.junk)
    # numbered in the chunk (its reader shifts it by the lines before); counted in the whole file
    said = cut_message(rest, chunk.lines + n_read + n_blank, chunk.total - len(rest))
    rej.add(n_read + n_blank + 1, "cut-short", said)
    return table, lines, n_read + 1, n_blank


@dataclass
class Streamed:
    """One file read in chunks: the kept rows (sampled), their line numbers, lines read and blank."""

    table: pa.Table
    lines: np.ndarray
    lines_read: int
    blank: int


class DiskTicks:
    """A log's progress in its bytes on disk, told the bytes of content of each chunk read: a
    compressed log's content is scaled to its size on disk by its content size (gzip's trailer, zstd's
    frame header: :func:`~recipemut.logs.sample.content_size`), so that a bar moves chunk by chunk
    instead of waiting for the whole file; :meth:`finish` tells the rest of the file."""

    def __init__(self, progress: Progress, path: Path, size: int) -> None:
        self.progress, self.path, self.size, self.told, self.read = progress, path, size, 0, 0
        self.content = 0  # found at the first chunk: the file is opened only once its reader has checked it

    def __call__(self, content_bytes: int) -> None:
        if not self.content:
            try:
                self.content = max(content_size(self.path, packed_with(self.path), self.size), 1)
            except OSError:
                self.content = max(self.size, 1)
        self.read += content_bytes
        self._to(min(self.size, self.read * self.size // self.content))

    def finish(self) -> None:
        self._to(self.size)

    def _to(self, at: int) -> None:
        if at > self.told:
            self.progress.advance(at - self.told)
            self.told = at


def checked_chunks(
    path: Path, name: str, rej: Rejects, *, strict: bool = False, chunk_bytes: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> Iterator[tuple[pa.Table, np.ndarray, int, int]]:
    """A native JSONL log chunk by chunk: each chunk's checked rows, their line numbers, and the
    chunk's non-blank and blank line counts (rows may be none). Rejections go to ``rej`` with the
    file's line numbers. ``on_chunk`` is told each chunk's bytes of content once it is parsed (a
    :class:`DiskTicks`). Raises :class:`LogError` for a file that is not a span log, or on the first
    bad line under ``strict``."""
    nonblank_seen = 0
    good_seen = False
    for chunk, offset in line_chunks(path, name, chunk_bytes):
        part = Rejects(name)
        table, lines, r, b = read_chunk(chunk, name, part, first=offset == 0)
        if on_chunk is not None:
            on_chunk(len(chunk))
        del chunk
        merge_rejects(rej, part, offset)
        lines = lines + offset
        if table.num_rows:
            keep = check_spans(table, lines, rej)
            if not good_seen and nonblank_seen < GIVE_UP_AFTER and not strict:
                head = min(GIVE_UP_AFTER - nonblank_seen, keep.size)
                good_seen = bool(keep[:head].any())
                if not good_seen and nonblank_seen + keep.size >= GIVE_UP_AFTER:
                    raise not_a_log(name, int(lines[head - 1]), rej)
            nonblank_seen += int(keep.size)
            if not keep.all():
                table, lines = table.filter(pa.array(keep)), lines[keep]
        if strict and rej.first is not None:
            bad = rej.first
            raise LogError(f"{bad.message} [{bad.reason}] (--strict)", file=name, line=bad.line, code=bad.reason)
        yield table, lines, r, b


def read_native_sampled(
    path: Path, name: str, rej: Rejects, sampler: Sampler, *, strict: bool = False, chunk_bytes: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> Streamed:
    """Read a native JSONL log in chunks, keeping the spans ``sampler`` keeps (checked, recipe-filtered,
    sampled); ``on_chunk`` as :func:`checked_chunks`. Raises :class:`LogError` for a file that is not
    a span log, or on the first bad line under ``strict``."""
    tables: list[pa.Table] = []
    numbers: list[np.ndarray] = []
    n_read = n_blank = 0
    chunks = checked_chunks(path, name, rej, strict=strict, chunk_bytes=chunk_bytes, on_chunk=on_chunk)
    for table, lines, r, b in chunks:
        n_read += r
        n_blank += b
        table, lines = sampler.take(table, lines)
        if table.num_rows:
            tables.append(table)
            numbers.append(lines)
    out = pa.concat_tables(tables) if tables else PARSE_SCHEMA.empty_table()
    nums = np.concatenate(numbers) if numbers else np.zeros(0, np.int64)
    return Streamed(out, nums, n_read, n_blank)


__all__ = [
    "CHUNK_BYTES",
    "DiskTicks",
    "LongLine",
    "Streamed",
    "checked_chunks",
    "cut_in_first_line",
    "cut_message",
    "line_chunks",
    "merge_rejects",
    "read_chunk",
    "read_native_sampled",
    "reject_cut",
    "whole_content",
]
