"""Safe writes of user files: atomic replacement, the lock shared by a recipe and its history, and
the checks on files a command is told to write.

Every file recipemut writes for a user (recipe, history, plan, diagram, chart) goes through
:func:`atomic_write`: the new bytes go to a temporary file in the same folder (created with
``O_EXCL``, never through a link), are flushed and fsynced, then ``os.replace`` swaps it in and the
folder is fsynced, so a reader (or a crash) sees the old file or the new one, never a mix. The
file's mode is kept. A failure (disk full, permission denied) removes the temporary file and
raises :class:`~recipemut.errors.InputFileError` naming the file; the old file stays as it was.

A recipe reached through a symbolic link is followed (:func:`resolved`): the link's target is
replaced, the link stays, and the files recipemut keeps beside it (lock, history) sit beside the
target. Those files themselves are **never** followed: a lock or history that is a symbolic link,
a FIFO, a device or a folder is refused (:func:`open_beside`, ``atomic_write(..., follow=False)``),
so a planted link cannot make recipemut truncate or create a file elsewhere.

Writers of a recipe take :func:`locked` first: an exclusive ``fcntl.flock`` on ``<recipe>.lock``
beside it (the same lock guards ``<recipe>.history.jsonl``). A second writer waits up to a bound
and then fails with :class:`~recipemut.errors.LockTimeout` naming the lock file and the holder.
The lock file's first line is the holder's pid; further ``key value`` lines are records that
outlive the holder (:func:`lock_records`; the history keeps the number and hash of its last
entry there, so a history that lost its last lines is recognised).

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
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from recipemut.errors import InputFileError, LockTimeout, os_reason
from recipemut.files.kinds import FileKind, head_of, looks_like
from recipemut.files.read import kind_of
from recipemut.files.signals import forget_written as forget_written
from recipemut.files.signals import interrupted_line as interrupted_line
from recipemut.files.signals import note_written as note_written
from recipemut.files.signals import signals_held as signals_held

#: default bound on waiting for another writer (seconds)
DEFAULT_LOCK_TIMEOUT_S = 30.0
#: the most bytes of a lock file read (a pid and a few records)
_MAX_LOCK_BYTES = 4096
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_T = TypeVar("_T")
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def resolved(path: str | os.PathLike[str]) -> Path:
    """The file a path names once symbolic links are followed (``path`` itself when none is involved).

    A recipe reached through a link is written in place of the link's *target*, and its lock and
    history sit beside the target: every link to one file shares one lock and one history.
    """
    p, real = Path(path), os.path.realpath(path)
    return p if real == os.path.abspath(p) else Path(real)


def lock_path(recipe_path: str | os.PathLike[str]) -> Path:
    """The lock file shared by a recipe and its history: ``<recipe>.lock`` (beside a symlink's target)."""
    p = resolved(recipe_path)
    return p.with_name(p.name + ".lock")


def unlocked_answer(recipe: str | os.PathLike[str], check: Callable[[], _T | None]) -> _T | None:
    """``check()`` while ``recipe`` has no lock file, else None (run again under the lock); a writer making the
    lock file during the check voids its answer or refusal: the check may have read a half-done write."""
    lock = lock_path(recipe)
    try:
        answer = None if os.path.lexists(lock) else check()
    except Exception:
        if not os.path.lexists(lock):
            raise
        return None
    return None if os.path.lexists(lock) else answer


def _refuse_kind(
    path: Path, mode: int, what: str, code: str, kept: str = "the files it keeps beside a recipe"
) -> InputFileError:
    kind = kind_of(mode)
    if stat.S_ISLNK(mode):
        try:
            to = f" (to {os.readlink(path)})"
        except OSError:
            to = ""
        return InputFileError(f"{what} is a symbolic link{to}; recipemut does not follow links for {kept} — remove it",
                              file=str(path), code=code)
    return InputFileError(f"{what} is {kind}, not a regular file; remove it", file=str(path), code=code)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def open_beside(
    path: str | os.PathLike[str], flags: int, *, what: str, code: str = "not-a-file", mode: int = 0o644
) -> int:
    """Open a file recipemut keeps beside a recipe (lock, history) without following a link.

    ``O_NOFOLLOW``, ``O_CLOEXEC`` and (while opening) ``O_NONBLOCK`` are added, so a symbolic link
    (even a dangling one with ``O_CREAT``) is refused instead of followed, the descriptor is not
    inherited by child processes, and a FIFO cannot block the open. Anything that is not a regular
    file is refused with one :class:`InputFileError` naming ``what``; a missing file raises
    ``FileNotFoundError`` unless ``O_CREAT`` is given.
    """
    p = Path(path)
    st = _lstat(p)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise _refuse_kind(p, st.st_mode, what, code)
    try:
        fd = os.open(p, flags | _NOFOLLOW | _CLOEXEC | _NONBLOCK, mode)
    except FileNotFoundError:
        raise
    except OSError as e:
        now = _lstat(p)
        if now is not None and not stat.S_ISREG(now.st_mode):  # replaced between the check and the open
            raise _refuse_kind(p, now.st_mode, what, code) from None
        if e.errno == errno.ELOOP:
            raise _refuse_kind(p, stat.S_IFLNK, what, code) from None
        raise InputFileError(f"cannot open {what}: {e.strerror}", file=str(p), code=code) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse_kind(p, st.st_mode, what, code)
        if _NONBLOCK:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_beside(path: str | os.PathLike[str], *, what: str, limit: int | None = None) -> bytes | None:
    """The bytes of a file kept beside a recipe (``None`` when it does not exist), never through a link.

    At most ``limit`` bytes are read when given.
    """
    try:
        fd = open_beside(path, os.O_RDONLY, what=what)
    except FileNotFoundError:
        return None
    try:
        chunks: list[bytes] = []
        left = limit
        while left is None or left > 0:
            chunk = os.read(fd, 1 << 20 if left is None else min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            if left is not None:
                left -= len(chunk)
        return b"".join(chunks)
    except OSError as e:
        raise InputFileError(f"cannot read {what}: {e.strerror}", file=str(path), code="unreadable") from None
    finally:
        os.close(fd)


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


def _begin(
    path: str | os.PathLike[str], *, follow: bool, what: str, tmp_dir: Path | None = None, kept: str | None = None
) -> tuple[Path, Path, int]:
    """(the file to replace, a new empty temporary file, the mode to give it): the checks and the
    ``O_EXCL`` temporary file (beside the file, or in ``tmp_dir`` on the same disk) of an atomic write."""
    target = resolved(path) if follow else Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    st = _lstat(target)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise _refuse_kind(target, st.st_mode, what, "not-a-file", *([kept] if kept else []))
    mode = stat.S_IMODE(st.st_mode) if st is not None else _umask_mode()
    try:
        fd, tmp = tempfile.mkstemp(dir=tmp_dir or folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        raise InputFileError(f"cannot write beside {target}: {e.strerror}", file=str(target), code="write") from e
    os.close(fd)
    return target, Path(tmp), mode


def _open_temp(tmp: Path, flags: int = os.O_WRONLY) -> int:
    """A descriptor on a temporary file :func:`_begin` made, never through a link put in its place."""
    return os.open(tmp, flags | _NOFOLLOW | _CLOEXEC)


def _sync_temp(tmp: Path, mode: int) -> None:
    """Sync the temporary file's bytes to disk and give it ``mode``."""
    fd = _open_temp(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _put_in_place(tmp: Path, target: Path, mode: int) -> None:
    """Sync the temporary file's bytes to disk, give it ``mode`` and rename it over ``target``."""
    _sync_temp(tmp, mode)
    os.replace(tmp, target)


@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike[str], *, follow: bool = True, what: str = "file", kept: str | None = None
) -> Iterator[Path]:
    """Replace ``path`` atomically with what the ``with`` block writes to the path it is given: a new
    temporary file beside ``path`` (``O_EXCL``, mode ``0o600`` until done), for a writer that streams
    (a :class:`pyarrow.parquet.ParquetWriter`). When the block ends, the file is fsynced, given the
    old file's permission bits (``0o666 & ~umask`` for a new one), renamed over ``path`` and the folder
    fsynced. On any exception (Ctrl-C included) the temporary file is removed, ``path`` is as it was
    and the exception goes on (an :class:`OSError` is not translated). ``follow`` and the refusals
    are :func:`atomic_write`'s (``kept``: as for :func:`atomic_files`).

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     out = pathlib.Path(folder) / "big.bin"
    ...     with atomic_file(out) as tmp:
    ...         with open(tmp, "wb") as fh:
    ...             _ = fh.write(b"streamed")
    ...     out.read_bytes(), sorted(p.name for p in out.parent.iterdir())
    (b'streamed', ['big.bin'])
    """
    target, tmp, mode = _begin(path, follow=follow, what=what, kept=kept)
    try:
        yield tmp
        _put_in_place(tmp, target, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    note_written(path)
    _fsync_dir(target.parent if str(target.parent) else Path("."))


def atomic_write(path: str | os.PathLike[str], data: bytes, *, follow: bool = True, what: str = "file") -> None:
    """Replace ``path`` with ``data`` atomically (temp in the same folder, fsync, rename, fsync folder).

    An existing file keeps its permission bits; a new one gets the usual ``0o666 & ~umask``. With
    ``follow`` (a recipe, a plan) a symbolic link is followed: its target is replaced and the link
    stays a link. Without it (the history and other files kept beside a recipe) a link is refused,
    as is, in both cases, an existing target that is not a regular file (a FIFO, a device, a
    folder). Any OS error (disk full, permission denied) removes the temporary file and raises
    :class:`InputFileError` naming the file; the old file is left as it was.
    """
    try:
        with atomic_file(path, follow=follow, what=what) as tmp, open(_open_temp(tmp), "wb") as fh:
            fh.write(data)
    except OSError as e:
        raise cannot_write(resolved(path) if follow else Path(path), e) from None


def cannot_write(path: str | os.PathLike[str], e: OSError, *, changed: str | None = None) -> InputFileError:
    """The one-line error of a write of ``path`` that failed with ``e`` (a full disk, a quota, a
    read-only disk): ``changed`` says what was put in place before (default: nothing was changed).

    >>> import errno
    >>> str(cannot_write("days/spans-2025-11-24.parquet", OSError(errno.ENOSPC, "Error writing bytes")))
    'days/spans-2025-11-24.parquet: cannot write: No space left on device; nothing was changed'
    """
    return InputFileError(
        f"cannot write: {os_reason(e)}; {changed or 'nothing was changed'}", file=str(path), code="write"
    )


class AtomicFiles:
    """Several files replaced together (:func:`atomic_files`): :meth:`write` puts a file's bytes in a
    temporary file; :meth:`commit` renames every one into place once all are written, all or none."""

    def __init__(self, *, follow: bool, what: str, tmp_dir: Path | None, kept: str | None) -> None:
        self.follow, self.what, self.tmp_dir, self.kept = follow, what, tmp_dir, kept
        self.staged: list[tuple[str | os.PathLike[str], Path, Path, int]] = []
        self.synced: set[Path] = set()  # the temporary files synced to disk (:meth:`sync`)

    def write(self, path: str | os.PathLike[str], data: bytes) -> None:
        """Write ``data`` to a new temporary file for ``path`` (refused as :func:`atomic_write` refuses;
        a failed write, a full disk, is :func:`cannot_write`'s one line naming ``path``)."""
        target, tmp, mode = _begin(path, follow=self.follow, what=self.what, tmp_dir=self.tmp_dir, kept=self.kept)
        self.staged.append((path, target, tmp, mode))
        try:  # a full disk fails here, at write() (or again at close's flush): said once, naming the file
            with open(_open_temp(tmp), "wb") as fh:
                fh.write(data)
        except OSError as e:
            raise cannot_write(target, e) from None

    def sync(self) -> None:
        """Check every file's place again (a link or folder put there meanwhile is refused, nothing
        moved) and sync every temporary file to disk, each once: the first half of :meth:`commit`, for a
        caller that holds signals off over the commit and what follows it (a Ctrl-C here still leaves
        every file as it was)."""
        for _, target, _, _ in self.staged:
            st = _lstat(target)
            if st is not None and not stat.S_ISREG(st.st_mode):
                raise _refuse_kind(target, st.st_mode, self.what, "not-a-file", *([self.kept] if self.kept else []))
        for _, target, tmp, mode in self.staged:
            if tmp not in self.synced:
                try:
                    _sync_temp(tmp, mode)
                except OSError as e:
                    raise cannot_write(target, e) from None
                self.synced.add(tmp)

    def commit(self) -> None:
        """:meth:`sync`, then rename each temporary file over its file, all or none: SIGINT and SIGTERM
        held off (:func:`signals_held`), each old file first kept (a hard link beside its temporary file,
        or a copy there), so that an error midway puts every old file back and removes the new ones
        before it goes on (an :class:`OSError` as :func:`cannot_write`'s line)."""
        self.sync()  # before the renames: a Ctrl-C here leaves every file as it was
        with signals_held():
            moved: list[tuple[Path, Path | None]] = []  # (file, where its old bytes are kept; None: it was new)
            try:
                for _, target, tmp, _ in self.staged:
                    moved.append((target, _keep_old(target, tmp.with_name(tmp.name[:-4] + ".old.tmp"))))
                    os.replace(tmp, target)
            except BaseException as e:
                left = _put_back(moved)
                if not isinstance(e, OSError):
                    raise
                changed = f"{left} of {len(self.staged)} files were replaced, not put back" if left else None
                raise cannot_write(target, e, changed=changed) from None
            for path, _, _, _ in self.staged:
                note_written(path)
            self.staged.clear()
            for kept in (k for _, k in moved if k is not None):
                with contextlib.suppress(OSError):
                    os.unlink(kept)
            for folder in dict.fromkeys(t.parent if str(t.parent) else Path(".") for t, _ in moved):
                _fsync_dir(folder)

    def discard(self) -> None:
        """Remove the temporary files not renamed into place."""
        for _, _, tmp, _ in self.staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self.staged.clear()


def _keep_old(target: Path, kept: Path) -> Path | None:
    """Keep ``target`` as ``kept`` before it is replaced: a hard link, else (a disk without links) a copy,
    never moved there: ``target`` stays in place until the rename over it, so a ``kill -9`` at any point
    leaves it, old or new, never missing; ``None``: no file."""
    try:
        os.link(target, kept)
    except FileNotFoundError:
        return None
    except OSError:
        try:
            shutil.copy2(target, kept, follow_symlinks=False)
        except FileNotFoundError:
            return None
    return kept


def _put_back(moved: list[tuple[Path, Path | None]]) -> int:
    """Undo the renames of a commit that failed midway, the last first: each old file back from where
    it was kept, each new file removed; how many could not be undone."""
    left = 0
    for target, kept in reversed(moved):
        try:
            if kept is not None:
                os.replace(kept, target)
                if os.path.lexists(kept):  # both were links to the old file: the rename did nothing
                    os.unlink(kept)
            elif os.path.lexists(target):  # the new file this commit put there: no other writer's, while
                os.unlink(target)  # the caller keeps writers of these names apart (convert: FOLDER/.convert.lock)
        except OSError:
            left += 1
    return left


@contextlib.contextmanager
def atomic_files(
    *, follow: bool = True, what: str = "file", tmp_dir: Path | None = None, kept: str | None = None
) -> Iterator[AtomicFiles]:
    """Replace several files together: each :meth:`AtomicFiles.write` goes to a temporary file (in
    ``tmp_dir``, on the files' disk, or beside its file); when the ``with`` block ends, every one is
    renamed into place. On any exception (disk full, a refused link, Ctrl-C) before that, the
    temporary files are removed and no file is touched. ``kept`` names, in the refusal of a link,
    the files that are never followed (``"the day files of a folder"``).

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     d = pathlib.Path(folder)
    ...     try:
    ...         with atomic_files() as files:
    ...             files.write(d / "a", b"1")
    ...             raise KeyboardInterrupt
    ...     except KeyboardInterrupt:
    ...         pass
    ...     with atomic_files() as files:
    ...         files.write(d / "a", b"1"); files.write(d / "b", b"2")
    ...     sorted(p.name for p in d.iterdir())
    ['a', 'b']
    """
    files = AtomicFiles(follow=follow, what=what, tmp_dir=tmp_dir, kept=kept)
    try:
        yield files
        files.commit()
    finally:
        files.discard()


def remove_stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Delete temp files :func:`atomic_write` left for ``path`` when a writer was killed.

    Call only while holding the lock that guards ``path`` (no other writer can be mid-write).
    Only regular files are removed (``unlink`` never follows a link in any case).
    """
    target = resolved(path)
    folder = target.parent if str(target.parent) else Path(".")
    removed = []
    for tmp in folder.glob(f".{glob.escape(target.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if stat.S_ISREG(os.lstat(tmp).st_mode):
                tmp.unlink()
                removed.append(tmp)
    return removed


# ---- the lock ------------------------------------------------------------------------------------


def _parse_lock(data: bytes) -> tuple[str, dict[str, str]]:
    """(holder pid text, records) of a lock file's bytes; malformed lines are ignored.

    >>> _parse_lock(b"123\\nhistory 3 ab\\njunk\\n")
    ('123', {'history': '3 ab'})
    """
    lines = data.decode("ascii", "replace").split("\n")
    records: dict[str, str] = {}
    for line in lines[1:]:
        key, _, value = line.strip().partition(" ")
        if key.isidentifier() and value and key not in records:
            records[key] = value
    return lines[0].strip(), records


def _lock_bytes(pid: int, records: Mapping[str, str]) -> bytes:
    return "".join([f"{pid}\n", *(f"{k} {v}\n" for k, v in records.items())]).encode("ascii")


def _rewrite(fd: int, data: bytes) -> None:
    """Overwrite an open lock file with ``data``: write first, then cut, so a crash between leaves
    the new lines followed by at most a torn tail (which :func:`_parse_lock` ignores)."""
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))


def _open_lock(lf: Path, flags: int) -> int:
    fd = open_beside(lf, flags, what="lock file", code="lock")
    try:
        if os.fstat(fd).st_nlink > 1:
            raise InputFileError("lock file is a hard link to another file; remove it", file=str(lf), code="lock")
    except BaseException:
        os.close(fd)
        raise
    return fd


def lock_records(recipe_path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``key value`` records kept in a recipe's lock file (empty when there is none)."""
    data = read_beside(lock_path(recipe_path), what="lock file", limit=_MAX_LOCK_BYTES)
    return _parse_lock(data)[1] if data else {}


def set_lock_records(recipe_path: str | os.PathLike[str], records: Mapping[str, str]) -> None:
    """Set records in a recipe's lock file (call while holding :func:`locked`).

    Keys must be identifiers and values one line of ASCII; other records are kept.
    """
    lf = lock_path(recipe_path)
    fd = _open_lock(lf, os.O_RDWR | os.O_CREAT)
    try:
        _, old = _parse_lock(os.pread(fd, _MAX_LOCK_BYTES, 0))
        _rewrite(fd, _lock_bytes(os.getpid(), {**old, **records}))
    except OSError as e:
        raise InputFileError(f"cannot write the lock file: {e.strerror}", file=str(lf), code="lock") from None
    finally:
        os.close(fd)


def _holder(lock_file: Path) -> str:
    try:
        data = read_beside(lock_file, what="lock file", limit=_MAX_LOCK_BYTES) or b""
    except (OSError, InputFileError):
        return "unknown"
    text = _parse_lock(data)[0]
    return f"pid {text}" if text.isdigit() else "unknown"


#: what ``flock`` fails with on a file system that takes no locks (NFS mounted ``nolock``, some FUSE and SMB mounts)
NO_FLOCK = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL})


def try_flock(fd: int) -> bool:
    """Take an exclusive ``flock`` on ``fd`` without waiting: whether it was taken (``False``: another
    open file holds it). Any other :class:`OSError` goes on (:data:`NO_FLOCK`: the file system takes none)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


@contextlib.contextmanager
def locked(
    recipe_path: str | os.PathLike[str],
    timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    *,
    poll_s: float = 0.02,
    busy: Callable[[str], str] | None = None,
    remove: bool = False,
    unsupported_ok: bool = False,
) -> Iterator[Path | None]:
    """Hold the exclusive lock of a recipe (and its history) for the ``with`` block.

    Waits at most ``timeout_s`` for another holder, then raises :class:`LockTimeout` (its message
    ``busy(holder)`` when given, the holder as ``pid N``). The lock file is left in place unless
    ``remove``: then it is removed before it is released (a writer that opened it meanwhile, and locks
    the removed file, sees that it is gone and opens the new one). Its first line holds the pid of the
    current holder, for messages, and its records are kept. A lock file that is a link, a hard link, a
    FIFO, a device or a folder is refused (:class:`InputFileError`), never opened through or truncated.
    With ``unsupported_ok``, a file system that takes no locks (:data:`NO_FLOCK`) gives ``None``
    instead of an error: the block runs unlocked.
    """
    lf = lock_path(recipe_path)
    fd = _open_lock(lf, os.O_RDWR | os.O_CREAT)
    held: bool | None = None  # None: the file system takes no locks
    try:
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            try:
                held = try_flock(fd)
                if held and _same_file(os.fstat(fd), os.lstat(lf)):
                    break
            except FileNotFoundError:  # removed by its last holder once this one had it open
                held = True
            except OSError as e:
                if not (unsupported_ok and e.errno in NO_FLOCK):
                    raise InputFileError(f"cannot lock {lf}: {e.strerror}", file=str(lf), code="lock") from e
                held = None
                break
            if held:  # locked a file its last holder removed: the one there now is the lock
                os.close(fd)
                fd = -1
                fd = _open_lock(lf, os.O_RDWR | os.O_CREAT)
                continue
            if time.monotonic() >= deadline:
                message = (busy(_holder(lf)) if busy else f"another writer ({_holder(lf)}) has held lock {lf} for more "
                           f"than {timeout_s:g}s; retry later or raise --lock-timeout")  # fmt: skip
                raise LockTimeout(message, file=str(lf), code="lock-timeout") from None
            time.sleep(poll_s)
        try:
            _, records = _parse_lock(os.pread(fd, _MAX_LOCK_BYTES, 0))
            _rewrite(fd, _lock_bytes(os.getpid(), records))
        except OSError:  # pragma: no cover - the pid is only informative
            pass
        try:
            yield lf if held else None
        finally:
            if remove:
                with contextlib.suppress(OSError):
                    os.unlink(lf)  # still held: a writer waiting on this file finds it gone once it has it
    finally:
        if fd >= 0:
            os.close(fd)  # closing the descriptor releases the flock


# ---- files a command is told to write --------------------------------------------------------------


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def history_path(recipe_path: str | os.PathLike[str]) -> Path:
    """``<recipe>.history.jsonl`` beside the recipe (beside its target, when the recipe is a symlink)."""
    p = resolved(recipe_path)
    return p.with_name(p.name + ".history.jsonl")


def recipe_companions(recipe: str | os.PathLike[str]) -> dict[Path, str]:
    """A recipe and the files recipemut keeps beside it, with what each is (for messages)."""
    return {
        Path(recipe): "the recipe",
        history_path(recipe): "the recipe's history",
        lock_path(recipe): "the recipe's lock file",
    }


def check_output_path(
    out: str | os.PathLike[str],
    *,
    option: str = "--out",
    inputs: Mapping[Path, str] | Iterable[str | os.PathLike[str]] = (),
    recipes: Iterable[str | os.PathLike[str]] = (),
    example: str | None = None,
    kind: FileKind | None = None,
) -> Path:
    """Refuse a file a command was told to write (``--out``, ``--plot``) before any work is done.

    Refused, with one :class:`InputFileError` naming the option and the file: one of the
    command's inputs (``inputs``: a mapping path -> what it is, or paths; ``recipes``: each with
    its history and lock), also when reached through another name (a hard or symbolic link); a
    symbolic link, a directory, a FIFO, a device (anything but a regular file); a file in a folder
    that does not exist or cannot be written, or whose name cannot be looked up (too long, a loop of
    links); with ``kind`` (what the command writes), a file of some bytes that is not of that kind
    (:mod:`recipemut.files.kinds`: a log named as a plan's output is never replaced by it). Returns ``out``.
    """
    o = Path(out)
    named: dict[Path, str] = {}
    for r in recipes:
        named.update(recipe_companions(r))
    if isinstance(inputs, Mapping):
        named.update({Path(p): w for p, w in inputs.items()})
    else:
        named.update({Path(p): "one of the inputs" for p in inputs if str(p) != "-"})
    if example and Path(out).name == example:  # never the very name refused as the way out
        example = f"{Path(example).stem}-2{Path(example).suffix}"
    hint = f" (e.g. {example})" if example else ""

    def refuse(msg: str) -> InputFileError:
        return InputFileError(f"{option} {out}: {msg}", code="out")

    target = Path(os.path.abspath(o))
    real = Path(os.path.realpath(o))
    for p, what in named.items():
        if {target, real} & {Path(os.path.abspath(p)), Path(os.path.realpath(p))}:
            raise refuse(f"is {what}; write elsewhere{hint}")
    try:
        st, folder_there = _lstat(o), target.parent.is_dir()
    except OSError as e:  # a name too long, a loop of links, a folder that cannot be entered
        raise refuse(f"cannot write there ({os_reason(e).lower()})") from None  # as '(permission denied)' below
    if st is not None:
        for p, what in named.items():
            try:
                if _same_file(st, os.stat(p)) or _same_file(st, os.lstat(p)):
                    raise refuse(f"is {what} (another name for it); write elsewhere{hint}")
            except OSError:
                continue
        if stat.S_ISDIR(st.st_mode):
            raise refuse(f"is a directory; name a file in it{hint}")
        if not stat.S_ISREG(st.st_mode):
            raise refuse(f"is {kind_of(st.st_mode)}, not a regular file; write elsewhere{hint}")
        if kind is not None and st.st_size > 0:
            with contextlib.suppress(OSError):  # unreadable: the permission check below says so
                head = head_of(o)
                if not kind.matches(head):
                    raise refuse(f"holds {looks_like(head)}, not {kind.name}; nothing was written: name another "
                                 f"file{hint}, or remove it first")  # fmt: skip
    folder = target.parent
    if not folder_there:
        raise refuse(f"folder does not exist: {folder}")
    if not os.access(folder, os.W_OK | os.X_OK) or (st is not None and not os.access(o, os.W_OK)):
        raise refuse("cannot write there (permission denied)")
    return o
