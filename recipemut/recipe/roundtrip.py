"""The ruamel.yaml round trip of a recipe text: load, apply edits, dump, and splice back what no edit touched.

``apply`` must not reformat a user's recipe. :func:`roundtrip_edits` loads the text with ruamel.yaml's
round-trip loader (comments, key order, quoting, flow/block style survive), applies the edits with
:func:`recipemut.recipe.edits.apply_edits_inplace`, and dumps it with the indentation detected in the
source. Where ruamel would still reformat lines that no edit touched (unusual spacing, long lines),
those lines are taken from the original text: the line-level changes between "ruamel dump before"
and "ruamel dump after" are spliced into the original. :mod:`recipemut.recipe.yamlio` hands it only
the parts of a recipe the edits touch.
"""


from __future__ import annotations

import copy
import io
import re
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence
from decimal import Decimal
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.tokens import CommentToken

from recipemut.errors import MutationError, RecipemutError
from recipemut.recipe.edits import Edit, apply_edits_inplace
from recipemut.recipe.linediff import line_opcodes


class YamlSyntaxError(RecipemutError):
    """The recipe text is not YAML the round-trip loader accepts."""


def indent_of(text: str) -> tuple[int, int, int]:
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


class _Representer(RoundTripRepresenter):
    """ruamel's round-trip representer, but a float it writes is a number to YAML 1.1 readers too, and
    as a person writes one: ``0.00004``, not ``4e-05``, which PyYAML (and the recipe loader) read as text
    (YAML 1.1's floats have a dot); outside 1e-9..1e15, ``4.0e-20``. Only values recipemut writes go
    through it: what the user wrote is kept as written."""

    def represent_float(self, data: float) -> Any:
        node = super().represent_float(data)
        m = _NO_DOT.fullmatch(node.value)
        if "e" in node.value.lower() and 1e-9 <= abs(data) < 1e15:  # as a price is written: 0.00004, not 4.0e-05
            node.value = format(Decimal(repr(data)), "f")  # the shortest repr's digits, exact
            node.value += "" if "." in node.value else ".0"
        elif m is not None:
            node.value = f"{m.group(1)}.0{m.group(2)}"
        return node


_NO_DOT = re.compile(r"([-+]?[0-9]+)([eE][-+]?[0-9]+)")
_Representer.add_representer(float, _Representer.represent_float)  # on the subclass only: its own table


def _yaml(text: str, indent: tuple[int, int, int] | None = None) -> YAML:
    """A round-trip YAML instance indenting like ``text`` (or as ``indent`` says, when given)."""
    y = YAML(typ="rt")
    y.Representer = _Representer
    y.preserve_quotes = True
    y.width = 1 << 30  # never fold a long line the user wrote on one line (ruamel folds at its width)
    mi, si, off = indent if indent is not None else indent_of(text)
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
    line diffs take time linear in the texts' size (:func:`recipemut.recipe.linediff.line_opcodes`).
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


def roundtrip_edits(
    text: str, edits: Sequence[Edit], *, source: str, indent: tuple[int, int, int] | None = None
) -> str:
    """The whole round trip of one text: load, dump, edit, dump, splice onto ``text``, check."""
    doc = load_roundtrip(text, source=source)
    if not isinstance(doc, MutableMapping):
        raise MutationError("the recipe document is not a mapping", file=source, line=1, code="bad-document")
    indent = indent if indent is not None else indent_of(text)
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
