"""``--logs`` values as paths and URLs (recipemut/logs/urls.py): what the text says survives ``Path``."""

from __future__ import annotations

from pathlib import Path

import pytest

from recipemut.errors import LogError
from recipemut.logs.urls import as_url, log_path, log_paths


@pytest.mark.parametrize(
    "text",
    ["file:///localhost/day-1.jsonl", "file:///data/lake/*.parquet", "file://localhost/data/a.jsonl",
     "s3://bucket/logs/a.parquet", "gs://b/x.jsonl"],
)  # fmt: skip
def test_a_url_made_a_path_is_read_back_as_the_url_it_was(text: str) -> None:
    # file:///localhost/x (a folder named localhost) became Path 'file:/localhost/x', read back as /x
    expected = {"file://localhost/data/a.jsonl": "file:///data/a.jsonl"}.get(text, text)
    assert as_url(log_path(text)) == expected


@pytest.mark.parametrize("text", ["file://nas/data/a.jsonl", "FILE://Other.Host/x", "file://tmp/x/*.parquet"])
def test_a_file_url_naming_another_host_is_refused_from_its_text(text: str) -> None:
    with pytest.raises(LogError, match="names the host") as e:
        log_path(text)
    assert e.value.file == text


def test_local_paths_stay_paths() -> None:
    assert log_paths(["logs/a.jsonl", "-", "C:x"]) == [Path("logs/a.jsonl"), Path("-"), Path("C:x")]
