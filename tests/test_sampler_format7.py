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


def _spy_on_sampler_for(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[Any]:
    """The ``log_format`` each call of ``module.sampler_for`` is given, in order (the call goes on)."""
    seen: list[Any] = []
    real = module.sampler_for

    def spy(*args: Any, **kw: Any) -> Any:
        seen.append(kw.get("log_format", "auto"))
        return real(*args, **kw)

    monkeypatch.setattr(module, "sampler_for", spy)
    return seen


@pytest.mark.parametrize("fmt", ["auto", "native", "otlp"])
def test_read_logs_tells_the_estimate_the_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    seen = _spy_on_sampler_for(monkeypatch, ingest)
    log = tmp_path / "a.jsonl"
    log.write_text('{"request_id": "r1", "op": "load_cart", "start_ms": 1, "latency_ms": 2, "status": "ok"}\n')
    with contextlib.suppress(RecipemutError):  # an OTLP reading of a native line is refused: the estimate came first
        read_logs([log], log_format=fmt)
    assert seen == [fmt]


def test_convert_tells_the_estimate_the_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy_on_sampler_for(monkeypatch, partition)
    src = LogSource(paths=(ROOT / "recipes" / "checkout" / "logs.jsonl.gz",), log_format="native")
    partition.write_file(src, tmp_path / "x.parquet")
    assert seen == ["native"]
