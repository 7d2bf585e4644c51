"""The memory estimate is told the log format the user forced (``--log-format``): it leaves a sparse
file's holes out only for native JSONL, which skips them unread, and a file named otlp by the user is
read by a reader that would hold them."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from recipemut.errors import RecipemutError
from recipemut.logs import ingest
from recipemut.logs.ingest import read_logs
from recipemut.usecases import partition
from recipemut.usecases.inputs import LogSource

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("fmt", ["auto", "native", "otlp"])
def test_read_logs_tells_the_estimate_the_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    seen: list[Any] = []
    real = ingest.sampler_for

    def spy(*args: Any, **kw: Any) -> Any:
        seen.append(kw.get("log_format", "auto"))
        return real(*args, **kw)

    monkeypatch.setattr(ingest, "sampler_for", spy)
    log = tmp_path / "a.jsonl"
    log.write_text('{"request_id": "r1", "op": "load_cart", "start_ms": 1, "latency_ms": 2, "status": "ok"}\n')
    with contextlib.suppress(RecipemutError):  # an OTLP reading of a native line is refused: the estimate came first
        read_logs([log], log_format=fmt)
    assert seen == [fmt]


def test_convert_tells_the_estimate_the_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    real = partition.sampler_for

    def spy(*args: Any, **kw: Any) -> Any:
        seen.append(kw.get("log_format", "auto"))
        return real(*args, **kw)

    monkeypatch.setattr(partition, "sampler_for", spy)
    src = LogSource(paths=(ROOT / "recipes" / "checkout" / "logs.jsonl.gz",), log_format="native")
    partition.write_file(src, tmp_path / "x.parquet")
    assert seen == ["native"]
