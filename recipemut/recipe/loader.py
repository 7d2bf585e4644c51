"""Read recipe files safely, check them against the JSON Schema, and build :class:`~recipemut.recipe.model.Recipe`.

Reading is defensive: the bytes come through :mod:`recipemut.files.read` (a regular file, a size
cap, no binary or non-UTF-8 text) and the YAML through :mod:`recipemut.recipe.yamlpos` (one
document, bounded alias expansion, nesting and number of values, the (line, column) of every
value), then the document must be a mapping without duplicate keys. Every message points into
the file.

>>> recipe, findings = check_text('''
... apiVersion: recipemut/v1
... kind: Recipe
... name: demo
... fields: {a: {type: string}, b: {type: string}}
... inputs: [a]
... outputs: [b]
... services: {s: {replicas: 2}}
... operations:
...   - {id: f, service: s, action: F, consume: [a], produces: [b]}
... ''', file="demo.yaml")
>>> [str(f) for f in findings]
["demo.yaml:10:36: operations[0] (f): unknown key 'consume' (did you mean 'consumes'?) [unknown-key]"]
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import logging
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from recipemut.errors import Finding, RecipeInvalid, RecipemutError, not_yet_said
from recipemut.files.kinds import read_text_as
from recipemut.recipe.engines.base import Imported
from recipemut.recipe.model import DocPath, Positions, Recipe, recipe_from_dict
from recipemut.recipe.yamlpos import parse_yaml

log = logging.getLogger(__name__)

#: Largest recipe file read, in bytes (a real recipe is a few kB).
MAX_RECIPE_BYTES = 5 * 1024 * 1024
#: What an empty recipe file should have held.
_EXPECTED = "a recipe (apiVersion: recipemut/v1, ...)"


def read_text(path: str | os.PathLike[str], *, max_bytes: int = MAX_RECIPE_BYTES) -> str:
    """Read a recipe file as UTF-8 text, refusing what is not a reasonable text file.

    Raises :class:`InputFileError` (one line naming the file) for a missing file, anything but a
    regular file (a directory, a FIFO, a device: refused before reading), a file over
    ``max_bytes``, binary content, non-UTF-8 bytes, or a log, plan... named (:mod:`recipemut.files.kinds`).
    """
    return read_text_as(path, max_bytes=max_bytes, what="recipe", accept=("Recipe",))  # "a YAML recipe"


def parse_recipe_yaml(text: str, *, file: str = "<string>", what="recipe") -> tuple[Any, Positions, list[Finding]]:
    """:func:`recipemut.recipe.yamlpos.parse_yaml` with a recipe's wording; ``import`` says ``what="workflow file"``."""
    return parse_yaml(text, file=file, what=what, expected=_EXPECTED if what == "recipe" else None)


def _invalid(file: str, line: int | None, col: int | None, code: str, message: str) -> RecipeInvalid:
    return RecipeInvalid([Finding(file, line, col, code, message)])


def _require_mapping(data: Any, file: str) -> dict[str, Any]:
    if isinstance(data, dict):
        return data
    if data is None:
        raise _invalid(file, None, None, "empty-file", f"is empty; expected {_EXPECTED}")
    what = f"a list ({len(data)} item{'s' * (len(data) != 1)})" if isinstance(data, list) else _describe(data)
    said = f"the top level is {what}; a recipe is a mapping (apiVersion: recipemut/v1, kind: Recipe, ...)"
    raise _invalid(file, 1, 1, "not-a-mapping", said)


def read_document(
    path: str | os.PathLike[str], *, max_bytes: int = MAX_RECIPE_BYTES
) -> tuple[dict[str, Any], Positions, str]:
    """Read a recipe file into (plain data, positions, text) without checking the schema.

    An engine's file (Argo, Tekton, ...) gives the recipe document imported from it.

    Raises :class:`InputFileError` when the file cannot be read as text and :class:`RecipeInvalid`
    for YAML problems (syntax, duplicate keys, not a mapping, ...).
    """
    text = read_text(path, max_bytes=max_bytes)
    data, positions, findings, imported = _read_any(text, str(path))
    mapping = _require_mapping(data, str(path))
    if findings and imported is None:  # an engine file's import warnings are no reason to refuse it
        raise RecipeInvalid(findings)
    return mapping, positions, text


# ---- JSON Schema -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def recipe_schema() -> dict[str, Any]:
    """The recipe JSON Schema (``schemas/recipe.schema.json``)."""
    text = (Path(__file__).parents[1] / "schemas" / "recipe.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@lru_cache(maxsize=1)
def schema_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(recipe_schema())


_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}


def _describe(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value:g})"
    if isinstance(value, str):
        return f"text ({_short(value)})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__} ({_short(str(value))})"


def _short(s: str, n: int = 40) -> str:
    return repr(s if len(s) <= n else s[: n - 1] + "…")


def _subject(path: DocPath, data: Any = None) -> str:
    """Human name of a document path: ``operations[2] (charge_card).cache.ttl_s``.

    >>> _subject(("operations", 2, "cache"), {"operations": [{}, {}, {"id": "charge_card"}]})
    'operations[2] (charge_card).cache'
    """
    out = ""
    node = data
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
            node = node[step] if isinstance(node, list) and step < len(node) else None
            label = node.get("id", node.get("name")) if isinstance(node, dict) else None
            if isinstance(label, str):
                out += f" ({label})"
        else:
            out += ("." if out else "") + str(step)
            node = node.get(step) if isinstance(node, dict) else None
    return out or "top level"


def _close(word: str, options: list[str]) -> str:
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


#: what other workflow tools (Argo, GitHub Actions, Airflow, Tekton, ...) call a key a recipe spells
#: otherwise: offered where the recipe's key is allowed, beside the close-spelling suggestion
SYNONYMS: dict[str, str] = {
    "depends_on": "after",
    "dependsOn": "after",
    "needs": "after",
    "dependencies": "after",
    "runAfter": "after",
    "cost": "cost_per_call_usd",
    "inputs": "consumes",
    "outputs": "produces",
}


def unknown_key_hint(key: str, allowed: list[str]) -> str:
    """What an unknown key probably meant: a recipe's name for another tool's key, or a close spelling.

    >>> ops = ["action", "after", "consumes", "cost_per_call_usd", "id", "produces", "retry"]
    >>> unknown_key_hint("depends_on", ops), unknown_key_hint("retires", ops)
    (" (did you mean 'after'? a recipe names what must run first in 'after')", " (did you mean 'retry'?)")
    >>> unknown_key_hint("needs", ["inputs", "outputs"]), unknown_key_hint("zzz", ops)
    ('', '')
    """
    target = SYNONYMS.get(key)
    if target is None or target not in allowed:
        return _close(key, allowed)
    why = {
        "after": "a recipe names what must run first in 'after'",
        "cost_per_call_usd": "a recipe states the cost of one call in US dollars",
        "consumes": "an operation lists the fields it reads in 'consumes'",
        "produces": "an operation lists the fields it writes in 'produces'",
    }[target]
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    other = f", or '{close[0]}'" if close and close[0] != target else ""
    return f" (did you mean '{target}'{other}? {why})"


def _required_hint(schema: dict[str, Any], key: str) -> str:
    """The value to write for a missing key whose value is fixed (``apiVersion: recipemut/v1``)."""
    prop = schema.get("properties", {}).get(key, {})
    if isinstance(prop, dict) and "const" in prop:
        return f" (write `{key}: {prop['const']}`)"
    return ""


def _schema_error_findings(
    err: jsonschema.ValidationError, data: Any, positions: Positions, file: str
) -> list[Finding]:
    path: DocPath = tuple(err.absolute_path)
    subject = _subject(path, data)
    inst = err.instance
    v = err.validator
    code = "schema"

    def at(p: DocPath) -> tuple[int | None, int | None]:
        while p not in positions and p:
            p = p[:-1]
        return positions.get(p, (None, None))

    def one(message: str, where: DocPath = path, c: str | None = None) -> list[Finding]:
        line, col = at(where)
        return [Finding(file, line, col, c or code, message)]

    if v == "additionalProperties" and isinstance(inst, dict):
        allowed = sorted(err.schema.get("properties", {}))
        extra = [k for k in inst if k not in allowed]
        return [
            f
            for k in extra
            for f in one(f"{subject}: unknown key '{k}'{unknown_key_hint(k, allowed)}", (*path, k), "unknown-key")
        ]
    if v == "required" and isinstance(inst, dict):
        return [
            f
            for k in err.validator_value
            if k not in inst
            for f in one(f"{subject}: missing required key '{k}'{_required_hint(err.schema, k)}", c="missing-key")
        ]
    if "propertyNames" in err.relative_schema_path:
        return one(
            f"{subject}: name {_short(str(inst))} is not an identifier "
            "(letters, digits, '_', '-', '.'; starting with a letter or '_')",
            (*path, str(inst)),
            "bad-name",
        )
    if v == "type":
        want = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        msg = f"{subject}: expected {' or '.join(_TYPE_WORDS.get(str(t), str(t)) for t in want)}, got {_describe(inst)}"
        if isinstance(inst, bool) and "string" in want:
            msg += "; quote it (YAML reads yes/no/on/off/true/false as booleans)"
        elif inst is None:
            msg += "; an empty value in YAML is null"
        return one(msg, c="wrong-type")
    if v == "pattern":
        return one(f"{subject}: {_short(str(inst))} is not an identifier "
                   "(letters, digits, '_', '-', '.'; starting with a letter or '_')", c="bad-name")  # fmt: skip
    if v == "enum":
        options = [str(o) for o in err.validator_value]
        return one(
            f"{subject}: {_describe(inst)} is not one of {', '.join(options)}{_close(str(inst), options)}",
            c="bad-value",
        )
    if v == "const":
        return one(f"{subject}: expected {err.validator_value!r}, got {_describe(inst)}", c="bad-value")
    bounds = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
    if v in bounds:
        return one(f"{subject}: must be {bounds[v]} {err.validator_value}, got {inst}", c="out-of-range")
    if v == "minItems" and path == ("operations",):
        return one("operations: a recipe needs at least one operation", c="no-operations")
    if v in ("minItems", "maxItems") and path[:2] == ("constraints", "keep_order"):
        n = len(inst)  # 1 item, 3 items
        return one(f"{subject}: expected a pair [first, second], got {n} item{'s' * (n != 1)}", c="bad-value")
    if v == "uniqueItems" and isinstance(inst, list):
        seen: set[str] = set()
        out: list[Finding] = []
        for i, item in enumerate(inst):
            k = json.dumps(item, sort_keys=True, default=str)
            if k in seen:
                out += one(f"{subject}: {_short(str(item))} is listed twice", (*path, i), "duplicate-item")
            seen.add(k)
        return out
    if v == "minLength":
        return one(f"{subject}: must not be empty", c="bad-value")
    if v == "minProperties":
        options = sorted(err.schema.get("properties", {}))
        return one(f"{subject}: set at least one of {', '.join(options)}", c="bad-value")
    return one(f"{subject}: {err.message}")


def schema_findings(data: Any, positions: Positions, *, file: str, errors: list[Any] | None = None) -> list[Finding]:
    """Every JSON Schema violation of ``data`` (``errors``: the caller's, of what it checked), in words, in ``file``."""
    found = schema_validator().iter_errors(data) if errors is None else errors
    errors = sorted(found, key=lambda e: [str(p) for p in e.absolute_path])
    out = [f for e in errors for f in _schema_error_findings(e, data, positions, file)]
    # jsonschema reports `required` once per missing key, and each report names every missing key
    return sorted(dict.fromkeys(out), key=_finding_order)


def _finding_order(f: Finding) -> tuple[int, int]:
    return (f.line or 0, f.column or 0)


def _json_clean(data: Any, positions: Positions, file: str, *, paths: list[DocPath] | None = None) -> list[Finding]:
    """Values JSON cannot hold (NaN, infinity, dates, bytes) are errors before the schema runs (``paths``: theirs)."""
    out: list[Finding] = []
    bad = paths if paths is not None else []

    def walk(node: Any, path: DocPath) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))
        elif isinstance(node, float) and not math.isfinite(node):
            bad.append(path)
            line, col = positions.get(path, (None, None))
            out.append(Finding(file, line, col, "bad-value", f"{_subject(path, data)}: {node} is not a finite number"))
        elif node is not None and not isinstance(node, (str, int, float, bool)):
            bad.append(path)
            line, col = positions.get(path, (None, None))
            out.append(
                Finding(
                    file,
                    line,
                    col,
                    "wrong-type",
                    f"{_subject(path, data)}: YAML read a {type(node).__name__} here; quote it if it is text",
                )
            )

    walk(data, ())
    return out


# ---- the whole check -----------------------------------------------------------------------------


#: semantic rules that read the whole data flow and DAG: not run once an operation's flow keys were unreadable
_GRAPH_CODES = frozenset(
    {
        "self-after",
        "unknown-after",
        "undeclared-field",
        "input-produced",
        "duplicate-producer",
        "unproduced-field",
        "not-upstream",
        "output-not-produced",
        "cycle",
        "keep-order-contradiction",
        "keep-order-unordered",
        "unused-field",
        "foreach-not-consumed",
    }
)
#: semantic rules about one operation's own settings
_OP_CODES = frozenset(
    {
        "bad-expected",
        "cache-unsafe",
        "hedge-unsafe",
        "orphan-alternative",
        "foreach-not-consumed",
        "foreach-not-list",
        "batch-without-foreach",
        "batch-exceeds-max",
        "batch-without-max",
        "concurrency-without-foreach",
        "dedupe-without-foreach",
        "concurrency-over-capacity",
        "retry-unsafe",
        "dedupe-unsafe",
        "when-on-alternative",
    }
)
#: rules that read another part of the document: a field's type, a service's capacity, an alternative's max_batch
_CROSS_CODES = {
    "fields": {"foreach-not-list"},
    "services": {"concurrency-over-capacity"},
    "max_batch": {"batch-exceeds-max", "batch-without-max"},
}
_SALVAGE_PASSES = 4


class _Salvage:
    """A copy of a structurally broken document with its bad values set aside, and what that makes unreliable.

    A bad value is dropped, or replaced by a neutral one (an empty list of fields, no service), when
    the rest of the document stays meaningful without it; the semantic rules that would read the
    replaced value are then not run. Where nothing sensible can stand in (an operation's id, the
    operations list itself, a field name), :meth:`neutralise` says so and no semantic check runs.
    """

    def __init__(self, mapping: dict[str, Any]) -> None:
        self.doc: dict[str, Any] = copy.deepcopy(mapping)
        self.skip_codes: set[str] = set()
        self.skip_ops: set[tuple[str, int]] = set()

    def neutralise(self, path: DocPath) -> bool:
        doc = self.doc
        if not path or not isinstance(path[0], str):
            return False
        head = path[0]
        if head in ("operations", "alternatives"):
            items = doc.get(head)
            if len(path) < 3 or not isinstance(items, list) or not isinstance(path[1], int):
                return False
            item = items[path[1]] if path[1] < len(items) else None
            key = path[2]
            if not isinstance(item, dict) or key == "id":
                return False
            if key in ("consumes", "produces", "after"):
                item[key] = []
                self.skip_codes |= _GRAPH_CODES
            elif key in ("service", "action"):
                item[key] = ""
                self.skip_codes.add("unknown-service")
            else:
                item.pop(key, None)
                self.skip_ops.add((head, path[1]))
                self.skip_codes |= _CROSS_CODES.get(str(key), set())
            return True
        if head in ("fields", "services"):
            specs = doc.get(head)
            if len(path) < 2 or not isinstance(specs, dict) or path[1] not in specs:
                return False
            if head == "services" or len(path) == 2 or not isinstance(specs[path[1]], dict):
                specs[path[1]] = {}
            else:
                specs[path[1]].pop(path[2], None)
            self.skip_codes.add("unknown-format")
            self.skip_codes |= _CROSS_CODES[head]
            return True
        if head in ("inputs", "outputs"):
            return False
        if head == "name":
            doc["name"] = ""
            return True
        doc.pop(head, None)  # constraints, variants, formats, version, ...: checked without them
        self.skip_codes |= _CROSS_CODES.get(head, set())
        if head == "formats":
            self.skip_codes.add("unknown-format")
        return True

    def keep(self, f: Finding) -> bool:
        if f.code in self.skip_codes:
            return False
        return not (f.code in _OP_CODES and any(f.message.startswith(f"{k}[{i}] (") for k, i in self.skip_ops))


def _bad_paths(data: Any) -> list[DocPath]:
    """Document paths of the structural problems of ``data`` (unknown keys are not problems here)."""
    out: list[DocPath] = []
    _json_clean(data, {}, "", paths=out)
    if out:
        return out
    for err in schema_validator().iter_errors(data):
        path: DocPath = tuple(err.absolute_path)
        if err.validator == "additionalProperties":
            continue
        if err.validator == "required" and isinstance(err.instance, dict):
            out += [(*path, k) for k in err.validator_value if k not in err.instance]
        else:
            out.append(path)
    return out


def _salvaged_findings(mapping: dict[str, Any], positions: Positions, file: str) -> list[Finding]:
    """Semantic findings of the well-formed part of a document with structural errors ([] if none is left)."""
    from recipemut.recipe.validate import semantic_findings

    salvage = _Salvage(mapping)
    for _ in range(_SALVAGE_PASSES):
        paths = _bad_paths(salvage.doc)
        if not paths:
            try:
                recipe = recipe_from_dict(salvage.doc, source=file, positions=positions)
            except (KeyError, TypeError, ValueError):
                return []
            return [f for f in semantic_findings(recipe) if salvage.keep(f)]
        if not all(salvage.neutralise(p) for p in paths):
            return []
    return []


def check_document(
    data: Any, positions: Positions, *, file: str, findings: list[Finding] | None = None
) -> tuple[Recipe | None, list[Finding]]:
    """Schema and semantic checks of parsed data; returns the recipe (when it could be built) and findings.

    Unknown keys and duplicate keys do not stop the semantic checks (the model ignores unknown keys,
    the later duplicate wins). Other structural errors make the recipe unusable (``None``), but the
    semantic checks still run on what is well-formed around them (see :class:`_Salvage`), so one
    run reports both.
    """
    from recipemut.recipe.validate import semantic_findings

    found = list(findings or [])
    mapping = _require_mapping(data, file)
    bad_values = _json_clean(mapping, positions, file)
    structural = bad_values or schema_findings(mapping, positions, file=file)
    found += structural
    if any(f.code != "unknown-key" for f in structural):
        found += _salvaged_findings(mapping, positions, file)
        return None, sorted(found, key=_finding_order)
    recipe = recipe_from_dict(mapping, source=file, positions=positions)
    found += semantic_findings(recipe)
    return recipe, sorted(found, key=_finding_order)


def check_imported(imported: Imported, *, file: str) -> tuple[Recipe | None, list[Finding]]:
    """An engine file's imported recipe document, checked like a recipe; the recipe keeps ``imported``."""
    recipe, findings = check_document(imported.document, imported.positions, file=file, findings=imported.warnings)
    return (None if recipe is None else dataclasses.replace(recipe, imported=imported)), _one_service_warning(
        findings, imported.engine
    )


def _few_users(text: str, most: int = 3) -> str:
    """``'dynamodb' (used by a, b and 3 more)``: a line said on every command names a few steps only.

    >>> _few_users("'db' (used by a, b, c, d, e)"), _few_users("'db' (used by a, b, c)")
    ("'db' (used by a, b and 3 more)", "'db' (used by a, b, c)")
    """
    head, sep, users = text.partition(" (used by ")
    names = users.removesuffix(")").split(", ")
    if not sep or len(names) <= most:
        return text
    return f"{head} (used by {', '.join(names[: most - 1])} and {len(names) - most + 1} more)"


def _one_service_warning(findings: list[Finding], engine: str) -> list[Finding]:
    """An engine's file cannot declare services: its ``unknown-service`` warnings (one per image,
    runner or AWS service, on every command) become one, which says so and how to size them.

    >>> fs = [Finding("w.yml", 5, 5, "unknown-service", "service 'a' (used by x) is not declared in services; "
    ...       "forecast cannot size it", "warning"), Finding("w.yml", 9, 5, "unknown-service",
    ...       "service 'b' (used by y, z) is not declared in services; forecast cannot size it", "warning")]
    >>> [f.message for f in _one_service_warning(fs, "GitHub Actions workflow")]  # doctest: +NORMALIZE_WHITESPACE
    ["2 services are not declared: 'a' (used by x); 'b' (used by y, z); a GitHub Actions workflow cannot declare
    them, so forecast cannot size them (`recipemut import` the file into a recipe and add `services:` to size them)"]
    """
    unknown = [f for f in findings if f.code == "unknown-service"]
    if not unknown:
        return findings
    suffix = " is not declared in services; forecast cannot size it"
    each = "; ".join(_few_users(f.message.removeprefix("service ").removesuffix(suffix)) for f in unknown)
    count = "a service is" if len(unknown) == 1 else f"{len(unknown)} services are"
    article = "an" if engine[:1].lower() in "aeiou" else "a"
    them = "it" if len(unknown) == 1 else "them"
    one = dataclasses.replace(
        unknown[0],
        message=f"{count} not declared: {each}; {article} {engine} cannot declare {them}, so forecast cannot size "
        f"{them} (`recipemut import` the file into a recipe and add `services:` to size {them})",
    )
    return [one if f is unknown[0] else f for f in findings if f.code != "unknown-service" or f is unknown[0]]


def check_text(text: str, *, file: str = "<string>", what: str = "recipe") -> tuple[Recipe | None, list[Finding]]:
    """Check recipe text; every problem becomes a finding (nothing is raised for bad input).

    A workflow engine's file (Argo, Tekton, ...: :mod:`recipemut.recipe.engines`) is imported and
    then checked like a recipe; a multi-document file is read document by document for that.
    """
    try:
        data, positions, findings, imported = _read_any(text, file, what)
        if imported is not None:
            return check_imported(imported, file=file)
        return check_document(data, positions, file=file, findings=findings)
    except RecipeInvalid as e:
        return None, list(e.findings)


def _read_any(text: str, file: str, what: str = "recipe") -> tuple[Any, Positions, list[Finding], Imported | None]:
    """(data, positions, findings, imported): a recipe's YAML, or the recipe document imported from an engine's file.

    A file that does not mean to be a recipe (or holds several YAML documents) is offered to the
    engines (:mod:`recipemut.recipe.engines`); raises :class:`RecipeInvalid` as the YAML reader does.
    """
    from recipemut.recipe.engines import import_text, looks_like_recipe

    try:
        data, positions, findings = parse_recipe_yaml(text, file=file, what=what)
    except RecipeInvalid as e:
        several = any(f.code == "multiple-documents" for f in e.findings)
        imported = import_text(text, file=file) if several else None
        if imported is None:
            raise
        return imported.document, imported.positions, imported.warnings, imported
    if not looks_like_recipe(data):
        imported = import_text(text, file=file, first=(data, positions, findings))
        if imported is not None:
            return imported.document, imported.positions, imported.warnings, imported
    return data, positions, findings, None


def check_recipe(
    path: str | os.PathLike[str], *, max_bytes: int = MAX_RECIPE_BYTES
) -> tuple[Recipe | None, list[Finding]]:
    """Check a recipe file: (the recipe or ``None``, every finding). Used by ``recipemut validate``.

    Unreadable files (missing, a directory, binary, ...) give a single finding rather than an error,
    so that several files can be checked in one run.
    """
    name = str(path)
    try:
        text = read_text(path, max_bytes=max_bytes)
    except RecipemutError as e:
        return None, [Finding(e.file or name, e.line, e.column, e.code, e.message)]
    return check_text(text, file=name)


def _on_disk(text: str, file: str) -> bool:
    """Whether ``file`` is a recipe file on disk holding exactly ``text``."""
    try:
        return read_text(file) == text
    except RecipemutError:
        return False


def _not_written(f: Finding) -> str:
    """A finding about a text that is not on disk: its lines are not the file's lines, so say so.

    >>> _not_written(Finding("r.yaml", 61, 5, "unknown-service", "service 'x' is not declared"))
    "r.yaml (as it would be written, not the file on disk), line 61: service 'x' is not declared [unknown-service]"
    """
    at = f", line {f.line}" if f.line is not None else ""
    return f"{f.file} (as it would be written, not the file on disk){at}: {f.message} [{f.code}]"


def _loaded(recipe: Recipe | None, findings: list[Finding], *, text: str | None = None, quiet: bool = False) -> Recipe:
    """The recipe, or :class:`RecipeInvalid`; warnings are logged, each once in a command run (:func:`not_yet_said`:
    the recipe and the text a command writes share most), ``text``: check whether it is the file on disk."""
    errors = [f for f in findings if f.severity == "error"]
    if errors or recipe is None:
        raise RecipeInvalid(errors or findings)
    new = [] if quiet else not_yet_said(findings)
    if new:
        on_disk = text is None or _on_disk(text, new[0].file)
        for f in new:
            log.warning("%s", f if on_disk else _not_written(f))
    return recipe


def load_recipe_text(text: str, *, file: str = "<string>", quiet: bool = False) -> Recipe:
    """Build a valid :class:`Recipe` from text; raises :class:`RecipeInvalid` with every error.

    Warnings are logged, not raised (none with ``quiet``). When ``text`` is not what the file
    ``file`` holds on disk (a recipe about to be written, a dry run), a warning does not claim a
    ``file:line`` of that file: it says the line is of the text as it would be written.
    """
    recipe, findings = check_text(text, file=file)
    return _loaded(recipe, findings, text=text, quiet=quiet)


def load_recipe(path: str | os.PathLike[str], *, max_bytes: int = MAX_RECIPE_BYTES) -> Recipe:
    """Load and fully validate a recipe file.

    Raises :class:`InputFileError` when the file cannot be read, and :class:`RecipeInvalid`
    (carrying every error finding) when it is not a valid recipe. Warnings are logged.
    """
    text = read_text(path, max_bytes=max_bytes)
    return _loaded(*check_text(text, file=str(path)))


__all__ = [
    "MAX_RECIPE_BYTES",
    "SYNONYMS",
    "check_document",
    "check_imported",
    "check_recipe",
    "check_text",
    "load_recipe",
    "load_recipe_text",
    "parse_recipe_yaml",
    "read_document",
    "read_text",
    "recipe_schema",
    "schema_findings",
    "schema_validator",
    "unknown_key_hint",
]
