"""The report folder: index.html, report.json, timing.json and the CSV tables, written atomically.

``index.html`` is one self-contained file (inline SVG, no network).
``report.json`` holds the results and the audit trail with no times, so the
same inputs and parameters give the same bytes on the same installation;
``timing.json`` holds the run's start, end and stage times. The CSV tables
are the ones the single commands write (``kpi``, ``variants``, ``conform``,
``drift``), in sub-folders named after them.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.atomic import atomic_path


def draw_sops(checks, contacts: int | None = None) -> dict[str, str]:
    """SVG drawing of each checked SOP by SOP name: with its contacts' execution laid on it where their
    replay was kept or their execution gathered from partitions (engine.report.sop_execution), else as
    designed (its lanes, critical steps marked). ``contacts``: the contacts looked at to find each SOP's."""
    from dataclasses import replace

    from engine.analyses.sop_execution import summarize_execution
    from engine.report.sop_execution import execution_svg
    from engine.report.sop_render import build_sop_graph
    out = {}
    for check in checks:
        if getattr(check.sop, "model", None) is None:
            continue
        execution = getattr(check, "execution", None)
        if check.result is not None and execution is not None:
            out[check.sop.name] = execution_svg(replace(execution, log_contacts=execution.contacts
                                                        if contacts is None else contacts))
        elif check.result is not None and check.result.replay is not None:
            out[check.sop.name] = execution_svg(summarize_execution(check.result, check.sop, log_contacts=contacts))
        else:
            out[check.sop.name] = build_sop_graph(check.sop).pipe(format="svg").decode("utf-8")
    return out


def _write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _write_tables(ov, folder: Path) -> list[Path]:
    from engine.report.drift import write_drift_csv
    from engine.report.kpis import write_kpis_csv
    from engine.report.variants import write_variants_csv
    written = write_kpis_csv(folder / "kpi", ov.kpis) + write_variants_csv(folder / "variants", ov.variants, {})
    if ov.sops:
        from engine.report.conformance import write_conformance_csv
        for check in ov.sops:
            if check.result is not None:
                written += write_conformance_csv(check.result, folder / "conform" / check.sop.path.stem,
                                                 contacts=getattr(check, "contacts", None))
    if ov.friction is not None:
        from engine.report.friction import write_friction_csv
        written += write_friction_csv(folder / "friction", ov.friction)
    if ov.drift is not None:
        written += write_drift_csv(ov.drift, folder / "drift", tuple(dict.fromkeys(s.attribute
                                                                                      for s in ov.drift.segments)))
    return written


def write_report(ov, audit, out_dir: str | os.PathLike, *, title: str, subtitle: str,
                 map_svg: str | None = None) -> dict[str, Path]:
    """Write the whole report folder; returns the main files' paths."""
    from engine.report.document import report_document, report_sections
    from engine.report.html import render_html
    from engine.report.outputs import to_json, write_json
    out = Path(out_dir)
    if map_svg is None and ov.process_map is not None:
        from engine.report.process_map import build_map_graph
        map_svg = build_map_graph(ov.process_map, "The process as executed").pipe(format="svg").decode("utf-8")
    sections = report_sections(ov, map_svg=map_svg, sop_svgs=draw_sops(ov.sops, ov.n_contacts))
    html = render_html(title, subtitle, sections, audit.rows())
    paths = {"html": _write_text(out / "index.html", html),
             "json": _write_text(out / "report.json", to_json(report_document(ov, audit)) + "\n"),
             "timing": write_json(out / "timing.json", dict(audit.timing))}
    paths["tables"] = out / "tables"
    _write_tables(ov, out / "tables")
    return paths
