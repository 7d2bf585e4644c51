"""Convert: logs of any format read into the span table and written as Parquet, streamed (see
:mod:`recipemut.usecases.partition`): one file (:func:`convert_logs`), or a folder of one file per
day (:func:`convert_to_folder`).

The one file holds every column of the span table (:data:`recipemut.logs.spans.SPAN_SCHEMA`, and the
:data:`~recipemut.logs.spans.CALL_SCHEMA` columns some span carries) with the pandas metadata of the
span frame, duplicates dropped as ingest drops them, its rows grouped by request: sorted by (the
request's first span start, ``request_id``, ingest order), so the days of request start come in
time order; compressed with zstd, in row groups of about a million spans. Profiling it gives the
figures the logs give (``tests/test_convert.py``, ``tests/test_convert_stream.py``).

Trace files (OTLP, Jaeger, Zipkin) and run histories name spans, not operations: given the recipe
(``convert --recipe RECIPE [--map MAPPING]``), they are written as ``profile RECIPE --logs`` reads them
(read by ingest with the recipe, as ``profile`` reads them: the mapping's rules, then the default matching on the
recipe's ids, actions and services; ``op`` the operation, ``service`` its service, ``recipe`` its name,
the spans of no operation left out and counted), so that profiling the file gives the figures the
traces give (``tests/test_convert_map.py``). Without it their spans keep their names
(:attr:`ConvertRun.hint` says so), and a mapping, which maps to a recipe, is refused
(:func:`mapping_problem`). Native and Parquet logs name their operations: they are written as they are.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from recipemut.files.progress import NO_PROGRESS, Progress
from recipemut.logs.sources import PARQUET_SUFFIXES
from recipemut.usecases.inputs import LogSource

if TYPE_CHECKING:
    from recipemut.logs.report import IngestReport
    from recipemut.recipe.model import Recipe

#: what ingest calls the logs that name their operations (every other format names spans)
NAMED_OPS = ("native", "parquet")


@dataclass(frozen=True, eq=False)
class ConvertRun:
    """What ``recipemut convert`` wrote: the file, its rows, columns and bytes, and how the logs read."""

    out: Path
    rows: int
    columns: tuple[str, ...]
    size_bytes: int
    report: IngestReport
    files: tuple[Path, ...] = ()  # the files written into a folder (one per day), none for one file
    replaced: tuple[Path, ...] = ()  # of ``files``, those that were in the folder already (written over)
    others: tuple[Path, ...] = ()  # Parquet files in the folder left as they were: ``--logs FOLDER`` reads them too
    recipe: str | None = None  # the recipe's name the trace files were mapped to (``--recipe``), else None

    @property
    def hint(self) -> str | None:
        """When trace files (or run histories) were written without a recipe: that their spans keep their
        names, and how to write them for a recipe (``None`` otherwise)."""
        if self.recipe is not None:
            return None
        spans = [n for n, f in self.report.formats.items() if f not in NAMED_OPS]
        if not spans:
            return None
        more = f" (and {len(spans) - 1} more)" if len(spans) > 1 else ""
        return (
            f"{spans[0]}{more}: {self.report.formats[spans[0]]} spans are written under their span names, for no "
            "recipe; to write them as 'profile RECIPE --logs' reads them (mapped to its operations), convert "
            "with --recipe RECIPE (and --map MAPPING where the spans need one)"
        )

    @property
    def closing_line(self) -> str:
        """What ``convert`` says when done: ``wrote OUT[ in N day files...]: rows, columns, bytes (ingest summary)``."""
        n = len(self.files)
        days = f" in {n} day file{'s' * (n != 1)}{self.folder_note}" if n else ""
        return (
            f"wrote {self.out}{days}: {self.rows:,} span{'s' * (self.rows != 1)}, {len(self.columns)} columns, "
            f"{self.size_bytes:,} bytes ({self.report.summary()})"
        )

    @property
    def folder_json(self) -> dict[str, list[str]]:
        """What ``-f json`` adds for a folder: the day files written (``files``), those of them written over
        (``replaced``) and the Parquet files left there (``others``); nothing for one file."""
        if not self.files:
            return {}
        return {"files": [*map(str, self.files)], "replaced": [*map(str, self.replaced)],
                "others": [*map(str, self.others)]}  # fmt: skip

    @property
    def folder_note(self) -> str:
        """What a conversion into a folder did to the files already there, for the closing line:
        ``", replacing 14 already there; 3 other Parquet files there were left (--logs days reads them too)"``."""
        note = f", replacing {len(self.replaced)} already there" if self.replaced else ""
        n = len(self.others)
        if n:
            left = f"{n} other Parquet files there were" if n != 1 else "1 other Parquet file there was"
            note += f"; {left} left (--logs {self.out} reads them too)"
        return note


def mapping_problem(source: LogSource, recipe: Recipe | str | Path | None) -> str | None:
    """Why ``source``'s mapping cannot be used (``None`` when it can, or there is none): a mapping maps
    spans to the operations of a recipe (its rules name them; the default matching for the spans no rule
    matches compares the recipe's ids, actions and services), so without the recipe it would be ignored.

    >>> mapping_problem(LogSource.of("t.json", mapping="m.yaml"), None)[:46]
    'm.yaml: maps spans to the operations of a reci'
    >>> mapping_problem(LogSource.of("t.json"), None) is None
    True
    """
    if source.mapping is None or recipe is not None:
        return None
    return (
        f"{source.mapping}: maps spans to the operations of a recipe, and convert was given none: "
        "name it with --recipe RECIPE (the file is then written as 'profile RECIPE --logs ... --map' reads the logs)"
    )


def load_for(source: LogSource, recipe: Recipe | str | Path | None) -> Recipe | None:
    """The recipe trace files are written for, loaded (a path) and its mapping checked against it, before
    any log is read: :class:`~recipemut.logs.mapping.MappingError` for a mapping without a recipe
    (:func:`mapping_problem`) or naming an operation the recipe has not, what the loader raises for a
    bad recipe."""
    from recipemut.logs.mapping import MappingError, resolve
    from recipemut.recipe.model import Recipe as Loaded

    if recipe is not None and not isinstance(recipe, Loaded):
        from recipemut.recipe.loader import load_recipe

        recipe = load_recipe(recipe)
    if problem := mapping_problem(source, recipe):
        raise MappingError(problem, file=str(source.mapping), code="no-recipe")
    if source.mapping is not None and recipe is not None:
        resolve(source.mapping).check(recipe)
    return recipe


def convert_logs(
    source: LogSource, out: str | Path, *, chunk_bytes: int | None = None, progress: Progress = NO_PROGRESS,
    force: bool = False, recipe: Recipe | str | Path | None = None,
) -> ConvertRun:
    """Stream ``source`` into the one Parquet file ``out``, atomically
    (:func:`recipemut.usecases.partition.write_file`: memory holds a chunk, then a day). Every span is
    kept, but for trace files given a ``recipe`` (a path or a loaded one): they are written mapped to its
    operations (:func:`load_for`; ``write_file``'s ``recipe``).

    ``out`` is checked before any log is read (never one of the logs, a file inside a folder of the
    logs, a link or a new folder tree; a file already there only with ``force``, and then only Parquet).
    ``progress`` is told each stage (the bytes read chunk by chunk, the days sorted, the writing).
    Raises what the log reader raises, and :class:`~recipemut.errors.InputFileError` when ``out``
    cannot be written (nothing is left behind, an existing ``out`` is as it was).
    """
    from recipemut.errors import InputFileError
    from recipemut.files.write import check_output_path, os_reason
    from recipemut.usecases.overwrite import refuse_existing
    from recipemut.usecases.partition import write_file

    path = check_output_path(out, option="--out", inputs=source.input_files(), example="logs.parquet")
    refuse_inside_inputs(source, path, out)
    refuse_not_parquet(path, out)  # first: --force would not help
    refuse_existing(out, force=force)
    loaded = load_for(source, recipe)
    try:
        got = write_file(source, path, chunk_bytes=chunk_bytes, progress=progress, recipe=loaded)
    except OSError as e:
        raise InputFileError(
            f"cannot write the Parquet file: {os_reason(e)}; nothing was changed", file=str(out), code="write"
        ) from None
    name = loaded.name if loaded is not None else None
    return ConvertRun(Path(out), got.rows, got.columns, got.size_bytes, got.report, recipe=name)


def refuse_not_parquet(path: Path, out: str | Path) -> None:
    """Refuse to replace an existing file that is not empty and not Parquet (a recipe, a log, ...):
    one :class:`~recipemut.errors.InputFileError` naming ``--out``. An existing Parquet file is replaced."""
    from recipemut.errors import InputFileError
    from recipemut.logs.parquet import MAGIC

    try:
        with open(path, "rb") as f:
            head = f.read(len(MAGIC))
    except FileNotFoundError:
        return
    except OSError as e:
        raise InputFileError(f"--out {out}: cannot read the file there ({e.strerror})", code="out") from None
    if head and head != MAGIC:
        raise InputFileError(
            f"--out {out}: exists and is not Parquet (no PAR1 magic); refusing to write over it "
            "(remove it, or name another file)",
            code="out",
        )


def refuse_inside_inputs(source: LogSource, path: Path, out: str | Path) -> None:
    """Refuse an output inside a folder given as a log (``convert days -o days/x.parquet``): ``--logs days``
    reads every Parquet file under it, so it would then read each span twice."""
    from recipemut.errors import InputFileError

    where = path.resolve()
    for p in source.paths:
        if str(p) != "-" and Path(p).is_dir() and where.is_relative_to(Path(p).resolve()):
            raise InputFileError(
                f"--out {out}: is inside {p}, a folder of the logs (--logs {p} would then read every span "
                "twice); write elsewhere",
                code="out",
            )
        if str(p) != "-" and not Path(p).exists() and set("*?[") & set(str(p)) and where.match(str(Path(p).absolute())):
            raise InputFileError(
                f"--out {out}: matches {p}, a pattern of the logs (--logs {p} would then read every span "
                "twice); write elsewhere",
                code="out",
            )


def refuse_linked_inputs(source: LogSource, folder: Path, out: str | Path) -> None:
    """Refuse a folder holding a Parquet file that is one of the logs under another name (a hard link:
    the same device and inode, as :func:`~recipemut.files.write.check_output_path` tells a one-file
    ``--out``): ``convert hl.parquet -o days/ --force`` replaced the day file ``hl.parquet`` is."""
    from recipemut.errors import InputFileError

    logs: dict[tuple[int, int], Path] = {}
    for p in source.input_files():
        with contextlib.suppress(OSError):  # not there, a URL: the reader says so
            st = os.stat(p)
            logs[(st.st_dev, st.st_ino)] = Path(p)
    if not logs or not folder.is_dir():
        return
    with os.scandir(folder) as entries:  # lstat: a link in the folder is refused by the writer, never followed
        for e in entries:
            day = e.stat(follow_symlinks=False) if e.name.endswith(".parquet") else None
            if day is not None and stat.S_ISREG(day.st_mode) and (day.st_dev, day.st_ino) in logs:
                raise InputFileError(
                    f"--out {out}: holds one of the logs ({e.name} is {logs[(day.st_dev, day.st_ino)]}, another name "
                    "for it); write elsewhere",
                    code="out",
                )


def is_folder_target(out: str | Path) -> bool:
    """Whether ``-o`` names a folder (one that exists, or a path written with a trailing ``/``): the one
    test, which ``convert -o``'s name check (``commands/_common.py`` ``written_as``) asks too.

    >>> is_folder_target("days/"), is_folder_target("days.parquet")
    (True, False)
    """
    try:
        there = Path(out).is_dir()
    except OSError:  # a name too long to look up: the output check says so, for the file it names
        there = False
    return there or str(out).endswith(("/", "\\"))


def convert_to_folder(
    source: LogSource, out: str | Path, *, chunk_bytes: int | None = None, progress: Progress = NO_PROGRESS,
    force: bool = False, recipe: Recipe | str | Path | None = None,
) -> ConvertRun:
    """Stream ``source`` into the folder ``out``: one Parquet file per day (UTC) of request start,
    each sorted by request (:func:`recipemut.usecases.partition.write_days`). ``out`` is created when
    its parent exists; it may not be a symbolic link, nor hold one of the logs (refused before any log
    is read), nor be inside a folder given as a log. A day file to write that is there already is refused
    once the logs are read, unless ``force``. The days are put in place together once all are written:
    on a failure (a day already there, a link where a day goes, disk full, Ctrl-C) the folder is as it
    was. ``size_bytes`` is the files' total; ``progress``
    is told the bytes read, then the days written. Trace files given a ``recipe`` are mapped to it, as
    :func:`convert_logs` maps them."""
    from recipemut.errors import InputFileError
    from recipemut.usecases.partition import write_days

    folder = Path(out)
    inputs = {Path(p).resolve() for p in source.input_files() if str(p) != "-"}
    if folder.is_symlink():  # written through, its days would land where it points: refused, as every output link
        raise InputFileError(f"--out {out}: is a symbolic link; name the folder itself", code="out")
    if folder.exists() and not folder.is_dir():
        raise InputFileError(f"--out {out}: is not a folder; name a folder or a .parquet file", code="out")
    if not folder.parent.resolve().is_dir():
        raise InputFileError(f"--out {out}: folder does not exist: {folder.parent.resolve()}", code="out")
    if any(p == folder.resolve() or (p.parent == folder.resolve() and p.suffix.lower() in PARQUET_SUFFIXES)
           for p in inputs):  # a log named as Parquet in it: --logs FOLDER would read it with the days
        raise InputFileError(f"--out {out}: holds one of the logs; write elsewhere", code="out")
    refuse_linked_inputs(source, folder, out)
    refuse_inside_inputs(source, folder, out)
    loaded = load_for(source, recipe)  # before the folder is made
    made = not folder.exists()
    try:
        folder.mkdir(exist_ok=True)
    except OSError as e:
        raise InputFileError(f"--out {out}: cannot create the folder ({e.strerror})", code="out") from None
    if not os.access(folder, os.W_OK | os.X_OK):  # the spool and the days go inside: refused before any log is read
        if made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise InputFileError(f"--out {out}: cannot write there (permission denied)", code="out")
    try:
        got = write_days(source, folder, chunk_bytes=chunk_bytes, progress=progress, force=force, recipe=loaded)
    except BaseException:  # a bad log, Ctrl-C: a folder made for nothing is not left behind (empty: rmdir only)
        if made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    name = loaded.name if loaded is not None else None
    return ConvertRun(folder, got.rows, got.columns, got.size_bytes, got.report, got.files, got.replaced, got.others,
                      recipe=name)


__all__ = [
    "ConvertRun",
    "convert_logs",
    "convert_to_folder",
    "is_folder_target",
    "load_for",
    "mapping_problem",
    "refuse_inside_inputs",
    "refuse_linked_inputs",
    "refuse_not_parquet",
]
