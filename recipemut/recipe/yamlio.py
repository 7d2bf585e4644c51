"""Round-trip YAML: apply edits to a recipe's text and keep everything the edits did not touch.

``apply`` must not reformat a user's recipe. :func:`apply_edits_to_text` loads the text with
ruamel.yaml's round-trip loader (comments, key order, quoting, flow/block style survive), applies
the edits with :func:`recipemut.recipe.edits.apply_edits_inplace`, and dumps it with the indentation
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
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from recipemut.errors import RecipemutError
from recipemut.recipe.edits import Edit, apply_edits_inplace
from recipemut.recipe.linediff import line_opcodes
from recipemut.recipe.roundtrip import indent_of, roundtrip_edits

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
    indent = indent_of(text)
    avoid = text + repr(list(edits))
    for part in parts:
        folded = _Folded(outline, part, avoid)
        seen = "".join(folded.lines)
        try:
            result = roundtrip_edits(seen, edits, source=source, indent=indent)
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
    return out if out is not None else roundtrip_edits(text, edits, source=source)
