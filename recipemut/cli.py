"""The command line: wiring only. Each command lives in ``recipemut/commands/<name>.py``.

A command function parses options, calls the core, renders, and returns normally or raises
``typer.Exit(code)``. Every :class:`~recipemut.errors.RecipemutError` that escapes a command is
turned into one line on stderr and its exit code by :func:`guard` — never a traceback.

Command modules are imported only when needed: ``recipemut profile ...`` imports the profile
command alone, so start-up does not pay for scipy and statsmodels it will not use. ``app`` (used
by tests and ``--help``) has every command.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn, TypeVar, get_args, get_origin

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

from recipemut.commands._common import OutputFormat as OutputFormat  # re-exported for commands and tests
from recipemut.commands._common import err_console, spread_multi_options
from recipemut.commands._examples import examples_as_blocks, examples_drawn
from recipemut.commands._failure import forget_format, remember_format, say_error, say_usage_error
from recipemut.commands._ranges import check_ranges
from recipemut.errors import RecipemutError, said_once
from recipemut.files.text import safe

HELP = (
    "Make workflow recipes faster and cheaper before they need more capacity.\n\n"
    "Typical loop: validate -> profile -> suggest --out plan.json -> apply --plan plan.json "
    "(or apply --canary 0.1, then evaluate) -> rollback if needed; forecast tells when each "
    "service will need to scale.\n\n"
    "Exit codes: 0 success, 1 bad input (the message names file and line), 2 bad command line; "
    "suggest --detailed-exitcode and evaluate document their own."
)

#: command name -> module in recipemut.commands (function of the same name); order = --help order
COMMANDS: dict[str, str] = {
    "validate": "validate",
    "import": "import_",
    "graph": "graph",
    "profile": "profile",
    "suggest": "suggest",
    "apply": "apply",
    "evaluate": "evaluate",
    "rollback": "rollback",
    "history": "history",
    "forecast": "forecast",
    "report": "report",
    "stats": "stats",
    "generate": "generate",
    "convert": "convert",
}

#: each command's one-line summary (its docstring's first line), so ``recipemut --help`` lists the
#: commands without importing them (and the pandas/scipy they import); tests/test_cli.py checks
#: that each equals the docstring
SUMMARIES: dict[str, str] = {
    "validate": "Check recipes against the schema and the semantic rules; exit 1 if any is invalid.",
    "import": "Show the recipe read from a workflow engine's file, or drafted from logs; write it with --out.",
    "graph": "Draw a recipe's DAG as Mermaid or Graphviz DOT.",
    "profile": "Profile a recipe from its execution logs: per-operation latency, cost and critical path.",
    "suggest": "Suggest mutations that make a recipe faster or cheaper, proven valid and judged on replayed traffic.",
    "apply": "Apply the reviewed mutations of a plan to the recipe, keeping its comments and formatting.",
    "evaluate": "Judge the canary against the primary recipe, then promote it, roll it back, or hold.",
    "rollback": "Restore the previous (or a given) version of the recipe, byte for byte, from its history.",
    "history": "List the recorded writes of a recipe: version, time, action, mutations, hashes, who.",
    "forecast": "Forecast request rates and say when each service crosses its target utilisation.",
    "report": "Write an HTML report: the plan, the DAG before and after it, the ranked mutations, the forecast.",
    "stats": "Show what recipemut has learned about each mutation operator.",
    "generate": "Write a realistic execution log for RECIPE.",
    "convert": "Convert logs (native JSONL, OTLP, Jaeger, Zipkin, Parquet) into Parquet files of spans.",
}

#: ``-h`` as well as ``--help``, on the app and (inherited by click's contexts) on every command
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}

#: the environment variable through which a shell asks typer's completion for words
COMPLETE_VAR = "_RECIPEMUT_COMPLETE"

F = TypeVar("F", bound=Callable[..., Any])

#: exit status when the reader of standard output went away (``recipemut ... | head -1``):
#: 128 + SIGPIPE, what git reports and what a shell shows for a process killed by SIGPIPE
EXIT_STDOUT_CLOSED = 141


class StdoutClosed(Exception):
    """The reader of standard output went away (EPIPE).

    Not an ``OSError`` on purpose: click turns an EPIPE ``OSError`` into a silent exit 1, which
    reads as "bad input"; this passes through click to :func:`main`, which exits 141 quietly.
    """


def guard(func: F) -> F:
    """Turn a :class:`RecipemutError` raised by a command into one stderr line and its exit code (and,
    under ``--format json``, a JSON document on stdout: commands/_failure.py; a usage error too).

    A ``BrokenPipeError`` (stdout's reader gone) becomes :class:`StdoutClosed`. The run says each
    warning about a recipe once (:func:`~recipemut.errors.said_once`), however often it reads it.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with said_once():
                return func(*args, **kwargs)
        except RecipemutError as e:
            raise typer.Exit(say_error(e)) from None
        except BrokenPipeError:
            raise StdoutClosed() from None
        except Exception as e:  # a usage error the command found: click says it, on stderr
            say_usage_error(e)
            raise

    return wrapper  # type: ignore[return-value]


def _raise_stdout_closed(self: Console) -> NoReturn:
    """Replaces rich's ``Console.on_broken_pipe``, which would exit 1 itself."""
    self.quiet = True
    raise StdoutClosed()


@contextlib.contextmanager
def _stdout_closed_raises() -> Iterator[None]:
    """While the CLI runs, a rich console that meets EPIPE raises :class:`StdoutClosed`.

    ``on_broken_pipe`` is rich's documented hook; the commands build their own consoles, so the
    class attribute is swapped for the run and put back after (``main`` also runs inside tests).
    """
    saved = Console.on_broken_pipe
    Console.on_broken_pipe = _raise_stdout_closed  # type: ignore[method-assign]
    try:
        yield
    finally:
        Console.on_broken_pipe = saved  # type: ignore[method-assign]


def _exit_stdout_closed() -> NoReturn:
    """Stop quietly with :data:`EXIT_STDOUT_CLOSED` once stdout's reader has gone.

    Per the Python docs' note on SIGPIPE, standard output is pointed at /dev/null first, so the
    flush at interpreter exit finds somewhere to write and prints no "Exception ignored" noise.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
    sys.exit(EXIT_STDOUT_CLOSED)


# ---- help and option values: flags shown as flags, types in words, "did you mean" -----------------

#: how a value is named in help (typer 0.29 would print the Python annotation: ``<list[Path]>``)
TYPE_WORDS: dict[type, str] = {int: "INTEGER", float: "NUMBER", str: "TEXT", datetime: "DATETIME", Path: "PATH"}


def choice_values(param: Any) -> tuple[str, ...]:
    """The values an option or argument accepts, if it is a choice (an ``Enum``), else ``()``."""
    descriptor = getattr(param, "type_descriptor", None)
    choices = getattr(descriptor, "choices", None) or ()
    return tuple(str(c.value if isinstance(c, Enum) else c) for c in choices)


def type_words(param: Any) -> str:
    """What a value of ``param`` looks like in help: nothing for a flag, ``text|json``, ``PATH ...``.

    >>> from typer.main import get_command
    >>> [type_words(p) for p in get_command(make_app(["graph"])).commands["graph"].params][:3]
    ['PATH', 'mermaid|dot', 'PATH']
    """
    if getattr(param, "is_flag", False):
        return ""
    if getattr(param, "param_type_name", "") == "option" and getattr(param, "metavar", None):
        return str(param.metavar)  # what the option names the value: --memory-budget SIZE, not TEXT
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    many = get_origin(annotation) is list or getattr(param, "multiple", False) or getattr(param, "nargs", 1) != 1
    if get_origin(annotation) is list:
        annotation = (get_args(annotation) or (str,))[0]
    choices = choice_values(param)
    if choices:
        words = "|".join(choices)
    else:
        known = (w for t, w in TYPE_WORDS.items() if isinstance(annotation, type) and issubclass(annotation, t))
        words = next(known, "VALUE")
    return f"{words} ..." if many else words


def _label_types(params: Iterable[Any]) -> None:
    """Show each parameter's value in words (:func:`type_words`) in the rich help.

    typer 0.29's rich help asks each parameter for ``display_type_rich``, which prints the Python
    annotation (``<bool>`` for a flag, ``<list[Path]>``, ``<int range>``) and has no setting to
    change it; the instance attribute set here answers instead.
    """
    for param in params:
        setattr(param, "display_type_rich", functools.partial(_fixed, type_words(param)))  # noqa: B010


def _fixed(words: str, ctx: Any = None) -> str:
    return words


#: the narrowest an option's help text may be drawn (at 80 columns typer's table left it 23 wide)
HELP_MIN_WIDTH = 40

#: what Markdown would read as markup in a value's words (``auto|native``, ``PATH ...``)
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def help_width() -> int:
    """The width the rich help is drawn at: typer's ``TERMINAL_WIDTH`` setting, else the terminal's."""
    from typer import rich_utils

    return Console(width=getattr(rich_utils, "MAX_WIDTH", None)).width


def range_words(param: Any) -> str:
    """The bounds of a numeric option as typer words them (``x>=1``, ``0.01<=x<=0.99``), else ``""``."""
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is None and high is None:
        return ""
    if low is None:
        return f"x<={high}"
    return f"x>={low}" if high is None else f"{low}<=x<={high}"


def value_words(param: Any) -> str:
    """What the value column of the help shows for ``param``: :func:`type_words` and its bounds."""
    bounds = range_words(param)
    return f"{type_words(param)} [{bounds}]".strip() if bounds else type_words(param)


def table_help_width(params: Iterable[Any], width: int, *, values: bool = True) -> int:
    """How wide typer's tables (one of arguments, one of options) would leave the help column at ``width``.

    A table has a column each for the required mark (when a row is required), long options, short
    options (an argument's name), negative long and short options, the value (empty without
    ``values``: they are in the help) and the help, one space either side of each inner edge, inside
    a panel's border and padding (4 columns).
    """
    narrowest = width
    shown = [p for p in params if not getattr(p, "hidden", False)]
    arguments = [p for p in shown if p.param_type_name == "argument"]
    for panel in (arguments, [p for p in shown if p.param_type_name != "argument"]):
        if not panel:
            continue
        longs = max(len(",".join(o for o in p.opts if o.startswith("--"))) for p in panel)
        shorts = max(len(",".join(o for o in p.opts if o[1:2] != "-")) for p in panel)
        if panel[0].param_type_name == "argument":  # an argument is named in the short options' column
            shorts, longs = max(len(str(p.metavar or p.name)) for p in panel), 0
        required = any(p.required for p in panel)
        valued = max(len(value_words(p)) for p in panel) if values else 0
        rest = width - 4 - 2 * (5 + required) - required - longs - shorts - valued
        narrowest = min(narrowest, rest)
    return narrowest


@contextlib.contextmanager
def _values_in_help(params: Sequence[Any]) -> Iterator[None]:
    """Draw each value's words (``PATH ...``, ``INTEGER [x>=1]``) on the first line of its help text.

    At 80 columns the value column (``auto|native|otlp|jaeger|zipkin``) took the width the help text
    needed: typer's table wrapped the help into a strip 23 columns wide and split the value mid-word.
    With the value in the help, the table has the option names and the help. Only public attributes
    of the parameters are set for the drawing (``help``, ``min``/``max``, the ``display_type_rich``
    answer) and put back after.
    """
    saved = [(p, p.help, getattr(p, "min", None), getattr(p, "max", None)) for p in params]
    try:
        for param in params:
            words = value_words(param)
            if words:
                lead = "**" + _MARKDOWN_PUNCTUATION.sub(r"\\\1", words) + "**"
                param.help = f"{lead}\\\n{param.help}" if param.help else lead
            setattr(param, "display_type_rich", functools.partial(_fixed, ""))  # noqa: B010
            if hasattr(param, "min"):
                param.min = param.max = None  # the bounds are in the help now, not in typer's value column
        yield
    finally:
        for param, text, low, high in saved:
            param.help = text
            if hasattr(param, "min"):
                param.min, param.max = low, high


def table_holds(params: Sequence[Any], width: int) -> bool:
    """Whether typer's table, each value in its help (:func:`_values_in_help`), keeps every name and
    value whole: its help column is at least :data:`HELP_MIN_WIDTH` and as wide as the longest of them.

    rich shares a table's width out by cutting the widest column down to the next widest, then all
    of them evenly: at 50 columns ``--sample-requests`` became ``--sample-…``, and a value wider than
    the help column (``latency|p95|cost|balanced|headroom``) was cut with an ellipsis.
    """
    shown = [p for p in params if not getattr(p, "hidden", False)]
    longest = max([0, *(len(value_words(p)) for p in shown), *(len(" ".join(p.opts)) for p in shown)])
    return table_help_width(params, width, values=False) >= max(HELP_MIN_WIDTH, longest)


#: where an option's help starts, under its names, when options are drawn as blocks
BLOCK_INDENT = 5


def _block_heading(param: Any, width: int) -> Text:
    """`` --logs -l PATH ...``: an option's names (an argument's) and its value on one line; the value
    breaks after a ``|`` or at a space, onto lines indented by :data:`BLOCK_INDENT`, only where the
    line would pass ``width``. Names are split by spaces, as typer's columns split them."""
    from typer import rich_utils as ru

    if param.param_type_name == "argument":
        names = [(str(getattr(param, "display_name_raw", None) or param.name), "")]
    else:
        opts = sorted(param.opts, key=lambda o: not o.startswith("--"))  # long ones first, as typer's columns
        names = [(o, ru.STYLE_OPTION if o.startswith("--") else ru.STYLE_SWITCH) for o in opts]
        names += [(o, ru.STYLE_NEGATIVE_OPTION) for o in param.secondary_opts]
    words = [*names, *((w, ru.STYLE_TYPES) for w in re.findall(r"[^\s|]+\|?|\|", value_words(param)))]
    line, used = Text(" "), 1
    for i, (word, style) in enumerate(words):
        glue = "" if i == 0 or words[i - 1][0].endswith("|") else " "
        if i and used + len(glue) + len(word) > width:
            line.append("\n" + " " * BLOCK_INDENT)
            glue, used = "", BLOCK_INDENT
        line.append(glue)
        line.append(word, style=style)
        used += len(glue) + len(word)
    return line


def _block_extras(param: Any, ctx: Any) -> str:
    """What typer adds after an option's help (``[default: 400; required]``), read from click's
    ``get_help_record``, without the bounds (the value shows them: ``INTEGER [x>=1]``)."""
    record = param.get_help_record(ctx)
    tail = record[1][len(param.help or "") :].strip() if record else ""
    if not (tail.startswith("[") and tail.endswith("]")):
        return ""
    pieces = [piece for piece in tail[1:-1].split("; ") if piece != range_words(param)]
    return f"[{'; '.join(pieces)}]" if pieces else ""


def _draw_blocks(command: Any, ctx: Any, params: Sequence[Any]) -> None:
    """Each argument and option as a block: names and value on one line, the help indented below;
    then a group's commands. What the help shows below the width where a table holds names and values."""
    import inspect

    from rich.markdown import Markdown
    from rich.padding import Padding
    from rich.rule import Rule
    from rich.table import Table
    from typer import rich_utils as ru

    out = Console(width=ru.MAX_WIDTH, color_system=ru.COLOR_SYSTEM, force_terminal=ru.FORCE_TERMINAL, highlight=False)
    shown = [p for p in params if not getattr(p, "hidden", False)]
    arguments = [p for p in shown if p.param_type_name == "argument"]
    panels = [(ru.ARGUMENTS_PANEL_TITLE, arguments), (ru.OPTIONS_PANEL_TITLE, [p for p in shown if p not in arguments])]
    for title, panel in panels:
        if panel:
            out.print(Rule(title, align="left", style=ru.STYLE_OPTIONS_PANEL_BORDER))
        for param in panel:
            out.print(_block_heading(param, out.width), overflow="ignore", crop=False)
            text = inspect.cleandoc("\n".join((param.help or "").split("\n\n")))  # as typer joins paragraphs
            if text:
                out.print(Padding(Markdown(text), (0, 0, 0, BLOCK_INDENT)))
            if extras := _block_extras(param, ctx):
                out.print(Padding(Text(extras, ru.STYLE_OPTION_DEFAULT), (0, 0, 0, BLOCK_INDENT)))
        if panel:
            out.print()
    if not isinstance(command, TyperGroup):
        return
    commands = [c for c in (command.get_command(ctx, n) for n in command.list_commands(ctx)) if c is not None]
    table = Table(show_header=False, box=None, padding=(0, 1), pad_edge=True, expand=True)
    table.add_column(style=ru.STYLE_COMMANDS_TABLE_FIRST_COLUMN, no_wrap=True)
    table.add_column(ratio=10)
    for sub in (c for c in commands if not c.hidden):  # the first paragraph of its help, as typer lists it
        table.add_row(sub.name, " ".join(inspect.cleandoc(sub.short_help or sub.help or "").split("\n\n")[0].split()))
    out.print(Rule(ru.COMMANDS_PANEL_TITLE, align="left", style=ru.STYLE_COMMANDS_PANEL_BORDER))
    out.print(table)


@contextlib.contextmanager
def _hidden(things: Iterable[Any]) -> Iterator[None]:
    """Hide ``things`` (parameters, commands) from typer's drawing for a while: ``hidden`` is public."""
    saved = [(t, t.hidden) for t in things]
    try:
        for thing, _ in saved:
            thing.hidden = True
        yield
    finally:
        for thing, was in saved:
            thing.hidden = was


def format_rich_help(command: Any, ctx: Any, formatter: Any, draw: Callable[[Any, Any], None]) -> None:
    """Draw ``command``'s help with ``draw`` (typer's), values in words, nothing cut at any width.

    Where typer's table would leave the help column under :data:`HELP_MIN_WIDTH` columns (most
    commands at 80), each value moves to the first line of its help (:func:`_values_in_help`);
    where even that table would cut a name or a value (:func:`table_holds`), typer draws the usage
    and the description, and each option follows as a block (:func:`_draw_blocks`).
    """
    params = command.get_params(ctx)
    _label_types(params)
    width = help_width()
    with examples_drawn(), _help_text(command, examples_as_blocks(command.help or "", width)):
        _draw_fitted(command, ctx, formatter, draw, params, width)


def _draw_fitted(
    command: Any, ctx: Any, formatter: Any, draw: Callable[[Any, Any], None], params: Sequence[Any], width: int
) -> None:
    if table_help_width(params, width) >= HELP_MIN_WIDTH:
        draw(ctx, formatter)
    elif table_holds(params, width):
        with _values_in_help(params):
            draw(ctx, formatter)
    else:
        subs = [c for c in getattr(command, "commands", {}).values() if not c.hidden]
        with _hidden([*(p for p in params if not getattr(p, "hidden", False)), *subs]):
            draw(ctx, formatter)
        _draw_blocks(command, ctx, params)


@contextlib.contextmanager
def _help_text(command: Any, text: str) -> Iterator[None]:
    """``command.help`` (public) is ``text`` while the help is drawn."""
    saved = command.help
    command.help = text
    try:
        yield
    finally:
        command.help = saved


def did_you_mean(value: str, choices: Sequence[str]) -> str:
    """``; did you mean 'json'?`` when ``value`` is close to one of ``choices``, else ``""``.

    >>> did_you_mean("jsno", ["text", "json"])
    "; did you mean 'json'?"
    >>> did_you_mean("xml", ["text", "json"])
    ''
    """
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_choices(ctx: Any, params: Iterable[Any], args: Sequence[str]) -> None:
    """Refuse a value outside an option's choices with the choices and the likely one.

    typer would say ``Value error, 'jsno' is not one of 'text', 'json'`` (pydantic's wording).
    """
    for param in params:
        choices = choice_values(param)
        names = [*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())]
        if not choices or getattr(param, "param_type_name", "") != "option":
            continue
        for i, word in enumerate(args):
            if word == "--":
                break
            value: str | None
            if word in names and i + 1 < len(args):
                value = args[i + 1]
            else:
                joined = (word[len(n) + 1 :] for n in names if n.startswith("--") and word.startswith(n + "="))
                value = next(joined, None)
            if value is None or value in choices:
                continue
            if not getattr(param, "type_descriptor", None) or (
                not param.type_descriptor.case_sensitive and value.lower() in [c.lower() for c in choices]
            ):
                continue
            raise typer.BadParameter(
                f"{value!r} is not one of {', '.join(choices)}{did_you_mean(value, choices)}", ctx=ctx, param=param
            )


def _check_out_is_no_operator(ctx: Any, args: Sequence[str]) -> None:
    """``suggest -o hedge``: ``-o`` is ``--out`` (the plan file); operators are ``-O``/``--operators``.

    Without this the plan would be written to a file named ``hedge``.
    """
    if ctx.info_name != "suggest":
        return
    from recipemut.commands.suggest import OPERATORS  # the registry's names, without the operators' imports

    for i, word in enumerate(args):
        value = args[i + 1] if word in ("-o", "--out") and i + 1 < len(args) else word.partition("--out=")[2]
        if value in OPERATORS:
            raise typer.BadParameter(
                f"{value!r} is an operator, not a plan file; operators are -O/--operators (-O {value})",
                ctx=ctx,
                param_hint="'-o' / '--out'",
            )


class Command(TyperCommand):
    """A typer command with the CLI's conventions: help in words, choice errors that suggest."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        format_rich_help(self, ctx, formatter, super().format_help)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """``recipemut profile [OPTIONS] RECIPE``: an argument as its help names it (typer 0.29 wrote ``{RECIPE}``)."""
        return [p[1:].replace("}", "", 1) if p.startswith("{") else p for p in super().collect_usage_pieces(ctx)]

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        remember_format(self.get_params(ctx), args)  # so an error found while parsing is JSON under -f json
        try:
            _check_choices(ctx, self.get_params(ctx), args)
            check_ranges(ctx, self.get_params(ctx), args)
            _check_out_is_no_operator(ctx, args)
            return super().parse_args(ctx, args)
        except Exception as e:  # click says a usage error on stderr; under -f json it is JSON on stdout too
            say_usage_error(e)
            raise


class Group(TyperGroup):
    """The app's group: its own options (``--version``, ``-h``) in words like the commands'."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        format_rich_help(self, ctx, formatter, super().format_help)


def _version(value: bool) -> None:
    if value:
        from recipemut import __version__

        typer.echo(f"recipemut {__version__}")
        raise typer.Exit(0)


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Make workflow recipes faster and cheaper before they need more capacity."""


def _summary_only() -> None:
    """Stands for a command in the command list of ``recipemut --help``; never run."""


def make_app(names: Iterable[str] | None = None, *, summaries: bool = False) -> typer.Typer:
    """A typer app with the given commands (all of them by default).

    With ``summaries``, every command is listed with its :data:`SUMMARIES` line and no command
    module is imported: what ``recipemut --help`` (and a mistyped command name) needs, fast.
    """
    application = typer.Typer(
        name="recipemut",
        help=HELP,
        cls=Group,
        context_settings=CONTEXT_SETTINGS,
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        rich_markup_mode="markdown",
    )
    application.callback()(_root)
    for name in COMMANDS if names is None else names:
        if summaries:
            application.command(name, cls=Command, help=SUMMARIES[name])(_summary_only)
            continue
        module = importlib.import_module(f"{__package__}.commands.{COMMANDS[name]}")
        # a command named by a Python keyword (`import`) is the function of its module's name (`import_`)
        application.command(name, cls=Command)(guard(getattr(module, name, None) or getattr(module, COMMANDS[name])))
    return application


@functools.cache
def _full_app() -> typer.Typer:
    return make_app()


app: typer.Typer  # the full app, built on first use (PEP 562 module __getattr__)


def __getattr__(name: str) -> Any:
    if name == "app":
        return _full_app()
    raise AttributeError(name)


def _lowercase_level(record: logging.LogRecord) -> bool:
    """Core warnings read like the CLI's own (``warning: file:line: ...``), not ``WARNING:module:``.

    The message is formatted here and made safe (:func:`~recipemut.files.text.safe`): names from
    recipes, traces and file names it carries cannot drive the terminal or split the line.
    """
    record.levelname_lower = record.levelname.lower()
    record.msg, record.args = safe(record.getMessage()), None
    return True


def _command_in(argv: list[str]) -> str | None:
    for word in argv:
        if word in COMMANDS:
            return word
        if not word.startswith("-"):
            return None
    return None


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app, turning user errors into one line.

    If the reader of standard output goes away (``| head -1``), stop quietly with exit 141.
    """
    from recipemut.files.progress import mark_run_started

    mark_run_started()  # what suggest's closing line counts its wall time from
    logging.basicConfig(
        level=os.environ.get("RECIPEMUT_LOG", "WARNING").upper(),
        stream=sys.stderr,
        format="%(levelname_lower)s: %(message)s",
    )
    logging.getLogger().handlers[0].addFilter(_lowercase_level)
    from recipemut.files.write import forget_written

    forget_written()  # a Ctrl-C names what this run wrote (tests run many in one process)
    args = spread_multi_options(sys.argv[1:] if argv is None else argv)
    try:
        with _stdout_closed_raises():
            try:
                _run(args)
            finally:
                sys.stdout.flush()  # a late EPIPE surfaces here, not as noise at interpreter exit
    except (BrokenPipeError, StdoutClosed):
        _exit_stdout_closed()


def _run(args: list[str]) -> None:
    """Run the app on ``args``; exit with the command's code (``sys.exit``)."""
    if args == ["--version"]:  # answer without building the app
        from recipemut import __version__

        print(f"recipemut {__version__}")
        return
    forget_format()  # known once the command parses its line
    command = _command_in(args)
    if command:
        application = make_app([command])
    elif COMPLETE_VAR in os.environ:  # the shell asks for words: any command's options may be wanted
        application = _full_app()
    else:  # the app's own help or options, or a command name it does not know
        application = make_app(summaries=True)
    try:
        # without standalone mode click *returns* the code of a typer.Exit instead of exiting
        code = application(args=args, prog_name="recipemut", standalone_mode=False)
        if code == 130:  # typer turns a KeyboardInterrupt inside a command into a silent Exit(130)
            raise KeyboardInterrupt
        if isinstance(code, int) and code:
            sys.exit(code)
    except RecipemutError as e:
        sys.exit(say_error(e))
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        from recipemut.files.write import interrupted_line  # what was written in full, or that nothing was

        sys.stderr.write(interrupted_line() + "\n")  # one line, never wrapped at the terminal's width
        sys.exit(130)
    except OSError as e:  # what no reader foresaw (a name too long, a folder that cannot be entered): one line
        if isinstance(e, BrokenPipeError):
            raise
        sys.exit(say_error(e))
    except Exception as e:  # click usage errors and the like (typer >= 0.29 vendors click: no `import click`)
        show, code = getattr(e, "show", None), getattr(e, "exit_code", None)
        if isinstance(code, int):
            if callable(show):
                show()
            # like `terraform plan -detailed-exitcode`: there 2 means "changes found", so a usage
            # error must not look like it
            sys.exit(1 if code == 2 and "--detailed-exitcode" in args else code)
        raise
