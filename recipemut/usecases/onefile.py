"""The one Parquet file of a streamed ``recipemut convert`` (:func:`recipemut.usecases.partition.write_file`):
the schema the in-memory conversion wrote (:func:`one_file_schema`), a day's rows conformed to it
(:func:`conform_day`), and the days' parts, first day first, written through one
:class:`pyarrow.parquet.ParquetWriter` in row groups of :data:`~recipemut.logs.parquet.BATCH_ROWS`
rows into a file put in place atomically (:func:`assemble_parts`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recipemut.files.write import atomic_file
from recipemut.logs.parquet import BATCH_ROWS
from recipemut.logs.spans import CALL_SCHEMA, SPAN_SCHEMA


def one_file_schema(columns: list[str], sources: list[str]) -> pa.Schema:
    """The schema (pandas metadata included) of the one file: the span table as ``read_logs`` gives
    it written by pyarrow from pandas, as the one-file conversion held in memory wrote it:
    strings ``large_string``, ``recipe_version``/``source_line``/``attempt``/``items`` ``int64``
    (pandas' ``Int64``), ``source_file`` a dictionary of ``sources`` (pandas' ``category``)."""
    import pandas as pd

    kinds = {f.name: f.type for f in (*SPAN_SCHEMA, *CALL_SCHEMA)}
    frame: dict[str, object] = {}
    for c in columns:
        if c == "source_file":
            frame[c] = pd.Categorical([], categories=sources)
        elif pa.types.is_integer(kinds[c]):
            frame[c] = pd.array([], dtype="Int64")
        else:
            frame[c] = pd.Series([], dtype="str" if pa.types.is_string(kinds[c]) else "float64")
    schema = pa.Schema.from_pandas(pd.DataFrame(frame), preserve_index=False)
    if "source_file" in columns:  # the names as arrow's dictionary encoding of the column gives them: string
        i = schema.get_field_index("source_file")
        schema = schema.set(i, pa.field("source_file", pa.dictionary(schema.field(i).type.index_type, pa.string())))
    return schema


def conform_day(t: pa.Table, schema: pa.Schema, sources: pa.Array) -> pa.Table:
    """A day's rows in the one file's ``schema`` (``source_file`` coded against ``sources``)."""
    cols = []
    for f in schema:
        col = t.column(f.name)
        if pa.types.is_dictionary(f.type):
            codes = pc.index_in(col, value_set=sources).cast(f.type.index_type)
            col = pa.chunked_array([pa.DictionaryArray.from_arrays(c, sources) for c in codes.chunks], f.type)
        cols.append(col.cast(f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def row_groups(parts: list[Path], rows: int) -> Iterator[list[pa.RecordBatch]]:
    """The parts' rows, in order, as the batches of successive row groups of ``rows`` rows (the last
    shorter): what :func:`pyarrow.parquet.write_table` would cut the whole table into. Each part is
    deleted once read; memory holds one row group."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for part in parts:
        with pa.OSFile(str(part)) as src:  # read, not mapped: the batches outlive the file
            reader = pa.ipc.open_file(src)
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                while held + batch.num_rows >= rows:
                    take = rows - held
                    pending.append(batch.slice(0, take))
                    yield pending
                    pending, held, batch = [], 0, batch.slice(take)
                if batch.num_rows:
                    pending.append(batch)
                    held += batch.num_rows
        part.unlink()
    if held:
        yield pending


def assemble_parts(target: Path, schema: pa.Schema, parts: list[Path], rows: int = BATCH_ROWS) -> int:
    """The parts' rows, in order, into ``target`` atomically (:func:`~recipemut.files.write.atomic_file`:
    a temporary file beside it, synced and renamed over it, removed on any error), in row groups of
    ``rows`` rows (:data:`~recipemut.logs.parquet.BATCH_ROWS`, as the in-memory conversion cut them); its size."""
    with (
        atomic_file(target, follow=False, what="--out", kept="the file convert writes") as tmp,
        pq.ParquetWriter(tmp, schema, compression="zstd", use_dictionary=True) as w,
    ):
        for group in row_groups(parts, rows):
            w.write_table(pa.Table.from_batches(group, schema=schema), row_group_size=rows)
    return target.stat().st_size


__all__ = ["assemble_parts", "conform_day", "one_file_schema", "row_groups"]
