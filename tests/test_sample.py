"""Request sampling at ingest: whole requests by a hash of request_id, the same in every file, run
and variant; every request still counted for the rate series; automatic under a memory budget."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from _profile_helpers import diamond, line, span, write_lines
from typer.testing import CliRunner

from recipemut.errors import LogError
from recipemut.logs import sample as sample_mod
from recipemut.logs.ingest import read_logs
from recipemut.logs.sample import auto_fraction, id_hash, keep_mask, parse_size, row_hashes
from recipemut.recipe.loader import load_recipe
from recipemut.usecases.forecast import build_report
from recipemut.usecases.inputs import LogSource, load_inputs

CHECKOUT = Path(__file__).resolve().parents[1] / "recipes" / "checkout"
M64 = (1 << 64) - 1


def reference_hash(text: str) -> int:
    """FNV-1a 64 over the UTF-8 bytes, then splitmix64: the hash written out in plain Python."""
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & M64
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & M64
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & M64
    return h ^ (h >> 31)


def test_id_hash_is_the_written_out_hash_for_any_ids() -> None:
    rnd = random.Random(7)
    alphabet = "abcXYZ0189-_:/é漢🙂"
    ids = ["", "r-1", "x" * 300] + ["".join(rnd.choices(alphabet, k=rnd.randint(0, 60))) for _ in range(500)]
    got = id_hash(pa.array(ids))
    assert got.dtype == np.uint64
    assert got.tolist() == [reference_hash(s) for s in ids]
    # a pinned value: the sample is the same on every machine and in every release
    assert int(id_hash(pa.array(["req-42"]))[0]) == 3473438600871534303


def test_row_hashes_follow_the_rows_and_sliced_arrays_hash_alike() -> None:
    arr = pa.array(["b", "a", "b", None, "c"])
    h = row_hashes(arr)
    assert h[0] == h[2] and h[0] != h[1]
    assert h[3] == reference_hash("")
    assert id_hash(arr.slice(1, 3)).tolist() == [reference_hash("a"), reference_hash("b"), reference_hash("")]


def test_keep_mask_keeps_about_the_fraction_within_a_binomial_bound() -> None:
    n = 40_000
    h = id_hash(pa.array([f"request-{i}" for i in range(n)]))
    for f in (0.01, 0.1, 0.5):
        k = int(keep_mask(h, f).sum())
        assert abs(k - n * f) < 5 * math.sqrt(n * f * (1 - f)), (f, k)
    assert keep_mask(h, 1.0).all()
    # a smaller fraction keeps a subset of a larger one's requests (nested samples)
    assert not (keep_mask(h, 0.1) & ~keep_mask(h, 0.5)).any()


def test_sizes_and_auto_fraction() -> None:
    assert parse_size("1.5G") == 3 << 29 and parse_size("64k") == 65536 and parse_size(None) is None
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")
    assert auto_fraction(1000, 333) == 0.33 and auto_fraction(10**9, 1234) == 1.2e-6


def _spans(n_req: int, variant: str | None = None, prefix: str = "r") -> list[str]:
    out = []
    for i in range(n_req):
        extra = {"variant": variant} if variant else {}
        t = 1_700_000_000_000 + i * 1000
        out.append(line(span(f"{prefix}{i}", "load", t, 10 + i % 7, **extra)))
        out.append(line(span(f"{prefix}{i}", "left", t + 10, 20 + i % 5, **extra)))
        out.append(line(span(f"{prefix}{i}", "right", t + 10, 30, **extra)))
        out.append(line(span(f"{prefix}{i}", "join", t + 45, 5, **extra)))
    return out


def _per_request(df) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return df.groupby("request_id").size().to_dict()


def test_sampling_keeps_whole_requests_deterministically_and_alike_across_files(tmp_path: Path) -> None:
    lines = _spans(400)
    # one file, and the same spans split so that every request has spans in both files
    one = write_lines(tmp_path / "one.jsonl", lines)
    a = write_lines(tmp_path / "a.jsonl", [x for i, x in enumerate(lines) if i % 4 < 2])
    b = write_lines(tmp_path / "b.jsonl", [x for i, x in enumerate(lines) if i % 4 >= 2])
    full, _ = read_logs(one, recipe=diamond())
    s1, rep1 = read_logs(one, recipe=diamond(), sample_requests=0.25)
    s2, _ = read_logs([a, b], recipe=diamond(), sample_requests=0.25)
    per_full, per_1 = _per_request(full), _per_request(s1)
    assert 0 < len(per_1) < 400
    assert all(per_1[r] == per_full[r] == 4 for r in per_1)  # whole requests
    assert _per_request(s2) == per_1  # the same requests whichever file held their spans
    again, _ = read_logs(one, recipe=diamond(), sample_requests=0.25)
    assert again["request_id"].tolist() == s1["request_id"].tolist()  # deterministic
    expected = keep_mask(id_hash(pa.array([f"r{i}" for i in range(400)])), 0.25)
    assert sorted(per_1) == sorted(f"r{i}" for i in np.flatnonzero(expected))
    assert rep1.sample is not None and rep1.sample.requests_total == 400
    assert rep1.sample.requests_kept == rep1.requests == len(per_1)
    assert rep1.to_dict()["sampling"] == {
        "fraction": 0.25, "requests_total": 400, "requests_kept": len(per_1), "automatic": False,
        "reason": "--sample-requests 0.25",
    }  # fmt: skip
    assert "sampled 0.25 of requests (" in rep1.summary()
    assert set(s1["sample_rate"]) == {0.25}  # each kept request stands for four


def test_a_canarys_variants_are_sampled_alike(tmp_path: Path) -> None:
    control = write_lines(tmp_path / "control.jsonl", _spans(300))
    canary = write_lines(tmp_path / "canary.jsonl", _spans(300, variant="canary-v5"))
    c, _ = read_logs(control, recipe=diamond(), sample_requests=0.3)
    v, _ = read_logs(canary, recipe=diamond(), sample_requests=0.3)
    assert sorted(set(c["request_id"])) == sorted(set(v["request_id"]))


def test_sampling_counts_exclusions_over_every_span(tmp_path: Path) -> None:
    lines = _spans(200) + [line(span(f"o{i}", "load", 1_700_000_000_000 + i, 1, recipe="other")) for i in range(50)]
    lines += [line(span(f"u{i}", "mystery", 1_700_000_000_000 + i, 1)) for i in range(30)]
    p = write_lines(tmp_path / "mix.jsonl", lines)
    _, full = read_logs(p, recipe=diamond())
    _, sampled = read_logs(p, recipe=diamond(), sample_requests=0.2)
    assert dict(sampled.other_recipes) == dict(full.other_recipes) == {"other": 50}
    assert dict(sampled.unknown_ops) == dict(full.unknown_ops) == {"mystery": 30}
    assert sampled.sample is not None and sampled.sample.requests_total == 200


def test_a_sample_that_keeps_nothing_is_one_clear_error(tmp_path: Path) -> None:
    p = write_lines(tmp_path / "few.jsonl", _spans(3))
    h = id_hash(pa.array(["r0", "r1", "r2"]))
    tiny = float((h >> np.uint64(11)).min()) / 2**53 / 2  # below every request's hash
    with pytest.raises(LogError, match="kept none of the 3 requests"):
        read_logs(p, recipe=diamond(), sample_requests=tiny)


def test_forecasts_rate_series_is_unchanged_by_sampling() -> None:
    src = LogSource.of(CHECKOUT / "logs.jsonl.gz")
    full = build_report(load_inputs(CHECKOUT / "recipe.yaml", src))
    sampled_in = load_inputs(CHECKOUT / "recipe.yaml", LogSource.of(CHECKOUT / "logs.jsonl.gz", sample_requests=0.1))
    assert sampled_in.report.sample is not None and sampled_in.profile is not None
    assert sampled_in.profile.n_requests == sampled_in.report.sample.requests_kept < 3964 * 0.2
    sampled = build_report(sampled_in)
    np.testing.assert_array_equal(sampled.forecast.history.rps, full.forecast.history.rps)
    np.testing.assert_array_equal(sampled.forecast.history.index, full.forecast.history.index)
    np.testing.assert_allclose(sampled.forecast.point, full.forecast.point)
    assert sampled.sample_rate_note == full.sample_rate_note  # the tracer's sample_rate, not the sample's
    assert full.sample_rate_note == "rates scaled by 1/0.001 (tracer sample rate 0.001 from the logs' sample_rate)"


def test_profile_figures_are_computed_on_the_sample_and_say_so() -> None:
    from recipemut.cli import app

    runner = CliRunner()
    args = ["profile", str(CHECKOUT / "recipe.yaml"), "--logs", str(CHECKOUT / "logs.jsonl.gz"), "-f", "json"]
    full = runner.invoke(app, args, env={"COLUMNS": "200"})
    res = runner.invoke(app, [*args, "--sample-requests", "0.2"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    data, whole = json.loads(res.stdout), json.loads(full.stdout)
    kept = data["ingest"]["sampling"]["requests_kept"]
    assert data["ingest"]["sampling"]["requests_total"] == whole["ingest"]["requests"] == 3964
    assert data["ingest"]["requests"] == kept < 3964 * 0.3
    assert "sampled 0.2 of requests by request_id" in res.stderr


def test_automatic_sampling_under_a_tiny_budget_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    logs = CHECKOUT / "logs.jsonl.gz"
    monkeypatch.setenv(sample_mod.BUDGET_ENV, "4M")
    _, rep = read_logs(logs, recipe=load_recipe(CHECKOUT / "recipe.yaml"))
    assert rep.sample is not None and rep.sample.automatic and 0 < rep.sample.fraction < 1
    assert any("automatically" in n and "over the budget of 4 MiB" in n for n in rep.notes)
    _, explicit = read_logs(logs, sample_requests=1.0)  # --sample-requests 1: every request, no budget
    assert explicit.sample is None and explicit.requests == 3964
    _, off = read_logs(logs, memory_budget="off")
    assert off.sample is None
    monkeypatch.delenv(sample_mod.BUDGET_ENV)
    _, roomy = read_logs(logs)  # half the available memory: the shipped log fits
    assert roomy.sample is None


def test_memory_budget_option_on_the_command_line(tmp_path: Path) -> None:
    from recipemut.cli import app

    runner = CliRunner()
    args = ["forecast", str(CHECKOUT / "recipe.yaml"), "--logs", str(CHECKOUT / "logs.jsonl.gz")]
    res = runner.invoke(app, [*args, "--memory-budget", "3M"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "sampled" in res.stderr and "automatically" in res.stderr
    bad = runner.invoke(app, [*args, "--memory-budget", "lots"], env={"COLUMNS": "200"})
    assert bad.exit_code == 2 and "not a size" in bad.output
    out = runner.invoke(app, [*args, "--sample-requests", "1.5"], env={"COLUMNS": "200"})
    assert out.exit_code == 2


def test_a_small_gzip_log_is_estimated_at_its_content_size(tmp_path: Path) -> None:
    import gzip

    p = tmp_path / "small.jsonl.gz"
    content = b'{"request_id": "r1"}\n' * 3
    p.write_bytes(gzip.compress(content))
    assert sample_mod.estimated_memory([p], {p: "gzip"}) == int(len(content) * sample_mod.EXPANSION)
    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(content)
    assert sample_mod.estimated_memory([plain], {}) == int(len(content) * sample_mod.EXPANSION)


@pytest.mark.parametrize(("available", "budget"), [(64 << 30, 4 << 30), (22 << 30, 4 << 30), (2 << 30, 1 << 30)])
def test_the_default_budget_is_half_the_available_memory_at_most_4_gib(
    monkeypatch: pytest.MonkeyPatch, available: int, budget: int
) -> None:
    monkeypatch.delenv(sample_mod.BUDGET_ENV, raising=False)
    monkeypatch.setattr(sample_mod, "available_memory", lambda: available)
    assert sample_mod.memory_budget() == budget
    assert sample_mod.memory_budget("1G") == 1 << 30
