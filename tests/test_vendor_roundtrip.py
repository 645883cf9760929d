"""One simulation, three exports (generic CSV, Amazon Connect records, Genesys conversations), one event log.

The simulator writes the same interactions as its long-form CSV (with its
mapping file), as Amazon Connect contact records (one record per transfer
leg, linked by the contact-id fields) and as Genesys Cloud conversation
details. Ingesting each must give the same contacts, activities, times,
owners, resources, queues, teams, customers (pseudonymised with the same
key), the same transfers and, with ``--case journey``, the same journeys.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from engine.ingest import ReadOptions
from engine.ingest.job import ingest_to_log
from engine.ingest.mapping import load_mapping
from engine.log.store import read_log
from engine.simulate import simulate_contacts, write_simulation
from engine.simulate.vendor import write_connect_records, write_genesys_conversations
from engine.model import load_sop

ROOT = Path(__file__).resolve().parents[1]
COMPARED = ("case_id", "activity", "timestamp", "end_timestamp", "resource", "owner", "channel", "queue", "team",
            "site", "shift", "customer_id")
KEY = b"roundtrip-test-key"


def _simulate(n: int, tmp: Path):
    sops = [load_sop(p) for p in sorted(glob.glob(str(ROOT / "models" / "*.bpmn")))]
    sim = simulate_contacts(sops, n, seed=11, start="2026-02-02", days=21, deviation_rate=0.05)
    write_simulation(sim, tmp / "csv")
    write_connect_records(sim.events, tmp / "connect.jsonl.gz", contacts=sim.contacts)
    write_genesys_conversations(sim.events, tmp / "genesys.jsonl")
    return sim


def _ingest(tmp: Path, name: str, case: str = "contact") -> pa.Table:
    out = tmp / f"{name}-{case}.parquet"
    if name == "csv":
        export = next((tmp / "csv").glob("contacts.csv*"))
        options = ReadOptions(mapping=load_mapping(tmp / "csv" / "mapping.toml"), pseudonym_key=KEY)
        summary = ingest_to_log([export], out, options=options, case_notion=case)
    else:
        fmt = {"connect": "amazon-connect", "genesys": "genesys"}[name]
        src = tmp / ("connect.jsonl.gz" if name == "connect" else "genesys.jsonl")
        summary = ingest_to_log([src], out, fmt=fmt, options=ReadOptions(pseudonym_key=KEY), case_notion=case)
    assert summary.records_rejected == 0
    assert summary.records_read == summary.records_accepted
    return read_log(out)


def _canonical(table: pa.Table) -> dict[str, list]:
    out = {}
    for name in COMPARED:
        col = table.column(name).combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        out[name] = col.to_pylist()
    return out


def _assert_same(a: pa.Table, b: pa.Table, label: str) -> None:
    assert a.num_rows == b.num_rows, f"{label}: {a.num_rows} != {b.num_rows} events"
    ca, cb = _canonical(a), _canonical(b)
    for name in COMPARED:
        if ca[name] != cb[name]:
            i = next(i for i, (x, y) in enumerate(zip(ca[name], cb[name])) if x != y)
            pytest.fail(f"{label}: column {name} differs first at event {i}: {ca[name][i]!r} != {cb[name][i]!r} "
                        f"(case {ca['case_id'][i]}, activity {ca['activity'][i]})")


def _roundtrip(n: int, tmp: Path) -> None:
    sim = _simulate(n, tmp)
    csv_log = _ingest(tmp, "csv")
    connect_log = _ingest(tmp, "connect")
    genesys_log = _ingest(tmp, "genesys")
    _assert_same(csv_log, connect_log, "CSV vs Amazon Connect")
    _assert_same(csv_log, genesys_log, "CSV vs Genesys")
    # the transfer chains really are several records that became one contact
    ev = sim.events
    later_legs = ev.filter(pc.greater(ev.column("leg"), 0))
    n_later = len(pc.unique(pc.binary_join_element_wise(
        later_legs.column("contact_id").cast(pa.string()), later_legs.column("leg").cast(pa.string()), "#")))
    assert n_later > 0
    legs = connect_log.column("contact_leg_id").combine_chunks().cast(pa.string())
    n_cases = len(pc.unique(connect_log.column("case_id").combine_chunks().cast(pa.string())))
    assert len(pc.unique(legs)) == n_cases + n_later
    assert pc.sum(pc.equal(connect_log.column("activity").cast(pa.string()), "Transfer")).as_py() > 0
    # customers are pseudonyms, identical across exports
    cust = set(csv_log.column("customer_id").combine_chunks().cast(pa.string()).to_pylist())
    assert all(c is None or (c.startswith("cus_") and len(c) == 36) for c in cust)
    # journeys: same grouping of contacts from each export
    j_csv = _ingest(tmp, "csv", "journey")
    j_connect = _ingest(tmp, "connect", "journey")
    j_genesys = _ingest(tmp, "genesys", "journey")
    _assert_same(j_csv, j_connect, "journeys CSV vs Amazon Connect")
    _assert_same(j_csv, j_genesys, "journeys CSV vs Genesys")
    n_journeys = len(pc.unique(j_csv.column("case_id").combine_chunks().cast(pa.string())))
    n_contacts = len(pc.unique(csv_log.column("case_id").combine_chunks().cast(pa.string())))
    assert n_journeys < n_contacts   # repeat contacts were chained


def test_three_exports_give_one_log(tmp_path):
    _roundtrip(5000, tmp_path)


@pytest.mark.slow
def test_three_exports_give_one_log_100k(tmp_path):
    _roundtrip(100_000, tmp_path)


def test_cli_simulate_writes_vendor_exports(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from engine.cli import main

    monkeypatch.setenv("CXMINE_PSEUDONYM_KEY", "cli")
    out = tmp_path / "sim"
    r = CliRunner().invoke(main, ["simulate", "--sop", str(ROOT / "models"), "--contacts", "200", "--seed", "3",
                                  "--formats", "csv,connect,genesys", "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert "connect export" in r.output and "genesys export" in r.output
    counts = set()
    for name in ("connect_records.jsonl", "genesys_conversations.jsonl"):
        log = tmp_path / (name + ".parquet")
        r = CliRunner().invoke(main, ["ingest", str(out / name), "-o", str(log), "--json", "-q"])
        assert r.exit_code == 0, r.output
        summary = json.loads(r.stdout)
        counts.add((summary["cases"], summary["events"]))
    assert len(counts) == 1 and next(iter(counts))[0] == 200
    bad = CliRunner().invoke(main, ["simulate", "--sop", str(ROOT / "models"), "--formats", "csv,avaya",
                                    "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "Unknown export format 'avaya'" in bad.output

