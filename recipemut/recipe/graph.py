"""Pictures of a recipe's DAG: Mermaid (for Markdown, pull requests) and Graphviz DOT.

Both renderings say the same things the same way:

* one node per operation, labelled ``id`` then ``service · Action`` (:func:`service_action`: a dot would read
  as part of a service named ``my.service``), then its marks: a guard that
  may halt requests, a branch (``when: ...``), a fan-out (``× each driver_ids, 4 at a time``),
  retries, frozen (no mutation may touch it), external side effects, cached, hedged, substituted;
* a fan-out drawn as a stacked box (Mermaid's subroutine shape, DOT's ``box3d``), a branch with a
  dashed purple border;
* data edges as solid arrows labelled with the fields they carry; ``after`` edges (ordering the
  data does not need) dashed and labelled ``after``; an edge that is both is solid and labelled
  ``fields + after``;
* ``highlight`` (operation ids, e.g. the ones a mutation changed) drawn with a thick coloured border.

Nodes and edges come in the recipe's topological order, so the text is stable and diffable.

>>> from recipemut.recipe.model import recipe_from_dict
>>> r = recipe_from_dict({"name": "demo", "fields": {}, "inputs": ["a"], "outputs": ["c"], "operations": [
...     {"id": "f", "service": "s", "action": "F", "consumes": ["a"], "produces": ["b"]},
...     {"id": "g", "service": "s", "action": "G", "consumes": ["b"], "produces": ["c"], "may_halt": True},
... ]})
>>> print(render_mermaid(r))  # doctest: +NORMALIZE_WHITESPACE
flowchart TD
  n0["f<br/>s · F"]
  n1{{"g<br/>s · G<br/>guard: may halt"}}
  n0 -->|"b"| n1
  classDef guard fill:#fff3cd,stroke:#b58100
  class n1 guard
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from recipemut.errors import RecipemutError
from recipemut.files.text import safe
from recipemut.files.units import ms_text
from recipemut.recipe.model import Operation, Recipe

#: Mermaid class definitions, in the order their ``class`` lines are written.
_MERMAID_CLASSES = {
    "fanout": "fill:#e7f1ff,stroke:#0b5ed7",
    "branch": "fill:#f3f0ff,stroke:#6f42c1,stroke-dasharray:6 3",
    "guard": "fill:#fff3cd,stroke:#b58100",
    "external": "fill:#f8d7da,stroke:#a52834",
    "frozen": "fill:#e9ecef,stroke:#495057,stroke-dasharray:4 2",
    "changed": "stroke:#d6336c,stroke-width:4px",
}

#: DOT node attributes per mark (later marks win on the same attribute).
_DOT_STYLE = {
    "fanout": {"shape": "box3d", "fillcolor": "#e7f1ff", "color": "#0b5ed7"},
    "branch": {"style": "rounded,filled,dashed", "fillcolor": "#f3f0ff", "color": "#6f42c1"},
    "guard": {"shape": "hexagon", "fillcolor": "#fff3cd", "color": "#b58100"},
    "external": {"fillcolor": "#f8d7da", "color": "#a52834"},
    "frozen": {"fillcolor": "#e9ecef", "color": "#495057", "peripheries": "2"},
    "changed": {"color": "#d6336c", "penwidth": "3"},
}


def _marks(op: Operation, frozen: Collection[str]) -> list[str]:
    """Human-readable marks of an operation, in a fixed order."""
    out = []
    if op.may_halt:
        out.append("guard: may halt")
    if op.when is not None:
        out.append(f"when: {op.when}")
    if op.foreach is not None:
        out.append(fan_out_label(op))
    if op.max_attempts > 1:
        out.append(f"up to {op.max_attempts} attempts")
    if op.id in frozen:
        out.append("frozen")
    if op.side_effects == "external":
        out.append("external side effects")
    if op.cache is not None:
        out.append(f"cached {op.cache.ttl_s:g}s")
    if op.hedge is not None:
        out.append(f"hedged after {ms_text(op.hedge.after_ms, decimals=None)}")
    if op.substituted_from:
        out.append(f"was {op.substituted_from}")
    return out


def service_action(op: Operation) -> str:
    """The service and the action of an operation as a node's second line, apart by `` · ``: a dot joining them
    would read as part of either name (``my.service.I'm a server span``).

    >>> service_action(Operation("op1", "my.service", "I'm a server span"))
    "my.service · I'm a server span"
    """
    return f"{op.service} · {op.action}"


def fan_out_label(op: Operation) -> str:
    """How a fan-out operation calls its service, in a few words.

    >>> fan_out_label(Operation("get_driver", "redis", "GetDriver", foreach="driver_ids", concurrency=4))
    '× each driver_ids, 4 at a time'
    >>> fan_out_label(Operation("g", "redis", "MGet", foreach="ids", batch_size=50, dedupe=True))
    '× each ids, batches of 50, one at a time, identical items once'
    """
    parts = [f"× each {op.foreach}"]
    if op.batch_size > 1:
        parts.append(f"batches of {op.batch_size}")
    parts.append("one at a time" if op.concurrency == 1 else f"{op.concurrency} at a time")
    if op.dedupe:
        parts.append("identical items once")
    return ", ".join(parts)


def _classes(op: Operation, frozen: Collection[str], highlight: Collection[str]) -> list[str]:
    """Style classes, in the order they apply (a later class wins on the same DOT attribute)."""
    out = []
    if op.foreach is not None:
        out.append("fanout")
    if op.when is not None:
        out.append("branch")
    if op.may_halt:
        out.append("guard")
    if op.side_effects == "external":
        out.append("external")
    if op.id in frozen:
        out.append("frozen")
    if op.id in highlight:
        out.append("changed")
    return out


def _edges(recipe: Recipe) -> Iterator[tuple[str, str, str, str]]:
    """(source, target, kind, fields label) in topological order of source, then target."""
    rank = {op_id: i for i, op_id in enumerate(recipe.topo_order)}
    edges = sorted(recipe.dag.edges(data=True), key=lambda e: (rank[e[0]], rank[e[1]]))
    for a, b, d in edges:
        yield a, b, str(d["kind"]), ", ".join(sorted(d["fields"]))


def _checked(recipe: Recipe, highlight: Collection[str]) -> tuple[str, ...]:
    unknown = sorted(set(highlight) - set(recipe.ops))
    if unknown:
        raise RecipemutError(
            f"cannot highlight {', '.join(map(repr, unknown))}: recipe {recipe.name!r} has no such operation",
            file=recipe.source,
            code="unknown-operation",
        )
    try:
        return recipe.topo_order
    except Exception:  # a cycle: networkx.NetworkXUnfeasible
        raise RecipemutError(
            "the recipe's graph has a cycle; run `recipemut validate` to see it", file=recipe.source, code="cycle"
        ) from None


def _mermaid_text(s: str) -> str:
    """Text for inside a quoted Mermaid label: unprintable characters as visible escapes (a line break
    would end the statement), and the quote and the characters Mermaid reads as markup as entities."""
    return safe(s).replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def render_mermaid(recipe: Recipe, *, highlight: Collection[str] = ()) -> str:
    """The DAG as a Mermaid ``flowchart`` (paste into Markdown inside a ```` ```mermaid ```` block).

    Node ids are ``n0, n1, ...`` in topological order (operation ids may be Mermaid keywords such
    as ``end``); the label carries the operation id. Guards are hexagons,
    fan-outs (without a guard) subroutine boxes.
    """
    order = _checked(recipe, highlight)
    frozen = set(recipe.constraints.frozen)
    nid = {op_id: f"n{i}" for i, op_id in enumerate(order)}
    lines = ["flowchart TD"]
    for op_id in order:
        op = recipe.ops[op_id]
        label = "<br/>".join(_mermaid_text(p) for p in [op.id, service_action(op), *_marks(op, frozen)])
        open_, close = ("{{", "}}") if op.may_halt else ("[[", "]]") if op.foreach is not None else ("[", "]")
        lines.append(f'  {nid[op_id]}{open_}"{label}"{close}')
    for a, b, kind, fields in _edges(recipe):
        if kind == "after":
            lines.append(f'  {nid[a]} -.->|"after"| {nid[b]}')
        else:
            label = f"{fields} + after" if kind == "both" else fields
            lines.append(f'  {nid[a]} -->|"{_mermaid_text(label)}"| {nid[b]}')
    used: dict[str, list[str]] = {}
    for op_id in order:
        for c in _classes(recipe.ops[op_id], frozen, highlight):
            used.setdefault(c, []).append(nid[op_id])
    for c, style in _MERMAID_CLASSES.items():
        if c in used:
            lines.append(f"  classDef {c} {style}")
    for c in _MERMAID_CLASSES:
        if c in used:
            lines.append(f"  class {','.join(used[c])} {c}")
    return "\n".join(lines) + "\n"


def _dot_escape(s: str) -> str:
    """Text for inside a quoted DOT string: unprintable characters as visible escapes (so no line
    break or escape sequence reaches the file or terminal), then backslashes and quotes escaped."""
    return safe(s).replace("\\", "\\\\").replace('"', '\\"')


def _dot_id(s: str) -> str:
    return '"' + _dot_escape(s) + '"'


def _dot_attrs(attrs: dict[str, str]) -> str:
    """Attributes whose values are already escaped (labels carry DOT's own ``\\n`` line breaks)."""
    return "[" + ", ".join(f'{k}="{v}"' for k, v in attrs.items()) + "]"


def render_dot(recipe: Recipe, *, highlight: Collection[str] = ()) -> str:
    """The DAG in Graphviz DOT (``dot -Tsvg``): data edges solid with field labels, ``after`` dashed.

    >>> from recipemut.recipe.model import recipe_from_dict
    >>> r = recipe_from_dict({"name": "demo", "fields": {}, "inputs": ["a"], "outputs": ["b"], "operations": [
    ...     {"id": "f", "service": "s", "action": "F", "consumes": ["a"], "produces": ["b"]},
    ...     {"id": "g", "service": "s", "action": "G", "after": ["f"]}]})
    >>> print(render_dot(r, highlight=["g"]))  # doctest: +NORMALIZE_WHITESPACE
    digraph "demo" {
      // data edges: solid, labelled with fields; after edges: dashed
      rankdir="TB";
      node [shape="box", style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];
      edge [fontname="Helvetica", fontsize="10"];
      "f" [label="f\\ns · F"];
      "g" [label="g\\ns · G", color="#d6336c", penwidth="3"];
      "f" -> "g" [label="after", style="dashed", color="#6c757d"];
    }
    """
    order = _checked(recipe, highlight)
    frozen = set(recipe.constraints.frozen)
    lines = [
        f"digraph {_dot_id(recipe.name)} {{",
        "  // data edges: solid, labelled with fields; after edges: dashed",
        '  rankdir="TB";',
        '  node [shape="box", style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize="10"];',
    ]
    for op_id in order:
        op = recipe.ops[op_id]
        attrs = {"label": "\\n".join(_dot_escape(p) for p in [op.id, service_action(op), *_marks(op, frozen)])}
        for c in _classes(op, frozen, highlight):
            attrs.update(_DOT_STYLE[c])
        lines.append(f"  {_dot_id(op_id)} {_dot_attrs(attrs)};")
    for a, b, kind, fields in _edges(recipe):
        if kind == "after":
            attrs = {"label": "after", "style": "dashed", "color": "#6c757d"}
        else:
            attrs = {"label": _dot_escape(f"{fields} + after" if kind == "both" else fields)}
        lines.append(f"  {_dot_id(a)} -> {_dot_id(b)} {_dot_attrs(attrs)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
