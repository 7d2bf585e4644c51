"""What a run says when it is interrupted, and blocks that hold SIGINT and SIGTERM off.

:func:`note_written` records each file a run replaced in full; :func:`interrupted_line` is the one
line a run stopped by Ctrl-C (or SIGTERM) ends with. :func:`signals_held` holds the two signals off
for a block that must be finished once begun (renames that must all be done, a cleanup); the
signals noted meanwhile are handed, in the order they came, to the handlers in place once it ends.
:mod:`recipemut.files.write` re-exports all four.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Callable, Iterator
from types import FrameType

from recipemut.errors import RecipemutError
from recipemut.files.text import safe

log = logging.getLogger(__name__)

#: the files this process replaced in full, in order (:func:`note_written`); a Ctrl-C names them
_written: list[str] = []


def note_written(path: str | os.PathLike[str]) -> None:
    """Record that ``path`` now holds its new content in full (atomic_write and the log writer call it)."""
    _written.append(os.fspath(path))


def forget_written() -> None:
    """Start a new record (a run of the CLI; tests run many in one process)."""
    _written.clear()


def interrupted_line() -> str:
    """The one line a run stopped by Ctrl-C ends with: the files it had written in full, or that there were none.

    Every write is atomic, so a file named here is complete and any other is as it was.

    >>> forget_written(); interrupted_line()
    'interrupted; nothing was written'
    >>> note_written("plan.json"); interrupted_line(); forget_written()
    'interrupted; plan.json was written in full before it'
    """
    done = [safe(p) for p in dict.fromkeys(_written)]
    if not done:
        return "interrupted; nothing was written"
    listed = done[0] if len(done) == 1 else ", ".join(done[:-1]) + " and " + done[-1]
    return f"interrupted; {listed} {'was' if len(done) == 1 else 'were'} written in full before it"


Handler = Callable[[int, FrameType | None], object] | int | None


def _deliver(sig: int, old: Handler) -> None:
    """Hand ``sig`` to ``old``, the handler it would have met: called; the default action taken; ignored."""
    if callable(old):
        old(sig, None)  # Python's Ctrl-C handler (and the CLI's SIGTERM one) raise KeyboardInterrupt
    elif old == signal.SIG_DFL:
        os.kill(os.getpid(), sig)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold off SIGINT and SIGTERM for the ``with`` block (renames that must all be done, a cleanup):
    a signal that comes meanwhile is noted and, once the block is over, handed to the handler in place
    before (a Ctrl-C raises ``KeyboardInterrupt`` then). Every signal noted is handed on, in the order
    they came (one of each kind), even when a handler raises; the first exception a handler raises goes
    on. When the block itself failed with a user error (:class:`~recipemut.errors.RecipemutError`: a
    write that could not be undone) and a handler then raises, that error's one line is logged first
    (the CLI prints it as ``error: ...``), so the interrupt does not hide it. Blocks nest; nothing is
    held outside the main thread. A signal whose action is the default (no handler: a SIGTERM outside
    the CLI) ends the process when the block is over: a cleanup that must run first goes inside it.

    >>> try:
    ...     with signals_held():
    ...         signal.raise_signal(signal.SIGINT)
    ...         print("finished first")
    ... except KeyboardInterrupt:
    ...     print("then interrupted")
    finished first
    then interrupted
    """
    got: list[int] = []
    before = [(sig, signal.getsignal(sig)) for sig in (signal.SIGINT, signal.SIGTERM)]
    saved = [(sig, old) for sig, old in before if old is not None]  # None: set outside Python, not put back
    try:
        for sig, _ in saved:
            signal.signal(sig, lambda signum, frame: got.append(signum))
    except ValueError:  # not the main thread
        saved = []
    failed: BaseException | None = None
    try:
        yield
    except BaseException as e:
        failed = e
        raise
    finally:
        for sig, old in saved:
            signal.signal(sig, old)
        handlers: dict[int, Handler] = dict(saved)
        first: BaseException | None = None
        for signum in dict.fromkeys(got):
            try:
                _deliver(signum, handlers[signum])
            except BaseException as e:  # the next one is still handed on; the first goes on
                first = first or e
        if first is not None:
            if isinstance(failed, RecipemutError):
                log.error("%s", failed)
            raise first


__all__ = ["forget_written", "interrupted_line", "note_written", "signals_held"]
