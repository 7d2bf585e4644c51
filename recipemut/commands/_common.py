"""What every command shares: the output-format option, the stderr console, argv conveniences."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from rich.console import Console

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

#: options that take several files, as in ``--logs a.jsonl b.jsonl``
MULTI_FILE_OPTIONS = ("--logs",)
_RECIPE_SUFFIXES = (".yaml", ".yml")


class OutputFormat(str, Enum):
    """Output for humans (text) or machines (json)."""

    text = "text"
    json = "json"


def spread_multi_options(argv: Sequence[str]) -> list[str]:
    """Let ``--logs a b c`` mean ``--logs a --logs b --logs c``.

    Click gives an option one value per occurrence, so a shell glob after ``--logs`` would
    otherwise spill into the positional arguments. Words after ``--logs VALUE`` that are not
    options and do not look like a recipe (``.yaml``/``.yml``) are taken as further values.

    >>> spread_multi_options(["profile", "r.yaml", "--logs", "a.jsonl", "b.jsonl.gz", "--strict"])
    ['profile', 'r.yaml', '--logs', 'a.jsonl', '--logs', 'b.jsonl.gz', '--strict']
    >>> spread_multi_options(["profile", "--logs", "a.jsonl", "r.yaml"])
    ['profile', '--logs', 'a.jsonl', 'r.yaml']
    >>> spread_multi_options(["x", "--", "--logs", "a", "b"])
    ['x', '--', '--logs', 'a', 'b']
    """
    out: list[str] = []
    i, n = 0, len(argv)
    while i < n:
        word = argv[i]
        out.append(word)
        i += 1
        if word == "--":
            out.extend(argv[i:])
            break
        if word in MULTI_FILE_OPTIONS and i < n:
            out.append(argv[i])
            i += 1
            while i < n and not argv[i].startswith("-") and not argv[i].lower().endswith(_RECIPE_SUFFIXES):
                out.extend([word, argv[i]])
                i += 1
    return out
