"""OCEL 2.0 import (flattening) and export, with pm4py as the oracle."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from engine.errors import InputError
from engine.ingest import ReadOptions
from engine.ingest.ocel import read_ocel_json, read_ocel_sqlite, read_ocel_xml
from engine.log import read_log, write_log
from engine.log.ocel import map_type_names, write_ocel
from engine.log.schema import TS_TYPE

pm4py = pytest.importorskip("pm4py")

DATA = Path(__file__).parent / "data" / "ocel"
READERS = {"json": read_ocel_json, "xml": read_ocel_xml, "sqlite": read_ocel_sqlite}
SUFFIX = {"json": "jsonocel", "xml": "xmlocel", "sqlite": "sqlite"}
EXAMPLE_TYPES = ("Invoice", "Payment", "Purchase Order", "Purchase Requisition")
KEY = b"test-key"


def pm4py_read(path: Path, fmt: str):
    return {"json": pm4py.read_ocel2_json, "xml": pm4py.read_ocel2_xml, "sqlite": pm4py.read_ocel2_sqlite}[fmt](str(path))


def utc_ns(series: pd.Series) -> pd.Series:
    ts = pd.to_datetime(series)
    if ts.dt.tz is None:
        ts = ts.dt.tz_localize("UTC")
    return ts.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").astype("int64")


def flattened_by_pm4py(ocel, object_type: str) -> list[tuple]:
    fl = pm4py.ocel_flattening(ocel, object_type)
    return sorted(zip(fl["case:concept:name"].astype(str), fl["ocel:eid"].astype(str),
                      fl["concept:name"].astype(str), utc_ns(fl["time:timestamp"])))


def flattened_by_cxmine(table: pa.Table) -> list[tuple]:
    t = table.to_pydict()
    ts = table.column("timestamp").cast(pa.int64()).to_pylist()
    return sorted(zip(t["case_id"], t["ocel_event_id"], t["activity"], ts))


# ---------------------------------------------------------------- import, pm4py as oracle

@pytest.mark.parametrize("fmt", ["json", "xml", "sqlite"])
@pytest.mark.parametrize("object_type", EXAMPLE_TYPES)
def test_flattening_matches_pm4py_on_the_ocel20_example(fmt, object_type):
    path = DATA / f"ocel20_example.{SUFFIX[fmt]}"
    expected = flattened_by_pm4py(pm4py_read(path, fmt), object_type)
    res = READERS[fmt](path, ReadOptions(case_object=object_type))
    assert flattened_by_cxmine(res.table) == expected
    assert res.records_read == 13
    assert res.records_accepted == len({e for _, e, _, _ in expected})
    assert all("not related to any object of type" in r.reason for r in res.rejects)


def test_event_attributes_and_case_object_attributes_are_kept():
    res = read_ocel_json(DATA / "ocel20_example.jsonocel", ReadOptions(case_object="Purchase Order"))
    rows = {r["ocel_event_id"]: r for r in res.table.to_pylist()}
    assert rows["e3"]["po_creator"] == "Mike" and rows["e3"]["case:po_product"] == "Cows"
    # event e3 is also related to a purchase requisition: kept as an object column
    assert rows["e3"]["object:Purchase Requisition"] == "PR1"
    assert rows["e3"]["ocel_qualifier"] == "Created order with identifier"


def test_an_event_of_two_case_objects_appears_in_both_cases(tmp_path):
    doc = {"objectTypes": [{"name": "contact", "attributes": []}, {"name": "agent", "attributes": []}],
           "eventTypes": [{"name": "Conference", "attributes": []}, {"name": "Queue", "attributes": []}],
           "objects": [{"id": "c1", "type": "contact"}, {"id": "c2", "type": "contact"},
                       {"id": "a1", "type": "agent"}],
           "events": [
               {"id": "e1", "type": "Queue", "time": "2024-03-01T10:00:00Z",
                "relationships": [{"objectId": "c1", "qualifier": "contact"}]},
               {"id": "e2", "type": "Conference", "time": "2024-03-01T10:05:00.250Z",
                "relationships": [{"objectId": "c1", "qualifier": "contact"},
                                  {"objectId": "c1", "qualifier": "conferenced"},
                                  {"objectId": "c2", "qualifier": "contact"},
                                  {"objectId": "a1", "qualifier": "handled by"}]}]}
    p = tmp_path / "conf.jsonocel"
    p.write_text(json.dumps(doc))
    res = read_ocel_json(p, ReadOptions(case_object="contact"))
    assert flattened_by_cxmine(res.table) == flattened_by_pm4py(pm4py.read_ocel2_json(str(p)), "contact")
    assert sorted(res.table.column("case_id").to_pylist()) == ["c1", "c1", "c2"]
    assert res.records_read == 2 and res.records_accepted == 2 and res.table.num_rows == 3
    assert res.table.column("resource").to_pylist().count("a1") == 2


@pytest.mark.parametrize("fmt", ["json", "xml", "sqlite"])
def test_flattening_matches_pm4py_on_files_pm4py_writes(tmp_path, fmt):
    ocel = pm4py.read_ocel(str(DATA / "example_log.jsonocel"))       # OCEL 1.0 source, written as 2.0 by pm4py
    out = tmp_path / f"ex.{SUFFIX[fmt]}"
    {"json": pm4py.write_ocel2_json, "xml": pm4py.write_ocel2_xml, "sqlite": pm4py.write_ocel2_sqlite}[fmt](ocel, str(out))
    back = pm4py_read(out, fmt)
    for ot in sorted(back.objects["ocel:type"].unique()):
        res = READERS[fmt](out, ReadOptions(case_object=ot))
        assert flattened_by_cxmine(res.table) == flattened_by_pm4py(back, ot), ot


def test_naive_times_are_utc_or_the_mapping_time_zone():
    path = DATA / "ocel20_example.xmlocel"
    utc = read_ocel_xml(path, ReadOptions(case_object="Payment"))
    assert any("no UTC offset" in w for w in utc.warnings)
    berlin = read_ocel_xml(path, ReadOptions(case_object="Payment", mapping={"timezone": "Europe/Berlin"}))
    a = utc.table.column("timestamp").cast(pa.int64()).to_numpy()
    b = berlin.table.column("timestamp").cast(pa.int64()).to_numpy()
    assert np.all(a - b == 3600 * 10**9)          # winter time, UTC+1
    # the JSON twin of the example carries offsets; read in Berlin time the XML times agree with it
    js = read_ocel_json(DATA / "ocel20_example.jsonocel", ReadOptions(case_object="Payment"))
    assert flattened_by_cxmine(js.table) == flattened_by_cxmine(berlin.table)


# ---------------------------------------------------------------- import: bad input

def test_missing_or_unknown_case_object_lists_the_types(tmp_path):
    for opt in (None, "order"):
        with pytest.raises(InputError) as e:
            read_ocel_json(DATA / "ocel20_example.jsonocel", ReadOptions(case_object=opt))
        assert "Invoice (3 objects)" in str(e.value) and "Purchase Order (2 objects)" in str(e.value)
        assert e.value.field == "case_object" and "case_object argument" in str(e.value)
    from click.testing import CliRunner
    from engine.cli import main

    r = CliRunner().invoke(main, ["ingest", str(DATA / "ocel20_example.jsonocel"), "-o", str(tmp_path / "l.parquet")])
    assert r.exit_code == 2 and "--case-object" in r.output and "Invoice (3 objects)" in r.output


@pytest.mark.parametrize("text", [
    '<?xml version="1.0"?>\n<!DOCTYPE log [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>\n'
    '<log><objects/><events><event id="e1" type="&b;" time="2020-01-01T00:00:00Z"/></events></log>',
    '<?xml version="1.0"?>\n<!DOCTYPE log SYSTEM "file:///etc/passwd">\n<log><events/></log>',
])
def test_xml_with_doctype_or_entities_is_refused(tmp_path, text):
    p = tmp_path / "evil.xmlocel"
    p.write_text(text)
    with pytest.raises(InputError, match="DOCTYPE is refused"):
        read_ocel_xml(p, ReadOptions(case_object="x"))


def test_xml_undeclared_entity_is_broken_xml(tmp_path):
    p = tmp_path / "e.xmlocel"
    p.write_text('<log><events><event id="e1" type="&x;" time="2020-01-01T00:00:00Z"/></events></log>')
    with pytest.raises(InputError, match="Broken XML"):
        read_ocel_xml(p, ReadOptions(case_object="x"))


@pytest.mark.parametrize("name,content,reader,message", [
    ("b.jsonocel", '{"events": [1, 2', "json", "Broken JSON"),
    ("l.jsonocel", "[1, 2]", "json", "Not an OCEL 2.0 JSON file"),
    ("c.jsonocel", '{"rows": []}', "json", "Not an OCEL 2.0 JSON file"),
    ("x.xmlocel", '<log xes.version="1.0"><trace/></log>', "xml", "If this is an XES log"),
    ("r.xmlocel", "<process/>", "xml", "root element is <process>"),
    ("h.xmlocel", "<log><events><event></log>", "xml", "Broken XML"),
    ("z.sqlite", "not a database at all", "sqlite", "Not an SQLite database"),
])
def test_non_ocel_files_give_clear_input_errors(tmp_path, name, content, reader, message):
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(InputError, match=message) as e:
        READERS[reader](p, ReadOptions(case_object="contact"))
    assert str(p) in str(e.value)


def test_ocel1_json_is_named_as_such():
    with pytest.raises(InputError, match="OCEL 1.0"):
        read_ocel_json(DATA / "example_log.jsonocel", ReadOptions(case_object="order"))


def test_sqlite_without_ocel_tables(tmp_path):
    p = tmp_path / "other.sqlite"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE calls (id TEXT)")
    con.commit()
    con.close()
    with pytest.raises(InputError, match=r"table\(s\) event, object.*missing \(found: calls\)"):
        read_ocel_sqlite(p, ReadOptions(case_object="contact"))


def test_bad_events_are_rejected_with_reasons(tmp_path):
    doc = {"objectTypes": [{"name": "contact", "attributes": []}],
           "eventTypes": [{"name": "Queue", "attributes": [{"name": "wait", "type": "integer"}]}],
           "objects": [{"id": "c1", "type": "contact"}, {"id": "c2", "type": "contact"}],
           "events": [
               {"id": "e1", "type": "Queue", "time": "2024-03-01T10:00:00Z",
                "attributes": [{"name": "wait", "value": "12"}],
                "relationships": [{"objectId": "c1", "qualifier": "contact"}]},
               {"id": "e2", "type": "Queue", "time": "yesterday",
                "relationships": [{"objectId": "c1", "qualifier": "contact"}]},
               {"id": "e1", "type": "Queue", "time": "2024-03-01T10:00:00Z",
                "relationships": [{"objectId": "c2", "qualifier": "contact"}]},
               {"id": "e4", "type": "Queue", "relationships": [{"objectId": "c2", "qualifier": "contact"}]},
               {"id": "e5", "type": "Queue", "time": "2024-03-01T10:00:00Z",
                "relationships": [{"objectId": "ghost", "qualifier": "contact"}]},
               "not an event",
           ]}
    p = tmp_path / "bad.jsonocel"
    p.write_text(json.dumps(doc))
    res = read_ocel_json(p, ReadOptions(case_object="contact"))
    reasons = {r.line: r.reason for r in res.rejects}
    assert res.records_read == 6 and res.records_accepted == 1 and res.table.num_rows == 1
    assert "not an ISO 8601" in reasons[2] and "duplicate event id 'e1'" == reasons[3]
    assert reasons[4] == "event has no time" and "not related to any object" in reasons[5]
    assert reasons[6] == "event is not a JSON object"
    assert any("not in the file" in w for w in res.warnings)
    assert res.table.column("wait").type == pa.int64()


# ---------------------------------------------------------------- export

def contact_log() -> pa.Table:
    """A small contact-center log with every object type, odd names and missing values."""
    base = 1_700_000_000_000_000_000
    rows = [
        # case, activity, +seconds(ns), resource, queue, team, customer, channel, end(+ns), wait
        ("C-1", "IVR menu", 0, None, "Billing", None, "cus_" + "a" * 32, "voice", None, 3),
        ("C-1", "Queue", 30_000_000_001, None, "Billing", "Billing", "cus_" + "a" * 32, "voice", None, 40),
        ("C-1", "Agent answer", 75_123_456_000, "agent 7", "Billing", "Tier 1", "cus_" + "a" * 32, "voice",
         400_000_000_000, None),
        ("C-1", "Wrap-up", 400_000_000_000, "agent 7", None, "Tier 1", "cus_" + "a" * 32, "voice", None, None),
        ("C:2 <&>", "Bot intent", 10_000_000_000, "bot", None, None, "cus_" + "b" * 32, "chat", None, None),
        ("C:2 <&>", "Transfer", 20_000_000_000, "bot", "Cards ü", "AI Automation", "cus_" + "b" * 32, "chat", None,
         None),
        ("C:2 <&>", "Agent answer", 50_000_000_000, "agent 9", "Cards ü", "Tier 1", None, "chat", None, 30),
        ("C3", "Wrap up", 60_000_000_000, None, None, None, None, None, None, None),
    ]
    cols = list(zip(*rows))
    return pa.table({
        "case_id": list(cols[0]), "activity": list(cols[1]),
        "timestamp": pa.array([base + x for x in cols[2]], pa.int64()).cast(TS_TYPE),
        "resource": list(cols[3]), "queue": list(cols[4]), "team": list(cols[5]), "customer_id": list(cols[6]),
        "channel": list(cols[7]),
        "end_timestamp": pa.array([None if x is None else base + x for x in cols[8]], pa.int64()).cast(TS_TYPE),
        "queue_wait_s": pa.array(list(cols[9]), pa.int64()),
        "site": ["Leeds", "Leeds", "Leeds", "Leeds", "Porto", "Porto", "Porto", None],
    })


def expected_ocel(stored: pa.Table) -> dict:
    """Pure-Python statement of what the export must contain, from the stored log row by row."""
    rows = stored.to_pylist()
    objects, e2o, o2o, events = set(), set(), set(), []
    for i, r in enumerate(rows):
        eid = f"e{i + 1}"
        events.append((eid, r["activity"], r["timestamp"].value if hasattr(r["timestamp"], "value")
                       else int(pd.Timestamp(r["timestamp"]).value)))
        for col, otype, q in (("case_id", "contact", "contact"), ("customer_id", "customer", "customer"),
                              ("resource", "agent", "handled by"), ("queue", "queue", "queue"),
                              ("team", "team", "team")):
            if r[col] is not None:
                objects.add((f"{otype}:{r[col]}", otype))
                e2o.add((eid, f"{otype}:{r[col]}", q))
        if r["customer_id"] is not None:
            o2o.add((f"contact:{r['case_id']}", f"customer:{r['customer_id']}", "placed by"))
        if r["resource"] is not None and r["team"] is not None:
            o2o.add((f"agent:{r['resource']}", f"team:{r['team']}", "member of"))
    return {"objects": objects, "e2o": e2o, "o2o": o2o, "events": sorted(events)}


@pytest.fixture()
def stored_log(tmp_path):
    path = tmp_path / "log.parquet"
    write_log(contact_log(), path)
    return path


@pytest.mark.parametrize("fmt", ["json", "xml", "sqlite"])
def test_export_is_read_by_pm4py_with_the_same_content(tmp_path, stored_log, fmt):
    out = tmp_path / f"log.{SUFFIX[fmt]}"
    assert write_ocel(stored_log, out, fmt) == 8
    want = expected_ocel(read_log(stored_log))
    ocel = pm4py_read(out, fmt)
    ev = ocel.events
    got_events = sorted(zip(ev["ocel:eid"], ev["ocel:activity"], utc_ns(ev["ocel:timestamp"])))
    # timestamps to the microsecond (pm4py keeps microseconds)
    assert [(e, a) for e, a, _ in got_events] == [(e, a) for e, a, _ in want["events"]]
    assert [t // 1000 for _, _, t in got_events] == [t // 1000 for _, _, t in want["events"]]
    assert set(zip(ocel.objects["ocel:oid"], ocel.objects["ocel:type"])) == want["objects"]
    rel = ocel.relations
    assert set(zip(rel["ocel:eid"], rel["ocel:oid"], rel["ocel:qualifier"])) == want["e2o"]
    o2o = ocel.o2o
    assert set(zip(o2o["ocel:oid"], o2o["ocel:oid_2"], o2o["ocel:qualifier"])) == want["o2o"]
    # typed event attributes
    agent = ev[ev["ocel:eid"] == "e3"].iloc[0]
    assert agent["channel"] == "voice" and agent["site"] == "Leeds"
    assert utc_ns(pd.Series([agent["end_timestamp"]]))[0] == 1_700_000_400_000_000_000
    assert int(ev[ev["ocel:eid"] == "e2"].iloc[0]["queue_wait_s"]) == 40


@pytest.mark.parametrize("fmt", ["json", "xml", "sqlite"])
def test_round_trip_through_cxmine_reader(tmp_path, stored_log, fmt):
    out = tmp_path / f"log.{SUFFIX[fmt]}"
    write_ocel(stored_log, out, fmt)
    res = READERS[fmt](out, ReadOptions(case_object="contact", pseudonym_key=KEY))
    assert res.records_read == 8 and not res.rejects
    write_log(res.table, tmp_path / "back.parquet")
    assert_same_log(read_log(stored_log), read_log(tmp_path / "back.parquet"))


@pytest.mark.parametrize("fmt", ["json", "xml", "sqlite"])
def test_flattening_our_export_on_every_object_type_matches_pm4py(tmp_path, stored_log, fmt):
    out = tmp_path / f"log.{SUFFIX[fmt]}"
    write_ocel(stored_log, out, fmt)
    ocel = pm4py_read(out, fmt)
    for ot in ("contact", "customer", "agent", "queue", "team"):
        expected = [(c[len(ot) + 1:], e, a, t) for c, e, a, t in flattened_by_pm4py(ocel, ot)]
        res = READERS[fmt](out, ReadOptions(case_object=ot))
        assert flattened_by_cxmine(res.table) == sorted(expected), ot
        assert res.records_read == 8 and res.records_accepted == len({e for _, e, _, _ in expected})


def assert_same_log(a: pa.Table, b: pa.Table, columns=None):
    columns = columns or [c for c in a.column_names if c != "case_index"]
    for c in columns:
        x = a.column(c)
        y = b.column(c) if c in b.column_names else pa.nulls(len(x), pa.string())
        if pa.types.is_dictionary(x.type):
            x = x.cast(x.type.value_type)
        if pa.types.is_dictionary(y.type):
            y = y.cast(y.type.value_type)
        assert x.to_pylist() == y.to_pylist(), c


def test_raw_customer_ids_never_leave_in_clear(tmp_path):
    t = contact_log().set_column(6, "customer_id", pa.array(["+44 7700 900123"] * 4 + ["jo@example.com"] * 3 + [None]))
    out = tmp_path / "l.jsonocel"
    write_ocel(t, out, "json", pseudonym_key=KEY)
    text = out.read_text()
    assert "7700" not in text and "example.com" not in text
    from engine.ingest.pseudonym import pseudonymise_value
    assert f"customer:{pseudonymise_value('+447700900123', KEY)}" in text


def test_journey_log_carries_journeys_and_contacts(tmp_path):
    t = contact_log().rename_columns(["contact_id" if c == "case_id" else c for c in contact_log().column_names])
    t = t.append_column("case_id", pa.array(["J1"] * 4 + ["J2"] * 4))
    path = tmp_path / "j.parquet"
    write_log(t, path, metadata={"case_notion": "journey"})
    out = tmp_path / "j.jsonocel"
    write_ocel(path, out, "json")
    ocel = pm4py.read_ocel2_json(str(out))
    types = set(ocel.objects["ocel:type"])
    assert {"journey", "contact", "customer", "agent", "queue", "team"} == types
    assert ("contact:C-1", "journey:J1", "part of") in set(zip(ocel.o2o["ocel:oid"], ocel.o2o["ocel:oid_2"],
                                                              ocel.o2o["ocel:qualifier"]))
    res = read_ocel_json(out, ReadOptions(case_object="journey"))
    assert set(res.table.column("case_id").to_pylist()) == {"J1", "J2"}
    assert res.table.column("contact_id").to_pylist().count("C-1") == 4


def test_xml_export_replaces_characters_xml_cannot_carry(tmp_path):
    t = contact_log().set_column(1, "activity", pa.array(["IVR\x01menu"] + ["Queue"] * 7))
    out = tmp_path / "l.xmlocel"
    write_ocel(t, out, "xml")
    res = read_ocel_xml(out, ReadOptions(case_object="contact"))
    assert "IVR\ufffdmenu" in res.table.column("activity").to_pylist()


def test_empty_activity_name_round_trips(tmp_path):
    t = contact_log().set_column(1, "activity", pa.array([""] + ["Queue"] * 7))
    for fmt in ("json", "xml", "sqlite"):
        out = tmp_path / f"l.{SUFFIX[fmt]}"
        write_ocel(t, out, fmt)
        res = READERS[fmt](out, ReadOptions(case_object="contact"))
        assert sorted(res.table.column("activity").to_pylist()) == [""] + ["Queue"] * 7, fmt


@pytest.mark.parametrize("fmt", ["json", "xml", "sqlite"])
def test_empty_log_exports_and_reads_back_empty(tmp_path, fmt):
    empty = pa.table({"case_id": pa.array([], pa.string()), "activity": pa.array([], pa.string()),
                      "timestamp": pa.array([], pa.int64()).cast(TS_TYPE)})
    write_log(empty, tmp_path / "e.parquet")
    out = tmp_path / f"e.{SUFFIX[fmt]}"
    assert write_ocel(tmp_path / "e.parquet", out, fmt) == 0
    res = READERS[fmt](out, ReadOptions(case_object="contact"))
    assert res.records_read == 0 and res.table.num_rows == 0
    if fmt != "sqlite":                           # pm4py's SQLite reader cannot open a log without event types
        assert len(pm4py_read(out, fmt).events) == 0


def test_sqlite_type_tables_stay_distinct_when_names_differ_only_in_punctuation_or_case():
    m = map_type_names(["Wrap-up", "Wrap up", "wrapup", "!!"])
    assert len({v.lower() for v in m.values()}) == 4 and m["!!"] == "type"


def test_sqlite_export_refuses_attributes_sqlite_would_merge(tmp_path):
    t = contact_log().append_column("Site", pa.array(["x"] * 8))
    with pytest.raises(InputError, match="same SQLite column"):
        write_ocel(t, tmp_path / "l.sqlite", "sqlite")
    assert not (tmp_path / "l.sqlite").exists()


def test_export_errors(tmp_path):
    with pytest.raises(InputError, match="Valid formats: json, xml, sqlite"):
        write_ocel(contact_log(), tmp_path / "x", "csv")
    with pytest.raises(InputError, match="not found"):
        write_ocel(tmp_path / "missing.parquet", tmp_path / "x.jsonocel", "json")
    (tmp_path / "f.parquet").write_text("no")
    with pytest.raises(InputError, match="Not a Parquet event log"):
        write_ocel(tmp_path / "f.parquet", tmp_path / "x.jsonocel", "json")


def test_cli_export_and_clean_error(tmp_path, stored_log):
    from click.testing import CliRunner
    from engine.cli import main
    out = tmp_path / "l.xmlocel"
    r = CliRunner().invoke(main, ["export", str(stored_log), "--to", "ocel-xml", "-o", str(out), "-q"])
    assert r.exit_code == 0 and "8 events" in r.output and out.exists()
    r = CliRunner().invoke(main, ["export", str(tmp_path / "nope.parquet"), "--to", "ocel-json", "-o", str(out)])
    assert r.exit_code == 1 and "Traceback" not in r.output and "Event log not found" in r.output


def test_cli_ingest_of_ocel(tmp_path):
    from click.testing import CliRunner
    from engine.cli import main
    out = tmp_path / "po.parquet"
    r = CliRunner().invoke(main, ["ingest", str(DATA / "ocel20_example.sqlite"), "--case-object", "Purchase Order",
                                  "-o", str(out), "--json", "-q"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert (summary["records_read"], summary["records_accepted"], summary["records_rejected"]) == (13, 5, 8)
    assert sorted(set(read_log(out).column("case_id").cast(pa.string()).to_pylist())) == ["PO1", "PO2"]
    rejects = pd.read_csv(tmp_path / "po.rejects.csv")
    assert len(rejects) == 8 and rejects["reason"].str.contains("Purchase Order").all()
    r = CliRunner().invoke(main, ["ingest", str(DATA / "ocel20_example.xmlocel"), "-o", str(out)])
    assert r.exit_code == 2 and "Traceback" not in r.output and "Purchase Requisition (1 object)" in r.output


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                     max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(doc=st.dictionaries(st.sampled_from(["events", "objects", "x", "événements"]), _JSON, max_size=4),
       indent=st.sampled_from([None, 0, 2]))
def test_streaming_json_scan_equals_json_loads(doc, indent):
    from engine.ingest.ocel import scan_json
    text = json.dumps(doc, indent=indent, ensure_ascii=False)
    seen = {"events": [], "objects": []}
    out = scan_json(text, {k: seen[k].append for k in seen})
    for k in seen:
        if isinstance(doc.get(k), list):
            assert seen[k] == doc[k] and out[k] == []
            out[k] = seen[k]
    assert out == doc


@pytest.mark.parametrize("text", ['{"events": [1,, 2]}', '{"events": [1] "objects": []}', '{"events": []} x',
                                  '{"events": [', '{events: []}'])
def test_streaming_json_scan_refuses_broken_json(tmp_path, text):
    p = tmp_path / "b.jsonocel"
    p.write_text(text)
    with pytest.raises(InputError, match="Broken JSON"):
        read_ocel_json(p, ReadOptions(case_object="contact"))


def test_gzip_and_reserved_attribute_names(tmp_path):
    import gzip
    doc = json.loads((DATA / "ocel20_example.jsonocel").read_text())
    for e in doc["events"]:
        e["attributes"].append({"name": "timestamp", "value": "not the event time"})
    p = tmp_path / "ex.jsonocel.gz"
    p.write_bytes(gzip.compress(json.dumps(doc).encode()))
    res = read_ocel_json(p, ReadOptions(case_object="Payment"))
    assert res.table.num_rows == 3
    assert set(res.table.column("event:timestamp").to_pylist()) == {"not the event time"}
    assert any("reserved column name" in w for w in res.warnings)


# ---------------------------------------------------------------- hypothesis round trips

_ODD = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
_XML_SAFE = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8)


def _logs(names):
    # pm4py drops events whose type is the empty string, so activity names here have a character
    event = st.tuples(st.integers(0, 4), names.filter(bool), st.integers(0, 10**12), st.none() | names,
                      st.none() | names, st.none() | st.integers(-5, 10**6), st.none() | st.booleans())
    return st.lists(event, min_size=1, max_size=25)


def _table(rows) -> pa.Table:
    return pa.table({
        "case_id": [f"c{c}" for c, *_ in rows],
        "activity": [r[1] for r in rows],
        "timestamp": pa.array([1_600_000_000 * 10**9 + r[2] * 1000 + (r[2] % 7) for r in rows],
                              pa.int64()).cast(TS_TYPE),
        "resource": [r[3] for r in rows],
        "channel": [r[4] for r in rows],
        "wait": pa.array([r[5] for r in rows], pa.int64()),
        "callback": pa.array([r[6] for r in rows], pa.bool_()),
    })


@pytest.mark.parametrize("fmt", ["json", "sqlite"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_logs(_ODD))
def test_random_logs_round_trip(tmp_path_factory, fmt, rows):
    _round_trip(tmp_path_factory.mktemp("h"), fmt, rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_logs(_XML_SAFE))
def test_random_logs_round_trip_xml(tmp_path_factory, rows):
    _round_trip(tmp_path_factory.mktemp("h"), "xml", rows)


def _round_trip(d: Path, fmt: str, rows):
    write_log(_table(rows), d / "l.parquet")
    out = d / f"l.{SUFFIX[fmt]}"
    assert write_ocel(d / "l.parquet", out, fmt) == len(rows)
    res = READERS[fmt](out, ReadOptions(case_object="contact"))
    assert res.records_read == len(rows) and not res.rejects
    write_log(res.table, d / "back.parquet")
    a, b = read_log(d / "l.parquet"), read_log(d / "back.parquet")
    assert_same_log(a, b, ["case_id", "activity", "timestamp", "resource"])
    for c in ("channel", "wait", "callback"):
        x = a.column(c).to_pylist()
        y = b.column(c).to_pylist() if c in b.column_names else [None] * len(x)
        x = [v.as_py() if hasattr(v, "as_py") else v for v in x]
        assert [None if v is None else v for v in x] == [None if v is None else v for v in y], c
    # pm4py reads the same events
    ocel = pm4py_read(out, fmt)
    assert sorted(ocel.events["ocel:eid"]) == sorted(f"e{i + 1}" for i in range(len(rows)))


# ---------------------------------------------------------------- scale (make bench, not make test)

SCALE_SCRIPT = r"""
import resource, sys
import numpy as np, pyarrow as pa
mode, n_cases, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode == "generate":
    from engine.log import write_log
    from engine.log.schema import TS_TYPE
    rng = np.random.default_rng(7)
    case = np.repeat(np.arange(n_cases), rng.integers(3, 10, n_cases))
    n = len(case)
    ts = 1_700_000_000 * 10**9 + case.astype(np.int64) * 60 * 10**9 + rng.integers(0, 50 * 10**9, n)
    labels = lambda p, k: pa.array(np.array([f"{p}{i}" for i in range(k)], dtype=object)[rng.integers(0, k, n)])
    write_log(pa.table({"case_id": pa.array(np.char.add("C", case.astype(str)).astype(object)),
                        "activity": labels("step ", 12), "timestamp": pa.array(ts, pa.int64()).cast(TS_TYPE),
                        "resource": labels("agent", 2000), "queue": labels("queue", 40), "team": labels("team", 30),
                        "customer_id": pa.array(np.char.add("cus_", np.char.zfill((case // 2).astype(str), 32))
                                                .astype(object)),
                        "channel": labels("ch", 5), "site": labels("site", 4)}), d + "/big.parquet")
    print(n)
else:
    from engine.log.ocel import write_ocel
    n = write_ocel(d + "/big.parquet", d + "/big.jsonocel", "json")
    print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
def test_export_of_millions_of_events_streams(tmp_path):
    """2.5 million events / 420,000 contacts: every event written, peak memory of the export under 1.5 GB."""
    import subprocess
    import sys
    script = tmp_path / "scale.py"
    script.write_text(SCALE_SCRIPT)
    root = Path(__file__).parent.parent

    def run(mode: str) -> list[int]:
        r = subprocess.run([sys.executable, str(script), mode, "420000", str(tmp_path)], capture_output=True,
                           text=True, cwd=root, timeout=1800)
        assert r.returncode == 0, r.stderr
        return list(map(int, r.stdout.split()))

    (n,) = run("generate")
    written, peak_kib = run("export")
    assert written == n > 2_000_000
    assert peak_kib < 1.5 * 2**20
    with open(tmp_path / "big.jsonocel", encoding="utf-8") as fh:
        events = sum(1 for line in fh if line.startswith('{"id": "e'))
    assert events == n


@pytest.mark.parametrize("target, suffix", [("ocel-json", ".jsonocel.gz"), ("ocel-xml", ".xmlocel.gz"),
                                            ("xes", ".xes.gz")])
def test_cli_export_gz_names_are_compressed(tmp_path, stored_log, target, suffix):
    import gzip

    from click.testing import CliRunner
    from engine.cli import main
    out = tmp_path / ("l" + suffix)
    r = CliRunner().invoke(main, ["export", str(stored_log), "--to", target, "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    plain = tmp_path / ("p" + suffix[:-3])
    assert CliRunner().invoke(main, ["export", str(stored_log), "--to", target, "-o", str(plain), "-q"]).exit_code == 0
    assert gzip.decompress(out.read_bytes()) == plain.read_bytes()
    if target != "xes":
        read = READERS[target.split("-")[1]]
        assert read(out, ReadOptions(case_object="contact", pseudonym_key=KEY)).table.num_rows == 8


def test_cli_export_sqlite_gz_is_refused(tmp_path, stored_log):
    from click.testing import CliRunner
    from engine.cli import main
    out = tmp_path / "l.sqlite.gz"
    r = CliRunner().invoke(main, ["export", str(stored_log), "--to", "ocel-sqlite", "-o", str(out)])
    assert r.exit_code == 1 and "cannot be written gzip-compressed" in r.output and "without .gz" in r.output
    assert not out.exists() and "Traceback" not in r.output
