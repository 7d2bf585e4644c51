"""RE2 patterns of the span mapping: a user's regex searched in linear time, a glob made an RE2 pattern.

Every pattern of a mapping file (``name_regex``, ``name_glob``, ``service``, an attribute's ``regex`` or
``glob``) is matched here, never by Python's backtracking ``re``.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def re2_search(values: pd.Series, pattern: str) -> np.ndarray:
    """Boolean mask of the values (text; a null is ``""``) in which the RE2 ``pattern`` is found.

    Every user pattern is matched here, by Arrow's RE2 (``match_substring_regex``), whose time is
    linear in the text: never by Python's backtracking ``re`` (which pandas' ``str.contains``
    falls back to for some patterns), so no pattern can make matching take exponential time.

    >>> re2_search(pd.Series(["GetCart", None, "cart"]), "^[Gg]et").tolist()
    [True, False, False]
    """
    arr = pa.array(values, from_pandas=True)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.large_string())
    hit = pc.match_substring_regex(arr.fill_null(""), pattern=pattern)
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def re2_problem(pattern: str) -> str | None:
    r"""Why RE2 refuses ``pattern`` (``None``: it compiles).

    >>> re2_problem(r"^insert into api_book \(") is None, re2_problem("(?<=a)b")
    (True, 'invalid perl operator: (?<=')
    """
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), pattern=pattern)
    except pa.ArrowInvalid as e:
        return str(e).removeprefix("Invalid regular expression: ")
    except UnicodeEncodeError:
        return "it holds a character that is not valid Unicode text (a lone surrogate)"
    return None


#: ASCII punctuation RE2 takes literally after a backslash
_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _literal(ch: str) -> str:
    """One character as RE2 matching exactly it."""
    if ch.isascii() and ch.isalnum():
        return ch
    if ch in _PUNCT:
        return "\\" + ch
    return f"\\x{{{ord(ch):x}}}"


@cache
def glob_re2(pattern: str) -> str:
    r"""A shell-style glob as an anchored RE2 pattern (``*`` any text, ``?`` one character, ``[seq]``,
    ``[!seq]``), as :func:`fnmatch.fnmatchcase` reads it.

    Written here rather than taken from :func:`fnmatch.translate`, whose output is Python ``re``
    syntax (atomic groups ``(?>...)`` on recent Pythons) that RE2 refuses. Every character the glob
    does not treat specially is written as a literal, so the result always compiles in RE2.

    >>> glob_re2("*redis*"), glob_re2("http:?[!a-c]x")
    ('(?s)^.*redis.*\\z', '(?s)^http\\:.[^a-c]x\\z')
    """
    out = ["(?s)^"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if out[-1] != ".*":  # a run of stars is one star
                out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            j = pattern.find("]", j)
            if j < 0:  # no closing bracket: a literal "["
                out.append(_literal("["))
                continue
            body, i = pattern[i:j], j + 1
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            items: list[str] = []
            k = 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    lo, hi = body[k], body[k + 2]
                    if lo <= hi:  # a reversed range is empty, as in fnmatch
                        items.append(f"{_literal(lo)}-{_literal(hi)}")
                    k += 3
                else:
                    items.append(_literal(body[k]))
                    k += 1
            if items:
                out.append(("[^" if negate else "[") + "".join(items) + "]")
            else:  # an empty set matches no character; its negation any one
                out.append("." if negate else "[^\\x00-\\x{10ffff}]")
        else:
            out.append(_literal(ch))
    out.append("\\z")
    return "".join(out)
