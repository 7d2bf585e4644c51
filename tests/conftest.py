"""Shared test setup: no test writes the learning store into the working directory by accident."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_default_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """Disable the profile store unless a test names one (``RECIPEMUT_STORE=<path>`` or ``--store``)."""
    if "RECIPEMUT_STORE" not in os.environ:
        monkeypatch.setenv("RECIPEMUT_STORE", "off")
