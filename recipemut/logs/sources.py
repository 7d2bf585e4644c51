"""Where log bytes come from: files checked before they are opened, gzip looked through, standard input.

A log must be a regular file (:func:`check_file`): a device or a FIFO is refused before it is
opened. Its first bytes (:func:`read_head`, gunzipped) decide whether it is read at all: a stream
compressed with something other than gzip or zstd is refused with the command that decompresses
it (:func:`refuse_compressed`), binary data is refused (:func:`binary_at`). A gzip or zstd log that
inflates beyond :func:`recipemut.files.compressed.gzip_limit` is refused in :func:`too_far`'s words
(it is read whole or in chunks by :mod:`recipemut.logs.stream`).

A path ``-`` (:data:`STDIN`) means standard input: its bytes are copied, undecoded, to a file in a
temporary directory (:func:`stdin_copy`) and read like any other; messages call it ``<stdin>``
(:data:`STDIN_NAME`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from recipemut.errors import InputFileError, LogError
from recipemut.files.compressed import (
    GZIP_FREE_BYTES,
    MAX_DECOMPRESSED,
    STREAM_ERRORS,
    InflatesTooFar,
    compressed_with,
    is_gzip,
    open_decompressed,
    packed_with,
)
from recipemut.files.compressed import read_head as read_decompressed_head
from recipemut.files.kinds import (  # what a file is: one detector, below the recipe reader too
    GENERATION_KEYS,
    HEADER_LINES,
    SPAN_KEYS,
    SPAN_LINES,
    document_kind,
    input_kind,
    json_top_keys,
    recipemut_kind,
    span_lines,
)
from recipemut.files.read import kind_of

#: the first bytes of a log that its format, compression and text are told from
HEAD_BYTES = 1 << 16
#: a first block with this share of bytes that no text log holds (controls, invalid UTF-8) is binary
BINARY_SHARE = 0.25
#: the names a Parquet log goes by, the one list every reader and writer takes (any case): a folder's
#: Parquet files are these (or told by content), ``convert -o`` and ``generate -o`` write them all, and a
#: file so named that is not Parquet is said to be so (:func:`recipemut.logs.detect.misnamed_parquet`)
PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
#: the path that means standard input, and the name it goes by in messages, notes and ``source_file``
STDIN = "-"
STDIN_NAME = "<stdin>"
_COPY_CHUNK = 1 << 20  # bytes per read when copying standard input
_NOT_TEXT = re.compile("[\x01-\x08\x0e-\x1a\x1c-\x1f\x7f\udc80-\udcff]")


def as_paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """One log path or several, as a list of paths."""
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def is_stdin(path: str | os.PathLike[str]) -> bool:
    """Whether a log path means standard input (``-``).

    >>> is_stdin("-"), is_stdin(Path("-")), is_stdin("./logs.jsonl")
    (True, True, False)
    """
    return os.fspath(path) == STDIN


@contextlib.contextmanager
def stdin_copy() -> Iterator[Path]:
    """Standard input's bytes copied, undecoded and in chunks, to a file in a new temporary directory.

    The directory (``$TMPDIR``) and the file are deleted when the ``with`` block ends, however it
    ends (an error, Ctrl-C). A terminal is refused rather than waited on: :class:`InputFileError`.
    So is binary input, on its first chunk (``< /dev/zero`` would otherwise be copied without end:
    a gzip stream is let through and its content checked once read), and input beyond
    :data:`~recipemut.files.compressed.MAX_DECOMPRESSED` bytes.
    """
    stream = sys.stdin
    if stream is None:
        raise InputFileError("no standard input to read", file=STDIN_NAME, code="no-stdin")
    if stream.isatty():
        raise InputFileError("standard input is a terminal; pipe a log into it", file=STDIN_NAME, code="stdin-tty")
    source: Any = getattr(stream, "buffer", stream)  # the bytes under the text layer
    with tempfile.TemporaryDirectory(prefix="recipemut-stdin-") as folder:
        copy = Path(folder) / "stdin"
        try:
            with copy.open("wb") as out:
                first = source.read(HEAD_BYTES)
                if compressed_with(first) is None and not is_gzip(first):
                    refuse_binary(first, STDIN_NAME)
                out.write(first)
                total = len(first)
                while chunk := source.read(_COPY_CHUNK):
                    total += len(chunk)
                    if total > MAX_DECOMPRESSED:
                        raise InputFileError(
                            f"standard input holds more than {_size(MAX_DECOMPRESSED)}; give the log as a file",
                            file=STDIN_NAME,
                            code="too-large",
                        )
                    out.write(chunk)
        except OSError as e:
            raise InputFileError(
                f"cannot copy standard input to {folder} ({e.strerror or e})", file=STDIN_NAME, code="unreadable"
            ) from None
        yield copy


def check_file(path: Path, name: str | None = None) -> None:
    """A log must be a readable regular file: a device (``/dev/zero``, ``/dev/urandom``) or a FIFO
    would be read without end or wait for a writer, so it is refused before it is opened; standard
    input (``-``) is copied to a regular file first."""
    name = str(path) if name is None else name
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputFileError("no such file", file=name, code="missing-file") from None
    except OSError as e:
        raise InputFileError(f"cannot read ({e.strerror or e})", file=name, code="unreadable") from None
    if stat.S_ISDIR(mode):
        raise InputFileError("is a directory, not a log file", file=name, code="not-a-file")
    if not stat.S_ISREG(mode):
        raise InputFileError(
            f"is {kind_of(mode)}, not a log file; to read a stream, pipe it into --logs - "
            "(... | recipemut ... --logs -)",
            file=name,
            code="not-a-file",
        )
    if not os.access(path, os.R_OK):
        raise InputFileError("permission denied", file=name, code="unreadable")


def binary_at(head: bytes) -> int | None:
    """The offset of the first byte that shows ``head`` (a file's first bytes, gunzipped) is not text:
    a NUL byte anywhere, or the first control or invalid UTF-8 byte when such bytes make up
    :data:`BINARY_SHARE` or more of it; ``None`` for text (a few stray bytes are left to the lines'
    own checks).

    >>> binary_at(b'{"op": "a"}\\n'), binary_at('{"op": "é"}'.encode("latin-1")), binary_at(b"ab\\0")
    (None, None, 2)
    >>> binary_at(bytes(range(128, 256)))
    0
    """
    nul = head.find(b"\0")
    if nul >= 0:
        return nul
    if not head:
        return None
    text = head.decode("utf-8", "surrogateescape")  # an invalid byte becomes one of U+DC80..U+DCFF
    bad = [m.start() for m in _NOT_TEXT.finditer(text)]
    if len(bad) < BINARY_SHARE * len(head):
        return None
    return len(text[: bad[0]].encode("utf-8", "surrogateescape"))


def refuse_binary(head: bytes, name: str) -> None:
    """Raise :class:`InputFileError` when a log's first bytes are binary data, not text."""
    at = binary_at(head)
    if at is None:
        return
    hint = ""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        hint = "; it is UTF-16: convert it to UTF-8 first (iconv -f UTF-16 -t UTF-8)"
    raise InputFileError(
        f"is not a text log (binary data at byte {at}: 0x{head[at]:02x}){hint}", file=name, code="binary"
    )


def refuse_other_kind(head: bytes, name: str) -> None:
    """Raise :class:`InputFileError` when a log read as native JSONL is one of recipemut's own other
    files given to ``--logs`` by mistake: a plan (``suggest --out``), a recipe or a span mapping (YAML
    or JSON, told by its header) or the generation parameters ``generate --params`` reads
    (:func:`recipemut.files.kinds.input_kind`, which the recipe, plan and parameters readers ask too),
    which would otherwise be "not a span log" after a thousand rejected lines."""
    got = input_kind(head)
    if got is None:
        refuse_definition(head, name)
    if got is None or got.kind in ("spans", "traces", "jsonl", "parquet"):  # jsonl: the reader names each line
        return
    if got.kind == "plan":
        raise InputFileError(f"{got.what}, not a log: apply takes it with --plan", file=name, code="not-a-log")
    if got.kind in ("history", "lock"):  # recipemut's own: no "and the spans to --logs" after where it goes
        raise InputFileError(got.misplaced("a log", name), file=name, code="not-a-log")
    logs = "the traces" if got.kind == "SpanMapping" else "the spans or traces"
    raise InputFileError(f"{got.misplaced('a log')}, and {logs} to --logs", file=name, code="not-a-log")


#: where an engine's runs come from, for a definition given to --logs (Argo's, Tekton's: their run readers say it)
_RUNS_FROM = {
    "github-actions": "gh api \"repos/OWNER/REPO/actions/runs/$ID/jobs?filter=all\"",
    "stepfunctions": "aws stepfunctions get-execution-history --execution-arn \"$ARN\"",
}


def definition_of(head: bytes) -> tuple[str, str] | None:
    """Which workflow engine's definition ``head``, a whole small file, is
    (:func:`recipemut.recipe.engines.detect_engine`): its engine's key and its name in words
    (``("github-actions", "a GitHub Actions workflow")``, ``"a Step Functions state machine"``...), else
    None. Asked only of a file under :data:`HEAD_BYTES` whose first line is no span (a minified
    definition is one JSON object, as a span line is): parsed once, JSON by the json module, else YAML
    by the C parser; any failure to parse is "none" (the check is best effort)."""
    body = head.removeprefix(b"\xef\xbb\xbf")
    lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
    if len(head) >= HEAD_BYTES or not lines or span_lines(lines[:1]):
        return None
    import json

    import yaml

    from recipemut.recipe.engines import detect_engine

    try:
        if len(lines) == 1 and lines[0].startswith(b"{"):
            data = json.loads(lines[0])
        else:
            data = yaml.load(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        engine = detect_engine(data) if isinstance(data, dict) else None
    except Exception:  # a YAML tag's constructor raises KeyError, AttributeError...: not a definition
        return None
    if engine is None:
        return None
    return engine.KEY, f"{'an' if engine.NAME[:1] in 'AEIOU' else 'a'} {engine.NAME}"


def refuse_definition(head: bytes, name: str) -> None:
    """Raise :class:`InputFileError` when ``head`` is a workflow engine's definition (:func:`definition_of`)
    given as a log, which would otherwise be "not a span log" at its first line. The message says what
    it is and what its logs are, in words that hold for every command (``convert`` takes the recipe
    with ``--recipe``, the others as their first argument)."""
    found = definition_of(head)
    if found is None:
        return
    key, words = found
    runs = "its runs or traces are the logs"
    if key in _RUNS_FROM:
        runs = f"its runs, from '{_RUNS_FROM[key]}', are the logs"
    raise InputFileError(f"is {words} (a definition), not a log: it is a recipe; {runs}", file=name, code="not-a-log")


def engine_file_words(head: bytes, expected: str) -> str | None:
    """Why a file whose first bytes are ``head``, given where ``expected`` (``"a plan"``, ``"generation
    parameters"``...) belongs, is an engine's run history or definition instead, in one clause; ``None``
    when it is neither. Asked by the readers of recipemut's other files once :func:`input_kind` has
    named nothing (a run history or a definition has no kind of its own there).

    >>> engine_file_words(b'{"events": [{"id": 1, "previousEventId": 0}]}', "a plan")
    'holds a Step Functions execution history (a log), not a plan: give it to --logs'
    >>> engine_file_words(b'on: push\\njobs:\\n  b:\\n    runs-on: x\\n    steps: [{run: make}]\\n', "a plan")
    "is a GitHub Actions workflow (a definition), not a plan: it is a recipe, the command's first argument"
    """
    from recipemut.files.runsniff import run_history_words

    if (log := run_history_words(head)) is not None:
        return f"holds {log} (a log), not {expected}: give it to --logs"
    if (engine := definition_of(head)) is not None:
        return f"is {engine[1]} (a definition), not {expected}: it is a recipe, the command's first argument"
    return None


def refuse_compressed(head: bytes, name: str) -> None:
    """Raise :class:`LogError` when a file whose first bytes are ``head`` is compressed with
    something other than gzip or zstd (which are read)."""
    got = compressed_with(head)
    if got is None or got[0] == "zstd":
        return
    kind, command = got
    how = f"... | {command}" if name == STDIN_NAME else f"{command} {shlex.quote(name)}"
    raise LogError(
        f"compressed with {kind}; recipemut reads plain, gzip or zstd logs: decompress it first "
        f"({how} | recipemut ... --logs -)",
        file=name,
        code="compressed",
    )


def _size(n: int) -> str:
    return f"{n / 1024**3:.0f} GiB" if n >= 1024**3 else f"{n / 1024**2:.0f} MiB"


def unreadable(e: BaseException, kind: str, name: str) -> LogError:
    """The error of a log whose ``kind`` (``gzip``, ``zstd``; ``""`` when not known) stream cannot be read:
    corrupt, or cut before its first byte of content. Every engine and URL words it so.

    >>> str(unreadable(OSError("Truncated compressed stream"), "zstd", "c8.jsonl.zst"))
    'c8.jsonl.zst: not a readable zstd file (Truncated compressed stream)'
    """
    return LogError(f"not a readable {kind + ' ' if kind else ''}file ({e})", file=name, code="bad-gzip")


def too_far(e: InflatesTooFar, name: str) -> LogError:
    """The error of a gzip or zstd log that inflates beyond its limit (a possible bomb)."""
    undo = "gunzip" if e.kind == "gzip" else "zstd -d"
    return LogError(
        f"{e.kind} log inflates beyond {_size(e.limit)} (over {e.limit // max(e.size, 1)}x its {e.size} bytes); "
        f"refusing it as a possible {e.kind} bomb ({undo} it yourself to read it anyway)",
        file=name,
        code="too-large",
    )


def after_first_line(path: Path) -> bytes:
    """The :data:`HEAD_BYTES` after the first line of a file whose first line is longer than that
    (gunzipped; the first line is looked through for up to
    :data:`~recipemut.files.compressed.GZIP_FREE_BYTES`): what a file's format is told from when its
    first line is one long bad line; ``b""`` when there is none or it cannot be read."""
    try:
        with open_decompressed(path) as f:
            seen = 0
            while seen < GZIP_FREE_BYTES:
                chunk = f.read(HEAD_BYTES)
                if not chunk:
                    return b""
                nl = chunk.find(b"\n")
                if nl >= 0:
                    return bytes(chunk[nl + 1 :] + f.read(nl + 1))
                seen += len(chunk)
    except STREAM_ERRORS:
        return b""
    return b""


def read_head(path: Path, name: str | None = None) -> bytes:
    """The first :data:`HEAD_BYTES` of a log, gunzipped when gzip; an unreadable gzip stream is a
    :class:`LogError` naming the file as ``name`` (default ``str(path)``)."""
    try:
        return read_decompressed_head(path, HEAD_BYTES)
    except STREAM_ERRORS as e:
        kind = packed_with(path)
        if not kind:
            raise
        raise unreadable(e, kind, str(path) if name is None else name) from None


__all__ = [
    "BINARY_SHARE",
    "GENERATION_KEYS",
    "HEADER_LINES",
    "HEAD_BYTES",
    "PARQUET_SUFFIXES",
    "SPAN_KEYS",
    "SPAN_LINES",
    "STDIN",
    "STDIN_NAME",
    "after_first_line",
    "as_paths",
    "binary_at",
    "check_file",
    "document_kind",
    "is_stdin",
    "json_top_keys",
    "read_head",
    "recipemut_kind",
    "refuse_binary",
    "refuse_compressed",
    "span_lines",
    "stdin_copy",
    "too_far",
    "unreadable",
]
