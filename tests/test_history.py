"""The history chain: written and read back, and every kind of damage reported with its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recipemut.apply.history import (
    Entry,
    decode,
    encode,
    history_path,
    known_versions,
    max_version,
    new_entry,
    read_history,
    recipe_state,
    sha256_text,
    text_of_version,
    write_history,
)
from recipemut.errors import HistoryError

WHO = {"user": "ann@host", "tool": "recipemut test", "argv": ["recipemut", "apply"]}
T1, T2, T3 = "version: 1\n# one\n", "version: 2\n# two\n", "version: 3\n# three\n"


def _chain() -> list[Entry]:
    e1 = new_entry(None, action="apply", previous_text=T1, text=T2, version_before=1, version=2,
                   mutations=[{"id": "m1", "operator": "parallelize", "description": "d",
                               "predicted": {"latency_p95_ms": {"delta": -4.0}}}], writer=WHO)
    e2 = new_entry(e1, action="apply", previous_text=T2, text=T3, version_before=2, version=3, writer=WHO)
    e3 = new_entry(e2, action="rollback", previous_text=T3, text=T2, version_before=3, version=2, writer=WHO)
    return [e1, e2, e3]


def test_write_and_read_back(tmp_path: Path) -> None:
    r = tmp_path / "r.yaml"
    write_history(r, _chain())
    assert history_path(r) == tmp_path / "r.yaml.history.jsonl"
    got = read_history(r)
    assert [e.action for e in got] == ["apply", "apply", "rollback"]
    assert got[0].prev_hash is None and got[1].prev_hash == got[0].hash
    assert got[0].previous_text == T1 and got[0].predicted == {"m1": {"latency_p95_ms": {"delta": -4.0}}}
    assert got[0].who["user"] == "ann@host"


def test_missing_history_is_empty(tmp_path: Path) -> None:
    assert read_history(tmp_path / "r.yaml") == ()


def _lines(tmp_path: Path) -> tuple[Path, list[str]]:
    r = tmp_path / "r.yaml"
    write_history(r, _chain())
    return history_path(r), history_path(r).read_text().splitlines(keepends=True)


def _expect(tmp_path: Path, text: str, line: int, match: str) -> None:
    history_path(tmp_path / "r.yaml").write_text(text)
    with pytest.raises(HistoryError, match=match) as ei:
        read_history(tmp_path / "r.yaml")
    assert ei.value.line == line
    assert str(ei.value).startswith(f"{history_path(tmp_path / 'r.yaml')}:{line}:")


def test_altered_text_is_caught_on_its_line(tmp_path: Path) -> None:
    _, lines = _lines(tmp_path)
    d = json.loads(lines[1])
    d["text"] = d["text"].replace("three", "THREE")
    lines[1] = json.dumps(d) + "\n"
    _expect(tmp_path, "".join(lines), 2, "hash does not match")


def test_removed_entry_is_caught(tmp_path: Path) -> None:
    _, lines = _lines(tmp_path)
    _expect(tmp_path, lines[0] + lines[2], 2, "entry number 3 where 2 was expected")


def test_truncated_last_line_is_caught(tmp_path: Path) -> None:
    _, lines = _lines(tmp_path)
    _expect(tmp_path, "".join(lines)[:-40], 3, "truncated")


def test_garbage_line_is_caught(tmp_path: Path) -> None:
    _, lines = _lines(tmp_path)
    _expect(tmp_path, lines[0] + "{not json\n" + lines[2], 2, "not a JSON entry")


def test_schema_violation_is_caught(tmp_path: Path) -> None:
    _, lines = _lines(tmp_path)
    d = json.loads(lines[0])
    d["action"] = "frobnicate"
    _expect(tmp_path, json.dumps(d) + "\n" + "".join(lines[1:]), 1, "action")


def test_rehashed_forgery_breaks_the_chain(tmp_path: Path) -> None:
    chain = _chain()
    forged = new_entry(None, action="apply", previous_text=T1, text="version: 2\n# forged\n", version_before=1,
                       version=2, writer=WHO, time=chain[0].time)
    text = "".join(json.dumps(e.to_dict()) + "\n" for e in [forged, *chain[1:]])
    _expect(tmp_path, text, 2, "prev_hash")


def test_states() -> None:
    chain = _chain()
    assert recipe_state([], sha256_text(T1)) == "untracked"
    assert recipe_state(chain, sha256_text(T2)) == "recorded"
    assert recipe_state(chain, sha256_text(T3)) == "interrupted"
    assert recipe_state(chain, sha256_text("version: 9\n")) == "hand-edited"


def test_versions_and_texts() -> None:
    chain = _chain()
    assert known_versions(chain) == [1, 2, 3]
    assert text_of_version(chain, 1)[0] == T1
    assert text_of_version(chain, 3)[0] == T3
    assert max_version(chain, 1) == 3
    with pytest.raises(HistoryError, match=r"version 7 is not in the history \(recorded versions: 1, 2, 3\)"):
        text_of_version(chain, 7)


def test_any_bytes_survive_exactly(tmp_path: Path) -> None:
    raw = b"name: caf\xc3\xa9\r\nbad: \xff\xfe\n\tend"
    text = decode(raw)
    e = new_entry(None, action="apply", previous_text=text, text="x: 1\n", version_before=None, version=None,
                  writer=WHO)
    write_history(tmp_path / "r.yaml", [e])
    assert encode(read_history(tmp_path / "r.yaml")[0].previous_text or "") == raw


@pytest.mark.parametrize(
    ("line", "match"),
    [("[" * 200_000 + "\n", "nested too deeply"), ('{"seq": ' + "9" * 5_000 + "}\n", "a number too long to read")],
    ids=["deep-nesting", "5000-digit-integer"],
)
def test_a_damaged_line_is_one_error_on_its_line(tmp_path: Path, line: str, match: str) -> None:
    """json.loads raises RecursionError and ValueError, not JSONDecodeError, for these: a traceback before."""
    _, lines = _lines(tmp_path)
    _expect(tmp_path, lines[0] + line + lines[2], 2, match)
