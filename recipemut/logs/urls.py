"""Where the partitioned engines (:mod:`recipemut.logs.distributed`) find the logs: local paths,
folders and globs, and URLs read through fsspec (``s3://``, ``gs://``, ``file://``, ...).

:func:`as_url` tells a URL from a path, in a ``--logs`` value as typed or once ``Path`` has made
``s3://b/k`` into ``s3:/b/k``; :func:`log_paths` makes the ``Path`` s the commands hand down. A
``file://`` URL names a file on this machine: ``file:///x`` and ``file://localhost/x`` are ``/x``
(RFC 8089); one naming another host is refused while its text still says so (``Path`` drops the
second slash, and ``file:/HOST/x`` could be ``/HOST/x``). :func:`expand_sources` turns folders and
globs, local or by URL, into files; :func:`open_source` opens one; :func:`filesystem` is fsspec's
filesystem of a URL, or one clear error when its package is not installed.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from recipemut.errors import InputFileError, LogError

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/+(.*)$")
_FILE_HOST = re.compile(r"^file://([^/]*)(/.*)$", re.IGNORECASE)  # as typed: file://HOST/path


def as_url(path: str | Path) -> str | None:
    """The URL a ``--logs`` value names (``s3://b/k``, even once a ``Path`` made it ``s3:/b/k``), or None.
    ``file:///abs/path`` is a URL too, read through fsspec's local filesystem as object storage is;
    ``file://HOST/x`` with a host other than ``localhost`` is refused (a :class:`LogError`).

    >>> as_url("s3:/bucket/logs/a.parquet"), as_url("gs://b/x.jsonl"), as_url("logs/a.jsonl")
    ('s3://bucket/logs/a.parquet', 'gs://b/x.jsonl', None)
    >>> as_url(Path("file:///data/lake/*.parquet")), as_url(Path("file://localhost/data/a.jsonl"))
    ('file:///data/lake/*.parquet', 'file:///data/a.jsonl')
    >>> as_url("file:///localhost/a.jsonl")
    'file:///localhost/a.jsonl'
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
        return f"file://{typed.group(2)}"
    local = m.group(2)  # a Path's file:/localhost/x was file://localhost/x, which is file:///x
    return f"file:///{local[len('localhost/') :] if local.startswith('localhost/') else local}"


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
    """The local file a source is (a path, or a ``file://`` URL's path); None for object storage."""
    url = as_url(source)
    if url is None:
        return Path(source)
    return Path(url[len("file://") :]) if url.startswith("file://") else None


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path in it; one clear error when it cannot be had."""
    scheme = url.split("://", 1)[0]
    try:
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
    folder or a glob is the files under it or matching it."""
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
        fs, path = filesystem(url)
        scheme = url.split("://", 1)[0]
        try:
            if any(c in path for c in "*?["):
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


__all__ = ["as_url", "expand_sources", "filesystem", "local_path", "log_path", "log_paths", "open_source"]
