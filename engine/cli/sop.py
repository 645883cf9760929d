"""``cxmine sop show`` and ``cxmine sop render``."""

from __future__ import annotations

import click

from engine.cli import echo_json, json_option, main, output_option


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
    from engine.report.summaries import describe_sop, render_sop_summary

    info = describe_sop(load_sop(model))
    if as_json:
        echo_json(info)
        return
    click.echo(render_sop_summary(info))
    for warning in info["warnings"]:
        click.echo(f"Warning: {warning}", err=True)


@sop.command("render")
@click.argument("model", type=click.Path(dir_okay=False))
@output_option("Output file: .svg, .png, .pdf or .dot.")
def render(model, output):
    """Draw an SOP with one cluster per lane (owner); critical steps in red.

    Example:

        cxmine sop render models/lost_card.bpmn -o lost_card.svg
    """
    from engine.report.sop_render import render_sop
    from engine.model import load_sop

    path = render_sop(load_sop(model), output)
    click.echo(f"wrote {path}")
