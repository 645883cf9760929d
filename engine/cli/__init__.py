"""The ``cxmine`` command line: parses arguments, calls the library, prints.

Each command family lives in its own module of this package and is registered
at the bottom of this file. Heavy imports (pm4py, numba kernels) happen inside
the commands, so ``cxmine --help`` comes back fast.

Exit codes: 0 success, 1 input or analysis error, 2 usage error. A traceback
only with ``--debug``.
"""

from __future__ import annotations

import click

from engine import __version__
from engine.errors import AnalysisError, EngineError, UsageError

#: library arguments given by an option of another name (``field`` of an error -> the option's parameter)
FIELD_PARAMS = {"dependency_threshold": "dependency"}


def _foreign_library(exc: BaseException) -> str | None:
    """'pm4py' or 'pyarrow' when the error was raised inside that library, else None."""
    if type(exc).__module__.split(".")[0] in ("pyarrow", "pm4py"):
        return type(exc).__module__.split(".")[0]
    tb, origin = exc.__traceback__, None
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".")[0] in ("pyarrow", "pm4py"):
            origin = module.split(".")[0]
        tb = tb.tb_next
    return origin


def describe_os_error(exc: OSError) -> str:
    """An OSError as what went wrong and on which path, without errno numbers."""
    what = exc.strerror or str(exc)
    where = exc.filename if exc.filename is not None else ""
    if isinstance(exc, NotADirectoryError):
        what = "a file stands where a folder is needed"
    elif isinstance(exc, IsADirectoryError):
        what = "a folder stands where a file is needed"
    elif isinstance(exc, PermissionError):
        what = "permission denied"
    text = f"{what}: {where}" if where else what
    if exc.filename2 is not None:
        text += f" -> {exc.filename2}"
    return text


def flag_of(ctx: click.Context, field: str | None) -> str | None:
    """The option (or argument) of the invoked command that gives the library argument ``field``, as the
    user typed it (``--noise``, ``--output``, ``MODEL``); None when no parameter of the command gives it.
    Under a group of commands (``cxmine sop render``) the parameters of every command of the group count."""
    name = FIELD_PARAMS.get(field or "", field)
    command = ctx.command.get_command(ctx, ctx.invoked_subcommand) if name and ctx.invoked_subcommand else None
    if command is None:
        return None
    commands = list(command.commands.values()) if isinstance(command, click.Group) else [command]
    for param in (p for c in commands for p in c.params):
        if param.name == name:
            return max(param.opts, key=len) if isinstance(param, click.Option) else param.human_readable_name
    return None


def present_error(ctx: click.Context, exc: EngineError) -> tuple[str, int]:
    """The line and exit code of an error. An AnalysisError about a library argument that one of the
    command's options gives (its ``field``) is a bad option value: a usage error that names the option."""
    flag = flag_of(ctx, exc.field) if isinstance(exc, AnalysisError) else None
    if flag is None:
        return f"Error: {exc.render()}", exc.exit_code
    return f"Error: {flag}: {exc.render()}", UsageError.exit_code


class CxGroup(click.Group):
    """The CLI's error boundary: EngineError, OSError and errors out of pm4py or pyarrow become a
    one-line message and an exit code (traceback only with --debug)."""

    def invoke(self, ctx: click.Context):
        def debug() -> bool:
            return bool(ctx.obj and ctx.obj.get("debug"))
        try:
            return super().invoke(ctx)
        except EngineError as exc:
            if debug():
                raise
            text, code = present_error(ctx, exc)
            click.echo(text, err=True)
            ctx.exit(code)
        except KeyboardInterrupt:
            click.echo("Interrupted; nothing half-written was left behind.", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            ctx.exit(1)  # the reader of stdout went away (cxmine ... | head): nothing to report
        except OSError as exc:
            if debug():
                raise
            click.echo(f"Error: {describe_os_error(exc)}. Check the path and its permissions "
                       "(--debug shows the traceback)", err=True)
            ctx.exit(1)
        except Exception as exc:
            origin = _foreign_library(exc)
            if origin is None or debug():
                raise
            click.echo(f"Error in {origin}: {type(exc).__name__}: {exc} (--debug shows the traceback)", err=True)
            ctx.exit(1)


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


def _split_by(ctx, param, values) -> tuple[str, ...]:
    """``--by team,site --by week`` -> ``("team", "site", "week")``, duplicates dropped, order kept."""
    names = [n.strip() for v in values for n in v.split(",")]
    return tuple(dict.fromkeys(n for n in names if n))


def by_option(help_text: str = "Also per segment of ATTR: a column such as team, site, shift, channel, queue, "
                               "intent or outcome, or week (ISO week of the contact's first event)."):
    """``--by ATTR[,ATTR]``, repeatable; the command receives a tuple of attribute names."""
    def decorate(f):
        return click.option("--by", "by", multiple=True, callback=_split_by, metavar="ATTR[,ATTR]",
                            help=help_text + " Repeatable or comma-separated; one block per attribute.")(f)
    return decorate


def _parse_where(ctx, param, values) -> dict[str, set[str]]:
    from engine.errors import InputError
    from engine.log.select import parse_where
    try:
        return parse_where(values)
    except InputError as exc:
        raise click.BadParameter(f"{exc.message}; for example --where intent=lost_card") from exc


def where_option(f):
    """``--where ATTR=VALUE[,VALUE]``, repeatable; the command receives a dict attribute -> set of values."""
    return click.option("--where", "where", multiple=True, callback=_parse_where, metavar="ATTR=VALUE[,VALUE]",
                        help="Only the contacts whose ATTR is one of the values, e.g. intent=lost_card "
                             "(repeatable; a contact matches on its first non-empty value; ATTR as for --by).")(f)


def check_attribute_options(log: str, by=(), where=None) -> None:
    """Check --by and --where names against the log's schema before anything is encoded."""
    from engine.log.select import check_attributes
    check_attributes(log, by=by, where=tuple(where or ()))


def _check_csv_dir(ctx, param, value):
    if value is not None:
        from engine.report.outputs import check_output_folder
        check_output_folder(value, "--csv folder")
    return value


def _check_output_file(ctx, param, value):
    if value is not None:
        from engine.report.outputs import check_output_file
        check_output_file(value, f"{param.opts[-1]} file")
    return value


def csv_option(f):
    return click.option("--csv", "csv_dir", type=click.Path(), callback=_check_csv_dir,
                        help="Also write each table as a CSV file into this folder.")(f)


def output_option(help_text: str, required: bool = True):
    """``-o/--output FILE``, checked to be writable before any work."""
    def decorate(f):
        return click.option("-o", "--output", required=required, type=click.Path(), callback=_check_output_file,
                            help=help_text)(f)
    return decorate


def log_argument(f):
    """The LOG argument: a log written by cxmine ingest, as one .parquet file or a partitioned folder."""
    return click.argument("log", type=click.Path())(f)


def engine_options(f):
    """``--engine local|dask`` and ``--scheduler ADDRESS``; the command receives ``engine`` and ``scheduler``."""
    import functools

    @functools.wraps(f)
    def checked(*args, engine, scheduler, **kwargs):
        if scheduler and engine != "dask":
            raise click.UsageError("--scheduler is the address of a Dask scheduler: give it with --engine dask")
        return f(*args, engine=engine, scheduler=scheduler, **kwargs)

    checked = click.option("--scheduler", metavar="ADDRESS", default=None,
                           help="With --engine dask: the Dask scheduler to run on, e.g. tcp://10.0.0.5:8786 "
                                "(every worker must see LOG and the SOP at the same paths); default: a local "
                                "cluster of 2 worker processes.")(checked)
    return click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
                        help="local: in this process; dask: per partition of LOG on dask.distributed workers, "
                             "merged into the same results (docs/scale.md).")(checked)


def echo_json(data) -> None:
    from engine.report.outputs import to_json
    click.echo(to_json(data))


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
from engine.cli import drift as _drift  # noqa: E402,F401
from engine.cli import report as _report  # noqa: E402,F401
from engine.cli import discover as _discover  # noqa: E402,F401
from engine.cli import map as _map  # noqa: E402,F401
from engine.cli import compare as _compare  # noqa: E402,F401
from engine.cli import friction as _friction  # noqa: E402,F401
from engine.cli import partition as _partition  # noqa: E402,F401
