"""``generate -o`` writes the format its name says (recipemut/usecases/generate.py,
recipemut/loggen/jsonl.py): JSON lines plain, gzip or zstd, or Parquet as ``convert`` writes it
(sorted by request, profiled to the figures the JSONL gives); any other name is refused. And the
help's example can be pasted."""

from __future__ import annotations

import gzip
import itertools
import json
import re
import shlex
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from recipemut.cli import app

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
WIDE = {"COLUMNS": "200"}
runner = CliRunner()


def _generate(out: Path, n: int = 120) -> None:
    r = runner.invoke(app, ["generate", str(RECIPE), "-n", str(n), "--days", "3", "--seed", "4", "-o", str(out)],
                      env=WIDE)  # fmt: skip
    assert r.exit_code == 0, r.output


def _figures(log: Path) -> dict[str, object]:
    """What ``profile -f json`` says of a log, less the names of the files read."""
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(log), "-f", "json"], env=WIDE)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    text = json.dumps(data).replace(json.dumps(str(log))[1:-1], "LOG").replace(json.dumps(log.name)[1:-1], "LOG")
    return json.loads(re.sub(r'"LOG": "(native|parquet)"', '"LOG": "FORMAT"', text))


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("formats")
    out = {}
    for suffix in (".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet"):
        out[suffix] = folder / f"g{suffix}"
        _generate(out[suffix])
    return out


def test_each_name_gets_its_format(written: dict[str, Path]) -> None:
    plain = written[".jsonl"].read_bytes()
    assert plain.startswith(b'{"request_id"')
    assert gzip.decompress(written[".jsonl.gz"].read_bytes()) == plain
    zst = written[".jsonl.zst"].read_bytes()
    assert zst[:4] == b"\x28\xb5\x2f\xfd"  # a zstd frame, read back by the codec recipemut reads zstd with
    with pa.CompressedInputStream(pa.OSFile(str(written[".jsonl.zst"])), "zstd") as f:
        assert f.read() == plain
    assert written[".parquet"].read_bytes()[:4] == b"PAR1"
    assert pq.read_metadata(written[".parquet"]).num_rows == plain.count(b"\n")


@pytest.mark.parametrize(("name", "magic"), [("G.JSONL.GZ", b"\x1f\x8b"), ("g.jsonl.ZST", b"\x28\xb5\x2f\xfd"),
                                            ("G.PARQUET", b"PAR1")], ids=["gz", "zst", "parquet"])  # fmt: skip
def test_a_name_in_capitals_gets_its_format_too(tmp_path: Path, name: str, magic: bytes) -> None:
    """The suffix is taken in any case (written_suffix), so the writer must compress in any case too."""
    out = tmp_path / name
    _generate(out)
    assert out.read_bytes()[: len(magic)] == magic


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst", ".parquet"])
def test_profile_gives_the_figures_of_the_jsonl(written: dict[str, Path], suffix: str) -> None:
    assert _figures(written[suffix]) == _figures(written[".jsonl"])


def test_the_parquet_file_is_sorted_by_request_as_convert_writes_it(written: dict[str, Path], tmp_path: Path) -> None:
    t = pq.read_table(written[".parquet"])
    ids = t.column("request_id").to_pylist()
    first: dict[str, float] = {}
    for r, start in zip(ids, t.column("start_ms").to_pylist(), strict=True):
        first[r] = min(first.get(r, start), start)
    starts = list(first.values())  # each request's first start, requests in the order of the file
    changes = sum(a != b for a, b in itertools.pairwise(ids))
    assert changes + 1 == len(starts)  # each request's spans together (one run of rows a request)
    assert starts == sorted(starts)  # requests in order of their first span's start
    converted = tmp_path / "c.parquet"
    r = runner.invoke(app, ["convert", str(written[".jsonl"]), "-o", str(converted)], env=WIDE)
    assert r.exit_code == 0, r.output
    c = pq.read_table(converted)
    assert c.schema.remove_metadata() == t.schema.remove_metadata()
    assert c.drop_columns(["source_file"]).equals(t.drop_columns(["source_file"]))
    assert set(t.column("source_file").to_pylist()) == {f"{written['.parquet']} (generated)"}


@pytest.mark.parametrize("name", ["x.json", "x", "x.txt", "x.gz", "x.parquet.txt", ".jsonl", ".pq"])
def test_another_name_is_refused_in_one_line_listing_the_accepted_ones(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    r = runner.invoke(app, ["generate", str(RECIPE), "-n", "10", "-o", str(out)], env=WIDE)
    assert r.exit_code == 2, r.output  # a name generate cannot write: a usage error (docs/commands/index.md)
    said = " ".join(r.output.replace("\u2502", " ").split())  # the usage error's box sides off
    assert (
        f"Invalid value for '--out' / '-o': {out}: generate writes a log in the format its name says "
        "(name the file *.jsonl, *.jsonl.gz, *.jsonl.zst, *.parquet, *.parq or *.pq)"
    ) in said, r.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("columns", [80, 200], ids=["80-columns", "200-columns"])
def test_the_help_example_can_be_pasted(tmp_path: Path, columns: int) -> None:
    help_text = runner.invoke(app, ["generate", "-h"], env={"COLUMNS": str(columns)}).output
    lines = [line.strip() for line in help_text.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("recipemut generate "))
    example = []
    for line in lines[start:]:
        example.append(line)
        if not line.endswith("\\"):
            break
    # at 80 columns split over lines, each but the last ending in a backslash; at 200 one line
    assert (len(example) > 1) == (columns == 80), example
    words = shlex.split(" ".join(line.removesuffix("\\") for line in example))
    assert words[:2] == ["recipemut", "generate"]
    args = words[2:]
    args[args.index("-n") + 1] = "2000"  # the example's 4,000,000 requests, fewer
    args[args.index("--out") + 1] = str(tmp_path / "logs.jsonl.gz")
    r = runner.invoke(app, ["generate", *[str(ROOT / a) if a.startswith("recipes/") else a for a in args]], env=WIDE)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "logs.jsonl.gz").read_bytes()[:2] == b"\x1f\x8b"
