"""Generation parameters: per operation and per field, read from a ``loggen.yaml`` beside a recipe."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from recipemut.errors import Finding, InputFileError, RecipeInvalid, RecipemutError
from recipemut.files.kinds import HEAD, input_kind, read_text_as
from recipemut.logs.sources import engine_file_words
from recipemut.recipe.loader import MAX_RECIPE_BYTES
from recipemut.recipe.model import FieldSpec, Operation
from recipemut.recipe.yamlpos import parse_yaml


@dataclass(frozen=True)
class OpParams:
    """How one operation behaves in generated logs (see the module docstring for the model)."""

    latency_median_ms: float = 20.0
    latency_sigma: float = 0.35
    tail_share: float = 0.01
    tail_alpha: float = 2.5
    tail_scale: float = 3.0
    throughput_bytes_per_ms: float = 50_000.0
    halt_prob: float = 0.0  # only used when the operation has may_halt
    error_prob: float = 0.001
    cpu_share: float = 0.3
    mem_mb: float = 64.0
    cost_noise: float = 0.05
    per_item_ms: float = 0.0  # a call's latency grows by this much per item it handles (batches)
    when_prob: float = 0.5  # share of requests on which an operation with ``when`` runs
    inside: str | None = None  # called from within this (earlier) operation: its span encloses this one's


@dataclass(frozen=True)
class FieldParams:
    """Size and popularity of a field's values."""

    bytes_mean: float = 64.0
    bytes_sigma: float = 0.3
    universe: int | None = None  # distinct values; None: unique per request
    zipf: float = 1.1  # popularity exponent over the universe (rank r has weight r**-zipf)
    items_mean: float | None = None  # a list field: mean items per request (None: 5 when iterated over)
    items_max: int | None = None  # a list field: most items per request (None: no cap)
    items_dist: str = "poisson"  # a list field's size distribution: poisson, geometric or fixed


#: the size distributions of a list field (see :mod:`recipemut.loggen.items`)
ITEMS_DISTS = ("poisson", "geometric", "fixed")


#: Default bytes of a field by (type, format).
_DEFAULT_BYTES = {"object": 2048.0, "array": 1024.0, "string": 40.0, "number": 8.0, "integer": 8.0, "boolean": 1.0}


@dataclass(frozen=True)
class LoggenParams:
    """Per-operation and per-field generation parameters (a ``loggen.yaml`` beside a recipe).

    Anything not given is derived from the recipe: a guard (``may_halt``) halts 15% of the
    requests it sees, object fields weigh 2 KiB, strings 40 bytes, and so on.
    """

    ops: Mapping[str, OpParams] = field(default_factory=lambda: MappingProxyType({}))
    fields: Mapping[str, FieldParams] = field(default_factory=lambda: MappingProxyType({}))
    defaults: OpParams = field(default_factory=OpParams)
    #: where the parameters were read (for messages) and the line of each key path in it
    source: str = field(default="<loggen>", compare=False)
    lines: Mapping[tuple[str, ...], int] = field(default_factory=lambda: MappingProxyType({}), compare=False)

    def callers(self) -> dict[str, str]:
        """``{callee: caller}``: the operations given ``inside`` (see :mod:`recipemut.loggen.nested`)."""
        return {op_id: p.inside for op_id, p in self.ops.items() if p.inside is not None}

    def for_op(self, op: Operation) -> OpParams:
        if op.id in self.ops:
            return self.ops[op.id]
        p = self.defaults
        if op.may_halt and p.halt_prob == 0.0:
            p = replace(p, halt_prob=0.15)
        if op.expected is not None and op.expected.latency_p50_ms:
            p = replace(p, latency_median_ms=float(op.expected.latency_p50_ms))
        return p

    def for_field(self, name: str, spec: FieldSpec | None) -> FieldParams:
        if name in self.fields:
            return self.fields[name]
        kind = spec.type if spec is not None else "string"
        return FieldParams(bytes_mean=_DEFAULT_BYTES.get(kind, 64.0))


_OP_KEYS = {f.name: f.type for f in fields(OpParams)}
_FIELD_KEYS = {f.name: f.type for f in fields(FieldParams)}


def _parse_section(
    raw: Any,
    cls: type[Any],
    keys: Mapping[str, Any],
    path: tuple[str, ...],
    src: str,
    lines: dict[tuple[str, ...], int],
) -> Any:
    def fail(msg: str, at: tuple[str, ...]) -> RecipemutError:
        return RecipemutError(msg, file=src, line=lines.get(at, lines.get(path)), code="loggen-params")

    if not isinstance(raw, Mapping):
        raise fail(f"{'.'.join(path)}: expected a mapping, got {type(raw).__name__}", path)
    kw: dict[str, Any] = {}
    for k, v in raw.items():
        if k not in keys:
            raise fail(f"{'.'.join(path)}: unknown key {k!r} (expected one of {', '.join(sorted(keys))})", (*path, k))
        if v is None and "None" in str(keys[k]):
            kw[k] = None
            continue
        if k == "inside":
            if path[0] == "defaults":
                raise fail("defaults.inside: name the caller of each operation under operations", (*path, k))
            if not isinstance(v, str) or not v:
                raise fail(f"{'.'.join((*path, k))}: expected the id of an operation, got {v!r}", (*path, k))
            kw[k] = v
            continue
        if k == "items_dist":
            if v not in ITEMS_DISTS:
                raise fail(f"{'.'.join((*path, k))}: expected one of {', '.join(ITEMS_DISTS)}, got {v!r}", (*path, k))
            kw[k] = v
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise fail(f"{'.'.join((*path, str(k)))}: expected a number, got {v!r}", (*path, k))
        if not math.isfinite(v):
            raise fail(f"{'.'.join((*path, str(k)))}: must be a finite number, got {v!r}", (*path, k))
        if v < 0:
            raise fail(f"{'.'.join((*path, str(k)))}: must not be negative, got {v!r}", (*path, k))
        cap = _cap(k)
        if v > cap:
            shown_cap = f"{cap:,.0f}" if cap < 1e9 else f"{cap:g}"
            raise fail(f"{'.'.join((*path, str(k)))}: at most {shown_cap}, got {v!r}", (*path, k))
        if k == "when_prob" and v > 1:
            raise fail(f"{'.'.join((*path, str(k)))}: a share, expected at most 1, got {v!r}", (*path, k))
        if k == "items_mean" and v < 1:
            raise fail(f"{'.'.join((*path, str(k)))}: a list holds at least one item, got {v!r}", (*path, k))
        kw[k] = int(v) if k in ("universe", "items_max") else float(v)
    return cls(**kw)


#: the largest value a key takes: list sizes beyond 100,000 items per request, or times beyond a day,
#: would make the generated arrays or their integer clock ticks overflow rather than describe a system
_LIST_MAX = 100_000.0
_MS_MAX = 86_400_000.0
_ANY_MAX = 1e12


def _cap(key: str) -> float:
    if key in ("items_mean", "items_max"):
        return _LIST_MAX
    return _MS_MAX if key.endswith("_ms") else _ANY_MAX


def load_params(path: str | os.PathLike[str]) -> LoggenParams:
    """Read a ``loggen.yaml``: ``defaults:`` (OpParams keys), ``operations: {id: {...}}``,
    ``fields: {name: {...}}``. Read as every user file is (:mod:`recipemut.files.read`: a regular
    file, a size cap, UTF-8 text) and parsed by :mod:`recipemut.recipe.yamlpos` (YAML 1.2 numbers,
    aliases, nesting and values bounded); duplicate keys, unknown keys and wrong types are errors
    naming file and line."""
    p = Path(path)
    text = read_text_as(p, max_bytes=MAX_RECIPE_BYTES, what="loggen.yaml", text_what="a YAML loggen.yaml",
                        expected="generation parameters", accept=("Generation",))  # a recipe, a log: named
    head = text[:HEAD].encode("utf-8", "surrogateescape")
    if input_kind(head) is None and (words := engine_file_words(head, "generation parameters")) is not None:
        raise InputFileError(words, file=str(p), code="wrong-kind")  # a run history, a definition
    try:
        raw, positions, findings = parse_yaml(text, file=str(p), what="loggen.yaml")
    except RecipeInvalid as e:
        if e.findings and e.findings[0].code == "empty-file":
            return LoggenParams()  # an empty (or comments-only) file: every default
        raise _first(e.findings, str(p)) from None
    if findings:  # duplicate keys: the file does not say which value it means
        raise _first(findings, str(p))
    lines = {tuple(map(str, path)): pos[0] for path, pos in positions.items() if all(isinstance(k, str) for k in path)}
    return params_from_dict(raw, source=str(p), lines=lines)


def _first(findings: list[Finding], file: str) -> RecipemutError:
    """The first problem the YAML reader found, as one error (with how many more there are)."""
    f = findings[0]
    more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    return RecipemutError(f.message + more, file=f.file or file, line=f.line, column=f.column, code=f.code)


def params_from_dict(
    raw: Any, *, source: str = "<loggen>", lines: dict[tuple[str, ...], int] | None = None
) -> LoggenParams:
    """Build :class:`LoggenParams` from plain data (the parsed ``loggen.yaml``)."""
    lines = lines or {}
    if not isinstance(raw, Mapping):
        raise RecipemutError(f"expected a mapping at the top, got {type(raw).__name__}", file=source, line=1)
    unknown = set(raw) - {"defaults", "operations", "fields"}
    if unknown:
        k = sorted(map(str, unknown))[0]
        raise RecipemutError(
            f"unknown key {k!r} (expected defaults, operations, fields)", file=source, line=lines.get((k,))
        )
    defaults = _parse_section(raw.get("defaults") or {}, OpParams, _OP_KEYS, ("defaults",), source, lines)
    ops_raw = raw.get("operations") or {}
    fields_raw = raw.get("fields") or {}
    for name, sect in (("operations", ops_raw), ("fields", fields_raw)):
        if not isinstance(sect, Mapping):
            raise RecipemutError(
                f"{name}: expected a mapping of id -> parameters", file=source, line=lines.get((name,))
            )
    ops = {}
    for k, v in ops_raw.items():
        parsed = _parse_section(v or {}, OpParams, _OP_KEYS, ("operations", str(k)), source, lines)
        ops[str(k)] = replace(defaults, **{name: getattr(parsed, name) for name in (v or {})})
    flds = {
        str(k): _parse_section(v or {}, FieldParams, _FIELD_KEYS, ("fields", str(k)), source, lines)
        for k, v in fields_raw.items()
    }
    return LoggenParams(
        ops=MappingProxyType(ops),
        fields=MappingProxyType(flds),
        defaults=defaults,
        source=source,
        lines=MappingProxyType(dict(lines)),
    )
