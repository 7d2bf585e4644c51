"""generate: a log whose estimated peak in memory is over what is available is refused before any work.

`generate -n 3000000 --days 2 -o big.jsonl.gz` was killed by the kernel's OOM killer (18.8 GB
anon-rss on a 24 GB machine) with no message: the log is built whole in memory, about 1 KB a span.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import recipemut.usecases.generate as usecase
from recipemut.cli import app
from recipemut.errors import InputFileError
from recipemut.loggen import generate_spans, load_params
from recipemut.loggen.memory import BASE_BYTES, BYTES_PER_SPAN, PILOT_REQUESTS, peak_bytes, pilot
from recipemut.recipe.loader import load_recipe

CHECKOUT = Path(__file__).resolve().parents[1] / "recipes" / "checkout" / "recipe.yaml"
runner = CliRunner()


def _fake_memory(monkeypatch: pytest.MonkeyPatch, available: int) -> list[int]:
    """``MemAvailable`` made ``available`` bytes; the request counts generate_spans is called with."""
    calls: list[int] = []
    real = usecase.generate_spans

    def spy(recipe, n, **kw):  # type: ignore[no-untyped-def]
        calls.append(n)
        return real(recipe, n, **kw)

    monkeypatch.setattr(usecase, "available_memory", lambda: available)
    monkeypatch.setattr(usecase, "generate_spans", spy)
    return calls


def test_over_available_memory_is_refused_in_one_line_before_any_work(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = _fake_memory(monkeypatch, 1 << 30)
    out = tmp_path / "big.jsonl.gz"
    res = runner.invoke(app, ["generate", str(CHECKOUT), "-n", "3000000", "--days", "2", "-o", str(out)])
    assert res.exit_code == 1, res.output
    err = res.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith("error: --requests 3,000,000: this log would take about ")
    assert "over the 1 GiB available (MemAvailable); nothing was generated" in err
    assert re.search(r"--sample-rate 0\.0\d+ or lower, or -n [\d,]+ or fewer fits; --memory-budget off", err), err
    assert not out.exists()
    assert calls == [PILOT_REQUESTS]  # only the pilot: not the 3,000,000 requests


def test_memory_budget_off_tries_anyway_and_a_budget_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = _fake_memory(monkeypatch, 1)
    out = tmp_path / "g.jsonl"
    args = ["generate", str(CHECKOUT), "-n", "600", "--days", "1", "-o", str(out)]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1 and "over the 1 B available (MemAvailable)" in refused.stderr
    assert "nothing fits (the process needs more before any span)" in refused.stderr
    named = runner.invoke(app, [*args, "--memory-budget", "100M"])
    assert named.exit_code == 1 and "over the 100 MiB of --memory-budget" in named.stderr
    calls.clear()
    res = runner.invoke(app, [*args, "--memory-budget", "off"])
    assert res.exit_code == 0, res.output
    assert calls == [600] and out.stat().st_size > 0
    generous = runner.invoke(app, [*args, "--memory-budget", "8G", "--force"])
    assert generous.exit_code == 0, generous.output


def test_a_bad_memory_budget_is_a_usage_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["generate", str(CHECKOUT), "-n", "10", "-o", str(tmp_path / "g.jsonl"),
                              "--memory-budget", "lots"])  # fmt: skip
    assert res.exit_code == 2 and "--memory-budget: 'lots' is not a size" in res.stderr
    assert not (tmp_path / "g.jsonl").exists()


def _pilot(per_request: int):  # type: ignore[no-untyped-def]
    return lambda n: pd.DataFrame({"request_id": [f"r{i // per_request}" for i in range(per_request * n)]})


def _traffic(requests: int, rate: float | None = None) -> usecase.Traffic:
    return usecase.Traffic(requests, 0.0, 1.0, sample_rate=rate)


@pytest.mark.parametrize("rate", [None, 0.5, 0.05])
@pytest.mark.parametrize("suffix", [".jsonl.gz", ".parquet"])
def test_the_options_it_suggests_fit_and_the_sample_rate_counts(rate: float | None, suffix: str) -> None:
    budget = 2 << 30
    traffic = _traffic(20_000_000, rate)
    with pytest.raises(InputFileError) as e:
        usecase.check_memory(traffic, suffix, _pilot(10), budget)
    msg = e.value.message
    expected = 20_000_000 * (rate or 1.0) * 10
    assert f"about {expected:,.0f} spans, 10.0 per request" in msg
    m = re.search(r"--sample-rate ([\d.e-]+) or lower, or -n ([\d,]+) or fewer fits", msg)
    assert m, msg
    suggested_rate, suggested_n = float(m.group(1)), int(m.group(2).replace(",", ""))
    usecase.check_memory(_traffic(20_000_000, suggested_rate), suffix, _pilot(10), budget)
    usecase.check_memory(_traffic(suggested_n, rate), suffix, _pilot(10), budget)
    # and they are near the most that fits (two significant digits, rounded down)
    with pytest.raises(InputFileError):
        usecase.check_memory(_traffic(int(suggested_n * 1.2), rate), suffix, _pilot(10), budget)


def test_a_sampled_log_is_estimated_by_the_requests_it_keeps() -> None:
    # -n 4,000,000 --sample-rate 0.001 (298 MB measured) fits in 1 GiB; the whole 4,000,000 would not
    usecase.check_memory(_traffic(4_000_000, 0.001), ".jsonl.gz", _pilot(15), 1 << 30)
    with pytest.raises(InputFileError):
        usecase.check_memory(_traffic(4_000_000), ".jsonl.gz", _pilot(15), 1 << 30)
    # a log no bigger than the pilot is not estimated at all
    usecase.check_memory(_traffic(PILOT_REQUESTS), ".jsonl", _pilot(10**6), 1)


def test_the_pilot_gives_the_spans_per_request_of_the_whole_log() -> None:
    recipe = load_recipe(CHECKOUT)
    params = load_params(CHECKOUT.parent / "loggen.yaml")
    whole = generate_spans(recipe, 4000, seed=3, params=params)
    per_request, calls = pilot(lambda n: generate_spans(recipe, n, seed=3, params=params))
    assert per_request == pytest.approx(len(whole) / 4000, rel=0.05) and not calls


def test_peak_model_is_the_measured_figures() -> None:
    # /usr/bin/time -v: 433,537 spans of checkout to .jsonl.gz 652,120 kB; 1,443,545 spans 1,591,064 kB
    for spans, kb in ((433_537, 652_120), (1_443_545, 1_591_064)):
        assert peak_bytes(spans, ".jsonl.gz") == pytest.approx(kb * 1024, rel=0.1)
    for spans, kb in ((433_537, 578_336), (1_443_545, 1_350_544)):  # .parquet
        assert peak_bytes(spans, ".parquet") == pytest.approx(kb * 1024, rel=0.1)
    assert set(BYTES_PER_SPAN) == set(usecase.WRITTEN) and BASE_BYTES > 0


def test_a_fan_out_log_is_estimated_with_its_call_columns(tmp_path: Path) -> None:
    # hotrod (docs/commands/generate.md): 10 drivers per request, retried: 13.9 spans per request with span_id
    (tmp_path / "recipe.yaml").write_text(HOTROD, encoding="utf-8")
    (tmp_path / "loggen.yaml").write_text(HOTROD_LOGGEN, encoding="utf-8")
    recipe = load_recipe(tmp_path / "recipe.yaml")
    params = load_params(tmp_path / "loggen.yaml")
    per_request, calls = pilot(lambda n: generate_spans(recipe, n, seed=1, params=params))
    assert calls and 12 < per_request < 16
    # /usr/bin/time -v: 277,440 spans 574,396 kB; 832,767 spans 1,219,604 kB
    for spans, kb in ((277_440, 574_396), (832_767, 1_219_604)):
        assert peak_bytes(spans, ".jsonl.gz", calls) == pytest.approx(kb * 1024, rel=0.1)
    with pytest.raises(InputFileError, match=r"about 2\d,\d{3},\d{3} spans, 1[34]\.\d per request"):
        usecase.check_memory(
            _traffic(2_000_000), ".jsonl", lambda n: generate_spans(recipe, n, seed=1, params=params), 1 << 30
        )


HOTROD = """\
apiVersion: recipemut/v1
kind: Recipe
name: hotrod
version: 1
fields:
  location: {type: object}
  driver_ids: {type: array}
  drivers: {type: array}
  sms: {type: object}
inputs: [location]
outputs: [sms]
operations:
  - {id: find_driver_ids, service: redis, action: FindDriverIDs, consumes: [location], produces: [driver_ids]}
  - {id: get_driver, service: redis, action: GetDriver, consumes: [driver_ids], produces: [drivers],
     cost_per_call_usd: 0.0001, deterministic: true, foreach: driver_ids, retry: {max_attempts: 3}}
  - {id: notify, service: sms, action: Send, consumes: [drivers], produces: [sms], when: opted in}
"""
HOTROD_LOGGEN = """\
operations:
  get_driver: {latency_median_ms: 10, error_prob: 0.2}
fields:
  driver_ids: {items_mean: 10, items_max: 20, universe: 50}
"""


def test_an_empty_memory_budget_is_no_size_as_for_every_command(tmp_path: Path) -> None:
    """`--memory-budget ''` fell back to the default for generate alone; profile and convert refuse it."""
    res = runner.invoke(app, ["generate", str(CHECKOUT), "-n", "10", "--memory-budget", "",
                                   "-o", str(tmp_path / "g.jsonl")], env={"COLUMNS": "200"})  # fmt: skip
    assert res.exit_code == 2 and "'' is not a size" in res.output, res.output
    assert not (tmp_path / "g.jsonl").exists()


def test_running_out_of_memory_past_the_check_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--memory-budget off (or one too large) lets an allocation fail: a numpy _ArrayMemoryError
    traceback before (-n 1e12 asked 7.28 TiB); one line now, nothing written."""
    import recipemut.usecases.generate as gen

    def too_big(*_: object, **__: object) -> None:
        raise MemoryError("Unable to allocate 7.28 TiB")

    monkeypatch.setattr(gen, "generate_spans", too_big)
    out = tmp_path / "g.jsonl"
    res = runner.invoke(app, ["generate", str(CHECKOUT), "-n", "600", "--memory-budget", "off", "-o", str(out)],
                        env={"COLUMNS": "200"})  # fmt: skip
    assert res.exit_code == 1, res.output
    assert "ran out of memory generating 600 requests; nothing was written" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert not out.exists()
