"""Step Functions state machines read as recipes (recipemut.recipe.engines.stepfunctions)."""

from __future__ import annotations

import pytest

from recipemut.recipe.engines import stepfunctions as sfn


def test_detect_a_state_machine() -> None:
    assert sfn.detect({"Comment": "c", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}})


@pytest.mark.parametrize(
    "doc",
    [
        {"StartAt": "A"},
        {"States": {"A": {"Type": "Succeed"}}},
        {"StartAt": "A", "States": {}},
        {"StartAt": ["A"], "States": {"A": {}}},
        "StartAt",
    ],
)
def test_detect_refuses_other_documents(doc: object) -> None:
    assert not sfn.detect(doc)


def test_key_and_name() -> None:
    assert sfn.KEY == "stepfunctions"
    assert "Step Functions" in sfn.NAME
