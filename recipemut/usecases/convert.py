"""Convert: logs of any format read into the span table and written as one Parquet file.

The file holds every column of the span table (:data:`recipemut.logs.spans.SPAN_SCHEMA`, and the
:data:`~recipemut.logs.spans.CALL_SCHEMA` columns some span carries), its rows in ingest order (the
order of the files and their lines, duplicates dropped), compressed with zstd, in row groups of
about a million spans. Profiling it gives the figures the logs give (``tests/test_convert.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from recipemut.usecases.inputs import LogSource

if TYPE_CHECKING:
    from recipemut.logs.report import IngestReport


@dataclass(frozen=True, eq=False)
class ConvertRun:
    """What ``recipemut convert`` wrote: the file, its rows, columns and bytes, and how the logs read."""

    out: Path
    rows: int
    columns: tuple[str, ...]
    size_bytes: int
    report: IngestReport


def convert_logs(source: LogSource, out: str | Path) -> ConvertRun:
    """Read ``source`` (no recipe: every span is kept) and write it to ``out`` as Parquet, atomically.

    ``out`` is checked before any log is read (never one of the logs, a link or a new folder tree).
    Raises what the log reader raises, and :class:`~recipemut.errors.InputFileError` when ``out``
    cannot be written.
    """
    import pyarrow as pa

    from recipemut.errors import InputFileError
    from recipemut.files.write import atomic_write, check_output_path
    from recipemut.logs.parquet import parquet_bytes

    path = check_output_path(out, option="--out", inputs=source.input_files(), example="logs.parquet")
    spans, report = source.read(None)
    table = pa.Table.from_pandas(spans, preserve_index=False)
    del spans
    data = parquet_bytes(table)
    try:
        atomic_write(path, data)
    except OSError as e:
        raise InputFileError(f"cannot write the Parquet file: {e.strerror}", file=str(out), code="write") from e
    return ConvertRun(Path(out), table.num_rows, tuple(table.column_names), len(data), report)


__all__ = ["ConvertRun", "convert_logs"]
