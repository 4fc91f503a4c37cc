"""The `cvm` command line. Each command group lives in its own module; this one wires them and
turns domain errors into one clear sentence and an exit code (never a traceback)."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from cvm.cli import commands
from cvm.cli.output import err_console
from cvm.core.errors import CvmError

app = typer.Typer(
    name="cvm",
    help="Customer Value Management: collect, value, predict, segment, decide, act, measure.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
commands.register(app)


def main() -> None:
    try:
        # Without standalone mode click returns the code of a `typer.Exit(n)` instead of
        # raising it: pass it on, or a failed check would exit 0.
        code = app(standalone_mode=False)
    except CvmError as err:
        # The message is escaped so a file name like "[2024] orders.csv" prints as it is.
        err_console.print(
            f"[bold red]error:[/] {escape(err.message)}", highlight=False, soft_wrap=True
        )
        sys.exit(err.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except (typer.Exit, SystemExit) as done:
        code = getattr(done, "exit_code", None) if isinstance(done, typer.Exit) else done.code
        sys.exit(code or 0)
    except Exception as err:
        # Usage errors (typer vendors click) know how to print themselves and their exit code.
        show, code = getattr(err, "show", None), getattr(err, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        raise
    if isinstance(code, int) and code:
        sys.exit(code)
