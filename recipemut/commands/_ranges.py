"""One wording for a number outside an option's range: ``0 is outside 1 and up: how many top contributors to name``.

typer 0.29 checks an option's ``min``/``max`` through pydantic and said ``Input should be greater
than or equal to 1``, while the options checked by :func:`~recipemut.commands._common.in_range`
said ``0 is outside 1 to 365: days to forecast ahead, 1 to a year``. :func:`check_ranges` reads the
command line before typer does and refuses a value outside ``min``/``max`` the second way, with
the first sentence of the option's help as its meaning; both go through :func:`outside`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import typer


def number_words(v: float) -> str:
    """A bound or a value as typed: whole numbers whole (``4294967295``, not ``4.29497e+09``), others by ``g``.

    >>> number_words(4294967295), number_words(0.001), number_words(-0.0), number_words(1e300)
    ('4294967295', '0.001', '0', '1e+300')
    """
    v = v + 0.0
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:g}"


def bounds_words(low: float | None, high: float | None) -> str:
    """``1 to 365``, ``1 and up``, ``up to 1``.

    >>> bounds_words(1, 365), bounds_words(0.001, None), bounds_words(None, 1.0)
    ('1 to 365', '0.001 and up', 'up to 1')
    """
    if low is not None and high is not None:
        return f"{number_words(low)} to {number_words(high)}"
    return f"{number_words(low)} and up" if low is not None else f"up to {number_words(high)}"  # type: ignore[arg-type]


def outside(value: float, low: float | None, high: float | None, meaning: str, typed: str = "") -> str:
    """The message of a value outside its range.

    >>> outside(0, 1, 365, "days to forecast ahead, 1 to a year")
    '0 is outside 1 to 365: days to forecast ahead, 1 to a year'
    >>> outside(0, 1, None, "how many top contributors to name"), outside(-0.0, 1, None, "n")[:14]
    ('0 is outside 1 and up: how many top contributors to name', '0 is outside 1')
    """
    return f"{typed.strip() or number_words(value)} is outside {bounds_words(low, high)}: {meaning}"


def meaning_of(param: Any) -> str:
    """What an option is, from the first sentence of its help: ``How many top contributors to name.`` ->
    ``how many top contributors to name``."""
    first = (param.help or param.name or "").split(". ")[0].strip().rstrip(".")
    return first[:1].lower() + first[1:]


def option_values(names: Sequence[str], args: Sequence[str]) -> Iterable[str]:
    """The values given to the option of ``names`` in ``args``: ``--top 0``, ``--top=0``, ``-n0``."""
    for i, word in enumerate(args):
        if word == "--":
            return
        if word in names:
            if i + 1 < len(args):
                yield args[i + 1]
            continue
        for name in names:
            if name.startswith("--") and word.startswith(name + "="):
                yield word[len(name) + 1 :]
            elif not name.startswith("--") and word.startswith(name) and len(word) > len(name):
                yield word[len(name) :]


def check_ranges(ctx: Any, params: Iterable[Any], args: Sequence[str]) -> None:
    """Refuse (usage error, exit 2) a number given to an option outside its ``min``/``max``, worded by :func:`outside`.

    A value that is not a number is left to typer, which names the type it wants; with ``-h`` the help is shown.
    """
    if any(word in ("-h", "--help") for word in args[: args.index("--") if "--" in args else len(args)]):
        return
    for param in params:
        low, high = getattr(param, "min", None), getattr(param, "max", None)
        if getattr(param, "param_type_name", "") != "option" or (low is None and high is None):
            continue
        for text in option_values(param.opts, args):
            try:
                value = float(text)
            except ValueError:
                continue
            if value != value or (low is not None and value < low) or (high is not None and value > high):  # nan too
                said = text if text.strip().lstrip("+-").isdigit() else ""  # a whole number as typed, not 1e+20
                raise typer.BadParameter(outside(value, low, high, meaning_of(param), said), ctx=ctx, param=param)
