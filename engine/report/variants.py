"""Variants as tables, text and JSON: what ``cxmine variants`` prints and writes.

Segments come as ``{attribute: {label: Variants}}``, one block per attribute.
"""

from __future__ import annotations

from pathlib import Path

from engine.report.numbers import format_count, format_duration, format_number, format_share
from engine.report.tables import render_table, write_csv

VARIANT_HEADERS = ["rank", "cases", "share", "cumulative", "steps", "activities"]
VARIANT_UNITS = ["count", "count", "share", "share", "count", None]


def variant_rows(v, top: int | None = None) -> list[list]:
    """Rank, cases, share and cumulative share (fractions), steps and activities of the top variants."""
    rows, cum = [], 0
    for rank, (seq, count) in enumerate(v.top(top), 1):
        cum += count
        rows.append([rank, count, count / v.n_cases, cum / v.n_cases, len(seq), " > ".join(seq)])
    return rows


def _summary_line(v, top: int) -> str:
    return (f"cases {format_count(v.n_cases)}   variants {format_count(v.n_variants)}   "
            f"top {top} cover {format_share(v.coverage(top))}   long tail {format_share(v.long_tail_share(top))}   "
            f"variants for 80% of cases: {format_count(v.variants_for_coverage(0.8))}")


def render_variants(overall, segments: dict, profile, top: int) -> str:
    """The terminal view: coverage, case profile, the top variants, then each segment's."""
    out = [_summary_line(overall, top)]
    if profile.n_cases:
        ev, du = profile.event_stats(), profile.duration_stats()
        out.append(f"events per case: median {format_number(ev['median'])}, mean {ev['mean']:.2f}, "
                   f"max {format_count(ev['max'])}   case duration: median {format_duration(du['median'])}, "
                   f"p90 {format_duration(du['p90'])}")
    out.append(render_table(VARIANT_HEADERS, variant_rows(overall, top), units=VARIANT_UNITS))
    for attr, blocks in segments.items():
        for label, v in blocks.items():
            out.append("")
            out.append(render_table(VARIANT_HEADERS, variant_rows(v, top), units=VARIANT_UNITS,
                                    title=f"{attr} = {label}: {format_count(v.n_cases)} cases, "
                                          f"{format_count(v.n_variants)} variants, "
                                          f"top {top} cover {format_share(v.coverage(top))}"))
    return "\n".join(out)


def variants_document(overall, segments: dict, profile, top: int) -> dict:
    """The JSON document: shares as fractions, durations in seconds."""
    data = {**overall.as_dict(top), "top": top, "coverage_top": overall.coverage(top),
            "long_tail_share": overall.long_tail_share(top), "cases": profile.as_dict()}
    if segments:
        data["by"] = list(segments)
        data["segments"] = {attr: {label: {**v.as_dict(top), "coverage_top": v.coverage(top)}
                                   for label, v in blocks.items()} for attr, blocks in segments.items()}
    return data


def write_variants_csv(folder, overall, segments: dict) -> list[Path]:
    """variants.csv (every variant) and variants_by_<attribute>.csv per segment attribute."""
    written = [write_csv(folder, "variants.csv", VARIANT_HEADERS, variant_rows(overall))]
    for attr, blocks in segments.items():
        rows = [[label] + r for label, v in blocks.items() for r in variant_rows(v)]
        written.append(write_csv(folder, f"variants_by_{attr}.csv", [attr] + VARIANT_HEADERS, rows))
    return written
