"""Tables that fit the console, or every value stacked when they cannot: nothing is cut or dropped silently.

A table is shown when its minimum width fits the console: the minimum is rich's measurement with
every ``no_wrap`` column as wide as its widest cell (ids, numbers) and the others as wide as their
longest word. Otherwise the droppable columns go first, one by one, and a note names them; when
even that is too wide, each row becomes a block: a heading (the row's first ``heading`` cells),
then ``column: value`` pairs packed into lines, never split, a long one wrapped at words.

On a pipe (:func:`~recipemut.files.text.piped`: no terminal, no ``$COLUMNS``) there is no width to fit:
a table keeps every column, each cell on one line, as wide as its widest row (:func:`print_table`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from recipemut.files.text import piped

INDENT = 3


@dataclass(frozen=True)
class Column:
    """A column: its header, its cells (rich markup, user text already through ``shown``), the
    keyword arguments of :meth:`rich.table.Table.add_column`, and when it may be left out (``drop``:
    1 goes first, then 2, ...; 0 never: the rows are stacked instead)."""

    name: str
    cells: Sequence[str]
    options: dict[str, Any] = field(default_factory=dict)
    drop: int = 0


def rank(name: str, order: Sequence[str]) -> int:
    """A column's ``drop`` from the names in the order they go (0: not among them)."""
    return order.index(name) + 1 if name in order else 0


def table(columns: Sequence[Column], styles: Sequence[str | None] = (), **opts: Any) -> Table:
    """The rich table of ``columns``; a ``no_wrap`` column is never narrower than its widest cell, any
    other never narrower than its longest word.

    rich shrinks the widest columns first when a table is too wide, down to the next widest, with
    no regard to the words in them: at 110 columns ``history`` showed a mutation id (what
    ``apply --only`` takes) as ``parallelize:load_cart->sc…``. A column's ``min_width`` holds it.
    """
    t = Table(**opts)
    for c, (low, _) in zip(columns, (_span(c) for c in columns), strict=True):
        t.add_column(c.name, **{**c.options, "min_width": low})
    for i in range(len(columns[0].cells) if columns else 0):
        t.add_row(*(c.cells[i] for c in columns), style=styles[i] if styles else None)
    return t


def _span(c: Column) -> tuple[int, int]:
    """The fewest and the most columns ``c``'s cells take: the widest cell of a ``no_wrap`` column
    (both), else the longest word and the longest line; never fewer than the column's own ``min_width``."""
    cells = [Text.from_markup(x) for x in [*c.cells, c.name]]
    most = max(Text(line).cell_len for x in cells for line in x.plain.splitlines() or [""])
    longest = max((Text(w).cell_len for x in cells for w in x.plain.split()), default=0)
    words = most if c.options.get("no_wrap") else longest
    low = max(words, c.options.get("min_width") or 0)  # one lower bound: table(), shared() and fit() alike
    return low, max(most, low)


def shared(columns: Sequence[Column], room: int) -> list[int]:
    """Widths for ``columns`` within ``room`` (their fewest columns fit in it): every column gets its
    fewest, then the room left goes to the ones that wrap, the narrowest first, none past its most.

    rich's own sharing cuts the widest column down to the next widest and then puts its longest
    word back, past the console's width (the table overflowed and was cropped).

    >>> shared([Column("a", ["aaa bbb ccc ddd"]), Column("b", ["x y"])], 8)
    [5, 3]
    """
    spans = [_span(c) for c in columns]
    left = room - sum(low for low, _ in spans)
    widths = [low for low, _ in spans]
    while left > 0 and (growing := [i for i, (_, most) in enumerate(spans) if widths[i] < most]):
        widths[min(growing, key=lambda i: widths[i])] += 1  # a narrow column whole before a wide one grows
        left -= 1
    return widths


def min_width(out: Console, t: Table) -> int:
    """The fewest columns ``t`` needs without cutting a cell."""
    return Measurement.get(out, out.options.update_width(1 << 20), t).minimum


def fit(
    out: Console, columns: Sequence[Column], styles: Sequence[str | None] = (), **opts: Any
) -> tuple[Table, list[str]] | None:
    """The table with every column, or without some droppable ones (their names returned), or
    ``None`` when even the others do not fit ``out``.

    Columns go in their ``drop`` order until the table fits; then each one that went is tried
    again, the last to go first, and comes back if the table still fits: a wide column that had to
    go (a long service name) does not take narrower ones (``p99 ms``) with it. On a pipe, every
    column: a script reading it gets them all (:func:`print_table` gives the table its width).
    """
    if _unbounded(out):
        return table(columns, styles, **opts), []
    kept: list[Column] = list(columns)
    gone: list[Column] = []
    for c in [None, *sorted((c for c in columns if c.drop), key=lambda c: c.drop)]:
        if c is not None:
            kept = [k for k in kept if k is not c]
            gone.append(c)
        if min_width(out, table(kept, styles, **opts)) <= out.width:
            break
    else:
        return None
    for c in reversed(gone[:-1]):
        tried = [k for k in columns if k in kept or k is c]
        if min_width(out, table(tried, styles, **opts)) <= out.width:
            kept = tried
    t = table(kept, styles, **opts)
    natural = Measurement.get(out, out.options.update_width(1 << 20), t)
    if natural.maximum > out.width:  # rich would share the width out itself, cutting words (shared)
        lows = sum(_span(c)[0] for c in kept)  # each column's min_width included, as natural.minimum has it
        widths = shared(kept, out.width - (natural.minimum - lows))
        kept = [Column(c.name, c.cells, {**c.options, "width": w}, c.drop) for c, w in zip(kept, widths, strict=True)]
        t = table(kept, styles, **opts)
    return t, [c.name for c in gone if c not in kept]


def print_table(out: Console, t: Table) -> None:
    """Print ``t``; on a pipe as wide as its widest row, past the console's width (which the text
    around it is laid out for), so that no column is left out and no cell is wrapped or cut."""
    if not _unbounded(out):
        out.print(t)
        return
    laid_out = out.width
    out.width = max(laid_out, Measurement.get(out, out.options.update_width(1 << 20), t).maximum)
    try:  # a console prints nothing wider than its width: widened for the table alone
        out.print(t)
    finally:
        out.width = laid_out


def _unbounded(out: Console) -> bool:
    """``out`` prints to a :func:`~recipemut.files.text.piped` stdout, where a table has no width to fit."""
    return piped() and out.file is sys.stdout


def blocks(
    out: Console, columns: Sequence[Column], heading: int = 1, styles: Sequence[str | None] = ()
) -> list[list[Text]]:
    """One block per row: its heading, then every other cell as ``name: value``, packed into lines
    of the console's width (on a pipe, one line: nothing is wrapped there)."""
    room = _room(out)
    result = []
    for i in range(len(columns[0].cells) if columns else 0):
        head = [("#" if c.name == "#" else "") + c.cells[i] for c in columns[:heading] if c.cells[i].strip()]
        first = Text.from_markup(" ".join(head), style=(styles[i] if styles else None) or "")
        lines, line = [first], Text()
        for c in columns[heading:]:
            value = Text.from_markup(c.cells[i])
            if not value.plain.strip():
                continue
            pair = Text.assemble(f"{c.name}: ", value)
            if line and line.cell_len + 2 + pair.cell_len > room:
                lines.append(line)
                line = Text()
            line = Text.assemble(line, "; ", pair) if line else pair
        lines.extend([line] if line else [])
        result.append([_wrapped(lines[0], room + INDENT, ""), *(_wrapped(x, room, " " * INDENT) for x in lines[1:])])
    return result


def _room(out: Console) -> int:
    return 1 << 20 if piped() else max(out.width - INDENT, 20)


def _wrapped(line: Text, room: int, indent: str) -> Text:
    """``line`` broken before each word that would pass ``room`` (a longer word is left whole), indented."""
    offsets, start = [], 0
    for m in re.finditer(r"\S+", line.plain):
        if m.end() - start > room and m.start() > start:
            offsets.append(m.start())
            start = m.start()
    parts = line.divide(offsets)
    for part in parts:
        part.rstrip()
    return Text("\n").join(Text.assemble(indent, part) for part in parts)


def show(
    out: Console,
    columns: Sequence[Column],
    *,
    heading: int = 1,
    styles: Sequence[str | None] = (),
    notes: Sequence[Sequence[str]] = (),
    title: str | None = None,
    **opts: Any,
) -> None:
    """Print ``columns`` as a table that fits, else as blocks (:func:`fit`, :func:`blocks`). ``notes``
    (markup lines per row) follow the table, numbered by row, or each row's block."""
    fitted = fit(out, columns, styles, title=title, **opts)
    if fitted is not None:
        print_table(out, fitted[0])
        if fitted[1]:
            out.print(_wrapped(Text(omitted(out, fitted[1])), _room(out) + INDENT, ""), overflow="ignore", crop=False)
        for i, lines in enumerate(notes, 1):
            for j, line in enumerate(lines):
                out.print(f"  {i}. {line}" if j == 0 else f"     {line}")
        return
    if title:
        out.print(title)
    for i, block in enumerate(blocks(out, columns, heading, styles)):
        for text in block:
            out.print(text, overflow="ignore", crop=False)  # wrapped already; a wider word stays whole
        for line in notes[i] if notes else ():
            out.print(_wrapped(Text.from_markup(line), _room(out), " " * INDENT), overflow="ignore", crop=False)


def omitted(out: Console, names: Sequence[str]) -> str:
    """The note under a table that left columns out for want of width."""
    return f"(not shown at {out.width} columns: {', '.join(names)}; --format json has every column)"
