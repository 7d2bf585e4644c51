"""`recipemut graph`: draw a recipe's DAG as Mermaid or Graphviz DOT."""

from __future__ import annotations

import difflib
from enum import Enum
from pathlib import Path

import typer

from recipemut.errors import RecipemutError
from recipemut.files.kinds import GRAPH
from recipemut.files.write import atomic_write, check_output_path


class GraphFormat(str, Enum):
    """Diagram languages."""

    mermaid = "mermaid"
    dot = "dot"


#: the names graph writes each language to (``.txt`` takes either)
_SUFFIXES = {GraphFormat.mermaid: (".mmd", ".mermaid"), GraphFormat.dot: (".dot", ".gv")}
#: names that promise a picture or a page, which graph never writes (any other name takes the text: a mktemp name)
_PICTURES = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".gif", ".webp", ".html", ".htm")


def _language(out: Path | None, asked: GraphFormat | None) -> GraphFormat:
    """The language to write: ``--format``, else the one ``out``'s name says, else Mermaid; a name that says the
    other language than ``--format`` is a usage error (``-f dot -o g.mmd`` wrote DOT into a Mermaid file)."""
    said = next((f for f, ends in _SUFFIXES.items() if out is not None and out.name.lower().endswith(ends)), None)
    if asked is not None and said is not None and said is not asked:
        said_words = f"{out}: the name says {said.value}, --format says {asked.value}"
        raise typer.BadParameter(said_words, param_hint="'--out' / '-o'")
    return asked or said or GraphFormat.mermaid


def graph(
    recipe_path: Path = typer.Argument(
        ..., metavar="RECIPE",
        help="The recipe to draw (its YAML, or an engine's file: Argo, Tekton, Step Functions, ...).",
    ),
    output_format: GraphFormat | None = typer.Option(
        None, "--format", "-f", help="mermaid or dot (default: as --out's name says, else mermaid).", show_default=False
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Write the diagram to this file instead of stdout: .mmd is Mermaid, .dot or .gv DOT, any other name "
        "--format's (never a picture's name, the recipe, its history or lock, a link, a FIFO or a folder).",
    ),
    highlight: list[str] = typer.Option([], "--highlight", help="Operation id to draw with a thick border (repeat)."),
) -> None:
    """Draw a recipe's DAG as Mermaid or Graphviz DOT.

    Data edges are solid and labelled with the fields they carry.
    `after` edges (ordering the data does not need) are dashed.
    Guards, frozen operations and external side effects are marked.

    Example:

        recipemut graph recipes/checkout/recipe.yaml --format dot | dot -Tsvg > checkout.svg
    """
    if out is not None:  # the recipe, its history or lock named first (exit 1), then a name graph does not write
        check_output_path(out, recipes=[recipe_path], example="graph.mmd", kind=GRAPH)
        if out.name.lower().endswith(_PICTURES):  # g.png got Mermaid text
            raise typer.BadParameter(f"{out}: graph writes Mermaid or DOT text, not a picture (for one: --format dot "
                                     "| dot -Tsvg > graph.svg); name it .mmd or .dot", param_hint="'--out' / '-o'")
    language = _language(out, output_format)  # a contradiction said before any work
    from recipemut.recipe.graph import render_dot, render_mermaid
    from recipemut.recipe.loader import load_recipe  # networkx: not for -h

    recipe = load_recipe(recipe_path)
    for name in (h for h in highlight if h not in recipe.ops and difflib.get_close_matches(h, recipe.ops, n=1)):
        likely = difflib.get_close_matches(name, recipe.ops, n=1)[0]
        raise RecipemutError(
            f"cannot highlight {name!r}: no such operation; did you mean {likely!r}?",
            file=recipe.source,
            code="unknown-operation",
        )
    render = render_dot if language is GraphFormat.dot else render_mermaid
    text = render(recipe, highlight=tuple(highlight))
    if out is None:
        typer.echo(text, nl=False)
        return
    atomic_write(out, text.encode("utf-8"))
