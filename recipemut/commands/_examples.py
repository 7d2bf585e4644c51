"""The examples in a command's help, drawn so that each one pastes as one command at any width.

rich's Markdown drew an example (an indented code block of a command's docstring) with word
wrapping and a padding of one line: at 80 columns ``recipemut suggest RECIPE --logs`` and
``recipes/checkout/logs.jsonl.gz --out plan.json`` came out as two lines, which a shell runs as
two commands, and each block stood between two blank lines. Here an example is broken only at
an argument boundary (before an option, which keeps its value; else between words), each line
but the last ending in `` \\``, the next indented by :data:`CONTINUATION`, and one blank line
stands above and below it. A word wider than the help leaves its line wider, never cut.

An example written in a paragraph (``Example: recipemut history checkout.yaml --format json``)
stays there when the line fits; otherwise it becomes a block under ``Example:``. A remark after
it, set off by two spaces (``--to 4    (or --entry 2; ...)``), goes to its own paragraph below:
in a shell ``(or --entry 2; ...)`` is not a remark.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
from collections.abc import Iterator
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

#: how far a continuation line is indented under the example's first line
CONTINUATION = 4

#: the columns the help's description leaves out of the width: typer pads it one column either side
DESCRIPTION_PADDING = 2

#: a word of a shell command line: quoted parts stay whole (``'logs/*.jsonl.zst'``)
_WORD = re.compile(r"""(?:'[^']*'|"[^"]*"|\\.|[^\s'"\\])+""")

#: ``Example: recipemut ...`` written as a paragraph, and a remark after two spaces or more
_INLINE = re.compile(r"^(Examples?):[ \t]+(recipemut\b.*)$")
_REMARK = re.compile(r"\s{2,}(\(.*)$")


def logical_lines(code: str) -> list[str]:
    """The command lines of a block: lines ended by `` \\`` joined to the next; blank lines kept as ``""``.

    >>> logical_lines("recipemut a \\\\\\n    --b 1\\n\\nrecipemut c")
    ['recipemut a --b 1', '', 'recipemut c']
    """
    out: list[str] = []
    pending = ""
    for line in code.splitlines():
        text = line.strip()
        if text.endswith("\\") and not text.endswith("\\\\"):
            pending += text[:-1].rstrip() + " "
            continue
        out.append((pending + text).strip())
        pending = ""
    if pending:
        out.append(pending.strip())
    return out


def _groups(words: list[str]) -> list[str]:
    """The words, an option and its value kept together: where a line may break is before a group."""
    groups: list[str] = []
    for i, word in enumerate(words):
        takes_value = i and words[i - 1].startswith("-") and not word.startswith("-") and groups
        if takes_value and " " not in groups[-1] and word not in ("|", ">", "<", "&&", ";"):
            groups[-1] += " " + word
        else:
            groups.append(word)
    return groups


def wrapped(command: str, width: int) -> list[str]:
    """``command`` in lines of at most ``width`` columns, broken only between words (before an option
    and its value where it can), each line but the last ending in `` \\``, continuations indented.

    >>> wrapped("recipemut suggest r.yaml --logs logs.jsonl.gz --out plan.json", 40)
    ['recipemut suggest r.yaml \\\\', '    --logs logs.jsonl.gz --out plan.json']
    >>> wrapped("recipemut stats --format json", 40)
    ['recipemut stats --format json']
    >>> [ln.rstrip(" \\\\").strip() for ln in wrapped("recipemut x r.yaml --reason 'paged twice'", 18)]
    ['recipemut x', 'r.yaml', '--reason', "'paged twice'"]
    """
    if len(command) <= width:
        return [command]
    pieces: list[str] = []
    for group in _groups(_WORD.findall(command)):  # a group too wide for a line breaks between its words
        pieces.extend(_WORD.findall(group) if CONTINUATION + len(group) + 2 > width else [group])  # quotes kept
    lines: list[str] = []
    line = ""
    for i, piece in enumerate(pieces):
        indent, mark = CONTINUATION if lines else 0, 0 if i == len(pieces) - 1 else 2  # the last needs no " \\"
        if line and indent + len(line) + 1 + len(piece) + mark > width:
            lines.append(line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    lines.append(line)
    if len(lines) > 1 and len(" ".join(lines)) <= width:  # nothing gained
        return [" ".join(lines)]
    return [lines[0] + " \\", *(" " * CONTINUATION + x + " \\" for x in lines[1:-1]), " " * CONTINUATION + lines[-1]]


def _render_example(block: Any, console: Console, options: ConsoleOptions) -> RenderResult:
    """A code block of the help drawn as :func:`wrapped` lines, one column in, with no padding lines."""
    room = options.max_width - 1
    lines: list[str] = []
    for command in logical_lines(str(block.text).rstrip()):
        lines.extend(wrapped(command, room) if command else [""])
    for line in lines:
        yield Text(" " + line if line else "", no_wrap=True, overflow="ignore", end="\n")


@functools.cache
def example_block() -> type:
    """rich's ``CodeBlock`` drawn by :func:`_render_example`; made on first use, as ``rich.markdown`` (and
    markdown-it under it, 22 ms) is imported only when help is drawn."""
    from rich.markdown import CodeBlock

    return type("ExampleBlock", (CodeBlock,), {"__rich_console__": _render_example})


@contextlib.contextmanager
def examples_drawn() -> Iterator[None]:
    """While help is drawn, Markdown code blocks are :func:`example_block`'s (``Markdown.elements`` is the
    documented table of rich's element classes; it is put back after)."""
    from rich.markdown import Markdown

    saved = {key: Markdown.elements[key] for key in ("code_block", "fence")}
    try:
        Markdown.elements.update(dict.fromkeys(saved, example_block()))
        yield
    finally:
        Markdown.elements.update(saved)


def examples_as_blocks(help_text: str, width: int) -> str:
    """``help_text`` with each ``Example: recipemut ...`` paragraph made a block under ``Example:``
    when it does not fit one line of the description at ``width`` (or carries a remark); a remark
    (two spaces, then ``(...)``) follows as its own paragraph.

    >>> examples_as_blocks("Does x.\\n\\n    Example: recipemut x a.yaml --format json", 40)
    'Does x.\\n\\nExample:\\n\\n    recipemut x a.yaml --format json'
    >>> examples_as_blocks("Example: recipemut x a.yaml", 40)
    'Example: recipemut x a.yaml'
    """
    out: list[str] = []
    for paragraph in inspect.cleandoc(help_text).split("\n\n"):
        text = paragraph.strip()
        found = _INLINE.match(text) if "\n" not in text else None
        if found is None:
            out.append(paragraph)
            continue
        label, command = found.groups()
        remark = _REMARK.search(command)
        command = command[: remark.start()] if remark else command
        if not remark and len(text) <= width - DESCRIPTION_PADDING:
            out.append(text)
            continue
        out.append(f"{label}:\n\n" + "\n".join("    " + x for x in [command]))
        if remark:
            out.append(remark.group(1))
    return "\n\n".join(out)
