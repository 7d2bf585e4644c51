"""Shared test setup: no test writes the learning store into the working directory by accident."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_default_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """Disable the profile store unless a test names one (``RECIPEMUT_STORE=<path>`` or ``--store``)."""
    if "RECIPEMUT_STORE" not in os.environ:
        monkeypatch.setenv("RECIPEMUT_STORE", "off")


@pytest.fixture(autouse=True)
def _scan_small_otlp_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests read small OTLP files through the compiled scanner too (real use reserves it for files
    of ``SCAN_BYTES`` or more); a test that wants the threshold sets it back."""
    from recipemut.logs import otlpfast

    monkeypatch.setattr(otlpfast, "SCAN_BYTES", 0)


@pytest.fixture
def checkout_file(tmp_path: Path) -> Path:
    """The shared commented checkout recipe (``recipes.CHECKOUT_TEXT``) written to ``checkout.yaml``
    in the test's own folder."""
    from recipes import CHECKOUT_TEXT

    path = tmp_path / "checkout.yaml"
    path.write_text(CHECKOUT_TEXT)
    return path
