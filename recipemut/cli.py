"""The command line: wiring only. Each command lives in ``recipemut/commands/<name>.py``.

A command function parses options, calls the core, renders, and returns normally or raises
``typer.Exit(code)``. Every :class:`~recipemut.errors.RecipemutError` that escapes a command is
turned into one line on stderr and its exit code by :func:`guard` — never a traceback.

Command modules are imported only when needed: ``recipemut profile ...`` imports the profile
command alone, so start-up does not pay for scipy and statsmodels it will not use. ``app`` (used
by tests and ``--help``) has every command.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from recipemut.commands._common import OutputFormat as OutputFormat  # re-exported for commands and tests
from recipemut.commands._common import err_console, spread_multi_options
from recipemut.errors import RecipemutError
from recipemut.files.text import safe, shown

HELP = (
    "Make workflow recipes faster and cheaper before they need more capacity.\n\n"
    "Typical loop: validate -> profile -> suggest --out plan.json -> apply --plan plan.json "
    "(or apply --canary 0.1, then evaluate) -> rollback if needed; forecast tells when each "
    "service will need to scale.\n\n"
    "Exit codes: 0 success, 1 bad input (the message names file and line), 2 bad command line; "
    "suggest --detailed-exitcode and evaluate document their own."
)

#: command name -> module in recipemut.commands (function of the same name); order = --help order
COMMANDS: dict[str, str] = {
    "validate": "validate",
    "graph": "graph",
    "profile": "profile",
    "suggest": "suggest",
    "apply": "apply",
    "evaluate": "evaluate",
    "rollback": "rollback",
    "history": "history",
    "forecast": "forecast",
    "stats": "stats",
    "generate": "generate",
}

F = TypeVar("F", bound=Callable[..., Any])

#: exit status when the reader of standard output went away (``recipemut ... | head -1``):
#: 128 + SIGPIPE, what git reports and what a shell shows for a process killed by SIGPIPE
EXIT_STDOUT_CLOSED = 141


class StdoutClosed(Exception):
    """The reader of standard output went away (EPIPE).

    Not an ``OSError`` on purpose: click turns an EPIPE ``OSError`` into a silent exit 1, which
    reads as "bad input"; this passes through click to :func:`main`, which exits 141 quietly.
    """


def guard(func: F) -> F:
    """Turn a :class:`RecipemutError` raised by a command into one stderr line and its exit code.

    A ``BrokenPipeError`` (stdout's reader gone) becomes :class:`StdoutClosed`.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RecipemutError as e:
            err_console.print(f"[bold red]error:[/] {shown(e)}")
            raise typer.Exit(e.exit_code) from None
        except BrokenPipeError:
            raise StdoutClosed() from None

    return wrapper  # type: ignore[return-value]


def _raise_stdout_closed(self: Console) -> NoReturn:
    """Replaces rich's ``Console.on_broken_pipe``, which would exit 1 itself."""
    self.quiet = True
    raise StdoutClosed()


@contextlib.contextmanager
def _stdout_closed_raises() -> Iterator[None]:
    """While the CLI runs, a rich console that meets EPIPE raises :class:`StdoutClosed`.

    ``on_broken_pipe`` is rich's documented hook; the commands build their own consoles, so the
    class attribute is swapped for the run and put back after (``main`` also runs inside tests).
    """
    saved = Console.on_broken_pipe
    Console.on_broken_pipe = _raise_stdout_closed  # type: ignore[method-assign]
    try:
        yield
    finally:
        Console.on_broken_pipe = saved  # type: ignore[method-assign]


def _exit_stdout_closed() -> NoReturn:
    """Stop quietly with :data:`EXIT_STDOUT_CLOSED` once stdout's reader has gone.

    Per the Python docs' note on SIGPIPE, standard output is pointed at /dev/null first, so the
    flush at interpreter exit finds somewhere to write and prints no "Exception ignored" noise.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
    sys.exit(EXIT_STDOUT_CLOSED)


def _version(value: bool) -> None:
    if value:
        from recipemut import __version__

        typer.echo(f"recipemut {__version__}")
        raise typer.Exit(0)


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Make workflow recipes faster and cheaper before they need more capacity."""


def make_app(names: Iterable[str] | None = None) -> typer.Typer:
    """A typer app with the given commands (all of them by default)."""
    application = typer.Typer(
        name="recipemut",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="markdown",
    )
    application.callback()(_root)
    for name in COMMANDS if names is None else names:
        module = importlib.import_module(f"{__package__}.commands.{COMMANDS[name]}")
        application.command(name)(guard(getattr(module, name)))
    return application


@functools.cache
def _full_app() -> typer.Typer:
    return make_app()


app: typer.Typer  # the full app, built on first use (PEP 562 module __getattr__)


def __getattr__(name: str) -> Any:
    if name == "app":
        return _full_app()
    raise AttributeError(name)


def _lowercase_level(record: logging.LogRecord) -> bool:
    """Core warnings read like the CLI's own (``warning: file:line: ...``), not ``WARNING:module:``.

    The message is formatted here and made safe (:func:`~recipemut.files.text.safe`): names from
    recipes, traces and file names it carries cannot drive the terminal or split the line.
    """
    record.levelname_lower = record.levelname.lower()
    record.msg, record.args = safe(record.getMessage()), None
    return True


def _command_in(argv: list[str]) -> str | None:
    for word in argv:
        if word in COMMANDS:
            return word
        if not word.startswith("-"):
            return None
    return None


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app, turning user errors into one line.

    If the reader of standard output goes away (``| head -1``), stop quietly with exit 141.
    """
    logging.basicConfig(
        level=os.environ.get("RECIPEMUT_LOG", "WARNING").upper(),
        stream=sys.stderr,
        format="%(levelname_lower)s: %(message)s",
    )
    logging.getLogger().handlers[0].addFilter(_lowercase_level)
    args = spread_multi_options(sys.argv[1:] if argv is None else argv)
    try:
        with _stdout_closed_raises():
            try:
                _run(args)
            finally:
                sys.stdout.flush()  # a late EPIPE surfaces here, not as noise at interpreter exit
    except (BrokenPipeError, StdoutClosed):
        _exit_stdout_closed()


def _run(args: list[str]) -> None:
    """Run the app on ``args``; exit with the command's code (``sys.exit``)."""
    if args == ["--version"]:  # answer without building the app
        from recipemut import __version__

        print(f"recipemut {__version__}")
        return
    command = _command_in(args)
    application = make_app([command]) if command else _full_app()
    try:
        # without standalone mode click *returns* the code of a typer.Exit instead of exiting
        code = application(args=args, prog_name="recipemut", standalone_mode=False)
        if code == 130:  # typer turns a KeyboardInterrupt inside a command into a silent Exit(130)
            raise KeyboardInterrupt
        if isinstance(code, int) and code:
            sys.exit(code)
    except RecipemutError as e:
        err_console.print(f"[bold red]error:[/] {shown(e)}")
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
            # like `terraform plan -detailed-exitcode`: there 2 means "changes found", so a usage
            # error must not look like it
            sys.exit(1 if code == 2 and "--detailed-exitcode" in args else code)
        raise
