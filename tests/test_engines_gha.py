"""GitHub Actions workflows read as recipes (recipemut.recipe.engines.githubactions)."""

from __future__ import annotations

import pytest

from recipemut.recipe.engines import githubactions as gha


def test_detect_takes_on_as_text_or_as_yaml_1_1_true() -> None:
    jobs = {"build": {"runs-on": "ubuntu-latest", "steps": [{"run": "make"}]}}
    assert gha.detect({"on": ["push"], "jobs": jobs})
    assert gha.detect({True: ["push"], "jobs": jobs})


@pytest.mark.parametrize(
    "doc",
    [
        {"jobs": {"build": {"runs-on": "x"}}},  # no trigger
        {"on": "push", "jobs": {}},  # no job
        {"on": "push", "jobs": {"build": {"script": ["make"]}}},  # not a runner job (GitLab-like)
        {"version": 2.1, "jobs": {"build": {"docker": []}}, "workflows": {}},  # CircleCI
        ["on", "jobs"],
    ],
)
def test_detect_refuses_other_documents(doc: object) -> None:
    assert not gha.detect(doc)


def test_key_and_name() -> None:
    assert (gha.KEY, gha.NAME) == ("github-actions", "GitHub Actions workflow")
