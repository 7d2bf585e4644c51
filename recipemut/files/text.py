"""Text from users' files, made safe to show on a terminal.

Recipes, logs, traces, mappings and file names can hold any character. Printed raw, an escape
sequence (``ESC [2J``, an OSC 8 link, an OSC 52 clipboard write, a window title) would drive the
reader's terminal, a carriage return or newline would split or overwrite a ``file:line:col`` line,
and a bidi override (U+202E) or another invisible format character would make the text read
differently from what it is. :func:`safe` is the one place that decides what is shown: every
character :meth:`str.isprintable` calls unprintable (C0 and C1 controls, DEL, format characters
such as the bidi controls and zero-width joiners, line and paragraph separators, lone surrogates
of undecodable file names, unassigned and private-use code points) is written as a visible
escape — ``\\n``, ``\\r``, ``\\t``, ``\\x1b``, ``\\u202e``, ``\\U000e0001`` — and everything
else (letters of any script, emoji, spaces) is left alone.

Every output path uses it: :class:`~recipemut.errors.Finding` and
:class:`~recipemut.errors.RecipemutError` render through it, :func:`shown` escapes user text
for rich markup (so ``[red]x[/red]`` prints literally) after it, the rich consoles made by
:func:`console` pass every rendered segment through it (so nothing a renderer forgets can reach
the terminal raw), and the CLI's log handler formats core warnings through it.

>>> safe("ok \\x1b[2J\\u202eevil\\nnext")
'ok \\\\x1b[2J\\\\u202eevil\\\\nnext'
>>> safe("café 数据 🚀")
'café 数据 🚀'
>>> safe("x" * 10_003)[-25:]
'xxxx… (3 more characters)'
>>> shown("[red]x[/red]\\x07")
'\\\\[red]x\\\\[/red]\\\\x07'
"""

from __future__ import annotations

import os
import sys
import unicodedata
from datetime import datetime, timezone
from typing import Any

from rich.console import Console, ConsoleOptions, ConsoleRenderable, RenderHook, RenderResult
from rich.markup import escape as _markup_escape
from rich.segment import Segment

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: the most characters of one text :func:`safe` shows; the rest is told as a count (a log whose
#: operation name was 50 MB long made a 52 MB warning line, and as long an error)
MAX_SHOWN = 10_000


def _escape_char(c: str) -> str:
    named = _NAMED.get(c)
    if named is not None:
        return named
    o = ord(c)
    if o < 0x100:
        return f"\\x{o:02x}"
    if o < 0x10000:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def _shown(c: str, keep: str) -> str:
    if c.isprintable() or c in keep or unicodedata.category(c) == "Zs":
        return c
    return _escape_char(c)


def safe(text: object, *, keep: str = "", limit: int | None = MAX_SHOWN) -> str:
    """``str(text)`` with every unprintable character written as a visible escape, cut after
    ``limit`` characters (``None``: never) with the count of those left out.

    ``keep`` names characters to leave as they are (``"\\n"`` for text whose line breaks are the
    program's own). Spaces of any kind (category ``Zs``) are kept: they move no cursor and hide
    nothing. Backslashes are kept as they are, so a name holding a literal ``\\x1b`` reads the
    same as one holding ESC; what matters is that neither reaches the terminal as ESC.
    """
    s = text if isinstance(text, str) else str(text)
    if limit is not None and len(s) > limit:
        s = f"{s[:limit]}… ({len(s) - limit:,} more characters)"
    if s.isprintable():  # the common case, checked in C
        return s
    return "".join(_shown(c, keep) for c in s)


def shown(text: object) -> str:
    """User text made safe (:func:`safe`) and escaped for rich markup, for an f-string given to ``print``."""
    return _markup_escape(safe(text))


class _SafeSegments:
    """A renderable whose segments' text goes through :func:`safe` (line breaks kept)."""

    def __init__(self, inner: ConsoleRenderable) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for seg in console.render(self.inner, options):
            if seg.control or seg.text.isprintable():
                yield seg
            else:
                yield Segment(safe(seg.text, keep="\n", limit=None), seg.style, seg.control)


class SafeRenderHook(RenderHook):
    """Passes everything a console prints through :func:`safe` (keeping line breaks).

    A net under the escaping done where user text is put into output: a renderer that forgets
    (a table cell, a syntax-highlighted diff) still cannot send a control character to the
    terminal. The styling rich adds itself is not text of a segment, so it is untouched.
    """

    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        return [_SafeSegments(r) for r in renderables]


#: the width of stdout when it is not a terminal and $COLUMNS is not set (a pipe, a file, CI); a table is
#: printed as wide as its widest row there (commands/_layout.print_table), every column kept
PIPED_WIDTH = 180


def piped() -> bool:
    """stdout is not a terminal and $COLUMNS does not say how wide to be: output goes to a pipe or a file."""
    isatty = getattr(sys.stdout, "isatty", None)
    return not (isatty is not None and isatty()) and not os.environ.get("COLUMNS", "").strip().isdigit()


def console(**kwargs: Any) -> Console:
    """A rich console for the CLI's output: no highlighting, no ``:emoji:`` codes, and :class:`SafeRenderHook`.

    Keyword arguments go to :class:`rich.console.Console` (``stderr=True``, ``soft_wrap=True``, ``width``).
    On a :func:`piped` stdout, the console is :data:`PIPED_WIDTH` columns wide (a table is printed as wide
    as it needs, every column kept) and lines of text are never wrapped (``less`` and editors wrap them
    at their own width; ``grep`` finds a sentence whole).
    """
    if not kwargs.get("stderr") and "file" not in kwargs and "width" not in kwargs and piped():
        kwargs.update(width=PIPED_WIDTH, soft_wrap=True)
    kwargs.setdefault("highlight", False)
    kwargs.setdefault("emoji", False)
    out = Console(**kwargs)
    out.push_render_hook(SafeRenderHook())
    return out


def _utc(stamp: str) -> datetime | None:
    """``stamp`` (ISO 8601 with a zone: ``Z``, ``+00:00``, ``+02:00``) in UTC, to the second; None
    for a time without a zone, or not ISO 8601 (no zone is ever guessed)."""
    text = stamp.strip()
    try:  # Python 3.10's fromisoformat does not take "Z"
        t = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
    except ValueError:
        return None
    return None if t.tzinfo is None else t.astimezone(timezone.utc).replace(microsecond=0)


def utc_iso(stamp: str) -> str:
    """A time recipemut recorded, for JSON: ISO 8601 in UTC to the second with ``Z``, as history
    entries and plans record theirs; one without a zone as it is.

    >>> utc_iso("2026-12-06T19:40:12.345Z"), utc_iso("2026-12-06T21:40:12+02:00"), utc_iso("2026-12-06 19:40")
    ('2026-12-06T19:40:12Z', '2026-12-06T19:40:12Z', '2026-12-06 19:40')
    """
    t = _utc(stamp)
    return stamp if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_text(stamp: str) -> str:
    """A time recipemut recorded, for people: ``2026-12-06 19:40:12 UTC``, its zone said; one
    without a zone as it is (said without one, as recorded).

    >>> utc_text("2026-12-06T19:40:12Z"), utc_text("2026-12-06T19:40:12.345Z"), utc_text("2026-12-06T19:40:12")
    ('2026-12-06 19:40:12 UTC', '2026-12-06 19:40:12 UTC', '2026-12-06T19:40:12')
    """
    t = _utc(stamp)
    return stamp if t is None else t.strftime("%Y-%m-%d %H:%M:%S UTC")
