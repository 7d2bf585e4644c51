"""What kind of file an output path holds already, so a command replaces only its own kind.

``suggest --out``, ``report -o``, ``graph -o``, ``forecast --plot`` and ``import -o`` write over a
file of the kind they write (a plan, a page, a graph, a chart, a recipe: the previous run's output)
but refuse one of another kind, a log or a notes file named by mistake, before any work is done:
:func:`~recipemut.files.write.check_output_path` asks :meth:`FileKind.matches` of the file's first
bytes and names what they look like (:func:`looks_like`).

>>> PLAN.matches(b'{\\n  "planVersion": 1,'), PLAN.matches(b'{"op": "planVersion"}\\n')
(True, False)
>>> looks_like(b"\\x1f\\x8b\\x08\\x00"), looks_like(b"PAR1\\x15"), looks_like(b"meeting notes\\n")
('gzip data', 'a Parquet file', 'text (it starts "meeting notes")')
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from recipemut.files.text import safe

#: how much of an existing file is read to tell its kind
HEAD = 64 * 1024


@dataclass(frozen=True)
class FileKind:
    """A kind of file a command writes: ``name`` for messages; the file matches when, after leading
    whitespace, it starts with one of ``starts`` (ASCII case ignored), or holds ``holds`` in its head;
    with ``both``, when it does both."""

    name: str
    starts: tuple[bytes, ...] = ()
    holds: tuple[bytes, ...] = ()
    both: bool = False

    def matches(self, head: bytes) -> bool:
        text = head.lstrip().lower()
        starts = any(text.startswith(s.lower()) for s in self.starts)
        holds = any(h in head for h in self.holds)
        return (starts and holds) if self.both else (starts or holds)


#: a plan is written indented (``{`` alone on its first line) and names its version: a span log
#: (one object a line) that carries the word ``planVersion`` in a value is not one
PLAN = FileKind("a plan", starts=(b"{\n", b"{\r\n"), holds=(b'"planVersion"',), both=True)


PAGE = FileKind("an HTML page", starts=(b"<!doctype html", b"<html"))
GRAPH = FileKind(
    "a Mermaid or Graphviz graph",
    starts=(
        b"flowchart ", b"graph td", b"graph tb", b"graph bt", b"graph lr", b"graph rl", b"digraph ", b"strict digraph "
    ),
)
PNG = FileKind("a PNG image", starts=(b"\x89PNG\r\n",))
SVG = FileKind("an SVG image", starts=(b"<?xml", b"<svg"))
RECIPE = FileKind("a recipe", holds=(b"\noperations:", b"operations:\n"))

_MAGIC = (
    (b"\x1f\x8b", "gzip data"),
    (b"\x28\xb5\x2f\xfd", "zstd data"),
    (b"PAR1", "a Parquet file"),
    (b"\x89PNG", "a PNG image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
)


def looks_like(head: bytes) -> str:
    """What the first bytes of a file look like, in a few words for an error message."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    for kind in (PLAN, PAGE, GRAPH, SVG, RECIPE):
        if kind.matches(head):
            return kind.name
    if b"\x00" in head[:4096]:  # text holds no NUL: zeros (a sparse file) or binary
        return "binary data"
    try:
        text = head[:4096].decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < 4093 or e.reason != "unexpected end of data":  # not a character cut by the 4,096 bytes
            return "binary data"
        text = head[: e.start].decode("utf-8")
    first = text.lstrip().splitlines()[0][:40] if text.strip() else ""
    if first.startswith("{") and '"request_id"' in text:
        return "a span log (JSONL)"
    return f'text (it starts "{safe(first)}")'


def head_of(path: str | os.PathLike[str]) -> bytes:
    """The first :data:`HEAD` bytes of a regular file."""
    with open(path, "rb") as f:
        return f.read(HEAD)


__all__ = ["GRAPH", "HEAD", "PAGE", "PLAN", "PNG", "RECIPE", "SVG", "FileKind", "head_of", "looks_like"]
