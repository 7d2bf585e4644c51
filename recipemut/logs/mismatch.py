"""Spans logged by another version of the recipe, or on another service than the recipe says.

Logs outlive the recipe that wrote them: after ``evaluate`` promotes a canary (the recipe's
``version`` bumped, an operation moved to another service), last week's logs still profile, and
their latency and cost are those of the old service, shown under the new one. Nothing is excluded
or changed for it; :func:`find_mismatches` counts what does not match, so that every command that
reads logs against a recipe warns about it (the ingest report's ``mismatches``).

Each span is compared with the recipe that served it: a span of a canary variant the recipe
declares (``variants[].name``) with that variant's recipe, every other span (``control``, or a
variant the recipe no longer holds) with the recipe itself. Two kinds are counted, only where the
logs carry the column:

``version``
    spans whose ``recipe_version`` is not that recipe's ``version``, per logged version.
``service``
    spans whose ``service`` is not the service that recipe gives their operation, per operation and
    logged service. Only spans of native logs (JSONL, Parquet: ``service_files``) are compared: a
    trace's service is the tracer's name (a client span's caller, a mapping's glob), not the recipe's.

Counting is vectorised: each column factorized once (a category's codes as they are), the codes
combined and counted by ``np.bincount``; the loop is over the distinct (variant, version, file) and
(variant, operation, service) combinations, never over spans.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recipemut.logs.spans import DEFAULT_VARIANT

if TYPE_CHECKING:
    from recipemut.recipe.model import Recipe

#: the kinds of mismatch, in the order they are reported
KINDS = ("version", "service")

#: files named in a version mismatch's message before "and N more"
MAX_FILES = 3


def _variant(name: str) -> str:
    """``variant canary``; a name that is empty or only blanks in quotes (``variant ''``: it read ``variant ,``).

    >>> _variant("canary"), _variant("")
    ('variant canary', "variant ''")
    """
    return f"variant {name}" if name.strip() else f"variant {name!r}"


@dataclass(frozen=True)
class Mismatch:
    """Spans that do not match the recipe that served them: ``spans`` of them logged ``logged``
    where it says ``expected``.

    >>> print(Mismatch("version", 57102, 4, 6, "checkout", files=("logs.jsonl.gz",)).message())
    logs.jsonl.gz: 57,102 spans were logged by version 4 of checkout; the recipe is version 6
    >>> m = Mismatch("service", 3944, "pricing", "pricing-edge", "checkout", op="price_items")
    >>> print(m.message())  # doctest: +ELLIPSIS
    3,944 spans of price_items ran on service pricing; the recipe says pricing-edge (its latency and cost ...
    """

    kind: str  # one of KINDS
    spans: int
    logged: int | str  # the version or service the spans carry
    expected: int | str  # the one the recipe (or the variant's) gives
    recipe: str  # the recipe's name
    variant: str | None = None  # the canary variant whose recipe the spans were compared with; None: the recipe's own
    op: str | None = None  # the operation (kind "service")
    files: tuple[str, ...] = ()  # the log files holding the spans (kind "version"), most spans first
    gone: tuple[tuple[str, int], ...] = ()  # (variant, spans) of those logged by canary variants the recipe no
    # longer holds (promoted or ended): a canary's own spans after its promotion or rollback, said as such

    def message(self) -> str:
        """One line, the user's names as they are (the caller escapes them for the terminal)."""
        whose = "the recipe" if self.variant is None else f"the recipe's variant {self.variant}"
        if self.kind == "version":
            were = "span was" if self.spans == 1 else "spans were"
            where = ", ".join(self.files[:MAX_FILES])
            if len(self.files) > MAX_FILES:
                where += f" and {len(self.files) - MAX_FILES} more files"
            by = self.recipe if self.variant is None else f"{self.recipe} (variant {self.variant})"
            if self.gone:  # a canary's spans after it was promoted or ended: said, not an anomaly
                which = ", ".join(f"{n:,} by {_variant(v)}" for v, n in self.gone)
                by += f" ({which}, which the recipe no longer holds: promoted or ended)"
            text = f"{self.spans:,} {were} logged by version {self.logged} of {by}; {whose} is version {self.expected}"
            return f"{where}: {text}" if where else text
        spans = "span" if self.spans == 1 else "spans"
        of = str(self.op) if self.variant is None else f"{self.op} (variant {self.variant})"
        if self.gone:
            which = ", ".join(f"{n:,} by {_variant(v)}" for v, n in self.gone)
            of += f" ({which}, which the recipe no longer holds: promoted or ended)"
        canaries = sum(n for _, n in self.gone) == self.spans  # all a canary's: its service, not an old one
        old = f"{self.logged}'s" if canaries else "the old service's"
        return f"{self.spans:,} {spans} of {of} ran on service {self.logged}; {whose} says {self.expected} " \
               f"(its latency and cost are {old})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``kind``, ``spans``, ``logged``, ``expected``, ``variant``, ``op`` (service), ``files``
        (version), ``gone_variants`` (the spans of each canary variant the recipe no longer holds), ``message``."""
        d: dict[str, Any] = {"kind": self.kind, "spans": self.spans, "logged": self.logged,
                             "expected": self.expected, "variant": self.variant}  # fmt: skip
        if self.kind == "service":
            d["op"] = self.op
        else:
            d["files"] = list(self.files)
        d["gone_variants"] = dict(self.gone)
        d["message"] = self.message()
        return d


def _served_by(recipe: Recipe) -> dict[str | None, tuple[int, Mapping[str, str]]]:
    """variant name (None: the recipe's own) -> its recipe's version and operation -> service."""
    own: tuple[int, Mapping[str, str]] = (recipe.version, {op.id: op.service for op in recipe.operations})
    out: dict[str | None, tuple[int, Mapping[str, str]]] = {None: own}
    for v in recipe.variants:
        doc = v.recipe
        ops = doc.get("operations") or ()
        services = {str(o.get("id")): str(o.get("service") or "") for o in ops if isinstance(o, Mapping)}
        try:
            version = int(doc.get("version", recipe.version))
        except (TypeError, ValueError):
            version = recipe.version
        out[v.name] = (version, services)
    return out


def _codes(column: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """A column's codes (-1 where missing) and distinct values: a category's own, else ``pd.factorize``."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return np.asarray(column.cat.codes, dtype=np.int64), column.cat.categories.tolist()
    codes, uniques = pd.factorize(column)
    return np.asarray(codes, dtype=np.int64), list(uniques)


def _group_sizes(
    spans: pd.DataFrame,
    columns: tuple[str, ...],
    cache: dict[str, tuple[np.ndarray, list[Any]]],
    rows: np.ndarray | None = None,
) -> list[tuple[tuple[Any, ...], int]]:
    """The spans (of ``rows``, a mask; ``None``: all) of each distinct combination of ``columns``, rows
    missing one left out: each column factorized once (kept in ``cache`` for the next grouping), the
    codes combined into one integer and counted (``np.bincount``)."""
    key = np.zeros(len(spans), dtype=np.int64)
    ok = np.ones(len(spans), dtype=bool) if rows is None else rows.copy()
    values: list[list[Any]] = []
    for name in columns:
        if name not in cache:
            cache[name] = _codes(spans[name])
        codes, uniques = cache[name]
        ok &= codes >= 0
        key = key * max(len(uniques), 1) + np.maximum(codes, 0)
        values.append(uniques)
    sizes = np.bincount(key[ok], minlength=0)
    out = []
    for k in np.flatnonzero(sizes).tolist():  # the distinct combinations, not the spans
        combo, rest = [], k
        for uniques in reversed(values):
            rest, i = divmod(rest, max(len(uniques), 1))
            combo.append(uniques[i])
        out.append((tuple(reversed(combo)), int(sizes[k])))
    return out


def _present(spans: pd.DataFrame, column: str) -> bool:
    return column in spans.columns and bool(spans[column].notna().any())


def _ranked(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    """The names and counts, most first (then by name)."""
    return tuple(sorted(counts.items(), key=lambda x: (-x[1], x[0])))


def _gone(key: str | None, by_variant: Counter[str]) -> tuple[tuple[str, int], ...]:
    """The spans of canary variants the recipe no longer holds, among those compared with the recipe itself
    (``key`` None): every variant named but ``control``."""
    return () if key is not None else tuple(x for x in _ranked(by_variant) if x[0] != DEFAULT_VARIANT)


def find_mismatches(
    spans: pd.DataFrame, recipe: Recipe, *, service_files: Collection[str] | None = None
) -> tuple[Mismatch, ...]:
    """The spans of ``spans`` (the span table, already of ``recipe``'s operations) that another version
    of the recipe logged, or that ran on another service than their operation's; versions first, then
    services, each most spans first. ``service_files``: the files whose ``service`` column is the
    recipe's service (native logs); ``None``: every file's."""
    if spans.empty or "variant" not in spans.columns:
        return ()
    served = _served_by(recipe)
    found: list[Mismatch] = []
    cache: dict[str, tuple[np.ndarray, list[Any]]] = {}  # each column factorized once
    if _present(spans, "recipe_version"):
        files: defaultdict[tuple[str | None, int], Counter[str]] = defaultdict(Counter)
        variants: defaultdict[tuple[str | None, int], Counter[str]] = defaultdict(Counter)
        for (variant, logged, file), n in _group_sizes(spans, ("variant", "recipe_version", "source_file"), cache):
            key = variant if variant in served else None
            if int(logged) != served[key][0] and n:
                files[key, int(logged)][str(file)] += int(n)
                variants[key, int(logged)][str(variant)] += int(n)
        for (key, logged), by_file in files.items():
            found.append(Mismatch("version", by_file.total(), logged, served[key][0], recipe.name, key,
                                  files=tuple(f for f, _ in _ranked(by_file)),
                                  gone=_gone(key, variants[key, logged])))  # fmt: skip
    if _present(spans, "service"):
        rows = None if service_files is None else np.asarray(spans["source_file"].isin(list(service_files)), bool)
        by_service: defaultdict[tuple[str | None, str, str], Counter[str]] = defaultdict(Counter)
        for (variant, op, logged), n in _group_sizes(spans, ("variant", "op", "service"), cache, rows):
            key = variant if variant in served else None
            expected = served[key][1].get(str(op), "")
            if n and logged and expected and str(logged) != expected:
                by_service[key, str(op), str(logged)][str(variant)] += int(n)
        for (key, op, logged), by_variant in by_service.items():
            found.append(Mismatch("service", by_variant.total(), logged, served[key][1][op], recipe.name, key, op=op,
                                  gone=_gone(key, by_variant)))  # fmt: skip
    order = {k: i for i, k in enumerate(KINDS)}
    return tuple(sorted(found, key=lambda m: (order[m.kind], -m.spans, str(m.variant), str(m.op), str(m.logged))))


__all__ = ["KINDS", "MAX_FILES", "Mismatch", "find_mismatches"]
