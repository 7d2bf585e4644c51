"""Compressed input, told by its first bytes and opened in one place, with one cap on what it inflates to.

recipemut reads gzip and zstd logs and traces (zstd through pyarrow's codec); a stream compressed
with xz, lz4 or bzip2 is recognised (:func:`compressed_with`, which names zstd too, for the files
that are never read compressed, such as recipes) so that a reader can refuse it with the command
that decompresses it. Compression is always told by content (magic bytes), never by a file's name:
a plain log named ``x.jsonl.gz`` is plain.

No input is ever inflated beyond :data:`MAX_DECOMPRESSED` bytes; a gzip or zstd log is held to
:func:`gzip_limit`, which also scales with its compressed size so that a bomb is refused long
before that: :func:`inflate` stops there, and the stream of :func:`open_decompressed` raises
:class:`InflatesTooFar` past it. The functions here raise what the decompressor raises (``OSError``,
``EOFError``, ``zlib.error``: :data:`STREAM_ERRORS`); each reader words it for its own messages.

>>> import gzip
>>> is_gzip(gzip.compress(b"{}")), is_gzip(b"{}"), gunzip_head(gzip.compress(b'{"op": "a"}'))
(True, False, b'{"op": "a"}')
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any, BinaryIO

#: the first bytes of a gzip stream, and of a zstd frame
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: a zstd skippable frame's magic, little-endian 0x184D2A50 to 0x184D2A5F (its low 4 bits free), then its
#: 4-byte size: a valid zstd file may open with one (metadata) before its first frame
ZSTD_SKIPPABLE = range(0x184D2A50, 0x184D2A60)
#: the most bytes any input (plain, gzip or standard input) is read to, whatever its compression ratio
MAX_DECOMPRESSED = 16 * 1024**3
#: a gzip log may always inflate to this many bytes ...
GZIP_FREE_BYTES = 64 * 1024**2
#: ... beyond that, at most this many times its own size (span logs gzip about 10x and zstd about
#: 15x, bombs 1000x and more)
MAX_GZIP_RATIO = 100
#: what a gzip log is taken to inflate to, times its size, when its trailer cannot say: the most
#: the span logs measured reach (generated logs of three recipes and the shipped checkout log:
#: 9.1 to 9.6 at gzip's default level, 10.2 at -9)
GZIP_RATIO = 11
#: the most a gzip file's trailer (ISIZE) is believed to say its content is, times its size: twice
#: :data:`GZIP_RATIO`; past it the last four bytes are taken for a cut file's compressed data
PLAUSIBLE_RATIO = 2 * GZIP_RATIO
#: what reading a broken or cut gzip stream raises
STREAM_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error)
#: the first bytes of compressed streams recipemut does not read, and the tool that decompresses each
COMPRESSED_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (ZSTD_MAGIC, "zstd", "zstd -dc"),
    (b"\xfd7zXZ\x00", "xz", "xz -dc"),
    (b"\x04\x22\x4d\x18", "lz4", "lz4 -dc"),
    (b"BZh", "bzip2", "bzip2 -dc"),
)
_INFLATE_CHUNK = 1 << 24  # bytes per read while inflating a whole stream
#: a sparse file's hole this long or more (a crash's tail, ``truncate -s``) is refused unread by the readers
#: that hold a plain file whole (:func:`inflate`, the OTLP fast path): no JSON holds a NUL
HOLE_BYTES = 64 << 20
_MAX_EXTENTS = 4096  # a sparse file's data and holes are walked this many times at most

#: a file name as the functions here take it
StrPath = str | os.PathLike[str]


def is_gzip(head: bytes) -> bool:
    """Whether bytes that start a file start a gzip stream."""
    return head[:2] == GZIP_MAGIC


def is_gzip_file(path: StrPath) -> bool:
    """Whether the file ``path`` holds a gzip stream (its first two bytes)."""
    with open(path, "rb") as f:
        return is_gzip(f.read(2))


def is_zstd(head: bytes) -> bool:
    """Whether bytes that start a file start a zstd frame, or a skippable frame (which a zstd file may open with).

    >>> is_zstd(b"\\x28\\xb5\\x2f\\xfd\\x00"), is_zstd(b"\\x5a\\x2a\\x4d\\x18\\x00"), is_zstd(b"{}")
    (True, True, False)
    """
    return head[:4] == ZSTD_MAGIC or (len(head) >= 4 and int.from_bytes(head[:4], "little") in ZSTD_SKIPPABLE)


def packed_with(path: StrPath) -> str:
    """``"gzip"`` or ``"zstd"`` for a file holding a stream recipemut inflates, else ``""``."""
    with open(path, "rb") as f:
        head = f.read(4)
    return "gzip" if is_gzip(head) else "zstd" if is_zstd(head) else ""


class InflatesTooFar(OSError):
    """A compressed stream read past its limit (:func:`gzip_limit`): a possible bomb."""

    def __init__(self, kind: str, limit: int, size: int) -> None:
        super().__init__(f"{kind} log inflates beyond {limit} bytes (over {limit // max(size, 1)}x its {size} bytes)")
        self.kind, self.limit, self.size = kind, limit, size


class CutShort(bytes):
    """Content read from a compressed stream that ends early (cut: a log rotated or copied while it was
    being written): every byte the decompressor gave before the cut, so the last line is usually cut
    too. ``kind`` (``gzip``/``zstd``), ``error`` (what the decompressor said), ``total`` (the content
    bytes recovered from the whole stream, these included) and ``junk`` (the byte of the file where junk
    after a whole stream starts, for a :class:`TrailingJunk`; else None) say so.

    >>> c = CutShort(b'{"a": 1}\\n{"a"', "gzip", "ended early", 14)
    >>> c.kind, bytes(c).rsplit(b"\\n", 1)[1], c.total
    ('gzip', b'{"a"', 14)
    """

    kind: str
    error: str
    total: int
    junk: int | None
    lines: int = 0  #: lines of the content before these bytes (a reader of chunks sets it)

    def __new__(
        cls, data: bytes | bytearray | memoryview, kind: str, error: str | BaseException, total: int,
        junk: int | None = None,
    ) -> CutShort:
        out = super().__new__(cls, data)
        out.kind, out.error, out.total = kind, str(error), total
        out.junk = error.at if isinstance(error, TrailingJunk) else junk
        return out


class TrailingJunk(EOFError):
    """Bytes after a gzip stream's last complete member or a zstd file's last complete frame that are no
    member or frame (junk appended, a file written over a longer one): the content ends there, as
    ``gzip -dc`` ("trailing garbage ignored") and ``zstd -dc`` read it. ``at`` is the byte of the file
    where the junk starts. Read as a cut is (:func:`is_cut`): the content before it is kept, and said.

    >>> e = TrailingJunk("gzip", 8_309_789)
    >>> str(e), CutShort(b"", "gzip", e, 0).junk, CutShort(b"", "zstd", "Truncated compressed stream", 0).junk
    ('gzip stream followed by junk from byte 8309789', 8309789, None)
    """

    def __init__(self, kind: str, at: int) -> None:
        super().__init__(f"{kind} stream followed by junk from byte {at}")
        self.kind, self.at = kind, at


class SparseHole(OSError):
    """A hole of :data:`HOLE_BYTES` or more in a plain file a reader would hold whole (:func:`big_hole`).

    >>> str(SparseHole(75_175, 629_145_600))
    'a hole of 629,145,600 bytes at byte 75,175 (a sparse file: NUL bytes never written, which no JSON holds; not read)'
    """

    def __init__(self, at: int, length: int) -> None:
        why = "a sparse file: NUL bytes never written, which no JSON holds; not read"
        super().__init__(f"a hole of {length:,} bytes at byte {at:,} ({why})")
        self.at, self.length = at, length


def holes(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """``(start, length)`` of each hole in the first ``size`` bytes of the file open as ``fd`` by ``SEEK_DATA``
    and ``SEEK_HOLE`` (at most :data:`_MAX_EXTENTS` extents; none unless fewer bytes are allocated than its
    size, nor past a seek that fails); the file's offset is put back."""
    size = min(size, (st := os.fstat(fd)).st_size)
    if not hasattr(os, "SEEK_DATA") or not hasattr(os, "SEEK_HOLE") or st.st_blocks * 512 >= size:
        return
    pos, offset = 0, os.lseek(fd, 0, os.SEEK_CUR)
    try:
        for _ in range(_MAX_EXTENTS):
            try:
                data = min(os.lseek(fd, pos, os.SEEK_DATA), size)
            except OSError as e:  # ENXIO: a hole to the end
                if e.errno != errno.ENXIO:
                    raise
                data = size
            if data > pos:
                yield pos, data - pos
            if data >= size or (pos := os.lseek(fd, data, os.SEEK_HOLE)) >= size:
                return
    except OSError:  # a seek that fails: nothing more is known
        return
    finally:
        os.lseek(fd, offset, os.SEEK_SET)


def big_hole(fd: int, size: int, least: int = HOLE_BYTES) -> SparseHole | None:
    """The first hole of ``least`` bytes or more in the first ``size`` bytes of ``fd`` (:func:`holes`), or None."""
    return next((SparseHole(at, n) for at, n in holes(fd, size) if n >= least), None)


def _fcs_field(fhd: int) -> tuple[int, int]:
    """Where a zstd frame's Frame_Content_Size field starts (bytes from the frame's start) and its length
    (0: absent), from the Frame_Header_Descriptor ``fhd`` (RFC 8878, 3.1.1.1.1)."""
    fcs_flag, single, dict_flag = fhd >> 6, (fhd >> 5) & 1, fhd & 3
    fcs_len = (1, 2, 4, 8)[fcs_flag] if fcs_flag or single else 0
    return 5 + (0 if single else 1) + (0, 1, 2, 4)[dict_flag], fcs_len


def zstd_frames_end(f: IO[bytes], size: int) -> int:
    """The byte of the file ``f`` (seekable, ``size`` bytes) where its run of whole zstd frames (skippable
    ones included) from its start ends: ``size`` for a whole file, less when junk follows; walked by the
    frame and block headers (no decompression). A frame cut short ends the run at its own start."""
    at = 0
    while at + 4 <= size:
        f.seek(at)
        head = f.read(18)
        magic = int.from_bytes(head[:4], "little")
        if magic in ZSTD_SKIPPABLE and len(head) >= 8:
            nxt = at + 8 + int.from_bytes(head[4:8], "little")
            if nxt > size:
                return at
            at = nxt
            continue
        if head[:4] != ZSTD_MAGIC or len(head) < 6:
            return at
        fhd = head[4]
        fcs_at, fcs_len = _fcs_field(fhd)
        pos = at + fcs_at + fcs_len
        while True:
            f.seek(pos)
            block = f.read(3)
            if len(block) < 3:
                return at
            bh = int.from_bytes(block, "little")
            pos += 3 + (1 if (bh >> 1) & 3 == 1 else bh >> 3)
            if bh & 1:
                break
        pos += 4 * ((fhd >> 2) & 1)
        if pos > size:
            return at
        at = pos
    return at


def is_cut(e: BaseException) -> bool:
    """Whether a decompressor's error says its stream ends early (the file is cut), not that it is corrupt:
    gzip's ``EOFError``, pyarrow's ``Truncated compressed stream``; and a stream followed by junk
    (:class:`TrailingJunk`: its content ends there)."""
    return isinstance(e, EOFError) or "Truncated compressed stream" in str(e)


#: a run of empty gzip members with no optional header fields (``gzip.compress(b"")``, ``gzip -c
#: </dev/null``: a fixed header, an empty final deflate block, CRC and size 0), skipped in one match
_EMPTY_MEMBERS = re.compile(rb"(?:\x1f\x8b\x08\x00[\x00-\xff]{6}\x03\x00\x00{8})+")
_ZEROS = re.compile(rb"\x00+")


def _member_header(buf: bytes, pos: int) -> bool:
    """Whether a gzip member's header opens ``buf`` at ``pos``, by its first four bytes (fewer: False):
    the magic, deflate (method 8), no reserved flag (zlib refuses the others)."""
    return len(buf) - pos >= 4 and buf.startswith(GZIP_MAGIC, pos) and buf[pos + 2] == 8 and not buf[pos + 3] & 0xE0


class _Gunzip:
    """A gzip stream (one member or several) decompressed by :mod:`zlib` into the caller's buffer, so that
    the bytes decompressed before the stream ends early are kept (``GzipFile.read`` drops the whole
    read); at that end it raises ``EOFError`` as ``GzipFile`` does, after :meth:`readinto` has said how
    many bytes it wrote (:attr:`pending_cut`); so is any error met after a read wrote bytes. A later
    member whose header is no gzip header (the magic, then an unknown method or reserved flags) is
    junk after the stream (:class:`TrailingJunk`): zlib's "unknown compression method" lost the read.

    The compressed bytes read are kept in one buffer and handed to each member's decompressor a slice
    at a time, the slice sized to the members seen (four times the last one, doubled while a member
    does not end in it): a decompressor that ends copies the input left after its member
    (``unused_data``), so a whole 1 MiB read handed to each of 800,000 empty members copied ~400 GB
    (87 s). Runs of empty members are skipped by one regular expression match, never decompressed."""

    _IN = 1 << 20  # compressed bytes read at a time
    _MIN_STEP = 64  # the smallest slice handed to a decompressor

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.z, self.done = raw, zlib.decompressobj(31), False
        self.buf, self.pos = b"", 0  # compressed bytes read, and where the unused ones start
        self.step = self._IN  # bytes of ``buf`` handed to the decompressor at a time
        self.between = True  # at the start or after a member: another member (or padding, junk) is next
        self.members = 0  # members started or skipped
        self.member = 0  # compressed bytes of the current member used so far
        self.pending_cut: BaseException | None = None
        self.fed = 0  # compressed bytes read from ``raw``: where junk after a member starts
        self.wrote = 0  # bytes of the current read written so far (kept when the stream fails later)

    def _read(self) -> bytes:
        data = self.raw.read(self._IN)
        self.fed += len(data)
        return data

    def _input(self) -> bool:
        """Whether compressed bytes are left (in ``buf`` from ``pos``, read when none is left)."""
        if self.pos >= len(self.buf):
            self.buf, self.pos = self._read(), 0
        return self.pos < len(self.buf)

    def _next_member(self) -> bool:
        """Past a member: skip empty members and zero padding, however long; False at the stream's end
        (:attr:`done`; with :attr:`pending_cut` set when junk follows: the content ends there, gzip -dc's
        rule). The first member is left to the decompressor, whatever the file starts with."""
        while self._input():
            if (m := _EMPTY_MEMBERS.match(self.buf, self.pos)) is not None:
                self.pos, self.members = m.end(), self.members + (m.end() - m.start()) // 20
                continue
            if not self.members:
                return True
            if self.buf[self.pos] == 0:
                z = _ZEROS.match(self.buf, self.pos)
                self.pos = z.end() if z is not None else self.pos + 1
                continue
            if len(self.buf) - self.pos < 4:  # the magic, method and flags may end in the next read
                self.buf, self.pos = self.buf[self.pos :] + self._read(), 0
            fewer = len(self.buf) - self.pos < 4  # the file ends: a cut member, if the magic opens it
            if not self.buf.startswith(GZIP_MAGIC, self.pos) or not (fewer or _member_header(self.buf, self.pos)):
                self.done = True
                self.pending_cut = TrailingJunk("gzip", self.fed - (len(self.buf) - self.pos))
                return False
            return True
        if not self.members:  # an empty file: to the decompressor, which finds it cut
            return True
        self.done = True
        return False

    def _small_members(self, view: memoryview, n: int) -> int:
        """Members one after another in ``buf``, each decompressed whole from one slice, in a loop of
        local names (a third of the time per member of the general path: 800,000 small members); the
        first that does not end in its slice is handed to the general path. Returns ``n`` advanced."""
        data, pos, step, members = self.buf, self.pos, self.step, self.members
        whole, size = memoryview(data), len(view)
        new, empty, most, least = zlib.decompressobj, _EMPTY_MEMBERS.match, self._IN, self._MIN_STEP
        while n < size and _member_header(data, pos):
            if (m := empty(data, pos)) is not None:
                members += (m.end() - pos) // 20
                pos = m.end()
                continue
            z = new(31)
            chunk = whole[pos : pos + step]
            got = z.decompress(chunk, size - n)
            members += 1
            if got:
                view[n : n + len(got)] = got
                n += len(got)
                self.wrote = n
            if not z.eof:  # a longer member: the general path goes on with it
                used = len(chunk) - len(z.unconsumed_tail)
                self.z, self.between, self.member = z, False, used
                pos += used
                if used == len(chunk):
                    step = min(2 * step, most)
                break
            used = len(chunk) - len(z.unused_data)
            pos += used
            step = min(max(4 * used, least), most)
        self.pos, self.step, self.members = pos, step, members
        return n

    def readinto(self, buf: Any) -> int:
        if self.pending_cut is not None:
            raise self.pending_cut
        view = memoryview(buf).cast("B")
        self.wrote = 0
        try:
            return self._fill(view)
        except STREAM_ERRORS as e:
            if not self.wrote:
                raise
            self.done, self.pending_cut = True, e  # the bytes written first are the caller's
            return self.wrote

    def _fill(self, view: memoryview) -> int:  # readinto's work, ``wrote`` kept to the bytes written so far
        n = 0
        while n < len(view) and not self.done:
            self.wrote = n
            if self.between and self.members and _member_header(self.buf, self.pos):
                n = self._small_members(view, n)
                continue
            if self.between:
                if not self._next_member():
                    if self.pending_cut is not None and not n:
                        raise self.pending_cut
                    break
                self.z, self.between, self.member = zlib.decompressobj(31), False, 0
                self.members += 1
            if not self._input():
                got = self.z.decompress(b"", len(view) - n)  # output the decompressor still holds, if any
                self.between = self.z.eof
                if not got and not self.z.eof:
                    self.pending_cut = EOFError("Compressed file ended before the end-of-stream marker was reached")
                    if n:
                        return n
                    raise self.pending_cut
            else:
                chunk = memoryview(self.buf)[self.pos : self.pos + self.step]
                got = self.z.decompress(chunk, len(view) - n)
                used = len(chunk) - len(self.z.unused_data if self.z.eof else self.z.unconsumed_tail)
                self.pos += used
                self.member += used
                if self.z.eof:
                    self.between = True
                    self.step = min(max(4 * self.member, self._MIN_STEP), self._IN)
                elif used == len(chunk):
                    self.step = min(2 * self.step, self._IN)
            view[n : n + len(got)] = got
            n += len(got)
        return n


class _Capped:
    """A decompressing binary stream that raises :class:`InflatesTooFar` once more than ``limit``
    bytes have come out of it, and that ends at a cut (the stream ends early) with what came out
    before it: :attr:`cut` is then the decompressor's error, and the :meth:`read` that met it returns
    a :class:`CutShort`. Any other error (a corrupt stream) is raised."""

    def __init__(
        self, inner: Any, kind: str, limit: int, size: int, frames_end: Callable[[], int] | None = None
    ) -> None:
        self.inner, self.kind, self.limit, self.size, self.seen = inner, kind, limit, size, 0
        self.frames_end = frames_end  # a zstd file's :func:`zstd_frames_end`, asked when a frame is unknown
        self.cut: BaseException | None = None

    def _count(self, n: int) -> int:
        self.seen += n
        if self.seen > self.limit:
            raise InflatesTooFar(self.kind, self.limit, self.size)
        return n

    def readinto(self, buf: Any) -> int:
        """Fill ``buf`` (up to the limit, and one byte past it to tell that it is passed) from the stream."""
        if self.cut is not None:
            return 0
        view = memoryview(buf).cast("B")
        room = self.limit + 1 - self.seen if self.seen <= self.limit else 1
        view = view[: max(min(len(view), room), 0)]
        if self.kind == "zstd":  # every read: junk may stop one far from the file's end, over an earlier read's bytes
            _zero(view)  # pyarrow's reader writes into ``view`` before it fails: what it wrote is told from NULs
        try:
            return self._count(self.inner.readinto(view))
        except STREAM_ERRORS as e:
            junk = self._junk(e)
            if not is_cut(e) and junk is None:
                raise
            self.cut = junk or e
        if self.kind == "gzip":  # _Gunzip returned what it wrote before the cut, and raises on the next read
            return 0
        return self._count(len(bytes(view).rstrip(b"\0")))  # content never holds NUL: a log with one is binary

    def _junk(self, e: BaseException) -> TrailingJunk | None:
        """For a zstd stream, the junk after its last whole frame that ``e`` (an unknown frame) met, if so."""
        if self.kind != "zstd" or self.frames_end is None or "Unknown frame descriptor" not in str(e):
            return None
        try:
            end = self.frames_end()
        except OSError:
            return None
        return TrailingJunk("zstd", end) if 0 < end < self.size else None

    def read(self, n: int = -1) -> bytes:
        """At most ``n`` bytes (all that is left when ``n`` is negative); a :class:`CutShort` when the
        stream ends early in this read."""
        parts: list[bytes] = []
        left = n if n is not None and n >= 0 else -1
        while left != 0 and self.cut is None:
            buf = bytearray(min(left, _INFLATE_CHUNK) if left > 0 else _INFLATE_CHUNK)
            got = self.readinto(buf)
            if not got:
                break
            parts.append(bytes(memoryview(buf)[:got]) if got < len(buf) else bytes(buf))
            left = left - got if left > 0 else -1
        data = b"".join(parts)
        if self.cut is not None and not self.seen:  # cut before its first byte: not a readable stream
            raise self.cut
        if self.cut is not None and data:
            return CutShort(data, self.kind, self.cut, self.seen)
        return data


def _zero(view: memoryview) -> None:
    """Set every byte of ``view`` (writable) to 0, in place."""
    if len(view):
        ctypes.memset(ctypes.addressof(ctypes.c_char.from_buffer(view)), 0, len(view))


def compressed_with(head: bytes) -> tuple[str, str] | None:
    """``(compression, command that decompresses it to stdout)`` for a zstd, xz, lz4 or bzip2 stream,
    from its first bytes; ``None`` for anything else (plain text, gzip).

    >>> compressed_with(b"\\x28\\xb5\\x2f\\xfd\\x00"), compressed_with(b"BZh91AY&SY"), compressed_with(b"BZh!")
    (('zstd', 'zstd -dc'), ('bzip2', 'bzip2 -dc'), None)
    """
    if is_zstd(head):  # a skippable frame first too
        return "zstd", "zstd -dc"
    for magic, name, command in COMPRESSED_MAGIC:
        if head.startswith(magic) and (name != "bzip2" or (len(head) > 3 and 0x31 <= head[3] <= 0x39)):
            return name, command
    return None


def gzip_limit(compressed_size: int) -> int:
    """Bytes a gzip log of ``compressed_size`` bytes may inflate to before it is refused as a gzip bomb.

    At least :data:`GZIP_FREE_BYTES`, else :data:`MAX_GZIP_RATIO` times its size, never beyond
    :data:`MAX_DECOMPRESSED`.

    >>> gzip_limit(1_000) == GZIP_FREE_BYTES
    True
    >>> gzip_limit(10 * 1024**2) // 1024**2
    1000
    """
    return min(MAX_DECOMPRESSED, max(GZIP_FREE_BYTES, MAX_GZIP_RATIO * compressed_size))


def gzip_content_size(trailer: bytes, size: int, ratio: float = GZIP_RATIO) -> int:
    """The content size of a gzip file of ``size`` bytes whose last four bytes (or ten: see below) are
    ``trailer`` (ISIZE: the last member's content size modulo 4 GiB), for a memory estimate.

    ISIZE is taken only where a log's content can be: from ``size`` to :data:`PLAUSIBLE_RATIO`
    (twice :data:`GZIP_RATIO`) times ``size``. Below, the file is several members (the trailer is the last
    one's); beyond, it is no trailer: a cut file ends in compressed data, whose last four bytes are
    random (a window up to the 100x :func:`gzip_limit` took them as the size of 14% of cuts at 6 MB,
    nearly all at 43 MB). Either way ``ratio`` times ``size`` stands in. A file whose
    :func:`gzip_limit` reaches 4 GiB (over 42.9 MB) may have wrapped ISIZE: it is raised by the
    multiple of 4 GiB that brings it nearest to ``ratio`` times ``size``, and held to the same bound.

    >>> gzip_content_size((5_000).to_bytes(4, "little"), 600), gzip_content_size(b"\\x10\\0\\0\\0", 600)
    (5000, 6600)
    >>> gzip_content_size(b"\\xff\\xff\\xff\\xf0", 3_000_000)  # a cut file's last bytes: no trailer
    33000000
    >>> gzip_content_size((597_338_377).to_bytes(4, "little"), 5_980_561)  # 100x its size: a cut file's bytes
    65786171
    >>> gzip_content_size((1_000_000_000).to_bytes(4, "little"), 1 << 30) == 1_000_000_000 + 3 * (1 << 32)
    True

    Given the file's last 10 bytes (or more), a file that ends in a member's fixed header (cut just after
    it: its last four bytes are the header's MTIME, XFL and OS, about 50 MB whatever the file) has no trailer:

    >>> gzip_content_size(bytes.fromhex("1f8b0800000000000203"), 3_000_000)  # ISIZE would say 50,462,720
    33000000
    """
    if len(trailer) >= 10 and trailer[-10:-8] == GZIP_MAGIC and trailer[-8] == 8:  # deflate: a header, no trailer
        return int(size * ratio)
    trailer = trailer[-4:]
    if len(trailer) != 4:
        return int(size * ratio)
    isize = int.from_bytes(trailer, "little")
    if gzip_limit(size) >= 1 << 32:
        isize += max(0, round((size * ratio - isize) / (1 << 32))) * (1 << 32)
    return isize if size <= isize <= PLAUSIBLE_RATIO * size else int(size * ratio)


def zstd_frame_content_size(head: bytes) -> int | None:
    """The Frame_Content_Size of the zstd frame that ``head`` (a file's first 18 bytes or more)
    starts with; None when its header does not hold one (a streamed frame) or it is no zstd frame.

    >>> zstd_frame_content_size(bytes.fromhex("28b52ffda0a0860100")), zstd_frame_content_size(ZSTD_MAGIC + b"\\0H")
    (100000, None)
    """
    if len(head) < 6 or head[:4] != ZSTD_MAGIC:  # a data frame's header: a skippable frame states no content
        return None
    at, fcs_len = _fcs_field(head[4])
    if not fcs_len or len(head) < at + fcs_len:
        return None
    return int.from_bytes(head[at : at + fcs_len], "little") + (256 if fcs_len == 2 else 0)


def gunzip_head(head: bytes, size: int = 65536) -> bytes:
    """As much of a gzip stream's start as ``head`` holds, decompressed (at most ``size`` bytes);
    ``b""`` when it is not a readable gzip stream.

    >>> import gzip
    >>> gunzip_head(gzip.compress(b'{"resourceSpans": []}'))
    b'{"resourceSpans": []}'
    """
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, size)
    except zlib.error:
        return b""


@contextlib.contextmanager
def open_decompressed(path: StrPath, limit: int | None = None) -> Iterator[BinaryIO]:
    """The content of the file ``path`` as a binary stream: gunzipped when it is gzip, decompressed
    when it is zstd, else as it is. A compressed stream raises :class:`InflatesTooFar` past
    ``limit`` bytes (default :func:`gzip_limit` of the file's size)."""
    with open(path, "rb") as raw:
        kind = packed_with(path)
        if not kind:
            yield raw
            return
        size = os.fstat(raw.fileno()).st_size
        cap = gzip_limit(size) if limit is None else limit
        if kind == "gzip":
            yield _Capped(_Gunzip(raw), kind, cap, size)  # type: ignore[misc]  # a binary stream
            return
        import pyarrow as pa  # only for zstd: the files layer does not need it otherwise

        osfile = pa.OSFile(os.fspath(path))

        def frames_end() -> int:
            with open(path, "rb") as f:
                return zstd_frames_end(f, size)

        with pa.CompressedInputStream(osfile, "zstd") as z:
            yield _Capped(z, kind, cap, size, frames_end)  # type: ignore[misc]


@contextlib.contextmanager
def decompressing(raw: IO[bytes], size: int, limit: int | None = None) -> Iterator[IO[bytes]]:
    """:func:`open_decompressed` for a file already open (a URL's, through fsspec): ``raw``, read from
    its start, gunzipped or zstd-decompressed when it is either (else as it is), raising
    :class:`InflatesTooFar` past ``limit`` bytes (default :func:`gzip_limit` of ``size``, its bytes)."""
    raw.seek(0)
    head = raw.read(4)
    raw.seek(0)
    kind = "gzip" if is_gzip(head) else "zstd" if is_zstd(head) else ""
    if not kind:
        yield raw
        return
    cap = gzip_limit(size) if limit is None else limit
    if kind == "gzip":
        yield _Capped(_Gunzip(raw), kind, cap, size)  # type: ignore[misc]
        return
    import pyarrow as pa

    with pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), "zstd") as z:  # raw is not read on after a failure
        yield _Capped(z, kind, cap, size, lambda: zstd_frames_end(raw, size))  # type: ignore[misc]


def read_head(path: StrPath, size: int) -> bytes:
    """The first ``size`` bytes of the content of ``path`` (decompressed when gzip or zstd): what
    formats are told from. Raises :data:`STREAM_ERRORS` for an unreadable file or stream."""
    with open_decompressed(path, MAX_DECOMPRESSED) as f:
        return f.read(size)


def inflate(path: StrPath, limit: int = MAX_DECOMPRESSED) -> tuple[bytes | bytearray, BaseException | None]:
    """The content of ``path`` (decompressed when gzip or zstd), read to at most ``limit + 1`` bytes,
    and the error that cut a compressed stream short (``None`` when it ended properly).

    More than ``limit`` bytes returned means the content is larger than ``limit`` (reading stopped
    there: a gzip bomb never fills memory). A stream that fails before its first byte raises the
    error; one that ends early (cut: :func:`is_cut`) or fails later returns every byte decompressed
    before that with the error, for the caller to refuse or warn about. A plain file is read in one
    call (no copy); one with a hole of :data:`HOLE_BYTES` or more raises :class:`SparseHole` unread.
    """
    with open(path, "rb") as raw:
        if not packed_with(path):  # asked for no more than the file holds: read(n) sets n bytes aside first
            size = os.fstat(raw.fileno()).st_size
            if (hole := big_hole(raw.fileno(), min(limit + 1, size))) is not None:
                raise hole  # before the read: the hole would be allocated, gigabytes of NULs
            return raw.read(min(limit, size) + 1), None
    out = bytearray()
    try:
        with open_decompressed(path, max(limit, MAX_DECOMPRESSED) + 1) as f:
            buf = memoryview(bytearray(_INFLATE_CHUNK))
            while len(out) <= limit:
                got = f.readinto(buf[: min(_INFLATE_CHUNK, limit + 1 - len(out))])  # type: ignore[attr-defined]
                if not got:
                    break
                out += buf[:got]
            cut = f.cut if isinstance(f, _Capped) else None
    except STREAM_ERRORS as e:
        if not out:
            raise
        return out, e
    if cut is not None and not out:
        raise cut
    return out, cut


__all__ = [
    "COMPRESSED_MAGIC",
    "GZIP_FREE_BYTES",
    "GZIP_MAGIC",
    "GZIP_RATIO",
    "HOLE_BYTES",
    "MAX_DECOMPRESSED",
    "MAX_GZIP_RATIO",
    "PLAUSIBLE_RATIO",
    "STREAM_ERRORS",
    "ZSTD_MAGIC",
    "CutShort",
    "InflatesTooFar",
    "SparseHole",
    "TrailingJunk",
    "big_hole",
    "compressed_with",
    "decompressing",
    "gunzip_head",
    "gzip_content_size",
    "gzip_limit",
    "holes",
    "inflate",
    "is_cut",
    "is_gzip",
    "is_gzip_file",
    "is_zstd",
    "open_decompressed",
    "packed_with",
    "read_head",
    "zstd_frame_content_size",
    "zstd_frames_end",
]
