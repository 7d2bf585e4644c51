"""Broken engine files never crash an import: the public examples of Step Functions, GitHub Actions
and Serverless Workflow with random values swapped for wrong types, each imported and checked.

Every value of an engine file is user input; a wrong type anywhere (a list where a mapping is
expected, a number for a state name, ``null`` for ``Branches``) must give findings, not a traceback.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recipemut.errors import RecipemutError
from recipemut.recipe.engines import githubactions, serverlessworkflow, stepfunctions
from recipemut.recipe.loader import check_document
from recipemut.recipe.yamlpos import parse_yaml

ROOT = Path(__file__).parents[1]
REAL = ROOT / "tests" / "realdata" / "engines"
CASES = [
    *((stepfunctions, p) for p in sorted((REAL / "stepfunctions").glob("*.json"))),
    *((githubactions, p) for p in sorted((REAL / "github-actions").glob("*.y*ml"))),
    *((serverlessworkflow, p) for p in sorted((REAL / "serverlessworkflow").glob("*.*"))),
]
WRONG: list[Any] = [None, 1, -1, 0, 1.5, True, "x", "${{ x }}", "${ .a }", "$.a", [], [1], [None], [{}], {}, {"a": 1}]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*path, i))


@pytest.mark.parametrize(("module", "path"), CASES, ids=lambda c: c.name if isinstance(c, Path) else c.KEY)
def test_wrong_types_anywhere_never_crash_the_import(module: Any, path: Path) -> None:
    data, positions, _ = parse_yaml(path.read_text(), file=path.name, what="workflow")
    places = [p for p in _paths(data) if p]
    rng = random.Random(path.name)
    for _ in range(60):
        doc = copy.deepcopy(data)
        for place in rng.sample(places, k=min(3, len(places))):
            node = doc
            try:
                for k in place[:-1]:
                    node = node[k]
                node[place[-1]] = copy.deepcopy(rng.choice(WRONG))
            except (KeyError, IndexError, TypeError):
                continue  # an earlier swap removed this place
        if not module.detect(doc):
            continue
        try:
            imported = module.to_recipe(doc, positions, file=path.name)
            check_document(imported.document, imported.positions, file=path.name)
        except RecipemutError:
            pass
