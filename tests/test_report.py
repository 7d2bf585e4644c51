"""`recipemut report`: one self-contained HTML page (nothing fetched, no script), user text escaped,
the plan's DAG changes marked, every section drawn; opened in a real headless chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from recipemut import loggen
from recipemut.cli import app
from recipemut.recipe.model import recipe_from_dict

runner = CliRunner()
ENV = {"RECIPEMUT_STORE": "off", "COLUMNS": "200"}
NAME = '<script>alert("pwned")</script> & co'
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: chromium's stderr line for a console message of the page (any level: the page has no script, so
#: every one is a failure: a blocked fetch, a Content-Security-Policy violation, a parse error)
CONSOLE_LINE = re.compile(r":CONSOLE[:(]")


def _doc() -> dict[str, object]:
    """load_user waits for load_cart through an ``after`` edge only: parallelize removes it."""
    capacity = {"replicas": 2, "concurrency_per_replica": 8, "target_utilization": 0.7}
    return {
        "apiVersion": "recipemut/v1", "kind": "Recipe", "name": NAME, "version": 2,
        "fields": {"order_id": {"type": "string"}, "cart": {"type": "object"}, "user": {"type": "object"},
                   "quote": {"type": "object"}},
        "inputs": ["order_id"], "outputs": ["quote"],
        "operations": [
            {"id": "load_cart", "service": "cart", "action": "GetCart", "consumes": ["order_id"], "produces": ["cart"]},
            {"id": "load_user", "service": "users", "action": "GetUser", "consumes": ["order_id"],
             "produces": ["user"], "after": ["load_cart"]},
            {"id": "price", "service": "pricing", "action": "Price", "consumes": ["cart", "user"],
             "produces": ["quote"]},
        ],
        "services": {"cart": capacity, "users": capacity, "idle": capacity},
    }  # fmt: skip


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("report")
    doc = _doc()
    recipe = tmp / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(doc, sort_keys=False))
    spans = loggen.generate_spans(
        recipe_from_dict(doc), n_requests=3000, seed=3, duration_s=4 * 86400.0, growth_per_day=0.05
    )
    log = tmp / "logs.jsonl"
    loggen.write_jsonl(spans, log)
    return recipe, log


@pytest.fixture(scope="module")
def page(inputs: tuple[Path, Path]) -> Path:
    recipe, log = inputs
    out = recipe.parent / "report.html"
    res = runner.invoke(app, ["report", str(recipe), "--logs", str(log), "-o", str(out), "--horizon", "20"], env=ENV)
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.output
    return out


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text inside <title>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _parse(text: str) -> _Elements:
    p = _Elements()
    p.feed(text)
    return p


def _ids(p: _Elements) -> set[str]:
    return {a["id"] or "" for _, a in p.tags if "id" in a}


def _element(text: str, tag: str, el_id: str) -> str:
    """The first ``<tag id="el_id">`` of ``text`` up to its closing tag (no nesting of the same tag)."""
    start = text.index(f'<{tag} id="{el_id}">')
    return text[start : text.index(f"</{tag}>", start)]


def _figure(text: str, fig_id: str) -> str:
    return _element(text, "figure", fig_id)


def test_the_page_is_self_contained(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    p = _parse(text)
    links = [v or "" for _, a in p.tags for k, v in a.items() if k in ("src", "href", "xlink:href", "action")]
    assert links and all(v.startswith(("#", "data:")) for v in links), [v for v in links if not v.startswith("#")]
    tags = {t for t, _ in p.tags}
    assert not tags & {"script", "link", "iframe", "object", "embed", "img"}, tags
    assert not re.search(r"@import|url\(\s*['\"]?(https?:|//)", text)
    csp = next(a for t, a in p.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert csp["content"] == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def test_user_text_is_escaped(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text  # the recipe's name is text, never an element
    p = _parse(text)
    assert p.title == f"recipemut report: {NAME} v2"  # the name reads as written
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; co" in text


def test_the_plan_and_its_dag_changes_are_marked(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert '<li class="removed">- edge load_cart -&gt; load_user (after)</li>' in text
    assert re.search(r'<li class="changed">~ load_user: after \[&#x27;load_cart&#x27;\] -&gt; \[\]</li>', text)
    assert "<code>parallelize:load_cart-&gt;load_user</code>" in _section(text, "plan")
    dag = _figure(text, "dag-figure")
    assert dag.count('<g id="dag-axes_') == 2  # before and after, side by side
    assert "#d62728" in dag  # the removed edge, drawn red in the "before" picture
    assert "#fff3cd" in dag  # load_user, changed, filled amber
    for label in ("operation changed", "edge removed", "on the critical path", "after edge"):
        assert f">{label}</text>" in dag


def test_code_in_reasons_is_set_as_code_not_backticks(page: Path) -> None:
    """The reasons say operation ids in backticks (as the terminal and Markdown do): set as <code>."""
    plan = _section(page.read_text(encoding="utf-8"), "plan")
    assert "`" not in plan, plan
    assert "<code>load_user</code>" in plan, plan  # in the parallelization's reason


def _section(text: str, sid: str) -> str:
    return _element(text, "section", sid)


def test_every_section_is_drawn(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    p = _parse(text)
    assert {"plan", "dag", "mutations", "critical-path", "forecast"} <= _ids(p)
    assert {"dag-figure", "intervals-figure", "forecast-figure"} <= _ids(p)
    ranked = _section(text, "mutations")
    assert "parallelize:load_cart-&gt;load_user" in _figure(ranked, "intervals-figure")  # a row of the plot
    assert "whole plan</text>" in _figure(ranked, "intervals-figure")
    path = _section(text, "critical-path")
    assert re.search(r"<li><code>(load_cart|load_user)</code> — p50 [\d.]+ ms", path)
    forecast = _figure(text, "forecast-figure")
    assert forecast.count('<g id="fc-axes_') == 3  # cart, users, pricing; idle has no traffic
    assert ">idle:" not in forecast


@pytest.mark.parametrize("verdict", ["improves", "regresses", "no significant difference", "too few requests to judge"])
def test_every_verdict_is_styled_by_one_css_class(verdict: str) -> None:
    from recipemut.judge.stats import VERDICTS
    from recipemut.report import page

    assert verdict in VERDICTS
    # 'too few requests to judge' gave class="verdict-too few requests to judge": four classes, none styled
    (classes,) = re.findall(r'class="([^"]*)"', page.verdict_html(verdict))
    assert re.fullmatch(r"verdict-[a-z][a-z0-9-]*", classes), classes
    if verdict == "too few requests to judge":  # amber, as evaluate shows an uncertain metric
        assert classes == "verdict-too-few" and ".verdict-too-few{color:#9a6700}" in page.CSS


def test_the_commands_defaults_are_the_searchs() -> None:
    from recipemut.commands import report
    from recipemut.plan import search

    assert report.DEFAULT_BUDGET == search.DEFAULT_BUDGET
    assert report.DEFAULT_TIME_BUDGET_S == search.DEFAULT_TIME_BUDGET_S


def test_an_unknown_operator_is_a_usage_error(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    recipe, log = inputs
    res = runner.invoke(
        app, ["report", str(recipe), "--logs", str(log), "-o", str(tmp_path / "r.html"), "-O", "paralelize"], env=ENV
    )
    assert res.exit_code == 2 and "unknown operator 'paralelize'" in res.output
    assert not (tmp_path / "r.html").exists()


def test_sample_requests_reads_a_share_of_requests(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    recipe, log = inputs
    out = tmp_path / "sampled.html"
    args = ["report", str(recipe), "--logs", str(log), "-o", str(out), "--sample-requests", "0.5", "-O", "parallelize"]
    res = runner.invoke(app, args, env=ENV)
    assert res.exit_code == 0, res.output
    assert "note: sampled 0.5 of requests by request_id" in res.output
    meta = re.search(r'<p class="meta">([^<]*)</p>', out.read_text(encoding="utf-8"))
    assert meta and "sampled 0.5 of requests" in meta.group(1)


def test_out_naming_the_recipe_is_refused(inputs: tuple[Path, Path]) -> None:
    recipe, log = inputs
    before = recipe.read_bytes()
    res = runner.invoke(app, ["report", str(recipe), "--logs", str(log), "-o", str(recipe)], env=ENV)
    assert res.exit_code == 2  # a name the report cannot have (docs/commands/index.md): refused before any work
    assert f"{recipe}: the report is an HTML page (name the file *.html)" in " ".join(res.output.split()), res.output
    assert recipe.read_bytes() == before


# ---- in a real browser ------------------------------------------------------------------------


def _chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    message = (
        "chromium not found (looked for " + ", ".join(CHROMIUM_NAMES) + "): `make test` installs Debian's "
        "chromium when run as root; otherwise `apt-get install chromium`"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _browse(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Open ``page`` in headless chromium (a fresh profile, no network services) with ``args``."""
    cmd = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp / 'profile'}",
        "--enable-logging=stderr", "--v=0", *args, page.resolve().as_uri(),
    ]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    return res


def _console(res: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in res.stderr.splitlines() if CONSOLE_LINE.search(line)]


def test_the_console_check_sees_a_console_error(tmp_path: Path) -> None:
    """The harness itself: a page that logs an error and fetches over the network is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "script-src 'unsafe-inline'\"></head><body><script>console.error('boom')</script>"
        '<img src="https://example.invalid/x.png"></body></html>'
    )
    lines = _console(_browse(bad, tmp_path, "--dump-dom"))
    assert any('"boom"' in line for line in lines), lines
    assert any("example.invalid" in line for line in lines), lines


def test_chromium_renders_the_report_with_no_console_message(page: Path, tmp_path: Path) -> None:
    res = _browse(page, tmp_path, "--dump-dom")
    assert _console(res) == []
    dom = _parse(res.stdout)
    assert {"plan", "dag", "mutations", "critical-path", "forecast"} <= _ids(dom)
    assert {"dag-figure", "intervals-figure", "forecast-figure"} <= _ids(dom)
    tags = [t for t, _ in dom.tags]
    assert tags.count("svg") == 3 and "script" not in tags
    assert dom.title == f"recipemut report: {NAME} v2"


def test_chromium_draws_the_report(page: Path, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "shot.png"
    res = _browse(page, tmp_path, "--window-size=1280,2600", f"--screenshot={shot}")
    assert _console(res) == []
    with Image.open(shot) as im:
        gray = np.asarray(im.convert("L"), dtype=float)
    assert gray.shape == (2600, 1280)
    assert (gray < 128).mean() > 0.01 and gray.std() > 20  # text and charts on white, not a blank page
