"""Writing a simulation out as a contact center would export it, plus its ground truth.

Files in the output folder (all written atomically):

- ``contacts.csv`` (or ``contacts.csv.gz``): the generic long-form export, one
  row per event: contact_id, activity, start, end, agent, owner, team, site,
  shift, channel, queue, customer (raw phone number or e-mail), intent,
  outcome. Times are ISO 8601 with the UTC offset of the export time zone.
- ``mapping.toml``: the mapping file that ingests it (``cxmine ingest`` with this mapping).
- ``ground_truth/deviations.csv``: one row per injected change: contact_id,
  step, kind (skipped | inserted | swapped | unknown), other_step (swaps),
  cause (team | context_loss | ping_pong | drift), drift_id, allowed_by_sop (the contact's
  changed trace is still one the SOP allows; one value per contact), and the
  contact's sop, team, site, shift, agent.
- ``ground_truth/contacts.csv``: one row per contact (no customer identifier):
  SOP, variant, channel, routing, repeat_of, legs, ping_pong, bot handoff and
  context loss, outcome, number of deviations, fits_sop.
- ``ground_truth/transfers.csv``: one row per transfer leg.
- ``ground_truth/drift.json``: each drift point, what changed and how many contacts it touched.
- ``manifest.json``: parameters and counts.

Gzip output carries no name or time in its header, so the same seed gives the same bytes.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from engine.atomic import atomic_path
from engine.errors import InputError
from engine.log.timestamps import format_timestamps
from engine.simulate.contacts import Simulation

EXPORT_COLUMNS = ("contact_id", "activity", "start", "end", "agent", "owner", "team", "site", "shift", "channel",
                  "queue", "customer", "intent", "outcome")
MAPPING_COLUMNS = {"case_id": "contact_id", "activity": "activity", "timestamp": "start", "end_timestamp": "end",
                   "resource": "agent", "owner": "owner", "team": "team", "site": "site", "shift": "shift",
                   "channel": "channel", "queue": "queue", "customer_id": "customer"}


def _strings(table: pa.Table, zone: str) -> pa.Table:
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            col = format_timestamps(col, zone=zone)
        cols[name] = col
    return pa.table(cols)


def _write_csv(table: pa.Table, path: Path, compress: bool = False) -> None:
    with atomic_path(path) as tmp:
        if compress:
            with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                       compresslevel=6) as fh:
                pacsv.write_csv(table, fh)
        else:
            pacsv.write_csv(table, tmp)


def _write_text(text: str, path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def render_mapping(zone: str) -> str:
    lines = ['# Mapping of the simulator\'s long-form export to the canonical event log.',
             'format = "csv"', f'timezone = "{zone}"', 'timestamp_format = "ISO8601"', 'delimiter = ","',
             "keep_unmapped = true", "", "[columns]"]
    lines += [f'{k} = "{v}"' for k, v in MAPPING_COLUMNS.items()]
    return "\n".join(lines) + "\n"


def write_simulation(sim: Simulation, out_dir: str | Path, *, compress: bool = False) -> dict:
    """Write the export, its mapping and the ground truth; return the manifest."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("The output path is a file; the simulator writes a folder", path=str(out),
                         field="out_dir", hint="Give a folder, e.g. out/sim")
    zone = sim.parameters["timezone"]
    export_name = "contacts.csv.gz" if compress else "contacts.csv"
    stale = out / ("contacts.csv" if compress else "contacts.csv.gz")
    _write_csv(_strings(sim.events.select(list(EXPORT_COLUMNS)), zone), out / export_name, compress)
    if stale.exists():
        stale.unlink()
    _write_text(render_mapping(zone), out / "mapping.toml")
    truth = out / "ground_truth"
    _write_csv(_strings(sim.deviations, zone), truth / "deviations.csv")
    _write_csv(_strings(sim.contacts.drop_columns(["customer"]), zone), truth / "contacts.csv")
    _write_csv(_strings(sim.transfers, zone), truth / "transfers.csv")
    _write_text(json.dumps(list(sim.drifts), indent=2) + "\n", truth / "drift.json")
    deviations = sim.deviations
    manifest = {
        "parameters": sim.parameters,
        "sop_variants": sim.sop_variants,
        "counts": {
            "contacts": sim.contacts.num_rows,
            "events": sim.events.num_rows,
            "customers": len(pc.unique(sim.contacts.column("customer").combine_chunks().indices)),
            "deviations": deviations.num_rows,
            "deviating_contacts": len(pc.unique(deviations.column("contact_id").combine_chunks().indices)),
            "deviations_allowed_by_sop": int(pc.sum(deviations.column("allowed_by_sop")).as_py() or 0),
            "contacts_fitting_sop": int(pc.sum(sim.contacts.column("fits_sop")).as_py() or 0),
            "transfers": sim.transfers.num_rows,
            "ping_pong_transfers": int(pc.sum(sim.transfers.column("ping_pong")).as_py() or 0),
            "repeat_contacts": sim.contacts.num_rows - sim.contacts.column("repeat_of").null_count,
        },
        "files": {"export": export_name, "mapping": "mapping.toml",
                  "deviations": "ground_truth/deviations.csv", "contacts": "ground_truth/contacts.csv",
                  "transfers": "ground_truth/transfers.csv", "drift": "ground_truth/drift.json"},
    }
    _write_text(json.dumps(manifest, indent=2) + "\n", out / "manifest.json")
    return manifest
