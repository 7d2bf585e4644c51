"""The recipe's DAG before and after a plan, drawn side by side with the plan's changes marked.

Operations are laid out in layers (``networkx.topological_generations``: an operation sits one
layer below the deepest operation it waits for), each layer in the recipe's topological order, so
the picture is the same on every run. Marks, each in the figure's legend:

* before: operations the plan removes (red) or changes (amber), edges it removes (red, thick),
  and the operations of the most frequent critical path (thick purple border);
* after: operations it adds (green) or changes (amber), edges it adds (green, thick).

Data edges are solid, ``after`` edges (ordering the data does not need) dashed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

import networkx as nx

from recipemut.files.text import safe
from recipemut.recipe.diff import StructuralDiff
from recipemut.recipe.graph import service_action
from recipemut.recipe.model import Recipe
from recipemut.report.figures import new_figure, styled

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ADDED, REMOVED, CHANGED, PLAIN = "#d4edda", "#f8d7da", "#fff3cd", "#f4f6f8"
ADDED_EDGE, REMOVED_EDGE, EDGE, CRITICAL = "#2ca02c", "#d62728", "#8c8c8c", "#6a3d9a"
LABEL_CHARS = 22  # longer ids and actions are cut with an ellipsis


def layers(recipe: Recipe) -> list[list[str]]:
    """The operations by layer, each layer in the recipe's topological order.

    >>> from recipemut.recipe.model import recipe_from_dict
    >>> r = recipe_from_dict({"name": "d", "fields": {}, "inputs": ["a"], "outputs": ["c"], "operations": [
    ...     {"id": "f", "service": "s", "action": "F", "consumes": ["a"], "produces": ["b"]},
    ...     {"id": "h", "service": "s", "action": "H", "consumes": ["a"], "produces": ["d"]},
    ...     {"id": "g", "service": "s", "action": "G", "consumes": ["b"], "produces": ["c"]},
    ... ]})
    >>> layers(r)
    [['f', 'h'], ['g']]
    """
    rank = {op: i for i, op in enumerate(recipe.topo_order)}
    return [sorted(gen, key=rank.__getitem__) for gen in nx.topological_generations(recipe.dag)]


def positions(recipe: Recipe) -> dict[str, tuple[float, float]]:
    """(x, y) of each operation: layers top to bottom, each centred on x = 0."""
    pos = {}
    for depth, layer in enumerate(layers(recipe)):
        for i, op in enumerate(layer):
            pos[op] = (i - (len(layer) - 1) / 2.0, -float(depth))
    return pos


def _cut(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _draw(
    ax: Axes,
    recipe: Recipe,
    *,
    fills: Mapping[str, str],
    edge_colors: Mapping[tuple[str, str], str],
    critical: Collection[str] = (),
    title: str,
) -> None:
    from matplotlib.patches import FancyArrowPatch

    pos = positions(recipe)
    for u, v, data in recipe.dag.edges(data=True):
        color = edge_colors.get((u, v), EDGE)
        ax.add_patch(
            FancyArrowPatch(
                pos[u], pos[v], arrowstyle="-|>", mutation_scale=10, shrinkA=16, shrinkB=16,
                color=color, lw=2.2 if (u, v) in edge_colors else 0.9,
                ls="--" if data.get("kind") == "after" else "-", zorder=1,
            )
        )  # fmt: skip
    for op_id, (x, y) in pos.items():
        op = recipe.ops[op_id]
        on_path = op_id in critical
        ax.text(
            x, y, f"{_cut(safe(op_id))}\n{_cut(safe(service_action(op)))}", ha="center", va="center",
            fontsize=7.5, parse_math=False, zorder=2, gid=None,
            bbox={"boxstyle": "round,pad=0.35", "fc": fills.get(op_id, PLAIN),
                  "ec": CRITICAL if on_path else "#666666", "lw": 2.4 if on_path else 0.7},
        )  # fmt: skip
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_axis_off()
    ax.set_title(title, parse_math=False)


def dag_figure(before: Recipe, after: Recipe, diff: StructuralDiff, *, critical_path: Collection[str] = ()) -> Figure:
    """The two DAGs side by side (before left, after right), the plan's changes marked (module doc)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    changed = {op for op, _ in diff.ops_changed}
    wide = max((len(layer) for r in (before, after) for layer in layers(r)), default=1)
    deep = max(len(layers(before)), len(layers(after)), 1)
    fig = new_figure(min(24.0, max(7.0, 2 * 1.7 * wide + 1.0)), min(30.0, max(3.2, 0.95 * deep + 1.4)))
    with styled():
        left, right = fig.subplots(1, 2)
        _draw(
            left, before,
            fills={**dict.fromkeys(changed, CHANGED), **dict.fromkeys(diff.ops_removed, REMOVED)},
            edge_colors={(u, v): REMOVED_EDGE for u, v, _ in diff.edges_removed},
            critical=critical_path,
            title=f"before: {safe(before.name)} v{before.version}",
        )  # fmt: skip
        _draw(
            right, after,
            fills={**dict.fromkeys(changed, CHANGED), **dict.fromkeys(diff.ops_added, ADDED)},
            edge_colors={(u, v): ADDED_EDGE for u, v, _ in diff.edges_added},
            title="after the plan" if not diff.empty else "after the plan (no change)",
        )  # fmt: skip
        handles = [
            Patch(fc=CHANGED, ec="#666666", label="operation changed"),
            Patch(fc=ADDED, ec="#666666", label="operation added"),
            Patch(fc=REMOVED, ec="#666666", label="operation removed"),
            Patch(fc=PLAIN, ec=CRITICAL, lw=2.4, label="on the critical path"),
            Line2D([], [], color=EDGE, lw=0.9, label="data edge"),
            Line2D([], [], color=EDGE, lw=0.9, ls="--", label="after edge"),
            Line2D([], [], color=ADDED_EDGE, lw=2.2, label="edge added"),
            Line2D([], [], color=REMOVED_EDGE, lw=2.2, label="edge removed"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=4)
    return fig
