"""Safe writes of user files: atomic replacement and the lock shared by a recipe and its history.

Every file recipemut writes for a user (recipe, history, plan) goes through :func:`atomic_write`:
the new bytes go to a temporary file in the same folder, are flushed and fsynced, then
``os.replace`` swaps it in and the folder is fsynced, so a reader (or a crash) sees the old file or
the new one, never a mix. The file's mode is kept.

A symbolic link is followed (:func:`resolved`): the link's target is replaced, the link stays.

Writers of a recipe take :func:`locked` first: an exclusive ``fcntl.flock`` on ``<recipe>.lock``
beside it (the same lock guards ``<recipe>.history.jsonl``). A second writer waits up to a bound
and then fails with :class:`~recipemut.errors.LockTimeout` naming the lock file and the holder.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as folder:  # removed, with all it holds, at the end
...     d = pathlib.Path(folder)
...     atomic_write(d / "r.yaml", b"name: demo\\n")
...     with locked(d / "r.yaml", timeout_s=1):
...         (d / "r.yaml").read_bytes()
b'name: demo\\n'
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import InputFileError, LockTimeout

#: default bound on waiting for another writer (seconds)
DEFAULT_LOCK_TIMEOUT_S = 30.0


def resolved(path: str | os.PathLike[str]) -> Path:
    """The file a path names once symbolic links are followed (``path`` itself when none is involved).

    A recipe reached through a link is written in place of the link's *target*, and its lock and
    history sit beside the target: every link to one file shares one lock and one history.
    """
    p = Path(path)
    real = os.path.realpath(p)
    return p if real == os.path.abspath(p) else Path(real)


def lock_path(recipe_path: str | os.PathLike[str]) -> Path:
    """The lock file shared by a recipe and its history: ``<recipe>.lock`` (beside a symlink's target)."""
    p = resolved(recipe_path)
    return p.with_name(p.name + ".lock")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on a directory
        pass
    finally:
        os.close(fd)


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (temp in the same folder, fsync, rename, fsync folder).

    An existing file keeps its permission bits; a new one gets the usual ``0o666 & ~umask``. A
    symbolic link is followed: its target is replaced and the link stays a link.
    """
    target = resolved(path)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = _umask_mode()
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        raise InputFileError(f"cannot write beside {target}: {e.strerror}", file=str(target), code="write") from e
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def remove_stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Delete temp files :func:`atomic_write` left for ``path`` when a writer was killed.

    Call only while holding the lock that guards ``path`` (no other writer can be mid-write).
    """
    target = resolved(path)
    folder = target.parent if str(target.parent) else Path(".")
    removed = []
    for tmp in folder.glob(f".{glob.escape(target.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed.append(tmp)
    return removed


def _holder(lock_file: Path) -> str:
    try:
        text = lock_file.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return "unknown"
    return f"pid {text}" if text.isdigit() else "unknown"


@contextlib.contextmanager
def locked(
    recipe_path: str | os.PathLike[str], timeout_s: float = DEFAULT_LOCK_TIMEOUT_S, *, poll_s: float = 0.02
) -> Iterator[Path]:
    """Hold the exclusive lock of a recipe (and its history) for the ``with`` block.

    Waits at most ``timeout_s`` for another holder, then raises :class:`LockTimeout`. The lock
    file is left in place (removing it would race with the next writer); it holds the pid of the
    current holder, for messages.
    """
    lf = lock_path(recipe_path)
    try:
        fd = os.open(lf, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise InputFileError(f"cannot open lock file {lf}: {e.strerror}", file=str(lf), code="lock") from e
    try:
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise InputFileError(f"cannot lock {lf}: {e.strerror}", file=str(lf), code="lock") from e
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"another writer ({_holder(lf)}) has held lock {lf} for more than {timeout_s:g}s; "
                        "retry later or raise --lock-timeout",
                        file=str(lf),
                        code="lock-timeout",
                    ) from None
                time.sleep(poll_s)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError:  # pragma: no cover - the pid is only informative
            pass
        yield lf
    finally:
        os.close(fd)  # closing the descriptor releases the flock
