"""Convert's spool folders: made locked, removed with signals held off, and the stale ones (left by a
conversion that was killed) removed by the next conversion into the same place.

A spool (``FOLDER/.spool-XXXXXXXX.convert/`` for a folder of days, ``.NAME.XXXXXXXX.convert/`` beside
one file: :mod:`recipemut.usecases.partition`) has a lock file beside it, its name and
:data:`LOCK_SUFFIX` (``.spool-XXXXXXXX.convert.lock``), on which its conversion keeps an exclusive
``fcntl.flock`` from start to end. The lock file is locked under another name (``.making``), then
named, then the spool folder made, so a spool (or lock file) whose lock file another process can
lock belongs to none that is alive: the kernel drops a
flock when its process ends, however it ends (``kill -9``, a crash); pids, which are reused, and pid
namespaces do not come into it. :class:`SpoolFolder` removes such spools of the same name pattern
before it makes its own; a spool with no lock file (made by a version before this one) is removed
only once nothing in it changed for :data:`UNLOCKED_STALE_S` seconds; a lock file a kill left before it
was named (``...making``), once nobody holds it and it is :data:`MAKING_STALE_S` seconds old.

On a file system that takes no ``flock`` (:data:`~recipemut.files.write.NO_FLOCK`: NFS mounted ``nolock``,
some FUSE and SMB mounts) a conversion goes on unlocked, said in one warning: its spool gets no lock
file (stale by its age, as an earlier version's), and the folder's lock (:func:`folder_locked`) keeps
nobody out.

Its own spool (and lock file) is removed when the conversion ends, however it ends, with SIGINT and
SIGTERM held off (:func:`~recipemut.files.write.signals_held`): a second Ctrl-C during the cleanup
comes once the spool is gone, not halfway through it. Every name in a spool, and the lock, starts
with ``.``: ``--logs FOLDER`` skips them, even those of a spool a killed conversion left.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import logging
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from recipemut.files.write import (
    DEFAULT_LOCK_TIMEOUT_S,
    NO_FLOCK,
    AtomicFiles,
    locked,
    os_reason,
    signals_held,
    try_flock,
)

log = logging.getLogger(__name__)

#: what the name of a spool's lock file adds to the spool's name
LOCK_SUFFIX = ".lock"
#: ``FOLDER/.convert.lock``: the lock of a folder of days, held by the conversion writing it (:func:`folder_locked`)
FOLDER_LOCK = ".convert"
#: how long a conversion into a folder waits for another one writing there before it is refused (seconds)
FOLDER_LOCK_TIMEOUT_S = DEFAULT_LOCK_TIMEOUT_S
#: what the name of a lock file not yet named (and locked) ends with
MAKING = ".making"
#: how long a spool with no lock file must have been left unchanged to be taken as stale (seconds)
UNLOCKED_STALE_S = 3600.0
#: how old a ``.making`` lock file nobody holds must be to be taken as left by a killed conversion (seconds)
MAKING_STALE_S = 60.0
_FLAGS = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _take(path: Path) -> int | None:
    """A descriptor holding the lock file ``path`` (``flock``, exclusive, not waiting:
    :func:`~recipemut.files.write.try_flock`); ``None`` when another process holds it."""
    fd = os.open(path, _FLAGS)
    try:
        if try_flock(fd):
            return fd
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


def _remove_making(made: Path, now: float) -> bool:
    """Remove ``made``, a lock file a conversion made and was killed before naming (``...making``),
    when no process holds it and it is older than :data:`MAKING_STALE_S` (a live one is held within
    microseconds of being made); whether it was."""
    if now - os.lstat(made).st_mtime < MAKING_STALE_S:
        return False
    try:
        fd = _take(made)
    except OSError as e:
        if e.errno not in NO_FLOCK:
            raise
        fd = -1  # a file system that takes no locks: its age alone
    if fd is None:
        return False
    try:
        os.unlink(made)
    finally:
        if fd >= 0:
            os.close(fd)
    return True


def _last_change(spool: Path) -> float:
    """When ``spool`` last changed: the newest ``mtime`` of the folder and of every entry in it (a file
    appended to changes its own time, not its folder's); a lock file's own time."""
    newest = os.lstat(spool).st_mtime
    if stat.S_ISDIR(os.lstat(spool).st_mode):
        with os.scandir(spool) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):  # removed meanwhile
                    newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return newest


def _remove_if_stale(spool: Path, now: float) -> bool:
    """Remove ``spool`` (a folder, or a lock file with no folder) when no live process holds its lock
    (see the module doc); whether it was."""
    lock = spool if spool.name.endswith(LOCK_SUFFIX) else spool.with_name(spool.name + LOCK_SUFFIX)
    folder = spool.with_name(spool.name.removesuffix(LOCK_SUFFIX))
    try:
        fd = _take(lock)
    except OSError as e:  # no lock file (an earlier version's), or a file system that takes no locks:
        if not isinstance(e, FileNotFoundError) and e.errno not in NO_FLOCK:
            raise
        if now - _last_change(spool) < UNLOCKED_STALE_S:  # stale once nothing in it changed for long
            return False
        fd = -1
    if fd is None:
        return False
    try:
        if spool == lock and os.path.lexists(folder):
            return False  # the folder's own check removes both
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
    finally:
        if fd >= 0:
            os.close(fd)
    return not os.path.lexists(spool)


def remove_stale_spools(folder: Path, prefix: str) -> list[Path]:
    """Remove the spool folders ``folder/PREFIX*.convert`` (and lock files) no live conversion uses
    (see the module doc); those removed. Only folders and regular files are removed (``rmtree``
    never follows a link); one that cannot be checked or removed is left for a later run."""
    removed = []
    now = time.time()
    for made in sorted(folder.glob(f"{glob.escape(prefix)}*{MAKING}")):  # killed between mkstemp and rename
        with contextlib.suppress(OSError):
            if stat.S_ISREG(os.lstat(made).st_mode) and _remove_making(made, now):
                removed.append(made)
    for spool in sorted(folder.glob(f"{glob.escape(prefix)}*.convert*")):
        with contextlib.suppress(OSError):
            mode = os.lstat(spool).st_mode
            ok = stat.S_ISDIR(mode) if spool.name.endswith(".convert") else stat.S_ISREG(mode)
            if ok and spool.name.endswith((".convert", ".convert" + LOCK_SUFFIX)) and _remove_if_stale(spool, now):
                removed.append(spool)
                log.info("%s: removed what a stopped conversion left", spool)
    return removed


def unlocked_note(folder: Path, e: OSError | None = None) -> str:
    """The one warning said when ``folder``'s file system takes no ``flock`` (``e``): convert goes on unlocked."""
    why = f" ({os_reason(e)})" if e is not None else ""
    return (f"{folder}: its file system takes no locks{why}; converting unlocked: do not run two conversions into "
            "it at once, and a spool a killed one leaves is removed once unchanged for an hour")  # fmt: skip


@contextlib.contextmanager
def folder_locked(folder: Path, *, noted: bool = False) -> Iterator[None]:
    """Hold the lock of a folder a conversion writes days into, ``FOLDER/.convert.lock`` (dot-named:
    ``--logs FOLDER`` skips it; removed when released), from its check of the days there through their
    renames: a second conversion into the folder waits up to :data:`FOLDER_LOCK_TIMEOUT_S`, then is
    refused in one line naming the holder (:class:`~recipemut.errors.LockTimeout`), so two never
    overwrite each other's days or leave a mix of both. On a file system that takes no locks it goes on
    unlocked, said in one line (:func:`unlocked_note`) unless ``noted`` (the spool's said it)."""
    timeout_s = FOLDER_LOCK_TIMEOUT_S

    def busy(holder: str) -> str:
        return (f"another convert is writing {folder} ({holder}); waited {timeout_s:g}s for it: nothing was "
                "written, retry once it is done")  # fmt: skip

    with locked(folder / FOLDER_LOCK, timeout_s, busy=busy, remove=True, unsupported_ok=True) as held:
        if held is None and not noted:
            log.warning("%s", unlocked_note(folder))
        yield


class SpoolFolder:
    """A new spool folder ``folder/PREFIXXXXXXXXX.convert``, locked, as
    :class:`tempfile.TemporaryDirectory` makes one (when made: :class:`OSError` when it cannot be; the
    stale spools of that pattern are removed first, :func:`remove_stale_spools`). Used as a context
    manager it gives its path (a string) and is removed when the block ends, however it ends, with
    SIGINT and SIGTERM held off.

    >>> with tempfile.TemporaryDirectory() as d:
    ...     with SpoolFolder(Path(d), ".spool-") as spool:
    ...         there = sorted(p.suffix for p in Path(d).iterdir())
    ...     there, list(Path(d).iterdir())
    (['.convert', '.lock'], [])
    """

    def __init__(self, folder: Path, prefix: str) -> None:
        remove_stale_spools(folder, prefix)
        fd, made = tempfile.mkstemp(prefix=prefix, suffix=MAKING, dir=folder)
        self.name = made.removesuffix(MAKING) + ".convert"
        self.lock = self.name + LOCK_SUFFIX
        self.locked = True  # False: the file system takes no locks (the spool is left to the age rule)
        try:  # locked under another name, then named: a lock file (or spool) another process finds is held
            try:
                if not try_flock(fd):  # pragma: no cover - a sweep took it in the microseconds since mkstemp
                    raise OSError(errno.EAGAIN, "its lock was taken")
            except OSError as e:
                if e.errno not in NO_FLOCK:
                    raise
                self.locked = False
                log.warning("%s", unlocked_note(folder, e))
            if self.locked:
                os.rename(made, self.lock)
            os.mkdir(self.name, 0o700)
            if not self.locked:
                os.unlink(made)  # no lock file: a spool without one is stale by its age only
        except BaseException:
            for name in (made, self.lock):
                with contextlib.suppress(OSError):
                    os.unlink(name)
            os.close(fd)
            raise
        self.fd: int | None = fd

    def __enter__(self) -> str:
        return self.name

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def commit(self, files: AtomicFiles, *, release: contextlib.ExitStack | None = None) -> None:
        """Put ``files`` (written into the spool) in place, then remove the spool, then close ``release``
        (the folder's lock): the files synced to disk first (a Ctrl-C then leaves every file as it was),
        then the renames, the removal and the release with SIGINT and SIGTERM held off over all three, so
        a held signal is handed on only once all are done; a SIGTERM with no handler (outside the CLI,
        whose handler raises ``KeyboardInterrupt``) ends the process then, no spool left behind."""
        files.sync()
        with signals_held():
            files.commit()
            self.cleanup()
            if release is not None:
                release.close()

    def cleanup(self) -> None:
        """Remove the spool and release its lock, SIGINT and SIGTERM held off meanwhile."""
        if self.fd is None:
            return
        with signals_held():
            try:
                shutil.rmtree(self.name, ignore_errors=True)
                if self.locked and not os.path.lexists(self.name):  # else kept: the next run removes both
                    os.unlink(self.lock)
            finally:
                os.close(self.fd)
                self.fd = None


__all__ = [
    "FOLDER_LOCK", "FOLDER_LOCK_TIMEOUT_S", "LOCK_SUFFIX", "MAKING", "MAKING_STALE_S", "UNLOCKED_STALE_S",
    "SpoolFolder", "folder_locked", "remove_stale_spools",
]  # fmt: skip
