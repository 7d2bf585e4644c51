"""A zstd OTLP export read by the compiled scanner (``fast-otlp``) is decompressed first, as gzip is."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from _telemetry_helpers import write_json
from test_formats_otlp_parts import ATTRS, _docs

from recipemut.logs import otlp, otlpfast
from recipemut.logs import traces as formats


def _zstd(plain: Path) -> Path:
    out = plain.with_name(plain.name + ".zst")
    with pa.output_stream(str(out), compression="zstd") as f:
        f.write(plain.read_bytes())
    assert out.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"
    return out


@pytest.fixture
def export(tmp_path: Path) -> tuple[Path, Path]:
    plain = write_json(tmp_path / "export.json", _docs(12, 6), lines=True)
    return plain, _zstd(plain)


def test_load_gives_the_content_of_a_zstd_file_not_its_compressed_bytes(export: tuple[Path, Path]) -> None:
    plain, zst = export
    data = otlpfast._load(zst)
    assert data is not None and data.to_pybytes() == plain.read_bytes()


@pytest.mark.skipif(not otlpfast.available(), reason="the fast-otlp extra (numba) is not installed")
def test_a_zstd_export_reads_through_the_scanner_as_the_plain_one(export: tuple[Path, Path]) -> None:
    plain, zst = export
    raw, how = otlpfast.read_raw(zst, ATTRS)
    assert how == "columnar"
    pd.testing.assert_frame_equal(raw, otlp.parse(plain.read_bytes(), plain, ATTRS), check_dtype=False)
    a, ca, _ = formats.read(plain, recipe=None)
    b, cb, _ = formats.read(zst, recipe=None)
    assert ca == cb
    pd.testing.assert_frame_equal(a.drop(columns="source_file"), b.drop(columns="source_file"))


@pytest.mark.skipif(not otlpfast.available(), reason="the fast-otlp extra (numba) is not installed")
def test_a_zstd_file_is_weighed_by_its_content_against_the_scan_threshold(
    export: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, zst = export
    size = zst.stat().st_size
    assert plain.stat().st_size > 15 * size  # JSON exports compress well: this one weighs more
    monkeypatch.setattr(otlpfast, "SCAN_BYTES", 2 * size)  # above its compressed size, below its content
    assert otlpfast.read_raw(zst, ATTRS)[1] == "columnar"
    monkeypatch.setattr(otlpfast, "SCAN_BYTES", 16 * size)
    assert otlpfast.read_raw(zst, ATTRS)[1] == "msgspec"


def test_a_zstd_file_inflating_beyond_the_limit_is_not_read(
    export: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, zst = export
    monkeypatch.setattr(otlpfast, "MAX_BYTES", 1000)
    assert otlpfast._load(zst) is None
    assert otlpfast.parse_arrow(zst, ATTRS) is None
