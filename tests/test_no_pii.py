"""No raw phone number or e-mail address from the input reaches any output.

Inputs: a small simulation exported three ways (generic CSV with raw customer
phone numbers and e-mail addresses, Amazon Connect contact records, Genesys
Cloud conversations) and the hand-written vendor samples (identifiers in
endpoints, contact attributes and free text). Outputs checked: the stored
logs (every string value decoded, contact and journey case notions), the
rejects files, the XES and OCEL 2.0 exports (JSON, XML, SQLite), and what
the CLI printed (summary and --json).
"""

from __future__ import annotations

import glob
import gzip
import re
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.simulate import simulate_contacts, write_simulation
from engine.simulate.vendor import write_connect_records, write_genesys_conversations
from engine.model import load_sop

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
PHONE = re.compile(r"\+\d(?:[ ().\-]{0,2}\d){6,16}")


def _identifiers(texts: list[str]) -> set[str]:
    found: set[str] = set()
    for text in texts:
        for m in EMAIL.findall(text):
            found |= {m, m.lower()}
        for m in PHONE.findall(text):
            found |= {m, "+" + re.sub(r"\D", "", m)}
    return found


def _parquet_text(path: Path) -> str:
    t = pq.read_table(path)
    parts = [" ".join(t.column_names), str(pq.read_schema(path).metadata)]
    for name in t.column_names:
        col = t.column(name).combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            parts.append("\n".join(v for v in col.to_pylist() if v is not None))
    return "\n".join(parts)


def _file_text(path: Path) -> str:
    raw = path.read_bytes()
    if path.suffix == ".parquet":
        return _parquet_text(path)
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[:16] == b"SQLite format 3\x00":
        con = sqlite3.connect(path)
        rows = []
        for (table,) in con.execute("select name from sqlite_master where type='table'"):
            for row in con.execute(f'select * from "{table}"'):
                rows.append(" ".join(str(v) for v in row))
        con.close()
        return "\n".join(rows)
    return raw.decode("utf-8", errors="replace")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, list[tuple[Path, str | None, Path | None]], set[str]]:
    tmp = tmp_path_factory.mktemp("pii")
    sops = [load_sop(p) for p in sorted(glob.glob(str(ROOT / "models" / "*.bpmn")))]
    sim = simulate_contacts(sops, 400, seed=5, start="2026-02-02", days=10, deviation_rate=0.1)
    write_simulation(sim, tmp / "csv")
    write_connect_records(sim.events, tmp / "connect.jsonl", contacts=sim.contacts)
    write_genesys_conversations(sim.events, tmp / "genesys.json.gz")
    csv_export = next((tmp / "csv").glob("contacts.csv*"))
    runs = [(csv_export, None, tmp / "csv" / "mapping.toml"),
            (tmp / "connect.jsonl", "amazon-connect", None),
            (tmp / "genesys.json.gz", "genesys", None),
            (DATA / "amazon_connect" / "ctr_chain.jsonl", "amazon-connect", None),
            (DATA / "genesys" / "conversations_query.json", "genesys", None)]
    texts = [_file_text(p) for p, _, _ in runs]
    customers = {c for c in sim.events.column("customer").combine_chunks().cast(pa.string()).to_pylist() if c}
    ids = _identifiers(texts + sorted(customers)) | customers
    assert any("@" in i for i in ids) and any(i.startswith("+") for i in ids)
    return tmp, runs, ids


def test_no_raw_identifier_in_any_output(inputs, monkeypatch):
    tmp, runs, ids = inputs
    monkeypatch.delenv("CXMINE_PSEUDONYM_KEY", raising=False)   # the installation-key path (its folder is set by conftest.py)
    runner = CliRunner()
    outputs: list[Path] = []
    printed: list[str] = []
    for i, (src, fmt, mapping) in enumerate(runs):
        for case in ("contact", "journey"):
            log = tmp / "out" / f"log{i}-{case}.parquet"
            args = ["ingest", str(src), "-o", str(log), "--case", case]
            args += ["--format", fmt] if fmt else ["--mapping", str(mapping)]
            for extra in ([], ["--json"]) if case == "contact" else ([],):
                r = runner.invoke(main, args + extra)
                assert r.exit_code == 0, r.output
                printed.append(r.output)
            outputs.append(log)
            rejects = log.with_name(log.name.replace(".parquet", ".rejects.csv"))
            if rejects.exists():
                outputs.append(rejects)
            targets = (("xes", "log.xes.gz"), ("ocel-json", "log.jsonocel"), ("ocel-xml", "log.xmlocel"),
                       ("ocel-sqlite", "log.sqlite")) if case == "contact" else (("ocel-json", "log.jsonocel"),)
            for target, name in targets:
                out = tmp / "out" / f"{i}-{case}-{name}"
                r = runner.invoke(main, ["export", str(log), "--to", target, "-o", str(out)])
                assert r.exit_code == 0, r.output
                printed.append(r.output)
                outputs.append(out)
    assert any(p.name.endswith(".rejects.csv") for p in outputs)
    everything = [(str(p), _file_text(p)) for p in outputs] + [("CLI output", t) for t in printed]
    leaks = [(where, i) for where, text in everything for i in ids if i in text]
    assert not leaks, f"raw identifiers in outputs: {leaks[:5]}"
    # and the pseudonyms are there instead
    assert any("cus_" in text for _, text in everything)
