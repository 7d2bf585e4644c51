"""Compressed input, told by its first bytes and opened in one place, with one cap on what it inflates to.

recipemut reads gzip logs and traces; a stream compressed with zstd, xz, lz4 or bzip2 is recognised
(:func:`compressed_with`) so that a reader can refuse it with the command that decompresses it.
Compression is always told by content (magic bytes), never by a file's name: a plain log named
``x.jsonl.gz`` is plain.

No input is ever inflated beyond :data:`MAX_DECOMPRESSED` bytes; a gzip log is held to
:func:`gzip_limit`, which also scales with its compressed size so that a gzip bomb is refused
long before that. The functions here raise what the decompressor raises (``OSError``,
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
from typing import BinaryIO

#: the first bytes of a gzip stream
GZIP_MAGIC = b"\x1f\x8b"
#: the most bytes any input (plain, gzip or standard input) is read to, whatever its compression ratio
MAX_DECOMPRESSED = 16 * 1024**3
#: a gzip log may always inflate to this many bytes ...
GZIP_FREE_BYTES = 64 * 1024**2
#: ... beyond that, at most this many times its own size (span logs gzip about 10x, gzip bombs about 1000x)
MAX_GZIP_RATIO = 100
#: what reading a broken or cut gzip stream raises
STREAM_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error)
#: the first bytes of compressed streams recipemut does not read, and the tool that decompresses each
COMPRESSED_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x28\xb5\x2f\xfd", "zstd", "zstd -dc"),
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
def open_decompressed(path: StrPath) -> Iterator[BinaryIO]:
    """The content of the file ``path`` as a binary stream: gunzipped when it is gzip, else as it is."""
    with open(path, "rb") as raw:
        gz = is_gzip(raw.read(2))
        raw.seek(0)
        if not gz:
            yield raw
            return
        with gzip.GzipFile(fileobj=raw) as f:
            yield f  # type: ignore[misc]  # a GzipFile is a binary stream


def read_head(path: StrPath, size: int) -> bytes:
    """The first ``size`` bytes of the content of ``path`` (gunzipped when gzip): what formats are told
    from. Raises :data:`STREAM_ERRORS` for an unreadable file or gzip stream."""
    with open_decompressed(path) as f:
        return f.read(size)


def inflate(path: StrPath, limit: int = MAX_DECOMPRESSED) -> tuple[bytes | bytearray, BaseException | None]:
    """The content of ``path`` (gunzipped when gzip), read to at most ``limit + 1`` bytes, and the error
    that cut a gzip stream short (``None`` when it ended properly).

    More than ``limit`` bytes returned means the content is larger than ``limit`` (reading stopped
    there: a gzip bomb never fills memory). A stream that fails before its first byte raises the
    error; one that fails later returns the bytes recovered with the error, for the caller to
    refuse or warn about. A plain file is read in one call (no copy).
    """
    with open(path, "rb") as raw:
        gz = is_gzip(raw.read(2))
        raw.seek(0)
        if not gz:
            return raw.read(limit + 1), None
        out = bytearray()
        try:
            with gzip.GzipFile(fileobj=raw) as f:
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
    "MAX_DECOMPRESSED",
    "MAX_GZIP_RATIO",
    "STREAM_ERRORS",
    "compressed_with",
    "gunzip_head",
    "gzip_limit",
    "inflate",
    "is_gzip",
    "is_gzip_file",
    "open_decompressed",
    "read_head",
]
