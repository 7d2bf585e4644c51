"""One bounded reader for every file a user names: recipe, mapping, plan, loggen parameters.

:func:`read_user_file` refuses what is not a regular file (a directory, a FIFO, a socket, a
character or block device such as ``/dev/zero``) *before* reading from it, and never reads more
than the caller's size cap:

* the path is ``stat``-ed first (symbolic links are followed: a recipe reached through a link is
  read from its target), and anything but a regular file is refused by name;
* it is then opened with ``O_NONBLOCK`` (opening a FIFO for reading would otherwise wait for a
  writer) and ``O_NOCTTY``, and ``fstat``-ed again: a path swapped for a FIFO or device between the
  two calls is refused as well;
* at most ``max_bytes + 1`` bytes are read, so a file that grows while it is read is refused as
  too large rather than read to the end.

Every problem is an :class:`~recipemut.errors.InputFileError`: one line naming the file.

>>> read_user_file("/dev/null", max_bytes=10, what="recipe")
Traceback (most recent call last):
...
recipemut.errors.InputFileError: /dev/null: is a character device, not a recipe file
"""

from __future__ import annotations

import errno
import os
import stat

from recipemut.errors import InputFileError

#: what each kind of non-regular file is called in messages
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def human_size(n: int) -> str:
    """``5 MiB``, ``2.0 KiB``, ``300 bytes``.

    >>> human_size(5 * 2**20), human_size(2048 + 3), human_size(300)
    ('5 MiB', '2.0 KiB', '300 bytes')
    """
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n // scale} {unit}" if n % scale == 0 else f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _not_regular(mode: int, name: str, what: str) -> InputFileError:
    kind = _kind(mode)
    return InputFileError(f"is {kind}, not a {what} file", file=name, code="not-a-file")


def _too_large(size: int | None, max_bytes: int, name: str, what: str) -> InputFileError:
    head = f"file is {human_size(size)}, over" if size else "file is over"
    return InputFileError(
        f"{head} the {human_size(max_bytes)} limit for a {what} (is this really a {what}?)",
        file=name,
        code="file-too-large",
    )


def read_user_file(
    path: str | os.PathLike[str], *, max_bytes: int, what: str, missing: str = "no such file"
) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them (``what``: "recipe", ...).

    ``missing`` is the message for a file that does not exist. Raises :class:`InputFileError`
    (code ``missing-file``, ``not-a-file``, ``file-too-large`` or ``unreadable-file``) for a missing
    file, anything but a regular file, a file over the cap, and any OS error while opening or
    reading. Never blocks on a FIFO and never reads past the cap.
    """
    name = os.fspath(path)
    fd = -1
    chunks: list[bytes] = []
    try:
        st = os.stat(name)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(st.st_mode, name, what)
        if st.st_size > max_bytes:
            raise _too_large(st.st_size, max_bytes, name, what)  # refused without reading it
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
        st = os.fstat(fd)  # the file opened, which may not be the one stat-ed above
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(st.st_mode, name, what)
        if st.st_size > max_bytes:
            raise _too_large(st.st_size, max_bytes, name, what)
        left = max_bytes + 1  # one byte past the cap tells a file that grew while being read
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except FileNotFoundError:
        raise InputFileError(missing, file=name, code="missing-file") from None
    except PermissionError:
        raise InputFileError("permission denied", file=name, code="unreadable-file") from None
    except IsADirectoryError:
        raise InputFileError(f"is a directory, not a {what} file", file=name, code="not-a-file") from None
    except ValueError:  # a NUL in the path
        raise InputFileError("no such file (the name holds a NUL character)", file=name, code="missing-file") from None
    except OSError as e:
        if e.errno == errno.ENOTDIR:
            raise InputFileError("no such file (a part of the path is not a folder)", file=name,
                                 code="missing-file") from None
        raise InputFileError(f"cannot read: {e.strerror or e}", file=name, code="unreadable-file") from None
    finally:
        if fd >= 0:
            os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise _too_large(None, max_bytes, name, what)
    return data


__all__ = ["human_size", "read_user_file"]
