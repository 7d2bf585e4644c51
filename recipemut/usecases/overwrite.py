"""Outputs already there: ``generate`` and ``convert`` never write over a file a user has (a log of
millions of spans replaced by ten requests) unless told to with ``--force``.

:func:`refuse_existing` is asked before any work is done, of the one file a command writes;
:func:`refuse_existing_days` of the day files a conversion into a folder would write, once the logs
are read (the days are known then) and before any is written. An empty file (what ``mktemp``
makes) holds nothing to lose and is written over; a folder, a link or anything but a regular file
is left to :func:`~recipemut.files.write.check_output_path` and the command to say what it is.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from recipemut.errors import InputFileError

#: day files named in the error before "and N more"
NAMED = 3


def size_words(n: int) -> str:
    """A file size as a person reads it.

    >>> size_words(9_600_000), size_words(510_000), size_words(12)
    ('9.6 MB', '510 KB', '12 bytes')
    """
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} byte{'s' * (n != 1)}"


def _with_bytes(path: str | os.PathLike[str]) -> os.stat_result | None:
    """The stat of ``path`` when it is a regular file of some bytes (not a link: the writers refuse
    those), else None: what writing over would lose something."""
    try:
        st = os.lstat(path)
    except OSError:  # not there (or not to be looked at: the writer says why)
        return None
    return st if stat.S_ISREG(st.st_mode) and st.st_size > 0 else None


def refuse_existing(out: str | os.PathLike[str], *, force: bool, option: str = "--out") -> None:
    """Refuse ``out`` when a file of some bytes is there already and ``force`` is not given: one
    :class:`~recipemut.errors.InputFileError` naming the option, the file and its size."""
    if force:
        return
    st = _with_bytes(out)
    if st is None:
        return
    raise InputFileError(
        f"{option} {out}: already exists ({size_words(st.st_size)}); nothing was written: give --force to "
        "replace it, or name another file",
        code="exists",
    )


def refuse_existing_days(folder: Path, days: Sequence[Path], *, force: bool, option: str = "--out") -> None:
    """Refuse a conversion into ``folder`` when some of the day files it would write (``days``) are
    there already and ``force`` is not given: the first :data:`NAMED` of them and how many in all."""
    if force:
        return
    there = sorted(p.name for p in days if _with_bytes(p) is not None)  # a link: the writer refuses it
    if not there:
        return
    named = ", ".join(there[:NAMED]) + (f" and {len(there) - NAMED} more" if len(there) > NAMED else "")
    which = "1 day file it would write is" if len(there) == 1 else f"{len(there)} day files it would write are"
    raise InputFileError(
        f"{option} {folder}: {which} there already ({named}); nothing was written: give --force to replace "
        f"{'it' if len(there) == 1 else 'them'}, or name another folder",
        code="exists",
    )


__all__ = ["NAMED", "refuse_existing", "refuse_existing_days", "size_words"]
