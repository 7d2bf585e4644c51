"""Mapping patterns go through RE2 only: unsupported regexes are refused at load time, globs are valid RE2."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest
from _telemetry_helpers import EXAMPLE

from recipemut.logs import traces as formats
from recipemut.logs.mapping import MappingError, load_mapping
from recipemut.logs.patterns import glob_re2, re2_problem
from recipemut.recipe.loader import load_recipe

HEAD = "apiVersion: recipemut/v1\nkind: SpanMapping\n"
EVIL = r"^(a|a)+(?=!)\b(?<=!)"


def _write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "mapping.yaml"
    p.write_text(HEAD + body, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("body", "line"),
    [
        (f"operations:\n  - op: insert_book\n    name: insert\n    name_regex: '{EVIL}'\n", 6),
        (f"operations:\n  - op: insert_book\n    attributes:\n      sql.query: {{regex: '{EVIL}'}}\n", 6),
        (f"status:\n  error:\n    - {{attribute: a, regex: '{EVIL}'}}\n", 5),
        ("operations:\n  - op: insert_book\n    name_regex: '(a)\\1'\n", 5),
        ("operations:\n  - op: insert_book\n    name_regex: '(?>a+)b'\n", 5),
    ],
)
def test_a_regex_re2_cannot_compile_is_refused_at_load(tmp_path: Path, body: str, line: int) -> None:
    p = _write(tmp_path, body)
    with pytest.raises(MappingError) as e:
        load_mapping(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}:{line}: ") and "bad regular expression" in msg and "RE2" in msg
    assert "\n" not in msg and e.value.code == "bad-regex"


def test_the_backtracking_attack_is_refused_not_run(tmp_path: Path) -> None:
    """The pattern that took 80 s on a 28-character name under Python's re never reaches a matcher."""
    p = _write(tmp_path, f"operations:\n  - op: insert_book\n    name_regex: '{EVIL}'\n")
    with pytest.raises(MappingError, match=re.escape(repr(EVIL)) + ".*invalid perl operator"):
        formats.read(EXAMPLE / "trace.json", recipe=load_recipe(EXAMPLE / "recipe.yaml"), mapping=p)


@pytest.mark.parametrize("glob", ["*redis*", "*:8081/customer*", "http:?[!a-c]x", "[]]*", "[!]]", "a[", "[z-a]b",
                                  "x\\y", "(?>a)", "é*\n\t{1}", "**", "[[:alpha:]]", "$^.+|"])
def test_globs_translate_to_re2_that_matches_like_fnmatch(glob: str) -> None:
    pat = glob_re2(glob)
    assert re2_problem(pat) is None
    texts = ["redis", "xredisy", "a:8081/customers", "http:/dx", "http:/ax", "]", "]]x", "a[", "b", "x\\y",
             "(?>a)", "é\n\t{1}", "", "[[:alpha:]]", "a]", "$^.+|", "z"]
    import pandas as pd

    from recipemut.logs.patterns import re2_search

    got = re2_search(pd.Series(texts, dtype=object), pat).tolist()
    assert got == [fnmatch.fnmatchcase(t, glob) for t in texts]


def test_glob_rules_on_service_and_attribute_load_and_match(tmp_path: Path) -> None:
    body = (
        "operations:\n"
        "  - op: insert_book\n    name: insert\n    service: '*db*'\n"
        "    attributes:\n      sql.query: {glob: 'insert into api_book (*'}\n"
    )
    p = _write(tmp_path, body)
    df, _, _ = formats.read(EXAMPLE / "trace.json", recipe=load_recipe(EXAMPLE / "recipe.yaml"), mapping=p)
    assert (df["op"] == "insert_book").sum() == 1


def test_no_python_re_on_a_user_pattern(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Matching a loaded mapping never compiles a user pattern with Python's re (which backtracks)."""
    pats = ["insert(?:ion)? into", r"\s+api_book\b", "^ins.*$"]
    body = "operations:\n" + "".join(
        f"  - op: insert_book\n    name: insert\n    name_regex: '{q}'\n"
        f"    attributes:\n      sql.query: {{regex: '{q}'}}\n"
        for q in pats
    )
    p = _write(tmp_path, body)
    seen: list[str] = []
    real = re._compile  # type: ignore[attr-defined]

    def spy(pattern, flags):  # type: ignore[no-untyped-def]
        seen.append(pattern if isinstance(pattern, str) else getattr(pattern, "pattern", ""))
        return real(pattern, flags)

    monkeypatch.setattr(re, "_compile", spy)
    formats.read(EXAMPLE / "trace.json", recipe=load_recipe(EXAMPLE / "recipe.yaml"), mapping=p)
    assert not [s for s in seen if any(q in s for q in pats)]
