"""How far a long step has got: what the core reports, and nothing it shows.

Reading a large log, profiling it, searching for a plan or forecasting can take seconds to
minutes. The core says how far it has got through a :class:`Progress` it is handed: it starts a
*stage* (:meth:`Progress.task`: a name in words, a total when one is known, its unit) and counts
what is done (:meth:`Progress.advance`). It reports per file, per chunk, per candidate, never per
span. The base class shows nothing (:data:`NO_PROGRESS`, every function's default), so core
stages neither import rich nor print: the CLI hands down a display that draws a bar on standard
error (``recipemut.commands._progress.progress_display``).

The run's start (:func:`run_started`) is kept here too, so that a closing line can give the whole
wall time, imports included: the CLI marks it first thing (:func:`mark_run_started`).

>>> seen = []
>>> class Recorder(Progress):
...     def task(self, name, total=None, *, unit=""):
...         seen.append((name, total, unit))
...     def advance(self, n=1):
...         seen.append(n)
>>> p = Recorder()
>>> p.task("reading logs", 120, unit="bytes"); p.advance(100); p.advance(20)
>>> seen
[('reading logs', 120, 'bytes'), 100, 20]
>>> NO_PROGRESS.task("anything", 3); NO_PROGRESS.advance()
"""

from __future__ import annotations

import time

#: units a stage may count in (a display may format ``bytes`` as kB/MB)
BYTES = "bytes"
CANDIDATES = "candidates"

_started = time.monotonic()  # replaced by mark_run_started(); the import is a fair default


class Progress:
    """What the core tells about a long step; this base ignores it (a display overrides both methods).

    One stage at a time: :meth:`task` ends the previous stage and starts the next, with its count at 0.
    """

    def task(self, name: str, total: float | None = None, *, unit: str = "") -> None:
        """Start the stage ``name`` (words: ``"reading logs"``, ``"search, round 2"``): ``total`` of
        ``unit`` to do (``None``: not known, a display shows activity only)."""

    def advance(self, n: float = 1) -> None:
        """``n`` more of the current stage's total done."""


#: the default of every core function that reports progress: shows nothing
NO_PROGRESS = Progress()


def mark_run_started(at: float | None = None) -> None:
    """Note the monotonic time (default: now) the run started: the CLI calls it first thing."""
    global _started
    _started = time.monotonic() if at is None else at


def run_started() -> float:
    """The monotonic time the run started (:func:`mark_run_started`; else when this module was imported)."""
    return _started


__all__ = ["BYTES", "CANDIDATES", "NO_PROGRESS", "Progress", "mark_run_started", "run_started"]
