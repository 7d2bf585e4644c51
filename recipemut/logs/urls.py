"""Where the partitioned engines (:mod:`recipemut.logs.distributed`) find the logs: local paths,
folders and globs, and URLs read through fsspec (``s3://``, ``gs://``, ``file://``, ...).

:func:`as_url` tells a URL from a path, in a ``--logs`` value as typed or once ``Path`` has made
``s3://b/k`` into ``s3:/b/k``; :func:`log_paths` makes the ``Path`` s the commands hand down. A
``file://`` URL names a file on this machine: ``file:///x`` and ``file://localhost/x`` are ``/x``
(RFC 8089); one naming another host is refused while its text still says so (``Path`` drops the
second slash, and ``file:/HOST/x`` could be ``/HOST/x``). A ``file://`` URL's path is percent-encoded
(RFC 8089, what ``Path.as_uri()`` writes: ``file:///data/my%20logs/%C3%BC.jsonl``): a URL stays encoded
as it goes from the option to the partitions, and :func:`file_path` decodes it where a file is named,
for the checks done here (:func:`local_path`) and for fsspec, which takes a local path literally, alike.
``*``, ``?`` and ``[`` as typed make a glob, percent-encoded (``%2A``) they are the character itself;
an encoded slash (``%2F``) or NUL (``%00``), which no file name holds, is refused in one line.
:func:`expand_sources` turns folders and globs, local or by URL, into files (a ``file://`` one's
are the files the local engine reads of the same path: :func:`local_files`); :func:`open_source` opens
one; :func:`filesystem` is fsspec's filesystem of a URL, or one clear error when its package is not installed.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, unquote_to_bytes

from recipemut.errors import InputFileError, LogError

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/+(.*)$")
_FILE_HOST = re.compile(r"^file://([^/]*)(/.*)$", re.IGNORECASE)  # as typed: file://HOST/path
_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")  # a run of percent-escapes: one UTF-8 character's bytes at least
_GLOB = "*?["  # as typed in a URL, a glob; percent-encoded, the character itself
#: left as they are when a file's path is written as a URL (RFC 3986 allows them in a path): not ``*``,
#: which would read back as a glob, nor ``%``, ``?``, ``#``, ``[``, ``]``, a space or a non-ASCII byte
_URL_SAFE = "/!$&'()+,;=:@"


def as_url(path: str | Path) -> str | None:
    """The URL a ``--logs`` value names (``s3://b/k``, even once a ``Path`` made it ``s3:/b/k``), or None.
    ``file:///abs/path`` is a URL too, read through fsspec's local filesystem as object storage is;
    ``file://HOST/x`` with a host other than ``localhost`` is refused (a :class:`LogError`).

    >>> as_url("s3:/bucket/logs/a.parquet"), as_url("gs://b/x.jsonl"), as_url("logs/a.jsonl")
    ('s3://bucket/logs/a.parquet', 'gs://b/x.jsonl', None)
    >>> as_url(Path("file:///data/lake/*.parquet")), as_url(Path("file://localhost/data/a.jsonl"))
    ('file:///data/lake/*.parquet', 'file:///data/a.jsonl')
    >>> as_url("file:///localhost/a.jsonl"), as_url("file:///data/my%20logs/a.jsonl")
    ('file:///localhost/a.jsonl', 'file:///data/my%20logs/a.jsonl')
    """
    text = str(path)
    m = _URL.match(text)
    if m is None:
        return None
    if m.group(1).lower() != "file":
        return f"{m.group(1)}://{m.group(2)}"
    if (typed := _FILE_HOST.match(text)) is not None:  # the text as typed: its host is known
        if typed.group(1).lower() not in ("", "localhost"):
            raise LogError(f"names the host {typed.group(1)!r}; file:// URLs are read on this machine only "
                           "(file:///path or file://localhost/path)", file=text, code="url-host")  # fmt: skip
        return _checked_file_url(f"file://{typed.group(2)}", text)
    local = m.group(2)  # a Path's file:/localhost/x was file://localhost/x, which is file:///x
    return _checked_file_url(f"file:///{local[len('localhost/') :] if local.startswith('localhost/') else local}", text)


def _checked_file_url(url: str, text: str) -> str:
    """``url``, a ``file://`` one, unless a percent-escape in it names a NUL or a slash (one line, naming
    ``text``): a path holds no NUL, and a slash encoded inside a name names no file (decoded, it would
    move the path into other folders; written ``/``, it is one)."""
    for m in _ESCAPES.finditer(url):
        raw = unquote_to_bytes(m.group())
        if b"\0" in raw:
            raise LogError("percent-encodes a NUL byte (%00), which no file name can hold", file=text, code="url-nul")
        if b"/" in raw:
            raise LogError("percent-encodes a slash (%2F) inside a name, which no file name can hold; "
                           "write / to name a folder", file=text, code="url-slash")  # fmt: skip
    return url


def file_path(url: str, *, pattern: bool = False) -> str:
    """The local path a ``file://`` URL (as :func:`as_url` writes it) names: its percent-escapes decoded
    to bytes, made a path as the OS makes file names (:func:`os.fsdecode`: bytes that are not UTF-8
    survive). With ``pattern`` (a glob's), a ``*``, ``?`` or ``[`` that was percent-encoded is made the
    glob of that character (``[*]``), so only the ones typed as such match other names.

    >>> file_path("file:///data/my%20logs/%C3%BC.jsonl"), file_path("file:///d/%2A%5B1%5D-*.jsonl", pattern=True)
    ('/data/my logs/ü.jsonl', '/d/[*][[]1]-*.jsonl')
    """
    encoded = url[len("file://") :]
    out, at = bytearray(), 0
    for m in _ESCAPES.finditer(encoded):
        raw = unquote_to_bytes(m.group())
        out += os.fsencode(encoded[at : m.start()]) + (re.sub(rb"([*?[])", rb"[\1]", raw) if pattern else raw)
        at = m.end()
    return os.fsdecode(bytes(out + os.fsencode(encoded[at:])))


def file_url(path: str) -> str:
    """The ``file://`` URL of a local absolute path, percent-encoded so that :func:`file_path` reads it
    back as this path and no character of a name reads as a glob.

    >>> file_url("/data/my logs/day=1/*.jsonl")
    'file:///data/my%20logs/day=1/%2A.jsonl'
    """
    return "file://" + quote(os.fsencode(path), safe=_URL_SAFE)


def log_path(value: str | Path) -> Path:
    """A ``--logs`` value as the engines take it, a ``Path``: a URL checked by :func:`as_url` while its
    text still names its host (``Path`` makes ``file://HOST/x`` ``file:/HOST/x``), and written so that
    :func:`as_url` reads the ``Path`` back as the same URL: a ``file://`` one with its ``localhost``
    (``file:///localhost/x``, made ``file:/localhost/x``, would be read as ``file://localhost/x``).

    >>> log_path("logs/a.jsonl"), log_path("file:///localhost/b.parquet"), log_path("s3://b/k.parquet")
    (PosixPath('logs/a.jsonl'), PosixPath('file:/localhost/localhost/b.parquet'), PosixPath('s3:/b/k.parquet'))
    """
    url = as_url(value)
    if url is not None and url.startswith("file://"):
        url = f"file://localhost{url[len('file://') :]}"
    return Path(value if url is None else url)


def log_paths(values: Sequence[str]) -> list[Path]:
    """``--logs`` values as the commands hand them down (:func:`log_path`); ``-`` (standard input)
    refused, before anything is read, when it is a terminal."""
    if "-" in values and sys.stdin is not None and sys.stdin.isatty():
        raise InputFileError("standard input is a terminal; pipe a log into it", file="--logs -", code="stdin-tty")
    return [log_path(v) for v in values]


def local_path(source: str) -> Path | None:
    """The local file a source is (a path, or a ``file://`` URL's path, decoded); None for object storage."""
    url = as_url(source)
    if url is None:
        return Path(source)
    return Path(file_path(url)) if url.startswith("file://") else None


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path in it; one clear error when it cannot be had. A
    ``file://`` URL's path decoded (:func:`file_path`): fsspec's local filesystem takes it literally."""
    scheme = url.split("://", 1)[0]
    try:
        if scheme == "file":
            import fsspec

            return fsspec.filesystem("file"), file_path(url)
        from fsspec.core import url_to_fs

        return url_to_fs(url)
    except ImportError as e:
        raise LogError(
            f"reading {scheme}:// URLs needs fsspec's filesystem package for {scheme!r}, which is not installed "
            f"({str(e).splitlines()[0]})",
            file=url, code="no-filesystem",
        ) from None  # fmt: skip
    except ValueError as e:
        raise LogError(f"not a URL fsspec can read ({e})", file=url, code="no-filesystem") from None


@contextlib.contextmanager
def open_source(source: str) -> Iterator[IO[bytes]]:
    """A source's bytes: a local file, or a URL's through fsspec."""
    url = as_url(source)
    if url is None:
        with open(source, "rb") as f:
            yield f
        return
    fs, path = filesystem(url)
    with fs.open(path, "rb") as f:
        yield f


def expand_sources(paths: Sequence[str | Path]) -> list[str]:
    """Local paths through :func:`~recipemut.logs.parquet.expand_logs` (folders, globs); a URL to a
    folder or a glob is the files under it or matching it (``file://`` ones written by :func:`file_url`:
    what a glob matched is a name, not a glob)."""
    from recipemut.logs.parquet import expand_logs, refuse_too_many
    from recipemut.logs.sources import is_stdin

    out: list[str] = []
    for p in paths:
        url = as_url(p)
        if url is None:
            if is_stdin(p):
                raise LogError("--engine dask cannot read standard input; give files", code="stdin-engine")
            out.extend(str(f) for f in expand_logs([Path(p)]))
            continue
        if url.startswith("file://"):  # a local file: the local engine's rules
            out.extend(file_url(str(f)) for f in local_files(url))
            continue
        fs, path = filesystem(url)
        scheme = url.split("://", 1)[0]
        try:
            if any(c in url.split("://", 1)[1] for c in _GLOB):  # as typed: an encoded one is the character
                found = sorted(fs.glob(path))
            elif fs.isdir(path):
                found = sorted(f for f in fs.find(path) if not Path(f).name.startswith((".", "_")))
            else:
                found = [path]
        except OSError as e:
            raise InputFileError(f"cannot be listed ({e})", file=url, code="missing-file") from None
        if not found:
            raise InputFileError("matches no file", file=url, code="missing-file")
        refuse_too_many(len(found), url)
        out.extend(f"{scheme}://{f}" for f in found)
    return out


def local_files(url: str) -> list[Path]:
    """The files a ``file://`` URL names, found as the local engine finds the same path's
    (:func:`~recipemut.logs.parquet.expand_logs`), so both engines read the same files of a folder or a
    glob: a folder's Parquet files (by suffix or content; the others skipped, in a warning), in sorted
    order, from the folders under it but not through a linked one (a link to a folder, or to its own
    parent, is not followed, and said in a warning: a loop is listed once), not those named ``.*`` or
    ``_*``, nor a link to nothing; a glob's regular files (a link to a file is that file). A folder that
    holds files but no Parquet one is its other files, as it was (the local engine refuses it; these are
    read as JSONL), from the same listing (:func:`~recipemut.logs.parquet.list_folder`), its linked
    folders said all the same. An empty folder and too many files are the local engine's one line, naming
    the URL; a glob that matches no file is ``matches no file``, as for any URL."""
    from recipemut.logs.parquet import glob_files, list_folder, refuse_too_many

    glob = any(c in url[len("file://") :] for c in _GLOB)  # as typed: an encoded one is the character
    path = Path(file_path(url, pattern=glob))
    try:
        if glob:
            found = glob_files(path, url)
            if not found:  # as for every URL (the local engine's words for a path: 'no such file (and no file ...')
                raise InputFileError("matches no file", file=url, code="missing-file")
        elif not path.is_dir():
            return [path]  # a file, or what is not (plan_partitions says which)
        else:
            listing = list_folder(path)  # one walk of the folder, as the local engine's
            if listing.parquet or not listing.others:
                found = listing.logs()  # its Parquet files, the rest said; or its line (no file at all)
            else:  # no Parquet file: the others are read, as they were; a linked folder is not, and said
                listing.note(others=False)
                found = listing.others
        refuse_too_many(len(found), url)
        return found
    except InputFileError as e:  # the local engine's words, naming what was typed
        raise InputFileError(e.message, file=url, code=e.code) from None
    except OSError as e:
        raise InputFileError(f"cannot be listed ({e.strerror or e})", file=url, code="unreadable") from None


__all__ = [
    "as_url", "expand_sources", "file_path", "file_url", "filesystem", "local_files", "local_path",
    "log_path", "log_paths", "open_source",
]  # fmt: skip
