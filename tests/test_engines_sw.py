"""Serverless Workflow 0.8 and 1.0 read as recipes (recipemut.recipe.engines.serverlessworkflow)."""

from __future__ import annotations

import pytest

from recipemut.recipe.engines import serverlessworkflow as sw


def test_detect_both_spec_families() -> None:
    v08 = {"id": "greeting", "specVersion": "0.8", "start": "Greet", "states": [{"name": "Greet"}]}
    v10 = {"document": {"dsl": "1.0.0", "namespace": "d", "name": "n", "version": "0.1.0"}, "do": [{"a": {}}]}
    assert sw.detect(v08) and sw.spec_version(v08) == "0.8"
    assert sw.detect(v10) and sw.spec_version(v10) == "1.0"


@pytest.mark.parametrize(
    "doc",
    [
        {"id": "x", "states": [{"name": "A"}]},  # no specVersion
        {"specVersion": "0.8", "states": {"A": {}}},  # states not a list
        {"document": {"name": "x"}, "do": []},  # no dsl
        {"document": {"dsl": "1.0.0"}},  # no do
        {"StartAt": "A", "States": {"A": {}}},
    ],
)
def test_detect_refuses_other_documents(doc: object) -> None:
    assert not sw.detect(doc)
