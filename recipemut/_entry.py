"""The console script's entry point, kept free of heavy imports.

Importing the CLI's libraries (typer, rich, pandas, pyarrow) takes a good part of a second: a
Ctrl-C in that time would otherwise end in a traceback, before :func:`recipemut.cli.main` can
turn it into its one line.

Once the command has finished, the process leaves at once (:func:`leave`): the interpreter's own
teardown of pandas, pyarrow and scipy takes another 0.3 s, with Python's Ctrl-C handler already
removed, so a Ctrl-C then killed the process silently (exit 130, no line) after the command had
written its files. Every file recipemut writes is closed, fsynced and renamed into place before
the command returns, so nothing is lost by skipping that teardown.

A SIGTERM (what ``timeout``, a CI runner's cancel and systemd send) takes the way out a Ctrl-C
does: the temporary files a command holds (a ``--logs -`` copy, ``convert``'s spool of days) are
removed by the context managers that made them, one line says what was written, and the exit
status is 143 (128 + SIGTERM). Without it, the default action killed the process on the spot and
left them behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType

_signalled = 0  # the signal (SIGTERM) that ended the run as an interrupt, if one did


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


def _terminate(signum: int, frame: FrameType | None) -> None:
    """A SIGTERM handler: out the way a Ctrl-C goes, so that cleanup runs (module doc)."""
    global _signalled
    _signalled = signum
    raise KeyboardInterrupt


def interrupt_status(code: object) -> object:
    """``code``, or 128 + the signal when a SIGTERM ended the run (the CLI exits 130 on any interrupt).

    >>> interrupt_status(130), interrupt_status(0)
    (130, 0)
    """
    return 128 + _signalled if _signalled and code == 130 else code


def main() -> None:
    """Run :func:`recipemut.cli.main`; a Ctrl-C or SIGTERM at any moment exits 130 (143) with one line
    saying what was written."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        try:
            from recipemut.cli import main as run_cli

            run_cli()
            code: object = 0
        except SystemExit as e:
            code = e.code
        leave(interrupt_status(code))
    except KeyboardInterrupt:
        sys.stderr.write(interrupted_line() + "\n")
        sys.exit(128 + _signalled if _signalled else 130)
