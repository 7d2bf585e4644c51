"""The console script's entry point, kept free of heavy imports.

Importing the CLI's libraries (typer, rich, pandas, pyarrow) takes a good part of a second: a
Ctrl-C in that time would otherwise end in a traceback, before :func:`recipemut.cli.main` can
turn it into its one line.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run :func:`recipemut.cli.main`; Ctrl-C while it is still being imported exits 130 quietly."""
    try:
        from recipemut.cli import main as run_cli

        run_cli()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
