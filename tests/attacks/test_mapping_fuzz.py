"""Random mapping files load and apply to a real trace, or are one RecipemutError; no pattern reaches Python's re."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from _telemetry_helpers import EXAMPLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recipemut.errors import RecipemutError
from recipemut.logs import traces as formats
from recipemut.logs.patterns import glob_re2
from recipemut.recipe.loader import load_recipe

RECIPE = load_recipe(EXAMPLE / "recipe.yaml")
OPS = sorted(RECIPE.ops)

# pieces of regexes and globs: plain text, RE2 syntax, and what RE2 lacks (lookaround, backreferences, atomic groups)
_ATOMS = st.sampled_from(
    [
        "a", "insert", "app_db", ".", "\\d", "\\s", "\\w", "\\b", "[a-z]", "[^x]", "[!a]", "[", "]", "*", "?", "+",
        "(", ")", "|", "^", "$", "\\", "\\1", "(?=!)", "(?!x)", "(?<=a)", "(?<!b)", "(?>a)", "a++", "(?P<n>a)",
        "(?P=n)", "{2}", "{1,1000}", "{99999}", "\\Z", "\\z", "\\N{DASH}", "\\u00e9", "é", "\x00", "\n", "\ud800",
        "(?i)", "(?s:", "[[:alpha:]]", "\\p{L}", "\\x{10ffff}",
    ]
)
PATTERN = st.lists(_ATOMS, max_size=8).map("".join)
SCALAR = st.one_of(
    PATTERN, st.integers(min_value=-(10**30), max_value=10**30), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.none(),
)
KEYS = st.sampled_from(["equals", "in", "regex", "glob", "min", "max", "exists", "bogus"])
ODD = st.sampled_from([0] * 9 + [1])  # one draw in ten takes an odd type or key (most then break the schema)


def _mostly(good: st.SearchStrategy[Any], odd: st.SearchStrategy[Any] = SCALAR) -> st.SearchStrategy[Any]:
    return ODD.flatmap(lambda o: odd if o else good)


TEST = _mostly(
    st.one_of(
        st.fixed_dictionaries({}, optional={"regex": PATTERN, "glob": PATTERN, "min": st.integers(0, 600)}).filter(
            bool
        ),
        PATTERN,
    ),
    st.one_of(SCALAR, st.dictionaries(KEYS, st.one_of(SCALAR, st.lists(SCALAR, max_size=3)), max_size=3)),
)
RULE = st.fixed_dictionaries(
    {"op": _mostly(st.sampled_from(OPS))},
    optional={
        "name": _mostly(st.sampled_from(["insert", "call"])),
        "name_glob": _mostly(PATTERN),
        "name_regex": _mostly(PATTERN),
        "service": _mostly(st.one_of(st.sampled_from(["app_db", "*db*", "*"]), PATTERN)),
        "kind": st.sampled_from(["client", "server", "x"]),
        "attributes": st.dictionaries(_mostly(st.sampled_from(["sql.query", "http.status_code"]), PATTERN), TEST,
                                      max_size=3),
    },
)
STATUS = st.fixed_dictionaries(
    {"attribute": _mostly(st.sampled_from(["http.status_code", "error"]))},
    optional={"regex": PATTERN, "glob": PATTERN, "min": _mostly(st.integers(0, 600)), "equals": SCALAR},
)
DOC = st.fixed_dictionaries(
    {"apiVersion": st.just("recipemut/v1"), "kind": st.just("SpanMapping")},
    optional={
        "operations": _mostly(st.lists(RULE, max_size=4)),
        "status": st.dictionaries(_mostly(st.sampled_from(["error", "halted", "ok"]), st.just("x")),
                                  st.lists(STATUS, max_size=2), max_size=2),
        "defaults": _mostly(st.booleans()),
        "attributes": st.dictionaries(_mostly(st.sampled_from(["operation", "cache_key"]), st.just("zzz")),
                                      _mostly(PATTERN), max_size=2),
        "sampling": _mostly(st.fixed_dictionaries({"attribute": PATTERN})),
        "extra": _mostly(st.nothing(), st.recursive(
            SCALAR, lambda c: st.lists(c, max_size=3) | st.dictionaries(PATTERN, c, max_size=3), max_leaves=10
        )),
    },
)


def _patterns(node: Any) -> list[str]:
    """Every string of the document long enough not to be some library's own pattern by chance."""
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _patterns(k) + _patterns(v)]
    if isinstance(node, list):
        return [p for v in node for p in _patterns(v)]
    return [node] if isinstance(node, str) and len(node) >= 6 else []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=DOC, mangle=st.sampled_from([""] * 8 + ["  - [", "\n---\nb: 1", "\ta: 1", "key: &a [*a]"]))
def test_random_mapping_files_load_or_fail_with_one_error(doc: dict[str, Any], mangle: str) -> None:
    try:
        text = yaml.safe_dump(doc, allow_unicode=False) + mangle
    except yaml.YAMLError:
        return
    user = set(_patterns(doc))
    user |= {glob_re2(p) for p in list(user)}
    seen: list[str] = []
    real = re._compile  # type: ignore[attr-defined]

    def spy(pattern: Any, flags: Any) -> Any:
        seen.append(pattern if isinstance(pattern, str) else str(getattr(pattern, "pattern", "")))
        return real(pattern, flags)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mapping.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        re._compile = spy  # type: ignore[attr-defined]
        try:
            formats.read(EXAMPLE / "trace.json", recipe=RECIPE, mapping=path)
        except RecipemutError as e:
            assert "\n" not in str(e) and str(e).startswith(str(path))
        finally:
            re._compile = real  # type: ignore[attr-defined]
    assert not user.intersection(seen), user.intersection(seen)
