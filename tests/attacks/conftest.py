"""Fixtures the attack tests share: a checkout recipe with a plan beside it, nothing applied yet."""

from __future__ import annotations

from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT, make_plan


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    """``checkout.yaml`` and ``plan.json`` in a fresh folder (no history, no lock)."""
    r = tmp_path / "checkout.yaml"
    r.write_text(RECIPE_TEXT)
    make_plan(r)
    return r
