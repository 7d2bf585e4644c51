"""The console script's entry point, kept free of heavy imports.

Importing the CLI's libraries (typer, rich, pandas, pyarrow) takes a good part of a second: a
Ctrl-C in that time would otherwise end in a traceback, before :func:`recipemut.cli.main` can
turn it into its one line.

Once the command has finished, the process leaves at once (:func:`leave`): the interpreter's own
teardown of pandas, pyarrow and scipy takes another 0.3 s, with Python's Ctrl-C handler already
removed, so a Ctrl-C then killed the process silently (exit 130, no line) after the command had
written its files. Every file recipemut writes is closed, fsynced and renamed into place before
the command returns, so nothing is lost by skipping that teardown.
"""

from __future__ import annotations

import contextlib
import os
import sys


def interrupted_line() -> str:
    """``interrupted; ...``: what this run had written in full, or that nothing was."""
    write = sys.modules.get("recipemut.files.write")  # not imported yet: nothing can have been written
    return write.interrupted_line() if write is not None else "interrupted; nothing was written"


def exit_status(code: object) -> int:
    """The process's exit status for a ``SystemExit`` code, as the interpreter gives it.

    >>> exit_status(None), exit_status(3), exit_status("boom")
    (0, 3, 1)
    """
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def leave(code: object) -> None:
    """Flush standard output and error, then end the process with ``code`` without the interpreter's teardown."""
    status = exit_status(code)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader gone (EPIPE) or a stream already closed
            stream.flush()
    os._exit(status)


def main() -> None:
    """Run :func:`recipemut.cli.main`; a Ctrl-C at any moment exits 130 with one line saying what was written."""
    try:
        try:
            from recipemut.cli import main as run_cli

            run_cli()
            code: object = 0
        except SystemExit as e:
            code = e.code
        leave(code)
    except KeyboardInterrupt:
        sys.stderr.write(interrupted_line() + "\n")
        sys.exit(130)
