"""The command line: wiring only. Each command lives in ``recipemut/commands/<name>.py``.

A command function parses options, calls the core, renders, and returns normally or raises
``typer.Exit(code)``. Every :class:`~recipemut.errors.RecipemutError` that escapes a command is
turned into one line on stderr and its exit code by :func:`main` — never a traceback.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from .errors import RecipemutError

app = typer.Typer(
    name="recipemut",
    help=(
        "Make workflow recipes faster and cheaper before they need more capacity.\n\n"
        "Typical loop: validate -> profile -> suggest --out plan.json -> apply --plan plan.json "
        "(or --canary 0.1, then evaluate) -> rollback if needed; forecast tells when each "
        "service will need to scale."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class OutputFormat(str, Enum):
    """Output for humans (text) or machines (json)."""

    text = "text"
    json = "json"


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"recipemut {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Make workflow recipes faster and cheaper before they need more capacity."""


F = TypeVar("F", bound=Callable[..., Any])


def guard(func: F) -> F:
    """Turn a :class:`RecipemutError` raised by a command into one stderr line and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RecipemutError as e:
            err_console.print(f"[bold red]error:[/] {escape(str(e))}")
            raise typer.Exit(e.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _register() -> None:
    # One line per command module; the order here is the order in --help.
    from .commands import validate as _validate

    app.command("validate")(guard(_validate.validate))
    from .commands import profile as _profile

    app.command("profile")(guard(_profile.profile))
    from .commands import generate as _generate

    app.command("generate")(guard(_generate.generate))
    from .commands import graph as _graph

    app.command("graph")(guard(_graph.graph))
    from .commands import suggest as _suggest

    app.command("suggest")(guard(_suggest.suggest))
    from .commands import apply as _apply
    from .commands import evaluate as _evaluate
    from .commands import history as _history
    from .commands import rollback as _rollback

    app.command("apply")(guard(_apply.apply))
    app.command("evaluate")(guard(_evaluate.evaluate))
    app.command("rollback")(guard(_rollback.rollback))
    app.command("history")(guard(_history.history))
    from .commands import forecast as _forecast

    app.command("forecast")(guard(_forecast.forecast))
    from .commands import stats as _stats

    app.command("stats")(guard(_stats.stats))


_register()


def main() -> None:
    """Console-script entry point: run the app, turning user errors into one line."""
    logging.basicConfig(level=os.environ.get("RECIPEMUT_LOG", "WARNING").upper(), stream=sys.stderr)
    try:
        # without standalone mode click *returns* the code of a typer.Exit instead of exiting
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except RecipemutError as e:
        err_console.print(f"[bold red]error:[/] {escape(str(e))}")
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as e:  # click usage errors and the like (typer >= 0.29 vendors click: no `import click`)
        show, code = getattr(e, "show", None), getattr(e, "exit_code", None)
        if isinstance(code, int):
            if callable(show):
                show()
            sys.exit(code)
        raise
