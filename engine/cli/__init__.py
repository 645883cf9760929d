"""The ``cxmine`` command line: parses arguments, calls the library, prints.

Each command family lives in its own module of this package and is registered
at the bottom of this file. Heavy imports (pm4py, numba kernels) happen inside
the commands, so ``cxmine --help`` comes back fast.

Exit codes: 0 success, 1 input or analysis error, 2 usage error. A traceback
only with ``--debug``.
"""

from __future__ import annotations

import json

import click

from engine import __version__
from engine.errors import EngineError


class CxGroup(click.Group):
    """Turns EngineError into a clean message and exit code (traceback only with --debug)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except EngineError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {exc.render()}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted; nothing half-written was left behind.", err=True)
            ctx.exit(130)


@click.group(cls=CxGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cxmine")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """cxmine: process mining and SOP conformance for contact centers.

    Reads interaction exports, builds event logs (Parquet, XES, OCEL 2.0),
    discovers the real process, checks it against SOPs and ranks friction.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")(f)


def quiet_option(f):
    return click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")(f)


def where_option(f):
    return click.option("--where", "where", multiple=True, metavar="ATTR=VALUE[,VALUE]",
                        help="Only the contacts whose ATTR is one of the values, e.g. intent=lost_card "
                             "(repeatable; a contact matches on its first non-empty value).")(f)


def csv_option(f):
    return click.option("--csv", "csv_dir", type=click.Path(file_okay=False),
                        help="Also write each table as a CSV file into this folder.")(f)


def echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def progress(message: str, quiet: bool = False) -> None:
    if not quiet:
        click.echo(message, err=True)


# Command families register themselves here.
from engine.cli import ingest as _ingest  # noqa: E402,F401
from engine.cli import simulate as _simulate  # noqa: E402,F401
from engine.cli import sop as _sop  # noqa: E402,F401
from engine.cli import variants as _variants  # noqa: E402,F401
from engine.cli import kpi as _kpi  # noqa: E402,F401
from engine.cli import conform as _conform  # noqa: E402,F401
from engine.cli import discover as _discover  # noqa: E402,F401
from engine.cli import map as _map  # noqa: E402,F401
from engine.cli import compare as _compare  # noqa: E402,F401
