"""YAML with positions: one bounded reader for every YAML file a user gives (recipe, mapping, loggen).

:func:`parse_yaml` builds plain data straight from PyYAML's event stream and records the (line,
column) of every value by document path, so that every message about the file can point into it.
One set of limits holds for every file read this way: aliases may repeat at most
:data:`MAX_ALIAS_EXPANSION` values ("billion laughs" documents are refused early), nesting is at
most :data:`MAX_DEPTH` deep, a file holds at most :data:`MAX_NODES` values, and an integer at most
:data:`MAX_INT_DIGITS` digits. Duplicate keys are findings (the later value wins), not errors. A
plain value YAML reads as a number or a date that is none (``0x_``, ``0b_``, ``2001-02-30``; and
``._``, ``-_``, ``0o_``, text to YAML 1.1 that the YAML 1.2 round trip of ``apply`` would take for a
number) is an error, ``yaml-value``, at its place. Every error's code is in :data:`STOP_CODES`.

Mapping keys are read as text (``on:`` is the key ``"on"``, as YAML 1.2 reads it); plain scalars
such as ``1e-4`` are numbers (YAML 1.2), other values follow PyYAML's safe loader.

>>> data, pos, findings = parse_yaml("a: &x {b: 1e-4}\\nc: *x\\n", file="f.yaml", what="mapping file")
>>> data, pos[("c",)], findings
({'a': {'b': 0.0001}, 'c': {'b': 0.0001}}, (2, 1), [])
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from typing import Any

import yaml

from recipemut.errors import Finding, RecipeInvalid
from recipemut.recipe.model import DocPath, Positions

#: Values that aliases may repeat beyond the document's own (stops "billion laughs" alias bombs).
MAX_ALIAS_EXPANSION = 10_000
#: Deepest nesting of mappings and lists accepted.
MAX_DEPTH = 100
#: Most YAML values (scalars, lists, mappings, alias expansions) read from one file.
MAX_NODES = 100_000
#: Most digits of an integer (Python refuses to convert more than 4,300; no value read here needs 30).
MAX_INT_DIGITS = 100

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_12 = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)$")
#: plain text a YAML 1.2 reader (ruamel.yaml, which ``apply`` and ``suggest`` edit recipes with) takes
#: for a number with no digits and cannot read: ``-_``, ``._``, ``._e+1``, ``0o_`` (YAML 1.1 reads them as text)
_NO_DIGITS_12 = re.compile(r"^(?:[-+]_+|[-+]?\._+(?:[eE][-+][0-9]+)?|[-+]?0[xob]_+)$")
_MERGE_KEY = "\x00<<merge>>"

#: codes of the errors that stop the reading of a file (its syntax, a value, a limit): past one nothing
#: can tell what the file is (``import`` names them rather than "not a workflow file"). Every error this
#: module raises has one of these codes; ``duplicate-key`` is a finding, never an error.
UNREADABLE_CODES = frozenset(
    {
        "yaml-syntax",
        "yaml-tag",
        "yaml-value",
        "bad-value",
        "bad-key",
        "bad-merge",
        "alias-bomb",
        "recursive-alias",
        "too-deep",
        "too-many-nodes",
        "empty-file",
    }
)
#: the code of a second document where one is read (a recipe); an engine's file may hold several
SEVERAL_DOCUMENTS = "multiple-documents"
STOP_CODES = UNREADABLE_CODES | {SEVERAL_DOCUMENTS}


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


#: line breaks to YAML that no editor breaks a line at: NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR
_YAML_ONLY_BREAKS = ("\x85", "\u2028", "\u2029")


def _unquoted_break(text: str) -> int | None:
    """Where the first of YAML's extra line breaks stands outside quotes (in a comment or a plain value, where it
    breaks the line for YAML; in a quoted value it is folded, harmless), else ``None``. Told from its line alone,
    read once from its start (a quote opened and not closed before it; a ``#`` outside quotes starts a comment),
    so a line of many of them costs its length, not its length times their number.

    >>> _unquoted_break('a: "x\\u2028y"\\n'), _unquoted_break("# c\\u2028d\\n"), _unquoted_break("a: x\\u2029y\\n")
    (None, 3, 4)
    """
    done = -1  # the end of the last line read
    for m in re.finditer("[\x85\u2028\u2029]", text):
        if m.start() < done:
            continue  # its line was read whole: every break on it was quoted
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.start())
        done = len(text) if end < 0 else end
        quote = ""
        for i in range(start, done):
            c = text[i]
            if quote:
                quote = "" if c == quote else quote
            elif c in "\"'":
                quote = c
            elif c == "#" or c in _YAML_ONLY_BREAKS:  # a comment: the next break on the line is in it
                hit = i if c != "#" else next((j for j in range(i, done) if text[j] in _YAML_ONLY_BREAKS), -1)
                if hit >= 0:
                    return hit
                break
    return None


def _editor_lines(text: str) -> Callable[[int, int], tuple[int, int]] | None:
    """A map from YAML's (line, column), 1-based, to an editor's, for a text where they differ (YAML breaks lines
    at U+0085, U+2028 and U+2029 as well: every line after one was numbered one too many); ``None`` when the
    text holds none.

    >>> _editor_lines("a: 1\\n"), _editor_lines("# c\\u2028d\\nb: x\\n")(3, 4)
    (None, (2, 4))
    """
    if not any(c in text for c in _YAML_ONLY_BREAKS):
        return None
    yaml_starts = [0, *(m.end() for m in re.finditer("\r\n|[\n\r\x85\u2028\u2029]", text))]
    starts = [0, *(m.end() for m in re.finditer("\r\n|[\n\r]", text))]

    def remap(line: int, col: int) -> tuple[int, int]:
        at = yaml_starts[min(line, len(yaml_starts)) - 1] + col - 1
        editor = bisect.bisect_right(starts, at)
        return editor, at - starts[editor - 1] + 1

    return remap


def path_name(path: DocPath) -> str:
    """``operations[2].cache`` for a document path (``top level`` for the root).

    >>> path_name(("operations", 2, "cache")), path_name(())
    ('operations[2].cache', 'top level')
    """
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else ("." if out else "") + str(step)
    return out or "top level"


def _invalid(file: str, line: int | None, col: int | None, code: str, message: str) -> RecipeInvalid:
    if code not in STOP_CODES:  # every code that ends a reading is listed there, for the callers that tell them
        raise AssertionError(f"yamlpos raises {code!r}, which STOP_CODES does not list")
    return RecipeInvalid([Finding(file, line, col, code, message)])


_TAG_WORDS = {
    _INT_TAG: "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:bool": "true or false",
}


def _value_problem(event: Any, tag: str, reader: str = "YAML") -> str:
    """Why a scalar cannot be read: ``cannot read value '0x_' (YAML reads it as an integer, ...)``."""
    value = event.value if len(event.value) <= 40 else event.value[:39] + "…"
    kind = _TAG_WORDS.get(tag, tag.removeprefix("tag:yaml.org,2002:"))
    if event.tag in (None, "!"):  # resolved from the plain text: quoting it keeps it text
        return (
            f"cannot read value {value!r} ({reader} reads it as {kind}, but it is not one; quote it to keep it as text)"
        )
    return f"cannot read value {value!r} as {event.tag.replace('tag:yaml.org,2002:', '!!')} (it is not {kind})"


def _yaml_error(e: yaml.YAMLError, text: str, file: str, what: str) -> RecipeInvalid:
    if isinstance(e, yaml.reader.ReaderError):
        rline, rcol = _line_col(text, e.position)
        ch = e.character if isinstance(e.character, str) else chr(e.character)
        return _invalid(
            file, rline, rcol, "yaml-syntax", f"character U+{ord(ch):04X} is not allowed in YAML ({e.reason})"
        )
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        remap = _editor_lines(text) or (lambda ln, c: (ln, c))
        line, col = remap(mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        problem = e.problem or "invalid YAML"
        if "another document" in problem:
            return _invalid(file, line, col, SEVERAL_DOCUMENTS, f"has several YAML documents (---); a {what} is one")
        msg = f"YAML syntax error: {problem}"
        if e.context:
            ctx = e.context_mark
            at = remap(ctx.line + 1, ctx.column + 1)[0] if ctx is not None else None
            where = f" at line {at}" if at is not None and at != line else ""
            msg += f" ({e.context}{where})"
        if mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t":
            msg += "; YAML cannot indent with tabs, use spaces"
        if (odd := _unquoted_break(text)) is not None:
            msg += (f"; line {_line_col(text, odd)[0]} holds U+{ord(text[odd]):04X}, which YAML reads as a "
                    "line break (in a comment too): remove it, or quote the text that holds it")
        return _invalid(file, line, col, "yaml-syntax", msg)
    return _invalid(file, None, None, "yaml-syntax", f"YAML error: {e}")


class _NoPositions(dict[DocPath, tuple[int, int]]):
    """Positions not kept (a large file read for its data only): every position given is dropped."""

    def __setitem__(self, key: DocPath, value: tuple[int, int]) -> None:
        pass


class _Frame:
    """An open mapping or sequence while events stream in."""

    __slots__ = ("anchor", "data", "first_line", "key", "merges", "nodes_before", "path")

    def __init__(self, data: Any, path: DocPath, anchor: str | None, nodes_before: int) -> None:
        self.data = data
        self.path = path
        self.anchor = anchor
        self.nodes_before = nodes_before
        self.key: str | None = None  # a mapping's key waiting for its value
        self.first_line: dict[str, int] = {}
        self.merges: list[Any] = []


class _Composer:
    """Builds plain data straight from the YAML event stream, recording positions and problems.

    One pass, no node graph: the number of nodes is capped before they are all in memory, and an
    alias costs the size of what it repeats, so a "billion laughs" document is refused early.
    Aliases share the anchored value (as PyYAML does); their positions point at the alias.
    """

    def __init__(
        self, file: str, what: str, text: str, *, multi: bool = False, max_nodes: int | None = MAX_NODES,
        positions: bool = True,
    ) -> None:
        self.file = file
        self.what = what
        self.remap = _editor_lines(text)  # YAML's lines to an editor's, where they differ
        self.multi = multi  # several documents allowed (engine files); limits hold for the whole file
        self.max_nodes = max_nodes
        self._positions: type[dict[DocPath, tuple[int, int]]] = dict if positions else _NoPositions
        self.done: list[tuple[Any, Positions, list[Finding]]] = []
        self.positions: dict[DocPath, tuple[int, int]] = self._positions()
        self.findings: list[Finding] = []
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}  # name -> (value, nodes it holds)
        self.open_anchors: set[str] = set()
        self.nodes = 0
        self.expanded = 0
        self.root: Any = None
        self.documents = 0
        self._resolver = yaml.resolver.Resolver()
        self._ctor = yaml.constructor.SafeConstructor()

    # ---- helpers --------------------------------------------------------------------------------
    def _pos(self, event: Any) -> tuple[int, int]:
        at = event.start_mark.line + 1, event.start_mark.column + 1
        return self.remap(*at) if self.remap is not None else at

    def _fail(self, event: Any, code: str, message: str) -> RecipeInvalid:
        line, col = self._pos(event)
        return _invalid(self.file, line, col, code, message)

    def _count(self, event: Any, n: int = 1) -> None:
        self.nodes += n
        if self.max_nodes is not None and self.nodes > self.max_nodes:
            raise self._fail(
                event, "too-many-nodes", f"has more than {self.max_nodes:,} YAML values; a {self.what} is far smaller"
            )

    def _child_path(self, event: Any) -> DocPath | None:
        """Path of the node starting at ``event``; ``None`` when it is a mapping key."""
        if not self.stack:
            self.positions[()] = self._pos(event)
            return ()
        top = self.stack[-1]
        if isinstance(top.data, list):
            path = (*top.path, len(top.data))
            self.positions[path] = self._pos(event)
            return path
        if top.key is None:
            return None
        return (*top.path, top.key)

    def _scalar_value(self, event: Any) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = _STR_TAG if tag == "!" else self._resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _STR_TAG:
            if not event.style and event.implicit[0] and _FLOAT_12.match(event.value):
                return float(event.value)  # YAML 1.2 reads 1e-4 as a number
            if not event.style and event.implicit[0] and _NO_DIGITS_12.match(event.value):
                raise self._fail(event, "yaml-value", _value_problem(event, "tag:yaml.org,2002:float", "YAML 1.2"))
            return event.value
        if tag == _INT_TAG:
            body = event.value.lstrip("+-")
            body = body[2:] if body[:2].lower() in ("0x", "0o", "0b") else body
            digits = sum(ch.isalnum() for ch in body)  # not the sign, a base prefix, '_' or ':'
            if digits > MAX_INT_DIGITS:
                raise self._fail(event, "bad-value", f"number with {digits:,} digits; at most {MAX_INT_DIGITS}")
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            return self._ctor.construct_object(node)
        except yaml.YAMLError as e:
            problem = getattr(e, "problem", None) or str(e)
            raise self._fail(event, "yaml-tag", f"cannot read value: {problem}") from None
        except (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError):
            # YAML 1.1 resolves `0x_` and `0b_` as integers with no digits, `2001-02-30` as a date
            # that does not exist; an explicit `!!int abc` or `!!timestamp x` is not one either
            raise self._fail(event, "yaml-value", _value_problem(event, tag)) from None

    # ---- attaching finished values -----------------------------------------------------------------
    def _key(self, top: _Frame, event: Any, key: Any, is_merge: bool) -> None:
        line, col = self._pos(event)
        if is_merge:
            top.key = _MERGE_KEY
            return
        if not isinstance(key, str):
            raise self._fail(event, "bad-key", "a mapping key must be plain text, not a list or mapping")
        if key in top.first_line:
            subject = path_name(top.path) + ": " if top.path else ""
            self.findings.append(
                Finding(
                    self.file,
                    line,
                    col,
                    "duplicate-key",
                    f"{subject}duplicate key '{key}' (first at line {top.first_line[key]}, again at line {line})",
                )
            )
            prefix = (*top.path, key)
            for p in [p for p in self.positions if p[: len(prefix)] == prefix]:
                del self.positions[p]  # the later value wins; forget where the earlier one was
        else:
            top.first_line[key] = line
        self.positions[(*top.path, key)] = (line, col)
        top.key = key

    def _attach(self, value: Any, event: Any, *, is_merge_key: bool = False) -> None:
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        if isinstance(top.data, list):
            top.data.append(value)
        elif top.key is None:
            self._key(top, event, value, is_merge_key)
        elif top.key is _MERGE_KEY:
            sources = value if isinstance(value, list) else [value]
            if not all(isinstance(s, dict) for s in sources):
                raise self._fail(event, "bad-merge", "'<<' must merge a mapping or a list of mappings")
            top.merges.extend(sources)
            top.key = None
        else:
            top.data[top.key] = value
            top.key = None

    # ---- events ------------------------------------------------------------------------------------
    def feed(self, event: Any) -> None:
        if isinstance(event, yaml.ScalarEvent):
            self._count(event)
            path = self._child_path(event)
            # keys are read as text (YAML 1.2 reads `on:` as the key "on")
            value = event.value if path is None else self._scalar_value(event)
            if event.anchor:
                self.anchors[event.anchor] = (value, 1)
            is_merge = path is None and event.value == "<<" and not event.style and event.tag is None
            self._attach(value, event, is_merge_key=is_merge)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            self._count(event)
            path = self._child_path(event)
            if path is None:
                raise self._fail(event, "bad-key", "a mapping key must be plain text, not a list or mapping")
            if len(self.stack) >= MAX_DEPTH:
                raise self._fail(event, "too-deep", f"nested deeper than {MAX_DEPTH} levels")
            if event.tag not in (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
                raise self._fail(event, "yaml-tag", f"cannot read value: unsupported tag {event.tag!r}")
            data: Any = [] if isinstance(event, yaml.SequenceStartEvent) else {}
            if event.anchor:
                self.open_anchors.add(event.anchor)
            self.stack.append(_Frame(data, path, event.anchor, self.nodes))
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            frame = self.stack.pop()
            for source in frame.merges:  # explicit keys win, then earlier merged mappings
                for k, v in source.items():
                    frame.data.setdefault(k, v)
            if frame.anchor:
                self.open_anchors.discard(frame.anchor)
                self.anchors[frame.anchor] = (frame.data, self.nodes - frame.nodes_before + 1)
            self._attach(frame.data, event)
        elif isinstance(event, yaml.AliasEvent):
            path = self._child_path(event)
            if event.anchor in self.open_anchors:
                raise self._fail(event, "recursive-alias", f"alias *{event.anchor} refers to a node that contains it")
            if event.anchor not in self.anchors:
                raise self._fail(event, "yaml-syntax", f"alias *{event.anchor} names no anchor defined before it")
            value, size = self.anchors[event.anchor]
            self.expanded += size
            if self.expanded > MAX_ALIAS_EXPANSION:
                raise self._fail(
                    event,
                    "alias-bomb",
                    f"aliases expand to more than {MAX_ALIAS_EXPANSION:,} values (an alias bomb?); refusing to expand",
                )
            self._count(event, size)
            self._attach(value, event)
        elif isinstance(event, yaml.DocumentEndEvent) and self.multi:
            self.done.append((self.root, self.positions, self.findings))
            self.root, self.positions, self.findings = None, self._positions(), []
            self.anchors, self.open_anchors = {}, set()  # anchors are per document
        elif isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1 and not self.multi:
                raise self._fail(event, SEVERAL_DOCUMENTS, f"has several YAML documents (---); a {self.what} is one")


def parse_yaml(
    text: str, *, file: str = "<string>", what: str = "recipe", expected: str | None = None
) -> tuple[Any, Positions, list[Finding]]:
    """Parse one YAML document into (data, positions, findings about keys).

    ``what`` is what the file is ("recipe", "mapping file", ...) and ``expected`` what an empty
    file should have held (default: ``a <what>``), for the messages. Raises
    :class:`RecipeInvalid` when there is nothing to check: a syntax error, several documents, an
    alias bomb, too many values, an empty document.

    >>> data, pos, findings = parse_yaml("a:\\n  b: [x, y]\\n  b: 2\\n")
    >>> data, pos[("a", "b")], ("a", "b", 0) in pos
    ({'a': {'b': 2}}, (3, 3), False)
    >>> [f.message for f in findings]
    ["a: duplicate key 'b' (first at line 2, again at line 3)"]
    """
    composer = _Composer(file, what, text)
    try:
        for event in yaml.parse(text, Loader=_Loader):
            composer.feed(event)
    except yaml.YAMLError as e:
        raise _yaml_error(e, text, file, what) from None
    if composer.root is None:
        raise _invalid(file, None, None, "empty-file", f"is empty; expected {expected or 'a ' + what}")
    return composer.root, composer.positions, composer.findings


def parse_yaml_documents(
    text: str, *, file: str = "<string>", what: str = "file", max_nodes: int | None = MAX_NODES, positions: bool = True
) -> list[tuple[Any, Positions, list[Finding]]]:
    """Every document of a multi-document YAML file (``---``), each as :func:`parse_yaml` gives one.

    For workflow engines' files (a Tekton Pipeline with its Tasks); a recipe is one document. The
    limits hold for the whole file (values, alias expansion); anchors are per document. An empty
    document is ``None`` with no positions; a file with no document at all raises.

    A file read for its data only (a run history, capped by its size in bytes) passes
    ``max_nodes=None`` (no cap on the number of values) and ``positions=False`` (none kept: the
    documents' positions are empty); the other limits hold.

    >>> [d for d, _, _ in parse_yaml_documents("a: 1\\n---\\nb: 2\\n")]
    [{'a': 1}, {'b': 2}]
    >>> parse_yaml_documents("a: 1\\n---\\nb: [x]\\n")[1][1][("b", 0)]
    (3, 5)
    """
    composer = _Composer(file, what, text, multi=True, max_nodes=max_nodes, positions=positions)
    try:
        for event in yaml.parse(text, Loader=_Loader):
            composer.feed(event)
    except yaml.YAMLError as e:
        raise _yaml_error(e, text, file, what) from None
    if all(root is None for root, _, _ in composer.done):
        raise _invalid(file, None, None, "empty-file", f"is empty; expected a {what}")
    return composer.done


__all__ = [
    "MAX_ALIAS_EXPANSION",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "MAX_NODES",
    "SEVERAL_DOCUMENTS",
    "STOP_CODES",
    "UNREADABLE_CODES",
    "parse_yaml",
    "parse_yaml_documents",
    "path_name",
]
