"""Writing a simulation out as a contact center would export it, plus its ground truth.

Files in the output folder (all written atomically):

- ``contacts.csv`` (or ``contacts.csv.gz``): the generic long-form export, one
  row per event: contact_id, activity, start, end, agent, owner, team, site,
  shift, channel, queue, customer (raw phone number or e-mail), intent,
  outcome. Times are ISO 8601 with the UTC offset of the export time zone.
- ``mapping.toml``: the mapping file that ingests it (``cxmine ingest ... --mapping``).
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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from engine.atomic import atomic_path
from engine.errors import UsageError
from engine.simulate.contacts import Simulation

EXPORT_COLUMNS = ("contact_id", "activity", "start", "end", "agent", "owner", "team", "site", "shift", "channel",
                  "queue", "customer", "intent", "outcome")
MAPPING_COLUMNS = {"case_id": "contact_id", "activity": "activity", "timestamp": "start", "end_timestamp": "end",
                   "resource": "agent", "owner": "owner", "team": "team", "site": "site", "shift": "shift",
                   "channel": "channel", "queue": "queue", "customer_id": "customer"}


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of days since 1970-01-01 (proleptic Gregorian)."""
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative ints as a uint8 matrix (len(values), width)."""
    out = np.empty((len(values), width), dtype=np.uint8)
    v = values.astype(np.int64)
    for k in range(width - 1, -1, -1):
        out[:, k] = ord("0") + v % 10
        v = v // 10
    return out


def format_times(values: pa.Array | pa.ChunkedArray, zone: str) -> pa.Array:
    """ISO 8601 local times with offset, e.g. ``2026-03-02T09:15:02+00:00``; nulls stay null.

    Assembled from lookup tables (one row per calendar day, second of the day
    and offset) into a fixed-width byte matrix: string formatting with time
    zones would be the slowest step of writing ten million events.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    utc = pc.cast(values, pa.timestamp("s", tz="UTC"), safe=False)
    local = pc.local_timestamp(utc.cast(pa.timestamp("s", tz=zone)))
    t_utc = utc.cast(pa.int64()).fill_null(0).to_numpy()
    t_loc = local.cast(pa.int64()).fill_null(0).to_numpy()
    n = len(t_utc)
    out = np.empty((n, 25), dtype=np.uint8)
    if n:
        days, secs = np.divmod(t_loc, 86400)
        first = int(days.min())
        span = np.arange(first, int(days.max()) + 1)
        year, month, day = _civil(span)
        dates = np.empty((len(span), 10), dtype=np.uint8)
        dates[:, 0:4], dates[:, 5:7], dates[:, 8:10] = _digits(year, 4), _digits(month, 2), _digits(day, 2)
        dates[:, 4] = dates[:, 7] = ord("-")
        sod = np.arange(86400)
        clock = np.empty((86400, 9), dtype=np.uint8)
        clock[:, 0] = ord("T")
        clock[:, 1:3], clock[:, 4:6], clock[:, 7:9] = (_digits(sod // 3600, 2), _digits(sod % 3600 // 60, 2),
                                                      _digits(sod % 60, 2))
        clock[:, 3] = clock[:, 6] = ord(":")
        minutes = np.arange(1441)
        offs = np.empty((2, 1441, 6), dtype=np.uint8)
        offs[0, :, 0], offs[1, :, 0] = ord("+"), ord("-")
        offs[:, :, 1:3] = _digits(minutes // 60, 2)
        offs[:, :, 4:6] = _digits(minutes % 60, 2)
        offs[:, :, 3] = ord(":")
        diff = t_loc - t_utc
        out[:, 0:10] = dates[days - first]
        out[:, 10:19] = clock[secs]
        out[:, 19:25] = offs[(diff < 0).astype(np.int64), np.minimum(np.abs(diff) // 60, 1440)]
    offsets = np.arange(0, 25 * n + 1, 25, dtype=np.int32)
    validity = None
    if values.null_count:
        validity = pa.array(values.is_valid().to_numpy(zero_copy_only=False)).buffers()[1]
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out.tobytes()), validity,
                                       values.null_count)


def _strings(table: pa.Table, zone: str) -> pa.Table:
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            col = format_times(col, zone)
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
        raise UsageError("The output path is a file; the simulator writes a folder", path=str(out),
                         hint="Give a folder with -o, e.g. -o out/sim")
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
