"""Mermaid and DOT pictures of the DAG, and `recipemut graph`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import RecipemutError
from recipemut.recipe.graph import render_dot, render_mermaid
from recipemut.recipe.loader import load_recipe
from recipemut.recipe.model import Recipe, recipe_from_dict
from recipes import CHECKOUT_EXAMPLE

CHECKOUT = CHECKOUT_EXAMPLE / "recipe.yaml"


def _tiny(**over: Any) -> Recipe:
    doc: dict[str, Any] = {
        "apiVersion": "recipemut/v1",
        "kind": "Recipe",
        "name": "tiny",
        "fields": {},
        "inputs": ["id"],
        "outputs": ["paid"],
        "operations": [
            {"id": "load", "service": "db", "action": "Get", "consumes": ["id"], "produces": ["cart"]},
            {
                "id": "check",
                "service": "risk",
                "action": "Score",
                "consumes": ["id"],
                "produces": ["ok"],
                "may_halt": True,
                "after": ["load"],
            },
            {
                "id": "price",
                "service": "db",
                "action": "Price",
                "consumes": ["cart"],
                "produces": ["total"],
                "after": ["load"],
                "deterministic": True,
                "cache": {"ttl_s": 600, "max_entries": 100},
            },
            {
                "id": "charge",
                "service": "pay",
                "action": "Charge",
                "consumes": ["total", "ok"],
                "produces": ["paid"],
                "side_effects": "external",
            },
        ],
        "constraints": {"frozen": ["charge"]},
    }
    doc.update(over)
    return recipe_from_dict(doc, source="tiny.yaml")


MERMAID = """\
flowchart TD
  n0["load<br/>db · Get"]
  n1{{"check<br/>risk · Score<br/>guard: may halt"}}
  n2["price<br/>db · Price<br/>cached 600s"]
  n3["charge<br/>pay · Charge<br/>frozen<br/>external side effects"]
  n0 -.->|"after"| n1
  n0 -->|"cart + after"| n2
  n1 -->|"ok"| n3
  n2 -->|"total"| n3
  classDef guard fill:#fff3cd,stroke:#b58100
  classDef external fill:#f8d7da,stroke:#a52834
  classDef frozen fill:#e9ecef,stroke:#495057,stroke-dasharray:4 2
  classDef changed stroke:#d6336c,stroke-width:4px
  class n1 guard
  class n3 external
  class n3 frozen
  class n1,n2 changed
"""

DOT = """\
digraph "tiny" {
  // data edges: solid, labelled with fields; after edges: dashed
  rankdir="TB";
  node [shape="box", style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];
  edge [fontname="Helvetica", fontsize="10"];
  "load" [label="load\\ndb · Get"];
  "check" [label="check\\nrisk · Score\\nguard: may halt", shape="hexagon", fillcolor="#fff3cd", color="#b58100"];
  "price" [label="price\\ndb · Price\\ncached 600s"];
  "charge" [label="charge\\npay · Charge\\nfrozen\\nexternal side effects", fillcolor="#e9ecef", color="#495057", \
peripheries="2"];
  "load" -> "check" [label="after", style="dashed", color="#6c757d"];
  "load" -> "price" [label="cart + after"];
  "check" -> "charge" [label="ok"];
  "price" -> "charge" [label="total"];
}
"""


def test_mermaid_literal() -> None:
    assert render_mermaid(_tiny(), highlight=["price", "check"]) == MERMAID


def test_dot_literal() -> None:
    assert render_dot(_tiny()) == DOT


def test_dot_highlight_thickens_the_border() -> None:
    line = next(ln for ln in render_dot(_tiny(), highlight=["load"]).splitlines() if ln.startswith('  "load" ['))
    assert line == '  "load" [label="load\\ndb · Get", color="#d6336c", penwidth="3"];'


# ---- structure checks (no Graphviz or Mermaid parser available: check the grammar we use) ----------

_DOT_STRING = r'"(?:[^"\\]|\\.)*"'
_DOT_ATTRS = rf"\[(?:\w+={_DOT_STRING})(?:, \w+={_DOT_STRING})*\]"
_DOT_NODE = re.compile(rf"^  ({_DOT_STRING}) {_DOT_ATTRS};$")
_DOT_EDGE = re.compile(rf"^  ({_DOT_STRING}) -> ({_DOT_STRING}) ({_DOT_ATTRS});$")


def _check_dot(text: str, recipe: Recipe) -> None:
    lines = text.splitlines()
    assert lines[0].startswith("digraph ") and lines[0].endswith("{") and lines[-1] == "}"
    nodes, edges = set(), []
    for ln in lines[1:-1]:
        if ln.startswith("  //") or ln.startswith("  rankdir") or ln.startswith(("  node [", "  edge [")):
            continue
        if m := _DOT_EDGE.match(ln):
            edges.append((m.group(1), m.group(2), m.group(3)))
        elif m := _DOT_NODE.match(ln):
            nodes.add(m.group(1))
        else:
            raise AssertionError(f"not a DOT statement of ours: {ln!r}")
    assert len(nodes) == len(recipe.operations)
    assert {a for a, _, _ in edges} | {b for _, b, _ in edges} <= nodes
    assert len(edges) == recipe.dag.number_of_edges()
    dashed = sum('style="dashed"' in attrs for _, _, attrs in edges)
    assert dashed == sum(d["kind"] == "after" for _, _, d in recipe.dag.edges(data=True))


def _check_mermaid(text: str, recipe: Recipe) -> None:
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    declared: set[str] = set()
    edges = 0
    for ln in lines[1:]:
        if m := re.fullmatch(r'  (n\d+)(\[|\{\{)"([^"]*)"(\]|\}\})', ln):
            assert (m.group(2), m.group(4)) in (("[", "]"), ("{{", "}}"))
            declared.add(m.group(1))
        elif m := re.fullmatch(r'  (n\d+) (-->|-\.->)\|"([^"]*)"\| (n\d+)', ln):
            assert {m.group(1), m.group(4)} <= declared
            edges += 1
        elif m := re.fullmatch(r"  classDef (\w+) [\w#:,. -]+", ln):
            continue
        elif m := re.fullmatch(r"  class (n\d+(?:,n\d+)*) (\w+)", ln):
            assert set(m.group(1).split(",")) <= declared
        else:
            raise AssertionError(f"not a Mermaid statement of ours: {ln!r}")
    assert len(declared) == len(recipe.operations)
    assert edges == recipe.dag.number_of_edges()


def test_checkout_renders_in_both_languages() -> None:
    r = load_recipe(CHECKOUT)
    _check_dot(render_dot(r, highlight=["score_fraud"]), r)
    _check_mermaid(render_mermaid(r, highlight=["score_fraud"]), r)
    assert render_mermaid(r).count("-.->") == 4  # the four `after` edges the data does not need


def test_awkward_names_are_escaped() -> None:
    r = _tiny(
        operations=[
            {"id": "end", "service": 'we"ird\\svc', "action": "Get<T>&", "consumes": ["id"], "produces": ["paid"]}
        ],
        constraints={},
    )
    mm = render_mermaid(r)
    assert 'n0["end<br/>we#quot;ird\\svc · Get#lt;T#gt;#amp;"]' in mm
    _check_mermaid(mm, r)
    dot = render_dot(r)
    assert '"end" [label="end\\nwe\\"ird\\\\svc · Get<T>&"];' in dot
    _check_dot(dot, r)


def test_unknown_highlight_and_cycles_are_user_errors() -> None:
    with pytest.raises(RecipemutError, match="no such operation"):
        render_mermaid(_tiny(), highlight=["nope"])
    cyclic = _tiny(
        operations=[
            {"id": "a", "service": "s", "action": "A", "produces": ["x"], "after": ["b"]},
            {"id": "b", "service": "s", "action": "B", "consumes": ["x"], "produces": ["paid"]},
        ],
        constraints={},
    )
    with pytest.raises(RecipemutError, match="cycle"):
        render_dot(cyclic)


# ---- CLI ----------------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_prints_mermaid_by_default() -> None:
    result = runner.invoke(app, ["graph", str(CHECKOUT)])
    assert result.exit_code == 0, result.output
    assert result.stdout == render_mermaid(load_recipe(CHECKOUT))


def test_cli_writes_dot_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "g.dot"
    result = runner.invoke(
        app, ["graph", str(CHECKOUT), "--format", "dot", "--out", str(out), "--highlight", "lookup_tax"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert out.read_text() == render_dot(load_recipe(CHECKOUT), highlight=["lookup_tax"])


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["graph", "missing.yaml"], 1, "missing.yaml"),
        (["graph", str(CHECKOUT), "--highlight", "nope"], 1, "no such operation"),
        (["graph", str(CHECKOUT), "--format", "png"], 2, "png"),
        (["graph", str(CHECKOUT), "--out", "/nonexistent-dir/x.dot"], 1, "folder does not exist"),
    ],
)
def test_cli_errors(args: list[str], code: int, needle: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert needle in result.output
    assert "Traceback" not in result.output


def test_installed_command_in_a_subprocess(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "g.mmd"
    done = subprocess.run(
        [sys.executable, "-m", "recipemut", "graph", str(CHECKOUT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("flowchart TD\n")
    bad = subprocess.run(
        [sys.executable, "-m", "recipemut", "graph", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert "nope.yaml" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_cli_draws_fan_out_and_branches(tmp_path: Path) -> None:
    from test_recipe_fanout import DISPATCH

    path = tmp_path / "dispatch.yaml"
    path.write_text(DISPATCH)
    result = runner.invoke(app, ["graph", str(path), "--format", "dot"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[6] == (
        '  "get_driver" [label="get_driver\\nredis · GetDriver\\n× each driver_ids, 4 at a time\\nup to 3 attempts", '
        'shape="box3d", fillcolor="#e7f1ff", color="#0b5ed7"];'
    )
    assert lines[8] == (
        '  "notify_sms" [label="notify_sms\\nsms · Send\\nwhen: customer opted in", style="rounded,filled,dashed", '
        'fillcolor="#f3f0ff", color="#6f42c1"];'
    )


def test_out_names_the_language_and_never_an_image(tmp_path: Path) -> None:
    """graph -o g.png wrote Mermaid text into g.png, and -f dot -o g.mmd DOT into a Mermaid file."""
    runner = CliRunner()
    png = tmp_path / "g.png"
    res = runner.invoke(app, ["graph", str(CHECKOUT), "-o", str(png)], env={"COLUMNS": "300"})
    assert res.exit_code == 2 and "graph writes Mermaid or DOT text, not a picture" in res.output, res.output
    assert "'--out' / '-o'" in res.output  # named as every other option's bad value is
    assert not png.exists()
    args = ["graph", str(CHECKOUT), "-f", "dot", "-o", str(tmp_path / "g.mmd")]
    res = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert res.exit_code == 2 and "the name says mermaid, --format says dot" in res.output, res.output
    for name, first in (("g.dot", "digraph"), ("g.gv", "digraph"), ("g.mmd", "flowchart"), ("g.txt", "flowchart"),
                        ("tmp.Xy12ab", "flowchart")):  # a mktemp name: --format's language, Mermaid by default
        assert runner.invoke(app, ["graph", str(CHECKOUT), "-o", str(tmp_path / name)]).exit_code == 0
        assert (tmp_path / name).read_text().startswith(first), name


def test_service_and_action_are_apart_by_a_mark_no_name_holds() -> None:
    """jaeger-ui's happyTrace-style names: `my.service.I'm a server span` (a dot) read as one name, or as service
    `my` and action `service.I'm a server span`; Mermaid, DOT and the report's DAG all write `my.service · ...`."""
    from recipemut.recipe.diff import structural_diff
    from recipemut.report.dag import dag_figure

    r = recipe_from_dict({"name": "traced", "fields": {}, "inputs": [], "outputs": [], "operations": [
        {"id": "op1", "service": "my.service", "action": "I'm a server span"}]})  # fmt: skip
    assert '  n0["op1<br/>my.service · I\'m a server span"]' in render_mermaid(r).splitlines()
    assert '  "op1" [label="op1\\nmy.service · I\'m a server span"];' in render_dot(r).splitlines()
    fig = dag_figure(r, r, structural_diff(r, r))
    drawn = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert drawn and all(t.startswith("op1\nmy.service · I'm a se") for t in drawn), drawn  # cut to its box
