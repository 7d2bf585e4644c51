"""zstd-compressed logs (issue 18): told by their magic bytes, read through pyarrow's zstd codec whole
and in streamed chunks, held to the gzip cap (a zstd bomb is refused), estimated by their frame's
content size for the memory budget; recipes stay refused with the hint that they are compressed."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from _profile_helpers import REQUESTS, diamond, line, span, write_recipe
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import LogError
from recipemut.files import compressed
from recipemut.logs.ingest import read_logs
from recipemut.logs.sample import estimated_memory

runner = CliRunner()


def zst(data: bytes) -> bytes:
    return pa.compress(data, codec="zstd", asbytes=True)


def _lines(n: int) -> bytes:
    out = []
    for i in range(n):
        for j, op in enumerate(("load", "left", "right", "join")):
            out.append(line(span(f"r{i}", op, 1_700_000_000_000 + 10 * i + j, 3 + (i % 7))))
        if i % 97 == 3:
            out.append('{"request_id": "r", "op": "load", "start_ms": 1, "latency_ms": "slow"}')
    return "".join(s + "\n" for s in out).encode()


@pytest.mark.parametrize("sample", [None, 0.5])
def test_a_zstd_log_reads_as_its_plain_text(tmp_path: Path, sample: float | None) -> None:
    data = _lines(800)
    plain, packed = tmp_path / "a.jsonl", tmp_path / "a.jsonl.zst"
    plain.write_bytes(data)
    packed.write_bytes(zst(data))
    want, rep_want = read_logs(plain, recipe=diamond(), sample_requests=sample)
    got, rep_got = read_logs(packed, recipe=diamond(), sample_requests=sample)
    assert len(got) == len(want) > 0
    assert got["request_id"].tolist() == want["request_id"].tolist()
    assert got["latency_ms"].tolist() == want["latency_ms"].tolist()
    assert got["source_line"].tolist() == want["source_line"].tolist()
    assert rep_got.rejected == rep_want.rejected and rep_want.rejected
    assert [e.line for e in rep_got.examples] == [e.line for e in rep_want.examples]


def test_a_zstd_log_is_not_named_by_its_extension(tmp_path: Path) -> None:
    p = tmp_path / "spans.log"  # no .zst: told by content
    p.write_bytes(zst("".join(line(s) + "\n" for s in REQUESTS).encode()))
    df, _ = read_logs(p, recipe=diamond())
    assert len(df) == len(REQUESTS)


@pytest.mark.parametrize("sample", [None, 0.5])
def test_a_zstd_bomb_is_refused_by_the_gzip_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample: float | None
) -> None:
    monkeypatch.setattr(compressed, "GZIP_FREE_BYTES", 1 << 20)
    body = "".join(line(s) + "\n" for s in REQUESTS).encode()
    p = tmp_path / "bomb.jsonl.zst"
    p.write_bytes(zst(body + b" " * (8 << 20) + b"\n"))  # 8 MiB of one byte: a few hundred bytes packed
    size = p.stat().st_size
    assert compressed.MAX_GZIP_RATIO * size < (8 << 20)
    with pytest.raises(LogError) as e:
        read_logs(p, recipe=diamond(), sample_requests=sample)
    assert e.value.code == "too-large"
    assert "zstd log inflates beyond 1 MiB" in str(e.value) and "possible zstd bomb" in str(e.value)
    assert "zstd -d it yourself" in str(e.value)


@pytest.mark.parametrize("sample", [None, 0.5])
def test_a_cut_zstd_log_is_one_line_naming_it(tmp_path: Path, sample: float | None) -> None:
    data = zst(_lines(400))
    p = tmp_path / "cut.jsonl.zst"
    p.write_bytes(data[: len(data) // 2])
    recipe = write_recipe(tmp_path / "recipe.yaml")
    args = ["profile", str(recipe), "--logs", str(p)] + (["--sample-requests", str(sample)] if sample else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {p}") and "zstd" in err[0], err


def test_the_profile_of_a_zstd_log_is_that_of_its_text(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path / "recipe.yaml")
    data = _lines(300)
    (tmp_path / "a.jsonl").write_bytes(data)
    (tmp_path / "a.jsonl.zst").write_bytes(zst(data))
    outs = []
    for name in ("a.jsonl", "a.jsonl.zst"):
        r = runner.invoke(app, ["profile", str(recipe), "--logs", str(tmp_path / name), "-f", "json", "-q"])
        assert r.exit_code == 0, r.output
        outs.append(r.stdout.replace(name, "LOG"))
    assert outs[0] == outs[1]


def test_the_memory_estimate_of_a_zstd_log_is_its_content_size(tmp_path: Path) -> None:
    data = _lines(2000)
    plain, packed = tmp_path / "a.jsonl", tmp_path / "a.jsonl.zst"
    plain.write_bytes(data)
    packed.write_bytes(zst(data))
    assert packed.stat().st_size * 5 < len(data)
    assert estimated_memory([packed], {packed: "zstd"}) == estimated_memory([plain], {})


def test_a_zstd_trace_file_reads_as_its_text(tmp_path: Path) -> None:
    src = Path(__file__).parent / "realdata" / "otlp_proto_examples_trace.json"
    packed = tmp_path / "trace.json.zst"
    packed.write_bytes(zst(src.read_bytes()))
    want, _ = read_logs(src)
    got, rep_got = read_logs(packed)
    assert rep_got.formats == {str(packed): "otlp"} and len(got) == len(want) > 0
    assert got["latency_ms"].tolist() == want["latency_ms"].tolist()
