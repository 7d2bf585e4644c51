"""Line diffs in time linear in the texts' size: the opcodes the write-back splices with, and unified diffs.

Two small texts get exactly :mod:`difflib`'s answer; large ones are cut at their common start and
end and anchored on lines that occur once on each side (patience diff), so no input makes a diff
quadratic.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Hashable, Sequence

# ---- line diffs in time linear in the texts' size ---------------------------------------------
# difflib's SequenceMatcher is quadratic (or worse) in the number of lines when lines repeat: a
# recipe with thousands of identical comment lines, or simply a big one, took minutes. The diff
# below trims the common head and tail, anchors on lines that occur once on each side (in order:
# patience diff), recurses into the gaps a bounded number of times, and leaves to difflib only
# windows small enough that its worst case is cheap. A gap that is still large after that is
# reported as replaced: a correct diff, if not the shortest, of input shaped to defeat the anchors.

Opcode = tuple[str, int, int, int, int]

_DIFFLIB_WINDOW = 40_000  # lines(a) * lines(b) up to which a gap is left to difflib
_DIFFLIB_BUDGET = 2_000_000  # the sum of those products over one diff
_MAX_DEPTH = 16  # times a gap is re-anchored on the lines unique within it


def matching_blocks(
    a: Sequence[Hashable], b: Sequence[Hashable], *, autojunk: bool = False
) -> list[tuple[int, int, int]]:
    """``(i, j, n)`` with ``a[i:i+n] == b[j:j+n]``, increasing in ``i`` and ``j``, adjacent blocks merged.

    Like ``difflib.SequenceMatcher.get_matching_blocks()`` without its final ``(len(a), len(b), 0)``,
    but in time linear in ``len(a) + len(b)`` whatever the input. Two sequences small enough for
    difflib's worst case to be cheap get exactly difflib's answer (``autojunk`` is passed to it).

    >>> matching_blocks(list("abxcd"), list("abcyd"))
    [(0, 0, 2), (3, 2, 1), (4, 4, 1)]
    """
    blocks: list[tuple[int, int, int]] = []
    budget = [_DIFFLIB_BUDGET]

    def walk(alo: int, ahi: int, blo: int, bhi: int, depth: int) -> None:
        n = 0
        while alo + n < ahi and blo + n < bhi and a[alo + n] == b[blo + n]:
            n += 1
        if n:
            blocks.append((alo, blo, n))
            alo, blo = alo + n, blo + n
        m = 0
        while ahi - m > alo and bhi - m > blo and a[ahi - 1 - m] == b[bhi - 1 - m]:
            m += 1
        ahi, bhi = ahi - m, bhi - m
        if alo < ahi and blo < bhi:
            middle(alo, ahi, blo, bhi, depth)
        if m:
            blocks.append((ahi, bhi, m))

    def middle(alo: int, ahi: int, blo: int, bhi: int, depth: int) -> None:
        size = (ahi - alo) * (bhi - blo)
        if size <= _DIFFLIB_WINDOW and size <= budget[0]:
            budget[0] -= size
            sm = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=autojunk)
            blocks.extend((alo + i, blo + j, n) for i, j, n in sm.get_matching_blocks()[:-1])
            return
        if depth >= _MAX_DEPTH:
            return
        pa, pb = alo, blo
        for i, j in _unique_anchors(a, alo, ahi, b, blo, bhi):
            walk(pa, i, pb, j, depth + 1)
            blocks.append((i, j, 1))
            pa, pb = i + 1, j + 1
        if (pa, pb) != (alo, blo):  # no anchor: nothing narrows the gap, leave it replaced
            walk(pa, ahi, pb, bhi, depth + 1)

    if len(a) * len(b) <= _DIFFLIB_WINDOW:
        middle(0, len(a), 0, len(b), 0)
    else:
        walk(0, len(a), 0, len(b), 0)
    merged: list[tuple[int, int, int]] = []
    for i, j, n in blocks:
        if n and merged and merged[-1][0] + merged[-1][2] == i and merged[-1][1] + merged[-1][2] == j:
            merged[-1] = (merged[-1][0], merged[-1][1], merged[-1][2] + n)
        elif n:
            merged.append((i, j, n))
    return merged


def _unique_anchors(
    a: Sequence[Hashable], alo: int, ahi: int, b: Sequence[Hashable], blo: int, bhi: int
) -> list[tuple[int, int]]:
    """Pairs ``(i, j)`` of lines that occur exactly once in ``a[alo:ahi]`` and once in ``b[blo:bhi]``,
    the longest run of them in the same order on both sides (patience sorting)."""
    ca, cb = Counter(a[alo:ahi]), Counter(b[blo:bhi])
    where_b = {b[j]: j for j in range(blo, bhi) if cb[b[j]] == 1 and ca.get(b[j]) == 1}
    pairs = [(i, where_b[a[i]]) for i in range(alo, ahi) if a[i] in where_b]
    # longest increasing subsequence of the b indices, in O(k log k)
    tails: list[int] = []  # tails[k]: index in pairs of the smallest end of an increasing run of k + 1
    prev: list[int] = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        lo, hi = 0, len(tails)
        while lo < hi:
            mid = (lo + hi) // 2
            if pairs[tails[mid]][1] < j:
                lo = mid + 1
            else:
                hi = mid
        prev[k] = tails[lo - 1] if lo else -1
        if lo == len(tails):
            tails.append(k)
        else:
            tails[lo] = k
    out: list[tuple[int, int]] = []
    k = tails[-1] if tails else -1
    while k >= 0:
        out.append(pairs[k])
        k = prev[k]
    return out[::-1]


def line_opcodes(a: Sequence[Hashable], b: Sequence[Hashable], *, autojunk: bool = False) -> list[Opcode]:
    """``difflib.SequenceMatcher(None, a, b, autojunk=autojunk).get_opcodes()`` in linear time
    (see :func:`matching_blocks`).

    >>> line_opcodes(["x", "y", "z"], ["x", "z", "w"])
    [('equal', 0, 1, 0, 1), ('delete', 1, 2, 1, 1), ('equal', 2, 3, 1, 2), ('insert', 3, 3, 2, 3)]
    """
    out: list[Opcode] = []
    i = j = 0
    for ai, bj, n in [*matching_blocks(a, b, autojunk=autojunk), (len(a), len(b), 0)]:
        tag = "replace" if i < ai and j < bj else "delete" if i < ai else "insert" if j < bj else ""
        if tag:
            out.append((tag, i, ai, j, bj))
        i, j = ai + n, bj + n
        if n:
            out.append(("equal", ai, i, bj, j))
    return out


def _grouped(codes: list[Opcode], n: int = 3) -> list[list[Opcode]]:
    """The opcodes in hunks with ``n`` lines of context (``SequenceMatcher.get_grouped_opcodes``)."""
    if not codes:
        codes = [("equal", 0, 1, 0, 1)]
    if codes[0][0] == "equal":
        _, i1, i2, j1, j2 = codes[0]
        codes[0] = ("equal", max(i1, i2 - n), i2, max(j1, j2 - n), j2)
    if codes[-1][0] == "equal":
        _, i1, i2, j1, j2 = codes[-1]
        codes[-1] = ("equal", i1, min(i2, i1 + n), j1, min(j2, j1 + n))
    nn = n + n
    groups: list[list[Opcode]] = []
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > nn:
            group.append((tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)))
            groups.append(group)
            group = []
            i1, j1 = max(i1, i2 - n), max(j1, j2 - n)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        groups.append(group)
    return groups


def _range(start: int, stop: int) -> str:
    """A hunk header's range, as ``diff -u`` writes it."""
    beginning, length = start + 1, stop - start
    if length == 1:
        return f"{beginning}"
    if not length:
        beginning -= 1
    return f"{beginning},{length}"


def unified_diff(before_text: str, after_text: str, path: str = "recipe.yaml") -> str:
    """A ``diff -u`` of two texts, labelled with the recipe's path (empty when equal).

    Linear in the texts' size (:func:`line_opcodes`), unlike ``difflib.unified_diff``.

    >>> print(unified_diff("a: 1\\nb: 2\\n", "a: 1\\nb: 3\\n", "r.yaml"), end="")
    --- a/r.yaml
    +++ b/r.yaml
    @@ -1,2 +1,2 @@
     a: 1
    -b: 2
    +b: 3
    """
    a = before_text.splitlines(keepends=True)
    b = after_text.splitlines(keepends=True)
    out: list[str] = []
    for group in _grouped(line_opcodes(a, b, autojunk=True)):  # autojunk: what difflib.unified_diff did
        if not out:
            out += [f"--- a/{path}\n", f"+++ b/{path}\n"]
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [" " + line for line in a[i1:i2]]
                continue
            out += ["-" + line for line in a[i1:i2]]
            out += ["+" + line for line in b[j1:j2]]
    return "".join(out)


