"""CLI polish a new user found: help readable at 80 columns, history ids never cut, one exit code for an
output suffix a command cannot write, the refused run's wording, forecast and the profile store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT, make_plan
from typer.main import get_command
from typer.testing import CliRunner

from recipemut import cli
from recipemut.cli import COMMANDS, HELP_MIN_WIDTH, app, make_app, type_words, value_words
from recipemut.commands._layout import Column, shared

runner = CliRunner()
PANEL_SIDES = "│"


def _help(name: str, columns: int) -> str:
    res = runner.invoke(app, [name, "--help"], env={"COLUMNS": str(columns)})
    assert res.exit_code == 0, res.output
    return res.output


def _params(name: str) -> list:
    return [p for p in get_command(make_app([name])).commands[name].params if not p.hidden]


def _continuation_widths(text: str) -> list[tuple[int, str]]:
    """For each panel line that carries on a cell of the row above (indented past the option names),
    how many columns its text had to wrap in."""
    widths = []
    for line in text.splitlines():
        if not (line.startswith(PANEL_SIDES) and line.endswith(PANEL_SIDES)):
            continue
        inner = line[1:-1]
        indent = len(inner) - len(inner.lstrip())
        if inner.strip() and indent > 6:
            widths.append((len(inner) - 1 - indent, line))
    return widths


# ---- 1. --help at 80 columns: the help text at least HELP_MIN_WIDTH wide, no value split ------------


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_at_80_columns_wraps_in_a_wide_column_and_keeps_values_whole(name: str) -> None:
    text = _help(name, 80)
    narrow = [(w, line) for w, line in _continuation_widths(text) if w < HELP_MIN_WIDTH]
    assert not narrow, "\n".join(line for _, line in narrow)
    lines = text.splitlines()
    for param in _params(name):
        words = value_words(param)
        if words:  # the value's words whole on one line, never split mid-word or cut with an ellipsis
            assert any(words in line for line in lines), (param.name, words, text)
        for opt in param.opts if param.param_type_name == "option" else ():
            assert any(opt in line.split() for line in lines), (opt, text)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_at_200_columns_keeps_the_value_column(name: str) -> None:
    """Wide terminals keep typer's table: each option, its value on its own row, its help unchanged."""
    _help(name, 80)  # drawn narrow first: what the narrow drawing sets is put back
    lines = _help(name, 200).splitlines()
    for param in _params(name):
        if param.param_type_name != "option":
            continue
        rows = [line for line in lines if line.startswith(PANEL_SIDES) and line[5] != " "]
        row = next(line for line in rows if line.strip(PANEL_SIDES + " *").startswith(param.opts[0] + " "))
        if type_words(param):
            assert value_words(param) in row, row
        assert "**" not in row and "\\" not in row, row
        first_words = " ".join((param.help or "").split()[:2])
        assert first_words in row, (first_words, row)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_table_width_is_what_typer_draws(name: str) -> None:
    """The estimate that picks the layout matches typer's tables: from the width where it says the help
    column is HELP_MIN_WIDTH, the wide tables are drawn and no help line is narrower."""
    params = _params(name)
    columns = next(c for c in range(40, 400) if cli.table_help_width(params, c) >= HELP_MIN_WIDTH)
    text = _help(name, columns)
    valued = [p for p in params if p.param_type_name == "option" and type_words(p)]
    rows = [line for line in text.splitlines() if line.startswith(PANEL_SIDES) and line[5] != " "]
    for param in valued:  # wide: each value on its option's row
        assert any(line.strip(PANEL_SIDES + " *").startswith(param.opts[0] + " ") and value_words(param) in line
                   for line in rows), (param.name, text)
    assert min((w for w, _ in _continuation_widths(text)), default=HELP_MIN_WIDTH) >= HELP_MIN_WIDTH, text


def test_typer_hooks_the_narrow_help_uses_are_there() -> None:
    """A typer upgrade that drops them fails here, not silently in the drawing."""
    from typer import rich_utils

    assert hasattr(rich_utils, "MAX_WIDTH")
    top = next(p for p in _params("suggest") if p.name == "top")
    assert callable(top.display_type_rich) and (top.min, top.max) == (1, None)
    assert value_words(top) == "INTEGER [x>=1]"


# ---- 2. history never cuts an id: the mutation ids apply --only takes, the entries rollback takes ------


@pytest.fixture(scope="module")
def applied_and_rolled_back(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recipe with a history of two entries: an apply of two mutations, then a rollback of it."""
    recipe = tmp_path_factory.mktemp("history") / "checkout.yaml"
    recipe.write_text(RECIPE_TEXT)
    plan = make_plan(recipe)
    for args in (["apply", str(recipe), "--plan", str(plan)], ["rollback", str(recipe)]):
        res = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert res.exit_code == 0, res.output
    return recipe


@pytest.mark.parametrize("columns", [100, *range(104, 132, 2), 160])
def test_history_never_cuts_an_id_and_fits_the_terminal(applied_and_rolled_back: Path, columns: int) -> None:
    res = runner.invoke(app, ["history", str(applied_and_rolled_back)], env={"COLUMNS": str(columns)})
    assert res.exit_code == 0, res.output
    assert "…" not in res.output, res.output
    words = res.output.split()
    for mutation_id in ("parallelize:load_cart->score_fraud", "cache:load_cart"):
        assert any(mutation_id in w for w in words), res.output
    assert max(len(line) for line in res.output.splitlines()) <= columns, res.output


def test_shared_widths_give_every_column_its_longest_word() -> None:
    """rich alone shrank the widest column to the next widest (26 of 36 columns at 110)."""
    ids = Column("mutations", ["parallelize:load_cart->score_fraud, cache:load_cart " * 2])
    hashes = Column("sha256", ["3ffe5be4 -> b4c68c56"])
    widths = shared([ids, hashes], 50)
    assert widths[0] >= len("parallelize:load_cart->score_fraud,") and widths[1] >= len("3ffe5be4")
    assert sum(widths) == 50


# ---- 3. a name an output option cannot write: a usage error (exit 2), before any work --------------

CHECKOUT = Path(__file__).resolve().parents[1] / "recipes" / "checkout" / "recipe.yaml"
NAMED_BY_SUFFIX = {  # command line (OUT for the output) -> the option and the names it takes, as said
    "report": (["report", "RECIPE", "--logs", "LOGS", "-o", "OUT"], "'--out' / '-o'", "(name the file *.html)"),
    "forecast": (["forecast", "RECIPE", "--logs", "LOGS", "--plot", "OUT"], "'--plot'",
                 "(name the file *.png or *.svg)"),
    "convert": (["convert", "LOGS", "-o", "OUT"], "'--out' / '-o'",
                "(name the file *.parquet, *.parq or *.pq, or a folder ending in /)"),
    "generate": (["generate", "RECIPE", "-n", "10", "-o", "OUT"], "'--out' / '-o'",
                 "(name the file *.jsonl, *.jsonl.gz, *.jsonl.zst, *.parquet, *.parq or *.pq)"),
}


@pytest.mark.parametrize("command", list(NAMED_BY_SUFFIX))
@pytest.mark.parametrize("there", [False, True], ids=["new", "existing"])
def test_a_suffix_the_command_cannot_write_is_a_usage_error_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, there: bool
) -> None:
    """The recipe and logs do not exist: any work would fail on them with exit 1 first."""
    args, option, names = NAMED_BY_SUFFIX[command]
    monkeypatch.chdir(tmp_path)
    out = Path("x.txt")
    if there:
        out.write_text("meeting notes: keep\n")
    words = {"RECIPE": "no-recipe.yaml", "LOGS": "no-logs.jsonl", "OUT": str(out)}
    res = runner.invoke(app, [words.get(a, a) for a in args], env={"COLUMNS": "200"})
    assert res.exit_code == 2, res.output
    errors = [line.strip("│ ") for line in res.output.splitlines() if "Invalid value" in line]
    assert len(errors) == 1 and option in errors[0] and errors[0].endswith(names), res.output
    assert "x.txt: " in errors[0] and "Traceback" not in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == (["x.txt"] if there else [])
    if there:
        assert out.read_text() == "meeting notes: keep\n"


def test_generate_names_are_the_ones_it_writes() -> None:
    from recipemut.commands.generate import WRITTEN_SUFFIXES
    from recipemut.usecases.generate import WRITTEN

    assert set(WRITTEN_SUFFIXES) == set(WRITTEN)


@pytest.mark.parametrize("name", ["R.HTML", "r.htm"])
def test_report_takes_html_names_in_any_case(tmp_path: Path, name: str) -> None:
    res = runner.invoke(
        app, ["report", str(tmp_path / "no.yaml"), "--logs", str(tmp_path / "no.jsonl"), "-o", str(tmp_path / name)]
    )
    assert res.exit_code == 1 and "no.yaml" in res.output, res.output  # past the name, to the missing recipe


# ---- 4. a run refused under --strict does not promise to recover the lines it refuses --------------


@pytest.fixture(scope="module")
def damaged_logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The shipped log's first 3,000 lines gzipped, then cut at two thirds, and whole with junk after."""
    import gzip

    folder = tmp_path_factory.mktemp("damaged")
    with gzip.open(CHECKOUT.parent / "logs.jsonl.gz", "rt") as f:
        whole = gzip.compress("".join(line for _, line in zip(range(3000), f, strict=False)).encode())
    (folder / "cut.jsonl.gz").write_bytes(whole[: len(whole) * 2 // 3])
    (folder / "junk.jsonl.gz").write_bytes(whole + b"appended junk, not gzip\n")
    return {"cut": folder / "cut.jsonl.gz", "junk": folder / "junk.jsonl.gz"}


@pytest.mark.parametrize("damage", ["cut", "junk"])
def test_the_strict_refusal_says_the_lines_are_read_only_without_strict(
    damaged_logs: dict[str, Path], damage: str
) -> None:
    args = ["profile", str(CHECKOUT), "--logs", str(damaged_logs[damage]), "--store", "off"]
    refused = runner.invoke(app, [*args, "--strict"], env={"COLUMNS": "400"})
    assert refused.exit_code == 1, refused.output
    [line] = [x for x in refused.output.splitlines() if x.strip()]
    assert line.startswith("error: ") and line.endswith("[cut-short] (--strict)"), line
    said = line.removesuffix(" [cut-short] (--strict)")
    assert said.endswith(("are recovered unless --strict", "are read unless --strict")), line
    read = runner.invoke(app, args, env={"COLUMNS": "400"})  # without --strict the lines are read, as it says
    assert read.exit_code == 0 and "1 rejected line" in read.output, read.output


# ---- 5. forecast records nothing in the profile store, so it takes no --store ------------------------


def test_forecast_records_nothing_in_the_store_and_takes_no_store_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default store would be .recipemut/store.sqlite here
    store = tmp_path / "named.sqlite"
    args = ["forecast", str(CHECKOUT), "--logs", str(CHECKOUT.parent / "logs.jsonl.gz"), "--charts", "0", "-q"]
    ran = runner.invoke(app, args, env={"COLUMNS": "200", "RECIPEMUT_STORE": str(store)})
    assert ran.exit_code == 0, ran.output
    assert not store.exists() and not (tmp_path / ".recipemut").exists()
    profiled = runner.invoke(app, ["profile", *args[1:4], "-q"], env={"COLUMNS": "200", "RECIPEMUT_STORE": str(store)})
    assert profiled.exit_code == 0 and store.exists(), profiled.output  # profile, on the same logs, records
    refused = runner.invoke(app, [*args, "--store", "off"], env={"COLUMNS": "200"})
    assert refused.exit_code == 2 and "--store" in refused.output, refused.output
    page = (Path(__file__).resolve().parents[1] / "docs" / "commands" / "forecast.md").read_text()
    assert "records nothing in it, so it takes no `--store`" in page


# ---- 6. fit() counts a column's own min_width once: the table is the console's width ------------------


def _min_width_columns() -> list[Column]:
    """The reviewer's repro: a no_wrap name, a wrapping column with min_width 20 (as forecast's
    'target reached'), another wrapping column."""
    return [
        Column("service", ["checkout-frontend-service"], {"no_wrap": True}),
        Column("why", ["short words only here but quite a lot of them to need wrapping across lines " * 2],
               {"min_width": 20}),
        Column("note", ["another wrapping column with many words in it to fill width " * 2], {}),
    ]


@pytest.mark.parametrize("width", [68, 70, 72, 80, 90, 100, 120])
def test_fit_with_a_min_width_column_draws_the_console_width(width: int) -> None:
    """natural.minimum counts min_width; the room shared out counted only the longest word, so 12
    columns per table were lost (59 of 72 drawn) and the min_width column wrapped at 11."""
    import io

    from rich.console import Console

    from recipemut.commands._layout import fit

    out = Console(width=width, file=io.StringIO(), color_system=None)
    fitted = fit(out, _min_width_columns())
    assert fitted is not None and fitted[1] == []
    out.print(fitted[0])
    lines = out.file.getvalue().splitlines()
    assert max(len(line.rstrip()) for line in lines) == width, "\n".join(lines)
    widths = [c.width for c in fitted[0].columns]
    assert widths[1] is not None and widths[1] >= 20, widths
    assert "…" not in out.file.getvalue()


def test_shared_starts_a_min_width_column_at_its_minimum() -> None:
    widths = shared([Column("a", ["aa bb cc dd ee ff"]), Column("b", ["x y z"], {"min_width": 9})], 14)
    assert widths[1] >= 9 and sum(widths) == 14, widths


def test_shared_gives_the_room_to_the_narrowest_column_first() -> None:
    """Three columns, room for their longest words and 7 more: both short columns are made whole (8
    and 6) before the wide one grows; giving each column one in turn left 'abcd efg' wrapped at 6."""
    wide = Column("a", ["aaaaaaaaaa " * 4])  # longest word 10, line 43
    short = Column("b", ["abcd efg"])  # 4 .. 8
    shorter = Column("c", ["xyz uv"])  # 3 .. 6
    assert shared([wide, short, shorter], 24) == [10, 8, 6]
    assert shared([wide, short, shorter], 30) == [16, 8, 6]  # the rest to the only one still growing
    assert shared([shorter, wide, short], 24) == [6, 10, 8]  # whatever the order of the columns
    assert shared([wide, short, shorter], 20) == [10, 5, 5]  # not room for both: the narrower grows first


# ---- 7. help at any width: every option name and value whole, in order, within the width ------------

#: a line that introduces an option: a row of typer's table (after the required mark) or a block's heading
_INTRO = re.compile(r"^(?:│ (?:[* ]  )?| )(\S+)")
_PANEL = re.compile(r"^(?:╭─ )?(?:Arguments|Options) ─")


def _help_widths(name: str) -> list[int]:
    """The widths the brief names, and either side of where this command's layout changes."""
    params = _params(name)
    table = next(c for c in range(20, 400) if cli.table_holds(params, c))
    wide = next(c for c in range(20, 400) if cli.table_help_width(params, c) >= HELP_MIN_WIDTH)
    return sorted({40, 50, 60, 70, 80, 100, 250, table - 1, table, wide - 1, wide})


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_keeps_every_name_and_value_whole_in_order_at_any_width(name: str) -> None:
    """At 50 columns typer's table cut '--sample-requests' to '--sample-…'; at 60 and 70 it cut
    'auto|native|otlp|jaeger…' and 'latency|p95|cost|balanced|headr…'."""
    options = [p for p in _params(name) if p.param_type_name == "option"]
    firsts = [sorted(p.opts, key=lambda o: not o.startswith("--"))[0] for p in options]
    for width in _help_widths(name):
        text = _help(name, width)
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= width, (width, text)
        assert "…" not in text, (width, text)
        tokens = [set(line.split()) for line in lines]
        pieces = [set(re.split(r"[\s|│]+", line)) for line in lines]
        for param in options:
            for opt in param.opts:
                assert any(opt in t for t in tokens), (width, opt, text)
            words = value_words(param)
            for word in re.split(r"[\s|]+", words) if words else ():
                assert any(word in p for p in pieces), (width, param.name, word, text)
            if words and width >= 50:  # room for a value whole beside its option's names
                assert any(words in line for line in lines), (width, words, text)
        start = next(i for i, line in enumerate(lines) if _PANEL.match(line))
        intros = [m[1] for line in lines[start:] if (m := _INTRO.match(line)) and m[1] in firsts]
        assert intros == firsts, (width, intros, text)


@pytest.mark.parametrize("width", [40, 50, 60, 70, 80, 250])
def test_app_help_keeps_every_option_and_command_whole(width: int) -> None:
    """recipemut -h: at 40 columns '--install-completion' was cut to '--install-c…'."""
    res = runner.invoke(app, ["--help"], env={"COLUMNS": str(width)})
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert max(len(line) for line in lines) <= width and "…" not in res.output, res.output
    words = res.output.split()
    for opt in ("--version", "--install-completion", "--show-completion", "--help", "-h"):
        assert opt in words, (opt, res.output)
    listed = [w for w in words if w in COMMANDS]
    assert listed[-len(COMMANDS):] == list(COMMANDS), res.output  # the command list, in its order, after the options
    assert words.index("--show-completion") < words.index("convert")


@pytest.mark.parametrize("name", ["suggest", "profile"])
def test_narrow_help_shows_options_as_blocks_with_the_help_indented(name: str) -> None:
    """Below the width where a table holds every name and value, each option is its names and value
    on one line and its help indented below, with what typer adds ([default: ...], [required])."""
    text = _help(name, 50)
    assert "│" not in text.split("Options", 1)[1], text  # no table
    lines = text.splitlines()
    i = lines.index(" --log-format auto|native|otlp|jaeger|zipkin")
    block = lines[i + 1 : next(j for j in range(i + 1, len(lines)) if not lines[j].startswith(" " * cli.BLOCK_INDENT))]
    assert block[0].startswith(" " * cli.BLOCK_INDENT + "Log format; auto detects it"), block
    assert block[-1].strip() == "[default: auto]", block
    assert " --logs -l PATH ..." in lines
    assert any(line.strip() == "[required]" for line in lines)
    top = next(line for line in lines if line.startswith(" --top "))
    assert top == " --top INTEGER [x>=1]", top  # the bounds beside the value, not again under the help
    narrow = _help(name, 40).splitlines()  # a value too wide for the line breaks after a '|'
    j = narrow.index(" --log-format auto|native|otlp|jaeger|")
    assert narrow[j + 1] == " " * cli.BLOCK_INDENT + "zipkin", narrow[j : j + 2]


def test_the_layout_widths_are_the_ones_the_docs_give() -> None:
    """docs/commands/index.md names where the wide table starts and where blocks start."""
    wide = {n: next(c for c in range(20, 400) if cli.table_help_width(_params(n), c) >= HELP_MIN_WIDTH)
            for n in ("profile", "suggest", "validate")}
    narrow = {n: next(c for c in range(20, 400) if cli.table_holds(_params(n), c)) for n in ("profile", "suggest")}
    page = (Path(__file__).resolve().parents[1] / "docs" / "commands" / "index.md").read_text()
    assert (f"from {wide['profile']} columns for `profile`, {wide['suggest']} for `suggest`, "
            f"{wide['validate']} for `validate`") in page, wide
    assert f"below {narrow['profile']} columns for `profile`, {narrow['suggest']} for `suggest`" in page, narrow
