"""``cxmine simulate``: interaction data with known deviations and drift."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import click

from engine.cli import echo_json, json_option, main, progress, quiet_option
from engine.errors import InputError, UsageError

#: the option that gives each argument the simulator names in its errors
FLAGS = {"contacts": "--contacts", "days": "--days", "deviation_rate": "--deviation-rate", "seed": "--seed",
         "start": "--start", "timezone": "--timezone", "sops": "--sop", "intent_weights": "--sop PATH:WEIGHT",
         "drifts": "--drift", "formats": "--formats", "out_dir": "-o"}


@contextmanager
def _options_named():
    """An error about one of the simulator's arguments becomes a usage error that names its option."""
    try:
        yield
    except InputError as exc:
        flag = FLAGS.get(exc.field or "")
        if flag is None:
            raise
        arg = exc.field
        text = exc.message
        text = flag + text[len(arg):] if text.startswith(arg + " ") else f"{flag}: {text}"
        raise UsageError(text, path=exc.path, line=exc.line, field=exc.field, hint=exc.hint) from exc


def _sop_paths(values: tuple[str, ...]) -> tuple[list[Path], list[float]]:
    """``--sop`` values: BPMN files or folders of them, each optionally ``PATH:WEIGHT``."""
    paths, weights = [], []
    for value in values:
        weight = 1.0
        head, sep, tail = value.rpartition(":")
        if sep and head:
            try:
                weight = float(tail)
                value = head
            except ValueError:
                pass
        p = Path(value)
        if p.is_dir():
            found = sorted(p.glob("*.bpmn"))
            if not found:
                raise InputError("No .bpmn file in the SOP folder", path=str(p))
            paths += found
            weights += [weight] * len(found)
        elif p.exists():
            paths.append(p)
            weights.append(weight)
        else:
            raise InputError("SOP model not found", path=str(p), hint="Give a BPMN file such as models/<name>.bpmn")
        if weight < 0:
            raise UsageError(f"SOP weight must be >= 0, got {weight}", path=value)
    return paths, weights


@main.command()
@click.option("--sop", "sops", multiple=True, required=True,
              help="SOP model (BPMN with its .toml sidecar) or a folder of them; repeat for several. "
                   "PATH:WEIGHT sets the share of contacts with that intent (default equal).")
@click.option("--contacts", type=click.IntRange(min=1), default=20000, show_default=True, help="Number of contacts.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed; same seed, same bytes.")
@click.option("--start", default="2026-01-05", show_default=True, help="First day (ISO date, local time).")
@click.option("--days", type=click.IntRange(min=1), default=28, show_default=True, help="Days simulated.")
@click.option("--deviation-rate", type=click.FloatRange(0, 1), default=0.05, show_default=True,
              help="Base probability that a contact deviates (scaled per team, shift and agent).")
@click.option("--variety", type=click.Choice(["standard", "realistic"]), default="standard", show_default=True,
              help="realistic: also the long tail of real contact centers (repeated steps, extra holds, "
                   "re-identification after transfers, system steps, swaps, skips, loops), all in the ground "
                   "truth; standard output is unchanged.")
@click.option("--drift", "drifts", multiple=True,
              help='Drift point "DATE:key=value:..." (e.g. "2026-03-01:team=B:skip=Verify identity:p=0.3") '
                   "or a TOML file of [[drift]] tables; repeatable.")
@click.option("--timezone", default="Europe/Lisbon", show_default=True,
              help="Time zone of the contact center: seasonality and the export's local times.")
@click.option("--gzip", "compress", is_flag=True, help="Write contacts.csv.gz instead of contacts.csv.")
@click.option("--formats", default="csv", show_default=True,
              help="Exports, comma-separated: csv (always written, with the ground truth), connect (Amazon "
                   "Connect contact records), genesys (Genesys Cloud conversation details).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Output folder.")
@json_option
@quiet_option
def simulate(sops, contacts, seed, start, days, deviation_rate, variety, drifts, timezone, compress, formats, output,
             as_json, quiet):
    """Simulate contact-center interactions over SOPs, with ground truth.

    Writes a long-form CSV export (one row per event, raw customer
    identifiers), its mapping file, and ground_truth/ (injected deviations,
    drift points, per-contact facts, transfers).

    Example:

    \b
        cxmine simulate --sop models --contacts 20000 --seed 7 --start 2026-02-02 --days 42 \\
            --drift "2026-03-01:team=B:skip=Verify identity:p=0.3" -o out/sim
        cxmine simulate --sop models/lost_card.bpmn:2 --sop models/order_delivery.bpmn -o out/two
        cxmine simulate --sop models --contacts 100000 --variety realistic -o out/tail
    """
    from engine.simulate import load_drifts, simulate_contacts, write_simulation
    from engine.simulate.vendor import parse_formats, write_vendor_exports
    from engine.model import load_sop

    with _options_named():
        parse_formats(formats)
        paths, weights = _sop_paths(sops)
        progress(f"loading {len(paths)} SOP(s)", quiet)
        models = [load_sop(p) for p in paths]
        progress(f"simulating {contacts} contacts over {days} days", quiet)
        sim = simulate_contacts(models, contacts, seed=seed, start=start, days=days, deviation_rate=deviation_rate,
                                drifts=load_drifts(list(drifts), timezone), intent_weights=weights,
                                timezone=timezone, variety=variety)
        progress(f"writing {output}", quiet)
        manifest = write_simulation(sim, output, compress=compress)
        vendor_files = write_vendor_exports(sim, output, formats, compress=compress)
    if vendor_files:
        manifest = {**manifest, "vendor_exports": vendor_files}
    if as_json:
        echo_json(manifest)
        return
    counts = manifest["counts"]
    for key in ("contacts", "events", "customers", "repeat_contacts", "transfers", "ping_pong_transfers",
                "deviating_contacts", "deviations", "deviations_allowed_by_sop", "contacts_fitting_sop"):
        click.echo(f"{key.replace('_', ' '):<26} {counts[key]}")
    click.echo(f"{'drift points':<26} {len(sim.drifts)}")
    click.echo(f"{'export':<26} {Path(output) / manifest['files']['export']}")
    click.echo(f"{'mapping':<26} {Path(output) / manifest['files']['mapping']}")
    for fmt, name in vendor_files.items():
        click.echo(f"{fmt + ' export':<26} {Path(output) / name}")
