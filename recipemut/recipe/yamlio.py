"""Round-trip YAML: apply edits to a recipe's text and keep everything the edits did not touch.

``apply`` must not reformat a user's recipe. :func:`apply_edits_to_text` loads the text with
ruamel.yaml's round-trip loader (comments, key order, quoting, flow/block style survive), applies
the edits with :func:`recipemut.mutate.mutation.apply_edits_inplace`, and dumps it with the indentation
detected in the source. Where ruamel would still reformat lines that no edit touched (unusual
spacing, long lines), those lines are taken from the original text: the line-level changes between
"ruamel dump before" and "ruamel dump after" are spliced into the original. The result is checked
to load to exactly the edited data; if splicing cannot guarantee that, ruamel's dump is used.
ruamel is slow (tens of microseconds per value) and quadratic on long comment blocks, so it is
handed only the top-level entries and list items the edits touch, comment runs folded into one
line each; see "write-back in time proportional to what the edits touch" below.

>>> text = "name: demo   # the name\\nversion: 3\\nops: [a, b]\\n"
>>> print(apply_edits_to_text(text, [Edit("set", ("version",), 4)]), end="")
name: demo   # the name
version: 4
ops: [a, b]
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.tokens import CommentToken

from recipemut.errors import MutationError, RecipemutError
from recipemut.recipe.diff import line_opcodes
from recipemut.recipe.edits import Edit, apply_edits_inplace


class YamlSyntaxError(RecipemutError):
    """The recipe text is not YAML the round-trip loader accepts."""


def _indent_of(text: str) -> tuple[int, int, int]:
    """(mapping indent, sequence indent, dash offset) as used in ``text`` (ruamel's defaults if unclear)."""
    map_ind: int | None = None
    seq_ind: int | None = None
    offset: int | None = None
    lines = text.splitlines()
    key_re = re.compile(r"^(\s*)(?:- +)?[^\s#\-][^:#]*:(\s|$)")
    for i, line in enumerate(lines):
        m = key_re.match(line)
        if not m or not line.rstrip().endswith(":"):
            continue
        parent = len(line) - len(line.lstrip(" -"))  # column of the key, past any "- "
        for k in range(i + 1, len(lines)):  # an index, not a slice: a copy of the rest per key is quadratic
            nxt = lines[k]
            if not nxt.strip() or nxt.lstrip().startswith("#"):
                continue
            ind = len(nxt) - len(nxt.lstrip(" "))
            body = nxt.lstrip(" ")
            if ind <= parent and not body.startswith("- "):
                break
            if body.startswith("- "):
                if offset is None:
                    offset = ind - parent
                    seq_ind = offset + len(body) - len(body[1:].lstrip(" "))
            elif map_ind is None and ind > parent:
                map_ind = ind - parent
            break
        if map_ind is not None and seq_ind is not None:
            break
    mi = map_ind or 2
    off = offset if offset is not None and offset >= 0 else 0
    si = seq_ind if seq_ind is not None and seq_ind >= off + 2 else max(mi, off + 2)
    return mi, si, off


def _yaml(text: str, indent: tuple[int, int, int] | None = None) -> YAML:
    """A round-trip YAML instance indenting like ``text`` (or as ``indent`` says, when given)."""
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 1 << 30  # never fold a long line the user wrote on one line (ruamel folds at its width)
    mi, si, off = indent if indent is not None else _indent_of(text)
    y.indent(mapping=mi, sequence=si, offset=off)
    y.allow_duplicate_keys = False
    return y


def load_roundtrip(text: str, *, source: str = "<recipe>") -> Any:
    """Load YAML text as a ruamel round-trip document (``CommentedMap`` for a recipe)."""
    try:
        return _yaml(text, (2, 2, 0)).load(text)  # indentation matters only when dumping
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise YamlSyntaxError(f"YAML: {problem}", file=source, line=line, column=col, code="yaml") from None


def dump_roundtrip(doc: Any, *, like: str = "", indent: tuple[int, int, int] | None = None) -> str:
    """Dump a round-trip document, indenting like the text ``like`` (or as ``indent`` says)."""
    buf = io.StringIO()
    _yaml(like, indent).dump(doc, buf)
    return buf.getvalue()


def _lookup(doc: Any, path: Sequence[str | int]) -> Any:
    node = doc
    for key in path:
        if isinstance(node, Mapping):
            if key not in node:
                return None
            node = node[key]
        elif isinstance(node, Sequence) and not isinstance(node, str):
            if isinstance(key, int):
                if not -len(node) <= key < len(node):
                    return None
                node = node[key]
            else:
                node = next((it for it in node if isinstance(it, Mapping) and it.get("id") == key), None)
                if node is None:
                    return None
        else:
            return None
    return node


def _styled(value: Any, like: Any) -> Any:
    """``value`` as ruamel nodes that take the flow/block style of the node it replaces (``like``)."""
    if isinstance(value, Mapping):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _styled(v, like.get(k) if isinstance(like, Mapping) else None)
        if isinstance(like, CommentedMap) and like.fa.flow_style():
            out.fa.set_flow_style()
        return out
    if isinstance(value, (list, tuple)):
        seq = CommentedSeq([_styled(v, None) for v in value])
        flow = like.fa.flow_style() if isinstance(like, CommentedSeq) else all(
            not isinstance(v, (Mapping, list, tuple)) for v in value
        )
        if flow:
            seq.fa.set_flow_style()
        return seq
    return copy.deepcopy(value)


# ---- keeping comments with the item they precede ---------------------------------------------
# ruamel attaches a comment written *between* two items to the end of the item before it (its
# deepest last key). Adding an item after it, or removing it, would move or drop the comment; the
# helpers below carry the part after the end-of-line comment over to the item that now precedes.


def _holder(node: Any) -> tuple[Any, Any, int] | None:
    """(container, key, slot) where the comment after ``node``'s last line lives, if ``node`` is block style."""
    if isinstance(node, CommentedMap) and len(node) and not node.fa.flow_style():
        last = list(node.keys())[-1]
        deeper = _holder(node[last])
        return deeper if deeper is not None else (node, last, 2)
    if isinstance(node, CommentedSeq) and len(node) and not node.fa.flow_style():
        deeper = _holder(node[-1])
        return deeper if deeper is not None else (node, len(node) - 1, 0)
    return None


def _take_tail(h: tuple[Any, Any, int] | None) -> Any:
    """Detach and return the comment lines after ``h``'s end-of-line comment (a token), or None."""
    if h is None:
        return None
    container, key, slot = h
    entry = container.ca.items.get(key)
    tok = entry[slot] if entry and len(entry) > slot else None
    if tok is None or not isinstance(tok.value, str) or "\n" not in tok.value:
        return None
    nl = tok.value.index("\n") + 1
    rest = tok.value[nl:]
    if not rest:  # blank lines move too: they separate this item from the next
        return None
    tail = copy.copy(tok)
    tail.value = rest
    tok.value = tok.value[:nl]
    if tok.value == "\n":  # nothing left but the line end: drop the token
        entry[slot] = None
    return tail


def _give_tail(h: tuple[Any, Any, int] | None, tail: Any) -> None:
    """Attach comment lines ``tail`` after ``h``'s line (after its end-of-line comment, if any)."""
    if h is None or tail is None:
        return
    container, key, slot = h
    entry = container.ca.items.setdefault(key, [None, None, None, None])
    while len(entry) <= slot:
        entry.append(None)
    tok = entry[slot]
    if tok is None:
        tok = copy.copy(tail)
        tok.value = "\n" + tail.value
        entry[slot] = tok
    else:
        tok.value = (tok.value if tok.value.endswith("\n") else tok.value + "\n") + tail.value


def _give_head(seq: CommentedSeq, tail: Any) -> None:
    """Put comment lines ``tail`` before the first item of ``seq``."""
    tokens = []
    for line in tail.value.lstrip("\n").splitlines():
        body = line.lstrip(" ")
        col = len(line) - len(body)
        tokens.append(CommentToken(body + "\n" if body else "\n", CommentMark(col if body else 0), None))
    if not tokens:
        return
    if seq.ca.comment is None:
        seq.ca.comment = [None, []]
    while len(seq.ca.comment) < 2:
        seq.ca.comment.append([])
    if seq.ca.comment[1] is None:
        seq.ca.comment[1] = []
    seq.ca.comment[1].extend(tokens)


def _container_and_key(doc: Any, path: Sequence[str | int]) -> tuple[Any, Any]:
    parent = _lookup(doc, path[:-1])
    last = path[-1]
    if isinstance(parent, MutableSequence) and not isinstance(last, int):
        idx = next((i for i, it in enumerate(parent) if isinstance(it, Mapping) and it.get("id") == last), None)
        return parent, idx
    return parent, last


def apply_edits_to_doc(doc: MutableMapping[str, Any], edits: Sequence[Edit]) -> None:
    """Apply edits in place to a round-trip document, keeping styles and comments where they belong."""
    for e in edits:
        parent, key = _container_and_key(doc, e.path)
        tail = None
        if e.op == "set":
            existing = _lookup(doc, e.path)
            adds = isinstance(parent, CommentedMap) and key not in parent
            tail = _take_tail(_holder(parent) if adds else _holder(existing))
            apply_edits_inplace(doc, [Edit("set", e.path, _styled(e.value, existing))])
            if adds:
                _give_tail(_holder(parent), tail)
            elif tail is not None:
                slot = 0 if isinstance(parent, CommentedSeq) else 2
                _give_tail(_holder(_lookup(doc, e.path)) or (parent, key, slot), tail)
        elif e.op == "append":
            target = _lookup(doc, e.path)
            if target is None:
                adds = isinstance(parent, CommentedMap)
                tail = _take_tail(_holder(parent)) if adds else None
                apply_edits_inplace(doc, [Edit("set", e.path, _styled([e.value], None))])
                if adds:
                    _give_tail(_holder(parent), tail)
            else:
                sibling = target[-1] if isinstance(target, MutableSequence) and len(target) else None
                tail = _take_tail(_holder(target))
                apply_edits_inplace(doc, [Edit("append", e.path, _styled(e.value, sibling))])
                _give_tail(_holder(target), tail)
        else:  # remove: the comments after the removed item move to the item before it
            removed = _lookup(doc, e.path)
            tail = _take_tail(_holder(removed)) if removed is not None else None
            if tail is None and isinstance(parent, CommentedMap) and key in parent:
                tail = _take_tail((parent, key, 2))
            elif tail is None and isinstance(parent, CommentedSeq) and isinstance(key, int):
                tail = _take_tail((parent, key, 0))
            prev = _prev_holder(parent, key)
            # the comment block right above the removed item (after the item before it) goes with it
            between = _take_tail(prev)
            if between is not None:
                kept = _without_trailing_comment_block(between.value)
                if tail is not None:  # the removed item's own spacing replaces the blank lines before it
                    kept = kept.rstrip("\n") + "\n" + tail.value if kept.strip() else tail.value
                if kept:
                    between.value = kept
                    tail = between
            apply_edits_inplace(doc, [e])
            if prev is not None:
                _give_tail(prev, tail)
            elif tail is not None and isinstance(parent, CommentedSeq) and len(parent):
                _give_head(parent, tail)


def _without_trailing_comment_block(lines: str) -> str:
    """``lines`` without the comment lines at its end (those written right above the next item).

    >>> _without_trailing_comment_block("\\n  # about b\\n  # more\\n")
    '\\n'
    >>> _without_trailing_comment_block("  # about a\\n\\n")
    '  # about a\\n\\n'
    """
    out = lines.splitlines(keepends=True)
    while out and out[-1].strip().startswith("#"):
        out.pop()
    return "".join(out)


def _prev_holder(parent: Any, key: Any) -> tuple[Any, Any, int] | None:
    """Where the comment after the item preceding ``key`` of ``parent`` lives (call before removing)."""
    if isinstance(parent, CommentedSeq) and isinstance(key, int) and 0 < key < len(parent):
        return _holder(parent[key - 1]) or (parent, key - 1, 0)
    if isinstance(parent, CommentedMap) and key in parent:
        keys = list(parent.keys())
        i = keys.index(key)
        if i > 0:
            prev = keys[i - 1]
            return _holder(parent[prev]) or (parent, prev, 2)
    return None


def _norm(line: str) -> str:
    """A line without its whitespace: ruamel re-spacing a line does not make it a different line."""
    return "".join(line.split())


def _splice(original: str, before: str, after: str) -> str | None:
    """Carry the line changes ``before -> after`` over to ``original`` (which ``before`` reformats).

    Returns ``None`` when a changed region cannot be located in ``original`` unambiguously. Both
    line diffs take time linear in the texts' size (:func:`recipemut.recipe.diff.line_opcodes`).
    """
    o = original.splitlines(keepends=True)
    b = before.splitlines(keepends=True)
    a = after.splitlines(keepends=True)
    # map each line index of `before` that is identical in `original` to its index there
    b2o: dict[int, int] = {}
    bn, on = [_norm(x) for x in b], [_norm(x) for x in o]
    for tag, i1, i2, j1, j2 in line_opcodes(bn, on):
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):  # same count: reformatted 1:1
            for k in range(i2 - i1):
                b2o[i1 + k] = j1 + k
    out: list[str] = []
    pos = 0  # next line of `original` not yet emitted
    for tag, i1, i2, j1, j2 in line_opcodes(b, a):
        if tag == "equal":
            continue
        # the original region replaced is between the mapped neighbours of [i1, i2)
        if i1 > 0 and (i1 - 1) not in b2o:
            return None
        start = b2o[i1 - 1] + 1 if i1 > 0 else 0
        if i2 < len(b):
            if i2 not in b2o:
                return None
            end = b2o[i2]
        else:
            end = len(o)
        if tag != "insert" and any(k not in b2o for k in range(i1, i2)):
            return None
        if start < pos or end < start:
            return None
        out.extend(o[pos:start])
        out.extend(a[j1:j2])
        pos = end
    out.extend(o[pos:])
    return "".join(out)


def _plain(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    return node


def _roundtrip(text: str, edits: Sequence[Edit], *, source: str, indent: tuple[int, int, int] | None = None) -> str:
    """The whole round trip of one text: load, dump, edit, dump, splice onto ``text``, check."""
    doc = load_roundtrip(text, source=source)
    if not isinstance(doc, MutableMapping):
        raise MutationError("the recipe document is not a mapping", file=source, line=1, code="bad-document")
    indent = indent if indent is not None else _indent_of(text)
    before = dump_roundtrip(doc, indent=indent)
    apply_edits_to_doc(doc, edits)
    after = dump_roundtrip(doc, indent=indent)
    if before == after:
        return text
    if before == text:
        return after
    spliced = _splice(text, before, after)
    if spliced is not None:
        try:
            if _plain(load_roundtrip(spliced, source=source)) == _plain(doc):
                return spliced
        except RecipemutError:
            pass
    return after


# ---- write-back in time proportional to what the edits touch -----------------------------------
# ruamel.yaml reads and writes some 10-50 microseconds per value, and joins the lines of a comment
# block one string at a time (quadratic). A 5 MB recipe took over a minute. So ruamel sees only
# what the edits touch: the top-level entries they name, and of a top-level block list or mapping
# only the items they name (with the neighbours whose comments an edit may move). Every run of
# two or more comment lines it sees is folded into one marker comment and unfolded afterwards.
# The libyaml parser (C) outlines the text first: where entries and items start, and which lines
# lie inside multi-line scalars (a line there that starts with '#' is text, not a comment). The
# result is checked: it must load (with the recipe loader) to the recipe's data with the edits
# applied; if it does not, or the text cannot be outlined, the whole text is round-tripped.

_LINE = re.compile(r"[^\r\n\x85\u2028\u2029]*(?:\r\n|[\r\n\x85\u2028\u2029])|[^\r\n\x85\u2028\u2029]+")
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _lines(text: str) -> list[str]:
    """``text`` cut after each line break libyaml counts (``\\r\\n``, ``\\r``, ``\\n``, NEL, LS, PS), breaks kept."""
    return _LINE.findall(text)


@dataclass
class _Entry:
    """A top-level key: its first line, the line after it, and the first lines of its value's block items."""

    key: str
    start: int
    end: int = 0
    kids: list[int] = field(default_factory=list)
    kid_keys: list[str] | None = None  # the keys of a block mapping value (None: a block list, or no items)
    sliceable: bool = False  # the value is a block list or mapping whose items each start a line


@dataclass
class _Outline:
    """Where a recipe's parts start, as line indices of :func:`_lines`, and which lines are scalar text."""

    lines: list[str]
    entries: list[_Entry]
    in_scalar: bytearray  # 1: the line continues a multi-line scalar (never a comment line)

    def kid_range(self, e: _Entry, i: int) -> tuple[int, int]:
        return e.kids[i], e.kids[i + 1] if i + 1 < len(e.kids) else e.end


def _outline(text: str) -> _Outline | None:
    """The outline of a one-document YAML text whose root is a block mapping at column 0 (else None)."""
    lines = _lines(text)
    in_scalar = bytearray(len(lines))
    entries: list[_Entry] = []
    stack: list[list[bool]] = []  # per open collection: [is a mapping, its next node is a key]
    dash = re.compile(r"[ ]*-[ ]+")

    def start(ev: Any) -> bool:
        """Note a node starting at its level; False when the text is not shaped as an outline needs."""
        mark: Any = ev.start_mark
        end: Any = ev.end_mark
        level = len(stack)
        is_key = bool(stack) and stack[-1][0] and stack[-1][1]
        collection = isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent))
        if level == 0:
            return isinstance(ev, yaml.MappingStartEvent) and not ev.flow_style
        if level == 1 and is_key:
            if not isinstance(ev, yaml.ScalarEvent) or mark.column or end.line != mark.line:
                return False
            entries.append(_Entry(ev.value, mark.line))
        elif level == 1:
            e = entries[-1]
            if collection and not ev.flow_style and mark.line > e.start:
                e.sliceable = True
                e.kid_keys = [] if isinstance(ev, yaml.MappingStartEvent) else None
        elif level == 2 and entries[-1].sliceable:
            e = entries[-1]
            line = lines[mark.line][: mark.column]
            if e.kid_keys is None:  # an item of a block list: "- " before it on its first line
                if not dash.fullmatch(line) or (e.kids and e.kids[-1] >= mark.line):
                    e.sliceable = False
                else:
                    e.kids.append(mark.line)
            elif is_key:
                if not isinstance(ev, yaml.ScalarEvent) or line.strip(" ") or end.line != mark.line:
                    e.sliceable = False
                else:
                    e.kids.append(mark.line)
                    e.kid_keys.append(ev.value)
        return True

    def done() -> None:
        if stack and stack[-1][0]:
            stack[-1][1] = not stack[-1][1]

    documents = 0
    try:
        events: Any = yaml.parse(text, Loader=_YAML_LOADER)
        for ev in events:
            if isinstance(ev, (yaml.ScalarEvent, yaml.AliasEvent)):
                if not start(ev):
                    return None
                sm: Any = ev.start_mark
                em: Any = ev.end_mark
                first, last, last_column = sm.line, em.line, em.column
                if last > first:  # the lines after a multi-line scalar's first are its text
                    stop = last + 1 if last_column else last
                    in_scalar[first + 1 : stop] = b"\x01" * (stop - first - 1)
                done()
            elif isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                if not start(ev):
                    return None
                stack.append([isinstance(ev, yaml.MappingStartEvent), True])
            elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                stack.pop()
                done()
            elif isinstance(ev, yaml.DocumentStartEvent):
                documents += 1
    except yaml.YAMLError:
        return None
    if documents != 1 or not entries:
        return None
    for k, e in enumerate(entries):
        e.end = entries[k + 1].start if k + 1 < len(entries) else len(lines)
        if e.sliceable and (not e.kids or e.kids[0] <= e.start):
            e.sliceable = False
    return _Outline(lines, entries, in_scalar)


class _Keep:
    """Which parts of an outlined text the round trip must see for some edits."""

    def __init__(self, outline: _Outline) -> None:
        self.o = outline
        self.whole: set[int] = set()  # entries kept whole
        self.kids: dict[int, set[int]] = {}  # entry -> items kept (with the entry's head)

    def entry(self, k: int) -> None:
        self.whole.add(k)

    def kid(self, k: int, i: int) -> None:
        if 0 <= i < len(self.o.entries[k].kids):
            self.kids.setdefault(k, set()).add(i)

    def end(self, k: int) -> None:
        """The end of entry ``k``: where something appended to it goes, and the comments after it."""
        e = self.o.entries[k]
        if e.sliceable:
            self.kid(k, len(e.kids) - 1)
        else:
            self.entry(k)

    def ranges(self) -> list[tuple[int, int]]:
        """The kept lines as sorted, merged ``[lo, hi)`` ranges.

        The lines before the first key are kept when they hold more than comments and blank lines
        (``%YAML``, ``---``): ruamel would drop a blank line there that no edit asked to remove.
        """
        o = self.o
        head = o.lines[: o.entries[0].start]
        out: list[tuple[int, int]] = []
        if any(line.strip() and not line.lstrip().startswith("#") for line in head):
            out.append((0, len(head)))
        for k, e in enumerate(o.entries):
            if k in self.whole:
                out.append((e.start, e.end))
            elif k in self.kids:
                out.append((e.start, e.kids[0]))
                out.extend(o.kid_range(e, i) for i in sorted(self.kids[k]))
        merged: list[tuple[int, int]] = []
        for lo, hi in out:
            if merged and merged[-1][1] == lo:
                merged[-1] = (merged[-1][0], hi)
            elif hi > lo:
                merged.append((lo, hi))
        return merged


def _keep(outline: _Outline, data: Mapping[str, Any], edits: Sequence[Edit]) -> list[tuple[int, int]] | None:
    """The line ranges of the text that ``edits`` touch (see above), or None to take the whole text."""
    keep = _Keep(outline)
    index = {e.key: k for k, e in enumerate(outline.entries)}
    if len(index) != len(outline.entries) or set(index) != set(data):
        return None
    last = len(outline.entries) - 1
    for ed in edits:
        path = ed.path
        if not path or not isinstance(path[0], str):
            return None
        k = index.get(path[0])
        if k is None:  # a new top-level key goes after the last one
            keep.end(last)
            continue
        e = outline.entries[k]
        removes = ed.op in ("remove", "prune")
        if len(path) == 1:
            keep.entry(k)
            if removes and k > 0:  # the comments after it move to the entry before
                keep.end(k - 1)
            continue
        if not e.sliceable:
            keep.entry(k)
            continue
        value = data[path[0]]
        if e.kid_keys is None:
            ids = [it.get("id") if isinstance(it, Mapping) else None for it in value] if isinstance(value, list) else []
            hits = [i for i, v in enumerate(ids) if v == path[1]] if isinstance(path[1], str) else []
            if len(ids) != len(e.kids) or len(hits) != 1:
                keep.entry(k)  # an index, an unknown or a repeated id: the whole list
                continue
            i = hits[0]
        else:
            if not isinstance(value, Mapping) or len(value) != len(e.kid_keys) or not isinstance(path[1], str):
                keep.entry(k)
                continue
            if path[1] not in e.kid_keys:
                if removes:
                    keep.entry(k)
                else:
                    keep.end(k)  # a new key goes after the last
                continue
            i = e.kid_keys.index(path[1])
        keep.kid(k, i)
        if removes and len(path) == 2:  # its comments move to the item before; or before the next
            keep.kid(k, i - 1)
            keep.kid(k, i + 1)
    return keep.ranges()


class _Folded:
    """Lines of an outlined text as the round trip sees them: comment runs folded into one marker each."""

    def __init__(self, outline: _Outline, ranges: Sequence[tuple[int, int]], avoid: str) -> None:
        n = 0
        while f"@recipemut-fold-{n}@" in avoid:
            n += 1
        self.marker = f"@recipemut-fold-{n}@"
        self.runs: list[str] = []
        self.lines: list[str] = []
        self.spans: list[tuple[int, int]] = []  # per line: the original lines [lo, hi) it stands for
        lines, in_scalar = outline.lines, outline.in_scalar
        for lo, hi in ranges:
            i = lo
            while i < hi:
                j = i
                while j < hi and not in_scalar[j] and lines[j].lstrip(" \t").startswith("#"):
                    j += 1
                if j - i >= 2:
                    first = lines[i]
                    indent = first[: len(first) - len(first.lstrip(" \t"))]
                    self.lines.append(f"{indent}# {self.marker}{len(self.runs)}\n")
                    self.runs.append("".join(lines[i:j]))
                    self.spans.append((i, j))
                    i = j
                else:
                    self.lines.append(lines[i])
                    self.spans.append((i, i + 1))
                    i += 1
        self.pattern = re.compile(r"[ \t]*# " + re.escape(self.marker) + r"(\d+)(\r\n|[\r\n\x85\u2028\u2029])?")

    def unfold(self, new: Sequence[str]) -> list[str] | None:
        """Lines written by the round trip with their markers replaced by the comments (None: a marker is astray)."""
        out: list[str] = []
        for line in new:
            m = self.pattern.fullmatch(line)
            if m is None:
                if self.marker in line:
                    return None
                out.append(line)
                continue
            run = self.runs[int(m.group(1))]
            out.append(run if m.group(2) is None or run.endswith(("\n", "\r", "\x85", "\u2028", "\u2029")) else
                       run + m.group(2))
        return out


def _write_back(outline: _Outline, folded: _Folded, result: str) -> str | None:
    """The original text with the changes ``folded`` lines -> ``result`` carried over (None if ambiguous).

    A change inside one kept stretch replaces the original lines it covers. New lines between two
    kept stretches that are apart in the original go after the first of them: what the round trip
    adds (an item, a key, comments moved from a removed item) goes after the item it follows.
    """
    new = _lines(result)
    spans, lines = folded.spans, outline.lines
    out: list[str] = []
    pos = 0
    for tag, i1, i2, j1, j2 in line_opcodes(folded.lines, new):
        if tag == "equal":
            continue
        added = folded.unfold(new[j1:j2])
        if added is None:
            return None
        if i1 < i2:
            gaps = [(spans[g - 1][1], spans[g][0]) for g in range(i1 + 1, i2) if spans[g - 1][1] != spans[g][0]]
            if gaps and added:
                return None  # lines replaced on both sides of a part the round trip did not see
            start, end = spans[i1][0], spans[i2 - 1][1]
        else:
            start = end = spans[i1 - 1][1] if i1 > 0 else 0
            gaps = []
        if start < pos:
            return None
        out.extend(lines[pos:start])
        for lo, hi in gaps:  # a deletion on both sides of an unseen part keeps that part
            out.extend(lines[lo:hi])
        out.extend(added)
        pos = end
    out.extend(lines[pos:])
    return "".join(out)


def _sliced(text: str, edits: Sequence[Edit], *, source: str) -> str | None:
    """:func:`apply_edits_to_text` round-tripping only what the edits touch (None: the text has no outline).

    When the parts cannot be told apart, or their result does not check, the whole text is
    round-tripped (its comment runs folded all the same); an error is then the round trip's own.
    """
    from recipemut.recipe.yamlpos import parse_yaml

    outline = _outline(text)
    if outline is None:
        return None
    whole = [(0, len(outline.lines))]
    parts = [whole]
    data: Any = None
    try:
        data, _, findings = parse_yaml(text, file=source)
        if not findings and isinstance(data, dict):
            ranges = _keep(outline, data, edits)
            apply_edits_inplace(data, copy.deepcopy(list(edits)))  # what the result must load to
            if ranges is not None and ranges != whole:
                parts = [ranges, whole]
    except RecipemutError:
        pass  # duplicate keys, an edit that cannot apply, ...: the round trip of the whole text says what
    indent = _indent_of(text)
    avoid = text + repr(list(edits))
    for part in parts:
        folded = _Folded(outline, part, avoid)
        seen = "".join(folded.lines)
        try:
            result = _roundtrip(seen, edits, source=source, indent=indent)
        except RecipemutError as e:
            if part is not whole:
                continue
            if e.line is not None and 0 < e.line <= len(folded.spans):  # the line in the text, not the folded one
                e.line = folded.spans[e.line - 1][0] + 1
            raise
        out = text if result == seen else _write_back(outline, folded, result)
        if out is None:
            continue
        if part is whole:
            return out  # the round trip checked itself; unfolding changed comment lines only
        try:
            got, _, findings = parse_yaml(out, file=source)
        except RecipemutError:
            continue
        if not findings and got == data:
            return out
    return None


def apply_edits_to_text(text: str, edits: Sequence[Edit], *, source: str = "<recipe>") -> str:
    """Return ``text`` with ``edits`` applied, keeping comments and formatting where nothing changed.

    A text whose lines all end in CRLF comes back with CRLF line ends (new lines included). The
    time taken grows with the size of what the edits touch, and linearly with the text's size.
    """
    if "\r\n" in text and text.count("\r\n") == text.count("\n"):
        return apply_edits_to_text(text.replace("\r\n", "\n"), edits, source=source).replace("\n", "\r\n")
    out = _sliced(text, edits, source=source)
    return out if out is not None else _roundtrip(text, edits, source=source)
