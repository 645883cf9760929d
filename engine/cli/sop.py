"""``cxmine sop show`` and ``cxmine sop render``."""

from __future__ import annotations

import click

from engine.cli import echo_json, json_option, main


def describe_sop(sop) -> dict:
    """What ``sop show`` prints, as plain data."""
    return {
        "name": sop.name,
        "path": str(sop.path),
        "description": sop.description,
        "pools": list(sop.pools),
        "lanes": list(sop.lanes),
        "steps": [{"id": t.id, "name": t.name, "owner": t.owner, "critical": t.critical,
                   "documentation": t.documentation} for t in sop.tasks],
        "owners": sorted({t.owner for t in sop.tasks if t.owner}),
        "critical": sorted(sop.critical),
        "label_map": dict(sop.label_map),
        "cost_per_minute": dict(sop.cost_per_minute),
        "petri_net": sop.net_size(),
        "warnings": list(sop.warnings),
    }


@main.group()
def sop() -> None:
    """Inspect and draw SOP models (BPMN 2.0 with a .toml sidecar)."""


@sop.command("show")
@click.argument("model", type=click.Path(dir_okay=False))
@json_option
def show(model, as_json):
    """Show an SOP: steps with owners, critical steps, Petri net size, warnings.

    Example:

        cxmine sop show models/lost_card.bpmn
    """
    from engine.model import load_sop

    info = describe_sop(load_sop(model))
    if as_json:
        echo_json(info)
        return
    net = info["petri_net"]
    click.echo(f"SOP          {info['name']}")
    click.echo(f"file         {info['path']}")
    if info["pools"]:
        click.echo(f"pools        {', '.join(info['pools'])}")
    click.echo(f"owners       {', '.join(info['owners']) or '-'}")
    click.echo(f"petri net    {net['places']} places, {net['transitions']} transitions, {net['arcs']} arcs")
    click.echo(f"critical     {', '.join(info['critical']) or '-'}")
    click.echo(f"label map    {len(info['label_map'])} log label(s) mapped")
    click.echo("steps")
    width = max((len(s["name"]) for s in info["steps"]), default=4)
    for step in info["steps"]:
        mark = "  [critical]" if step["critical"] else ""
        click.echo(f"  {step['name'] or '(unnamed ' + step['id'] + ')':<{width}}  {step['owner'] or '-'}{mark}")
    for cost_owner, cost in info["cost_per_minute"].items():
        click.echo(f"cost/min     {cost_owner}: {cost:g}")
    for warning in info["warnings"]:
        click.echo(f"Warning: {warning}", err=True)


@sop.command("render")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Output file: .svg, .png, .pdf or .dot.")
def render(model, output):
    """Draw an SOP with one cluster per lane (owner); critical steps in red.

    Example:

        cxmine sop render models/lost_card.bpmn -o lost_card.svg
    """
    from engine.report.sop_render import render_sop
    from engine.model import load_sop

    path = render_sop(load_sop(model), output)
    click.echo(f"wrote {path}")
