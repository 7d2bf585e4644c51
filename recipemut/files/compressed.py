"""Compressed input, told by its first bytes and opened in one place, with one cap on what it inflates to.

recipemut reads gzip and zstd logs and traces (zstd through pyarrow's codec); a stream compressed
with xz, lz4 or bzip2 is recognised (:func:`compressed_with`, which names zstd too, for the files
that are never read compressed, such as recipes) so that a reader can refuse it with the command
that decompresses it.
Compression is always told by content (magic bytes), never by a file's name: a plain log named
``x.jsonl.gz`` is plain.

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
import gzip
import os
import zlib
from collections.abc import Iterator
from typing import IO, Any, BinaryIO

#: the first bytes of a gzip stream, and of a zstd frame
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
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
    """Whether bytes that start a file start a zstd frame.

    >>> is_zstd(b"\\x28\\xb5\\x2f\\xfd\\x00"), is_zstd(b"{}")
    (True, False)
    """
    return head[:4] == ZSTD_MAGIC


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


class _Capped:
    """A decompressing binary stream that raises :class:`InflatesTooFar` once more than ``limit``
    bytes have come out of it."""

    def __init__(self, inner: Any, kind: str, limit: int, size: int) -> None:
        self.inner, self.kind, self.limit, self.size, self.seen = inner, kind, limit, size, 0

    def _count(self, n: int) -> int:
        self.seen += n
        if self.seen > self.limit:
            raise InflatesTooFar(self.kind, self.limit, self.size)
        return n

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.limit + 1 - self.seen
        got = self.inner.read(min(n, self.limit + 1 - self.seen) if self.seen <= self.limit else 1)
        self._count(len(got))
        return bytes(got)

    def readinto(self, buf: Any) -> int:
        return self._count(self.inner.readinto(buf))


def compressed_with(head: bytes) -> tuple[str, str] | None:
    """``(compression, command that decompresses it to stdout)`` for a zstd, xz, lz4 or bzip2 stream,
    from its first bytes; ``None`` for anything else (plain text, gzip).

    >>> compressed_with(b"\\x28\\xb5\\x2f\\xfd\\x00"), compressed_with(b"BZh91AY&SY"), compressed_with(b"BZh!")
    (('zstd', 'zstd -dc'), ('bzip2', 'bzip2 -dc'), None)
    """
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
    """The content size of a gzip file of ``size`` bytes whose last four bytes are ``trailer``
    (ISIZE: the last member's content size modulo 4 GiB), for a memory estimate.

    A file whose :func:`gzip_limit` is under 4 GiB cannot hold more than that (the readers refuse
    it past its limit): ISIZE is its size, unless it is below ``size`` (then the file is several
    members, the trailer the last one's: ``ratio`` times ``size``). A larger file's ISIZE may have
    wrapped: it is raised by the multiple of 4 GiB that brings it nearest to ``ratio`` times ``size``.

    >>> gzip_content_size((5_000).to_bytes(4, "little"), 600), gzip_content_size(b"\\x10\\0\\0\\0", 600)
    (5000, 6600)
    >>> gzip_content_size((1_000_000_000).to_bytes(4, "little"), 1 << 30) == 1_000_000_000 + 3 * (1 << 32)
    True
    """
    if len(trailer) != 4:
        return int(size * ratio)
    isize = int.from_bytes(trailer, "little")
    if gzip_limit(size) < 1 << 32:
        return isize if isize >= size else int(size * ratio)
    return isize + max(0, round((size * ratio - isize) / (1 << 32))) * (1 << 32)


def zstd_frame_content_size(head: bytes) -> int | None:
    """The Frame_Content_Size of the zstd frame that ``head`` (a file's first 18 bytes or more)
    starts with; None when its header does not hold one (a streamed frame) or it is no zstd frame.

    >>> zstd_frame_content_size(bytes.fromhex("28b52ffda0a0860100")), zstd_frame_content_size(ZSTD_MAGIC + b"\\0H")
    (100000, None)
    """
    if len(head) < 6 or not is_zstd(head):
        return None
    fhd = head[4]
    fcs_flag, single, dict_flag = fhd >> 6, (fhd >> 5) & 1, fhd & 3
    fcs_len = (1, 2, 4, 8)[fcs_flag] if (fcs_flag or single) else 0
    at = 5 + (0 if single else 1) + (0, 1, 2, 4)[dict_flag]
    if not fcs_len or len(head) < at + fcs_len:
        return None
    return int.from_bytes(head[at : at + fcs_len], "little") + (256 if fcs_len == 2 else 0)


def gunzip_head(head: bytes, size: int = 65536) -> bytes:
    """As much of a gzip stream's start as ``head`` holds, decompressed (at most ``size`` bytes);
    ``b""`` when it is not a readable gzip stream.

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
            with gzip.GzipFile(fileobj=raw) as f:
                yield _Capped(f, kind, cap, size)  # type: ignore[misc]  # a binary stream
            return
        import pyarrow as pa  # only for zstd: the files layer does not need it otherwise

        with pa.CompressedInputStream(pa.OSFile(os.fspath(path)), "zstd") as z:
            yield _Capped(z, kind, cap, size)  # type: ignore[misc]


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
        with gzip.GzipFile(fileobj=raw) as f:
            yield _Capped(f, kind, cap, size)  # type: ignore[misc]
        return
    import pyarrow as pa

    with pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), "zstd") as z:
        yield _Capped(z, kind, cap, size)  # type: ignore[misc]


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
    error; one that fails later returns the bytes recovered with the error, for the caller to
    refuse or warn about. A plain file is read in one call (no copy).
    """
    with open(path, "rb") as raw:
        if not packed_with(path):
            return raw.read(limit + 1), None
    out = bytearray()
    try:
        with open_decompressed(path, max(limit, MAX_DECOMPRESSED) + 1) as f:
            while len(out) <= limit:
                chunk = f.read(min(_INFLATE_CHUNK, limit + 1 - len(out)))
                if not chunk:
                    break
                out += chunk
    except STREAM_ERRORS as e:
        if not out:
            raise
        return out, e
    return out, None


__all__ = [
    "COMPRESSED_MAGIC",
    "GZIP_FREE_BYTES",
    "GZIP_MAGIC",
    "GZIP_RATIO",
    "MAX_DECOMPRESSED",
    "MAX_GZIP_RATIO",
    "STREAM_ERRORS",
    "ZSTD_MAGIC",
    "InflatesTooFar",
    "compressed_with",
    "decompressing",
    "gunzip_head",
    "gzip_content_size",
    "gzip_limit",
    "inflate",
    "is_gzip",
    "is_gzip_file",
    "is_zstd",
    "open_decompressed",
    "packed_with",
    "read_head",
    "zstd_frame_content_size",
]
