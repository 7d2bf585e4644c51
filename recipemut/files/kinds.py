"""What kind of file an output path holds already, so a command replaces only its own kind.

``suggest --out``, ``report -o``, ``graph -o``, ``forecast --plot`` and ``import -o`` write over a
file of the kind they write (a plan, a page, a graph, a chart, a recipe: the previous run's output)
but refuse one of another kind, a log or a notes file named by mistake, before any work is done:
:func:`~recipemut.files.write.check_output_path` asks :meth:`FileKind.matches` of the file's first
bytes and names what they look like (:func:`looks_like`).

The files recipemut *reads* are told the same way, by one detector (:func:`input_kind`: a plan, a span
log, a Parquet log, a recipe, a span mapping, generation parameters), asked in both directions: ``--logs``
refuses all but a log (:func:`recipemut.logs.sources.refuse_other_kind`), and the recipe, plan and
``generate --params`` readers all but their own kind (:func:`read_text_as`), each in one line naming
what the file is and where it goes (``small.jsonl: is a span log (JSONL), not a recipe: give it to --logs``).

>>> PLAN.matches(b'{\\n  "planVersion": 1,'), PLAN.matches(b'{"op": "planVersion"}\\n')
(True, False)
>>> looks_like(b"\\x1f\\x8b\\x08\\x00"), looks_like(b"PAR1\\x15"), looks_like(b"meeting notes\\n")
('gzip data', 'a Parquet file', 'text (it starts "meeting notes")')
"""

from __future__ import annotations

import codecs
import itertools
import json
import os
import re
import shlex
import stat
from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Any

from recipemut.errors import InputFileError, RecipemutError
from recipemut.files.compressed import gunzip_head, is_gzip
from recipemut.files.read import decode_text, read_user_file
from recipemut.files.runsniff import sniff
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


#: a top-level ``kind:`` or ``apiVersion:`` line of a YAML document (its value, quoted or not; a comment after it)
_HEADER_KEY = re.compile(rb"""(kind|apiVersion):[ \t]*(["']?)([^"'#\s]*)\2[ \t]*(?:#.*)?""")
#: the lines of a document, not counting comments and blank ones, that its header keys are looked for in
HEADER_LINES = 40


def recipemut_kind(head: bytes) -> str:
    r"""What recipemut YAML document ``head`` (a file's first bytes) starts, told by its header: the
    ``kind:`` of a document with ``apiVersion: recipemut/...`` or ``kind: Recipe`` as top-level keys in its
    first :data:`HEADER_LINES` lines (comments, blank lines and ``---`` not counted): ``"Recipe"``,
    ``"SpanMapping"``...; ``""`` for anything else (a span log's lines are JSON objects, never a
    top-level key). A recipe's ``operations:`` may come after the first 64 KiB (a long ``fields:`` block
    first), so its header tells it, not that key.

    >>> recipemut_kind(b"# checkout\napiVersion: recipemut/v1\nkind: Recipe  # the kind\nname: c\n")
    'Recipe'
    >>> recipemut_kind(b"apiVersion: recipemut/v1\nkind: SpanMapping\n"), recipemut_kind(b'{"kind": "Recipe"}\n')
    ('SpanMapping', '')
    """
    keys: dict[bytes, bytes] = {}
    lines = (ln.rstrip() for ln in head.removeprefix(codecs.BOM_UTF8).splitlines())
    meaningful = (ln for ln in lines if ln.strip() and not ln.lstrip().startswith(b"#") and ln != b"---")
    for ln in itertools.islice(meaningful, HEADER_LINES):
        m = _HEADER_KEY.fullmatch(ln)
        if m is not None:
            keys.setdefault(m.group(1), m.group(3))
    kind, version = keys.get(b"kind", b""), keys.get(b"apiVersion", b"")
    if version.startswith(b"recipemut/"):
        return kind.decode("ascii", "replace") or "Recipe"  # kind past the head: the only kind that long
    return "Recipe" if kind == b"Recipe" else ""


#: the top-level keys of the generation parameters ``generate --params`` reads (``loggen.yaml``): no others
GENERATION_KEYS = frozenset({"defaults", "operations", "fields"})
#: keys of a span line (:data:`recipemut.logs.spans.REQUIRED`, and a trace's ids), never a top-level key of
#: one of recipemut's own documents (a recipe's schema allows no other key): a JSON object holding one is a span
SPAN_KEYS = frozenset({"request_id", "op", "start_ms", "latency_ms", "status", "trace_id", "span_id"})
#: the keys of a span that name it: enough alone in a line the head cut (no other document opens with one)
_SPAN_IDS = frozenset({"request_id", "trace_id", "span_id"})
_TOP_KEY = re.compile(rb"([A-Za-z_][\w-]*)[ \t]*:(?:[ \t]|$)")  # a YAML key at column 0: ``defaults:``
_JSON_WS = re.compile(r"[ \t\r\n]+")
#: the actions of a recipe's history entries (schemas/history.schema.json), whose first keys are ``format``, ``seq``
#: and ``action`` (``sha256_before`` comes after the mutations, past the head of a long entry); and the text of its
#: lock file: the holder's pid, then the ``history SEQ SHA256`` record (one line each; no other file is told so)
_HISTORY_ACTIONS = frozenset({"apply", "canary", "promote", "rollback", "evaluate", "hand-edit", "recover"})
_LOCK = re.compile(rb"\d{1,10}\r?\nhistory \d{1,12} [0-9a-f]{64}\r?\n?")
#: a recipe's top-level keys that generation parameters never have
_RECIPE_ONLY = frozenset({"alternatives", "apiVersion", "constraints", "description", "formats", "inputs", "kind",
                          "name", "outputs", "services", "variants", "version"})
#: a top-level ``operations:`` whose value is a list (a recipe's, its header missing), not a mapping (the parameters')
_OPS_LIST = re.compile(rb"^operations:[ \t]*(?:\[|(?:#[^\n]*)?\r?\n(?:[ \t]*(?:#[^\n]*)?\r?\n)*[ \t]*- )", re.MULTILINE)


def json_top_keys(head: bytes) -> tuple[dict[str, Any], bool]:
    r"""The top-level keys of the JSON object ``head`` (a file's first bytes, a BOM and blank lines
    before it) opens, with their values, and whether the object ended within ``head``: its first
    document only (a span log's first line), read key by key so that a document cut by the head (a
    recipe past 64 KiB) still gives the keys before the cut. ``({}, False)`` when it opens no object
    or is not JSON. Bounded by ``head``: each value is parsed once.

    >>> json_top_keys(b'{"apiVersion": "recipemut/v1", "kind": "Recipe", "operations": [{"id": "a"')
    ({'apiVersion': 'recipemut/v1', 'kind': 'Recipe'}, False)
    >>> json_top_keys(b'{"request_id": "r", "op": "a"}\n{"request_id": "r2"}\n')
    ({'request_id': 'r', 'op': 'a'}, True)
    """
    text = head.removeprefix(codecs.BOM_UTF8).decode("utf-8", "replace")
    decoder = json.JSONDecoder()

    def skip(at: int) -> int:  # past JSON's whitespace
        m = _JSON_WS.match(text, at)
        return m.end() if m is not None else at

    at = skip(0)
    if text[at : at + 1] != "{":
        return {}, False
    keys: dict[str, Any] = {}
    at = skip(at + 1)
    if text[at : at + 1] == "}":
        return keys, True
    try:
        while True:
            key, at = decoder.raw_decode(text, at)
            at = skip(at)
            if not isinstance(key, str) or text[at : at + 1] != ":":
                return {}, False
            value, at = decoder.raw_decode(text, skip(at + 1))
            keys.setdefault(key, value)
            at = skip(at)
            if text[at : at + 1] == "}":
                return keys, True
            if text[at : at + 1] != ",":
                return (keys, False) if at >= len(text) else ({}, False)
            at = skip(at + 1)
    except (ValueError, RecursionError):  # cut by the head (a value, a key), not JSON, or nested past the parser
        return keys, False


_KEY = re.compile(rb'"([A-Za-z_]+)"\s*:')
#: a document that opens with Tempo's ``batches`` key
_TEMPO_OPEN = re.compile(rb'\{\s*"batches"\s*:\s*\[')
#: keys of a ResourceSpans, one of which a Tempo answer holds beside ``batches``
_RESOURCE_SPANS_KEYS = frozenset({b"resource", b"scopeSpans", b"instrumentationLibrarySpans", b"spans"})
#: the first key of a JSON document (its value may lie past the head)
_FIRST_KEY = re.compile(rb'\{\s*"([A-Za-z_]+)"\s*:')
#: how messages name each trace format
TRACE_LABELS = {"otlp": "OTLP", "jaeger": "Jaeger", "zipkin": "Zipkin"}


def is_tempo(head: bytes) -> bool:
    """Whether a file's first bytes are Grafana Tempo's trace JSON (``GET /api/traces/<id>``):
    OTLP's ResourceSpans under a top-level ``batches`` key instead of ``resourceSpans``.

    >>> is_tempo(b'{"batches": [{"resource": {"attributes": []}, "scopeSpans": []}]}'), is_tempo(b'{"batches": []}')
    (True, True)
    >>> is_tempo(b'{"resourceSpans": []}'), is_tempo(b'{"batches": 3, "jobs": []}')
    (False, False)
    """
    if is_gzip(head):
        head = gunzip_head(head)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] != b"{":
        return False
    if _TEMPO_OPEN.match(text):
        return True
    keys = set(_KEY.findall(text[:65536]))
    return b"batches" in keys and b"resourceSpans" not in keys and bool(keys & _RESOURCE_SPANS_KEYS)


def trace_format(head: bytes) -> str | None:
    """``"otlp"``, ``"jaeger"`` or ``"zipkin"`` when a file's first bytes (plain or gzip) are traces in
    that format, told by the document's top level, where no recipe, plan or mapping looks alike: a
    list at the top holding Jaeger's ``traceID``, ``spanID`` and ``operationName`` or Zipkin v2's
    ``traceId`` with ``id``, ``localEndpoint`` or ``remoteEndpoint``; an object whose first key is
    OTLP's ``resourceSpans`` (or holds it at the top), Tempo's ``batches`` (:func:`is_tempo`), or
    Jaeger's ``traceID`` or ``data`` with those three keys below. A payload that merely holds such
    words (a Step Functions state's ``Result: {"batches": [...], "resource": ...}``) is none. Every
    reader asks it (:func:`input_kind`): traces are never a recipe, a plan or a mapping.

    >>> trace_format(b'[{"traceId": "a", "id": "b", "localEndpoint": {}}]'), trace_format(b'{"resourceSpans": []}')
    ('zipkin', 'otlp')
    >>> trace_format(b'{"data": [{"traceID": "a", "spans": [{"spanID": "b", "operationName": "get"}]}]}')
    'jaeger'
    >>> trace_format(b'{"StartAt": "P", "States": {"P": {"Result": {"batches": [{"resource": "gpu"}]}}}}') is None
    True
    """
    if is_gzip(head):
        head = gunzip_head(head)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] not in (b"{", b"["):
        return None
    keys = set(_KEY.findall(text[:65536]))
    jaeger = {b"traceID", b"spanID", b"operationName"} <= keys
    if text[:1] == b"[":  # no recipemut file is a list at the top
        if jaeger:
            return "jaeger"
        return "zipkin" if b"traceId" in keys and keys & {b"localEndpoint", b"id", b"remoteEndpoint"} else None
    first = _FIRST_KEY.match(text)
    opens = first.group(1) if first is not None else b""
    if opens == b"resourceSpans" or "resourceSpans" in json_top_keys(text)[0]:
        return "otlp"
    if opens == b"batches" and is_tempo(text):
        return "otlp"
    return "jaeger" if opens in (b"traceID", b"data") and jaeger else None


#: the lines (blank ones and comments not counted) whose span objects tell a span log from the first bytes
SPAN_LINES = 64


def span_lines(lines: Iterable[bytes]) -> bool:
    r"""Whether ``lines`` (stripped) are those of a span log: the first is a JSON object holding two or more
    of a span's keys (:data:`SPAN_KEYS`), or, as the head's last line, a span's id before the head cut it
    (``request_id``, then a long value; one key alone in a whole line, as ``status`` in ``{"status": 200,
    "path": "/"}``, or in a mapping's first line, is any JSON document's), or
    at least half of the first :data:`SPAN_LINES` (blank ones and ``#`` comments not counted) are,
    whatever the others (a junk ``kind: Recipe`` or ``operations:`` first, spans indented after it).
    Parses at most :data:`SPAN_LINES` lines.

    >>> span_lines([b"operations:", b'{"request_id": "r", "op": "a"}'])
    True
    >>> span_lines([b"kind: Recipe", b"name: c", b'{"id": "a"}']), span_lines([b'{"status": 200, "path": "/"}'])
    (False, False)
    >>> span_lines([b'{"request_id": "r1", "payload": "xxxxxxxx']), span_lines([b'{"request_id": "r1"}'])
    (True, False)
    """
    meaningful = list(itertools.islice((ln for ln in lines if ln and not ln.startswith(b"#")), SPAN_LINES))
    spans = 0
    for i, ln in enumerate(meaningful):
        keys, whole = json_top_keys(ln) if ln.startswith(b"{") else ({}, True)
        found = len(SPAN_KEYS & keys.keys())
        cut = not whole and i == len(meaningful) - 1  # the head's last line, perhaps cut (or a multi-line object)
        if found >= 2 or (cut and keys.keys() & _SPAN_IDS):  # cut after a span's id and a long value
            spans += 1
            if i == 0 or 2 * spans >= len(meaningful):  # a first span line: a log, as ever
                return True
    return False


def document_kind(head: bytes) -> str:
    r"""Which of recipemut's own files ``head`` (a file's first bytes) opens: ``"Recipe"``,
    ``"SpanMapping"`` (told by their header: :func:`recipemut_kind` in YAML; ``apiVersion:
    recipemut/...`` and ``kind`` as keys of a JSON object, :func:`json_top_keys`), ``"Generation"`` (the
    parameters ``generate --params`` reads: top-level keys among :data:`GENERATION_KEYS` only, no header),
    ``""`` for anything else. A span log is never one of them: a file whose lines are mostly JSON objects
    holding a span's keys (:func:`span_lines`) is a log before any header or key rule is asked, whatever
    its first line (junk, ``kind: Recipe``, ``operations:`` with spans indented after it); a first line
    that is a JSON object holding a span's keys is one (``"kind": "Recipe"`` as a value beside them is a
    span's field), and a YAML rule that goes by keys alone (a recipe's ``operations:``, the parameters'
    ``defaults:``) is not asked of a file with a line that is a JSON object.

    >>> document_kind(b'{"apiVersion": "recipemut/v1", "kind": "Recipe", "name": "c", "operations": []}')
    'Recipe'
    >>> document_kind(b'{"request_id": "r", "op": "a", "kind": "Recipe", "apiVersion": "recipemut/v1"}\n')
    ''
    >>> document_kind(b"# for generate\ndefaults:\n  error_prob: 0.002\noperations:\n  a: {latency_median_ms: 2}\n")
    'Generation'
    >>> document_kind(b"default:\n  error_prob: 0.002\noperations:\n  a: {latency_median_ms: 2}\n")  # a typo
    'Generation'
    >>> document_kind(b"name: c\ndefault: 1\noperations:\n  - id: a\n")
    'Recipe'
    """
    lines = [ln.strip() for ln in head.removeprefix(codecs.BOM_UTF8).splitlines()]
    if span_lines(lines):  # mostly span objects: a log, whatever its first line
        return ""
    stripped = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if stripped.startswith(b"{"):
        keys, whole = json_top_keys(head)
        if not keys or SPAN_KEYS & keys.keys():
            return ""
        version, named = keys.get("apiVersion"), keys.get("kind")
        if isinstance(version, str) and version.startswith("recipemut/"):
            return named if isinstance(named, str) and named else "Recipe"
        if not whole:  # a cut object without recipemut's header: whatever it is, not told by a few keys
            return ""
        if named == "Recipe" and "operations" in keys:
            return "Recipe"
        if keys.keys() <= GENERATION_KEYS and isinstance(keys.get("operations"), list):  # a recipe's list, no header
            return "Recipe"
        return "Generation" if keys.keys() <= GENERATION_KEYS and keys.keys() & {"defaults", "operations"} else ""
    if kind := recipemut_kind(head):
        return kind
    raw = head.removeprefix(codecs.BOM_UTF8).splitlines()  # unstripped: a top-level key is at column 0
    if any(ln.startswith(b"{") and json_top_keys(ln)[0] for ln in lines):  # JSON lines after a junk line: a log
        return ""
    top = {m.group(1).decode("ascii") for ln in raw if (m := _TOP_KEY.match(ln)) is not None}
    if top and top <= GENERATION_KEYS and top & {"defaults", "operations"} and not _OPS_LIST.search(head):
        return "Generation"
    if "operations" in top and not top & _RECIPE_ONLY and not _OPS_LIST.search(head):  # beside a misspelt key
        return "Generation"  # (`default:`, `seed:`): operations as a mapping are parameters; their reader names the key
    return "Recipe" if RECIPE.matches(head) else ""


@dataclass(frozen=True)
class InputKind:
    """What one of the files recipemut reads is (:func:`input_kind`), and where it goes: ``kind`` is
    ``"plan"``, ``"spans"`` (a JSONL span log), ``"traces"`` (OTLP, Jaeger, Zipkin), ``"parquet"`` (a
    Parquet log) or a kind of :func:`document_kind` (``"Recipe"``, ``"SpanMapping"``, ``"Generation"``);
    ``form`` ``"YAML"`` or ``"JSON"`` (for traces, the format's name).

    >>> InputKind("plan").misplaced("a recipe")
    'is a plan (written by suggest --out), not a recipe: give it to apply --plan'
    >>> InputKind("Recipe", "YAML").misplaced("generation parameters")
    "is a recipe (YAML), not generation parameters: give it as the command's first argument"
    """

    kind: str
    form: str = "YAML"

    @property
    def what(self) -> str:
        """``is a plan (written by suggest --out)``, ``holds generation parameters (YAML: ...)``..."""
        return {
            "plan": "is a plan (written by suggest --out)",
            "spans": "is a span log (JSONL)",
            "traces": f"holds {self.form} traces (a log)",
            "jsonl": "holds JSON lines, none of them a span (request_id, op, start_ms, latency_ms, status)",
            "parquet": "is a Parquet log",
            "Recipe": f"is a recipe ({self.form})",
            "SpanMapping": f"is a span mapping ({self.form})",
            "Generation": f"holds generation parameters ({self.form}: defaults, operations, fields)",
            "history": "is a recipe's history (written by apply, rollback and evaluate)",
            "lock": "is a recipe's lock file (kept by apply, rollback and evaluate)",
        }[self.kind]

    @property
    def goes(self) -> str:
        """Where the file goes: ``give it to apply --plan``..."""
        return {
            "plan": "give it to apply --plan",
            "spans": "give it to --logs",
            "traces": "give it to --logs",
            "jsonl": "a log of spans goes to --logs (docs/log-format.md)",
            "parquet": "give it to --logs",
            "Recipe": "give it as the command's first argument",
            "SpanMapping": "give it to --map",
            "Generation": "give it to recipemut generate --params",
            "history": "read it with recipemut history RECIPE",
            "lock": "recipemut keeps it beside its recipe",
        }[self.kind]

    def misplaced(self, expected: str, name: str = "") -> str:
        """The message of this file given where ``expected`` (``a recipe``, ``a plan``...) goes; a history named
        ``NAME.history.jsonl`` names its recipe (``read it with recipemut history r.yaml``).

        >>> InputKind("history", "JSON").misplaced("a recipe", "d/r.yaml.history.jsonl").split(": ")[1]
        'read it with recipemut history d/r.yaml'
        >>> InputKind("traces", "Zipkin").misplaced("a recipe", "t.json").split(": ")[-1]
        'give it to --logs (no recipe yet? recipemut import t.json -o recipe.yaml drafts one)'
        """
        goes = self.goes
        if self.kind == "history" and name.endswith(".history.jsonl") and len(name) > len(".history.jsonl"):
            goes = goes.replace("RECIPE", name.removesuffix(".history.jsonl"))
        if expected == "a recipe" and self.kind in ("spans", "traces", "parquet"):  # logs with no recipe yet
            logs = shlex.quote(name) if name else "LOGS"
            goes += f" (no recipe yet? recipemut import {logs} -o recipe.yaml drafts one)"
        return f"{self.what}, not {expected}: {goes}"


def input_kind(head: bytes) -> InputKind | None:
    r"""Which of the files recipemut reads ``head`` (a file's first bytes) opens, or ``None`` when it is
    none of them that can be told: a Parquet file (its magic), a plan (a JSON object whose first keys
    hold ``planVersion``), a span log (:func:`span_lines`), a recipe, a span mapping or generation
    parameters (:func:`document_kind`), traces (:func:`trace_format`: kind ``"traces"``, the format's
    name as ``form``), or JSON lines none of which is a span (``"jsonl"``: an access log, another
    tool's export; ``--logs`` reads them and names each line's problem). The one detector both
    directions ask: ``--logs`` refuses all but the logs (:func:`recipemut.logs.sources.refuse_other_kind`),
    a recipe, plan or parameters reader all but its own (:func:`read_text_as`).

    >>> input_kind(b'{\n  "planVersion": 1,\n  "tool": "recipemut"\n}\n').kind
    'plan'
    >>> input_kind(b'{"request_id": "r1", "op": "a", "start_ms": 0}\n{"request_id": "r1"}\n').kind
    'spans'
    >>> input_kind(b"apiVersion: recipemut/v1\nkind: SpanMapping\n"), input_kind(b"PAR1\x15").kind
    (InputKind(kind='SpanMapping', form='YAML'), 'parquet')
    >>> input_kind(b"meeting notes\n") is None, input_kind(b'{"status": 200}\n{"status": 404}\n').kind
    (True, 'jsonl')
    >>> input_kind(b'{"format": 1, "seq": 1, "action": "apply", "sha256_before": "ab"}\n').kind
    'history'
    >>> input_kind(b"10080\nhistory 1 " + b"1e" * 32 + b"\n").kind, input_kind(b"5\n"), input_kind(b"2024\nfoo bar\n")
    ('lock', None, None)
    """
    if head.startswith(b"PAR1"):
        return InputKind("parquet", "")
    body = head.removeprefix(codecs.BOM_UTF8)
    form = "JSON" if body.lstrip().startswith((b"{", b"[")) else "YAML"
    if form == "JSON" and "planVersion" in json_top_keys(head)[0]:
        return InputKind("plan", form)
    if span_lines([ln.strip() for ln in body.splitlines()]):
        return InputKind("spans", "")
    kind = document_kind(head)
    if kind in ("Recipe", "SpanMapping", "Generation"):
        return InputKind(kind, form)
    traces = trace_format(head)
    if traces is not None:
        return InputKind("traces", TRACE_LABELS[traces])
    lines = [ln.strip() for ln in body.splitlines() if ln.strip()][:SPAN_LINES]
    first = json_top_keys(lines[0])[0] if lines and lines[0].startswith(b"{") else {}
    if first.get("format") == 1 and isinstance(first.get("seq"), int) and first.get("action") in _HISTORY_ACTIONS:
        return InputKind("history", "JSON")  # apply's record of a write, one JSON object a line
    if _LOCK.fullmatch(body):
        return InputKind("lock", "")
    if len(lines) >= 2 and all(ln.startswith(b"{") and json_top_keys(ln)[1] for ln in lines[:-1]):  # the last: cut?
        # JSON lines, none a span: an access log, another tool's export; a run history's lines (Step Functions
        # answers one per line) are told where the file fails as a recipe, or is read as a log
        return None if sniff(body) else InputKind("jsonl", "JSON")
    return None


def read_text_as(
    path: str | os.PathLike[str],
    *,
    max_bytes: int,
    what: str,
    accept: Container[str],
    text_what: str = "",
    expected: str = "",
    missing: str = "no such file",
    error: type[RecipemutError] = InputFileError,
) -> str:
    """:func:`recipemut.files.read.read_user_text`, refusing first, in one line, a file that
    :func:`input_kind` names as one of recipemut's other files (a log, a plan, a recipe...): ``expected``
    is what the file should be (``a recipe``), ``accept`` the kinds it may be (``{"Recipe"}``),
    ``error`` the error raised (code ``wrong-kind``). A file over ``max_bytes`` is told by its first
    bytes too before it is refused as too large (a log given as the recipe is larger than a recipe).
    ``text_what`` defaults to ``a YAML {what}``, ``expected`` to ``a {what}``."""
    name = os.fspath(path)
    text_what, expected = text_what or f"a YAML {what}", expected or f"a {what}"
    try:
        raw = read_user_file(path, max_bytes=max_bytes, what=what, missing=missing)
    except InputFileError as e:
        if e.code == "file-too-large":
            refuse_kind(regular_head(name), name, expected, accept, error)
        raise
    refuse_kind(raw[:HEAD], name, expected, accept, error)
    return decode_text(raw, file=name, what=text_what)


def refuse_kind(
    head: bytes, name: str, expected: str, accept: Container[str], error: type[RecipemutError]
) -> None:
    got = input_kind(head)
    if got is not None and got.kind not in accept:
        raise error(got.misplaced(expected, name), file=name, code="wrong-kind")


def regular_head(name: str) -> bytes:
    """The first :data:`HEAD` bytes of the regular file ``name`` (never waiting on a FIFO swapped in); ``b""``
    when it cannot be read so."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return b""
    try:
        return os.read(fd, HEAD) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
    except OSError:
        return b""
    finally:
        os.close(fd)


__all__ = [
    "GENERATION_KEYS",
    "GRAPH",
    "HEAD",
    "HEADER_LINES",
    "PAGE",
    "PLAN",
    "PNG",
    "RECIPE",
    "SPAN_KEYS",
    "SPAN_LINES",
    "SVG",
    "TRACE_LABELS",
    "FileKind",
    "InputKind",
    "document_kind",
    "head_of",
    "input_kind",
    "is_tempo",
    "json_top_keys",
    "looks_like",
    "read_text_as",
    "recipemut_kind",
    "refuse_kind",
    "regular_head",
    "span_lines",
    "trace_format",
]
