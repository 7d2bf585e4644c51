"""One bounded reader for every file a user names: recipe, mapping, plan, loggen parameters, history.

:func:`read_user_file` refuses what is not a regular file (a directory, a FIFO, a socket, a
character or block device such as ``/dev/zero``) *before* reading from it, and never reads more
than the caller's size cap:

* the path is ``stat``-ed first (symbolic links are followed: a recipe reached through a link is
  read from its target; with ``follow=False`` a link is refused instead), and anything but a
  regular file is refused by name;
* it is then opened with ``O_NONBLOCK`` (opening a FIFO for reading would otherwise wait for a
  writer) and ``O_NOCTTY``, and ``fstat``-ed again: a path swapped for a FIFO or device between the
  two calls is refused as well;
* at most ``max_bytes + 1`` bytes are read, so a file that grows while it is read is refused as
  too large rather than read to the end.

:func:`check_user_file` is the same first step for a reader that opens the file itself (a log is
memory-mapped or streamed, not read whole); :func:`decode_text` and :func:`read_user_text` turn
the bytes into text, refusing binary data, UTF-16 and bytes that are not UTF-8 by their offset.

Every problem is an :class:`~recipemut.errors.InputFileError`: one line naming the file, worded
the same whichever reader met it.

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
from recipemut.files.compressed import compressed_with, is_gzip

#: what each kind of non-regular file is called in messages
_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISREG, "a regular file"),
)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def human_size(n: int) -> str:
    """``5 MiB``, ``2.0 KiB``, ``300 bytes``.

    >>> human_size(5 * 2**20), human_size(2048 + 3), human_size(300)
    ('5 MiB', '2.0 KiB', '300 bytes')
    """
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n // scale} {unit}" if n % scale == 0 else f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def kind_of(mode: int) -> str:
    """What a file that is not a regular file is, for messages (``st_mode`` of ``stat``).

    >>> kind_of(stat.S_IFIFO | 0o644), kind_of(stat.S_IFCHR | 0o666)
    ('a FIFO (named pipe)', 'a character device')
    """
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _not_regular(mode: int, name: str, what: str, hint: str = "") -> InputFileError:
    return InputFileError(f"is {kind_of(mode)}, not a {what} file{hint}", file=name, code="not-a-file")


def _not_regular_beside(mode: int, name: str, what: str) -> InputFileError:
    """A file kept beside a recipe (``follow=False``) is refused as its writer refuses it: "remove it"."""
    if stat.S_ISLNK(mode):
        return InputFileError(f"{what} is a symbolic link; recipemut does not follow links for the files it keeps "
                              "beside a recipe — remove it", file=name, code="not-a-file")
    return InputFileError(f"{what} is {kind_of(mode)}, not a regular file; remove it", file=name, code="not-a-file")


def _too_large(size: int | None, max_bytes: int, name: str, what: str) -> InputFileError:
    head = f"file is {human_size(size)}, over" if size else "file is over"
    return InputFileError(
        f"{head} the {human_size(max_bytes)} limit for a {what} (is this really a {what}?)",
        file=name,
        code="file-too-large",
    )


def os_error(e: OSError | ValueError, name: str, *, what: str, missing: str = "no such file") -> InputFileError:
    """The one wording of an OS error met while opening or reading the user's file ``name``.

    ``missing`` is the message for a file that does not exist; a ``ValueError`` is a NUL in the path.

    >>> str(os_error(PermissionError(13, "Permission denied"), "r.yaml", what="recipe"))
    'r.yaml: permission denied'
    """
    if isinstance(e, ValueError):
        return InputFileError("no such file (the name holds a NUL character)", file=name, code="missing-file")
    if isinstance(e, FileNotFoundError):
        return InputFileError(missing, file=name, code="missing-file")
    if isinstance(e, PermissionError):
        return InputFileError("permission denied", file=name, code="unreadable-file")
    if isinstance(e, IsADirectoryError):
        return InputFileError(f"is a directory, not a {what} file", file=name, code="not-a-file")
    if e.errno == errno.ENOTDIR:
        return InputFileError("no such file (a part of the path is not a folder)", file=name, code="missing-file")
    return InputFileError(f"cannot read: {e.strerror or e}", file=name, code="unreadable-file")


def check_user_file(
    path: str | os.PathLike[str], *, what: str, name: str | None = None, hint: str = "", missing: str = "no such file"
) -> os.stat_result:
    """The ``stat`` of ``path`` when it is a regular file the user may read; else one :class:`InputFileError`.

    For readers that open the file themselves (a log is memory-mapped or streamed): a device or a
    FIFO would be read without end or wait for a writer, so it is refused before anything opens it.
    ``name`` is what messages call the file (default: the path); ``hint`` is added to the refusal of
    a file that is not a regular file (a directory is refused plainly).

    >>> check_user_file("/dev/null", what="log", hint="; pipe it in instead")
    Traceback (most recent call last):
    ...
    recipemut.errors.InputFileError: /dev/null: is a character device, not a log file; pipe it in instead
    """
    name = os.fspath(path) if name is None else name
    try:
        st = os.stat(path)
    except (OSError, ValueError) as e:
        raise os_error(e, name, what=what, missing=missing) from None
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(st.st_mode, name, what, "" if stat.S_ISDIR(st.st_mode) else hint)
    if not os.access(path, os.R_OK):
        raise InputFileError("permission denied", file=name, code="unreadable-file")
    return st


def read_user_file(
    path: str | os.PathLike[str],
    *,
    max_bytes: int,
    what: str,
    missing: str = "no such file",
    follow: bool = True,
) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them (``what``: "recipe", ...).

    ``missing`` is the message for a file that does not exist. With ``follow=False`` a symbolic
    link is refused rather than followed (the files recipemut keeps beside a recipe, such as its
    history: refused in the words their writer uses, :mod:`recipemut.files.write`). Raises
    :class:`InputFileError` (code ``missing-file``, ``not-a-file``, ``file-too-large`` or
    ``unreadable-file``) for a missing file, anything but a regular file, a file over the cap, and
    any OS error while opening or reading. Never blocks on a FIFO and never reads past the cap.
    """
    name = os.fspath(path)
    refuse = _not_regular if follow else _not_regular_beside
    fd = -1
    chunks: list[bytes] = []
    try:
        st = os.stat(name) if follow else os.lstat(name)
        if not stat.S_ISREG(st.st_mode):
            raise refuse(st.st_mode, name, what)
        if st.st_size > max_bytes:
            raise _too_large(st.st_size, max_bytes, name, what)  # refused without reading it
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(name, flags if follow else flags | _NOFOLLOW)
        except OSError as e:
            if not follow and e.errno == errno.ELOOP:  # became a link since the lstat
                raise refuse(stat.S_IFLNK, name, what) from None
            raise
        st = os.fstat(fd)  # the file opened, which may not be the one stat-ed above
        if not stat.S_ISREG(st.st_mode):
            raise refuse(st.st_mode, name, what)
        if st.st_size > max_bytes:
            raise _too_large(st.st_size, max_bytes, name, what)
        left = max_bytes + 1  # one byte past the cap tells a file that grew while being read
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except (OSError, ValueError) as e:
        raise os_error(e, name, what=what, missing=missing) from None
    finally:
        if fd >= 0:
            os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise _too_large(None, max_bytes, name, what)
    return data


def _refuse_compressed(raw: bytes, file: str, what: str) -> None:
    """Refuse a text file that is a compressed stream (gzip, zstd, ...) by name: most likely a log given as a recipe.

    Called only once the bytes are known not to be text, so a text that happens to start like a
    magic number ("BZh9...") is never taken for one.
    """
    packed = "gzip" if is_gzip(raw) else (compressed_with(raw) or (None,))[0]
    if packed is not None:
        raise InputFileError(
            f"this is a {packed} file, not {what} — a log? logs go to --logs of profile or suggest",
            file=file,
            code="compressed-file",
        )


def decode_text(raw: bytes, *, file: str, what: str = "a YAML recipe") -> str:
    """Decode a user file's bytes as UTF-8 (a BOM is dropped), naming the first offending byte.

    Binary data (a NUL byte), UTF-16 (its byte-order mark) and compressed files (gzip, zstd, ...:
    most likely a log given where a recipe or plan goes) are refused by name; ``what`` is what the
    file should have been ("a YAML recipe", "a JSON plan", ...).

    >>> decode_text(b"a: 1\\n\\xff", file="r.yaml")
    Traceback (most recent call last):
    ...
    recipemut.errors.InputFileError: r.yaml:2:1: not UTF-8 text: byte 0xff at offset 5 (line 2, column 1)
    >>> try:
    ...     decode_text(b"\\x1f\\x8b\\x08\\x00", file="logs.jsonl.gz")
    ... except InputFileError as e:
    ...     print(e.message)
    this is a gzip file, not a YAML recipe — a log? logs go to --logs of profile or suggest
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputFileError("is UTF-16 text (byte-order mark); save it as UTF-8", file=file, code="not-utf8")
    nul = raw.find(b"\x00")
    if nul >= 0:
        _refuse_compressed(raw, file, what)
        line = raw.count(b"\n", 0, nul) + 1
        raise InputFileError(
            f"binary data, not {what}: NUL byte at offset {nul} (line {line})",
            file=file,
            line=line,
            code="binary-file",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        _refuse_compressed(raw, file, what)
        line = raw.count(b"\n", 0, e.start) + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise InputFileError(
            f"not UTF-8 text: byte 0x{raw[e.start]:02x} at offset {e.start} (line {line}, column {col})",
            file=file,
            line=line,
            column=col,
            code="not-utf8",
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def read_user_text(
    path: str | os.PathLike[str], *, max_bytes: int, what: str, text_what: str, missing: str = "no such file"
) -> str:
    """:func:`read_user_file` then :func:`decode_text`: the UTF-8 text of a user's file.

    ``what`` names the file in refusals ("recipe": "is a directory, not a recipe file"),
    ``text_what`` what its text should be ("a YAML recipe": "binary data, not a YAML recipe").
    """
    raw = read_user_file(path, max_bytes=max_bytes, what=what, missing=missing)
    return decode_text(raw, file=os.fspath(path), what=text_what)


__all__ = [
    "check_user_file",
    "decode_text",
    "human_size",
    "kind_of",
    "os_error",
    "read_user_file",
    "read_user_text",
]
