"""The progress bar every long command draws on stderr: the core's
:class:`~recipemut.files.progress.Progress` as a transient rich bar, and when to draw it."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from recipemut.commands._common import err_console
from recipemut.files.progress import BYTES, NO_PROGRESS, Progress
from recipemut.files.text import shown


def _tty(stream: Any) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except ValueError:  # closed
        return False


def progress_shown(*, quiet: bool, json_out: bool = False) -> bool:
    """Whether to draw progress: stderr is a terminal (rich's ``TTY_COMPATIBLE=1``/``0`` overrides;
    ``FORCE_COLOR`` does not: CI logs would fill with redraws), no ``--quiet``, no JSON to a pipe."""
    if quiet or (json_out and not _tty(sys.stdout)):
        return False
    flag = os.environ.get("TTY_COMPATIBLE", "")
    if flag in ("0", "1"):
        return flag == "1"
    return _tty(sys.stderr) and os.environ.get("TERM", "").lower() not in ("dumb", "unknown")


class _Bar(Progress):
    """The core's :class:`~recipemut.files.progress.Progress` as a transient rich bar drawn by
    ``err_console``, so that what it prints meanwhile (warnings) goes above the bar."""

    def __init__(self) -> None:
        from rich import progress as rp

        cols = (rp.TextColumn("{task.description}"), rp.BarColumn(), rp.TextColumn("{task.fields[count]}"))
        self.rich = rp.Progress(rp.SpinnerColumn(), *cols, rp.TimeElapsedColumn(), console=err_console, transient=True)
        self.id, self.unit, self.done = self.rich.add_task("starting", total=None, count=""), "", 0.0
        self.total: float | None = None

    def task(self, name: str, total: float | None = None, *, unit: str = "") -> None:
        self.rich.remove_task(self.id)  # a new task: rich's update() cannot set a total back to None
        self.unit, self.done, self.total = unit, 0.0, total
        self.id = self.rich.add_task(shown(name), total=total, count=self._count())
        self.rich.refresh()  # each stage drawn as it starts, not at the next tick

    def advance(self, n: float = 1) -> None:
        self.done += n
        self.rich.update(self.id, completed=self.done, count=self._count())

    def _count(self) -> str:
        from rich.filesize import decimal

        if self.total is None:
            return ""
        if self.unit == BYTES:
            return f"{decimal(int(self.done))}/{decimal(int(self.total))}"
        return f"{self.done:,.0f}/{self.total:,.0f} {self.unit}"


@contextlib.contextmanager
def progress_display(*, quiet: bool, json_out: bool = False) -> Iterator[Progress]:
    """A :class:`~recipemut.files.progress.Progress` for the core: a bar on stderr while the block runs,
    erased after (:func:`progress_shown`; else one that shows nothing). Render results after the block."""
    if not progress_shown(quiet=quiet, json_out=json_out):
        yield NO_PROGRESS
        return
    import logging

    from rich.file_proxy import FileProxy

    bar, was = _Bar(), err_console.is_interactive  # fixed when made; TTY_COMPATIBLE may be set since
    err_console.is_interactive = True
    logged = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]  # the CLI's
    streams = [h.setStream(FileProxy(err_console, h.stream)) for h in logged]  # its lines above the bar too
    try:
        with bar.rich:
            yield bar
    finally:
        err_console.is_interactive = was
        for h, stream in zip(logged, streams, strict=True):
            h.setStream(stream)
