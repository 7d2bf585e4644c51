"""The span mapping: which spans of a trace are which operations of a recipe (``--map mapping.yaml``).

Without a mapping file a span is an operation when its name, or its ``recipe.operation``
attribute, equals the operation's ``id`` or ``action`` *and* its service (or, for a client span,
the service it calls) equals the operation's ``service``. A mapping file adds ordered rules
(first match wins) on span name (exact, glob, regex), service, kind and attributes, and says
which attributes hold the cache key, bytes, cost, the sampling rate and the status. Structure:
``recipemut/schemas/mapping.schema.json``; an example: ``recipes/zipkin_simple_db/mapping.yaml``.

Everything here is vectorised over the raw span frame: a loop over the (few) rules, never over
spans.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.errors import Finding, RecipeInvalid, RecipemutError
from recipemut.files.jsonsafe import schema_message
from recipemut.files.kinds import HEAD, input_kind, json_top_keys, read_text_as, recipemut_kind
from recipemut.logs.common import attr_str, to_float
from recipemut.logs.patterns import glob_re2, re2_problem, re2_search
from recipemut.logs.sources import engine_file_words
from recipemut.recipe.model import Recipe
from recipemut.recipe.yamlpos import parse_yaml

MAX_MAPPING_BYTES = 1 << 20
#: longest pattern (regex or glob) shown in a message
_SHOWN = 80
#: The default rule numbers every (name, service, client, peer) combination in one table when it has
#: at most this many slots per span to match, or this many in all; else it factorises the combinations.
DENSE_PER_SPAN = 4
DENSE_MIN = 1 << 16


class MappingError(RecipemutError):
    """A span mapping file is malformed or names an operation the recipe does not have."""


@dataclass(frozen=True)
class AttrTest:
    """One test on an attribute's value (all given conditions must hold)."""

    key: str
    equals: str | None = None
    in_: tuple[str, ...] | None = None
    regex: str | None = None
    glob: str | None = None
    min: float | None = None
    max: float | None = None
    exists: bool | None = None
    plain: bool = False  # written as a plain value (``sql.query: 'x'``: equals), not as a test's mapping

    def mask(self, raw: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the spans whose attribute passes the test.

        >>> raw = pd.DataFrame({"attr:code": ["200", "503", None]})
        >>> AttrTest("code", min=500).mask(raw).tolist(), AttrTest("code", exists=False).mask(raw).tolist()
        ([False, True, False], [False, False, True])
        """
        s = raw.get("attr:" + self.key)
        if s is None:
            return np.full(len(raw), self.exists is False)
        present = s.notna().to_numpy(dtype=bool)
        if self.exists is False:
            return ~present
        m = present.copy()
        if not present.any():
            return m
        if not pd.api.types.is_string_dtype(s):  # a numeric attribute column: compare its text
            s = pd.Series(pc.cast(pa.array(s, from_pandas=True), pa.string()).to_pandas().array, index=raw.index)
        text = s.fillna("")
        if self.equals is not None:
            m &= (text == self.equals).to_numpy()
        if self.in_ is not None:
            m &= text.isin(self.in_).to_numpy()
        if self.regex is not None:
            m &= re2_search(text, self.regex)
        if self.glob is not None:
            m &= re2_search(text, glob_re2(self.glob))
        if self.min is not None or self.max is not None:
            num = to_float(s, len(raw))
            if self.min is not None:
                m &= num >= self.min
            if self.max is not None:
                m &= num <= self.max
        return m


@dataclass(frozen=True)
class Rule:
    """Spans matching every given condition are operation ``op``."""

    op: str
    name: str | None = None
    name_glob: str | None = None
    name_regex: str | None = None
    service: str | None = None
    kind: str | None = None
    attributes: tuple[AttrTest, ...] = ()
    line: int | None = None

    def conditions(self) -> tuple[tuple[str, Callable[[pd.DataFrame], np.ndarray]], ...]:
        """Each condition the rule sets, named by its key (``name``, ``service``, ``attributes.sql.query``),
        with the mask of the spans that pass it; :meth:`mask` is all of them."""
        out: list[tuple[str, Callable[[pd.DataFrame], np.ndarray]]] = []
        if self.name is not None:
            out.append(("name", lambda raw: (raw["name"].astype(str) == self.name).to_numpy()))
        if self.name_glob is not None:
            out.append(("name_glob", lambda raw: re2_search(raw["name"].astype(str), glob_re2(str(self.name_glob)))))
        if self.name_regex is not None:
            out.append(("name_regex", lambda raw: re2_search(raw["name"].astype(str), str(self.name_regex))))
        if self.service is not None:
            out.append(("service", self._service))
        if self.kind is not None:
            out.append(("kind", lambda raw: (raw["kind"] == self.kind).to_numpy()))
        out.extend((f"attributes.{t.key}", t.mask) for t in self.attributes)
        return tuple(out)

    def _service(self, raw: pd.DataFrame) -> np.ndarray:
        pat = glob_re2(str(self.service))
        own = re2_search(raw["service"].fillna("").astype(str), pat)
        peer = re2_search(raw["peer_service"].fillna("").astype(str), pat)
        return np.asarray(own | (peer & (raw["kind"] == "client").to_numpy()), dtype=bool)

    def mask(self, raw: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the spans this rule matches."""
        m = np.ones(len(raw), dtype=bool)
        for _, test in self.conditions():
            m &= test(raw)
        return m


@dataclass(frozen=True)
class SpanMapping:
    """How spans become operations; :data:`DEFAULT_MAPPING` when no file is given."""

    rules: tuple[Rule, ...] = ()
    defaults: bool = True
    operation_attribute: str = "recipe.operation"
    cache_key: str | None = None
    bytes_in: str | None = None
    bytes_out: str | None = None
    cost_usd: str | None = None
    cpu_ms: str | None = None
    mem_mb: str | None = None
    variant: str = "recipe.variant"
    recipe_version: str = "recipe.version"
    sampling_attribute: str | None = None
    sampling_as: str = "probability"  # probability | one_in_n
    error: tuple[AttrTest, ...] = ()
    halted: tuple[AttrTest, ...] = ()
    ok: tuple[AttrTest, ...] = ()
    merge_latency: str = "client"  # client | server
    source: str | None = None

    def attributes(self) -> tuple[str, ...]:
        """Every attribute key the mapping reads (the readers extract only these)."""
        keys: list[str] = [self.operation_attribute, self.variant, self.recipe_version]
        for k in (self.cache_key, self.bytes_in, self.bytes_out, self.cost_usd, self.cpu_ms, self.mem_mb):
            if k:
                keys.append(k)
        if self.sampling_attribute:
            keys.append(self.sampling_attribute)
        for r in self.rules:
            keys.extend(t.key for t in r.attributes)
        keys.extend(t.key for t in (*self.error, *self.halted, *self.ok))
        return tuple(dict.fromkeys(keys))

    def check(self, recipe: Recipe | None) -> None:
        """Every rule names an operation of the recipe (raises :class:`MappingError`)."""
        if recipe is None:
            return
        for r in self.rules:
            if r.op not in recipe.ops:
                known = ", ".join(sorted(recipe.ops)) or "none"
                raise MappingError(
                    f"operations: rule for '{r.op}' names no operation of recipe '{recipe.name}' (it has: {known})",
                    file=self.source,
                    line=r.line,
                    code="unknown-op",
                )


DEFAULT_MAPPING = SpanMapping()


# ---- the default rule and the assignment of operations ---------------------------------------------


def assign_operations(
    raw: pd.DataFrame, recipe: Recipe, mapping: SpanMapping, *, rule_spans: list[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per span, the index of its operation in ``recipe.operations`` (-1: none), and a mask of spans
    that matched several operations. ``rule_spans``, when given, is filled with the spans each
    mapping rule took, in the rules' order.

    Mapping rules first (first match wins), then, for spans no rule matched, the default rule.
    A span the default rule matches to more than one operation (two operations with the same
    action on the same service) is *ambiguous*: it gets no operation and is counted, so that a
    mapping rule can separate them.
    """
    n = len(raw)
    index = {o.id: i for i, o in enumerate(recipe.operations)}
    op = np.full(n, -1, dtype=np.int64)
    took = [0] * len(mapping.rules)
    for i, rule in enumerate(mapping.rules):
        free = op < 0
        if not free.any():
            break
        hit = rule.mask(raw) & free
        op[hit] = index[rule.op]
        took[i] = int(hit.sum())
    if rule_spans is not None:
        rule_spans[:] = took
    ambiguous = np.zeros(n, dtype=bool)
    if not mapping.defaults:
        return op, ambiguous
    free_idx = np.flatnonzero(op < 0)
    if not len(free_idx) or not recipe.operations:
        return op, ambiguous
    lookup = pd.DataFrame(
        [
            (key, o.service, i)
            for i, o in enumerate(recipe.operations)
            for key in dict.fromkeys((o.id, o.action))
            if key
        ],
        columns=["cand", "svc", "op"],
    ).drop_duplicates()
    lookup = lookup.astype({"cand": "str", "svc": "str"})
    # each column as codes (-1: null) into its distinct values: the rule depends on (candidate name,
    # service, client or not, peer service) only, so it is matched once per distinct combination
    # (few, even in large files) and every span gets its combination's result
    cand_c, cand_u = _text_codes(raw["name"])
    opattr = raw.get("attr:" + mapping.operation_attribute)
    if opattr is not None:
        attr_c, attr_u = _text_codes(opattr)
        if len(attr_u):  # the attribute names the operation where present
            cand_c = np.where(attr_c >= 0, attr_c, np.where(cand_c >= 0, cand_c + len(attr_u), -1))
            cand_u = pd.concat([attr_u, cand_u], ignore_index=True)
    own_c, own_u = _text_codes(raw["service"])
    peer_c, peer_u = _text_codes(raw["peer_service"])
    client = (raw["kind"] == "client").to_numpy(dtype=bool)
    if len(free_idx) < n:
        cand_c, own_c, peer_c, client = cand_c[free_idx], own_c[free_idx], peer_c[free_idx], client[free_idx]
    sizes = (2, len(cand_u) + 1, len(own_u) + 1, len(peer_u) + 1)  # + 1: null (or, for the peer, not a client)
    total = sizes[0] * sizes[1] * sizes[2] * sizes[3]
    dense = total <= max(DENSE_PER_SPAN * len(client), DENSE_MIN)  # every combination fits one small table
    columns = ((cand_c, sizes[1], False), (own_c, sizes[2], False), (peer_c, sizes[3], True))  # True: the peer
    codes: np.ndarray
    if dense:  # the combination's number: its column codes (+ 1) in mixed radix, client first
        codes = client.astype(np.int32 if total < 1 << 31 else np.int64)
        offset = 0
        for c, k, is_peer in columns:
            if k == 1:  # a column without values: code 0 throughout
                continue
            codes *= k
            offset *= k
            if is_peer:
                codes += np.where(client, c + 1, 0)  # the peer counts for client spans only
            else:
                # c + 1 (null -> 0) without a pass for the + 1: the ones go into ``offset``, which is
                # scaled with the codes and added once at the end
                codes += c
                offset += 1
        codes += offset
    else:
        codes = client.astype(np.int64)
        for c, k, is_peer in columns:
            codes *= k
            codes += np.where(client, c + 1, 0) if is_peer else c + 1
            if len(codes) and int(codes.max()) > 1 << 40:
                codes = pd.factorize(codes)[0].astype(np.int64)  # back below n: no overflow however many values
    if dense:
        used = np.zeros(total, dtype=bool)
        used[codes] = True
        combo = np.flatnonzero(used)
        parts = []
        for k in sizes[:0:-1]:  # the combination's column codes back from its number
            parts.append(combo % k)
            combo = combo // k
        t_client, (t_peer, t_own, t_cand) = combo.astype(bool), parts
    else:
        which_t, first = _first_of_each(codes)
        t_client, t_cand, t_own = client[first], cand_c[first] + 1, own_c[first] + 1
        t_peer = np.where(t_client, peer_c[first] + 1, 0)
    t_op, n_hits = _match(
        cand_u.reindex(t_cand - 1),
        own_u.reindex(t_own - 1),
        peer_u.reindex(t_peer - 1),
        t_client,
        lookup,
        len(recipe.operations),
    )
    if dense:
        table = np.full(total, -1, dtype=np.int64)
        table[used] = t_op
        if len(free_idx) == n:
            op = table[codes]
        else:
            op[free_idx] = table[codes]
        if n_hits.max(initial=0) > 1:
            table[used] = n_hits
            ambiguous[free_idx] = table[codes] > 1
    else:
        op[free_idx] = t_op[which_t]
        ambiguous[free_idx] = n_hits[which_t] > 1
    return op, ambiguous


def _match(
    cand: pd.Series, own: pd.Series, peer: pd.Series, client: np.ndarray, lookup: pd.DataFrame, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The default rule on distinct combinations: per combination, its operation (-1: none or several)
    and the number of operations it matches (by its own service, or for a client its peer's; a span that
    names no service, and calls none, by its name alone)."""
    tpos = np.arange(len(client), dtype=np.int64)
    cand = cand.reset_index(drop=True)
    left = pd.DataFrame({"pos": tpos, "cand": cand, "own": own.reset_index(drop=True)})
    peer_df = pd.DataFrame({"pos": tpos, "cand": cand, "own": peer.reset_index(drop=True)})[client]
    nameless = left[left["own"].isna().to_numpy() & ~(client & peer.notna().to_numpy())]
    hits = pd.concat(
        [
            left.merge(lookup, left_on=["cand", "own"], right_on=["cand", "svc"]),
            peer_df.merge(lookup, left_on=["cand", "own"], right_on=["cand", "svc"]),
            nameless[["pos", "cand"]].merge(lookup, on="cand"),
        ]
    )
    key = np.sort(hits["pos"].to_numpy(dtype=np.int64) * k + hits["op"].to_numpy(dtype=np.int64))
    key = key[np.concatenate(([True], key[1:] != key[:-1]))] if len(key) else key  # unique (sort is faster)
    pos, which = key // k, key % k
    n_hits = np.bincount(pos, minlength=len(client))
    t_op = np.full(len(client), -1, dtype=np.int64)
    t_op[pos[n_hits[pos] == 1]] = which[n_hits[pos] == 1]
    return t_op, n_hits


def _text_codes(s: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Per element, the number of its value (-1: null; int32 or int64), and the distinct values (a Series of
    ``s``'s dtype).

    Arrow-backed strings are encoded by arrow on their buffers (no copy); anything else by pandas.

    >>> c, u = _text_codes(pd.Series(["b", None, "a", "b"], dtype="str"))
    >>> c.tolist(), u.tolist()
    ([0, -1, 1, 0], ['b', 'a'])
    """
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        arr = pa.array(s.array)
        if arr.null_count == len(arr):
            return np.full(len(arr), -1, dtype=np.int32), pd.Series([], dtype=s.dtype)
        chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
        if chunks and all(pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in chunks):
            enc = pc.dictionary_encode(pa.chunked_array(chunks, type=chunks[0].type))
            codes = np.concatenate(
                [
                    (c.indices.fill_null(-1) if c.null_count else c.indices).to_numpy(zero_copy_only=False)
                    for c in enc.chunks
                ]
            )
            values = pd.Series(enc.chunks[0].dictionary.to_pandas(), dtype=s.dtype)
            return codes.astype(np.int32, copy=False), values
    c, u = pd.factorize(s, use_na_sentinel=True)
    return c.astype(np.int64, copy=False), pd.Series(u, dtype=s.dtype)


def _first_of_each(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per element, the number of its distinct value (in first-appearance order), and where each value first is.

    >>> [a.tolist() for a in _first_of_each(np.array([7, 3, 7, 5]))]
    [[0, 1, 0, 2], [0, 1, 3]]
    """
    number = pd.factorize(codes)[0].astype(np.int64)
    if not len(number):
        return number, number
    grows = np.maximum.accumulate(number)
    return number, np.flatnonzero(np.concatenate(([True], grows[1:] > grows[:-1])))


STATUS_NAMES = ("ok", "error", "halted")


def status_codes(raw: pd.DataFrame, mapping: SpanMapping) -> np.ndarray:
    """Index into :data:`STATUS_NAMES` per span: the format's marker, OTel's status tag, then the mapping."""
    error = raw["error"].to_numpy(dtype=bool).copy()
    otel = raw.get("attr:otel.status_code")
    if otel is not None and otel.notna().any():
        error |= (otel.fillna("").str.upper() == "ERROR").to_numpy(dtype=bool)
    for t in mapping.error:
        error |= t.mask(raw)
    if not mapping.halted and not mapping.ok:
        return error.astype(np.int8)
    halted = np.zeros(len(raw), dtype=bool)
    for t in mapping.halted:
        halted |= t.mask(raw)
    ok = np.zeros(len(raw), dtype=bool)
    for t in mapping.ok:
        ok |= t.mask(raw)
    out = np.where(halted, 2, np.where(error, 1, 0)).astype(np.int8)
    out[ok] = 0
    return out


# ---- loading ---------------------------------------------------------------------------------------


@cache
def _schema() -> dict[str, Any]:
    text = (Path(__file__).parents[1] / "schemas" / "mapping.schema.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def _yaml_with_lines(text: str, file: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse YAML with :func:`recipemut.recipe.yamlpos.parse_yaml`, keeping the line of every value.

    That reader bounds nesting, aliases and values, reads keys as text and numbers as YAML 1.2
    does, and refuses integers too long to be numbers; a duplicate key is an error here.
    """
    try:
        data, positions, findings = parse_yaml(text, file=file, what="mapping file")
    except RecipeInvalid as e:
        f = e.findings[0] if e.findings else Finding(file, None, None, "bad-yaml", "not valid YAML")
        message = "empty mapping file" if f.code == "empty-file" else f.message
        if f.code == "yaml-syntax" and message.startswith("YAML syntax error: "):
            message = "not valid YAML: " + message.removeprefix("YAML syntax error: ")
        code = {"empty-file": "empty", "yaml-syntax": "bad-yaml"}.get(f.code, f.code)
        raise MappingError(message, file=file, line=f.line, column=f.column, code=code) from None
    if findings:
        f = findings[0]
        message = f.message.split(" (first at line", 1)[0] if f.code == "duplicate-key" else f.message
        raise MappingError(message, file=file, line=f.line, column=f.column, code=f.code)
    return data, {path: pos[0] for path, pos in positions.items()}


def _test(key: str, spec: Any) -> AttrTest:
    if not isinstance(spec, MappingABC):
        return AttrTest(key, equals=attr_str(spec), plain=True)
    return AttrTest(
        key,
        equals=attr_str(spec.get("equals")),
        in_=tuple(str(attr_str(v)) for v in spec["in"]) if "in" in spec else None,
        regex=spec.get("regex"),
        glob=spec.get("glob"),
        min=float(spec["min"]) if "min" in spec else None,
        max=float(spec["max"]) if "max" in spec else None,
        exists=spec.get("exists"),
    )


def _where(path: tuple[Any, ...]) -> str:
    """``operations[0].attributes.sql.query.regex`` for a document path."""
    out = ""
    for k in path:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return out or "(top level)"


def _line(lines: dict[tuple[Any, ...], int], path: tuple[Any, ...]) -> int | None:
    """The line of ``path``, or of its closest ancestor that has one."""
    return next((lines[path[:i]] for i in range(len(path), -1, -1) if path[:i] in lines), None)


def _patterns(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str, bool]]:
    """Every user pattern of schema-valid mapping data: (document path, pattern, is a glob)."""
    out: list[tuple[tuple[Any, ...], str, bool]] = []

    def test(path: tuple[Any, ...], spec: Any) -> None:
        if isinstance(spec, MappingABC):
            for key, is_glob in (("regex", False), ("glob", True)):
                if isinstance(spec.get(key), str):
                    out.append(((*path, key), spec[key], is_glob))

    for i, r in enumerate(data.get("operations") or ()):
        for key, is_glob in (("name_glob", True), ("name_regex", False), ("service", True)):
            if isinstance(r.get(key), str):
                out.append((("operations", i, key), r[key], is_glob))
        for k, v in (r.get("attributes") or {}).items():
            test(("operations", i, "attributes", k), v)
    for kind, items in (data.get("status") or {}).items():
        for j, t in enumerate(items or ()):
            test(("status", kind, j), t)
    return out


def _check_numbers(node: Any, path: tuple[Any, ...], source: str | None, lines: dict[tuple[Any, ...], int]) -> None:
    """Every number is finite and within a float's range (``.nan``, ``.inf`` or a 400-digit integer is refused)."""
    if isinstance(node, dict):
        for k, v in node.items():
            _check_numbers(v, (*path, k), source, lines)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _check_numbers(v, (*path, i), source, lines)
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        try:
            ok = math.isfinite(float(node))
        except OverflowError:
            ok = False
        if not ok:
            shown = str(node) if isinstance(node, float) else f"an integer of {len(str(abs(node)))} digits"
            raise MappingError(f"{_where(path)}: {shown} is not a finite number in range", file=source,
                               line=_line(lines, path), code="out-of-range")


def _schema_problem(e: Any) -> tuple[tuple[Any, ...], str]:
    """A schema error's document path and its words: an unknown key at its own line, with the close key and
    the keys allowed there (an attribute test's too, where jsonschema said only that the value fits neither
    form); jsonschema's best reason for a test that fits neither form otherwise."""
    import jsonschema

    from recipemut.recipe.loader import unknown_key_hint

    path = tuple(e.absolute_path)
    allowed: list[str] = []
    if e.validator == "additionalProperties" and isinstance(e.instance, dict):
        allowed = list(e.schema.get("properties", {}))
    elif e.validator == "oneOf" and isinstance(e.instance, dict):  # an attribute test: a plain value or a mapping
        allowed = list(_schema()["$defs"]["test"]["properties"])
    unknown = [k for k in (e.instance if allowed else ()) if k not in allowed]
    if unknown:
        k = str(unknown[0])
        what = "an attribute test is a plain value (equals) or a mapping of" if e.validator == "oneOf" else (
            "the keys allowed here:")
        return (*path, k), f"unknown key '{k}'{unknown_key_hint(k, allowed)}; {what} {', '.join(allowed)}"
    if e.validator == "minProperties" and isinstance(e.instance, dict):  # {} or {attribute: x}: no condition
        conditions = [k for k in e.schema.get("properties", {}) if k != "attribute"]
        return path, f"no condition given: write one of {', '.join(conditions)}"
    if e.validator == "oneOf" and e.context:  # a mapping is the test's form: the plain value's "type" is no reason
        reasons = [c for c in e.context if not (isinstance(e.instance, dict) and c.validator == "type" and
                                                tuple(c.absolute_path) == path)]
        best = jsonschema.exceptions.best_match(reasons or e.context)
        if best is not None:
            return _schema_problem(best)
    return path, schema_message(e)


def mapping_from_dict(
    data: Any, *, source: str | None = None, lines: dict[tuple[Any, ...], int] | None = None
) -> SpanMapping:
    """Validate plain data against the mapping schema and build a :class:`SpanMapping`."""
    import jsonschema

    lines = lines or {}
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        path, message = _schema_problem(errors[0])
        where = "/".join(map(str, path[:-1] if message.startswith("unknown key") else path)) or "(top level)"
        raise MappingError(f"{where}: {message}", file=source, line=_line(lines, path), code="schema")
    _check_numbers(data, (), source, lines)
    for path, pat, is_glob in _patterns(data):
        problem = re2_problem(glob_re2(pat) if is_glob else pat)
        if problem is None:
            continue
        shown = repr(pat) if len(pat) <= _SHOWN else repr(pat[:_SHOWN]) + "..."
        where = _where(path)
        if is_glob:
            raise MappingError(f"{where}: bad pattern {shown}: {problem}", file=source, line=_line(lines, path),
                               code="bad-glob")
        raise MappingError(
            f"{where}: bad regular expression {shown}: {problem} (patterns are RE2 syntax, matched in linear "
            "time: no lookahead or lookbehind (?= (?! (?<= (?<!, no backreferences \\1, no atomic groups (?>)",
            file=source,
            line=_line(lines, path),
            code="bad-regex",
        )
    rules = tuple(
        Rule(
            op=r["op"],
            name=r.get("name"),
            name_glob=r.get("name_glob"),
            name_regex=r.get("name_regex"),
            service=r.get("service"),
            kind=r.get("kind"),
            attributes=tuple(_test(k, v) for k, v in (r.get("attributes") or {}).items()),
            line=lines.get(("operations", i)),
        )
        for i, r in enumerate(data.get("operations") or ())
    )
    a = data.get("attributes") or {}
    st = data.get("status") or {}
    samp = data.get("sampling") or {}

    def tests(kind: str) -> tuple[AttrTest, ...]:
        return tuple(
            _test(t["attribute"], {k: v for k, v in t.items() if k != "attribute"}) for t in st.get(kind) or ()
        )

    return SpanMapping(
        rules=rules,
        defaults=bool(data.get("defaults", True)),
        operation_attribute=a.get("operation", "recipe.operation"),
        cache_key=a.get("cache_key"),
        bytes_in=a.get("bytes_in"),
        bytes_out=a.get("bytes_out"),
        cost_usd=a.get("cost_usd"),
        cpu_ms=a.get("cpu_ms"),
        mem_mb=a.get("mem_mb"),
        variant=a.get("variant", "recipe.variant"),
        recipe_version=a.get("recipe_version", "recipe.version"),
        sampling_attribute=samp.get("attribute"),
        sampling_as=samp.get("as", "probability"),
        error=tests("error"),
        halted=tests("halted"),
        ok=tests("ok"),
        merge_latency=(data.get("merge") or {}).get("latency", "client"),
        source=source,
    )


def load_mapping(path: str | Path) -> SpanMapping:
    """Read and validate a mapping file (YAML or JSON).

    A file that cannot be read as text raises :class:`~recipemut.errors.InputFileError`, a bad mapping
    :class:`MappingError`; both name the file.
    """
    p = Path(path)
    # a plan, a log or generation parameters given to --map are said, not their schema errors (one over the cap
    # too); a mapping whose header is missing looks like a recipe: its schema errors say what is wrong, so a
    # recipe is refused only when its header says it is one (YAML's or JSON's `kind: Recipe`)
    text = read_text_as(p, max_bytes=MAX_MAPPING_BYTES, what="mapping", text_what="a YAML or JSON mapping",
                        expected="a span mapping", missing="no such mapping file",
                        accept=("SpanMapping", "Recipe"), error=MappingError)
    head = text[:HEAD].encode("utf-8", "surrogateescape")
    got = input_kind(head)
    if got is not None and "Recipe" in (recipemut_kind(head), json_top_keys(head)[0].get("kind")):
        raise MappingError(got.misplaced("a span mapping"), file=str(p), code="wrong-kind")
    if got is None and (words := engine_file_words(head, "a span mapping")) is not None:
        raise MappingError(words, file=str(p), code="not-a-mapping")  # a run history, a definition
    data, lines = _yaml_with_lines(text, str(p))
    return mapping_from_dict(data, source=str(p), lines=lines)


def resolve(mapping: SpanMapping | str | Path | None) -> SpanMapping:
    """A mapping from a value, a file path, or ``None`` (the default mapping)."""
    if mapping is None:
        return DEFAULT_MAPPING
    if isinstance(mapping, SpanMapping):
        return mapping
    return load_mapping(mapping)
