"""``--store`` is declared once (``commands._common.StoreOpt``) for every command that takes it."""

from __future__ import annotations

import pytest
import typer.main

from recipemut import cli
from recipemut.commands._common import StoreOpt


@pytest.mark.parametrize("name", ["suggest", "report", "evaluate"])
def test_store_option_is_the_shared_one(name: str) -> None:
    command = typer.main.get_command(cli.app).commands[name]  # type: ignore[attr-defined]
    (store,) = [p for p in command.params if p.name == "store"]
    shared = StoreOpt.__metadata__[0]
    assert store.opts == ["--store"] and store.help == shared.help and store.default is None
